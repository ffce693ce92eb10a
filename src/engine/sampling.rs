//! Choosing the next token: greedy, or seeded temperature / nucleus sampling that gives the same
//! token whenever the same position is sampled again (stepping back and forward).
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub enum Sampling {
    Greedy,
    /// Softmax at `temperature`, restricted to the smallest set of tokens whose probability
    /// reaches `top_p`; the random draw depends only on `seed` and the position.
    Random {
        temperature: f32,
        top_p: f32,
        seed: u64,
    },
}

impl Sampling {
    /// The token to follow position `position`, whose next-token logits are `logits: [vocab]`.
    pub fn choose(&self, logits: &[f32], position: usize) -> u32 {
        match *self {
            Sampling::Greedy => argmax(logits),
            Sampling::Random { temperature, .. } if temperature <= 0.0 => argmax(logits),
            Sampling::Random { temperature, top_p, seed } => {
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                rng.set_stream(position as u64);
                nucleus(logits, temperature, top_p, rng.random::<f64>())
            }
        }
    }
}

/// Index of the largest logit (the first one on ties, as PyTorch's argmax).
pub fn argmax(logits: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &x) in logits.iter().enumerate() {
        if x > logits[best] {
            best = i;
        }
    }
    best as u32
}

/// Draws from the nucleus of softmax(logits / temperature) with a uniform `u` in [0, 1).
fn nucleus(logits: &[f32], temperature: f32, top_p: f32, u: f64) -> u32 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let mut probs: Vec<(u32, f64)> =
        logits.iter().enumerate().map(|(i, &x)| (i as u32, ((x as f64 - max) / temperature as f64).exp())).collect();
    let total: f64 = probs.iter().map(|p| p.1).sum();
    probs.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut kept = 0.0;
    let mut cut = probs.len();
    for (i, p) in probs.iter().enumerate() {
        kept += p.1 / total;
        if kept >= top_p as f64 {
            cut = i + 1;
            break;
        }
    }
    let nucleus = &probs[..cut];
    let mass: f64 = nucleus.iter().map(|p| p.1).sum();
    let mut target = u * mass;
    for &(id, p) in nucleus {
        if target < p {
            return id;
        }
        target -= p;
    }
    nucleus[cut - 1].0
}

/// Softmax probabilities of the `n` most likely tokens: `(id, logit, probability)`, best first.
pub fn top_tokens(logits: &[f32], n: usize) -> Vec<(u32, f32, f32)> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let total: f64 = logits.iter().map(|&x| (x as f64 - max).exp()).sum();
    let mut ids: Vec<u32> = (0..logits.len() as u32).collect();
    let order = |a: &u32, b: &u32| logits[*b as usize].total_cmp(&logits[*a as usize]).then(a.cmp(b));
    let n = n.min(ids.len());
    if n > 0 && n < ids.len() {
        ids.select_nth_unstable_by(n - 1, order);
    }
    ids.truncate(n);
    ids.sort_unstable_by(order);
    ids.into_iter()
        .map(|id| {
            let x = logits[id as usize];
            (id, x, ((x as f64 - max).exp() / total) as f32)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greedy_takes_the_first_maximum() {
        assert_eq!(Sampling::Greedy.choose(&[0.1, 2.0, 2.0, -1.0], 0), 1);
    }

    #[test]
    fn seeded_sampling_repeats_per_position_and_varies_across_positions() {
        let logits: Vec<f32> = (0..50).map(|i| (i % 7) as f32 * 0.3).collect();
        let s = Sampling::Random { temperature: 1.0, top_p: 1.0, seed: 7 };
        let draws: Vec<u32> = (0..40).map(|p| s.choose(&logits, p)).collect();
        let again: Vec<u32> = (0..40).map(|p| s.choose(&logits, p)).collect();
        assert_eq!(draws, again);
        assert!(draws.iter().any(|&d| d != draws[0]), "sampling never varied: {draws:?}");
    }

    #[test]
    fn tiny_top_p_is_greedy() {
        let logits = [0.0, 3.0, 1.0, 2.9];
        let s = Sampling::Random { temperature: 1.0, top_p: 1e-6, seed: 1 };
        assert!((0..20).all(|p| s.choose(&logits, p) == 1));
    }

    #[test]
    fn nucleus_never_leaves_the_nucleus() {
        // probabilities ∝ e^[5, 4, 0, 0]: the top two hold > 99%, so top_p 0.9 keeps only them.
        let logits = [5.0, 4.0, 0.0, 0.0];
        let s = Sampling::Random { temperature: 1.0, top_p: 0.9, seed: 3 };
        assert!((0..200).all(|p| s.choose(&logits, p) < 2));
    }

    #[test]
    fn top_tokens_are_softmax_ordered() {
        let t = top_tokens(&[0.0, (2f32).ln(), 0.0], 2);
        assert_eq!(t[0].0, 1);
        assert!((t[0].2 - 0.5).abs() < 1e-6);
        assert_eq!(t[1].0, 0);
    }
}
