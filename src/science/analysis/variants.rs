//! Prompt variants: a directory of exemplar files, one per variant (`cot_prompt.txt` is variant
//! `cot_prompt`), turned into full prompts with [`crate::science::prompts::build`]; and
//! [`MethodData`], where the method's prompts come from (a variants directory and a questions file).
use std::path::{Path, PathBuf};

use super::dataset;
use super::error::{AnalysisError, Result};
use crate::science::prompts;

/// One variant's exemplars.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variant {
    pub name: String,
    pub exemplars: String,
    pub path: PathBuf,
}

impl Variant {
    /// The full prompt for `question` (docs/method.md §6).
    pub fn prompt(&self, question: &str) -> String {
        prompts::build(&self.name, &self.exemplars, question)
    }
}

/// Every `*.txt` file of `dir`, by name.
pub fn load_dir(dir: &Path) -> Result<Vec<Variant>> {
    let entries = std::fs::read_dir(dir).map_err(|e| AnalysisError::io(dir, e))?;
    let mut variants = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| AnalysisError::io(dir, e))?.path();
        if path.extension().is_some_and(|e| e == "txt") {
            variants.push(load_file(&path)?);
        }
    }
    if variants.is_empty() {
        return Err(AnalysisError::Invalid(format!("{}: no prompt variants (*.txt files) here", dir.display())));
    }
    variants.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(variants)
}

/// The variant in `path`, named by the file's stem.
pub fn load_file(path: &Path) -> Result<Variant> {
    let exemplars = std::fs::read_to_string(path).map_err(|e| AnalysisError::io(path, e))?;
    let name = path.file_stem().unwrap_or_default().to_string_lossy().into_owned();
    Ok(Variant { name, exemplars, path: path.to_path_buf() })
}

/// The variant called `name` in `dir`.
pub fn find(dir: &Path, name: &str) -> Result<Variant> {
    let all = load_dir(dir)?;
    let names: Vec<String> = all.iter().map(|v| v.name.clone()).collect();
    all.into_iter().find(|v| v.name == name).ok_or_else(|| {
        AnalysisError::Invalid(format!("{}: no variant '{name}' (there are: {})", dir.display(), names.join(", ")))
    })
}

/// The prompt of variant `name` of `dir` for question `index` (0-based) of the questions file
/// `data`.
pub fn question_prompt(dir: &Path, data: &Path, name: &str, index: usize) -> Result<String> {
    let variant = find(dir, name)?;
    let problems = dataset::load(data)?;
    let Some(problem) = problems.get(index) else {
        return Err(AnalysisError::Invalid(format!(
            "{}: no question {index} (there are {})",
            data.display(),
            problems.len()
        )));
    };
    Ok(variant.prompt(&problem.question))
}

/// Where the method's prompts come from: the variants directory and the questions file.
#[derive(Debug, Clone, PartialEq)]
pub struct MethodData {
    pub variants: PathBuf,
    pub questions: PathBuf,
    /// The question when none is named.
    pub question: usize,
}

/// One variant's prompt, built with the data set's first question.
#[derive(Debug, Clone, PartialEq)]
pub struct VariantPrompt {
    pub name: String,
    pub path: PathBuf,
    pub text: String,
}

/// The question of [`MethodData::first_question_prompts`] when the questions file cannot be read.
const STAND_IN_QUESTION: &str = "Tom has 3 red pens and 4 blue pens. How many pens does he have?";

impl MethodData {
    /// `DIR/prompts` and `DIR/gsm8k_test.jsonl`, the layout of the method's data directory.
    pub fn in_dir(dir: &Path) -> MethodData {
        MethodData { variants: dir.join("prompts"), questions: dir.join("gsm8k_test.jsonl"), question: 0 }
    }

    /// The prompt of variant `name` for question `index`, as `neuronav compare --variant-a`
    /// builds it.
    pub fn prompt(&self, name: &str, index: usize) -> Result<String> {
        question_prompt(&self.variants, &self.questions, name, index)
    }

    /// Every variant's prompt for the first question of the questions file, by file name, and what
    /// could not be read beside them. A missing variants directory gives none; an unreadable
    /// questions file gives a stand-in question.
    pub fn first_question_prompts(&self) -> (Vec<VariantPrompt>, Vec<AnalysisError>) {
        let Ok(entries) = std::fs::read_dir(&self.variants) else {
            return (Vec::new(), Vec::new());
        };
        let mut problems = Vec::new();
        let question = first_question(&self.questions).unwrap_or_else(|e| {
            problems.push(e);
            STAND_IN_QUESTION.into()
        });
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "txt"))
            .collect();
        files.sort();
        let mut out = Vec::new();
        for path in files {
            match load_file(&path) {
                Ok(variant) => out.push(VariantPrompt { text: variant.prompt(&question), name: variant.name, path }),
                Err(e) => problems.push(e),
            }
        }
        (out, problems)
    }
}

/// The `question` of the first line of a questions file, read without the rest of the file's
/// checks.
fn first_question(path: &Path) -> Result<String> {
    let invalid = |what: String| AnalysisError::Invalid(format!("{}: {what}", path.display()));
    let text = std::fs::read_to_string(path).map_err(|e| AnalysisError::io(path, e))?;
    let line = text.lines().next().ok_or_else(|| invalid("empty".into()))?;
    let v: serde_json::Value = serde_json::from_str(line).map_err(|e| invalid(format!("line 1: {e}")))?;
    v["question"].as_str().map(str::to_string).ok_or_else(|| invalid("line 1 has no \"question\"".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_txt_files_by_name_and_builds_prompts() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b.txt"), " Question: x \nThe answer is 1.\n").unwrap();
        std::fs::write(dir.path().join("equation_only.txt"), "1 + 1 = 2").unwrap();
        std::fs::write(dir.path().join("notes.md"), "ignored").unwrap();
        let all = load_dir(dir.path()).unwrap();
        let names: Vec<&str> = all.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(names, ["b", "equation_only"]);
        assert_eq!(all[0].prompt("q  r"), "Question: x\nThe answer is 1.\n\nQuestion: q r\nLet's think step by step\n");
        assert!(all[1].prompt("q").ends_with("Question: q\n\n"));
        let err = find(dir.path(), "c").unwrap_err().to_string();
        assert!(err.contains("no variant 'c'") && err.contains("b, equation_only"), "{err}");
        assert!(load_dir(&dir.path().join("missing")).is_err());
        let data = dir.path().join("q.jsonl");
        std::fs::write(&data, "{\"question\": \"q0\", \"answer\": \"#### 1\"}\n").unwrap();
        assert_eq!(question_prompt(dir.path(), &data, "b", 0).unwrap(), all[0].prompt("q0"));
        let err = question_prompt(dir.path(), &data, "b", 1).unwrap_err().to_string();
        assert!(err.contains("no question 1 (there are 1)"), "{err}");
    }

    #[test]
    fn method_data_builds_each_variants_prompt_for_the_first_question() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("prompts")).unwrap();
        std::fs::write(dir.path().join("prompts/equation_only.txt"), "Question: 1+1?\n1 + 1 = 2\n").unwrap();
        std::fs::write(dir.path().join("gsm8k_test.jsonl"), "{\"question\": \"How  many?\", \"answer\": \"#### 2\"}\n")
            .unwrap();
        let data = MethodData::in_dir(dir.path());
        let (prompts, problems) = data.first_question_prompts();
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(prompts.len(), 1);
        assert_eq!(prompts[0].name, "equation_only");
        assert!(prompts[0].text.ends_with("Question: How many?\n\n"), "{:?}", prompts[0].text);
        assert!(MethodData::in_dir(&dir.path().join("absent")).first_question_prompts().0.is_empty());
        assert_eq!(data.prompt("equation_only", 0).unwrap(), prompts[0].text);
        assert!(data.prompt("other", 0).unwrap_err().to_string().contains("no variant 'other'"));

        std::fs::write(dir.path().join("gsm8k_test.jsonl"), "{\"answer\": \"#### 2\"}\n").unwrap();
        let (prompts, problems) = data.first_question_prompts();
        let questions = dir.path().join("gsm8k_test.jsonl");
        assert_eq!(problems[0].to_string(), format!("{}: line 1 has no \"question\"", questions.display()));
        assert!(prompts[0].text.contains(STAND_IN_QUESTION));
    }
}
