//! Errors of labelling and the label store. Every error about a file names the file.
use std::path::{Path, PathBuf};

use crate::engine::error::EngineError;

#[derive(Debug, thiserror::Error)]
pub enum LabelError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("label store {}: {source}", path.display())]
    Db {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    /// A concepts or config file that does not parse or says something invalid.
    #[error("{}:{line}: {problem}", path.display())]
    BadFile { path: PathBuf, line: usize, problem: String },
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl LabelError {
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        LabelError::Io { path: path.to_path_buf(), source }
    }
}

pub type Result<T, E = LabelError> = std::result::Result<T, E>;

/// The 1-based line of byte offset `at` in `text`.
pub fn line_of(text: &str, at: usize) -> usize {
    text.as_bytes()[..at.min(text.len())].iter().filter(|&&b| b == b'\n').count() + 1
}
