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

/// Elements one task scans. rayon's searches consult a shared flag between items, which costs
/// more than the test itself, so each task tests a run of elements without branching.
const SCAN_CHUNK: usize = 1 << 14;

/// The first non-finite element of `values`, with its index.
fn first_non_finite(values: &[f32]) -> Option<(usize, f32)> {
    let all_finite = |run: &[f32]| run.iter().fold(true, |finite, x| finite & x.is_finite());
    let chunk = values.par_chunks(SCAN_CHUNK).position_first(|run| !all_finite(run))?;
    let at = chunk * SCAN_CHUNK;
    let i = at + values[at..].iter().position(|x| !x.is_finite())?;
    Some((i, values[i]))
}

/// Checks captures of `n_layers` layers, `(hook, [n_layers, rows, width])` in the order a block
/// computes them: the error names the first layer with a non-finite value, the first hook there
/// and the first row.
pub fn check_captures(captures: &[(Hook, &[f32])], n_layers: usize, rows: &Rows) -> Result<()> {
    for layer in 0..n_layers {
        let layer_values = captures.iter().map(|&(hook, values)| {
            let len = values.len() / n_layers;
            (hook, &values[layer * len..(layer + 1) * len])
        });
        check_layer(layer, &layer_values.collect::<Vec<_>>(), rows)?;
    }
    Ok(())
}

/// Checks one layer's captures, `(hook, [rows, width])` in the order a block computes them: the
/// error names the first hook with a non-finite value and the first row there.
pub fn check_layer(layer: usize, captures: &[(Hook, &[f32])], rows: &Rows) -> Result<()> {
    for &(hook, values) in captures {
        if let Some((i, value)) = first_non_finite(values) {
            return Err(rows.error(Some(layer), hook.at(layer).to_string(), i / (values.len() / rows.count), value));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_non_finite_value_is_found_across_runs() {
        let mut values = vec![1.5f32; 3 * SCAN_CHUNK + 7];
        assert_eq!(first_non_finite(&values), None);
        values[3 * SCAN_CHUNK + 2] = f32::NAN;
        values[2 * SCAN_CHUNK + 5] = f32::NEG_INFINITY;
        assert_eq!(first_non_finite(&values), Some((2 * SCAN_CHUNK + 5, f32::NEG_INFINITY)));
        values[SCAN_CHUNK - 1] = f32::INFINITY;
        assert_eq!(first_non_finite(&values), Some((SCAN_CHUNK - 1, f32::INFINITY)));
        assert_eq!(first_non_finite(&[]), None);
    }
}
