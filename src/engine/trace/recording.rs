//! A forward pass being recorded into a trace, layer by layer as the model computes it: each
//! layer is ranked, then kept in memory or written to the spill file, and a pass that fails or
//! is cancelled leaves the trace as it was.
use super::{empty_lists, lists_bytes, rank_layer, top_bytes, Chunk, Layer, Trace};
use crate::engine::error::Result;
use crate::engine::hook::{Captures, Hook};

pub struct Recording<'t> {
    trace: &'t mut Trace,
    /// The pass so far; taken when it is finished.
    chunk: Option<Chunk>,
    value_norms: &'t [Vec<f32>],
    k: usize,
    /// Where the spill file ended before the pass: what dropping an unfinished pass goes back to.
    spill_start: u64,
    /// Bytes the finished pass keeps in memory whatever its layers do: top-K lists and logits.
    reserved: u64,
}

impl<'t> Recording<'t> {
    pub(super) fn new(trace: &'t mut Trace, tokens: Vec<u32>, value_norms: &'t [Vec<f32>], k: usize) -> Self {
        let (len, n_layers) = (tokens.len(), trace.n_layers);
        let lists = top_bytes(len * n_layers, k.min(trace.widths[Hook::MlpM]));
        let reserved = lists + trace.value_bytes(1, trace.vocab);
        let chunk = Chunk {
            start: trace.len(),
            tokens,
            layers: Vec::with_capacity(n_layers),
            top: empty_lists(len, n_layers),
            logits: Vec::new(),
            resident: 0,
        };
        let spill_start = trace.spill.len();
        Recording { trace, chunk: Some(chunk), value_norms, k, spill_start, reserved }
    }

    /// Takes layer `layer`'s captures, each hook's `[len, width]`, already checked finite;
    /// layers come in order. They stay in memory while the trace's resident bytes, this pass's
    /// top-K lists and logits included, stay within the budget, and go to the spill file past it.
    pub fn layer(&mut self, layer: usize, captures: Captures<Vec<f32>>) -> Result<()> {
        let chunk = self.chunk.as_mut().expect("an unfinished pass");
        debug_assert_eq!(layer, chunk.layers.len(), "layers are recorded in order");
        debug_assert!(Hook::ALL.iter().all(|&h| captures[h].len() == chunk.len() * self.trace.widths[h]));
        rank_layer(&captures[Hook::MlpM], &self.value_norms[layer], self.k, &mut chunk.top);
        let bytes = self.trace.value_bytes(1, Hook::ALL.iter().map(|&h| captures[h].len()).sum());
        if self.trace.resident + chunk.resident + self.reserved + bytes <= self.trace.budget {
            chunk.resident += bytes;
            chunk.layers.push(Layer::Resident(captures));
        } else {
            let offset = self.trace.spill.append(&Hook::ALL.map(|h| &captures[h][..]))?;
            chunk.layers.push(Layer::Spilled(offset));
        }
        Ok(())
    }

    /// Completes the pass with the next-token logits at its last position, `[vocab]`.
    pub fn finish(mut self, logits: Vec<f32>) {
        let mut chunk = self.chunk.take().expect("an unfinished pass");
        assert_eq!(chunk.layers.len(), self.trace.n_layers, "a pass records every layer");
        chunk.resident += lists_bytes(&chunk.top) + self.trace.value_bytes(1, logits.len());
        chunk.logits = logits;
        self.trace.resident += chunk.resident;
        self.trace.chunks.push(chunk);
    }
}

impl Drop for Recording<'_> {
    /// An unfinished pass (an error, a cancellation) leaves nothing behind.
    fn drop(&mut self) {
        if self.chunk.is_some() {
            self.trace.spill.truncate(self.spill_start);
        }
    }
}
