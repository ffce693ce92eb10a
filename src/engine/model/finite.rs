//! The guard against non-finite values. What a forward pass brings to host memory (every hook's
//! captures and the logits) is scanned before anything reads it, so NaN or inf is never shown as
//! a number and never ranks a neuron. It reads the host copies the capture makes anyway, so it
//! costs no extra transfer or device synchronisation.
use burn::tensor::DType;
use rayon::prelude::*;

use crate::engine::error::{EngineError, Result};
use crate::engine::hook::Hook;

/// Rows a forward pass computed, and the position each stands for.
pub struct Rows<'a> {
    pub count: usize,
    pub position: &'a dyn Fn(usize) -> usize,
    pub dtype: DType,
}

impl Rows<'_> {
    fn error(&self, layer: Option<usize>, place: String, row: usize, value: f32) -> EngineError {
        let dtype = format!("{:?}", self.dtype).to_lowercase();
        EngineError::NonFinite { layer, place, position: (self.position)(row), value, dtype }
    }
}

/// The first non-finite element of `values`, with its index.
fn first_non_finite(values: &[f32]) -> Option<(usize, f32)> {
    values.par_iter().position_first(|x| !x.is_finite()).map(|i| (i, values[i]))
}

/// Checks captures of `n_layers` layers, `(hook, [n_layers, rows, width])` in the order a block
/// computes them: the error names the first layer with a non-finite value, the first hook there
/// and the first row.
pub fn check_captures(captures: &[(Hook, &[f32])], n_layers: usize, rows: &Rows) -> Result<()> {
    for layer in 0..n_layers {
        for &(hook, values) in captures {
            let len = values.len() / n_layers;
            let width = len / rows.count;
            if let Some((i, value)) = first_non_finite(&values[layer * len..(layer + 1) * len]) {
                return Err(rows.error(Some(layer), hook.at(layer).to_string(), i / width, value));
            }
        }
    }
    Ok(())
}

/// Checks next-token logits `[rows, vocab]`.
pub fn check_logits(logits: &[f32], rows: &Rows) -> Result<()> {
    match first_non_finite(logits) {
        Some((i, value)) => {
            Err(rows.error(None, "the next-token logits".into(), i / (logits.len() / rows.count), value))
        }
        None => Ok(()),
    }
}
