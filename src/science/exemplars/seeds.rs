//! A label's score that needs no LLM: how well the concept's seed words predict the neuron's
//! activation over the corpus — the point-biserial correlation between "this token or the next
//! is a seed word" and m, from sums the build keeps for every concept.
use serde::Serialize;

use super::collect::FIXED;
use super::file::{ConceptSeeds, ExemplarFile};
use crate::engine::neuron::NeuronId;

/// Per token id, a bit per concept one of whose seed words is the token's text (stripped and
/// lower-cased, as the lexical pre-filter compares). `texts` is the lexical `token_texts`.
pub fn token_masks(texts: &[String], concepts: &[ConceptSeeds]) -> Vec<u64> {
    let seeds: Vec<Vec<String>> =
        concepts.iter().map(|c| c.seeds.iter().map(|s| s.trim().to_lowercase()).collect()).collect();
    texts
        .iter()
        .map(|t| {
            let t = t.to_lowercase();
            seeds.iter().enumerate().filter(|(_, s)| s.contains(&t)).fold(0, |mask, (c, _)| mask | 1 << c)
        })
        .collect()
}

/// Per position of a document, the concepts whose seed word is at it or at the next token.
pub fn position_masks(tokens: &[u32], token_masks: &[u64]) -> Vec<u64> {
    let mask = |t: u32| token_masks.get(t as usize).copied().unwrap_or(0);
    (0..tokens.len()).map(|p| mask(tokens[p]) | tokens.get(p + 1).map_or(0, |&t| mask(t))).collect()
}

/// The seed-word score of a (neuron, concept) pair.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SeedScore {
    /// The point-biserial r; `None` when no position, or every position, has a seed word, or
    /// when m never varies.
    pub r: Option<f64>,
    /// Positions with a seed word at them or next.
    pub seed_positions: u64,
    pub positions: u64,
}

/// r_pb = (M₁ − M₀) / s · √(p·q), with M₁ and M₀ the mean m at positions with and without a seed
/// word, s the standard deviation of m over all positions (n in the denominator) and p, q the
/// two groups' shares.
pub fn point_biserial(sum: f64, sum_sq: f64, n: u64, seed_sum: f64, n1: u64) -> Option<f64> {
    let n0 = n.checked_sub(n1)?;
    if n1 == 0 || n0 == 0 {
        return None;
    }
    let nf = n as f64;
    let mean = sum / nf;
    let s = (sum_sq / nf - mean * mean).max(0.0).sqrt();
    if s <= 1e-12 * mean.abs().max(1.0) {
        return None;
    }
    let (m1, m0) = (seed_sum / n1 as f64, (sum - seed_sum) / n0 as f64);
    let (p, q) = (n1 as f64 / nf, n0 as f64 / nf);
    Some((m1 - m0) / s * (p * q).sqrt())
}

/// The score of `neuron` for `concept`, or `None` when the file did not count that concept.
pub fn score(file: &ExemplarFile, neuron: NeuronId, concept: &str) -> Option<SeedScore> {
    let c = file.header().concepts.iter().position(|k| k.key == concept)?;
    let sums = file.sums(neuron)?;
    let (seed_sum, n1) = file.seed_sum(c, neuron)?;
    let n = file.positions();
    let r = point_biserial(sums.sum as f64 / FIXED, sums.sum_sq as f64 / FIXED, n, seed_sum as f64 / FIXED, n1);
    Some(SeedScore { r, seed_positions: n1, positions: n })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_mark_the_seed_and_the_token_before_it() {
        let concepts = vec![
            ConceptSeeds { key: "add".into(), seeds: vec!["plus".into(), "+".into()] },
            ConceptSeeds { key: "eq".into(), seeds: vec!["=".into()] },
        ];
        let texts: Vec<String> = ["a", "Plus", " +", "=", "b"].iter().map(|s| s.trim().to_string()).collect();
        let masks = token_masks(&texts, &concepts);
        assert_eq!(masks, [0, 1, 1, 2, 0]);
        assert_eq!(position_masks(&[0, 1, 4, 3, 4, 0], &masks), [1, 1, 2, 2, 0, 0]);
    }

    #[test]
    fn point_biserial_matches_pearson_with_a_binary_variable() {
        // m = [1, 2, 3, 10, 12], seeds at the last two positions: Pearson's r of m with
        // [0, 0, 0, 1, 1] is 0.980038 (Python's statistics.correlation).
        let m = [1.0f64, 2.0, 3.0, 10.0, 12.0];
        let x = [0.0f64, 0.0, 0.0, 1.0, 1.0];
        let (mm, mx) = (m.iter().sum::<f64>() / 5.0, x.iter().sum::<f64>() / 5.0);
        let cov: f64 = m.iter().zip(&x).map(|(a, b)| (a - mm) * (b - mx)).sum();
        let vm: f64 = m.iter().map(|a| (a - mm).powi(2)).sum();
        let vx: f64 = x.iter().map(|b| (b - mx).powi(2)).sum();
        let pearson = cov / (vm * vx).sqrt();
        let sum_sq: f64 = m.iter().map(|a| a * a).sum();
        let r = point_biserial(28.0, sum_sq, 5, 22.0, 2).unwrap();
        assert!((r - pearson).abs() < 1e-12, "{r} vs {pearson}");
        assert!((r - 0.980038).abs() < 1e-6, "{r}");
        assert_eq!(point_biserial(28.0, sum_sq, 5, 0.0, 0), None);
        assert_eq!(point_biserial(28.0, sum_sq, 5, 28.0, 5), None);
        assert_eq!(point_biserial(10.0, 20.0, 5, 4.0, 2), None, "constant m");
    }
}
