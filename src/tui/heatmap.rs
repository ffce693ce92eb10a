//! Heatmap mode: one neuron's K or KV map over an operand grid, full screen, with the cell cursor,
//! the list of neurons it steps through and what the side panel shows. Plain state; the reducer in
//! `app/heatmap.rs` drives it and `ui/heatmap_screen.rs` draws it.
use std::sync::Arc;

use super::grid::LoadedGrid;
use super::knockout_job::KnockoutResult;
use super::ui::heatmap::{CellReadout, HeatmapView, ImportanceRank, MapKind, Sign};
use crate::engine::neuron::NeuronId;
use crate::science::heuristics::classify::{self, classify, ClassifySettings, Match};
use crate::science::heuristics::importance::{rank_layer, Importance};
use crate::science::heuristics::maps::MapSettings;

/// Number tokens the side panel lists, best first.
const TOP_TOKENS: usize = 8;

#[derive(Debug)]
pub struct HeatmapMode {
    pub neuron: NeuronId,
    /// The neurons `[` and `]` step through: the layer pane's rows, or the review queue, when the
    /// mode was opened; `at` is the place in it, kept when `H`/`L` change the layer.
    pub list: Vec<NeuronId>,
    pub at: usize,
    pub kind: MapKind,
    pub view: HeatmapView,
    /// The grid shown; its maps may still be on their way.
    pub settings: MapSettings,
    pub grid: Option<Arc<LoadedGrid>>,
    /// The shown map, row-major `[op1 rows × op2 cols]`, NaN where illegal; empty while the maps
    /// are not in or when they do not hold the neuron.
    pub values: Vec<f32>,
    /// The value vector's centred logits for the grid's answer tokens, best first.
    pub top_tokens: Vec<(String, f32)>,
    /// The heuristics the neuron implements (method defaults), as the panel lists them, best first.
    pub matches: Vec<(String, f32)>,
    /// The end of the shown map its best match is scored on (Positive when none reads this map).
    pub sign: Sign,
    /// The names of the heuristics in `matches`, once each: what a knockout zeroes.
    pub heuristics: Vec<String>,
    /// The shown layer's neurons ranked by direct-logit importance, kept while the neuron moves
    /// within the layer (a layer is thousands of maps).
    ranked: Option<(usize, Vec<Importance>)>,
    /// The neuron whose knockout the worker was last asked for and has not answered yet.
    pub knockout_pending: Option<NeuronId>,
    /// The latest knockout's answer, kept while other neurons are shown.
    pub knockout: Option<Arc<KnockoutResult>>,
}

impl HeatmapMode {
    /// The mode on `list[at]` for the grid of `settings`, before its maps are in.
    pub fn new(list: Vec<NeuronId>, at: usize, settings: MapSettings) -> HeatmapMode {
        let spec = &settings.spec;
        HeatmapMode {
            neuron: list[at],
            view: HeatmapView::new(spec.op1.clone(), spec.op2.clone()),
            list,
            at,
            kind: MapKind::K,
            settings,
            grid: None,
            values: Vec::new(),
            top_tokens: Vec::new(),
            matches: Vec::new(),
            sign: Sign::Positive,
            heuristics: Vec::new(),
            ranked: None,
            knockout_pending: None,
            knockout: None,
        }
    }

    /// Shows another grid: the cursor starts again at the top left.
    pub fn set_settings(&mut self, settings: MapSettings) {
        self.view = HeatmapView::new(settings.spec.op1.clone(), settings.spec.op2.clone());
        self.settings = settings;
        self.grid = None;
        self.ranked = None;
        self.recompute();
    }

    /// The maps arrived; ignored unless they are of the grid shown.
    pub fn set_grid(&mut self, grid: Arc<LoadedGrid>) {
        if *grid.settings() == self.settings {
            self.grid = Some(grid);
            self.ranked = None;
            self.recompute();
        }
    }

    /// Whether the maps hold the neuron (false while they are not in).
    pub fn has_neuron(&self) -> bool {
        !self.values.is_empty()
    }

    pub fn toggle_kind(&mut self) {
        self.kind = match self.kind {
            MapKind::K => MapKind::Kv,
            MapKind::Kv => MapKind::K,
        };
        self.recompute();
    }

    /// Moves `by` places in the list, stopping at its ends.
    pub fn step(&mut self, by: isize) {
        self.at = self.at.saturating_add_signed(by).min(self.list.len() - 1);
        self.neuron = self.list[self.at];
        self.recompute();
    }

    /// The same neuron index `by` layers on, within the model's `layers`.
    pub fn change_layer(&mut self, by: isize, layers: usize) {
        let layer = (self.neuron.layer as usize).saturating_add_signed(by).min(layers.saturating_sub(1));
        self.neuron = NeuronId { layer: layer as u32, index: self.neuron.index };
        self.recompute();
    }

    /// Stores a knockout's answer if it is the one asked for last, for the grid shown; an older
    /// one, for a neuron shown before, is dropped. Returns whether it was stored.
    pub fn set_knockout(&mut self, result: Arc<KnockoutResult>) -> bool {
        if self.knockout_pending != Some(result.neuron) || result.settings != self.settings {
            return false;
        }
        self.knockout_pending = None;
        self.knockout = Some(result);
        true
    }

    /// The neuron's direct-logit importance and its rank in its layer (1 = most important).
    pub fn importance(&self) -> Option<ImportanceRank> {
        let (_, ranked) = self.ranked.as_ref().filter(|(l, _)| *l == self.neuron.layer as usize)?;
        let at = ranked.iter().position(|i| i.neuron == self.neuron)?;
        let i = &ranked[at];
        Some(ImportanceRank { mean: i.mean, std: i.std, rank: at + 1, of: ranked.len() })
    }

    /// What the side panel says of the cell under the cursor; None where the cell is illegal or
    /// the map is not shown.
    pub fn readout(&self) -> Option<CellReadout> {
        let grid = self.grid.as_ref().filter(|_| self.has_neuron())?;
        let (row, col) = self.view.cursor();
        let cell = row * self.view.cols() + col;
        let spec = &self.settings.spec;
        let problem = spec.problem(cell)?;
        let outcome = grid.maps.outcomes[cell].as_ref()?;
        Some(CellReadout {
            prompt: spec.suffix(&problem),
            value: self.values[cell],
            model_answer: outcome.answer.clone(),
            correct: outcome.correct,
        })
    }

    /// Reads the neuron's map and tokens out of the grid, after the neuron, map kind or grid changed.
    fn recompute(&mut self) {
        self.values.clear();
        self.top_tokens.clear();
        self.matches.clear();
        self.heuristics.clear();
        self.sign = Sign::Positive;
        let Some(grid) = &self.grid else { return };
        let (layer, index) = (self.neuron.layer as usize, self.neuron.index as usize);
        let (Some(k), Some(kv)) = (grid.maps.k_map(0, layer, index), grid.maps.kv_map(0, layer, index)) else {
            return;
        };
        let matches = classify(&grid.catalog, &k, &kv, &ClassifySettings::default());
        let shown = |m: &&Match| m.heuristic.reads_result() == (self.kind == MapKind::Kv);
        if let Some(best) = matches.iter().find(shown) {
            self.sign = match best.sign {
                classify::Sign::Positive => Sign::Positive,
                classify::Sign::Negative => Sign::Negative,
            };
        }
        self.matches = matches.iter().map(|m| (describe(m), m.score)).collect();
        for name in matches.iter().map(|m| m.heuristic.name()) {
            if !self.heuristics.contains(&name) {
                self.heuristics.push(name);
            }
        }
        if self.ranked.as_ref().is_none_or(|(l, _)| *l != layer) {
            self.ranked = rank_layer(&grid.maps, layer).map(|r| (layer, r));
        }
        self.values = match self.kind {
            MapKind::K => k,
            MapKind::Kv => kv,
        };
        let mut tokens: Vec<(String, f32)> = grid
            .maps
            .target_logits(layer, index)
            .expect("the map exists")
            .into_iter()
            .zip(&grid.token_texts)
            .map(|((_, logit), text)| (text.clone(), logit))
            .collect();
        tokens.sort_by(|a, b| b.1.total_cmp(&a.1));
        tokens.truncate(TOP_TOKENS);
        self.top_tokens = tokens;
    }
}

/// `result ≡ 8 (mod 10) · KV`: the heuristic and the map it was read on, with "low" when the
/// neuron implements it by its most negative values.
fn describe(m: &Match) -> String {
    let map = if m.heuristic.reads_result() { "KV" } else { "K" };
    let low = if m.sign == classify::Sign::Negative { " low" } else { "" };
    format!("{} · {map}{low}", m.heuristic.describe())
}
