//! The worker's knockout job for heatmap mode: the CLI's `knockout --by heuristic` with its
//! defaults, limited to the heuristics the neuron shown matches, so its table answers "do the
//! neurons implementing this neuron's heuristics matter for the answers they should matter for?".
use std::collections::HashSet;

use super::grid::LoadedGrid;
use crate::engine::error::Result;
use crate::engine::neuron::NeuronId;
use crate::engine::session::{Control, Session};
use crate::engine::EngineError;
use crate::science::heuristics::classify::ClassifySettings;
use crate::science::heuristics::knockout::{by_heuristic, ByHeuristicSettings, HeuristicKnockout};
use crate::science::heuristics::labelling::{classify_all, groups};
use crate::science::heuristics::maps::MapSettings;

/// A knockout's rows, with the neuron and grid they were asked for so a late answer for another
/// neuron can be told apart.
#[derive(Debug, Clone, PartialEq)]
pub struct KnockoutResult {
    pub neuron: NeuronId,
    pub settings: MapSettings,
    pub rows: Vec<HeuristicKnockout>,
}

/// Classifies the grid's neurons of the upper half of the model's layers (the CLI's default),
/// groups them by heuristic and zeroes each group of `heuristics` in turn.
pub fn run(
    session: &Session,
    grid: &LoadedGrid,
    neuron: NeuronId,
    heuristics: &[String],
    control: Control,
) -> Result<KnockoutResult> {
    let tokenizer =
        session.tokenizer().ok_or_else(|| EngineError::NoTokenizer("a knockout needs the model's tokenizer".into()))?;
    let from = session.model().config().num_layers / 2;
    let maps = &grid.maps;
    let neurons = classify_all(maps, &grid.catalog, &ClassifySettings::default(), from);
    let wanted: HashSet<&String> = heuristics.iter().collect();
    let groups: Vec<_> = groups(maps, &neurons).into_iter().filter(|g| wanted.contains(&g.name)).collect();
    let settings = ByHeuristicSettings { limit: heuristics.len(), ..ByHeuristicSettings::default() };
    let rows = by_heuristic(session.model().as_ref(), tokenizer, maps, &groups, settings, control)?;
    Ok(KnockoutResult { neuron, settings: maps.settings.clone(), rows })
}
