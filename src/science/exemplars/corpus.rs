//! The documents an exemplar build runs over: plain-text files (a document per block of lines
//! separated by a blank line), JSONL files (a document per line, from one string field), or the
//! method's GSM8K test questions with their worked answers, as shipped with neuronav.
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::error::{ExemplarError, Result};
use crate::science::analysis::shipped;

/// One document and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// Index into [`Corpus::sources`].
    pub source: usize,
    /// The 1-based line it starts on.
    pub line: usize,
    pub text: String,
}

/// A line or block that holds no document, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    pub source: String,
    pub line: usize,
    pub why: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Corpus {
    /// The files read, as named in messages.
    pub sources: Vec<String>,
    pub documents: Vec<Document>,
    pub skipped: Vec<Skipped>,
}

impl Corpus {
    /// The method's GSM8K test set: each question followed by its worked answer.
    pub fn gsm8k() -> Corpus {
        let name = shipped::QUESTIONS_NAME.to_string();
        let mut corpus = Corpus { sources: vec![name.clone()], documents: Vec::new(), skipped: Vec::new() };
        for (i, line) in shipped::QUESTIONS.lines().enumerate() {
            let value: serde_json::Value = serde_json::from_str(line).expect("the shipped questions are JSON lines");
            let text = |field: &str| value[field].as_str().expect("shipped questions have text fields").to_string();
            corpus.documents.push(Document {
                source: 0,
                line: i + 1,
                text: format!("{}\n{}", text("question"), text("answer")),
            });
        }
        corpus
    }

    /// Reads `files` in order. Files named `*.jsonl` hold a document per line in the string
    /// `field`; any other file holds a document per blank-line-separated block. Lines without the
    /// field are skipped and listed; a file that is not UTF-8 or holds no document is an error.
    pub fn read(files: &[PathBuf], field: &str) -> Result<Corpus> {
        let mut corpus = Corpus { sources: Vec::new(), documents: Vec::new(), skipped: Vec::new() };
        for path in files {
            let source = corpus.sources.len();
            corpus.sources.push(path.display().to_string());
            let text = read_utf8(path)?;
            let before = corpus.documents.len();
            if is_jsonl(path) {
                json_lines(&text, source, field, &mut corpus);
            } else {
                blocks(&text, source, &mut corpus.documents);
            }
            if corpus.documents.len() == before {
                let why = match corpus.skipped.iter().filter(|s| s.source == corpus.sources[source]).count() {
                    0 => "it holds no documents".to_string(),
                    n => format!(
                        "none of its {n} lines holds a document (the first: line {})",
                        first_line(&corpus, source)
                    ),
                };
                return Err(ExemplarError::bad_file(path, why));
            }
        }
        Ok(corpus)
    }

    /// SHA-256 of the documents' texts in order: what the build read, whatever files it came from.
    pub fn hash(&self) -> String {
        let mut hasher = Sha256::new();
        for doc in &self.documents {
            hasher.update((doc.text.len() as u64).to_le_bytes());
            hasher.update(doc.text.as_bytes());
        }
        format!("{:x}", hasher.finalize())
    }

    /// Where document `doc` came from, for messages: `file:line`.
    pub fn origin(&self, doc: usize) -> String {
        let d = &self.documents[doc];
        format!("{}:{}", self.sources[d.source], d.line)
    }
}

fn first_line(corpus: &Corpus, source: usize) -> usize {
    corpus.skipped.iter().find(|s| s.source == corpus.sources[source]).map_or(0, |s| s.line)
}

fn is_jsonl(path: &Path) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case("jsonl"))
}

fn read_utf8(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| ExemplarError::io(path, e))?;
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let line = e.as_bytes()[..at].iter().filter(|&&b| b == b'\n').count() + 1;
        ExemplarError::bad_file(path, format!("not UTF-8 text: line {line} has an invalid byte (offset {at})"))
    })
}

fn blocks(text: &str, source: usize, documents: &mut Vec<Document>) {
    let mut current: Option<(usize, Vec<&str>)> = None;
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            if let Some((start, lines)) = current.take() {
                documents.push(Document { source, line: start, text: lines.join("\n") });
            }
        } else {
            current.get_or_insert_with(|| (i + 1, Vec::new())).1.push(line);
        }
    }
    if let Some((start, lines)) = current {
        documents.push(Document { source, line: start, text: lines.join("\n") });
    }
}

fn json_lines(text: &str, source: usize, field: &str, corpus: &mut Corpus) {
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let skip = |why: String| Skipped { source: corpus.sources[source].clone(), line: i + 1, why };
        match serde_json::from_str::<serde_json::Value>(line) {
            Err(e) => corpus.skipped.push(skip(format!("not JSON: {e}"))),
            Ok(value) => match value.get(field) {
                Some(serde_json::Value::String(s)) if !s.trim().is_empty() => {
                    corpus.documents.push(Document { source, line: i + 1, text: s.clone() })
                }
                Some(serde_json::Value::String(_)) => corpus.skipped.push(skip(format!("'{field}' is empty"))),
                Some(_) => corpus.skipped.push(skip(format!("'{field}' is not a string"))),
                None => corpus.skipped.push(skip(format!("no field '{field}'"))),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    #[test]
    fn plain_text_splits_at_blank_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "c.txt", b"one\ntwo\n\n\n  \nthree\n\nfour");
        let c = Corpus::read(&[path], "text").unwrap();
        let texts: Vec<_> = c.documents.iter().map(|d| (d.line, d.text.as_str())).collect();
        assert_eq!(texts, [(1, "one\ntwo"), (6, "three"), (8, "four")]);
        assert!(c.skipped.is_empty());
    }

    #[test]
    fn jsonl_lines_without_the_field_are_skipped_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "c.jsonl",
            b"{\"text\": \"a b\"}\n{\"body\": \"x\"}\nnot json\n\n{\"text\": 3}\n{\"text\": \"c\"}\n",
        );
        let c = Corpus::read(&[path], "text").unwrap();
        let texts: Vec<_> = c.documents.iter().map(|d| (d.line, d.text.as_str())).collect();
        assert_eq!(texts, [(1, "a b"), (6, "c")]);
        let skipped: Vec<_> = c.skipped.iter().map(|s| s.line).collect();
        assert_eq!(skipped, [2, 3, 5]);
        assert!(c.skipped[0].why.contains("no field 'text'"));
        assert!(c.skipped[2].why.contains("not a string"));
    }

    #[test]
    fn bad_files_are_errors_naming_them() {
        let dir = tempfile::tempdir().unwrap();
        let latin1 = write(dir.path(), "latin1.txt", b"ok\ncaf\xe9\n");
        let message = Corpus::read(std::slice::from_ref(&latin1), "text").unwrap_err().to_string();
        assert!(message.contains(&latin1.display().to_string()) && message.contains("line 2"), "{message}");
        let empty = write(dir.path(), "empty.txt", b"\n\n");
        let message = Corpus::read(&[empty], "text").unwrap_err().to_string();
        assert!(message.contains("empty.txt") && message.contains("no documents"), "{message}");
        let wrong_field = write(dir.path(), "w.jsonl", b"{\"body\": \"x\"}\n");
        let message = Corpus::read(&[wrong_field], "text").unwrap_err().to_string();
        assert!(message.contains("w.jsonl") && message.contains("line 1"), "{message}");
        let missing = dir.path().join("missing.txt");
        assert!(Corpus::read(&[missing], "text").unwrap_err().to_string().contains("missing.txt"));
    }

    #[test]
    fn the_shipped_corpus_is_every_question_with_its_answer() {
        let c = Corpus::gsm8k();
        assert_eq!(c.documents.len(), 1319);
        assert!(c.documents[0].text.starts_with("Janet"));
        assert!(c.documents[0].text.ends_with("#### 18"));
        // The hash is of the text, so the same documents read from a file hash the same.
        let dir = tempfile::tempdir().unwrap();
        let blocks: Vec<_> = c.documents.iter().take(3).map(|d| d.text.replace("\n\n", "\n")).collect();
        let path = write(dir.path(), "three.txt", blocks.join("\n\n").as_bytes());
        let three = Corpus::read(&[path], "text").unwrap();
        let mut first_three = c.clone();
        first_three.documents.truncate(3);
        for d in &mut first_three.documents {
            d.text = d.text.replace("\n\n", "\n");
        }
        assert_eq!(three.hash(), first_three.hash());
        assert_ne!(three.hash(), c.hash());
    }
}
