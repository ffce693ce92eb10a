//! The numbers the scorers report: balanced accuracy, Pearson's r, and the AUC of a score for
//! telling two groups apart. Undefined cases are errors that say why, never NaN.

/// (TP/P + TN/N) / 2: the mean of the hit rates on the `positives` activating excerpts and the
/// `negatives` quiet ones, so that chance is 0.5 whatever the mix. Undefined without both kinds.
pub fn balanced_accuracy(
    true_positives: usize,
    positives: usize,
    true_negatives: usize,
    negatives: usize,
) -> Result<f64, String> {
    if positives == 0 || negatives == 0 {
        return Err(format!(
            "balanced accuracy needs activating and quiet excerpts (there were {positives} and {negatives})"
        ));
    }
    if true_positives > positives || true_negatives > negatives {
        return Err(format!("{true_positives} of {positives} and {true_negatives} of {negatives} are not hit counts"));
    }
    Ok((true_positives as f64 / positives as f64 + true_negatives as f64 / negatives as f64) / 2.0)
}

/// Pearson's r between `predictions` and `activations`, paired by position. Undefined with
/// fewer than two pairs or when either side does not vary.
pub fn pearson(predictions: &[f64], activations: &[f64]) -> Result<f64, String> {
    if predictions.len() != activations.len() {
        return Err(format!("{} predictions for {} activations", predictions.len(), activations.len()));
    }
    let n = predictions.len();
    if n < 2 {
        return Err(format!("Pearson r needs at least 2 tokens, there were {n}"));
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / n as f64;
    let (mp, ma) = (mean(predictions), mean(activations));
    let (mut cov, mut vp, mut va) = (0.0, 0.0, 0.0);
    for (p, a) in predictions.iter().zip(activations) {
        let (dp, da) = (p - mp, a - ma);
        cov += dp * da;
        vp += dp * dp;
        va += da * da;
    }
    if vp == 0.0 {
        return Err(format!("the predictions are all equal ({}), so Pearson r is undefined", predictions[0]));
    }
    if va == 0.0 {
        return Err(format!("the activations are all equal ({}), so Pearson r is undefined", activations[0]));
    }
    // Rounding can carry |r| a hair past 1.
    Ok((cov / (vp.sqrt() * va.sqrt())).clamp(-1.0, 1.0))
}

/// The Mann–Whitney AUC: the chance that a score drawn from `higher` exceeds one drawn from
/// `lower`, ties counting one half. None when either group is empty.
pub fn auc(higher: &[f64], lower: &[f64]) -> Option<f64> {
    if higher.is_empty() || lower.is_empty() {
        return None;
    }
    let mut sorted = lower.to_vec();
    sorted.sort_by(f64::total_cmp);
    let wins: f64 = higher
        .iter()
        .map(|x| {
            let below = sorted.partition_point(|y| y < x);
            let tied = sorted[below..].partition_point(|y| y <= x);
            below as f64 + tied as f64 / 2.0
        })
        .sum();
    Some(wins / (higher.len() as f64 * lower.len() as f64))
}

/// The mean of `values`; None when there are none.
pub fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn balanced_accuracy_of_hand_counted_answers() {
        // All 4 activating and all 6 quiet right.
        assert_eq!(balanced_accuracy(4, 4, 6, 6), Ok(1.0));
        // 2 of 3 activating found, 1 of 3 quiet wrongly named: (2/3 + 2/3) / 2 = 2/3.
        assert!(close(balanced_accuracy(2, 3, 2, 3).unwrap(), 2.0 / 3.0));
        // Naming every excerpt: (1 + 0) / 2 = 0.5, chance, however many are activating.
        assert_eq!(balanced_accuracy(1, 1, 0, 9), Ok(0.5));
        assert_eq!(balanced_accuracy(0, 4, 0, 4), Ok(0.0));
        assert!(balanced_accuracy(0, 0, 3, 3).unwrap_err().contains("activating and quiet"));
        assert!(balanced_accuracy(2, 1, 0, 1).is_err());
    }

    #[test]
    fn pearson_of_hand_computed_series() {
        // Perfectly linear: r = 1 and −1.
        assert!(close(pearson(&[0.0, 5.0, 10.0], &[0.1, 0.35, 0.6]).unwrap(), 1.0));
        assert!(close(pearson(&[10.0, 5.0, 0.0], &[0.1, 0.35, 0.6]).unwrap(), -1.0));
        // x = [1, 2, 3], y = [1, 3, 2]: deviations (−1, 0, 1) and (−1, 1, 0); cov = 1,
        // Σdx² = 2, Σdy² = 2, r = 1 / 2 = 0.5.
        assert!(close(pearson(&[1.0, 2.0, 3.0], &[1.0, 3.0, 2.0]).unwrap(), 0.5));
        let flat = pearson(&[3.0, 3.0, 3.0], &[0.1, 0.2, 0.3]).unwrap_err();
        assert!(flat.contains("predictions are all equal") && flat.contains("undefined"), "{flat}");
        assert!(pearson(&[1.0, 2.0], &[0.5, 0.5]).unwrap_err().contains("activations are all equal"));
        assert!(pearson(&[1.0], &[0.5]).unwrap_err().contains("at least 2"));
        assert!(pearson(&[1.0, 2.0], &[0.5]).is_err());
    }

    #[test]
    fn auc_counts_wins_and_half_ties() {
        // Every agreed score above the one disagreed: AUC 1.
        assert_eq!(auc(&[0.9, 0.8], &[0.1]), Some(1.0));
        assert_eq!(auc(&[0.1], &[0.9, 0.8]), Some(0.0));
        // One pair, tied: 1/2.
        assert_eq!(auc(&[0.5], &[0.5]), Some(0.5));
        // Pairs (0.9, 0.5) win, (0.9, 0.9) tie, (0.5, 0.5) tie, (0.5, 0.9) lose: (1 + ½ + ½ + 0) / 4.
        assert_eq!(auc(&[0.9, 0.5], &[0.5, 0.9]), Some(0.5));
        // (0.7 > 0.2) 1, (0.7 vs 0.7) ½, (0.3 > 0.2) 1, (0.3 < 0.7) 0: 2.5 / 4.
        assert_eq!(auc(&[0.7, 0.3], &[0.2, 0.7]), Some(0.625));
        assert_eq!(auc(&[], &[0.1]), None);
        assert_eq!(auc(&[0.1], &[]), None);
        assert_eq!(mean(&[1.0, 2.0, 4.0]), Some(7.0 / 3.0));
        assert_eq!(mean(&[]), None);
    }
}
