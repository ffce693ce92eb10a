//! The reducer of heatmap mode: opening a neuron's operand-grid heatmap, asking the worker once for
//! a grid's maps, the mode's keys, knockouts of the shown neuron's heuristics, and closing back to
//! where it was opened.
use std::sync::Arc;

use super::{App, Busy, Focus};
use crate::engine::neuron::NeuronId;
use crate::science::heuristics::maps::MapSettings;
use crate::tui::action::Action;
use crate::tui::compare::Side;
use crate::tui::effect::Effect;
use crate::tui::engine_messages::{EngineCmd, Job};
use crate::tui::grid::{GridChoice, LoadedGrid};
use crate::tui::heatmap::HeatmapMode;
use crate::tui::knockout_job::KnockoutResult;
use crate::tui::ui::heatmap::{ColorDepth, Zoom};
use crate::tui::ui::{heatmap_screen, layout};

impl App {
    /// Opens the heatmap of the review item, the detail pane's neuron or the layer pane's cursor.
    pub(super) fn open_heatmap(&mut self) -> Vec<Effect> {
        let Some((list, at)) = self.heatmap_list() else {
            self.error("no neuron selected");
            return Vec::new();
        };
        let settings = match self.grid_settings() {
            Ok(s) => s,
            Err(e) => {
                self.error(e);
                return Vec::new();
            }
        };
        self.modes.open_heatmap(HeatmapMode::new(list, at, settings));
        self.load_grid()
    }

    /// The neurons the heatmap steps through, and the one it opens on.
    fn heatmap_list(&self) -> Option<(Vec<NeuronId>, usize)> {
        if let Some(review) = self.modes.review() {
            let list: Vec<NeuronId> = review.items.iter().flatten().map(|i| i.label.neuron).collect();
            return (!list.is_empty()).then_some((list, review.at));
        }
        let neuron = match self.focus {
            Focus::Detail => self.detail_neuron,
            _ => self.selected_neuron(),
        }?;
        let rows: Vec<NeuronId> = self
            .rows
            .get(neuron.layer as usize)
            .map_or(Vec::new(), |hits| hits.iter().map(|h| NeuronId { layer: neuron.layer, index: h.index }).collect());
        Some(match rows.iter().position(|&n| n == neuron) {
            Some(at) => (rows, at),
            None => (vec![neuron], 0),
        })
    }

    fn grid_settings(&self) -> Result<MapSettings, String> {
        let model = self.model.as_ref().ok_or("the model is still loading")?;
        self.grids.choice.settings(model.layers)
    }

    /// Gives the open heatmap its grid's maps when they are in memory, or asks the worker for them
    /// unless it already was.
    fn load_grid(&mut self) -> Vec<Effect> {
        let (Some(mode), Some(model)) = (self.modes.heatmap_mut(), &self.model) else { return Vec::new() };
        if let Some(grid) = self.grids.get(&mode.settings) {
            mode.set_grid(grid);
            return Vec::new();
        }
        if !self.grids.request(&mode.settings) {
            return Vec::new();
        }
        let (settings, fingerprint) = (mode.settings.clone(), model.fingerprint.clone());
        let prompts = settings.spec.problems().count();
        self.start(Busy { job: Job::Grid, done: 0, total: prompts });
        self.say(format!("grid {}: reading its maps from the cache or running its {prompts} prompts", settings.spec));
        vec![Effect::Engine(Side::A, EngineCmd::Grid { fingerprint, settings })]
    }

    /// A grid's maps arrived: kept for every later neuron, and shown if the heatmap waits for them.
    pub(super) fn on_grid(&mut self, grid: Arc<LoadedGrid>) {
        let maps = &grid.maps;
        self.say(format!(
            "grid {}: the model answers {:.1}% of its prompts",
            maps.settings.spec,
            100.0 * maps.accuracy()
        ));
        if let Some(mode) = self.modes.heatmap_mut() {
            mode.set_grid(grid.clone());
        }
        self.grids.insert(grid);
    }

    /// `:grid`: the grid of every heatmap from now on; the open one switches to it, and otherwise
    /// the selected neuron's opens.
    pub(super) fn choose_grid(&mut self, choice: GridChoice) -> Vec<Effect> {
        self.grids.choice = choice;
        if self.modes.heatmap().is_none() {
            return self.open_heatmap();
        }
        match self.grid_settings() {
            Ok(settings) => {
                if let Some(mode) = self.modes.heatmap_mut() {
                    mode.set_settings(settings);
                }
                self.load_grid()
            }
            Err(e) => {
                self.error(e);
                Vec::new()
            }
        }
    }

    /// `K`: asks the worker to knock out, one at a time, the heuristics the shown neuron matches;
    /// says why not when the maps are not in, the neuron is not in them or matches none.
    fn knockout_shown(&mut self) -> Vec<Effect> {
        let Some(mode) = self.modes.heatmap_mut() else { return Vec::new() };
        let neuron = mode.neuron;
        let Some(grid) = mode.grid.clone().filter(|_| mode.has_neuron()) else {
            self.error(format!("no maps of {neuron} to read its heuristics from"));
            return Vec::new();
        };
        if mode.heuristics.is_empty() {
            self.say(format!("{neuron} matches no heuristic: nothing to knock out"));
            return Vec::new();
        }
        if mode.knockout_pending == Some(neuron) {
            self.say(format!("the knockout of {neuron}'s heuristics is already running"));
            return Vec::new();
        }
        mode.knockout_pending = Some(neuron);
        let heuristics = mode.heuristics.clone();
        self.say(format!("knocking out {}: {}", neuron, heuristics.join(", ")));
        self.start(Busy { job: Job::Knockout, done: 0, total: 0 });
        vec![Effect::Engine(Side::A, EngineCmd::Knockout { grid, neuron, heuristics })]
    }

    /// A knockout's answer: shown if it is for the neuron asked for last.
    pub(super) fn on_knockout(&mut self, result: Arc<KnockoutResult>) {
        if let Some(mode) = self.modes.heatmap_mut() {
            mode.set_knockout(result);
        }
    }

    /// Closes the heatmap; the job building its maps or a knockout, if one still runs, is
    /// cancelled with it.
    pub(super) fn close_heatmap(&mut self) -> Vec<Effect> {
        let Some(mode) = self.modes.close_heatmap() else { return Vec::new() };
        let loading = mode.grid.is_none() && self.grids.is_requested(&mode.settings);
        if loading || mode.knockout_pending.is_some() {
            self.say("cancelling…");
            return vec![Effect::Cancel(Side::A)];
        }
        Vec::new()
    }

    /// The keys heatmap mode gives their own meaning; None for those that work as everywhere.
    pub(super) fn heatmap_action(&mut self, action: Action) -> Option<Vec<Effect>> {
        if action == Action::KnockoutHeuristics {
            return self.modes.heatmap().is_some().then(|| self.knockout_shown());
        }
        let layers = self.layers();
        let area = heatmap_screen::areas(&layout::regions(self.size, self), self.modes.heatmap()?).map;
        let depth = ColorDepth::for_theme(self.theme.name);
        let mode = self.modes.heatmap_mut()?;
        // Pages and zooms are sized by the map's area, which a resize may have changed.
        mode.view.fit(area, depth);
        match action {
            Action::Up => mode.view.move_by(-1, 0),
            Action::Down => mode.view.move_by(1, 0),
            Action::Left => mode.view.move_by(0, -1),
            Action::Right => mode.view.move_by(0, 1),
            Action::PageUp => mode.view.page_by(-1, 0),
            Action::PageDown => mode.view.page_by(1, 0),
            Action::Top => mode.view.home(),
            Action::Bottom => mode.view.end(),
            Action::Zoom if mode.view.zoom() == Zoom::Fine => mode.view.zoom_in(),
            Action::Zoom => mode.view.zoom_out(),
            Action::ToggleMap => mode.toggle_kind(),
            Action::PrevNeuron => mode.step(-1),
            Action::NextNeuron => mode.step(1),
            Action::PrevLayer => mode.change_layer(-1, layers),
            Action::NextLayer => mode.change_layer(1, layers),
            _ => return None,
        }
        Some(Vec::new())
    }
}
