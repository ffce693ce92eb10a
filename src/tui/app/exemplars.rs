//! The exemplars' part of the reducer: what the worker found when the model loaded, reading the
//! shown neuron's lists, asking the worker to shade the page on screen, and the paging keys.
use super::App;
use crate::engine::neuron::NeuronId;
use crate::science::exemplars::context::Context;
use crate::tui::compare::Side;
use crate::tui::effect::Effect;
use crate::tui::engine_messages::EngineCmd;
use crate::tui::exemplars::{Found, NeuronView, Shading, NO_EXEMPLARS};
use crate::tui::ui::layout;

impl App {
    /// The neuron whose exemplars are on screen: the label's under review, else the detail's.
    pub fn exemplar_neuron(&self) -> Option<NeuronId> {
        let r = layout::regions(self.size, self);
        if r.review.area() > 0 {
            return self.modes.review()?.current().map(|i| i.label.neuron);
        }
        self.detail_neuron.filter(|_| r.detail.area() > 0)
    }

    pub(super) fn on_exemplars_found(&mut self, found: Found) {
        if let Found::Broken(e) = &found {
            self.error(format!("exemplars: {e}"));
        }
        self.exemplars.found = Some(found);
    }

    pub(super) fn on_shading(&mut self, shading: &Shading) {
        self.exemplars.shaded(shading);
    }

    /// A neuron's exemplars as read from the file (see [`Effect::ReadExemplars`]).
    pub fn on_exemplars(&mut self, neuron: NeuronId, view: Result<NeuronView, String>) -> Vec<Effect> {
        if let Err(e) = &view {
            self.error(e.clone());
        }
        self.exemplars.show(neuron, view);
        self.refresh()
    }

    /// Reads the shown neuron's exemplars when they are not yet read, and asks the worker for the
    /// m of the page's contexts not yet shaded nor asked for.
    pub(super) fn refresh_exemplars(&mut self) -> Vec<Effect> {
        let Some(neuron) = self.exemplar_neuron() else { return Vec::new() };
        let Some(Found::File(source)) = self.exemplars.found.clone() else { return Vec::new() };
        let x = &mut self.exemplars;
        let view = match x.view_of(neuron) {
            Some(Ok(view)) => view.clone(),
            Some(Err(_)) => return Vec::new(),
            None if x.reading == Some(neuron) => return Vec::new(),
            None => {
                x.reading = Some(neuron);
                return vec![Effect::ReadExemplars(source, neuron)];
            }
        };
        if self.model.is_none() {
            return Vec::new();
        }
        let missing: Vec<Context> = view
            .page(x.list, x.page)
            .iter()
            .filter(|c| !x.shading.contains_key(&c.key()))
            .map(|c| c.context.clone())
            .collect();
        if missing.iter().all(|c| x.requested.contains(&(c.record.doc, c.record.pos))) {
            return Vec::new();
        }
        x.request += 1;
        x.requested = missing.iter().map(|c| (c.record.doc, c.record.pos)).collect();
        vec![Effect::Engine(Side::A, EngineCmd::Shade { request: x.request, neuron, contexts: missing })]
    }

    /// The exemplar keys: `by` pages within the list, or the next list.
    pub(super) fn page_exemplars(&mut self, by: Option<isize>) {
        if self.exemplar_neuron().is_none() {
            self.error("exemplars show in the neuron detail (Enter opens it) and in review");
            return;
        }
        match &self.exemplars.found {
            Some(Found::File(_)) => {}
            Some(Found::Nothing) => return self.error(NO_EXEMPLARS),
            Some(Found::Broken(e)) => return self.error(format!("exemplars: {e}")),
            None => return self.error("the model is still loading"),
        }
        match by {
            Some(by) => self.exemplars.step_page(by),
            None => self.exemplars.next_list(),
        }
    }
}
