//! Rotary position embeddings, in the two layouts checkpoints use (see [`RopeLayout`]).
use burn::prelude::*;

use crate::engine::config::{ModelConfig, RopeLayout};

/// Precomputed rotation angles for every position of the context.
pub struct Rope<B: Backend> {
    layout: RopeLayout,
    half: usize,
    /// `[context, head_dim / 2]`, for kernels that work on host memory.
    host_cos: Vec<f32>,
    host_sin: Vec<f32>,
    /// `[context, head_dim / 2]`
    cos: Tensor<B, 2>,
    /// `[context, head_dim / 2]`
    sin: Tensor<B, 2>,
}

impl<B: Backend> Rope<B> {
    /// Angles as Hugging Face computes them: inverse frequencies and products in f32.
    pub fn new(config: &ModelConfig, device: &B::Device, dtype: burn::tensor::DType) -> Self {
        let half = config.head_dim / 2;
        let inv_freq: Vec<f32> =
            (0..half).map(|i| 1.0 / config.rope_theta.powf((2 * i) as f32 / config.head_dim as f32)).collect();
        let positions = config.context_length;
        let mut cos = Vec::with_capacity(positions * half);
        let mut sin = Vec::with_capacity(positions * half);
        for p in 0..positions {
            for &f in &inv_freq {
                let angle = p as f32 * f;
                cos.push(angle.cos());
                sin.push(angle.sin());
            }
        }
        let table = |v: &[f32]| Tensor::from_data(TensorData::new(v.to_vec(), [positions, half]), (device, dtype));
        Rope { layout: config.rope_layout, half, cos: table(&cos), sin: table(&sin), host_cos: cos, host_sin: sin }
    }

    /// Rotates `x: [t, heads * head_dim]` (host memory, row-major) holding positions
    /// `start..start + t`, in place.
    pub fn apply_host(&self, x: &mut [f32], heads: usize, start: usize) {
        let half = self.half;
        let head_dim = 2 * half;
        for (i, row) in x.chunks_exact_mut(heads * head_dim).enumerate() {
            let at = (start + i) * half;
            let (cos, sin) = (&self.host_cos[at..at + half], &self.host_sin[at..at + half]);
            for head in row.chunks_exact_mut(head_dim) {
                for f in 0..half {
                    let (a, b) = match self.layout {
                        RopeLayout::Halves => (f, f + half),
                        RopeLayout::Interleaved => (2 * f, 2 * f + 1),
                    };
                    let (x1, x2) = (head[a], head[b]);
                    head[a] = x1 * cos[f] - x2 * sin[f];
                    head[b] = x2 * cos[f] + x1 * sin[f];
                }
            }
        }
    }

    /// Rotates `x` of shape `[t, heads, head_dim]` holding positions `start..start + t`.
    pub fn apply(&self, x: Tensor<B, 3>, start: usize) -> Tensor<B, 3> {
        let [t, heads, head_dim] = x.dims();
        let half = head_dim / 2;
        let angles =
            |table: &Tensor<B, 2>| table.clone().narrow(0, start, t).reshape([t, 1, half]).expand([t, heads, half]);
        let (cos, sin) = (angles(&self.cos), angles(&self.sin));
        match self.layout {
            RopeLayout::Halves => {
                let x1 = x.clone().narrow(2, 0, half);
                let x2 = x.narrow(2, half, half);
                let out1 = x1.clone() * cos.clone() - x2.clone() * sin.clone();
                let out2 = x2 * cos + x1 * sin;
                Tensor::cat(vec![out1, out2], 2)
            }
            RopeLayout::Interleaved => {
                let pairs = x.reshape([t, heads, half, 2]);
                let x1 = pairs.clone().narrow(3, 0, 1).reshape([t, heads, half]);
                let x2 = pairs.narrow(3, 1, 1).reshape([t, heads, half]);
                let out1 = x1.clone() * cos.clone() - x2.clone() * sin.clone();
                let out2 = x1 * sin + x2 * cos;
                Tensor::stack::<4>(vec![out1, out2], 3).reshape([t, heads, head_dim])
            }
        }
    }
}
