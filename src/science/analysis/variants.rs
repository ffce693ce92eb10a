//! Prompt variants: a directory of exemplar files, one per variant (`cot_prompt.txt` is variant
//! `cot_prompt`), turned into full prompts with [`crate::science::prompts::build`].
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
}
