//! Interventions as a user sets them one after another (the explorer's run B,
//! `neuronav intervene --tui`): neurons ablated (coefficient zeroed, or the method's value-vector
//! noise) or scaled. A later change of a neuron replaces an earlier one. Built into the engine's
//! `Interventions` the way `neuronav intervene` builds them.
use std::collections::BTreeMap;

use super::ablation::AblationMode;
use crate::engine::intervention::Interventions;
use crate::engine::neuron::NeuronId;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Changes {
    pub ablated: BTreeMap<NeuronId, AblationMode>,
    pub scaled: BTreeMap<NeuronId, f32>,
    /// Seed of the value-vector noise.
    pub seed: u64,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.ablated.is_empty() && self.scaled.is_empty()
    }

    /// Neurons changed.
    pub fn len(&self) -> usize {
        self.ablated.len() + self.scaled.len()
    }

    pub fn ablate(&mut self, ids: &[NeuronId], mode: AblationMode) {
        for &id in ids {
            self.scaled.remove(&id);
            self.ablated.insert(id, mode);
        }
    }

    pub fn scale(&mut self, id: NeuronId, factor: f32) {
        self.ablated.remove(&id);
        self.scaled.insert(id, factor);
    }

    /// Every neuron changed.
    pub fn neurons(&self) -> Vec<NeuronId> {
        self.ablated.keys().chain(self.scaled.keys()).copied().collect()
    }

    /// The engine's interventions for a model of `d_model` dimensions.
    pub fn build(&self, d_model: usize) -> Interventions {
        let with = |mode| self.ablated.iter().filter(|(_, m)| **m == mode).map(|(id, _)| *id).collect::<Vec<_>>();
        let mut i = AblationMode::Zero.interventions(&with(AblationMode::Zero), self.seed, d_model);
        i.noise(&with(AblationMode::Noise), self.seed, d_model);
        self.scaled.iter().for_each(|(&id, &f)| {
            i.scale(id, f);
        });
        i
    }

    /// `zero L1N7 L2N3 · noise L0N1 (seed 0) · L21N7027×3`, or `none`.
    pub fn describe(&self) -> String {
        let ids =
            |mode| self.ablated.iter().filter(|(_, m)| **m == mode).map(|(id, _)| id.to_string()).collect::<Vec<_>>();
        let mut parts = Vec::new();
        let zero = ids(AblationMode::Zero);
        if !zero.is_empty() {
            parts.push(format!("zero {}", zero.join(" ")));
        }
        let noise = ids(AblationMode::Noise);
        if !noise.is_empty() {
            parts.push(format!("noise {} (seed {})", noise.join(" "), self.seed));
        }
        if !self.scaled.is_empty() {
            parts.push(self.scaled.iter().map(|(id, f)| format!("{id}×{f}")).collect::<Vec<_>>().join(" "));
        }
        if parts.is_empty() {
            "none".into()
        } else {
            parts.join(" · ")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_changes_replace_earlier_ones_and_build_the_engines_interventions() {
        let (a, b) = (NeuronId { layer: 1, index: 7 }, NeuronId { layer: 2, index: 3 });
        let mut c = Changes::default();
        assert!(c.is_empty() && c.describe() == "none" && c.build(4).is_empty());
        c.ablate(&[a, b], AblationMode::Zero);
        c.scale(b, 3.0);
        assert_eq!(c.len(), 2);
        assert_eq!((c.ablated.get(&a), c.scaled.get(&b)), (Some(&AblationMode::Zero), Some(&3.0)));
        assert_eq!(c.describe(), "zero L1N7 · L2N3×3");
        let mut want = Interventions::default();
        want.zero(&[a]).scale(b, 3.0);
        assert_eq!(c.build(4), want);
        c.ablate(&[b], AblationMode::Noise);
        assert_eq!(c.describe(), "zero L1N7 · noise L2N3 (seed 0)");
        let mut want = Interventions::default();
        want.zero(&[a]).noise(&[b], 0, 4);
        assert_eq!(c.build(4), want);
    }
}
