//! A neuron's meaning in the vocabulary: the tokens its value vector promotes (W_U · v) and the
//! ones it suppresses, on demand for one neuron or for every neuron of a model at once.
use crate::engine::neuron::NeuronId;
use crate::engine::runtime::Model;

/// A token and its logit under a neuron's value vector.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct TokenLogit {
    pub token: u32,
    pub logit: f32,
}

/// The most promoted (`top`, descending) and most suppressed (`bottom`, ascending) tokens.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Projection {
    pub top: Vec<TokenLogit>,
    pub bottom: Vec<TokenLogit>,
}

/// How value vectors are read out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProjectionSettings {
    /// Tokens kept at each end.
    pub n: usize,
    /// Apply the final norm's gain before the unembedding (Geva et al.); the method's reference
    /// projects raw value vectors.
    pub norm_gain: bool,
}

impl Default for ProjectionSettings {
    fn default() -> Self {
        ProjectionSettings { n: 20, norm_gain: false }
    }
}

/// Projects one neuron: a single matrix-vector product on the model's device.
pub fn project(model: &dyn Model, neuron: NeuronId, settings: ProjectionSettings) -> Projection {
    let logits = model.project_value_vectors(neuron.layer as usize, neuron.index as usize, 1, settings.norm_gain);
    extremes(&logits, settings.n)
}

/// The `n` largest (descending) and smallest (ascending) entries of `logits`; ties go to the
/// lower token id. One pass with two bounded heaps, so a 49k-token row costs ~50 µs.
pub fn extremes(logits: &[f32], n: usize) -> Projection {
    let n = n.min(logits.len());
    let mut top: Vec<(f32, u32)> = Vec::with_capacity(n + 1);
    let mut bottom: Vec<(f32, u32)> = Vec::with_capacity(n + 1);
    for (i, &x) in logits.iter().enumerate() {
        keep_best(&mut top, n, (x, i as u32), |a, b| a > b);
        keep_best(&mut bottom, n, (x, i as u32), |a, b| a < b);
    }
    let finish = |v: Vec<(f32, u32)>| v.into_iter().map(|(logit, token)| TokenLogit { token, logit }).collect();
    Projection { top: finish(top), bottom: finish(bottom) }
}

/// Inserts `item` into `kept` (sorted best first by `better`, at most `n` long) if it belongs.
fn keep_best(kept: &mut Vec<(f32, u32)>, n: usize, item: (f32, u32), better: impl Fn(f32, f32) -> bool) {
    if n == 0 || (kept.len() == n && !better(item.0, kept[n - 1].0)) {
        return;
    }
    let at = kept.partition_point(|k| !better(item.0, k.0));
    kept.insert(at, item);
    kept.truncate(n);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extremes_are_sorted_and_ties_keep_the_lower_id() {
        let p = extremes(&[0.5, 3.0, -2.0, 3.0, 1.0, -2.0], 3);
        let ids = |v: &[TokenLogit]| v.iter().map(|t| t.token).collect::<Vec<_>>();
        assert_eq!(ids(&p.top), vec![1, 3, 4]);
        assert_eq!(ids(&p.bottom), vec![2, 5, 0]);
        assert_eq!(p.top[0].logit, 3.0);
        assert_eq!(extremes(&[1.0], 5).top.len(), 1);
        assert!(extremes(&[1.0, 2.0], 0).top.is_empty());
    }

    #[test]
    fn extremes_agree_with_a_full_sort() {
        let logits: Vec<f32> = (0..5000u32).map(|i| ((i * 7919) % 10007) as f32 * 0.01 - 40.0).collect();
        let mut sorted: Vec<(f32, u32)> = logits.iter().enumerate().map(|(i, &x)| (x, i as u32)).collect();
        sorted.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let p = extremes(&logits, 20);
        assert_eq!(
            p.top.iter().map(|t| t.token).collect::<Vec<_>>(),
            sorted[..20].iter().map(|s| s.1).collect::<Vec<_>>()
        );
    }
}
