//! What can go wrong in an analysis.
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum AnalysisError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    /// A file (or directory) whose contents are not what the analysis reads.
    #[error("{}: {problem}", path.display())]
    BadFile { path: PathBuf, problem: String },
    #[error("{}, line {line}: {what}", path.display())]
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

    pub fn bad_file(path: &Path, problem: impl Into<String>) -> Self {
        AnalysisError::BadFile { path: path.to_path_buf(), problem: problem.into() }
    }
}

pub type Result<T> = std::result::Result<T, AnalysisError>;
