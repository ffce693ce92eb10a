//! Exemplars as the commands print them: which file (`--exemplars`, or the model's latest), and
//! each exemplar as text around its activating token.
use std::path::PathBuf;

use clap::Args;
use color_eyre::eyre::Result;
use serde::Serialize;

use crate::engine::tokenizer::Tokenizer;
use crate::paths::Paths;
use crate::science::exemplars::context::context;
use crate::science::exemplars::file::ExemplarFile;
use crate::science::exemplars::{location, Record};

#[derive(Debug, Args)]
pub struct ExemplarsArg {
    /// The exemplar file [default: the model's most recent build in the cache directory]
    #[arg(long, value_name = "FILE")]
    pub exemplars: Option<PathBuf>,
}

impl ExemplarsArg {
    /// The file asked for, or the model's latest; `None` when there is none.
    pub fn open(&self, paths: &Paths, fingerprint: &str) -> Result<Option<ExemplarFile>> {
        let path = match &self.exemplars {
            Some(path) => path.clone(),
            None => match location::latest(&paths.cache, fingerprint) {
                Some(path) => path,
                None => return Ok(None),
            },
        };
        let file = ExemplarFile::open(&path)?;
        if file.header().model.fingerprint != fingerprint {
            return Err(color_eyre::eyre::eyre!(
                "{} holds exemplars of {}, not of this model",
                path.display(),
                file.header().model.name
            ));
        }
        Ok(Some(file))
    }
}

/// The message where exemplars would be.
pub const NONE: &str = "no exemplars for this model: run `neuronav exemplars build`";

/// One exemplar as text.
#[derive(Debug, Clone, Serialize)]
pub struct ExemplarText {
    pub doc: u32,
    pub pos: u32,
    pub m: f32,
    /// `file:line` of the document.
    pub origin: String,
    /// Up to 32 tokens before the activating one, the token, up to 8 after.
    pub before: String,
    pub token: String,
    pub after: String,
}

impl ExemplarText {
    pub fn new(file: &ExemplarFile, tokenizer: &Tokenizer, record: Record) -> ExemplarText {
        let c = context(file, record);
        let (source, line) = file.origin(record.doc);
        ExemplarText {
            doc: record.doc,
            pos: record.pos,
            m: record.m,
            origin: format!("{source}:{line}"),
            before: tokenizer.decode(&c.tokens[..c.focus]),
            token: tokenizer.decode(&c.tokens[c.focus..=c.focus]),
            after: tokenizer.decode(&c.tokens[c.focus + 1..]),
        }
    }

    /// One line: `…before[token]after…`, line breaks shown as ⏎.
    pub fn line(&self) -> String {
        let flat = |s: &str| s.replace('\n', "⏎");
        format!("…{}[{}]{}…", flat(&self.before), flat(&self.token), flat(&self.after))
    }
}
