//! Exit statuses (docs/cli.md): 0 success, 1 a failure while running, 2 bad usage (clap's own
//! errors, and arguments found unusable once read), 3 a bad input file (unreadable, or not what it
//! should be: a model, tokenizer, prompt, question, variant, label or concept file).
use std::error::Error;
use std::path::{Path, PathBuf};

use color_eyre::eyre::Report;

use crate::engine::EngineError;
use crate::science::analysis::error::AnalysisError;
use crate::science::exemplars::ExemplarError;
use crate::science::labels::error::LabelError;

pub const FAILURE: u8 = 1;
/// What clap exits with on a command line it cannot parse.
pub const USAGE: u8 = 2;
pub const BAD_INPUT: u8 = 3;

/// An argument that parsed but cannot be used: a variant or question that does not exist, a
/// neuron outside the model, options that do not go together.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

pub fn usage(why: impl Into<String>) -> Report {
    Report::new(UsageError(why.into()))
}

/// An analysis's error, where `Invalid` (a neuron, variant, question or count that does not exist,
/// a list that does not parse) is about what the user asked for: a usage error.
pub fn asked_for(e: AnalysisError) -> Report {
    match e {
        AnalysisError::Invalid(why) => usage(why),
        other => other.into(),
    }
}

/// A file given to a command that cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("{}: {source}", path.display())]
pub struct InputFileError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// The text of a file the user gave (a prompt), or a bad-input error naming it.
pub fn read_input(path: &Path) -> Result<String, InputFileError> {
    std::fs::read_to_string(path).map_err(|source| InputFileError { path: path.to_path_buf(), source })
}

/// The exit status for `report`: the first cause, outermost first, that says what kind of error
/// it is decides.
pub fn code(report: &Report) -> u8 {
    report.chain().find_map(kind).unwrap_or(FAILURE)
}

fn kind(e: &(dyn Error + 'static)) -> Option<u8> {
    if e.is::<UsageError>() {
        return Some(USAGE);
    }
    if e.is::<InputFileError>() {
        return Some(BAD_INPUT);
    }
    if let Some(e) = e.downcast_ref::<EngineError>() {
        return engine(e);
    }
    if let Some(e) = e.downcast_ref::<AnalysisError>() {
        return match e {
            AnalysisError::Io { .. } | AnalysisError::BadFile { .. } | AnalysisError::BadLine { .. } => Some(BAD_INPUT),
            // Transparent: the chain goes on past the engine's error without showing it.
            AnalysisError::Engine(e) => engine(e),
            AnalysisError::Invalid(_) => None,
        };
    }
    if let Some(e) = e.downcast_ref::<LabelError>() {
        return match e {
            LabelError::Io { .. } | LabelError::BadFile { .. } => Some(BAD_INPUT),
            LabelError::Db { source, .. } => not_a_database(source).then_some(BAD_INPUT),
            LabelError::Engine(e) => engine(e),
            LabelError::Invalid(_) => None,
        };
    }
    if let Some(e) = e.downcast_ref::<ExemplarError>() {
        return match e {
            ExemplarError::Io { .. } | ExemplarError::BadFile { .. } => Some(BAD_INPUT),
            ExemplarError::Engine(e) => engine(e),
            ExemplarError::Invalid(_) => None,
        };
    }
    None
}

fn engine(e: &EngineError) -> Option<u8> {
    match e {
        EngineError::Io { .. } | EngineError::BadFile { .. } | EngineError::Tokenizer { .. } => Some(BAD_INPUT),
        _ => None,
    }
}

/// A label store that is no SQLite database, or a damaged one (a locked one is a failure of the
/// moment, not of the file).
fn not_a_database(e: &rusqlite::Error) -> bool {
    use rusqlite::ErrorCode::{DatabaseCorrupt, NotADatabase};
    matches!(e.sqlite_error_code(), Some(NotADatabase | DatabaseCorrupt))
}

#[cfg(test)]
mod tests {
    use super::*;
    use color_eyre::eyre::WrapErr;

    #[test]
    fn the_typed_cause_decides_through_wrapping() {
        let bad_file: Result<(), EngineError> = Err(EngineError::bad_file("m.gguf", "truncated"));
        assert_eq!(code(&bad_file.wrap_err("loading the model").unwrap_err()), BAD_INPUT);
        let inside: Result<(), AnalysisError> = Err(AnalysisError::Engine(EngineError::bad_file("t.json", "x")));
        assert_eq!(code(&inside.wrap_err("prompt A").unwrap_err()), BAD_INPUT);
        assert_eq!(code(&Report::new(AnalysisError::Engine(EngineError::Cancelled))), FAILURE);
        assert_eq!(code(&usage("no variant 'x'")), USAGE);
        let missing = read_input(Path::new("/nonexistent/prompt.txt")).unwrap_err();
        assert!(missing.to_string().starts_with("/nonexistent/prompt.txt: "), "{missing}");
        assert_eq!(code(&Report::new(missing)), BAD_INPUT);
        assert_eq!(code(&color_eyre::eyre::eyre!("anything else")), FAILURE);
    }
}
