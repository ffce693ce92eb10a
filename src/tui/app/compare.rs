//! The reducer of compare mode: run B's engine messages, the run and step keys driving both runs,
//! prompt B, the reasoning neurons, and the marks and interventions that make B differ from A.
use std::sync::Arc;

use super::{App, Busy, Focus};
use crate::engine::neuron::NeuronId;
use crate::science::analysis::ablation::{check_ids, AblationMode};
use crate::science::analysis::changes::Changes;
use crate::science::analysis::counting::{ReasoningNeurons, ReasoningSelection};
use crate::tui::compare::{self, Side};
use crate::tui::effect::Effect;
use crate::tui::engine_messages::{EngineCmd, EngineMsg, Job, SharedModel};
use crate::tui::label_worker::LabelCmd;

impl App {
    /// Whether run A or run B is computing.
    pub fn is_busy(&self) -> bool {
        self.busy.is_some() || self.compare.busy.is_some()
    }

    /// Cancels whichever runs compute.
    pub(super) fn cancel_jobs(&mut self) -> Vec<Effect> {
        self.say("cancelling…");
        let mut effects = Vec::new();
        if self.busy.is_some() {
            effects.push(Effect::Cancel(Side::A));
        }
        if self.compare.busy.is_some() {
            effects.push(Effect::Cancel(Side::B));
        }
        effects
    }

    /// Starts run B's session over the model run A loaded.
    pub(super) fn adopt(&mut self, model: SharedModel) -> Vec<Effect> {
        self.compare.adopted = true;
        self.start_b(Job::Loading, 0);
        let settings = self.settings.session();
        vec![Effect::Engine(Side::B, EngineCmd::Adopt { model, settings })]
    }

    /// A setting for run B's session, once it has one (it starts with A's settings).
    pub(super) fn to_b(&self, cmd: EngineCmd) -> Option<Effect> {
        self.compare.adopted.then_some(Effect::Engine(Side::B, cmd))
    }

    /// A message of run B's worker.
    pub fn on_engine_b(&mut self, msg: EngineMsg) -> Vec<Effect> {
        let b = &mut self.compare;
        match msg {
            EngineMsg::Status(s) => self.say(format!("B: {s}")),
            EngineMsg::Loaded(info) => b.model = Some(info),
            EngineMsg::Progress { job, done, total } => b.busy = Some(Busy { job, done, total }),
            EngineMsg::Snapshot(s) => {
                if b.snapshot.as_ref().is_some_and(|o| o.generation > s.generation) {
                    return Vec::new();
                }
                b.snapshot = Some(s);
                self.recount(Side::B);
            }
            EngineMsg::NextTokens(n) => b.next[Side::B.index()] = Some(n),
            EngineMsg::Idle => {
                b.in_flight = b.in_flight.saturating_sub(1);
                if b.in_flight == 0 {
                    b.busy = None;
                }
            }
            EngineMsg::Error(e) => self.error(format!("B: {e}")),
            // B's worker is asked for none of these.
            EngineMsg::Shared(_)
            | EngineMsg::Projection(_)
            | EngineMsg::Detail(_)
            | EngineMsg::Exemplars(_)
            | EngineMsg::Shading(_)
            | EngineMsg::Lens(_)
            | EngineMsg::Grid(_)
            | EngineMsg::Knockout(_)
            | EngineMsg::LabelBuild(_) => {}
        }
        let mut effects = self.autorun();
        effects.extend(self.refresh());
        effects
    }

    /// Opens in compare mode with these prompts, reasoning neurons and interventions; both runs
    /// start, and generate `generate` tokens, once both sessions exist.
    pub fn start_compare(
        &mut self,
        a: &str,
        b: &str,
        generate: usize,
        reasoning: ReasoningSelection,
        changes: Changes,
    ) {
        self.set_prompt(a);
        self.compare.set_prompt(b);
        self.compare.reasoning = reasoning;
        self.compare.changes = changes;
        self.compare.open = true;
        self.autorun = Some(generate);
    }

    /// Opens compare mode (B starts as A's prompt) or closes it.
    pub(super) fn toggle_compare(&mut self) -> Vec<Effect> {
        self.compare.open = !self.compare.open;
        if !self.compare.open {
            self.modes.stop_editing(Side::B);
            self.say("compare mode closed; c opens it again");
            return Vec::new();
        }
        if matches!(self.focus, Focus::Detail | Focus::Lens) {
            self.focus = Focus::Layers;
        }
        if self.compare.prompt_text().trim().is_empty() {
            let text = if self.last_prompt.is_empty() { self.prompt_text() } else { self.last_prompt.clone() };
            self.compare.set_prompt(&text);
        }
        self.say("compare mode: r and s drive A and B (D chooses), I edits prompt B, c closes");
        self.request_reasoning()
    }

    /// Compare mode has no room for the neuron detail and the logit lens: opening them leaves it.
    pub(super) fn leave_compare(&mut self) {
        if self.compare.open {
            self.compare.open = false;
            self.modes.stop_editing(Side::B);
            self.say("compare mode closed for the detail; c opens it again");
        }
    }

    pub(super) fn edit_prompt_b(&mut self) -> Vec<Effect> {
        let effects = if self.compare.open { Vec::new() } else { self.toggle_compare() };
        self.modes.edit(Some(Side::B));
        self.focus = Focus::Prompt;
        effects
    }

    /// Opens compare mode if needed, then loads prompt B as `effect` says.
    pub(super) fn prompt_b_from(&mut self, effect: Effect) -> Vec<Effect> {
        let mut effects = if self.compare.open { Vec::new() } else { self.toggle_compare() };
        effects.push(effect);
        effects
    }

    /// A prompt for `side` was read or built (or could not be); `what` says from where.
    pub fn on_prompt_for(&mut self, side: Side, what: &str, text: Result<String, String>) {
        match text {
            Ok(t) => {
                match side {
                    Side::A => self.set_prompt(&t),
                    Side::B => self.compare.set_prompt(&t),
                }
                self.say(format!("prompt {} from {what}; r runs it", side.name()));
            }
            Err(e) => self.error(e),
        }
    }

    // ---- running both ---------------------------------------------------------------------------

    pub(super) fn run_driven(&mut self) -> Vec<Effect> {
        if !self.compare.open {
            return self.run_prompt();
        }
        let mut effects = Vec::new();
        if self.compare.drive.drives(Side::A) {
            effects.extend(self.run_prompt());
        }
        if self.compare.drive.drives(Side::B) {
            effects.extend(self.run_b());
        }
        effects
    }

    pub(super) fn step_driven(&mut self, n: usize) -> Vec<Effect> {
        if !self.compare.open {
            return self.step(n);
        }
        let mut effects = Vec::new();
        if self.compare.drive.drives(Side::A) {
            effects.extend(self.step(n));
        }
        if self.compare.drive.drives(Side::B) {
            effects.extend(self.step_b(n));
        }
        effects
    }

    pub(super) fn step_back_driven(&mut self) -> Vec<Effect> {
        let mut effects = Vec::new();
        if (!self.compare.open || self.compare.drive.drives(Side::A)) && self.ready() {
            effects.push(Effect::Engine(Side::A, EngineCmd::StepBack));
        }
        if self.compare.open && self.compare.drive.drives(Side::B) && self.compare.snapshot.is_some() {
            effects.push(Effect::Engine(Side::B, EngineCmd::StepBack));
        }
        effects
    }

    fn start_b(&mut self, job: Job, total: usize) {
        self.compare.in_flight += 1;
        self.compare.busy.get_or_insert(Busy { job, done: 0, total });
    }

    fn run_b(&mut self) -> Vec<Effect> {
        let text = self.compare.prompt_text();
        if text.trim().is_empty() {
            self.error("prompt B is empty: I edits it, P picks one");
            return Vec::new();
        }
        if !self.ready() {
            return Vec::new();
        }
        self.modes.stop_editing(Side::B);
        self.compare.last_prompt = text.clone();
        self.start_b(Job::Prefill, 0);
        vec![Effect::Engine(Side::B, EngineCmd::RunPrompt { text })]
    }

    fn step_b(&mut self, n: usize) -> Vec<Effect> {
        let Some(s) = &self.compare.snapshot else {
            self.error("run B first (r)");
            return Vec::new();
        };
        if self.settings.stop_at_eos && self.compare.in_flight == 0 && s.at_eos {
            self.error("text B ended (EOS); press e to continue past it");
            return Vec::new();
        }
        self.queue_step_b(n, self.settings.stop_at_eos)
    }

    fn queue_step_b(&mut self, n: usize, stop_at_eos: bool) -> Vec<Effect> {
        self.start_b(Job::Generating, n);
        vec![Effect::Engine(Side::B, EngineCmd::Step { n, stop_at_eos })]
    }

    /// Once both sessions exist, runs both prompts and generates as the explorer was opened to
    /// (`neuronav compare --tui`), with run B's interventions.
    fn autorun(&mut self) -> Vec<Effect> {
        let Some(n) = self.autorun.filter(|_| self.model.is_some() && self.compare.model.is_some()) else {
            return Vec::new();
        };
        self.autorun = None;
        // Interventions named on the command line meet the model only now.
        if !self.known(&self.compare.changes.neurons()) {
            self.compare.changes = Default::default();
        }
        let mut effects = self.intervention_effects();
        effects.extend(self.run_prompt());
        effects.extend(self.run_b());
        if n > 0 {
            effects.extend(self.queue_step(n, false));
            effects.extend(self.queue_step_b(n, false));
        }
        effects
    }

    // ---- what B is position by position ---------------------------------------------------------

    /// B's selected position: aligned with A's at the last prompt tokens.
    pub fn position_b(&self) -> Option<usize> {
        let b = self.compare.snapshot.as_ref().filter(|b| !b.is_empty())?;
        Some(match &self.snapshot {
            Some(a) if !a.is_empty() => compare::aligned(self.position().min(a.len() - 1), a, b),
            _ => b.len() - 1,
        })
    }

    /// B's rows and the next-token candidates of both selected positions.
    pub(super) fn refresh_compare(&mut self) -> Vec<Effect> {
        if !self.compare.open {
            return Vec::new();
        }
        let b = self.position_b();
        let top = self.compare.snapshot.as_ref().zip(b).and_then(|(s, p)| s.top.get(p));
        self.compare.rows = self.rows_of(top.map(Vec::as_slice));
        let mut effects = Vec::new();
        if let Some(a) = self.snapshot.as_ref().filter(|s| !s.is_empty() && self.busy.is_none()) {
            let wanted = (self.position().min(a.len() - 1), a.generation);
            if self.compare.requested_next[0] != Some(wanted) {
                self.compare.requested_next[0] = Some(wanted);
                effects.push(Effect::Engine(Side::A, EngineCmd::NextTokens { position: wanted.0 }));
            }
        }
        if let (Some(s), Some(p), None) = (&self.compare.snapshot, b, self.compare.busy) {
            if self.compare.requested_next[1] != Some((p, s.generation)) {
                self.compare.requested_next[1] = Some((p, s.generation));
                effects.push(Effect::Engine(Side::B, EngineCmd::NextTokens { position: p }));
            }
        }
        effects
    }

    // ---- reasoning neurons ----------------------------------------------------------------------

    pub(super) fn request_reasoning(&mut self) -> Vec<Effect> {
        self.compare.neurons = None;
        self.recount(Side::A);
        self.recount(Side::B);
        if self.model.is_none() {
            // Asked again once the model, whose fingerprint keys the labels, is loaded.
            return Vec::new();
        }
        let r = &self.compare.reasoning;
        vec![Effect::Labels(LabelCmd::Reasoning { concepts: r.concept_keys(), sources: r.sources.clone() })]
    }

    pub(super) fn on_reasoning(&mut self, concepts: Vec<String>, sources: Vec<String>, neurons: Arc<ReasoningNeurons>) {
        let r = &self.compare.reasoning;
        if concepts != r.concept_keys() || sources != r.sources {
            return; // an answer to an older choice
        }
        if neurons.is_empty() {
            let text = format!("no reasoning neurons ({}): {}", r.describe(), self.how_to_get_labels());
            self.error(text);
        }
        self.compare.neurons = Some(neurons);
        self.recount(Side::A);
        self.recount(Side::B);
    }

    /// Counts `side`'s activations anew.
    pub(super) fn recount(&mut self, side: Side) {
        let snapshot = match side {
            Side::A => &self.snapshot,
            Side::B => &self.compare.snapshot,
        };
        self.compare.activations[side.index()] = match (snapshot, &self.compare.neurons) {
            (Some(s), Some(n)) => compare::counted(s, n),
            _ => Default::default(),
        };
    }

    pub(super) fn set_reasoning(&mut self, concepts: Option<Vec<String>>, sources: Option<Vec<String>>) -> Vec<Effect> {
        if let Some(c) = concepts {
            self.compare.reasoning.concepts = c;
        }
        if let Some(s) = sources {
            self.compare.reasoning.sources = s;
        }
        self.say(format!("reasoning neurons: {}", self.compare.reasoning.describe()));
        self.request_reasoning()
    }

    /// Every source, then each source of the loaded labels alone.
    pub(super) fn cycle_reasoning_source(&mut self) -> Vec<Effect> {
        let sources = self.labels.sources();
        let next = match self.compare.reasoning.sources.first() {
            None => sources.first().cloned(),
            Some(s) => sources.iter().skip_while(|x| *x != s).nth(1).cloned(),
        };
        self.set_reasoning(None, Some(next.into_iter().collect()))
    }

    // ---- interventions --------------------------------------------------------------------------

    pub(super) fn toggle_mark(&mut self) {
        let Some(id) = self.selected_neuron() else {
            self.error("no neuron selected");
            return;
        };
        if !self.compare.marked.remove(&id) {
            self.compare.marked.insert(id);
        }
        let n = self.compare.marked.len();
        self.say(format!("{n} marked; x zeroes them in run B, :ablate noise adds the method's noise"));
    }

    /// Ablates `ids` (none: the marked neurons) in run B.
    pub(super) fn ablate(&mut self, mode: AblationMode, ids: Vec<NeuronId>) -> Vec<Effect> {
        let ids = if ids.is_empty() { self.compare.marked.iter().copied().collect() } else { ids };
        if ids.is_empty() {
            self.error("no neuron marked: m marks the selected one, or :ablate L21N7027,L3N5");
            return Vec::new();
        }
        if !self.known(&ids) {
            return Vec::new();
        }
        if mode == AblationMode::Noise {
            self.compare.changes.seed = self.settings.seed;
        }
        ids.iter().for_each(|id| {
            self.compare.marked.remove(id);
        });
        self.compare.changes.ablate(&ids, mode);
        self.apply_changes()
    }

    pub(super) fn scale(&mut self, scaled: Vec<(NeuronId, f32)>) -> Vec<Effect> {
        let ids: Vec<NeuronId> = scaled.iter().map(|s| s.0).collect();
        if !self.known(&ids) {
            return Vec::new();
        }
        scaled.into_iter().for_each(|(id, f)| self.compare.changes.scale(id, f));
        self.apply_changes()
    }

    pub(super) fn clear_changes(&mut self) -> Vec<Effect> {
        if self.compare.changes.is_empty() {
            self.error("run B has no interventions");
            return Vec::new();
        }
        self.compare.changes = Default::default();
        self.apply_changes()
    }

    /// Whether every id is a neuron of the model; says which is not.
    fn known(&mut self, ids: &[NeuronId]) -> bool {
        let Some(m) = &self.model else {
            self.error("the model is still loading");
            return false;
        };
        match check_ids(ids, m.layers, m.d_ff) {
            Ok(()) => true,
            Err(e) => {
                self.error(e.to_string());
                false
            }
        }
    }

    fn intervention_effects(&self) -> Vec<Effect> {
        let d_model = self.model.as_ref().map_or(0, |m| m.d_model);
        vec![Effect::Engine(Side::B, EngineCmd::SetInterventions(self.compare.changes.build(d_model)))]
    }

    /// Gives run B its interventions and reruns it on A's prompt as far as A has generated, so
    /// that the two differ by the interventions alone.
    fn apply_changes(&mut self) -> Vec<Effect> {
        let mut effects = if self.compare.open { Vec::new() } else { self.toggle_compare() };
        effects.extend(self.intervention_effects());
        let what = self.compare.changes.describe();
        let Some(generated) = self.snapshot.as_ref().map(|s| s.generated()) else {
            self.say(format!("run B's interventions: {what}; r runs A and B"));
            return effects;
        };
        self.compare.set_prompt(&self.last_prompt.clone());
        effects.extend(self.run_b());
        if generated > 0 {
            effects.extend(self.queue_step_b(generated, false));
        }
        self.say(format!("run B: A's prompt with interventions: {what}"));
        effects
    }
}
