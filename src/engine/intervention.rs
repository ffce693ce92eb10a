//! Changes to chosen feed-forward neurons during a forward pass, for ablation experiments.
//!
//! Two kinds, both applied in every block's feed-forward layer (see `model::block`):
//! - **scaling** the coefficient: m_j ← f·m_j right after m is computed and before down_proj
//!   (f = 0 zeroes the neuron, so its sub-update f·m_j·v_j vanishes from the residual stream);
//! - **noising** the value vector: v_j ← v_j + n_j, applied as the added term
//!   ffn += Σ_j m_j·n_j over the noised neurons, which equals running down_proj with the noised
//!   columns and needs no copy of the (possibly quantized) weights.
//!
//! The trace then records the scaled m (so a zeroed neuron shows m = 0); scores keep using the
//! unmodified ‖v_j‖.
use std::collections::BTreeMap;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

use super::neuron::NeuronId;

/// The interventions of one layer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LayerIntervention {
    /// (neuron index, factor f): m_j ← f·m_j.
    pub scale: Vec<(u32, f32)>,
    /// (neuron index, n_j: `[d_model]`): v_j ← v_j + n_j.
    pub noise: Vec<(u32, Vec<f32>)>,
}

impl LayerIntervention {
    pub fn is_empty(&self) -> bool {
        self.scale.is_empty() && self.noise.is_empty()
    }
}

/// Interventions by layer; empty layers run unchanged.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Interventions {
    layers: BTreeMap<usize, LayerIntervention>,
}

/// Mean and standard deviation of the value-vector noise of Rai & Yao's ablation.
pub const NOISE_MEAN: f32 = -1.0;
pub const NOISE_SD: f32 = 1.0;

impl Interventions {
    pub fn is_empty(&self) -> bool {
        self.layers.values().all(LayerIntervention::is_empty)
    }

    /// What applies to `layer`, if anything.
    pub fn layer(&self, layer: usize) -> Option<&LayerIntervention> {
        self.layers.get(&layer).filter(|l| !l.is_empty())
    }

    /// Multiplies neuron `id`'s coefficient by `factor` (0 ablates it).
    pub fn scale(&mut self, id: NeuronId, factor: f32) -> &mut Self {
        let scale = &mut self.layers.entry(id.layer as usize).or_default().scale;
        scale.retain(|&(j, _)| j != id.index);
        scale.push((id.index, factor));
        self
    }

    /// Zeroes the coefficients of `ids`.
    pub fn zero(&mut self, ids: &[NeuronId]) -> &mut Self {
        ids.iter().for_each(|&id| {
            self.scale(id, 0.0);
        });
        self
    }

    /// Adds Gaussian noise (mean -1, sd 1, `d_model` values) to the value vectors of `ids`.
    /// Each neuron's noise depends only on `seed` and the neuron's id, not on the rest of the set.
    pub fn noise(&mut self, ids: &[NeuronId], seed: u64, d_model: usize) -> &mut Self {
        for &id in ids {
            let n = value_noise(id, seed, d_model);
            let noise = &mut self.layers.entry(id.layer as usize).or_default().noise;
            noise.retain(|(j, _)| *j != id.index);
            noise.push((id.index, n));
        }
        self
    }
}

/// The noise added to neuron `id`'s value vector under `seed`: `[d_model]` draws of N(-1, 1).
pub fn value_noise(id: NeuronId, seed: u64, d_model: usize) -> Vec<f32> {
    let stream = ((id.layer as u64) << 32) | id.index as u64;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    let normal = Normal::new(NOISE_MEAN, NOISE_SD).expect("a positive standard deviation");
    (0..d_model).map(|_| normal.sample(&mut rng)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_is_seeded_per_neuron() {
        let a = NeuronId { layer: 2, index: 5 };
        let b = NeuronId { layer: 5, index: 2 };
        assert_eq!(value_noise(a, 7, 64), value_noise(a, 7, 64));
        assert_ne!(value_noise(a, 7, 64), value_noise(a, 8, 64));
        assert_ne!(value_noise(a, 7, 64), value_noise(b, 7, 64));
        let n = value_noise(a, 1, 20_000);
        let mean = n.iter().sum::<f32>() / n.len() as f32;
        let var = n.iter().map(|x| (x - mean).powi(2)).sum::<f32>() / n.len() as f32;
        assert!((mean + 1.0).abs() < 0.05 && (var.sqrt() - 1.0).abs() < 0.05, "mean {mean}, var {var}");
        let mut both = Interventions::default();
        both.noise(&[a, b], 7, 64);
        let mut one = Interventions::default();
        one.noise(&[a], 7, 64);
        assert_eq!(both.layer(2), one.layer(2));
    }

    #[test]
    fn later_settings_of_a_neuron_replace_earlier_ones() {
        let id = NeuronId { layer: 1, index: 3 };
        let mut i = Interventions::default();
        assert!(i.is_empty() && i.layer(1).is_none());
        i.zero(&[id]).scale(id, 2.0);
        assert_eq!(i.layer(1).unwrap().scale, vec![(3, 2.0)]);
        assert!(i.layer(0).is_none());
    }
}
