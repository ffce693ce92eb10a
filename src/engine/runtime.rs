//! The model behind a trait object, so sessions, the CLI and the TUI choose CPU or a GPU at run
//! time without being generic over the burn backend.
use std::any::Any;

use super::config::ModelConfig;
use super::error::Result;
use super::hook::Captures;
use super::intervention::Interventions;
use super::model::{BranchCaptured, Captured, ComputePath, EngineBackend, KvCache, LayerSink, Llama, RunMemory};

/// A loaded model: everything a session asks of it.
pub trait Model: Send + Sync {
    fn config(&self) -> &ModelConfig;
    /// ‖v_j‖ per layer: `[n_layers][d_ff]`.
    fn value_norms(&self) -> &[Vec<f32>];
    /// The device and element type, for display (`cpu f32`).
    fn describe(&self) -> String;
    /// The path products with quantized weights take (see [`ComputePath`]).
    fn compute_path(&self) -> ComputePath;
    /// Bytes of weights one decoding step reads: every matrix of the blocks and the unembedding,
    /// in the form the backend multiplies them in.
    fn weight_bytes_per_token(&self) -> usize;
    /// Host bytes a run of `positions` more positions needs, in passes of at most `pass` rows
    /// (see [`Llama::run_memory`]).
    fn run_memory(&self, positions: usize, pass: usize) -> RunMemory;
    fn new_cache(&self) -> Box<dyn Cache>;
    /// Runs `tokens` after the positions already in `cache`, handing each layer's captures to
    /// `sink`; returns the last position's next-token logits (see [`Llama::forward`]).
    fn forward_layers(
        &self,
        tokens: &[u32],
        cache: &mut dyn Cache,
        interventions: &Interventions,
        keep_going: &dyn Fn() -> bool,
        sink: &mut LayerSink,
    ) -> Result<Vec<f32>>;
    /// Runs `tokens` after the positions already in `cache` and gathers every layer's captures.
    fn forward(
        &self,
        tokens: &[u32],
        cache: &mut dyn Cache,
        interventions: &Interventions,
        keep_going: &dyn Fn() -> bool,
    ) -> Result<Captured> {
        let mut activations = Captures::from_fn(|_| Vec::new());
        let mut gather = |_, layer: Captures<Vec<f32>>| {
            for (hook, values) in layer {
                activations[hook].extend(values);
            }
            Ok(())
        };
        let logits = self.forward_layers(tokens, cache, interventions, keep_going, &mut gather)?;
        Ok(Captured { activations, logits })
    }
    /// Runs branches after the positions in `cache`, which is left as it was (see
    /// [`Llama::forward_branches`]).
    fn forward_branches(
        &self,
        branches: &[Vec<u32>],
        reads: &[(usize, usize)],
        cache: &mut dyn Cache,
        interventions: &Interventions,
        keep_going: &dyn Fn() -> bool,
    ) -> Result<BranchCaptured>;
    /// Final norm and unembedding of residual vectors: `[n, d_model]` to `[n, vocab]`, flattened.
    fn logit_lens(&self, resid: &[f32]) -> Vec<f32>;
    /// Vocabulary logits of value vectors (see [`Llama::project_value_vectors`]): `[count, vocab]`.
    fn project_value_vectors(&self, layer: usize, start: usize, count: usize, norm_gain: bool) -> Vec<f32>;
    /// Centred logits of a layer's value vectors for chosen tokens (see
    /// [`Llama::centred_value_logits`]): `[d_ff, tokens]`.
    fn centred_value_logits(&self, layer: usize, tokens: &[u32]) -> Vec<f32>;
    /// An error naming a model file the weights are read from in place that was truncated since
    /// it was opened. Forward passes check this themselves; other readers of the weights
    /// (projections, the lens) ask first, since reading a truncated map ends the process.
    fn check_files(&self) -> Result<()>;
}

/// A key/value cache of some backend.
pub trait Cache: Send {
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    fn truncate(&mut self, len: usize);
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

impl<B: EngineBackend> Cache for KvCache<B> {
    fn len(&self) -> usize {
        KvCache::len(self)
    }
    fn truncate(&mut self, len: usize) {
        KvCache::truncate(self, len)
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

impl<B: EngineBackend> Model for Llama<B>
where
    Llama<B>: Send + Sync,
    KvCache<B>: Send,
{
    fn config(&self) -> &ModelConfig {
        &self.config
    }
    fn value_norms(&self) -> &[Vec<f32>] {
        &self.value_norms
    }
    fn describe(&self) -> String {
        format!("{} {}", B::device_name(&self.device), format!("{:?}", self.dtype).to_lowercase())
    }
    fn compute_path(&self) -> ComputePath {
        Llama::compute_path(self)
    }
    fn weight_bytes_per_token(&self) -> usize {
        Llama::weight_bytes_per_token(self)
    }
    fn run_memory(&self, positions: usize, pass: usize) -> RunMemory {
        Llama::run_memory(self, positions, pass)
    }
    fn new_cache(&self) -> Box<dyn Cache> {
        Box::new(KvCache::<B>::new(self.config.num_layers, self.compute_path()))
    }
    fn forward_layers(
        &self,
        tokens: &[u32],
        cache: &mut dyn Cache,
        interventions: &Interventions,
        keep_going: &dyn Fn() -> bool,
        sink: &mut LayerSink,
    ) -> Result<Vec<f32>> {
        let cache = downcast::<B>(cache);
        guarded(self, cache, tokens.len(), |cache| Llama::forward(self, tokens, cache, interventions, keep_going, sink))
    }
    fn forward_branches(
        &self,
        branches: &[Vec<u32>],
        reads: &[(usize, usize)],
        cache: &mut dyn Cache,
        interventions: &Interventions,
        keep_going: &dyn Fn() -> bool,
    ) -> Result<BranchCaptured> {
        let rows = branches.iter().map(Vec::len).sum();
        let cache = downcast::<B>(cache);
        guarded(self, cache, rows, |cache| {
            Llama::forward_branches(self, branches, reads, cache, interventions, keep_going)
        })
    }
    fn logit_lens(&self, resid: &[f32]) -> Vec<f32> {
        Llama::logit_lens(self, resid)
    }
    fn project_value_vectors(&self, layer: usize, start: usize, count: usize, norm_gain: bool) -> Vec<f32> {
        Llama::project_value_vectors(self, layer, start, count, norm_gain)
    }
    fn centred_value_logits(&self, layer: usize, tokens: &[u32]) -> Vec<f32> {
        Llama::centred_value_logits(self, layer, tokens)
    }
    fn check_files(&self) -> Result<()> {
        Llama::check_files(self)
    }
}

/// Runs a forward pass of `rows` positions. burn's GPU runtimes panic where they cannot go on
/// (out of device memory above all): there the panic becomes an error saying what the pass
/// needed, and the cache is left as it was. On the host a panic is a bug and stays one.
#[cfg(any(feature = "cuda", feature = "wgpu"))]
fn guarded<B: EngineBackend, T>(
    model: &Llama<B>,
    cache: &mut KvCache<B>,
    rows: usize,
    run: impl FnOnce(&mut KvCache<B>) -> Result<T>,
) -> Result<T> {
    if B::ON_HOST {
        return run(cache);
    }
    let start = cache.len();
    super::gpu::quietly(|| run(&mut *cache)).unwrap_or_else(|why| {
        cache.truncate(start);
        Err(super::gpu::run_failed(&model.config, model.dtype.size(), start, rows, why))
    })
}

#[cfg(not(any(feature = "cuda", feature = "wgpu")))]
fn guarded<B: EngineBackend, T>(
    _: &Llama<B>,
    cache: &mut KvCache<B>,
    _: usize,
    run: impl FnOnce(&mut KvCache<B>) -> Result<T>,
) -> Result<T> {
    run(cache)
}

fn downcast<B: EngineBackend>(cache: &mut dyn Cache) -> &mut KvCache<B> {
    cache.as_any_mut().downcast_mut::<KvCache<B>>().expect("a cache is only used with the model that made it")
}
