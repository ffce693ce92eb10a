//! Errors of the engine. Every error about a file names the file.
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A model, tokenizer or config file whose contents are wrong: truncated, lying about sizes,
    /// of an unsupported type or architecture.
    #[error("{}: {problem}", path.display())]
    BadFile { path: PathBuf, problem: String },
    #[error("{}: tokenizer: {problem}", path.display())]
    Tokenizer { path: PathBuf, problem: String },
    #[error("the prompt is {tokens} tokens long but the model's context holds {context}")]
    ContextOverflow { tokens: usize, context: usize },
    #[error("fetching the default model: {0}")]
    Fetch(String),
    #[error("device: {0}")]
    Device(String),
    /// A request or setting that cannot be carried out as given: an empty prompt or branch, nothing
    /// to read, a layer past the model, a prompt prefix the tokenizer merges with what follows.
    #[error("{0}")]
    Argument(String),
    /// An index outside what exists: a token id past the vocabulary, a row past its branch, a
    /// position not computed, a neuron not in the model.
    #[error("{0}")]
    OutOfRange(String),
    /// What the request works on is not there yet: no model loaded, no prompt run, nothing
    /// generated to take back.
    #[error("{0}")]
    NotReady(String),
    /// The request needs a tokenizer and the session has none.
    #[error("{0}")]
    NoTokenizer(String),
    /// A file being written was given contents it cannot hold: a duplicate name, a shape that is
    /// not whole blocks, more or less data than its table promised.
    #[error("writing {}: {problem}", path.display())]
    Write { path: PathBuf, problem: String },
    #[error("cancelled")]
    Cancelled,
}

impl EngineError {
    pub fn bad_file(path: impl Into<PathBuf>, problem: impl Into<String>) -> Self {
        EngineError::BadFile { path: path.into(), problem: problem.into() }
    }
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        EngineError::Io { path: path.into(), source }
    }
}

pub type Result<T, E = EngineError> = std::result::Result<T, E>;
