//! GSM8K-style question files: JSON lines with `question` and `answer` (the solution ending in
//! "#### N"), and the seeded choice of which questions an analysis uses.
use std::path::Path;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;

use super::error::{AnalysisError, Result};
use super::shipped;

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Problem {
    pub question: String,
    pub answer: String,
}

/// Every line of `path`; blank lines are skipped, a bad line is an error naming it.
pub fn load(path: &Path) -> Result<Vec<Problem>> {
    let text = std::fs::read_to_string(path).map_err(|e| AnalysisError::io(path, e))?;
    parse(&text, path)
}

/// The questions of the GSM8K test set shipped with neuronav.
pub fn shipped() -> Vec<Problem> {
    parse(shipped::QUESTIONS, Path::new(shipped::QUESTIONS_NAME)).expect("the shipped questions parse (tested)")
}

/// Every line of `text`, read from `path` (named in errors).
pub fn parse(text: &str, path: &Path) -> Result<Vec<Problem>> {
    let mut problems = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let problem = serde_json::from_str(line).map_err(|e| AnalysisError::BadLine {
            path: path.to_path_buf(),
            line: i + 1,
            what: format!("not a {{\"question\", \"answer\"}} object: {e}"),
        })?;
        problems.push(problem);
    }
    if problems.is_empty() {
        return Err(AnalysisError::bad_file(path, "no questions"));
    }
    Ok(problems)
}

/// `n` distinct question indices out of `total`, drawn with `seed` (the same for every run with
/// the same arguments), in drawing order.
pub fn sample(total: usize, n: usize, seed: u64) -> Result<Vec<usize>> {
    if n > total {
        return Err(AnalysisError::Invalid(format!("{n} samples asked for, but there are only {total} questions")));
    }
    let mut all: Vec<usize> = (0..total).collect();
    all.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    all.truncate(n);
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_lines_and_names_a_bad_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.jsonl");
        std::fs::write(&path, "{\"question\": \"a\", \"answer\": \"#### 1\"}\n\n{\"question\": 3}\n").unwrap();
        let err = load(&path).unwrap_err().to_string();
        assert!(err.contains("q.jsonl, line 3"), "{err}");
        std::fs::write(&path, "{\"question\": \"a\", \"answer\": \"x\\n#### 1\"}\n").unwrap();
        assert_eq!(load(&path).unwrap()[0].question, "a");
        std::fs::write(&path, "\n").unwrap();
        assert!(load(&path).unwrap_err().to_string().ends_with("q.jsonl: no questions"));
    }

    #[test]
    fn the_shipped_questions_are_the_gsm8k_test_set() {
        use sha2::{Digest, Sha256};
        // The sha256 of grade_school_math/data/test.jsonl in github.com/openai/grade-school-math.
        let digest = format!("{:x}", Sha256::digest(shipped::QUESTIONS.as_bytes()));
        assert_eq!(digest, "3730d312f6e3440559ace48831e51066acaca737f6eabec99bccb9e4b3c39d14");
        let problems = shipped();
        assert_eq!(problems.len(), 1319);
        assert!(problems[0].question.starts_with("Janet\u{2019}s ducks lay 16 eggs per day."));
        assert!(problems.iter().all(|p| p.answer.contains("#### ")));
    }

    #[test]
    fn samples_are_distinct_seeded_and_bounded() {
        let a = sample(100, 20, 3).unwrap();
        assert_eq!(a, sample(100, 20, 3).unwrap());
        assert_ne!(a, sample(100, 20, 4).unwrap());
        let mut sorted = a.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 20);
        assert!(a.iter().all(|&i| i < 100));
        assert!(sample(3, 4, 0).is_err());
    }
}
