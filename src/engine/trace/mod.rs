//! What the engine captured at each computed position: every hook's full vectors (m and both
//! residuals, f32) and the top-K neurons of every layer.
//!
//! A forward pass is recorded layer by layer as the model computes it ([`Recording`]), so a
//! pass's captures never exist whole beside the trace. Each layer's vectors of a pass stay in
//! memory as the model handed them over (`[len, width]` per hook, nothing copied or split per
//! position) while the trace's resident bytes stay within its budget; past it they go to a
//! [`SpillFile`] and are read back when asked for. The top-K lists, the tokens and the logits
//! always stay in memory (and count against the budget).
mod recording;
mod spill;

use std::borrow::Cow;
use std::path::PathBuf;

use rayon::prelude::*;

use super::config::ModelConfig;
use super::error::Result;
use super::hook::{Captures, Hook, HookPoint};
use super::neuron::{top_k, NeuronHit};
pub use recording::Recording;
use spill::SpillFile;

/// The default budget of a trace's resident memory: 1 GiB, the vectors of about 430 positions of
/// Llama-2-7B or 3200 of SmolLM2-135M (see docs/architecture.md, "Trace memory").
pub const DEFAULT_BUDGET: u64 = 1 << 30;

/// The captures of one forward pass over positions `start..start + len`.
struct Chunk {
    start: usize,
    tokens: Vec<u32>,
    /// `[n_layers]`: where each layer's vectors are.
    layers: Vec<Layer>,
    /// `[len][n_layers][K]`
    top: Vec<Vec<Vec<NeuronHit>>>,
    /// Next-token logits at the chunk's last position: `[vocab]`.
    logits: Vec<f32>,
    /// Bytes of this chunk in memory: resident layers, top-K lists and logits.
    resident: u64,
}

impl Chunk {
    fn len(&self) -> usize {
        self.tokens.len()
    }
}

/// One layer's vectors of one pass.
enum Layer {
    /// Each hook's `[len, width]`, in memory.
    Resident(Captures<Vec<f32>>),
    /// In the spill file from this byte offset on: each hook's `[len, width]`, in the order of
    /// [`Hook::ALL`].
    Spilled(u64),
}

/// Every computed position of a session.
pub struct Trace {
    chunks: Vec<Chunk>,
    n_layers: usize,
    vocab: usize,
    /// Each hook's values per position: d_model or d_ff.
    widths: Captures<usize>,
    /// Bytes the trace may keep in memory.
    budget: u64,
    /// Bytes it keeps: the sum of its chunks'.
    resident: u64,
    spill: SpillFile,
}

/// One position's captures, borrowed from the trace.
#[derive(Clone, Copy)]
pub struct Position<'a> {
    trace: &'a Trace,
    chunk: &'a Chunk,
    /// Offset within the chunk.
    at: usize,
}

impl<'a> Position<'a> {
    /// The input token at this position.
    pub fn token(&self) -> u32 {
        self.chunk.tokens[self.at]
    }

    /// The activation at `point`: `[width]` of its hook, borrowed from memory or read back from
    /// the spill file (an error only when that read fails).
    pub fn get(&self, point: HookPoint) -> Result<Cow<'a, [f32]>> {
        let width = self.trace.widths[point.hook];
        match &self.chunk.layers[point.layer] {
            Layer::Resident(captures) => Ok(Cow::Borrowed(&captures[point.hook][self.at * width..][..width])),
            Layer::Spilled(offset) => {
                let trace = self.trace;
                let at = trace.spilled_offset(*offset, point.hook, self.chunk.len())
                    + trace.value_bytes(self.at as u64, width);
                let mut values = vec![0.0; width];
                trace.spill.read(at, &mut values)?;
                Ok(Cow::Owned(values))
            }
        }
    }

    /// [`Hook::MlpM`] of layer `layer`, the neurons' coefficients: `[d_ff]`.
    pub fn m(&self, layer: usize) -> Result<Cow<'a, [f32]>> {
        self.get(Hook::MlpM.at(layer))
    }

    /// [`Hook::ResidMid`] of layer `layer`: `[d_model]`.
    pub fn resid_mid(&self, layer: usize) -> Result<Cow<'a, [f32]>> {
        self.get(Hook::ResidMid.at(layer))
    }

    /// [`Hook::ResidPost`] of layer `layer`: `[d_model]`.
    pub fn resid_post(&self, layer: usize) -> Result<Cow<'a, [f32]>> {
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
    /// An empty trace that keeps up to `budget` bytes in memory and puts the rest in a file it
    /// makes in `spill_dir` when it first needs one.
    pub fn new(config: &ModelConfig, budget: u64, spill_dir: PathBuf) -> Self {
        Trace {
            chunks: Vec::new(),
            n_layers: config.num_layers,
            vocab: config.vocab_size,
            widths: Captures::from_fn(|hook| hook.width(config)),
            budget,
            resident: 0,
            spill: SpillFile::new(spill_dir),
        }
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
        Position { trace: self, chunk, at: p - chunk.start }
    }

    pub fn positions(&self) -> impl Iterator<Item = Position<'_>> {
        (0..self.len()).map(|p| self.position(p))
    }

    pub fn tokens(&self) -> Vec<u32> {
        self.chunks.iter().flat_map(|c| c.tokens.iter().copied()).collect()
    }

    /// Bytes the trace may keep in memory.
    pub fn budget(&self) -> u64 {
        self.budget
    }

    /// Bytes the trace keeps in memory: its resident vectors, top-K lists and logits.
    pub fn resident_bytes(&self) -> u64 {
        self.resident
    }

    /// Bytes of vectors in the spill file.
    pub fn spilled_bytes(&self) -> u64 {
        self.spill.len()
    }

    /// Every hook's values of one position of one layer, in bytes: `(2·d_model + d_ff)·4`.
    pub fn layer_bytes_per_position(&self) -> u64 {
        self.value_bytes(1, Hook::ALL.iter().map(|&h| self.widths[h]).sum())
    }

    /// Starts recording a forward pass over `tokens` at the end of the trace; its top-K lists
    /// rank `k` neurons of every layer and position with `value_norms: [n_layers][d_ff]`.
    pub fn record<'t>(&'t mut self, tokens: Vec<u32>, value_norms: &'t [Vec<f32>], k: usize) -> Recording<'t> {
        Recording::new(self, tokens, value_norms, k)
    }

    /// Drops the last forward pass; returns how many positions it held.
    pub fn pop(&mut self) -> usize {
        let Some(chunk) = self.chunks.pop() else { return 0 };
        self.resident -= chunk.resident;
        if let Some(offset) = chunk.layers.iter().find_map(|l| if let Layer::Spilled(o) = l { Some(*o) } else { None })
        {
            self.spill.truncate(offset);
        }
        chunk.len()
    }

    /// Forgets every position and deletes the spill file.
    pub fn clear(&mut self) {
        self.chunks.clear();
        self.resident = 0;
        self.spill.clear();
    }

    /// Re-ranks every position with a new K (no forward pass needed; spilled m is read back one
    /// pass and layer at a time). On error the trace keeps its lists.
    pub fn rerank(&mut self, value_norms: &[Vec<f32>], k: usize) -> Result<()> {
        let d_ff = self.widths[Hook::MlpM];
        let mut tops = Vec::with_capacity(self.chunks.len());
        for chunk in &self.chunks {
            let mut top = empty_lists(chunk.len(), self.n_layers);
            for (l, layer) in chunk.layers.iter().enumerate() {
                let m = match layer {
                    Layer::Resident(captures) => Cow::Borrowed(&captures[Hook::MlpM][..]),
                    Layer::Spilled(offset) => {
                        let mut m = vec![0.0; chunk.len() * d_ff];
                        self.spill.read(self.spilled_offset(*offset, Hook::MlpM, chunk.len()), &mut m)?;
                        Cow::Owned(m)
                    }
                };
                rank_layer(&m, &value_norms[l], k, &mut top);
            }
            tops.push(top);
        }
        for (chunk, top) in self.chunks.iter_mut().zip(tops) {
            let before = lists_bytes(&chunk.top);
            chunk.top = top;
            let after = lists_bytes(&chunk.top);
            chunk.resident = chunk.resident - before + after;
            self.resident = self.resident - before + after;
        }
        Ok(())
    }

    /// `count` values of `width` in bytes.
    fn value_bytes(&self, count: u64, width: usize) -> u64 {
        count * width as u64 * std::mem::size_of::<f32>() as u64
    }

    /// Where `hook`'s `[len, width]` starts in a layer spilled at `offset`: after the hooks before
    /// it, in bytes.
    fn spilled_offset(&self, offset: u64, hook: Hook, len: usize) -> u64 {
        let before: usize = Hook::ALL.iter().take_while(|&&h| h != hook).map(|&h| self.widths[h]).sum();
        offset + self.value_bytes(len as u64, before)
    }
}

/// Appends the top-`k` neurons of one layer to each position's lists: `m: [len, d_ff]`,
/// `top: [len][layers so far]`.
fn rank_layer(m: &[f32], value_norms: &[f32], k: usize, top: &mut [Vec<Vec<NeuronHit>>]) {
    let d_ff = value_norms.len();
    top.par_iter_mut().zip(m.par_chunks(d_ff)).for_each(|(lists, m)| lists.push(top_k(m, value_norms, k)));
}

/// `len` positions' top-K lists with room for `n_layers` layers: `[len][0]`.
fn empty_lists(len: usize, n_layers: usize) -> Vec<Vec<Vec<NeuronHit>>> {
    (0..len).map(|_| Vec::with_capacity(n_layers)).collect()
}

/// Bytes of `lists` top-K lists of `k` entries each.
fn top_bytes(lists: usize, k: usize) -> u64 {
    (lists * (std::mem::size_of::<Vec<NeuronHit>>() + k * std::mem::size_of::<NeuronHit>())) as u64
}

/// Bytes of top-K lists `[len][n_layers][K]`, as counted against the budget.
fn lists_bytes(top: &[Vec<Vec<NeuronHit>>]) -> u64 {
    top.iter().flatten().map(|list| top_bytes(1, list.len())).sum()
}
