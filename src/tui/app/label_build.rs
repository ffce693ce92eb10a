//! The background label build: started when the store holds no labels for the model (and the
//! setting is on) or by hand, stopped by hand, its progress and its labels, stored by the label
//! thread.
use std::sync::Arc;

use super::App;
use crate::science::labels::label::NewLabel;
use crate::tui::action::Action;
use crate::tui::compare::Side;
use crate::tui::effect::Effect;
use crate::tui::engine_messages::EngineCmd;
use crate::tui::keymap::Mode;
use crate::tui::label_build::{BuildState, LabelBuildMsg};
use crate::tui::label_worker::LabelCmd;
use crate::tui::labels::Labels;

impl App {
    /// Turns the build that starts when the store holds no labels on or off (on by default).
    pub fn set_auto_labels(&mut self, on: bool) {
        self.settings.auto_labels = on;
    }

    /// The store's labels for the model arrived: with none, the build starts if the setting is on.
    pub(super) fn on_store_labels(&mut self, labels: Labels) -> Vec<Effect> {
        self.labels = labels;
        if self.label_build != BuildState::Unknown {
            return Vec::new();
        }
        if !self.labels.is_empty() {
            self.label_build = BuildState::NotNeeded;
            return Vec::new();
        }
        if !self.settings.auto_labels {
            self.label_build = BuildState::Off { stopped: false };
            return Vec::new();
        }
        self.start_label_build()
    }

    /// The key: stops a build under way, else starts one (also over labels already stored: the
    /// lexical labels are stored anew, as `neuronav label lexical` does).
    pub(super) fn toggle_label_build(&mut self) -> Vec<Effect> {
        match self.label_build {
            BuildState::Running(_) => {
                self.label_build = BuildState::Off { stopped: true };
                self.say("stopped building labels");
                vec![Effect::Engine(Side::A, EngineCmd::StopLabels)]
            }
            BuildState::Saving { .. } => {
                self.say("the labels are built and being stored");
                Vec::new()
            }
            _ => {
                let effects = self.start_label_build();
                if !effects.is_empty() {
                    self.say("building the vocabulary index and lexical labels in the background");
                }
                effects
            }
        }
    }

    fn start_label_build(&mut self) -> Vec<Effect> {
        let Some(model) = &self.model else {
            self.error("the model is still loading");
            return Vec::new();
        };
        let fingerprint = model.fingerprint.clone();
        self.label_build = BuildState::Running(None);
        vec![Effect::Engine(Side::A, EngineCmd::BuildLabels { fingerprint })]
    }

    /// A message of the build. Those of a build stopped meanwhile are dropped.
    pub(super) fn on_label_build(&mut self, msg: LabelBuildMsg) -> Vec<Effect> {
        if !matches!(self.label_build, BuildState::Running(_)) {
            return Vec::new();
        }
        match msg {
            LabelBuildMsg::Progress(p) => self.label_build = BuildState::Running(Some(p)),
            LabelBuildMsg::Built(labels) => return self.store_built(labels),
            LabelBuildMsg::Failed(e) => {
                self.error(format!("labels could not be built: {e}"));
                self.label_build = BuildState::Failed(e);
            }
        }
        Vec::new()
    }

    fn store_built(&mut self, labels: Arc<Vec<NewLabel>>) -> Vec<Effect> {
        self.label_build = BuildState::Saving { labels: labels.len() };
        vec![Effect::Labels(LabelCmd::Add(labels))]
    }

    /// The label thread stored `added` labels; `labels` are the model's labels now.
    pub(super) fn on_labels_added(&mut self, added: usize, labels: Labels) -> Vec<Effect> {
        self.labels = labels;
        if matches!(self.label_build, BuildState::Saving { .. }) {
            self.label_build = BuildState::Done { labels: added };
        }
        // Compare mode counts the reasoning neurons these labels make.
        if self.compare.open {
            return self.request_reasoning();
        }
        Vec::new()
    }

    pub(super) fn labels_not_added(&mut self, error: String) {
        self.error(format!("the labels built could not be stored: {error}"));
        self.label_build = BuildState::Failed(error);
    }

    /// What to do for labels when no neuron is labelled with what compare mode counts.
    pub fn how_to_get_labels(&self) -> String {
        let key = self
            .keymap
            .keys_for(Mode::Normal, Action::BuildLabels)
            .unwrap_or_else(|| "a key bound to build_labels".into());
        if let Some(doing) = self.label_build.describe() {
            return format!("the lexical labels are being built in the background ({doing}); the counts fill in once they are stored");
        }
        if !self.labels.is_empty() {
            return format!(
                "no label loaded (from {}) is of these concepts and sources: :reasoning concept K,.. or source S,.. \
                 chooses others",
                self.labels.sources().join(", ")
            );
        }
        let failed = match &self.label_build {
            BuildState::Failed(e) => format!("the label build failed ({e}); "),
            _ => String::new(),
        };
        format!("{failed}{key} builds the lexical labels here, or run `neuronav label lexical` (`neuronav label llm` then asks an LLM about them)")
    }
}
