//! Per-layer key/value cache of burn tensors, for the generic attention: grows in place and can
//! be truncated (stepping back).
#![cfg_attr(not(any(feature = "cuda", feature = "wgpu")), allow(dead_code))]
use burn::prelude::*;

/// Keys and values of one layer for positions `0..len`.
pub struct LayerCache<B: Backend> {
    /// `[kv_heads, capacity, head_dim]`
    k: Option<Tensor<B, 3>>,
    /// `[kv_heads, capacity, head_dim]`
    v: Option<Tensor<B, 3>>,
    len: usize,
}

impl<B: Backend> Default for LayerCache<B> {
    fn default() -> Self {
        LayerCache { k: None, v: None, len: 0 }
    }
}

/// Capacity grows in steps of this many positions, so single-token steps rarely reallocate.
const GROW: usize = 256;

impl<B: Backend> LayerCache<B> {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Forgets positions `len..`; the memory is kept for the next steps.
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    /// Appends `k` and `v` of shape `[kv_heads, t, head_dim]` and returns the keys and values of
    /// all positions so far, `[kv_heads, len, head_dim]` each.
    pub fn append(&mut self, k: Tensor<B, 3>, v: Tensor<B, 3>) -> (Tensor<B, 3>, Tensor<B, 3>) {
        let [heads, t, head_dim] = k.dims();
        let end = self.len + t;
        let capacity = self.k.as_ref().map_or(0, |c| c.dims()[1]);
        if end > capacity {
            let new_capacity = end.div_ceil(GROW) * GROW;
            self.k = Some(grow(self.k.take(), self.len, [heads, new_capacity, head_dim], &k));
            self.v = Some(grow(self.v.take(), self.len, [heads, new_capacity, head_dim], &v));
        }
        let range = [0..heads, self.len..end, 0..head_dim];
        let k_all = self.k.take().expect("allocated above").slice_assign(range.clone(), k);
        let v_all = self.v.take().expect("allocated above").slice_assign(range, v);
        self.len = end;
        let view = |c: &Tensor<B, 3>| c.clone().narrow(1, 0, end);
        let out = (view(&k_all), view(&v_all));
        self.k = Some(k_all);
        self.v = Some(v_all);
        out
    }
}

/// A zeroed buffer of `shape` holding the first `len` positions of `old`.
fn grow<B: Backend>(old: Option<Tensor<B, 3>>, len: usize, shape: [usize; 3], like: &Tensor<B, 3>) -> Tensor<B, 3> {
    let fresh = Tensor::<B, 3>::zeros(shape, (&like.device(), like.dtype()));
    match old {
        Some(old) if len > 0 => {
            let kept = old.narrow(1, 0, len);
            fresh.slice_assign([0..shape[0], 0..len, 0..shape[2]], kept)
        }
        _ => fresh,
    }
}
