//! How closely two runs over the same tokens agree, layer by layer and position by position: the
//! measure of what the fast compute path changes against the exact one.
use serde::Serialize;

use super::error::{EngineError, Result};
use super::trace::Trace;

/// Run `other` against the `reference` run over the same positions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Agreement {
    /// (layer, position) pairs compared.
    pub pairs: usize,
    /// Mean over the pairs of ‖m_other − m_ref‖₂ / ‖m_ref‖₂: the coefficients' relative error.
    pub mean_relative_error: f64,
    /// The largest of those.
    pub max_relative_error: f64,
    /// K of the top-K neuron sets compared (the traces' own).
    pub top_k: usize,
    /// Pairs whose top-K sets (which neurons, in any order) differ.
    pub top_k_sets_differ: usize,
    /// Mean over the pairs of the fraction of the reference's top-K that the other's shares.
    pub mean_top_k_shared: f64,
}

impl Agreement {
    /// The fraction of pairs whose top-K sets differ.
    pub fn top_k_differ_fraction(&self) -> f64 {
        self.top_k_sets_differ as f64 / self.pairs.max(1) as f64
    }
}

/// Compares every layer at every position of two traces of the same tokens.
pub fn compare(reference: &Trace, other: &Trace) -> Result<Agreement> {
    if reference.tokens() != other.tokens() {
        return Err(EngineError::Argument("the runs compared are not over the same tokens".into()));
    }
    let mut sum = Sum::default();
    for (a, b) in reference.positions().zip(other.positions()) {
        for (layer, (top_a, top_b)) in a.top().iter().zip(b.top()).enumerate() {
            let mut set_a: Vec<u32> = top_a.iter().map(|h| h.index).collect();
            let mut set_b: Vec<u32> = top_b.iter().map(|h| h.index).collect();
            set_a.sort_unstable();
            set_b.sort_unstable();
            let shared = set_a.iter().filter(|j| set_b.binary_search(j).is_ok()).count();
            let shared = if set_a.is_empty() { 1.0 } else { shared as f64 / set_a.len() as f64 };
            sum.add(relative_error(&a.m(layer)?, &b.m(layer)?), shared, set_a != set_b, top_a.len());
        }
    }
    Ok(sum.finish())
}

/// ‖b − a‖₂ / ‖a‖₂, in f64; 0 where both are zero, infinite where only `a` is.
fn relative_error(a: &[f32], b: &[f32]) -> f64 {
    let (mut diff, mut norm) = (0f64, 0f64);
    for (&x, &y) in a.iter().zip(b) {
        diff += (f64::from(y) - f64::from(x)).powi(2);
        norm += f64::from(x).powi(2);
    }
    match (diff, norm) {
        (0.0, _) => 0.0,
        (_, 0.0) => f64::INFINITY,
        _ => (diff / norm).sqrt(),
    }
}

/// The running totals of [`compare`].
#[derive(Default)]
struct Sum {
    pairs: usize,
    error: f64,
    max_error: f64,
    top_k: usize,
    differ: usize,
    shared: f64,
}

impl Sum {
    fn add(&mut self, error: f64, shared: f64, differs: bool, k: usize) {
        self.pairs += 1;
        self.error += error;
        self.shared += shared;
        self.max_error = self.max_error.max(error);
        self.top_k = self.top_k.max(k);
        self.differ += usize::from(differs);
    }

    fn finish(self) -> Agreement {
        Agreement {
            pairs: self.pairs,
            mean_relative_error: self.error / self.pairs.max(1) as f64,
            max_relative_error: self.max_error,
            top_k: self.top_k,
            top_k_sets_differ: self.differ,
            mean_top_k_shared: self.shared / self.pairs.max(1) as f64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_error_is_the_ratio_of_norms() {
        // ‖(0, 0.3, -0.4)‖ / ‖(3, 0, 4)‖ = 0.5 / 5
        let e = relative_error(&[3.0, 0.0, 4.0], &[3.0, 0.3, 3.6]);
        assert!((e - 0.1).abs() < 1e-7, "{e}");
        assert_eq!(relative_error(&[0.0, 0.0], &[0.0, 0.0]), 0.0);
        assert_eq!(relative_error(&[0.0], &[1.0]), f64::INFINITY);
    }

    #[test]
    fn sums_average_errors_and_count_differing_sets() {
        let mut sum = Sum::default();
        sum.add(0.1, 1.0, false, 20);
        sum.add(0.3, 0.9, true, 20);
        sum.add(0.2, 1.0, false, 20);
        sum.add(0.0, 0.5, true, 20);
        let a = sum.finish();
        assert_eq!((a.pairs, a.top_k, a.top_k_sets_differ), (4, 20, 2));
        assert!((a.mean_relative_error - 0.15).abs() < 1e-12);
        assert!((a.mean_top_k_shared - 0.85).abs() < 1e-12);
        assert_eq!(a.max_relative_error, 0.3);
        assert_eq!(a.top_k_differ_fraction(), 0.5);
    }
}
