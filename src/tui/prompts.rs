//! Prompts to start from: the bundled examples (assets/prompts/, built in) and the method's prompt
//! variants found in a data directory, each built with the data set's first question.
use std::path::{Path, PathBuf};

use crate::science::analysis::variants;
use crate::science::prompts;

#[derive(Debug, Clone, PartialEq)]
pub struct PromptEntry {
    pub name: String,
    /// Where it came from, for the picker: `example` or the file's path.
    pub source: String,
    pub text: String,
}

const EXAMPLES: &[(&str, &str)] = &[
    ("cot_apples", include_str!("../../assets/prompts/cot_apples.txt")),
    ("cot_text_only", include_str!("../../assets/prompts/cot_text_only.txt")),
    ("equations_only", include_str!("../../assets/prompts/equations_only.txt")),
    ("short_sum", include_str!("../../assets/prompts/short_sum.txt")),
];

/// The bundled examples.
pub fn examples() -> Vec<PromptEntry> {
    EXAMPLES
        .iter()
        .map(|(name, text)| PromptEntry { name: name.to_string(), source: "example".into(), text: text.to_string() })
        .collect()
}

/// The method's variants in `data/prompts/*.txt`, each followed by the first question of
/// `data/gsm8k_test.jsonl`. A missing directory gives none; unreadable files are reported.
pub fn method_variants(data: &Path) -> (Vec<PromptEntry>, Vec<String>) {
    let dir = data.join("prompts");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return (Vec::new(), Vec::new());
    };
    let mut problems = Vec::new();
    let question = first_question(&data.join("gsm8k_test.jsonl")).unwrap_or_else(|e| {
        problems.push(e);
        "Tom has 3 red pens and 4 blue pens. How many pens does he have?".into()
    });
    let mut files: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for path in files {
        let variant = path.file_stem().unwrap_or_default().to_string_lossy().into_owned();
        match std::fs::read_to_string(&path) {
            Ok(exemplars) => out.push(PromptEntry {
                text: prompts::build(&variant, &exemplars, &question),
                name: variant,
                source: path.display().to_string(),
            }),
            Err(e) => problems.push(format!("{}: {e}", path.display())),
        }
    }
    (out, problems)
}

/// Where `:variant` prompts come from: the variants directory and the questions file.
#[derive(Debug, Clone, PartialEq)]
pub struct MethodData {
    pub variants: PathBuf,
    pub questions: PathBuf,
    /// The question when none is named.
    pub question: usize,
}

impl MethodData {
    /// `DIR/prompts` and `DIR/gsm8k_test.jsonl`, the layout of the method's data directory.
    pub fn in_dir(dir: &Path) -> MethodData {
        MethodData { variants: dir.join("prompts"), questions: dir.join("gsm8k_test.jsonl"), question: 0 }
    }

    /// What the prompt of `variant` for `question` (None: the default one) is, and its text, built
    /// as `neuronav compare --variant-a` builds it.
    pub fn prompt(&self, variant: &str, question: Option<usize>) -> (String, Result<String, String>) {
        let q = question.unwrap_or(self.question);
        let text = variants::question_prompt(&self.variants, &self.questions, variant, q).map_err(|e| e.to_string());
        (format!("variant {variant}, question {q}"), text)
    }
}

fn first_question(path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let line = text.lines().next().ok_or_else(|| format!("{}: empty", path.display()))?;
    let v: serde_json::Value = serde_json::from_str(line).map_err(|e| format!("{}: line 1: {e}", path.display()))?;
    v["question"].as_str().map(str::to_string).ok_or_else(|| format!("{}: line 1 has no \"question\"", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples_are_cot_prompts_and_variants_are_built_from_a_directory() {
        let ex = examples();
        assert!(ex.len() >= 3);
        assert!(ex.iter().all(|e| e.text.contains("Question:")));
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("prompts")).unwrap();
        std::fs::write(dir.path().join("prompts/equation_only.txt"), "Question: 1+1?\n1 + 1 = 2\n").unwrap();
        std::fs::write(dir.path().join("gsm8k_test.jsonl"), "{\"question\": \"How  many?\", \"answer\": \"#### 2\"}\n")
            .unwrap();
        let (variants, problems) = method_variants(dir.path());
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(variants.len(), 1);
        assert_eq!(variants[0].name, "equation_only");
        assert!(variants[0].text.ends_with("Question: How many?\n\n"), "{:?}", variants[0].text);
        assert!(method_variants(&dir.path().join("absent")).0.is_empty());
        let data = MethodData::in_dir(dir.path());
        let (what, text) = data.prompt("equation_only", None);
        assert_eq!(what, "variant equation_only, question 0");
        assert_eq!(text.unwrap(), variants[0].text);
        assert!(data.prompt("other", Some(0)).1.unwrap_err().contains("no variant 'other'"));
    }
}
