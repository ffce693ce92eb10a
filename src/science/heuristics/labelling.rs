//! Heuristic labels for every kept neuron of a grid: classification of the K and KV maps at "=",
//! the groups of neurons per heuristic that knockouts ablate, and labels for the store (source
//! `heuristic-match`, concept `{operator}:{heuristic}`, the score as evidence), so they appear,
//! filter and get reviewed like any other label.
use std::collections::{BTreeMap, HashSet};

use super::catalog::Catalog;
use super::classify::{classify_many, ClassifySettings, Match, Sign};
use super::grid::Operator;
use super::heuristic::Heuristic;
use super::knockout::HeuristicGroup;
use super::maps::GridMaps;
use crate::engine::neuron::NeuronId;
use crate::science::labels::label::{Label, NewLabel};

/// The source heuristic labels are stored under.
pub const SOURCE: &str = "heuristic-match";

/// A neuron's matched heuristics, best first.
#[derive(Debug, Clone)]
pub struct NeuronMatches {
    pub neuron: NeuronId,
    pub matches: Vec<Match>,
}

/// Classifies every neuron of the kept layers from layer `from` on (maps at slot 0, the "="
/// token).
pub fn classify_all(
    maps: &GridMaps,
    catalog: &Catalog,
    settings: &ClassifySettings,
    from: usize,
) -> Vec<NeuronMatches> {
    let layers: Vec<usize> = maps.settings.layers.iter().copied().filter(|&l| l >= from).collect();
    let d_ff = maps.d_ff;
    let matches = classify_many(
        catalog,
        layers.len() * d_ff,
        |i| {
            let (layer, j) = (layers[i / d_ff], i % d_ff);
            (maps.k_map(0, layer, j).expect("kept layer"), maps.kv_map(0, layer, j).expect("kept layer"))
        },
        settings,
    );
    matches
        .into_iter()
        .enumerate()
        .map(|(i, matches)| NeuronMatches {
            neuron: NeuronId { layer: layers[i / d_ff] as u32, index: (i % d_ff) as u32 },
            matches,
        })
        .collect()
}

/// Share of `neurons` with at least one match among those whose layer is in `layers`.
pub fn coverage_in(neurons: &[NeuronMatches], layers: std::ops::Range<usize>) -> (usize, usize) {
    let within: Vec<&NeuronMatches> = neurons.iter().filter(|n| layers.contains(&(n.neuron.layer as usize))).collect();
    (within.iter().filter(|n| !n.matches.is_empty()).count(), within.len())
}

/// One group per matched heuristic: its member neurons (either sign) and the cells it holds on.
pub fn groups(maps: &GridMaps, neurons: &[NeuronMatches]) -> Vec<HeuristicGroup> {
    let mut members: BTreeMap<String, (Heuristic, Vec<NeuronId>)> = BTreeMap::new();
    for n in neurons {
        let mut seen = HashSet::new();
        for m in n.matches.iter().filter(|m| seen.insert(m.heuristic.name())) {
            members.entry(m.heuristic.name()).or_insert_with(|| (m.heuristic.clone(), Vec::new())).1.push(n.neuron);
        }
    }
    let spec = &maps.settings.spec;
    members
        .into_iter()
        .map(|(name, (heuristic, neurons))| HeuristicGroup {
            name,
            holds: (0..spec.len()).map(|c| spec.problem(c).is_some_and(|p| heuristic.holds(&p))).collect(),
            neurons,
        })
        .collect()
}

/// The concept key of a heuristic of an operator: `add:result_8mod10`.
pub fn concept(operator: Operator, heuristic: &Heuristic) -> String {
    format!("{}:{}", operator.key(), heuristic.name())
}

/// The labels to store: one applying label per match (the better sign when both match), and a
/// withdrawn one (`applies` false) for each earlier heuristic label of this operator on a
/// classified neuron that no longer matches, so a rerun with other settings leaves no stale claim.
pub fn labels(operator: Operator, grid: &str, neurons: &[NeuronMatches], earlier: &[Label]) -> Vec<NewLabel> {
    let mut out = Vec::new();
    let mut current = HashSet::new();
    for n in neurons {
        for m in &n.matches {
            let concept = concept(operator, &m.heuristic);
            if !current.insert((n.neuron, concept.clone())) {
                continue;
            }
            let sign = match m.sign {
                Sign::Positive => "highest",
                Sign::Negative => "lowest",
            };
            out.push(NewLabel {
                neuron: n.neuron,
                concept,
                source: SOURCE.into(),
                applies: true,
                evidence: vec![format!("score {:.2}", m.score), format!("{sign} prompts"), grid.to_string()],
                answer: m.heuristic.describe(),
            });
        }
    }
    let classified: HashSet<NeuronId> = neurons.iter().map(|n| n.neuron).collect();
    let prefix = format!("{}:", operator.key());
    for old in earlier.iter().filter(|l| l.source == SOURCE && l.applies && l.concept.starts_with(&prefix)) {
        if classified.contains(&old.neuron) && !current.contains(&(old.neuron, old.concept.clone())) {
            out.push(NewLabel {
                neuron: old.neuron,
                concept: old.concept.clone(),
                source: SOURCE.into(),
                applies: false,
                evidence: vec![format!("no longer matched on {grid}")],
                answer: String::new(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::science::heuristics::heuristic::Operand;

    fn id(layer: u32, index: u32) -> NeuronId {
        NeuronId { layer, index }
    }

    fn matched(neuron: NeuronId, found: &[(Heuristic, f32, Sign)]) -> NeuronMatches {
        NeuronMatches {
            neuron,
            matches: found
                .iter()
                .map(|(h, score, sign)| Match { heuristic: h.clone(), score: *score, sign: *sign })
                .collect(),
        }
    }

    fn stored(neuron: NeuronId, concept: &str) -> Label {
        Label {
            neuron,
            concept: concept.into(),
            source: SOURCE.into(),
            applies: true,
            evidence: vec![],
            answer: String::new(),
            time: String::new(),
        }
    }

    #[test]
    fn matches_become_labels_and_stale_ones_are_withdrawn() {
        let mod7 = Heuristic::OperandMod { op: Operand::Op1, m: 3, n: 7 };
        let neurons = [matched(id(20, 5), &[(mod7.clone(), 0.9, Sign::Negative)]), matched(id(20, 6), &[])];
        let earlier = [
            stored(id(20, 6), "add:same_operand"), // classified again, no longer matched
            stored(id(3, 1), "add:same_operand"),  // not classified this time: kept
            stored(id(20, 6), "sub:same_operand"), // another operator: kept
            stored(id(20, 5), "add:op1_3mod7"),    // matched again: replaced, not withdrawn
        ];
        let labels = labels(Operator::Add, "grid 0..50", &neurons, &earlier);
        assert_eq!(labels.len(), 2, "{labels:?}");
        assert_eq!(
            (labels[0].neuron, labels[0].concept.as_str(), labels[0].applies),
            (id(20, 5), "add:op1_3mod7", true)
        );
        assert_eq!(labels[0].evidence, ["score 0.90", "lowest prompts", "grid 0..50"]);
        assert_eq!(labels[0].answer, mod7.describe());
        assert_eq!(
            (labels[1].neuron, labels[1].concept.as_str(), labels[1].applies),
            (id(20, 6), "add:same_operand", false)
        );
    }

    #[test]
    fn coverage_counts_neurons_with_a_match_in_the_layers_asked() {
        let h = Heuristic::SameOperand;
        let neurons = [
            matched(id(2, 0), &[(h.clone(), 0.7, Sign::Positive)]),
            matched(id(20, 0), &[(h.clone(), 0.7, Sign::Positive)]),
            matched(id(20, 1), &[]),
            matched(id(29, 1), &[]),
        ];
        assert_eq!(coverage_in(&neurons, 0..30), (2, 4));
        assert_eq!(coverage_in(&neurons, 15..30), (1, 3));
    }
}
