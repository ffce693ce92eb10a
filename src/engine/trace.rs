//! What the engine captured at each computed position, kept in host memory.
//!
//! Captures are stored as the forward pass produced them: one chunk per pass, each holding
//! layer-major buffers for its positions. A position's values for one layer are a contiguous slice
//! of its chunk, and nothing is copied or split per position (which fragmented the heap: a
//! 912-token prompt cost twice its capture in resident memory).
use rayon::prelude::*;

use super::neuron::{top_k, NeuronHit};

/// The captures of one forward pass over positions `start..start + len`.
struct Chunk {
    start: usize,
    tokens: Vec<u32>,
    /// `[n_layers, len, d_ff]`
    m: Vec<f32>,
    /// `[n_layers, len, d_model]`
    resid_mid: Vec<f32>,
    /// `[n_layers, len, d_model]`
    resid_post: Vec<f32>,
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
    d_model: usize,
    d_ff: usize,
}

/// One position's captures, borrowed from the trace.
#[derive(Clone, Copy)]
pub struct Position<'a> {
    chunk: &'a Chunk,
    /// Offset within the chunk.
    at: usize,
    d_model: usize,
    d_ff: usize,
}

impl<'a> Position<'a> {
    /// The input token at this position.
    pub fn token(&self) -> u32 {
        self.chunk.tokens[self.at]
    }

    fn row(&self, buf: &'a [f32], layer: usize, width: usize) -> &'a [f32] {
        let i = layer * self.chunk.len() + self.at;
        &buf[i * width..(i + 1) * width]
    }

    /// Coefficients m of layer `layer`: `[d_ff]`.
    pub fn m(&self, layer: usize) -> &'a [f32] {
        self.row(&self.chunk.m, layer, self.d_ff)
    }

    /// Residual stream before layer `layer`'s feed-forward block: `[d_model]`.
    pub fn resid_mid(&self, layer: usize) -> &'a [f32] {
        self.row(&self.chunk.resid_mid, layer, self.d_model)
    }

    /// Residual stream after layer `layer`'s feed-forward block: `[d_model]`.
    pub fn resid_post(&self, layer: usize) -> &'a [f32] {
        self.row(&self.chunk.resid_post, layer, self.d_model)
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
    pub fn new(n_layers: usize, d_model: usize, d_ff: usize) -> Self {
        Trace { chunks: Vec::new(), n_layers, d_model, d_ff }
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
        Position { chunk, at: p - chunk.start, d_model: self.d_model, d_ff: self.d_ff }
    }

    pub fn positions(&self) -> impl Iterator<Item = Position<'_>> {
        (0..self.len()).map(|p| self.position(p))
    }

    pub fn tokens(&self) -> Vec<u32> {
        self.chunks.iter().flat_map(|c| c.tokens.iter().copied()).collect()
    }

    /// Records one forward pass over `tokens` at the end of the trace. `m: [n_layers, t, d_ff]`,
    /// residuals `[n_layers, t, d_model]`, `logits: [vocab]` of the last position; ranks the
    /// top `k` neurons of every layer and position with `value_norms: [n_layers][d_ff]`.
    #[allow(clippy::too_many_arguments)]
    pub fn push(
        &mut self,
        tokens: Vec<u32>,
        m: Vec<f32>,
        resid_mid: Vec<f32>,
        resid_post: Vec<f32>,
        logits: Vec<f32>,
        value_norms: &[Vec<f32>],
        k: usize,
    ) {
        let start = self.len();
        let mut chunk = Chunk { start, tokens, m, resid_mid, resid_post, top: Vec::new(), logits };
        chunk.top = rank(&chunk, value_norms, self.n_layers, self.d_ff, k);
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
        let (n_layers, d_ff) = (self.n_layers, self.d_ff);
        for chunk in &mut self.chunks {
            chunk.top = rank(chunk, value_norms, n_layers, d_ff, k);
        }
    }
}

/// Top-k neurons per position and layer of a chunk: `[len][n_layers][k]`.
fn rank(chunk: &Chunk, value_norms: &[Vec<f32>], n_layers: usize, d_ff: usize, k: usize) -> Vec<Vec<Vec<NeuronHit>>> {
    let t = chunk.len();
    (0..t)
        .into_par_iter()
        .map(|p| {
            (0..n_layers)
                .map(|l| {
                    let i = l * t + p;
                    top_k(&chunk.m[i * d_ff..(i + 1) * d_ff], &value_norms[l], k)
                })
                .collect()
        })
        .collect()
}
