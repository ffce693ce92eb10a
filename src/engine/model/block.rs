//! One transformer block: attention and the SwiGLU feed-forward layer whose neurons we trace.
use burn::prelude::*;
use burn::tensor::activation::silu;
use burn::tensor::{DType, Int};

use super::super::hook::{Captures, Hook};
use super::super::intervention::LayerIntervention;
use super::backend::{EngineBackend, Heads, LayerKv};
use super::matrix::Matrix;
use super::rope::Rope;

/// Weights of one block. Linear weights are kept in checkpoint layout `[out, in]`.
pub struct Block<B: EngineBackend> {
    /// `[d_model]`
    pub attn_norm: Tensor<B, 1>,
    /// `[n_heads * head_dim, d_model]`
    pub q_proj: Matrix<B>,
    /// `[n_kv_heads * head_dim, d_model]`
    pub k_proj: Matrix<B>,
    /// `[n_kv_heads * head_dim, d_model]`
    pub v_proj: Matrix<B>,
    /// `[d_model, n_heads * head_dim]`
    pub o_proj: Matrix<B>,
    /// `[d_model]`
    pub ffn_norm: Tensor<B, 1>,
    /// `[d_ff, d_model]`
    pub gate_proj: Matrix<B>,
    /// `[d_ff, d_model]`
    pub up_proj: Matrix<B>,
    /// `[d_model, d_ff]`
    pub down_proj: Matrix<B>,
}

/// How the `t` rows of a forward pass relate to each other and to the cached positions.
#[derive(Debug, Clone, Copy)]
pub enum Layout<'a> {
    /// One sequence continuing the cache; its keys and values are appended to it.
    Sequence,
    /// Consecutive runs of rows with these lengths, each continuing the cache on its own: a run
    /// attends to the cached positions and to itself only, and the cache is left as it was.
    Branches(&'a [usize]),
}

/// What every block of one forward pass shares.
pub struct Pass<'a, B: EngineBackend> {
    /// Positions already in the cache; the pass's rows come after them.
    pub start: usize,
    pub layout: Layout<'a>,
    pub heads: Heads,
    /// The RMSNorms' epsilon.
    pub eps: f32,
    pub rope: &'a Rope<B>,
}

/// x ⊙ rsqrt(mean(x²) + eps) ⊙ gain, over the last dimension of `x: [t, d]`; the normalisation is
/// computed in f32 whatever the element type.
pub fn rms_norm<B: Backend>(x: Tensor<B, 2>, gain: &Tensor<B, 1>, eps: f32) -> Tensor<B, 2> {
    // Normalised in f32 and cast back before the gain, as transformers' LlamaRMSNorm does: in f16
    // a residual above 256 squares past 65504, and the row would normalise to zeros.
    let dtype = x.dtype();
    let x = x.cast(DType::F32);
    let inv_rms = x.clone().square().mean_dim(1).add_scalar(eps).sqrt().recip();
    (x * inv_rms).cast(dtype) * gain.clone().unsqueeze::<2>()
}

/// m ⊙ f for `m: [t, d_ff]`, with f_j the factor given for neuron j and 1 elsewhere.
fn scale_coefficients<B: Backend>(m: Tensor<B, 2>, scale: &[(u32, f32)]) -> Tensor<B, 2> {
    if scale.is_empty() {
        return m;
    }
    let [_, d_ff] = m.dims();
    let mut factors = vec![1f32; d_ff];
    scale.iter().for_each(|&(j, f)| factors[j as usize] = f);
    let factors = Tensor::<B, 1>::from_data(TensorData::new(factors, [d_ff]), (&m.device(), m.dtype()));
    m * factors.unsqueeze::<2>()
}

/// Σ_j m_j·n_j over the noised neurons j, for `m: [t, d_ff]` and noise n_j: `[d_model]`;
/// returns `[t, d_model]`.
fn value_noise_term<B: Backend>(m: Tensor<B, 2>, noise: &[(u32, Vec<f32>)]) -> Tensor<B, 2> {
    let (device, dtype) = (m.device(), m.dtype());
    let d_model = noise[0].1.len();
    let ids: Vec<i64> = noise.iter().map(|&(j, _)| j as i64).collect();
    let ids = Tensor::<B, 1, Int>::from_data(TensorData::new(ids, [noise.len()]), &device);
    let n: Vec<f32> = noise.iter().flat_map(|(_, n)| n.iter().copied()).collect();
    let n = Tensor::<B, 2>::from_data(TensorData::new(n, [noise.len(), d_model]), (&device, dtype));
    m.select(1, ids).matmul(n)
}

impl<B: EngineBackend> Block<B> {
    /// The block's matrices.
    pub fn matrices(&self) -> [&Matrix<B>; 7] {
        [&self.q_proj, &self.k_proj, &self.v_proj, &self.o_proj, &self.gate_proj, &self.up_proj, &self.down_proj]
    }

    /// Runs the rows of `h: [t, d_model]` after the cached positions, laid out as `pass` says;
    /// returns every hook's activation, `[t, width]` each, the block's output being
    /// [`Hook::ResidPost`]. `intervention` changes chosen neurons of the feed-forward layer (see
    /// `engine::intervention`).
    pub fn forward(
        &self,
        h: Tensor<B, 2>,
        pass: &Pass<B>,
        cache: &mut B::Kv,
        intervention: Option<&LayerIntervention>,
    ) -> Captures<Tensor<B, 2>> {
        let mut captures = Captures::from_fn(|_| None);
        let resid_mid = h.clone() + self.attention(rms_norm(h, &self.attn_norm, pass.eps), pass, cache);
        captures[Hook::ResidMid] = Some(resid_mid.clone());
        let x = rms_norm(resid_mid.clone(), &self.ffn_norm, pass.eps);
        // FFN(x) = W_down · (silu(W_gate·x) ⊙ W_up·x)
        let m = silu(self.gate_proj.forward(x.clone())) * self.up_proj.forward(x);
        let m = match intervention {
            Some(i) => scale_coefficients(m, &i.scale),
            None => m,
        };
        captures[Hook::MlpM] = Some(m.clone());
        let mut ffn = self.down_proj.forward(m.clone());
        if let Some(noise) = intervention.map(|i| &i.noise).filter(|n| !n.is_empty()) {
            ffn = ffn + value_noise_term(m, noise);
        }
        captures[Hook::ResidPost] = Some(resid_mid + ffn);
        captures.map(|hook, t| t.unwrap_or_else(|| panic!("a block computes every hook, but not {hook}")))
    }

    /// Causal grouped-query attention of `x: [t, d_model]` over the cache and itself.
    fn attention(&self, x: Tensor<B, 2>, pass: &Pass<B>, cache: &mut B::Kv) -> Tensor<B, 2> {
        let (start, heads, rope) = (pass.start, pass.heads, pass.rope);
        let q = self.q_proj.forward(x.clone());
        let k = self.k_proj.forward(x.clone());
        let v = self.v_proj.forward(x);
        let attended = match pass.layout {
            Layout::Sequence => <B as EngineBackend>::attention(q, k, v, start, heads, rope, cache),
            Layout::Branches(lengths) => {
                // Each branch is small, so it attends on its own after the shared cache; the
                // projections around it are what batching speeds up.
                let mut offset = 0;
                let outs = lengths
                    .iter()
                    .map(|&len| {
                        let rows = |x: &Tensor<B, 2>| x.clone().narrow(0, offset, len);
                        let out =
                            <B as EngineBackend>::attention(rows(&q), rows(&k), rows(&v), start, heads, rope, cache);
                        cache.truncate(start);
                        offset += len;
                        out
                    })
                    .collect();
                Tensor::cat(outs, 0)
            }
        };
        self.o_proj.forward(attended)
    }
}
