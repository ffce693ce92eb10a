//! What can go wrong building or reading exemplars. Every error about a file names the file.
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ExemplarError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    /// A corpus or exemplar file whose contents are not what neuronav reads.
    #[error("{}: {problem}", path.display())]
    BadFile { path: PathBuf, problem: String },
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Engine(#[from] crate::engine::EngineError),
}

impl ExemplarError {
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        ExemplarError::Io { path: path.to_path_buf(), source }
    }

    pub fn bad_file(path: &Path, problem: impl Into<String>) -> Self {
        ExemplarError::BadFile { path: path.to_path_buf(), problem: problem.into() }
    }
}

pub type Result<T> = std::result::Result<T, ExemplarError>;
