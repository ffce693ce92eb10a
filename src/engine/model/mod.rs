//! The instrumented Llama: generic over the burn backend, it runs a span of positions through
//! every block and hands out what each feed-forward layer computed.
mod backend;
mod block;
mod compute;
mod cpu_attention;
mod finite;
mod flex_host;
mod host_reads;
mod kv_cache;
mod kv_rows;
mod load;
mod matrix;
pub mod packed;
mod prefetch;
pub mod q8;
mod random;
mod rope;

use std::sync::Arc;

use burn::prelude::*;
use burn::tensor::{DType, Int};

pub use backend::{EngineBackend, Heads, LayerKv};
pub use block::rms_norm;
use block::{Block, Layout, Pass};
pub use compute::{ComputeChoice, ComputePath, FAST_ABOVE_PARAMS};
pub use load::WeightDType;
use matrix::{from_host, to_host, Matrix};
use rope::Rope;

use super::config::ModelConfig;
use super::error::{EngineError, Result};
use super::hook::{Captures, Hook};
use super::intervention::Interventions;
use super::weights::MappedFile;

/// A loaded model on one device.
pub struct Llama<B: EngineBackend> {
    pub config: ModelConfig,
    pub device: B::Device,
    /// The element type of activations between operations (and of the weights on a GPU).
    pub dtype: DType,
    /// `[vocab, d_model]`
    embed: Matrix<B>,
    blocks: Vec<Block<B>>,
    /// `[d_model]`
    final_norm: Tensor<B, 1>,
    /// `[vocab, d_model]`: the unembedding W_U; `None` when it is the embedding (tied).
    lm_head: Option<Matrix<B>>,
    /// W_U's mean row, `[d_model]`, computed once at load (for centred logits).
    unembed_mean: Vec<f32>,
    rope: Rope<B>,
    /// ‖v_j‖ for every neuron: `[n_layers][d_ff]`, computed once at load.
    pub value_norms: Vec<Vec<f32>>,
    /// The files whose memory maps host matrices read in place (none on a GPU or for random
    /// weights), checked before each pass.
    files: Vec<Arc<MappedFile>>,
}

/// The key/value caches of all layers.
pub struct KvCache<B: EngineBackend> {
    layers: Vec<B::Kv>,
}

impl<B: EngineBackend> KvCache<B> {
    /// Empty caches for a model on `compute`'s path (the fast path keeps f16 on the CPU).
    pub fn new(n_layers: usize, compute: ComputePath) -> Self {
        KvCache { layers: (0..n_layers).map(|_| B::Kv::new(compute)).collect() }
    }

    /// Number of positions cached.
    pub fn len(&self) -> usize {
        self.layers.first().map_or(0, |l| l.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn truncate(&mut self, len: usize) {
        self.layers.iter_mut().for_each(|l| l.truncate(len));
    }
}

/// What one forward pass over `t` positions captured, in host memory.
pub struct Captured {
    /// Every hook of every layer, layer-major: `[n_layers, t, width]` each, flattened.
    pub activations: Captures<Vec<f32>>,
    /// Next-token logits at the last position: `[vocab]`.
    pub logits: Vec<f32>,
}

/// Where a forward pass hands each layer's captures as the layer finishes: the layer, and each
/// hook's `[t, width]` in host memory, checked finite. An error stops the pass.
pub type LayerSink<'a> = dyn FnMut(usize, Captures<Vec<f32>>) -> Result<()> + 'a;

/// Host bytes a run needs (see [`Llama::run_memory`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunMemory {
    /// Every hook's activations of every position in f32: what the trace keeps, in memory up to
    /// its budget and on disk past it.
    pub captures: u64,
    /// The next-token logits of each pass, which the trace keeps in memory.
    pub logits: u64,
    /// The key/value cache and one pass's working memory.
    pub working: u64,
}

/// What a forward pass over branches (see [`Llama::forward_branches`]) captured at the rows it
/// was asked to read, in host memory.
pub struct BranchCaptured {
    /// [`Hook::MlpM`] of every layer: `[n_layers, reads, d_ff]`, flattened.
    pub m: Vec<f32>,
    /// Next-token logits: `[reads, vocab]`, flattened.
    pub logits: Vec<f32>,
}

impl<B: EngineBackend> Llama<B> {
    /// Runs `tokens` at positions `cache.len()..` and appends them to the cache; hands each
    /// layer's captures to `sink` and returns the next-token logits at the last position,
    /// `[vocab]`. `keep_going` is asked between blocks; when it says stop, the cache is rolled
    /// back and `Cancelled` returned, as it is when a value is not finite or `sink` fails.
    /// `interventions` change chosen neurons (none when empty).
    pub fn forward(
        &self,
        tokens: &[u32],
        cache: &mut KvCache<B>,
        interventions: &Interventions,
        keep_going: &dyn Fn() -> bool,
        sink: &mut LayerSink,
    ) -> Result<Vec<f32>> {
        let (start, t) = (cache.len(), tokens.len());
        self.check(tokens, start + t)?;
        let rows = finite::Rows { count: t, position: &|row| start + row, dtype: self.dtype };
        let mut hand_over = |layer: usize, captures: Captures<Vec<f32>>| {
            let hooks = Hook::ALL.map(|hook| (hook, &captures[hook][..]));
            finite::check_layer(layer, &hooks, &rows)?;
            sink(layer, captures)
        };
        // In host memory each layer's captures go to the sink as the layer finishes, so a pass's
        // captures never exist whole; a GPU's are gathered and transferred once per hook after
        // the last layer, which saves a synchronisation per layer.
        let mut device = Captures::from_fn(|_| Vec::with_capacity(self.blocks.len()));
        let mut keep = |layer: usize, captures: Captures<Tensor<B, 2>>| {
            if B::ON_HOST {
                return hand_over(layer, captures.map(|_, x| to_host(x)));
            }
            for (hook, x) in captures {
                device[hook].push(x);
            }
            Ok(())
        };
        let last = self.run_blocks(tokens, Layout::Sequence, cache, interventions, keep_going, &mut keep)?;
        let logits = self.unembed(rms_norm(last.narrow(0, t - 1, 1), &self.final_norm, self.config.rms_norm_eps));
        let finish = || {
            if !B::ON_HOST {
                let host = device.map(|_, per_layer| to_host(Tensor::cat(per_layer, 0)));
                for layer in 0..self.blocks.len() {
                    let span =
                        |hook: Hook| hook.width(&self.config) * t * layer..hook.width(&self.config) * t * (layer + 1);
                    hand_over(layer, Captures::from_fn(|hook| host[hook][span(hook)].to_vec()))?;
                }
            }
            let logits = to_host(logits);
            finite::check_logits(&logits, &finite::Rows { count: 1, position: &|_| start + t - 1, dtype: self.dtype })?;
            Ok(logits)
        };
        let logits = finish();
        if logits.is_err() {
            // The positions' keys and values are as wrong as their activations.
            cache.truncate(start);
        }
        logits
    }

    /// Runs several token sequences (branches) after the positions in `cache`, each as if it alone
    /// followed them, in one batched pass; the cache is left as it was. Reads m and the next-token
    /// logits at the rows `reads` names as (branch, offset in the branch). Shares the prefix's
    /// keys and values among all branches, so a common prompt prefix is computed once.
    pub fn forward_branches(
        &self,
        branches: &[Vec<u32>],
        reads: &[(usize, usize)],
        cache: &mut KvCache<B>,
        interventions: &Interventions,
        keep_going: &dyn Fn() -> bool,
    ) -> Result<BranchCaptured> {
        let lengths: Vec<usize> = branches.iter().map(Vec::len).collect();
        if lengths.contains(&0) {
            return Err(EngineError::Argument("a branch has no tokens".into()));
        }
        let longest = lengths.iter().copied().max().unwrap_or(0);
        let tokens: Vec<u32> = branches.concat();
        self.check(&tokens, cache.len() + longest)?;
        let starts: Vec<usize> = lengths.iter().scan(0, |at, &len| Some(std::mem::replace(at, *at + len))).collect();
        let mut rows = Vec::with_capacity(reads.len());
        for &(branch, offset) in reads {
            match lengths.get(branch) {
                Some(&len) if offset < len => rows.push((starts[branch] + offset) as i64),
                _ => return Err(EngineError::OutOfRange(format!("no row {offset} in branch {branch} to read"))),
            }
        }
        if rows.is_empty() {
            return Err(EngineError::Argument("nothing to read".into()));
        }
        let rows = Tensor::<B, 1, Int>::from_data(TensorData::new(rows.clone(), [rows.len()]), &self.device);
        let mut m = Vec::with_capacity(self.blocks.len());
        let mut read = |_, captures: Captures<Tensor<B, 2>>| {
            m.push(captures.take(Hook::MlpM).select(0, rows.clone()));
            Ok(())
        };
        let last = self.run_blocks(&tokens, Layout::Branches(&lengths), cache, interventions, keep_going, &mut read)?;
        let logits = self.unembed(rms_norm(last.select(0, rows), &self.final_norm, self.config.rms_norm_eps));
        let captured = BranchCaptured { m: to_host(Tensor::cat(m, 0)), logits: to_host(logits) };
        let start = cache.len();
        let rows = finite::Rows { count: reads.len(), position: &|row| start + reads[row].1, dtype: self.dtype };
        finite::check_captures(&[(Hook::MlpM, &captured.m[..])], self.blocks.len(), &rows)?;
        finite::check_logits(&captured.logits, &rows)?;
        Ok(captured)
    }

    /// Whether the files the weights are read from in place are still whole (see
    /// [`MappedFile::check`]).
    pub fn check_files(&self) -> Result<()> {
        self.files.iter().try_for_each(|f| f.check())
    }

    /// Rejects empty runs, runs past the context, ids outside the vocabulary, and model files
    /// truncated since they were opened.
    fn check(&self, tokens: &[u32], end: usize) -> Result<()> {
        self.check_files()?;
        if tokens.is_empty() {
            return Err(EngineError::Argument("no tokens to run".into()));
        }
        if end > self.config.context_length {
            return Err(EngineError::ContextOverflow { tokens: end, context: self.config.context_length });
        }
        match tokens.iter().find(|&&id| id as usize >= self.config.vocab_size) {
            Some(bad) => Err(EngineError::OutOfRange(format!(
                "token id {bad} is outside the vocabulary of {}",
                self.config.vocab_size
            ))),
            None => Ok(()),
        }
    }

    /// Every block over the rows of `tokens`, after the cached positions: hands each layer's
    /// activations to `sink` as the layer finishes and returns the last layer's output
    /// `[t, d_model]`. On cancellation or an error of `sink` the cache is rolled back.
    fn run_blocks(
        &self,
        tokens: &[u32],
        layout: Layout,
        cache: &mut KvCache<B>,
        interventions: &Interventions,
        keep_going: &dyn Fn() -> bool,
        sink: &mut dyn FnMut(usize, Captures<Tensor<B, 2>>) -> Result<()>,
    ) -> Result<Tensor<B, 2>> {
        let start = cache.len();
        let mut h = self.embed.rows(tokens, &self.device, self.dtype);
        let pass = Pass {
            start,
            layout,
            heads: Heads {
                n_heads: self.config.num_heads,
                n_kv_heads: self.config.num_kv_heads,
                head_dim: self.config.head_dim,
            },
            eps: self.config.rms_norm_eps,
            rope: &self.rope,
        };
        for (l, (block, layer_cache)) in self.blocks.iter().zip(cache.layers.iter_mut()).enumerate() {
            if !keep_going() {
                cache.truncate(start);
                return Err(EngineError::Cancelled);
            }
            let captures = block.forward(h, &pass, layer_cache, interventions.layer(l));
            h = captures[Hook::ResidPost].clone();
            if let Err(e) = sink(l, captures) {
                cache.truncate(start);
                return Err(e);
            }
        }
        Ok(h)
    }

    /// Host bytes a run needs for `positions` more positions computed in forward passes of at most
    /// `pass` rows: every hook's activations in f32 (which a trace keeps, in memory up to its
    /// budget and on disk past it), the logits of each pass, the key/value cache where the
    /// backend keeps it in host memory (f32, or f16 on the fast path), and one pass's working memory: on the host, a layer's
    /// intermediates (about six vectors of d_model and four of d_ff a row) and its captures on
    /// their way to the trace; from a GPU, the staging copy of the pass's captures.
    pub fn run_memory(&self, positions: usize, pass: usize) -> RunMemory {
        let c = &self.config;
        let f32s = std::mem::size_of::<f32>() as u64;
        let captures = Hook::ALL.iter().map(|h| h.width(c) as u64).sum::<u64>() * f32s;
        // The host cache keeps f16 on the fast path (see `kv_rows`).
        let kv_element = if self.compute_path() == ComputePath::Fast { 2 } else { f32s };
        let kv = if B::ON_HOST { (2 * c.num_layers * c.num_kv_heads * c.head_dim) as u64 * kv_element } else { 0 };
        let working_row = if B::ON_HOST {
            (6 * c.hidden_size + 4 * c.intermediate_size) as u64 * f32s + captures
        } else {
            captures * c.num_layers as u64
        };
        RunMemory {
            captures: positions as u64 * captures * c.num_layers as u64,
            logits: positions.div_ceil(pass.max(1)) as u64 * c.vocab_size as u64 * f32s,
            working: positions as u64 * kv + pass as u64 * working_row,
        }
    }

    /// Bytes of weights a single-position forward pass reads: one embedding row, every matrix of
    /// the blocks and the unembedding, as the backend keeps them (see [`Matrix`]).
    pub fn weight_bytes_per_token(&self) -> usize {
        let blocks: usize = self.blocks.iter().flat_map(Block::matrices).map(Matrix::bytes_per_row_product).sum();
        self.embed.bytes_per_row() + blocks + self.unembedding().bytes_per_row_product()
    }

    /// The path the products ran on: fast where any matrix multiplies as integers.
    pub fn compute_path(&self) -> ComputePath {
        let blocks = self.blocks.iter().flat_map(Block::matrices);
        match blocks.chain([self.unembedding()]).any(Matrix::integer_products) {
            true => ComputePath::Fast,
            false => ComputePath::Exact,
        }
    }

    /// W_U, `[vocab, d_model]`.
    fn unembedding(&self) -> &Matrix<B> {
        self.lm_head.as_ref().unwrap_or(&self.embed)
    }

    /// W_U · x for normalised residuals `x: [n, d_model]`, giving `[n, vocab]`.
    fn unembed(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        self.unembedding().forward(x)
    }

    /// The final norm's gain g as a row, `[1, d_model]`.
    fn gain_row(&self) -> Tensor<B, 2> {
        self.final_norm.clone().unsqueeze::<2>()
    }

    /// Vocabulary logits of the value vectors of neurons `start..start + count` of `layer`:
    /// W_U · v_j, or W_U · (g ⊙ v_j) with the final norm's gain g. Returns `[count, vocab]`.
    pub fn project_value_vectors(&self, layer: usize, start: usize, count: usize, norm_gain: bool) -> Vec<f32> {
        // [count, d_model]
        let v = self.blocks[layer].down_proj.columns(start, count, &self.device, self.dtype);
        let v = if norm_gain { v * self.gain_row() } else { v };
        to_host(self.unembed(v))
    }

    /// Centred logits of every value vector of `layer` for chosen tokens:
    /// Lc_j[t] = (g ⊙ v_j)·W_U[t] − mean_t' (g ⊙ v_j)·W_U[t'], with the final norm's gain g — the
    /// unembedding with the norm folded in and its vocabulary mean removed, as the heuristics
    /// method reads value vectors. The mean is taken over W_U's rows first (at load), which is
    /// the same by linearity and avoids projecting onto the whole vocabulary. Returns
    /// `[d_ff, tokens]`.
    pub fn centred_value_logits(&self, layer: usize, tokens: &[u32]) -> Vec<f32> {
        let d = self.config.hidden_size;
        let mean = from_host::<B>(self.unembed_mean.clone(), [1, d], &self.device, self.dtype);
        // [tokens, d_model]
        let rows = (self.unembedding().rows(tokens, &self.device, self.dtype) - mean) * self.gain_row();
        // rows · W_down, [tokens, d_ff]: each row dotted with every value vector (W_down's columns).
        to_host(self.blocks[layer].down_proj.left_product(rows).transpose())
    }

    /// The logits of residual-stream vectors (final norm applied), for the logit lens.
    /// `resid: [n, d_model]` flattened; returns `[n, vocab]` flattened.
    pub fn logit_lens(&self, resid: &[f32]) -> Vec<f32> {
        let d = self.config.hidden_size;
        let x = from_host::<B>(resid.to_vec(), [resid.len() / d, d], &self.device, self.dtype);
        to_host(self.unembed(rms_norm(x, &self.final_norm, self.config.rms_norm_eps)))
    }
}
