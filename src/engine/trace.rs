//! What the engine captured at each computed position, kept in host memory.
//!
//! Activations are stored as the forward pass produced them: one chunk per pass, each holding a
//! layer-major buffer per hook for its positions. A position's activation at one hook point is a
//! contiguous slice of its chunk, and nothing is copied or split per position (which fragmented
//! the heap: a 912-token prompt cost twice its capture in resident memory). Layer-major buffers
//! also grow by appending, so a pass's layers could be stored one by one as they are computed.
use rayon::prelude::*;

use super::config::ModelConfig;
use super::hook::{Captures, Hook, HookPoint};
use super::model::Captured;
use super::neuron::{top_k, NeuronHit};

/// The captures of one forward pass over positions `start..start + len`.
struct Chunk {
    start: usize,
    tokens: Vec<u32>,
    /// Each hook's activations: `[n_layers, len, width]`.
    activations: Captures<Vec<f32>>,
    /// `[len][n_layers][K]`
    top: Vec<Vec<Vec<NeuronHit>>>,
    /// Next-token logits at the chunk's last position: `[vocab]`.
    logits: Vec<f32>,
}

impl Chunk {
    fn len(&self) -> usize {
        self.tokens.len()
    }
}

/// Every computed position of a session.
pub struct Trace {
    chunks: Vec<Chunk>,
    n_layers: usize,
    /// Each hook's values per position: d_model or d_ff.
    widths: Captures<usize>,
}

/// One position's captures, borrowed from the trace.
#[derive(Clone, Copy)]
pub struct Position<'a> {
    chunk: &'a Chunk,
    /// Offset within the chunk.
    at: usize,
    widths: &'a Captures<usize>,
}

impl<'a> Position<'a> {
    /// The input token at this position.
    pub fn token(&self) -> u32 {
        self.chunk.tokens[self.at]
    }

    /// The activation at `point`: `[width]` of its hook.
    pub fn get(&self, point: HookPoint) -> &'a [f32] {
        let width = self.widths[point.hook];
        let i = point.layer * self.chunk.len() + self.at;
        &self.chunk.activations[point.hook][i * width..(i + 1) * width]
    }

    /// [`Hook::MlpM`] of layer `layer`, the neurons' coefficients: `[d_ff]`.
    pub fn m(&self, layer: usize) -> &'a [f32] {
        self.get(Hook::MlpM.at(layer))
    }

    /// [`Hook::ResidMid`] of layer `layer`: `[d_model]`.
    pub fn resid_mid(&self, layer: usize) -> &'a [f32] {
        self.get(Hook::ResidMid.at(layer))
    }

    /// [`Hook::ResidPost`] of layer `layer`: `[d_model]`.
    pub fn resid_post(&self, layer: usize) -> &'a [f32] {
        self.get(Hook::ResidPost.at(layer))
    }

    /// The top-K neurons of each layer by score: `[n_layers][K]`.
    pub fn top(&self) -> &'a [Vec<NeuronHit>] {
        &self.chunk.top[self.at]
    }

    /// Next-token logits `[vocab]`, kept for the last position of each forward pass (the last
    /// prompt position and every generated one).
    pub fn logits(&self) -> Option<&'a [f32]> {
        (self.at + 1 == self.chunk.len()).then_some(&self.chunk.logits[..])
    }
}

impl Trace {
    pub fn new(config: &ModelConfig) -> Self {
        Trace { chunks: Vec::new(), n_layers: config.num_layers, widths: Captures::from_fn(|hook| hook.width(config)) }
    }

    /// Number of positions.
    pub fn len(&self) -> usize {
        self.chunks.last().map_or(0, |c| c.start + c.len())
    }

    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    /// Position `p`; panics when `p >= len()`.
    pub fn position(&self, p: usize) -> Position<'_> {
        let i = self.chunks.partition_point(|c| c.start + c.len() <= p);
        let chunk = &self.chunks[i];
        assert!(p >= chunk.start, "position {p} is not in the trace");
        Position { chunk, at: p - chunk.start, widths: &self.widths }
    }

    pub fn positions(&self) -> impl Iterator<Item = Position<'_>> {
        (0..self.len()).map(|p| self.position(p))
    }

    pub fn tokens(&self) -> Vec<u32> {
        self.chunks.iter().flat_map(|c| c.tokens.iter().copied()).collect()
    }

    /// Records one forward pass over `tokens` at the end of the trace; ranks the top `k` neurons
    /// of every layer and position with `value_norms: [n_layers][d_ff]`.
    pub fn push(&mut self, tokens: Vec<u32>, captured: Captured, value_norms: &[Vec<f32>], k: usize) {
        let start = self.len();
        let Captured { activations, logits } = captured;
        let mut chunk = Chunk { start, tokens, activations, top: Vec::new(), logits };
        chunk.top = rank(&chunk, value_norms, self.n_layers, self.widths[Hook::MlpM], k);
        self.chunks.push(chunk);
    }

    /// Drops the last forward pass; returns how many positions it held.
    pub fn pop(&mut self) -> usize {
        self.chunks.pop().map_or(0, |c| c.len())
    }

    pub fn clear(&mut self) {
        self.chunks.clear();
    }

    /// Re-ranks every position with a new K (no forward pass needed).
    pub fn rerank(&mut self, value_norms: &[Vec<f32>], k: usize) {
        for chunk in &mut self.chunks {
            chunk.top = rank(chunk, value_norms, self.n_layers, self.widths[Hook::MlpM], k);
        }
    }
}

/// Top-k neurons per position and layer of a chunk: `[len][n_layers][k]`.
fn rank(chunk: &Chunk, value_norms: &[Vec<f32>], n_layers: usize, d_ff: usize, k: usize) -> Vec<Vec<Vec<NeuronHit>>> {
    let t = chunk.len();
    let m = &chunk.activations[Hook::MlpM];
    (0..t)
        .into_par_iter()
        .map(|p| {
            (0..n_layers)
                .map(|l| {
                    let i = l * t + p;
                    top_k(&m[i * d_ff..(i + 1) * d_ff], &value_norms[l], k)
                })
                .collect()
        })
        .collect()
}
