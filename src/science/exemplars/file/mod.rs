//! Exemplars on disk: one safetensors file per model, corpus and settings (a shard writes a file
//! of its own), holding the corpus's tokens once and every neuron's state. Reading a neuron maps
//! the file and copies only that neuron's rows.
//!
//! Tensors (L layers, F neurons a layer, N kept positions, B bins of S samples, C concepts,
//! D documents, T tokens); an unused slot has document `u32::MAX`:
//! - `documents.tokens` u32 `[T]`, `documents.offsets` u64 `[D + 1]`, `documents.origin` u32
//!   `[D, 2]` (source file, line);
//! - `layer.scale` f32 `[L]`: the bins' unit;
//! - `top.{m,doc,pos}` and `bottom.{m,doc,pos}` `[L, F, N]`; `bins.{m,doc,pos}` `[L, F, B, S]`;
//! - `stats.sum` i64, `stats.sum_sq_hi` i64 and `stats.sum_sq_lo` u64 (fixed point, see
//!   [`FIXED`](super::collect::FIXED)), `stats.max`, `stats.min` f32, `stats.in_top_k` u64, all `[L, F]`;
//! - `seeds.sum` i64 `[C, L, F]`, `seeds.positions` u64 `[C]`.
//!
//! The header's one metadata entry, `neuronav`, is the [`Header`] as JSON.
use serde::{Deserialize, Serialize};

use super::Settings;

mod read;
mod write;

pub use read::{ExemplarFile, NeuronExemplars, NeuronStats, Sums};
pub use write::write;

/// Bumped when the layout changes; older files are refused with a message to rebuild.
pub const FORMAT: u32 = 1;
/// The finished file of a build, in its directory.
pub const FILE_NAME: &str = "exemplars.safetensors";
/// The document of an unused slot.
const EMPTY: u32 = u32::MAX;

/// What a file is of and how it was made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    pub format: u32,
    pub model: ModelIdentity,
    pub corpus: CorpusInfo,
    pub settings: Settings,
    /// The concepts whose seed words were counted, in `seeds.*` order.
    pub concepts: Vec<ConceptSeeds>,
    /// Tokens the bins' scale was taken from: the corpus's first ones.
    pub calibration_tokens: usize,
    /// Documents `index + k·count` are this file's.
    pub shard: ShardOf,
    /// Documents before this one are done (all of them in a finished file).
    pub next_document: usize,
    /// Windows of document `next_document` done (a partial file stops between windows).
    pub next_window: usize,
    /// Positions counted so far: the corpus's tokens less each document's BOS.
    pub positions: u64,
    pub complete: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelIdentity {
    pub name: String,
    pub fingerprint: String,
    pub layers: usize,
    pub d_ff: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorpusInfo {
    pub sources: Vec<String>,
    /// The JSONL field read, when any file is JSONL.
    pub field: Option<String>,
    /// SHA-256 of the documents' texts (see [`super::corpus::Corpus::hash`]).
    pub hash: String,
    pub documents: usize,
    pub tokens: usize,
    /// Lines of the files that held no document.
    pub skipped: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConceptSeeds {
    pub key: String,
    pub seeds: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardOf {
    pub index: usize,
    pub count: usize,
}

/// The corpus's tokens, stored once.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Documents {
    pub tokens: Vec<u32>,
    /// `[D + 1]`: document d is `tokens[offsets[d]..offsets[d + 1]]`.
    pub offsets: Vec<u64>,
    /// `(source, line)` per document.
    pub origins: Vec<(u32, u32)>,
}

impl Documents {
    pub fn len(&self) -> usize {
        self.origins.len()
    }

    pub fn is_empty(&self) -> bool {
        self.origins.is_empty()
    }

    pub fn get(&self, doc: usize) -> &[u32] {
        &self.tokens[self.offsets[doc] as usize..self.offsets[doc + 1] as usize]
    }
}
