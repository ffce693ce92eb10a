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
    /// A forward pass produced NaN or ±inf: the element type cannot hold what the model
    /// computes (f16 stops at 65504), or the weights themselves are broken. `layer` is the first
    /// layer where it appeared (none when only the logits are affected), `place` the hook point or
    /// the logits, `position` the first position affected there.
    #[error("{}", non_finite(*layer, place, *position, *value, dtype))]
    NonFinite { layer: Option<usize>, place: String, position: usize, value: f32, dtype: String },
    /// A model or a run needs more memory than the machine has available; refused before the
    /// allocation, which would abort the process.
    #[error("{what} needs {} of memory but only {} is available; {hint}", bytes(*needed), bytes(*available))]
    Memory { what: String, needed: u64, available: u64, hint: String },
    /// A file being written was given contents it cannot hold: a duplicate name, a shape that is
    /// not whole blocks, more or less data than its table promised.
    #[error("writing {}: {problem}", path.display())]
    Write { path: PathBuf, problem: String },
    /// The file where a trace keeps the vectors past its memory budget could not be made, written
    /// or read (an unwritable cache directory, a full disk).
    #[error("{action} the trace's spill file in {}: {source}; a larger --trace-memory keeps more in memory", dir.display())]
    Spill {
        dir: PathBuf,
        action: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("cancelled")]
    Cancelled,
}

fn non_finite(layer: Option<usize>, place: &str, position: usize, value: f32, dtype: &str) -> String {
    let origin = match layer {
        Some(l) => format!("layer {l} produced {value} ({place})"),
        None => format!("{place} hold {value}"),
    };
    let advice = match dtype {
        "f16" => "f16 holds magnitudes up to 65504; --dtype bf16 or f32 have f32's range",
        "bf16" => "--dtype f32 computes with more precision",
        _ => "computing in f32 already, so the weights may hold huge or non-finite values; check the model file",
    };
    format!("{origin} at position {position}, computing in {dtype}: {advice}")
}

/// A byte count for people: GiB, MiB or bytes.
fn bytes(n: u64) -> String {
    const MIB: f64 = 1024.0 * 1024.0;
    match n as f64 {
        b if b >= 1024.0 * MIB => format!("{:.2} GiB", b / (1024.0 * MIB)),
        b if b >= MIB => format!("{:.1} MiB", b / MIB),
        _ => format!("{n} bytes"),
    }
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
