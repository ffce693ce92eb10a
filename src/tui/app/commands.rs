//! Commands: the `:` line and the other lines confirmed with Enter, the picker's choice, running
//! and stepping run A, sampling, export, and the files the main loop read or wrote.
use std::path::{Path, PathBuf};

use super::{App, Busy, Focus};
use crate::engine::neuron::NeuronId;
use crate::engine::sampling::Sampling;
use crate::science::labels::label::VerdictKind;
use crate::tui::command::{self, Command, ExportScope};
use crate::tui::compare::Side;
use crate::tui::cursor::Cursor;
use crate::tui::effect::Effect;
use crate::tui::engine_messages::{EngineCmd, Job};
use crate::tui::export;
use crate::tui::modes::{LineKind, Overlay};
use crate::tui::theme::{Theme, ThemeName};

impl App {
    /// Enter in the picker or on a line.
    pub(super) fn confirm(&mut self) -> Vec<Effect> {
        match self.modes.overlay.take() {
            Some(Overlay::Picker { selected, side }) => self.pick(selected, side),
            Some(Overlay::Line(kind, line)) => self.confirm_line(kind, &line.lines().join(" ")),
            other => {
                self.modes.overlay = other;
                Vec::new()
            }
        }
    }

    /// Loads the picker's entry `selected` as `side`'s prompt; B's opens compare mode.
    fn pick(&mut self, selected: usize, side: Side) -> Vec<Effect> {
        if let Some(entry) = self.prompts.get(selected).cloned() {
            self.on_prompt_for(side, &format!("'{}'", entry.name), Ok(entry.text));
            if side == Side::B && !self.compare.open {
                return self.toggle_compare();
            }
        }
        Vec::new()
    }

    fn confirm_line(&mut self, kind: LineKind, text: &str) -> Vec<Effect> {
        match kind {
            LineKind::Command => match command::parse(text) {
                Ok(cmd) => self.run_command(cmd),
                Err(e) => {
                    self.error(e);
                    Vec::new()
                }
            },
            LineKind::Search => {
                self.start_search(text.trim());
                Vec::new()
            }
            LineKind::Note => {
                self.keep_note(text.trim());
                Vec::new()
            }
            LineKind::Correct => match text.split_whitespace().collect::<Vec<_>>().as_slice() {
                [concept] => self.judge(VerdictKind::Disagree, Some(concept.to_string())),
                _ => {
                    self.error("a corrected concept is one word (add, subtract, …)");
                    Vec::new()
                }
            },
        }
    }

    /// Runs a command of the command line.
    pub fn execute(&mut self, cmd: Command) -> Vec<Effect> {
        let mut effects = self.run_command(cmd);
        effects.extend(self.refresh());
        effects
    }

    fn run_command(&mut self, cmd: Command) -> Vec<Effect> {
        match cmd {
            Command::Quit => return vec![Effect::Quit],
            Command::GotoNeuron(n) => self.goto_neuron(n),
            Command::SelectLayer(l) => {
                if l >= self.layers() {
                    self.error(format!("layer {l} is not in this model ({} layers)", self.layers()));
                } else {
                    self.layer = l;
                    self.focus = Focus::Layers;
                }
            }
            Command::SelectPosition(p) => self.position = Cursor::At(p),
            Command::TopK(k) => {
                self.settings.top_k = k;
                let mut effects = vec![Effect::Engine(Side::A, EngineCmd::SetTopK(k))];
                effects.extend(self.to_b(EngineCmd::SetTopK(k)));
                return effects;
            }
            Command::StepCount(n) => {
                self.settings.step_count = n;
                self.say(format!("S generates {n} tokens"));
            }
            Command::Temperature(t) => {
                self.settings.temperature = t;
                self.settings.greedy = t == 0.0;
                return self.sampling_changed();
            }
            Command::TopP(p) => {
                self.settings.top_p = p;
                return self.sampling_changed();
            }
            Command::Seed(s) => {
                self.settings.seed = s;
                return self.sampling_changed();
            }
            Command::Export { scope, path } => return self.export(scope, path),
            Command::OpenPrompt(path) => return vec![Effect::ReadPrompt(Side::A, path)],
            Command::FilterConcept(c) => {
                self.label_filter.concept = c;
                self.row = 0;
            }
            Command::FilterSource(s) => {
                self.label_filter.source = s;
                self.row = 0;
            }
            Command::Theme(name) => match ThemeName::parse(&name) {
                Some(t) => self.theme = Theme::new(t),
                None => self.error(format!("unknown theme '{name}' (dark, light, basic, plain)")),
            },
            Command::Help => self.modes.overlay = Some(Overlay::Help { scroll: 0 }),
            Command::Review { source, concept, answers } => return self.open_review(source, concept, answers),
            Command::Grid(choice) => return self.choose_grid(choice),
            Command::OpenPromptB(path) => return self.prompt_b_from(Effect::ReadPrompt(Side::B, path)),
            Command::Variant { side: Side::A, name, question } => {
                return vec![Effect::VariantPrompt { side: Side::A, variant: name, question }]
            }
            Command::Variant { side: Side::B, name, question } => {
                return self.prompt_b_from(Effect::VariantPrompt { side: Side::B, variant: name, question })
            }
            Command::Ablate { mode, ids } => return self.ablate(mode, ids),
            Command::Scale(scaled) => return self.scale(scaled),
            Command::ClearInterventions => return self.clear_changes(),
            Command::Reasoning { concepts, sources } => return self.set_reasoning(concepts, sources),
        }
        Vec::new()
    }

    /// `:goto`: selects the neuron's layer (and its row, when listed) and opens its detail.
    fn goto_neuron(&mut self, n: NeuronId) {
        let (layers, d_ff) = self.model.as_ref().map_or((0, 0), |m| (m.layers, m.d_ff));
        if n.layer as usize >= layers || n.index as usize >= d_ff {
            self.error(format!("{n} is not in this model ({layers} layers × {d_ff} neurons)"));
            return;
        }
        self.layer = n.layer as usize;
        self.refresh_rows();
        if let Some(row) = self.rows[self.layer].iter().position(|h| h.index == n.index) {
            self.row = row;
        }
        self.open_neuron(n);
    }

    pub(super) fn open_neuron(&mut self, neuron: NeuronId) {
        self.leave_compare();
        self.detail_neuron = Some(neuron);
        self.detail_pinned = true;
        self.detail = self.detail.take().filter(|d| d.neuron == neuron);
        self.detail_scroll = 0;
        self.focus = Focus::Detail;
    }

    // ---- running A --------------------------------------------------------------------------------

    /// Whether the engine can take a job; jobs sent while one runs wait their turn.
    pub(super) fn ready(&mut self) -> bool {
        if self.model.is_none() {
            self.error("the model is still loading");
            return false;
        }
        true
    }

    /// Marks a long job of run A as sent.
    pub(super) fn start(&mut self, busy: Busy) {
        self.in_flight += 1;
        if self.busy.is_none() {
            self.busy = Some(busy);
        }
    }

    pub(super) fn run_prompt(&mut self) -> Vec<Effect> {
        let text = self.prompt_text();
        if text.trim().is_empty() {
            self.error("the prompt is empty: press i to type one or p to pick one");
            return Vec::new();
        }
        if !self.ready() {
            return Vec::new();
        }
        self.modes.stop_editing(Side::A);
        if self.focus == Focus::Prompt {
            self.focus = Focus::Layers;
        }
        self.last_prompt = text.clone();
        self.start(Busy { job: Job::Prefill, done: 0, total: 0 });
        self.position = Cursor::FollowEnd;
        vec![Effect::Engine(Side::A, EngineCmd::RunPrompt { text })]
    }

    pub(super) fn step(&mut self, n: usize) -> Vec<Effect> {
        if self.snapshot.is_none() {
            self.error("run a prompt first (r)");
            return Vec::new();
        }
        if !self.ready() {
            return Vec::new();
        }
        if self.settings.stop_at_eos && self.in_flight == 0 && self.snapshot.as_ref().is_some_and(|s| s.at_eos) {
            self.error("the text ended (EOS); press e to continue past it");
            return Vec::new();
        }
        self.queue_step(n, self.settings.stop_at_eos)
    }

    /// Sends a step without checking that there is text to step on (it may still be running).
    pub(super) fn queue_step(&mut self, n: usize, stop_at_eos: bool) -> Vec<Effect> {
        self.start(Busy { job: Job::Generating, done: 0, total: n });
        vec![Effect::Engine(Side::A, EngineCmd::Step { n, stop_at_eos })]
    }

    pub(super) fn sampling_changed(&mut self) -> Vec<Effect> {
        let sampling = self.settings.sampling();
        self.say(match sampling {
            Sampling::Greedy => "greedy decoding".to_string(),
            Sampling::Random { temperature, top_p, seed } => {
                format!("sampling T={temperature} top-p={top_p} seed={seed}")
            }
        });
        let mut effects = vec![Effect::Engine(Side::A, EngineCmd::SetSampling(sampling))];
        effects.extend(self.to_b(EngineCmd::SetSampling(sampling)));
        effects
    }

    // ---- files ------------------------------------------------------------------------------------

    fn export(&mut self, scope: Option<ExportScope>, path: PathBuf) -> Vec<Effect> {
        let scope = scope.unwrap_or(match self.focus {
            Focus::Detail => ExportScope::Neuron,
            Focus::Layers | Focus::Lens => ExportScope::Position,
            Focus::Prompt | Focus::Tokens => ExportScope::Session,
        });
        match export::render(self, scope, &path) {
            Ok(contents) => vec![Effect::Export { path, contents }],
            Err(e) => {
                self.error(e);
                Vec::new()
            }
        }
    }

    /// `side`'s prompt file was read (or could not be).
    pub fn on_prompt_file(&mut self, side: Side, path: &Path, text: Result<String, String>) {
        match (side, text) {
            (Side::A, Ok(t)) => {
                self.set_prompt(&t);
                self.say(format!("prompt loaded from {}; r runs it", path.display()));
            }
            (Side::B, text) => self.on_prompt_for(Side::B, &path.display().to_string(), text),
            (Side::A, Err(e)) => self.error(e),
        }
    }

    pub fn on_exported(&mut self, path: &Path, result: Result<(), String>) {
        match result {
            Ok(()) => self.say(format!("exported to {}", path.display())),
            Err(e) => self.error(e),
        }
    }
}
