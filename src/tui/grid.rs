//! Operand grids in the explorer: which grid `:grid` chose, the grids whose maps are in memory, and
//! the one being built. The maps come from the engine worker (see `grid_job`) and are kept for
//! every later neuron, so a grid is loaded or built once per run of the explorer.
use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use crate::science::heuristics::catalog::{Catalog, CatalogSettings};
use crate::science::heuristics::grid::{GridSpec, Operator};
use crate::science::heuristics::maps::{GridMaps, MapSettings};
use crate::science::heuristics::prompts::default_prefix;

/// The grid `:grid [OP] [A..B] [LA..B]` chose: the operator, the operands of both axes and the
/// layers kept (None: all). The prefix is the operator's default few-shot one, slot 0 only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GridChoice {
    pub operator: Operator,
    pub operands: Range<u32>,
    pub layers: Option<Range<usize>>,
}

impl Default for GridChoice {
    /// The `heuristics` commands' standard preset: `+` over 0..50, every layer.
    fn default() -> Self {
        GridChoice { operator: Operator::Add, operands: 0..50, layers: None }
    }
}

impl GridChoice {
    /// Reads the words after `:grid`, in any order: an operator, an operand range `A..B` and a
    /// layer range `LA..B`; what is not given keeps its default.
    pub fn parse(words: &[&str]) -> Result<GridChoice, String> {
        let mut choice = GridChoice::default();
        for &w in words {
            if let Some(layers) = w.strip_prefix(['L', 'l']) {
                let r = range(layers)?;
                choice.layers = Some(r.start as usize..r.end as usize);
            } else if w.contains("..") {
                choice.operands = range(w)?;
            } else {
                choice.operator = w.parse().map_err(|e| format!(":grid: {e}"))?;
            }
        }
        Ok(choice)
    }

    /// The map settings for a model of `n_layers` layers.
    pub fn settings(&self, n_layers: usize) -> Result<MapSettings, String> {
        let layers = self.layers.clone().unwrap_or(0..n_layers);
        if layers.end > n_layers {
            return Err(format!("layers {layers:?} go past the model's {n_layers} layers"));
        }
        let spec = GridSpec { operator: self.operator, op1: self.operands.clone(), op2: self.operands.clone() };
        Ok(MapSettings { spec, prefix: default_prefix(self.operator).into(), slots: 1, layers: layers.collect() })
    }
}

/// `A..B`, half-open and not empty.
fn range(s: &str) -> Result<Range<u32>, String> {
    let bad = || format!(":grid: '{s}' is not a range A..B (e.g. 0..50)");
    let (a, b) = s.split_once("..").ok_or_else(bad)?;
    let r = a.parse().map_err(|_| bad())?..b.parse().map_err(|_| bad())?;
    if r.is_empty() {
        return Err(format!(":grid: {s} is empty"));
    }
    Ok(r)
}

/// One grid's maps with what the UI shows next to them.
pub struct LoadedGrid {
    pub maps: Arc<GridMaps>,
    /// The text of each of `maps.target_tokens`, in that order.
    pub token_texts: Vec<String>,
    /// The grid's heuristic candidates (default budgets and moduli), built once so classifying the
    /// neuron shown is a lookup per candidate.
    pub catalog: Catalog,
}

impl LoadedGrid {
    /// `token_texts`: the text of each of `maps.target_tokens`.
    pub fn new(maps: Arc<GridMaps>, token_texts: Vec<String>) -> LoadedGrid {
        let catalog = Catalog::new(&maps.settings.spec, &CatalogSettings::default());
        LoadedGrid { maps, token_texts, catalog }
    }

    pub fn settings(&self) -> &MapSettings {
        &self.maps.settings
    }
}

impl fmt::Debug for LoadedGrid {
    /// The settings only: the maps are millions of numbers.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoadedGrid").field("settings", self.settings()).finish_non_exhaustive()
    }
}

/// The same grid: a grid's maps follow from its settings (for the one model of a run).
impl PartialEq for LoadedGrid {
    fn eq(&self, other: &Self) -> bool {
        self.settings() == other.settings()
    }
}

/// The grids of this run of the explorer.
#[derive(Debug, Default)]
pub struct Grids {
    pub choice: GridChoice,
    loaded: Vec<Arc<LoadedGrid>>,
    /// The grid the worker was asked for and has not answered yet.
    requested: Option<MapSettings>,
}

impl Grids {
    pub fn get(&self, settings: &MapSettings) -> Option<Arc<LoadedGrid>> {
        self.loaded.iter().find(|g| g.settings() == settings).cloned()
    }

    /// Records that the worker is asked for `settings`; false when it already was.
    pub fn request(&mut self, settings: &MapSettings) -> bool {
        if self.requested.as_ref() == Some(settings) {
            return false;
        }
        self.requested = Some(settings.clone());
        true
    }

    pub fn is_requested(&self, settings: &MapSettings) -> bool {
        self.requested.as_ref() == Some(settings)
    }

    pub fn insert(&mut self, grid: Arc<LoadedGrid>) {
        if self.requested.as_ref() == Some(grid.settings()) {
            self.requested = None;
        }
        self.loaded.retain(|g| g.settings() != grid.settings());
        self.loaded.push(grid);
    }

    /// The worker has nothing left to run: a request it did not answer failed or was cancelled,
    /// and may be sent again.
    pub fn settled(&mut self) {
        self.requested = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_choices_parse_in_any_order_and_bad_words_say_why() {
        assert_eq!(GridChoice::parse(&[]), Ok(GridChoice::default()));
        assert_eq!(
            GridChoice::parse(&["L20..30", "0..30", "*"]),
            Ok(GridChoice { operator: Operator::Mul, operands: 0..30, layers: Some(20..30) })
        );
        assert_eq!(GridChoice::parse(&["sub"]).unwrap().operator, Operator::Sub);
        assert!(GridChoice::parse(&["%"]).unwrap_err().contains("unknown operator"));
        assert!(GridChoice::parse(&["5..5"]).unwrap_err().contains("empty"));
        assert!(GridChoice::parse(&["0..x"]).unwrap_err().contains("A..B"));
    }

    #[test]
    fn settings_keep_every_layer_by_default_and_refuse_layers_past_the_model() {
        let s = GridChoice::default().settings(4).unwrap();
        assert_eq!((s.spec.op1.clone(), s.spec.op2.clone(), s.layers, s.slots), (0..50, 0..50, vec![0, 1, 2, 3], 1));
        assert_eq!(s.prefix, default_prefix(Operator::Add));
        let deep = GridChoice { layers: Some(2..6), ..GridChoice::default() };
        assert!(deep.settings(4).unwrap_err().contains("4 layers"));
    }
}
