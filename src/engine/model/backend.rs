//! What the model asks of a burn backend beyond burn's own ops: attention with a KV cache, and
//! where the weights live. Every backend can use the generic attention built from burn ops; the
//! CPU backend replaces it with a kernel on host memory (see `cpu_attention`) and keeps its
//! weights in host memory as their files store them (see `matrix` and `packed`).
use burn::backend::Flex;
use burn::prelude::*;
use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;

use super::compute::ComputePath;
use super::kv_cache::LayerCache;
use super::rope::Rope;

/// Shapes of the attention heads.
#[derive(Debug, Clone, Copy)]
pub struct Heads {
    pub n_heads: usize,
    pub n_kv_heads: usize,
    pub head_dim: usize,
}

/// A layer's key/value cache, of whatever form the backend keeps it in.
pub trait LayerKv: Send {
    /// An empty cache for a model on `compute`'s path.
    fn new(compute: ComputePath) -> Self;
    /// Number of positions cached.
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Forgets positions `len..`.
    fn truncate(&mut self, len: usize);
}

pub trait EngineBackend: Backend {
    type Kv: LayerKv;

    /// Whether the backend computes in host memory: its weight matrices stay there in their
    /// file's encoding (`Matrix::Host`) and its key/value cache is host memory.
    const ON_HOST: bool = false;

    /// The device, for display (`cpu`).
    fn device_name(device: &Self::Device) -> String {
        format!("{device:?}").to_lowercase()
    }

    /// Causal grouped-query attention for positions `start..start + t`: applies RoPE to `q` and
    /// `k`, appends `k` and `v` to the cache and attends over every cached position.
    /// `q: [t, n_heads * head_dim]`, `k`, `v: [t, n_kv_heads * head_dim]`; returns
    /// `[t, n_heads * head_dim]`.
    fn attention(
        q: Tensor<Self, 2>,
        k: Tensor<Self, 2>,
        v: Tensor<Self, 2>,
        start: usize,
        heads: Heads,
        rope: &Rope<Self>,
        cache: &mut Self::Kv,
    ) -> Tensor<Self, 2>;
}

impl<B: Backend> LayerKv for LayerCache<B> {
    /// On a GPU keys and values stay in the model's element type whatever the path.
    fn new(_: ComputePath) -> Self {
        LayerCache::default()
    }
    fn len(&self) -> usize {
        LayerCache::len(self)
    }
    fn truncate(&mut self, len: usize) {
        LayerCache::truncate(self, len)
    }
}

/// Attention from burn ops alone, for any backend. GPU backends use it; on the CPU it is the
/// reference the host kernel is tested against.
#[cfg_attr(not(any(feature = "cuda", feature = "wgpu")), allow(dead_code))]
pub fn generic_attention<B: Backend>(
    q: Tensor<B, 2>,
    k: Tensor<B, 2>,
    v: Tensor<B, 2>,
    start: usize,
    heads: Heads,
    rope: &Rope<B>,
    cache: &mut LayerCache<B>,
) -> Tensor<B, 2> {
    let [t, _] = q.dims();
    let Heads { n_heads, n_kv_heads, head_dim } = heads;
    let q = rope.apply(q.reshape([t, n_heads, head_dim]), start);
    let k = rope.apply(k.reshape([t, n_kv_heads, head_dim]), start);
    let v = v.reshape([t, n_kv_heads, head_dim]);
    let (k, v) = cache.append(k.swap_dims(0, 1), v.swap_dims(0, 1));
    let total = k.dims()[1];
    let group = n_heads / n_kv_heads;
    let repeat = |kv: Tensor<B, 3>| {
        kv.reshape([n_kv_heads, 1, total, head_dim])
            .expand([n_kv_heads, group, total, head_dim])
            .reshape([1, n_heads, total, head_dim])
    };
    let q = q.swap_dims(0, 1).reshape([1, n_heads, t, head_dim]);
    let options = AttentionModuleOptions { scale: None, softcap: None, is_causal: true };
    let out = attention(q, repeat(k), repeat(v), None, None, options);
    out.reshape([n_heads, t, head_dim]).swap_dims(0, 1).reshape([t, n_heads * head_dim])
}

impl EngineBackend for Flex {
    type Kv = super::cpu_attention::HostKv;

    const ON_HOST: bool = true;

    fn attention(
        q: Tensor<Self, 2>,
        k: Tensor<Self, 2>,
        v: Tensor<Self, 2>,
        start: usize,
        heads: Heads,
        rope: &Rope<Self>,
        cache: &mut Self::Kv,
    ) -> Tensor<Self, 2> {
        super::cpu_attention::attention(q, k, v, start, heads, rope, cache)
    }
}

#[cfg(feature = "cuda")]
impl EngineBackend for burn::backend::Cuda {
    type Kv = LayerCache<Self>;

    fn attention(
        q: Tensor<Self, 2>,
        k: Tensor<Self, 2>,
        v: Tensor<Self, 2>,
        start: usize,
        heads: Heads,
        rope: &Rope<Self>,
        cache: &mut Self::Kv,
    ) -> Tensor<Self, 2> {
        generic_attention(q, k, v, start, heads, rope, cache)
    }
}

#[cfg(feature = "wgpu")]
impl EngineBackend for burn::backend::Wgpu {
    type Kv = LayerCache<Self>;

    /// The adapter, since wgpu's device is only `DefaultDevice`: a software one runs on the CPU,
    /// which explains its speed.
    fn device_name(_: &Self::Device) -> String {
        match crate::engine::gpu::wgpu_device::adapter() {
            Ok(adapter) => format!("wgpu {}", adapter.describe()),
            Err(_) => "wgpu".into(),
        }
    }

    fn attention(
        q: Tensor<Self, 2>,
        k: Tensor<Self, 2>,
        v: Tensor<Self, 2>,
        start: usize,
        heads: Heads,
        rope: &Rope<Self>,
        cache: &mut Self::Kv,
    ) -> Tensor<Self, 2> {
        generic_attention(q, k, v, start, heads, rope, cache)
    }
}
