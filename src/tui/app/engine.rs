//! Run A's engine: its messages, and asking it for what the visible panes need.
use std::collections::HashSet;

use ratatui::style::{Modifier, Style};

use super::{App, Busy, Focus};
use crate::engine::neuron::NeuronId;
use crate::tui::compare::Side;
use crate::tui::cursor::Cursor;
use crate::tui::effect::Effect;
use crate::tui::engine_messages::{EngineCmd, EngineMsg, Job};
use crate::tui::label_build::BuildState;
use crate::tui::label_worker::LabelCmd;
use crate::tui::ui::layout;

impl App {
    /// A message of run A's worker.
    pub fn on_engine(&mut self, msg: EngineMsg) -> Vec<Effect> {
        let mut effects = Vec::new();
        match msg {
            EngineMsg::Status(s) => self.say(s),
            EngineMsg::Loaded(info) => {
                self.say(format!("{} loaded: {} layers × {} neurons", info.name, info.layers, info.d_ff));
                effects.push(Effect::Labels(LabelCmd::Open { fingerprint: info.fingerprint.clone() }));
                self.layer = self.layer.min(info.layers.saturating_sub(1));
                self.model = Some(info);
                self.label_build = BuildState::Unknown;
                self.projections.clear();
                self.requested.clear();
                self.exemplars.reset();
                if self.compare.open {
                    effects.extend(self.request_reasoning());
                }
            }
            EngineMsg::Shared(model) => effects.extend(self.adopt(model)),
            EngineMsg::Progress { job, done, total } => self.busy = Some(Busy { job, done, total }),
            EngineMsg::Snapshot(s) => {
                let old_len = self.snapshot.as_ref().map_or(0, |o| o.len());
                if self.snapshot.as_ref().is_some_and(|o| o.generation > s.generation) {
                    return Vec::new();
                }
                // Follow the end of the text while generating at it.
                if self.position.at_end(old_len) {
                    self.position = Cursor::At(s.len().saturating_sub(1));
                }
                self.snapshot = Some(s);
                self.recount(Side::A);
            }
            EngineMsg::Projection(p) => {
                self.requested.remove(&p.neuron);
                self.projections.insert(p.neuron, p);
            }
            EngineMsg::Detail(d) => {
                if Some(d.neuron) == self.detail_neuron {
                    self.detail = Some(d);
                }
            }
            EngineMsg::Exemplars(found) => self.on_exemplars_found(found),
            EngineMsg::Shading(s) => self.on_shading(&s),
            EngineMsg::Lens(l) => self.lens = Some(l),
            EngineMsg::Grid(g) => self.on_grid(g),
            EngineMsg::Knockout(k) => self.on_knockout(k),
            EngineMsg::NextTokens(n) => self.compare.next[Side::A.index()] = Some(n),
            EngineMsg::LabelBuild(m) => effects.extend(self.on_label_build(m)),
            EngineMsg::Idle => {
                self.in_flight = self.in_flight.saturating_sub(1);
                if self.in_flight == 0 {
                    self.busy = None;
                    self.grids.settled();
                    // A knockout that did not answer failed or was cancelled: K may ask again.
                    if let Some(heatmap) = self.modes.heatmap_mut() {
                        heatmap.knockout_pending = None;
                    }
                }
            }
            EngineMsg::Error(e) => self.error(e),
        }
        effects.extend(self.refresh());
        effects
    }

    /// Clamps the selection to what exists, recomputes the rows, and asks the engine for what the
    /// visible panes need and do not have yet.
    pub fn refresh(&mut self) -> Vec<Effect> {
        // The prompt shows its cursor only while it is edited.
        let cursor = |on: bool| if on { Style::new().add_modifier(Modifier::REVERSED) } else { Style::new() };
        let editing = self.editing();
        self.prompt.set_cursor_style(cursor(editing == Some(Side::A)));
        self.compare.prompt.set_cursor_style(cursor(editing == Some(Side::B)));
        let layers = self.layers();
        self.layer = self.layer.min(layers.saturating_sub(1));
        let n = self.snapshot.as_ref().map_or(0, |s| s.len());
        self.position = self.position.clamped(n);
        self.refresh_rows();
        self.row = self.row.min(self.rows.get(self.layer).map_or(0, |r| r.len().saturating_sub(1)));
        self.follow_selection();
        let mut effects = self.refresh_compare();
        effects.extend(self.refresh_exemplars());
        let can_project = self.busy.is_none() || self.busy.is_some_and(|b| b.job != Job::Prefill);
        if let Some(review) = self.modes.review() {
            // Review shows one neuron's projection; the next one's is fetched ahead.
            let items = review.items.as_deref().unwrap_or(&[]);
            let wanted: Vec<NeuronId> = items
                .iter()
                .skip(review.at)
                .take(2)
                .map(|i| i.label.neuron)
                .filter(|n| !self.projections.contains_key(n))
                .collect();
            if can_project && self.model.is_some() && wanted.iter().any(|n| !self.requested.contains(n)) {
                self.requested = wanted.iter().copied().collect();
                effects.push(Effect::Engine(Side::A, EngineCmd::Project { neurons: wanted }));
            }
            return effects;
        }
        let Some(snapshot) = self.snapshot.clone() else {
            // Before any run the detail still shows what needs no text: the neuron's projection
            // and its exemplars.
            let shown = self.detail_neuron.filter(|_| layout::detail_shown(self.size, self));
            if let Some(neuron) = shown.filter(|n| !self.projections.contains_key(n) && !self.requested.contains(n)) {
                if can_project && self.model.is_some() {
                    self.requested = HashSet::from([neuron]);
                    effects.push(Effect::Engine(Side::A, EngineCmd::Project { neurons: vec![neuron] }));
                }
            }
            return effects;
        };
        if can_project {
            let b = if self.compare.open { self.compare.rows.get(self.layer).map_or(&[][..], |r| r) } else { &[] };
            let b = b.iter().map(|h| NeuronId { layer: self.layer as u32, index: h.index });
            let wanted: Vec<NeuronId> = layout::visible_layers(self.size, self)
                .flat_map(|l| self.rows[l].iter().map(move |h| NeuronId { layer: l as u32, index: h.index }))
                .chain(b)
                .filter(|n| !self.projections.contains_key(n))
                .collect();
            if !wanted.is_empty() && wanted.iter().any(|n| !self.requested.contains(n)) {
                self.requested = wanted.iter().copied().collect();
                effects.push(Effect::Engine(Side::A, EngineCmd::Project { neurons: wanted }));
            }
        }
        if self.busy.is_none() {
            if let Some(neuron) = self.detail_neuron.filter(|_| layout::detail_shown(self.size, self)) {
                if self.requested_detail != Some((neuron, snapshot.generation)) {
                    self.requested_detail = Some((neuron, snapshot.generation));
                    effects.push(Effect::Engine(Side::A, EngineCmd::Detail { neuron }));
                }
            }
            let position = self.position();
            if self.show_lens && n > 0 && self.requested_lens != Some((position, snapshot.generation)) {
                self.requested_lens = Some((position, snapshot.generation));
                effects.push(Effect::Engine(Side::A, EngineCmd::Lens { position }));
            }
        }
        effects
    }

    /// On a wide screen the detail shows the layer pane's selected neuron, except while the detail
    /// or lens pane has the focus (the detail keeps its neuron while it is read or scrolled).
    fn follow_selection(&mut self) {
        if !layout::detail_follows(self.size, self) || matches!(self.focus, Focus::Detail | Focus::Lens) {
            return;
        }
        let Some(neuron) = self.selected_neuron() else { return };
        if self.detail_neuron != Some(neuron) {
            self.detail_neuron = Some(neuron);
            self.detail_pinned = false;
            self.detail_scroll = 0;
        }
    }

    /// After a cancel `side`'s worker drops queued requests; ask again for what is still missing.
    pub fn cancelled(&mut self, side: Side) {
        if side == Side::A {
            self.requested.clear();
            self.requested_detail = None;
            self.requested_lens = None;
            self.exemplars.requested.clear();
        }
        self.compare.requested_next[side.index()] = None;
    }
}
