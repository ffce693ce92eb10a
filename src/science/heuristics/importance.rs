//! Direct-logit importance of a neuron for the grid (docs/heuristics.md §6): its KV value at "="
//! — the coefficient times the centred logit of the correct next token — over the prompts the
//! model answers correctly, ranked by mean + standard deviation. It measures only the neuron's
//! direct effect on the output, not what it does through later layers.
use serde::Serialize;

use super::maps::GridMaps;
use crate::engine::neuron::NeuronId;

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Importance {
    pub neuron: NeuronId,
    pub mean: f32,
    pub std: f32,
}

impl Importance {
    /// The ranking key: mean + std.
    pub fn score(&self) -> f32 {
        self.mean + self.std
    }
}

/// Every kept neuron of `layer`, most important first; `None` when the layer was not kept.
pub fn rank_layer(maps: &GridMaps, layer: usize) -> Option<Vec<Importance>> {
    maps.layer_position(layer)?;
    let correct = maps.correct_cells();
    let mut ranked: Vec<Importance> = (0..maps.d_ff)
        .map(|j| {
            let kv = maps.kv_map(0, layer, j).expect("kept layer");
            let values: Vec<f32> = correct.iter().map(|&c| kv[c]).filter(|v| v.is_finite()).collect();
            let (mean, std) = mean_std(&values);
            Importance { neuron: NeuronId { layer: layer as u32, index: j as u32 }, mean, std }
        })
        .collect();
    ranked.sort_by(|a, b| b.score().total_cmp(&a.score()).then(a.neuron.cmp(&b.neuron)));
    Some(ranked)
}

/// Population mean and standard deviation; zeros for no values.
fn mean_std(values: &[f32]) -> (f32, f32) {
    if values.is_empty() {
        return (0.0, 0.0);
    }
    let n = values.len() as f64;
    let mean = values.iter().map(|&v| v as f64).sum::<f64>() / n;
    let var = values.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n;
    (mean as f32, var.sqrt() as f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_and_population_std() {
        assert_eq!(mean_std(&[]), (0.0, 0.0));
        let (m, s) = mean_std(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
        assert_eq!((m, s), (5.0, 2.0));
    }
}
