//! Causal grouped-query attention on host memory for the CPU backend.
//!
//! burn's CPU attention runs one head at a time on one thread and needs keys and values
//! materialised per query head; here the cache is a growing `[pos, kv_heads * head_dim]` buffer
//! that query heads of a group read in place, and (head, query block) pairs run in parallel.
use burn::backend::Flex;
use burn::prelude::*;
use rayon::prelude::*;

use super::backend::{Heads, LayerKv};
use super::compute::ComputePath;
use super::flex_host::{from_host, host_f32};
use super::kv_rows::{attend_one, KvRows};
use super::rope::Rope;

/// Keys and values of one layer for positions `0..len`: f32 on the exact path, f16 on the fast
/// one (see `kv_rows`).
pub struct HostKv {
    k: KvRows,
    v: KvRows,
    len: usize,
    /// The heads' shapes, known from the first rows appended.
    heads: Option<Heads>,
}

impl LayerKv for HostKv {
    fn new(compute: ComputePath) -> Self {
        let half = compute == ComputePath::Fast;
        HostKv { k: KvRows::new(half), v: KvRows::new(half), len: 0, heads: None }
    }

    fn len(&self) -> usize {
        self.len
    }

    fn truncate(&mut self, len: usize) {
        if let (true, Some(heads)) = (len < self.len, self.heads) {
            self.k.truncate(len, heads);
            self.v.truncate(len, heads);
            self.len = len;
        }
    }
}

/// Queries per parallel task: large enough for efficient matrix products, small enough that the
/// causal mask wastes little work.
const QUERY_BLOCK: usize = 64;

pub fn attention(
    q: Tensor<Flex, 2>,
    k: Tensor<Flex, 2>,
    v: Tensor<Flex, 2>,
    start: usize,
    heads: Heads,
    rope: &Rope<Flex>,
    cache: &mut HostKv,
) -> Tensor<Flex, 2> {
    let dtype = q.dtype();
    let [t, q_dim] = q.dims();
    let mut q = host_f32(q);
    let mut k = host_f32(k);
    rope.apply_host(&mut q, heads.n_heads, start);
    rope.apply_host(&mut k, heads.n_kv_heads, start);
    debug_assert_eq!(cache.len, start, "the cache holds exactly the positions before `start`");
    cache.heads = Some(heads);
    cache.k.extend(&k, heads);
    cache.v.extend(&host_f32(v), heads);
    cache.len += t;
    let out = match (&cache.k, &cache.v) {
        (KvRows::F16(k), KvRows::F16(v)) if t == 1 => attend_one(&q, k, v, cache.len, heads),
        _ => attend(&q, cache, t, start, heads),
    };
    from_host(out, [t, q_dim], dtype)
}

/// softmax(q·kᵀ/√d)·v for `t` queries at positions `start..start + t` over the cache.
/// `q: [t, n_heads * head_dim]`; returns `[t, n_heads * head_dim]`.
fn attend(q: &[f32], cache: &HostKv, t: usize, start: usize, heads: Heads) -> Vec<f32> {
    let Heads { n_heads, n_kv_heads, head_dim } = heads;
    let q_dim = n_heads * head_dim;
    let group = n_heads / n_kv_heads;
    let blocks = t.div_ceil(QUERY_BLOCK);
    let tasks: Vec<(usize, usize)> = (0..n_heads).flat_map(|h| (0..blocks).map(move |b| (h, b))).collect();
    let results: Vec<(usize, usize, Vec<f32>)> = tasks
        .into_par_iter()
        .map(|(h, b)| {
            let q0 = b * QUERY_BLOCK;
            let rows = QUERY_BLOCK.min(t - q0);
            // Keys visible to the last query of the block.
            let keys = start + q0 + rows;
            let (mut k_scratch, mut v_scratch) = (Vec::new(), Vec::new());
            let k = cache.k.head(h / group, keys, heads, &mut k_scratch);
            let v = cache.v.head(h / group, keys, heads, &mut v_scratch);
            let mut scores = vec![0f32; rows * keys];
            let scale = 1.0 / (head_dim as f32).sqrt();
            // SAFETY: every pointer/stride pair below stays inside its buffer: q rows q0..q0+rows
            // of head h, rows 0..keys of kv head h/group (`head` gives them `stride` apart), and
            // the local buffers' shapes.
            unsafe {
                gemm::gemm(
                    rows,
                    keys,
                    head_dim,
                    scores.as_mut_ptr(),
                    1,
                    keys as isize,
                    false,
                    q.as_ptr().add(q0 * q_dim + h * head_dim),
                    1,
                    q_dim as isize,
                    k.values.as_ptr(),
                    k.stride as isize,
                    1,
                    0.0,
                    scale,
                    false,
                    false,
                    false,
                    gemm::Parallelism::None,
                );
            }
            for (i, row) in scores.chunks_exact_mut(keys).enumerate() {
                softmax_causal(row, start + q0 + i + 1);
            }
            let mut out = vec![0f32; rows * head_dim];
            // SAFETY: as above; `scores` is [rows, keys], `out` is [rows, head_dim].
            unsafe {
                gemm::gemm(
                    rows,
                    head_dim,
                    keys,
                    out.as_mut_ptr(),
                    1,
                    head_dim as isize,
                    false,
                    scores.as_ptr(),
                    1,
                    keys as isize,
                    v.values.as_ptr(),
                    1,
                    v.stride as isize,
                    0.0,
                    1.0,
                    false,
                    false,
                    false,
                    gemm::Parallelism::None,
                );
            }
            (h, q0, out)
        })
        .collect();
    let mut output = vec![0f32; t * q_dim];
    for (h, q0, out) in results {
        for (i, row) in out.chunks_exact(head_dim).enumerate() {
            let at = (q0 + i) * q_dim + h * head_dim;
            output[at..at + head_dim].copy_from_slice(row);
        }
    }
    output
}

/// Softmax over the first `visible` scores of `row`; the rest (future positions) become 0.
pub fn softmax_causal(row: &mut [f32], visible: usize) {
    let (seen, future) = row.split_at_mut(visible);
    let max = seen.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for x in seen.iter_mut() {
        *x = (*x - max).exp();
        sum += *x;
    }
    let inv = 1.0 / sum;
    seen.iter_mut().for_each(|x| *x *= inv);
    future.fill(0.0);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::config::{ModelConfig, RopeLayout};
    use crate::engine::model::backend::generic_attention;
    use crate::engine::model::kv_cache::LayerCache;
    use burn::tensor::{DType, Distribution};
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use rand_distr::{Distribution as _, Normal};

    fn config(layout: RopeLayout) -> ModelConfig {
        ModelConfig {
            vocab_size: 10,
            hidden_size: 32,
            intermediate_size: 8,
            num_layers: 1,
            num_heads: 4,
            num_kv_heads: 2,
            head_dim: 8,
            rope_theta: 10_000.0,
            rope_layout: layout,
            rms_norm_eps: 1e-5,
            context_length: 300,
            tie_word_embeddings: true,
        }
    }

    /// The host kernel and burn's attention agree on prefill in several query blocks followed by
    /// single-token steps, for both RoPE layouts and grouped heads: to rounding with f32 keys and
    /// values (the exact path), to f16's precision with f16 ones (the fast path).
    #[test]
    fn host_kernel_matches_burn_attention() {
        let device = Default::default();
        let heads = Heads { n_heads: 4, n_kv_heads: 2, head_dim: 8 };
        for (compute, tolerance) in [(ComputePath::Exact, 1e-4), (ComputePath::Fast, 5e-3)] {
            for layout in [RopeLayout::Halves, RopeLayout::Interleaved] {
                let rope = Rope::<Flex>::new(&config(layout), &device, DType::F32);
                let mut host = HostKv::new(compute);
                let mut reference = LayerCache::<Flex>::default();
                let mut start = 0;
                for t in [150, 1, 1, 70] {
                    let rand = |cols| Tensor::<Flex, 2>::random([t, cols], Distribution::Normal(0.0, 1.0), &device);
                    let (q, k, v) = (rand(32), rand(16), rand(16));
                    let ours = attention(q.clone(), k.clone(), v.clone(), start, heads, &rope, &mut host);
                    let theirs = generic_attention(q, k, v, start, heads, &rope, &mut reference);
                    let diff = (ours - theirs).abs().max().into_scalar();
                    assert!(diff < tolerance, "{compute:?} {layout:?} t={t} start={start}: max difference {diff}");
                    start += t;
                }
                host.truncate(150);
                assert_eq!(host.len(), 150);
            }
        }
    }

    /// A decoding step over f16 keys and values (its own kernel, AVX2 for heads of 64 and
    /// portable for heads of 8) gives what the prefill kernel gives for the same query.
    #[test]
    fn one_row_over_f16_equals_the_prefill_kernel() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let normal = Normal::new(0.0f32, 1.0).unwrap();
        for head_dim in [8, 64, 128] {
            let heads = Heads { n_heads: 6, n_kv_heads: 2, head_dim };
            let mut cache = HostKv::new(ComputePath::Fast);
            let keys = 300;
            let mut rows = |n: usize| -> Vec<f32> { (0..n).map(|_| normal.sample(&mut rng)).collect() };
            cache.heads = Some(heads);
            cache.k.extend(&rows(keys * 2 * head_dim), heads);
            cache.v.extend(&rows(keys * 2 * head_dim), heads);
            cache.len = keys;
            let q = rows(6 * head_dim);
            let (KvRows::F16(k), KvRows::F16(v)) = (&cache.k, &cache.v) else { panic!("f16 rows") };
            let one = attend_one(&q, k, v, keys, heads);
            let prefill = attend(&q, &cache, 1, keys - 1, heads);
            let diff = one.iter().zip(&prefill).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
            assert!(diff < 1e-5, "head_dim {head_dim}: {diff}");
        }
    }
}
