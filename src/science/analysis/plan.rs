//! What an analysis runs: its settings (kept as `run.json` in the output directory, so that
//! shards and reruns can check they belong to the same run) and the list of (condition, variant,
//! question) items, split deterministically into shards.
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::ablation::AblationMode;
use super::error::{AnalysisError, Result};
use super::results::write_atomically;
use crate::engine::neuron::NeuronId;

/// The name of the condition without interventions.
pub const BASELINE: &str = "baseline";

/// A set of neurons ablated in every sample of a condition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Condition {
    /// `baseline`, `ablated`, `random`.
    pub name: String,
    pub mode: AblationMode,
    pub neurons: Vec<NeuronId>,
}

/// Everything that decides an analysis's results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSpec {
    /// The model's fingerprint.
    pub model: String,
    /// The question file, as given.
    pub data: String,
    /// Question indices (0-based lines of the data file), in drawing order.
    pub questions: Vec<usize>,
    pub seed: u64,
    pub generate: usize,
    pub top_k: usize,
    /// Which "The answer is " holds the prediction (see `answer::prediction`).
    pub answer_occurrence: usize,
    /// Variant names, sorted.
    pub variants: Vec<String>,
    /// Concepts reported, in order.
    pub concepts: Vec<String>,
    /// The reasoning neurons and their concepts.
    pub neurons: Vec<(NeuronId, Vec<String>)>,
    /// Activation counts use only questions this variant answered correctly (baseline condition).
    pub only_correct: Option<String>,
    /// The baseline first, then any ablations.
    pub conditions: Vec<Condition>,
}

/// One sample to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub condition: usize,
    pub variant: usize,
    pub question: usize,
}

/// Shard `index` of `count`: items `index`, `index + count`, ... of the full list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl std::str::FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Shard, String> {
        let bad = || format!("'{s}' is not a shard like 0/4 (index/count, index < count)");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count) = (i.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?);
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl Default for Shard {
    fn default() -> Self {
        Shard { index: 0, count: 1 }
    }
}

pub const SPEC_FILE: &str = "run.json";

/// A new, empty directory `run-N` under `parent` (made if missing), N one past the highest there:
/// where an analysis goes when no `--out` is given. Made here so that two analyses started at
/// once never share one.
pub fn fresh_run_dir(parent: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(parent).map_err(|e| AnalysisError::io(parent, e))?;
    let entries = std::fs::read_dir(parent).map_err(|e| AnalysisError::io(parent, e))?;
    let highest = entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.strip_prefix("run-")?.parse::<u64>().ok())
        .max()
        .unwrap_or(0);
    let mut n = highest + 1;
    loop {
        let dir = parent.join(format!("run-{n}"));
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => n += 1,
            Err(e) => return Err(AnalysisError::io(&dir, e)),
        }
    }
}

impl RunSpec {
    /// Every item, condition-major, then variant, then question in drawing order.
    pub fn items(&self) -> Vec<Item> {
        let mut items = Vec::new();
        for condition in 0..self.conditions.len() {
            for variant in 0..self.variants.len() {
                for &question in &self.questions {
                    items.push(Item { condition, variant, question });
                }
            }
        }
        items
    }

    /// The items of `shard`.
    pub fn shard_items(&self, shard: Shard) -> Vec<Item> {
        self.items().into_iter().enumerate().filter(|(k, _)| k % shard.count == shard.index).map(|(_, i)| i).collect()
    }

    /// Where `item`'s result is kept under `out`.
    pub fn result_path(&self, out: &Path, item: &Item) -> PathBuf {
        out.join("results")
            .join(&self.conditions[item.condition].name)
            .join(&self.variants[item.variant])
            .join(format!("q{:05}.json", item.question))
    }

    /// Writes `run.json` into `out`, or checks that the one there describes the same run.
    pub fn claim(&self, out: &Path) -> Result<()> {
        let path = out.join(SPEC_FILE);
        if path.exists() {
            let existing = RunSpec::load(out)?;
            if existing != *self {
                return Err(AnalysisError::Invalid(format!(
                    "{} describes a different run (model, data, samples, settings, neurons or ablations differ); \
                     use another --out directory",
                    path.display()
                )));
            }
            return Ok(());
        }
        let json = serde_json::to_string_pretty(self).expect("a run spec serializes");
        write_atomically(&path, json.as_bytes())
    }

    /// The `run.json` of `out`.
    pub fn load(out: &Path) -> Result<RunSpec> {
        let path = out.join(SPEC_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| AnalysisError::io(&path, e))?;
        serde_json::from_str(&text)
            .map_err(|e| AnalysisError::Invalid(format!("{}: not an analysis run description: {e}", path.display())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> RunSpec {
        RunSpec {
            model: "m".into(),
            data: "d".into(),
            questions: vec![7, 3, 5],
            seed: 0,
            generate: 2,
            top_k: 3,
            answer_occurrence: 1,
            variants: vec!["a".into(), "b".into()],
            concepts: vec!["add".into()],
            neurons: vec![],
            only_correct: None,
            conditions: vec![Condition { name: BASELINE.into(), mode: AblationMode::Zero, neurons: vec![] }],
        }
    }

    #[test]
    fn shards_partition_the_items() {
        let s = spec();
        let all = s.items();
        assert_eq!(all.len(), 6);
        let mut joined: Vec<Item> = (0..4).flat_map(|i| s.shard_items(Shard { index: i, count: 4 })).collect();
        assert_eq!(joined.len(), 6);
        let key = |i: &Item| (i.condition, i.variant, i.question);
        joined.sort_by_key(key);
        let mut sorted = all.clone();
        sorted.sort_by_key(key);
        assert_eq!(joined, sorted);
        assert_eq!(s.shard_items(Shard::default()), all);
        assert_eq!("1/4".parse::<Shard>().unwrap(), Shard { index: 1, count: 4 });
        for bad in ["4/4", "1", "a/2", "0/0"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }

    #[test]
    fn fresh_run_directories_are_new_and_numbered_past_the_highest() {
        let parent = tempfile::tempdir().unwrap();
        let runs = parent.path().join("analyze");
        assert_eq!(fresh_run_dir(&runs).unwrap(), runs.join("run-1"));
        assert_eq!(fresh_run_dir(&runs).unwrap(), runs.join("run-2"));
        std::fs::create_dir(runs.join("run-7")).unwrap();
        std::fs::create_dir(runs.join("notes")).unwrap();
        assert_eq!(fresh_run_dir(&runs).unwrap(), runs.join("run-8"));
        assert!(runs.join("run-8").read_dir().unwrap().next().is_none());
    }

    #[test]
    fn a_directory_belongs_to_one_run() {
        let dir = tempfile::tempdir().unwrap();
        let s = spec();
        s.claim(dir.path()).unwrap();
        s.claim(dir.path()).unwrap();
        let mut other = spec();
        other.generate = 3;
        let err = other.claim(dir.path()).unwrap_err().to_string();
        assert!(err.contains("run.json describes a different run"), "{err}");
        assert_eq!(RunSpec::load(dir.path()).unwrap(), s);
        assert_eq!(s.result_path(dir.path(), &s.items()[4]), dir.path().join("results/baseline/b/q00003.json"));
    }
}
