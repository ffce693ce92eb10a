//! What can go wrong in an analysis.
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum AnalysisError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}, line {line}: {what}")]
    BadLine { path: PathBuf, line: usize, what: String },
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Engine(#[from] crate::engine::EngineError),
}

impl AnalysisError {
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        AnalysisError::Io { path: path.to_path_buf(), source }
    }
}

pub type Result<T> = std::result::Result<T, AnalysisError>;
