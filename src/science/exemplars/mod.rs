//! Exemplars: for every neuron, the corpus positions it fires on most (by m and by −m), samples
//! from fixed activation bins, and its statistics over the corpus — the evidence a person reads
//! beside a label.
//!
//! - `corpus`: the documents, read from plain-text or JSONL files, or the method's GSM8K set;
//! - `windows`: how a document longer than the model's context is cut into overlapping windows;
//! - `collect`: the per-neuron state a pass over the corpus fills in;
//! - `file`: that state on disk, one safetensors file per model, corpus and settings, written
//!   and read;
//! - `location`: where a model's exemplar files are;
//! - `build` and `merge`: the pass itself (resumable, shardable) and the union of shards;
//! - `context`: the tokens around an exemplar, and their m recomputed on demand;
//! - `search`: neurons by the tokens their exemplars fire on;
//! - `seeds`: how well a concept's seed words predict a neuron's activation, without an LLM.
pub mod build;
pub mod collect;
pub mod context;
pub mod corpus;
pub mod error;
pub mod file;
pub mod location;
pub mod merge;
pub mod search;
pub mod seeds;
pub mod windows;

pub use error::{ExemplarError, Result};

/// Activation bins, fixed before a run in units of the layer's scale (see [`bin_of`]).
pub const BINS: usize = 10;
/// Positions sampled from each bin.
pub const SAMPLES_PER_BIN: usize = 5;
/// Bin edges in units of the layer's scale: bins are symmetric about zero, finer near it, and the
/// two innermost ones (|m| below 1/16 of the scale) hold the positions where the neuron is quiet.
pub const BIN_EDGES: [f32; BINS - 1] = [-1.0, -0.5, -0.25, -0.0625, 0.0, 0.0625, 0.25, 0.5, 1.0];
/// The bins where the neuron is quiet: what a detection scorer shows as non-activating.
pub const QUIET_BINS: [usize; 2] = [4, 5];

/// The bin of `x = m / scale`: the number of edges at or below it.
pub fn bin_of(x: f32) -> usize {
    BIN_EDGES.iter().filter(|&&edge| edge <= x).count()
}

/// One position of the corpus and the neuron's m there.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Record {
    /// Index of the document in the corpus.
    pub doc: u32,
    /// Index of the token in the document.
    pub pos: u32,
    pub m: f32,
}

/// How a build is run; all of it is part of the file's identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Settings {
    /// Positions kept per neuron by m and by −m.
    pub top: usize,
    /// Positions the corpus is cut to (the last document counted is cut short); `None`: all.
    pub max_tokens: Option<usize>,
    /// Tokens per forward pass; longer documents run in windows overlapping by a quarter.
    pub window: usize,
    /// K of "the neuron is in its layer's top K" (ranked by score, as the explorer ranks).
    pub top_k: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_split_at_their_edges() {
        assert_eq!(bin_of(-3.0), 0);
        assert_eq!(bin_of(-1.0), 1);
        assert_eq!(bin_of(-0.3), 2);
        assert_eq!(bin_of(-0.01), 4);
        assert_eq!(bin_of(0.0), 5);
        assert_eq!(bin_of(0.01), 5);
        assert_eq!(bin_of(0.07), 6);
        assert_eq!(bin_of(0.9), 8);
        assert_eq!(bin_of(1.0), 9);
        assert_eq!(bin_of(f32::INFINITY), 9);
    }
}
