//! Prompt variants: exemplar files, one per variant (`cot_prompt.txt` is variant `cot_prompt`),
//! turned into full prompts with [`crate::science::prompts::build`]; read from a directory or
//! from the data shipped with neuronav.
use std::path::Path;

use super::error::{AnalysisError, Result};
use super::shipped;
use crate::science::prompts;

/// One variant's exemplars.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variant {
    pub name: String,
    pub exemplars: String,
    /// Where it came from: its file's path, or the shipped data's name.
    pub origin: String,
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
        return Err(AnalysisError::bad_file(dir, "no prompt variants (*.txt files) here"));
    }
    variants.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(variants)
}

/// The variant in `path`, named by the file's stem.
pub fn load_file(path: &Path) -> Result<Variant> {
    let exemplars = std::fs::read_to_string(path).map_err(|e| AnalysisError::io(path, e))?;
    let name = path.file_stem().unwrap_or_default().to_string_lossy().into_owned();
    Ok(Variant { name, exemplars, origin: path.display().to_string() })
}

/// The seven variants shipped with neuronav, by name.
pub fn shipped() -> Vec<Variant> {
    shipped::VARIANTS
        .iter()
        .map(|(name, exemplars)| Variant {
            name: name.to_string(),
            exemplars: exemplars.to_string(),
            origin: shipped::NAME.into(),
        })
        .collect()
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
        assert!(load_dir(&dir.path().join("missing")).is_err());
        let empty = tempfile::tempdir().unwrap();
        let err = load_dir(empty.path()).unwrap_err().to_string();
        assert!(err.contains("no prompt variants"), "{err}");
    }

    #[test]
    fn the_shipped_variants_are_the_methods_seven() {
        let names: Vec<String> = shipped().into_iter().map(|v| v.name).collect();
        let expected = [
            "add_only",
            "cot_prompt",
            "equation_only",
            "incorrect_label",
            "incorrect_ood_label",
            "mult_only",
            "text_only",
        ];
        assert_eq!(names, expected);
    }
}
