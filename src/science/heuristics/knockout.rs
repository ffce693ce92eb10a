//! Knockouts (docs/heuristics.md §5 A and B): zero the neurons that implement heuristics, at
//! every position including the prefix, and measure accuracy on prompts the unablated model
//! answers correctly (so the baseline is 1.0 by construction).
use std::collections::{BTreeMap, HashMap};

use rand::seq::{IndexedRandom, SliceRandom};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::maps::GridMaps;
use super::prompts::GridPrompts;
use super::runner::outcomes;
use crate::engine::error::Result;
use crate::engine::intervention::Interventions;
use crate::engine::neuron::NeuronId;
use crate::engine::runtime::Model;
use crate::engine::session::Control;
use crate::engine::tokenizer::Tokenizer;

/// A heuristic with the grid cells it holds on and the neurons that implement it.
#[derive(Debug, Clone)]
pub struct HeuristicGroup {
    pub name: String,
    /// Per grid cell: whether the heuristic holds on its problem (false where illegal).
    pub holds: Vec<bool>,
    pub neurons: Vec<NeuronId>,
}

/// Sizes of the knockout by heuristic.
#[derive(Debug, Clone, Copy)]
pub struct ByHeuristicSettings {
    /// Associated (and as many control) prompts per heuristic, at most.
    pub max_prompts: usize,
    /// Heuristics with fewer associated correct prompts are skipped.
    pub min_prompts: usize,
    /// Heuristics with fewer member neurons end the list (they come in decreasing member count).
    pub min_neurons: usize,
    /// Heuristics tested, at most.
    pub limit: usize,
    pub seed: u64,
}

impl Default for ByHeuristicSettings {
    fn default() -> Self {
        ByHeuristicSettings { max_prompts: 100, min_prompts: 20, min_neurons: 3, limit: 10, seed: 0 }
    }
}

/// One row of the knockout by heuristic.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HeuristicKnockout {
    pub heuristic: String,
    pub neurons: usize,
    /// Prompts on each side.
    pub prompts: usize,
    /// Accuracy with the heuristic's neurons zeroed, on prompts it holds on.
    pub associated_accuracy: f64,
    /// The same, on as many correct prompts it does not hold on.
    pub control_accuracy: f64,
}

/// Knockout by heuristic: for heuristics in decreasing member count, zero all member neurons and
/// compare accuracy on associated correct prompts with accuracy on other correct prompts.
pub fn by_heuristic(
    model: &dyn Model,
    tokenizer: &Tokenizer,
    maps: &GridMaps,
    groups: &[HeuristicGroup],
    settings: ByHeuristicSettings,
    control: Control,
) -> Result<Vec<HeuristicKnockout>> {
    let prompts = GridPrompts::new(&maps.settings.spec, &maps.settings.prefix, tokenizer)?;
    let correct = maps.correct_cells();
    let mut rng = ChaCha8Rng::seed_from_u64(settings.seed);
    let mut order: Vec<&HeuristicGroup> = groups.iter().collect();
    order.sort_by(|a, b| b.neurons.len().cmp(&a.neurons.len()).then(a.name.cmp(&b.name)));
    let mut rows = Vec::new();
    for group in order.into_iter().take_while(|g| g.neurons.len() >= settings.min_neurons) {
        if rows.len() == settings.limit {
            break;
        }
        let (mut associated, mut others): (Vec<usize>, Vec<usize>) = correct.iter().partition(|&&c| group.holds[c]);
        let n = associated.len().min(others.len()).min(settings.max_prompts);
        if n < settings.min_prompts {
            continue;
        }
        associated.shuffle(&mut rng);
        others.shuffle(&mut rng);
        let mut ablation = Interventions::default();
        ablation.zero(&group.neurons);
        let cells: Vec<usize> = associated[..n].iter().chain(&others[..n]).copied().collect();
        let found = outcomes(model, tokenizer, &prompts, &cells, &ablation, control)?;
        let accuracy =
            |side: &[usize]| found.iter().filter(|(c, o)| o.correct && side.contains(c)).count() as f64 / n as f64;
        rows.push(HeuristicKnockout {
            heuristic: group.name.clone(),
            neurons: group.neurons.len(),
            prompts: n,
            associated_accuracy: accuracy(&associated[..n]),
            control_accuracy: accuracy(&others[..n]),
        });
    }
    Ok(rows)
}

/// Sizes of the knockout by prompt.
#[derive(Debug, Clone, Copy)]
pub struct ByPromptSettings<'a> {
    /// Each row's number of neurons zeroed per layer, at most.
    pub per_layer: &'a [usize],
    /// Correct prompts sampled.
    pub prompts: usize,
    pub seed: u64,
}

/// One row of the knockout by prompt.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PromptKnockout {
    /// Neurons zeroed per layer, at most.
    pub per_layer: usize,
    pub prompts: usize,
    /// Accuracy with each prompt's own heuristic neurons zeroed.
    pub ablated_accuracy: f64,
    /// Accuracy with as many random candidate neurons of the same layers zeroed.
    pub control_accuracy: f64,
}

/// Knockout by prompt: for each sampled correct prompt, rank the neurons of the heuristics that
/// hold on it by how many of those heuristics they belong to (per layer), zero the top N per
/// layer, and compare with zeroing as many random other candidates of the same layers.
/// `candidates` lists each layer's candidate neurons (the control is drawn from them).
pub fn by_prompt(
    model: &dyn Model,
    tokenizer: &Tokenizer,
    maps: &GridMaps,
    groups: &[HeuristicGroup],
    candidates: &BTreeMap<u32, Vec<u32>>,
    settings: ByPromptSettings,
    control: Control,
) -> Result<Vec<PromptKnockout>> {
    let ByPromptSettings { per_layer, prompts: prompts_wanted, seed } = settings;
    let prompts = GridPrompts::new(&maps.settings.spec, &maps.settings.prefix, tokenizer)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut cells: Vec<usize> =
        maps.correct_cells().into_iter().filter(|&c| groups.iter().any(|g| g.holds[c])).collect();
    cells.shuffle(&mut rng);
    cells.truncate(prompts_wanted);
    let mut hits = vec![(0usize, 0usize); per_layer.len()];
    for (i, &cell) in cells.iter().enumerate() {
        let ranked = ranked_members(groups, cell);
        for (k, &n) in per_layer.iter().enumerate() {
            if control.cancelled() {
                return Err(crate::engine::EngineError::Cancelled);
            }
            control.report(i * per_layer.len() + k, cells.len() * per_layer.len());
            let chosen: Vec<NeuronId> = ranked.values().flat_map(|layer| layer.iter().take(n)).copied().collect();
            let random = random_like(&chosen, candidates, &mut rng);
            let survives = |ids: &[NeuronId]| -> Result<usize> {
                let mut ablation = Interventions::default();
                ablation.zero(ids);
                let found = outcomes(model, tokenizer, &prompts, &[cell], &ablation, Control::default())?;
                Ok(found.iter().filter(|(_, o)| o.correct).count())
            };
            hits[k].0 += survives(&chosen)?;
            hits[k].1 += survives(&random)?;
        }
    }
    control.report(cells.len() * per_layer.len(), cells.len() * per_layer.len());
    let n = cells.len().max(1) as f64;
    Ok(per_layer
        .iter()
        .zip(hits)
        .map(|(&per_layer, (ablated, random))| PromptKnockout {
            per_layer,
            prompts: cells.len(),
            ablated_accuracy: ablated as f64 / n,
            control_accuracy: random as f64 / n,
        })
        .collect())
}

/// Per layer, the member neurons of the heuristics holding on `cell`, most memberships first
/// (ties by neuron).
fn ranked_members(groups: &[HeuristicGroup], cell: usize) -> BTreeMap<u32, Vec<NeuronId>> {
    let mut count: HashMap<NeuronId, usize> = HashMap::new();
    for g in groups.iter().filter(|g| g.holds[cell]) {
        g.neurons.iter().for_each(|&id| *count.entry(id).or_default() += 1);
    }
    let mut ranked: Vec<(NeuronId, usize)> = count.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut by_layer: BTreeMap<u32, Vec<NeuronId>> = BTreeMap::new();
    ranked.into_iter().for_each(|(id, _)| by_layer.entry(id.layer).or_default().push(id));
    by_layer
}

/// As many neurons per layer as `chosen` has, drawn from the layer's candidates outside `chosen`.
fn random_like(chosen: &[NeuronId], candidates: &BTreeMap<u32, Vec<u32>>, rng: &mut ChaCha8Rng) -> Vec<NeuronId> {
    let mut per_layer: BTreeMap<u32, usize> = BTreeMap::new();
    chosen.iter().for_each(|id| *per_layer.entry(id.layer).or_default() += 1);
    per_layer
        .into_iter()
        .flat_map(|(layer, n)| {
            let pool: Vec<u32> = candidates
                .get(&layer)
                .map(|c| c.iter().copied().filter(|&j| !chosen.contains(&NeuronId { layer, index: j })).collect())
                .unwrap_or_default();
            pool.choose_multiple(rng, n).map(|&index| NeuronId { layer, index }).collect::<Vec<_>>()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(layer: u32, index: u32) -> NeuronId {
        NeuronId { layer, index }
    }

    #[test]
    fn members_rank_by_how_many_holding_heuristics_they_belong_to() {
        let group =
            |name: &str, holds: Vec<bool>, neurons: Vec<NeuronId>| HeuristicGroup { name: name.into(), holds, neurons };
        let groups = [
            group("a", vec![true, false], vec![id(3, 1), id(3, 2), id(5, 9)]),
            group("b", vec![true, true], vec![id(3, 2), id(5, 9), id(5, 4)]),
            group("c", vec![false, true], vec![id(3, 1)]),
        ];
        let ranked = ranked_members(&groups, 0);
        assert_eq!(ranked[&3], vec![id(3, 2), id(3, 1)]);
        assert_eq!(ranked[&5], vec![id(5, 9), id(5, 4)]);
        let ranked = ranked_members(&groups, 1);
        assert_eq!(ranked[&3], vec![id(3, 1), id(3, 2)]);
    }

    #[test]
    fn random_controls_match_layers_and_avoid_the_ablated() {
        let candidates: BTreeMap<u32, Vec<u32>> = [(3, (0..10).collect()), (5, (0..4).collect())].into();
        let chosen = [id(3, 1), id(3, 2), id(5, 0)];
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for _ in 0..20 {
            let r = random_like(&chosen, &candidates, &mut rng);
            assert_eq!(r.iter().filter(|n| n.layer == 3).count(), 2);
            assert_eq!(r.iter().filter(|n| n.layer == 5).count(), 1);
            assert!(r.iter().all(|n| !chosen.contains(n)));
        }
    }
}
