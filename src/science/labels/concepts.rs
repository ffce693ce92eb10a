//! The concepts a neuron can be labelled with: the method's seven, built in from
//! `assets/concepts.toml`, and the user's own from `concepts.toml` in the config directory.
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::error::{line_of, LabelError, Result};

const BUILT_IN: &str = include_str!("../../../assets/concepts.toml");

/// One concept: the seed words of the lexical pre-filter and the Yes/No question put to an LLM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Concept {
    /// Short identifier, as stored with labels (`add`).
    pub key: String,
    /// What it is called on screen (`arithmetic addition`).
    pub name: String,
    /// Compared with a neuron's promoted tokens, stripped and lower-cased.
    pub seeds: Vec<String>,
    pub question: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConceptFile {
    #[serde(default)]
    concept: Vec<Concept>,
}

/// The concepts in use, in file order: built-ins first, then the user's new ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Concepts(Vec<Concept>);

impl Concepts {
    /// The method's seven concepts.
    pub fn built_in() -> Concepts {
        Concepts(parse(BUILT_IN, Path::new("assets/concepts.toml")).expect("the built-in concepts parse"))
    }

    /// The built-ins with the concepts of `user_file` merged over them (a user concept replaces a
    /// built-in of the same key). A missing file is no error; a broken one names its line.
    pub fn load(user_file: &Path) -> Result<Concepts> {
        let mut concepts = Concepts::built_in();
        let text = match std::fs::read_to_string(user_file) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(concepts),
            Err(e) => return Err(LabelError::io(user_file, e)),
        };
        for concept in parse(&text, user_file)? {
            match concepts.0.iter_mut().find(|c| c.key == concept.key) {
                Some(existing) => *existing = concept,
                None => concepts.0.push(concept),
            }
        }
        Ok(concepts)
    }

    pub fn get(&self, key: &str) -> Option<&Concept> {
        self.0.iter().find(|c| c.key == key)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Concept> {
        self.0.iter()
    }

    pub fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|c| c.key.as_str()).collect()
    }

    /// The concepts a reasoning-neuron count reports: those `chosen`, or the method's built-in
    /// ones when none are.
    pub fn chosen_or_built_in(chosen: &[String]) -> Vec<String> {
        if chosen.is_empty() {
            Concepts::built_in().keys().into_iter().map(String::from).collect()
        } else {
            chosen.to_vec()
        }
    }

    /// The concept named `key`, or an error listing the known ones.
    pub fn require(&self, key: &str) -> Result<&Concept> {
        self.get(key)
            .ok_or_else(|| LabelError::Invalid(format!("unknown concept '{key}'; known: {}", self.keys().join(", "))))
    }
}

fn parse(text: &str, path: &Path) -> Result<Vec<Concept>> {
    let bad = |line: usize, problem: String| LabelError::BadFile { path: path.to_path_buf(), line, problem };
    let file: ConceptFile = toml::from_str(text).map_err(|e| {
        let line = e.span().map_or(1, |s| line_of(text, s.start));
        bad(line, e.message().to_string())
    })?;
    // serde does not keep positions; find each concept's `key = ...` line for the messages below.
    let key_line = |key: &str| {
        text.lines()
            .position(|l| {
                let l = l.trim_start();
                l.starts_with("key") && l.contains(&format!("\"{key}\""))
            })
            .map_or(1, |i| i + 1)
    };
    let mut seen = std::collections::HashSet::new();
    for c in &file.concept {
        let valid_key =
            !c.key.is_empty() && c.key.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '-');
        if !valid_key {
            return Err(bad(key_line(&c.key), format!("concept key '{}' must be letters, digits, '_' or '-'", c.key)));
        }
        if !seen.insert(c.key.as_str()) {
            return Err(bad(key_line(&c.key), format!("concept '{}' is defined twice", c.key)));
        }
        if c.seeds.iter().all(|s| s.trim().is_empty()) {
            return Err(bad(key_line(&c.key), format!("concept '{}' has no seed words", c.key)));
        }
        if c.question.trim().is_empty() {
            return Err(bad(key_line(&c.key), format!("concept '{}' has no question", c.key)));
        }
    }
    Ok(file.concept)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_ins_are_the_methods_seven() {
        let c = Concepts::built_in();
        assert_eq!(c.keys(), ["connections", "add", "subtract", "multiply", "division", "equals_to", "formula"]);
        let add = c.get("add").unwrap();
        assert_eq!(add.seeds, ["add", "addition", "+", "sum", "plus"]);
        // The method's question keeps its space before the question mark.
        assert_eq!(add.question, "Is this neuron promoting arithmetic addition ?");
        assert_eq!(c.get("connections").unwrap().seeds.len(), 10);
    }

    #[test]
    fn user_concepts_replace_and_extend() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("concepts.toml");
        std::fs::write(
            &path,
            "[[concept]]\nkey = \"add\"\nname = \"sums\"\nseeds = [\"sum\"]\nquestion = \"Sum?\"\n\n\
             [[concept]]\nkey = \"compare\"\nname = \"comparison\"\nseeds = [\"<\", \">\"]\nquestion = \"Compare?\"\n",
        )
        .unwrap();
        let c = Concepts::load(&path).unwrap();
        assert_eq!(c.keys().len(), 8);
        assert_eq!(c.get("add").unwrap().seeds, ["sum"]);
        assert_eq!(c.keys()[7], "compare");
        assert_eq!(Concepts::load(&dir.path().join("absent.toml")).unwrap(), Concepts::built_in());
    }

    #[test]
    fn broken_user_files_name_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("concepts.toml");
        let cases = [
            ("[[concept]]\nkey = \"a\"\nname = \"A\nseeds = [\"x\"]\nquestion = \"?\"\n", ":3:"),
            ("[[concept]]\nkey = \"a\"\nname = \"A\"\nseeds = [\"x\"]\nquestion = \"?\"\ncolour = 3\n", "colour"),
            ("[[concept]]\nkey = \"a\"\nname = \"A\"\nseeds = []\nquestion = \"?\"\n", ":2: concept 'a' has no seed"),
            ("[[concept]]\nkey = \"a b\"\nname = \"A\"\nseeds = [\"x\"]\nquestion = \"?\"\n", ":2:"),
        ];
        for (text, expected) in cases {
            std::fs::write(&path, text).unwrap();
            let message = Concepts::load(&path).unwrap_err().to_string();
            assert!(message.contains(&path.display().to_string()), "{message}");
            assert!(message.contains(expected), "expected {expected:?} in {message:?}");
        }
    }
}
