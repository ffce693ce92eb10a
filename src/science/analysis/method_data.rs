//! [`MethodData`]: where the method's prompts come from — the prompt variants and the questions,
//! each shipped with neuronav or read from the user's files.
use std::path::{Path, PathBuf};

use super::dataset::{self, Problem};
use super::error::{AnalysisError, Result};
use super::shipped;
use super::variants::{self, Variant};

/// Where one piece of the method's data comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Compiled into neuronav (`assets/method/`).
    Shipped,
    /// The user's directory of variants, or file of questions.
    Path(PathBuf),
}

/// Where the method's prompts come from: the variants and the questions.
#[derive(Debug, Clone, PartialEq)]
pub struct MethodData {
    /// Prompt variants: exemplar files `NAME.txt`.
    pub variants: Source,
    /// GSM8K-style questions, JSON lines.
    pub questions: Source,
    /// The question when none is named.
    pub question: usize,
}

/// One variant's prompt, built with the data set's first question.
#[derive(Debug, Clone, PartialEq)]
pub struct VariantPrompt {
    pub name: String,
    /// The variant's file, or the shipped data's name.
    pub origin: String,
    pub text: String,
}

/// The question of [`MethodData::first_question_prompts`] when the questions cannot be read.
const STAND_IN_QUESTION: &str = "Tom has 3 red pens and 4 blue pens. How many pens does he have?";

impl Default for MethodData {
    fn default() -> Self {
        MethodData::shipped()
    }
}

impl MethodData {
    /// The variants and questions shipped with neuronav.
    pub fn shipped() -> MethodData {
        MethodData { variants: Source::Shipped, questions: Source::Shipped, question: 0 }
    }

    /// `DIR/prompts` and `DIR/gsm8k_test.jsonl`, the layout of the method's data directory.
    pub fn in_dir(dir: &Path) -> MethodData {
        MethodData {
            variants: Source::Path(dir.join("prompts")),
            questions: Source::Path(dir.join("gsm8k_test.jsonl")),
            question: 0,
        }
    }

    /// The data directory `dir` (None: the shipped data), with the variants directory and the
    /// questions file replaced where given.
    pub fn chosen(dir: Option<&Path>, variants: Option<PathBuf>, questions: Option<PathBuf>) -> MethodData {
        let base = dir.map_or_else(MethodData::shipped, MethodData::in_dir);
        MethodData {
            variants: variants.map_or(base.variants, Source::Path),
            questions: questions.map_or(base.questions, Source::Path),
            question: base.question,
        }
    }

    /// Every variant, by name.
    pub fn variants(&self) -> Result<Vec<Variant>> {
        match &self.variants {
            Source::Shipped => Ok(variants::shipped()),
            Source::Path(dir) => variants::load_dir(dir),
        }
    }

    /// The variant called `name`.
    pub fn variant(&self, name: &str) -> Result<Variant> {
        let all = self.variants()?;
        let names: Vec<String> = all.iter().map(|v| v.name.clone()).collect();
        all.into_iter().find(|v| v.name == name).ok_or_else(|| {
            AnalysisError::Invalid(format!(
                "{}: no variant '{name}' (there are: {})",
                self.variants_name(),
                names.join(", ")
            ))
        })
    }

    /// Every question.
    pub fn problems(&self) -> Result<Vec<Problem>> {
        match &self.questions {
            Source::Shipped => Ok(dataset::shipped()),
            Source::Path(file) => dataset::load(file),
        }
    }

    /// Where the variants come from, for messages.
    pub fn variants_name(&self) -> String {
        match &self.variants {
            Source::Shipped => shipped::NAME.into(),
            Source::Path(dir) => dir.display().to_string(),
        }
    }

    /// Where the questions come from, for messages and an analysis's `run.json`.
    pub fn questions_name(&self) -> String {
        match &self.questions {
            Source::Shipped => shipped::QUESTIONS_NAME.into(),
            Source::Path(file) => file.display().to_string(),
        }
    }

    /// The prompt of variant `name` for question `index` (0-based), as `neuronav compare
    /// --variant-a` builds it.
    pub fn prompt(&self, name: &str, index: usize) -> Result<String> {
        let variant = self.variant(name)?;
        let problems = self.problems()?;
        let Some(problem) = problems.get(index) else {
            return Err(AnalysisError::Invalid(format!(
                "{}: no question {index} (there are {})",
                self.questions_name(),
                problems.len()
            )));
        };
        Ok(variant.prompt(&problem.question))
    }

    /// Every variant's prompt for the first question, by name, and what could not be read beside
    /// them. Unreadable variants give none; unreadable questions give a stand-in question.
    pub fn first_question_prompts(&self) -> (Vec<VariantPrompt>, Vec<AnalysisError>) {
        let mut problems = Vec::new();
        let variants = self.variants().unwrap_or_else(|e| {
            problems.push(e);
            Vec::new()
        });
        if variants.is_empty() {
            return (Vec::new(), problems);
        }
        let question = self.first_question().unwrap_or_else(|e| {
            problems.push(e);
            STAND_IN_QUESTION.into()
        });
        let prompts = variants
            .into_iter()
            .map(|v| VariantPrompt { text: v.prompt(&question), name: v.name, origin: v.origin })
            .collect();
        (prompts, problems)
    }

    /// The `question` of the first line, read without the rest of the file's checks.
    fn first_question(&self) -> Result<String> {
        let (text, path) = match &self.questions {
            Source::Shipped => (shipped::QUESTIONS.to_string(), PathBuf::from(shipped::QUESTIONS_NAME)),
            Source::Path(file) => {
                (std::fs::read_to_string(file).map_err(|e| AnalysisError::io(file, e))?, file.clone())
            }
        };
        let bad = |what: String| AnalysisError::BadLine { path: path.clone(), line: 1, what };
        let line = text.lines().next().ok_or_else(|| AnalysisError::bad_file(&path, "empty"))?;
        let v: serde_json::Value = serde_json::from_str(line).map_err(|e| bad(e.to_string()))?;
        v["question"].as_str().map(str::to_string).ok_or_else(|| bad("no \"question\"".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::science::prompts;

    #[test]
    fn a_directory_gives_each_variants_prompt_for_the_first_question() {
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
        assert_eq!(data.prompt("equation_only", 0).unwrap(), prompts[0].text);
        let err = data.prompt("other", 0).unwrap_err().to_string();
        assert!(err.contains("no variant 'other' (there are: equation_only)"), "{err}");
        let err = data.prompt("equation_only", 1).unwrap_err().to_string();
        assert!(err.contains("no question 1 (there are 1)"), "{err}");

        // A directory that is not there is reported, not passed over.
        let (prompts, problems) = MethodData::in_dir(&dir.path().join("absent")).first_question_prompts();
        assert!(prompts.is_empty());
        assert!(problems[0].to_string().contains("absent"), "{problems:?}");

        std::fs::write(dir.path().join("gsm8k_test.jsonl"), "{\"answer\": \"#### 2\"}\n").unwrap();
        let (prompts, problems) = data.first_question_prompts();
        let questions = dir.path().join("gsm8k_test.jsonl");
        assert_eq!(problems[0].to_string(), format!("{}, line 1: no \"question\"", questions.display()));
        assert!(prompts[0].text.contains(STAND_IN_QUESTION));
    }

    #[test]
    fn the_shipped_data_builds_the_methods_prompts() {
        let data = MethodData::shipped();
        let (prompts, problems) = data.first_question_prompts();
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(prompts.len(), 7);
        // Built here from the asset files themselves, not through the compiled-in list.
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/method");
        let exemplars = std::fs::read_to_string(root.join("prompts/text_only.txt")).unwrap();
        let first = std::fs::read_to_string(root.join("gsm8k_test.jsonl")).unwrap();
        let line: serde_json::Value = serde_json::from_str(first.lines().nth(2).unwrap()).unwrap();
        let expected = prompts::build("text_only", &exemplars, line["question"].as_str().unwrap());
        assert_eq!(data.prompt("text_only", 2).unwrap(), expected);
        assert!(data.prompt("cot_prompt", 1319).is_err());
        assert_eq!(data.problems().unwrap().len(), 1319);
    }

    #[test]
    fn single_pieces_replace_the_directorys() {
        let chosen = MethodData::chosen(None, Some("v".into()), None);
        assert_eq!(chosen.variants, Source::Path("v".into()));
        assert_eq!(chosen.questions, Source::Shipped);
        let chosen = MethodData::chosen(Some(Path::new("d")), None, Some("q.jsonl".into()));
        assert_eq!(chosen.variants, Source::Path("d/prompts".into()));
        assert_eq!(chosen.questions, Source::Path("q.jsonl".into()));
    }
}
