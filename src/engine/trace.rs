//! What the engine captured at each computed position, kept in host memory.
use super::neuron::{top_k, NeuronHit};

/// Everything captured at one position.
#[derive(Debug, Clone)]
pub struct PositionTrace {
    /// The input token at this position.
    pub token: u32,
    /// Coefficients m of every neuron: `[n_layers * d_ff]`, layer-major.
    pub m: Vec<f32>,
    /// Residual stream before each feed-forward layer: `[n_layers * d_model]`.
    pub resid_mid: Vec<f32>,
    /// Residual stream after each feed-forward layer: `[n_layers * d_model]`.
    pub resid_post: Vec<f32>,
    /// The top-K neurons of each layer by score: `[n_layers][K]`.
    pub top: Vec<Vec<NeuronHit>>,
    /// Next-token logits `[vocab]`, kept where generation samples from them (the last position of
    /// a prompt and every generated position).
    pub logits: Option<Vec<f32>>,
}

impl PositionTrace {
    /// Coefficients of one layer: `[d_ff]`.
    pub fn layer_m(&self, layer: usize, d_ff: usize) -> &[f32] {
        &self.m[layer * d_ff..(layer + 1) * d_ff]
    }
}

/// Splits one forward pass's capture (`[n_layers, t, ·]` flattened) into per-position traces.
pub fn split_positions(
    tokens: &[u32],
    m: &[f32],
    resid_mid: &[f32],
    resid_post: &[f32],
    value_norms: &[Vec<f32>],
    d_model: usize,
    k: usize,
) -> Vec<PositionTrace> {
    use rayon::prelude::*;
    let t = tokens.len();
    let n_layers = value_norms.len();
    let d_ff = value_norms.first().map_or(0, Vec::len);
    let gather = |src: &[f32], width: usize, p: usize| -> Vec<f32> {
        (0..n_layers).flat_map(|l| &src[(l * t + p) * width..(l * t + p + 1) * width]).copied().collect()
    };
    (0..t)
        .into_par_iter()
        .map(|p| {
            let m = gather(m, d_ff, p);
            let top = (0..n_layers).map(|l| top_k(&m[l * d_ff..(l + 1) * d_ff], &value_norms[l], k)).collect();
            PositionTrace {
                token: tokens[p],
                resid_mid: gather(resid_mid, d_model, p),
                resid_post: gather(resid_post, d_model, p),
                m,
                top,
                logits: None,
            }
        })
        .collect()
}
