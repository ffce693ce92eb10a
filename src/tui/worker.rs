//! The engine worker: the one thread that owns the model and the `Session`. The UI sends it
//! commands and receives plain-data results; it never waits on it.
//!
//! Cancellation: `Engine::cancel` bumps an epoch and raises a flag. Commands are stamped with the
//! epoch they were sent in; the worker skips commands sent before the latest cancel and lowers the
//! flag before running a current one, so a cancel pressed while idle does not kill the next run.
//! Shading requests have a stamp and a flag of their own: a newer one stops the one running.
use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use crossbeam_channel::{Receiver, Sender, TryRecvError};

use super::engine_messages::{EngineCmd, EngineMsg, Job, SharedModel};
use super::exemplars::{ExemplarSource, Found, Shading};
use super::grid::LoadedGrid;
use super::grid_job;
use super::knockout_job;
use super::label_build::{LabelBuild, LabelBuildMsg, Outcome};
use super::snapshot::*;
use crate::engine::default_model;
use crate::engine::loader::{self, DeviceChoice};
use crate::engine::model::{ComputeChoice, WeightDType};
use crate::engine::neuron::NeuronId;
use crate::engine::sampling::top_tokens;
use crate::engine::session::{Control, Session, SessionSettings};
use crate::engine::tokenizer::Tokenizer;
use crate::engine::EngineError;
use crate::paths::Paths;
use crate::science::exemplars::context::{self, Context};
use crate::science::heuristics::maps::MapSettings;
use crate::science::projection::{project, ProjectionSettings, TokenLogit};

/// Tokens shown at each end of a neuron's projection.
const PROJECTION_TOKENS: usize = 12;
/// Next-token candidates of a `NextTokens` answer.
const NEXT_TOKENS: usize = 5;

/// The UI's handle on the worker.
pub struct Engine {
    tx: Option<Sender<(u64, EngineCmd)>>,
    pub rx: Receiver<EngineMsg>,
    epoch: Arc<AtomicU64>,
    flag: Arc<AtomicBool>,
    shade: Arc<LatestShade>,
}

/// The latest shading request sent, and the flag that stops an older one while it runs.
#[derive(Default)]
struct LatestShade {
    request: AtomicU64,
    stop: AtomicBool,
}

impl Engine {
    pub fn spawn(paths: Paths) -> Engine {
        let (tx, cmd_rx) = crossbeam_channel::unbounded();
        let (msg_tx, rx) = crossbeam_channel::unbounded();
        let epoch = Arc::new(AtomicU64::new(0));
        let flag = Arc::new(AtomicBool::new(false));
        let shade = Arc::new(LatestShade::default());
        let worker = Worker {
            rx: cmd_rx,
            tx: msg_tx,
            epoch: epoch.clone(),
            flag: flag.clone(),
            paths,
            session: None,
            generation: 0,
            queued: VecDeque::new(),
            projections: VecDeque::new(),
            cache: HashMap::new(),
            label_build: None,
            exemplars: None,
            shade: shade.clone(),
        };
        std::thread::Builder::new()
            .name("engine".into())
            .spawn(move || worker.run())
            .expect("spawning the engine thread");
        Engine { tx: Some(tx), rx, epoch, flag, shade }
    }

    pub fn send(&self, cmd: EngineCmd) {
        if let EngineCmd::Shade { request, .. } = &cmd {
            // The stamp first: a worker that lowers the flag for an older request then sees it.
            self.shade.request.store(*request, Ordering::SeqCst);
            self.shade.stop.store(true, Ordering::SeqCst);
        }
        if let Some(tx) = &self.tx {
            // A closed channel means the worker is gone; its last message already said why.
            let _ = tx.send((self.epoch.load(Ordering::SeqCst), cmd));
        }
    }

    /// Stops the running job at its next layer and drops every command not yet started.
    pub fn cancel(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.flag.store(true, Ordering::SeqCst);
    }
}

impl Drop for Engine {
    /// Stops the worker without waiting for it: a model load cannot be interrupted, and quitting
    /// must not wait for one.
    fn drop(&mut self) {
        self.cancel();
        self.tx = None;
    }
}

struct Worker {
    rx: Receiver<(u64, EngineCmd)>,
    tx: Sender<EngineMsg>,
    epoch: Arc<AtomicU64>,
    flag: Arc<AtomicBool>,
    paths: Paths,
    session: Option<Session>,
    /// Bumped whenever the session's text or ranking changes.
    generation: u64,
    queued: VecDeque<(u64, EngineCmd)>,
    /// Neurons still to project for the latest `Project` request.
    projections: VecDeque<NeuronId>,
    cache: HashMap<NeuronId, Arc<ProjectionView>>,
    /// The background label build, done a slice at a time when nothing else waits.
    label_build: Option<LabelBuild>,
    /// The loaded model's exemplar file, for shading its contexts.
    exemplars: Option<Arc<ExemplarSource>>,
    shade: Arc<LatestShade>,
}

impl Worker {
    fn run(mut self) {
        loop {
            if !self.fill_queue() {
                return;
            }
            if let Some((epoch, cmd)) = self.queued.pop_front() {
                if !self.current(epoch) {
                    // Every long job ends with Idle, also one dropped unstarted, so the UI's count
                    // of running jobs stays true.
                    if is_long(&cmd) {
                        self.say(EngineMsg::Idle);
                    }
                    continue;
                }
                self.handle(cmd);
            } else if let Some(neuron) = self.projections.pop_front() {
                // Projecting reads the unembedding, which must not be read from a truncated file.
                if let Err(e) = self.session.as_ref().map_or(Ok(()), |s| s.model().check_files()) {
                    self.projections.clear();
                    self.say(EngineMsg::Error(e.to_string()));
                } else if let Some(view) = self.projection(neuron) {
                    self.say(EngineMsg::Projection(view));
                }
            } else if self.label_build.is_some() {
                self.build_labels();
            } else {
                match self.rx.recv() {
                    Ok(c) => self.accept(c),
                    Err(_) => return,
                }
            }
        }
    }

    /// Moves everything waiting on the channel into the queue. Returns false once the UI has
    /// hung up.
    fn fill_queue(&mut self) -> bool {
        loop {
            match self.rx.try_recv() {
                Ok(c) => self.accept(c),
                Err(TryRecvError::Empty) => return true,
                Err(TryRecvError::Disconnected) => return false,
            }
        }
    }

    /// Queues a command, keeping only the latest of the cursor-driven queries; a projection
    /// request replaces the projections still to do.
    fn accept(&mut self, (epoch, cmd): (u64, EngineCmd)) {
        match cmd {
            EngineCmd::Project { neurons } => {
                if self.current(epoch) {
                    self.projections = neurons.into();
                }
            }
            // Background work: not stamped by cancels, which stop the user's jobs only.
            EngineCmd::BuildLabels { fingerprint } => self.label_build = Some(LabelBuild::new(fingerprint)),
            EngineCmd::StopLabels => self.label_build = None,
            cmd => {
                if matches!(
                    cmd,
                    EngineCmd::Detail { .. }
                        | EngineCmd::Lens { .. }
                        | EngineCmd::NextTokens { .. }
                        | EngineCmd::Shade { .. }
                ) {
                    let kind = std::mem::discriminant(&cmd);
                    self.queued.retain(|(_, c)| std::mem::discriminant(c) != kind);
                }
                self.queued.push_back((epoch, cmd));
            }
        }
    }

    /// Whether a command sent in `epoch` is still wanted; lowers the cancel flag if so.
    fn current(&self, epoch: u64) -> bool {
        if epoch != self.epoch.load(Ordering::SeqCst) {
            return false;
        }
        self.flag.store(false, Ordering::SeqCst);
        epoch == self.epoch.load(Ordering::SeqCst)
    }

    fn say(&self, msg: EngineMsg) {
        let _ = self.tx.send(msg);
    }

    fn handle(&mut self, cmd: EngineCmd) {
        let long = is_long(&cmd);
        let result = match cmd {
            EngineCmd::Load { model, device, dtype, compute, settings } => {
                self.load(model, device, (dtype, compute), settings)
            }
            EngineCmd::Adopt { model, settings } => self.adopt(model, settings),
            EngineCmd::RunPrompt { text } => self.run_prompt(&text),
            EngineCmd::Step { n, stop_at_eos } => self.step(n, stop_at_eos),
            EngineCmd::StepBack => self.step_back(),
            EngineCmd::Project { .. } | EngineCmd::BuildLabels { .. } | EngineCmd::StopLabels => {
                unreachable!("accept() takes projection requests and the label build")
            }
            EngineCmd::Detail { neuron } => self.detail(neuron),
            EngineCmd::Shade { request, neuron, contexts } => self.shade(request, neuron, &contexts),
            EngineCmd::Lens { position } => self.lens(position),
            EngineCmd::SetTopK(k) => self.with_session(|s| s.set_top_k(k)),
            EngineCmd::NextTokens { position } => self.next_tokens(position),
            EngineCmd::SetSampling(sampling) => self.with_session(|s| {
                s.set_sampling(sampling);
                Ok(())
            }),
            EngineCmd::Grid { fingerprint, settings } => self.grid(&fingerprint, settings),
            EngineCmd::Knockout { grid, neuron, heuristics } => self.knockout(&grid, neuron, &heuristics),
            // Computed positions keep what they computed: the UI runs the prompt again.
            EngineCmd::SetInterventions(i) => self.with_session(|s| {
                s.set_interventions(i);
                Ok(())
            }),
        };
        match result {
            Ok(()) => {}
            Err(EngineError::Cancelled) => self.say(EngineMsg::Status("cancelled".into())),
            Err(e) => self.say(EngineMsg::Error(e.to_string())),
        }
        if long {
            self.say(EngineMsg::Idle);
        }
    }

    /// The session, once its model's files are known to be whole: every request that reads
    /// weights (projections, the lens) comes through here.
    fn session(&self) -> Result<&Session, EngineError> {
        let session = self.session.as_ref().ok_or_else(|| EngineError::NotReady("no model is loaded yet".into()))?;
        session.model().check_files()?;
        Ok(session)
    }

    fn with_session(&mut self, f: impl FnOnce(&mut Session) -> Result<(), EngineError>) -> Result<(), EngineError> {
        let session = self.session.as_mut().ok_or_else(|| EngineError::NotReady("no model is loaded yet".into()))?;
        f(session)?;
        if !session.is_empty() {
            self.publish()?;
        }
        Ok(())
    }

    fn load(
        &mut self,
        model: Option<PathBuf>,
        device: DeviceChoice,
        (dtype, compute): (WeightDType, ComputeChoice),
        settings: SessionSettings,
    ) -> Result<(), EngineError> {
        let path = match model {
            Some(p) => p,
            None => {
                let tx = self.tx.clone();
                default_model::ensure(&self.paths.cache, &|msg| {
                    let _ = tx.send(EngineMsg::Status(msg.to_string()));
                })?
            }
        };
        self.say(EngineMsg::Status(format!("loading {}", path.display())));
        let tx = self.tx.clone();
        let progress = |done, total| {
            let _ = tx.send(EngineMsg::Progress { job: Job::Loading, done, total });
        };
        let loaded = loader::load_with(&path, device, dtype, compute, &progress)?;
        if let Some(note) = &loaded.note {
            self.say(EngineMsg::Status(note.clone()));
        }
        let c = &loaded.config;
        let info = ModelInfo {
            name: loaded.name.clone(),
            path: loaded.path.display().to_string(),
            device: loaded.model.describe(),
            compute: loaded.model.compute_path(),
            layers: c.num_layers,
            d_model: c.hidden_size,
            d_ff: c.intermediate_size,
            vocab: c.vocab_size,
            eos: loaded.tokenizer.eos_id(),
            fingerprint: loaded.fingerprint.clone(),
        };
        let info = Arc::new(info);
        let tokenizer = loaded.tokenizer.clone();
        let shared = SharedModel { model: loaded.model, tokenizer: loaded.tokenizer, info: info.clone() };
        self.adopt(shared.clone(), settings)?;
        self.say(EngineMsg::Shared(shared));
        let found = ExemplarSource::find(&self.paths.cache, &loaded.fingerprint, tokenizer);
        self.exemplars = match &found {
            Found::File(source) => Some(source.clone()),
            Found::Nothing | Found::Broken(_) => None,
        };
        self.say(EngineMsg::Exemplars(found));
        Ok(())
    }

    fn adopt(&mut self, shared: SharedModel, settings: SessionSettings) -> Result<(), EngineError> {
        self.session = Some(Session::new(shared.model, shared.tokenizer, settings).spill_to(self.paths.trace_spill()));
        self.cache.clear();
        self.generation += 1;
        self.say(EngineMsg::Loaded(shared.info));
        Ok(())
    }

    fn run_prompt(&mut self, text: &str) -> Result<(), EngineError> {
        let tx = self.tx.clone();
        let progress = move |done, total| {
            let _ = tx.send(EngineMsg::Progress { job: Job::Prefill, done, total });
        };
        let flag = self.flag.clone();
        let session = self.session.as_mut().ok_or_else(|| EngineError::NotReady("no model is loaded yet".into()))?;
        let control = Control { cancel: Some(&flag), progress: Some(&progress) };
        let result = session.run_prompt(text, control);
        self.generation += 1;
        result?;
        self.publish()
    }

    fn step(&mut self, n: usize, stop_at_eos: bool) -> Result<(), EngineError> {
        let flag = self.flag.clone();
        let none = |_, _| {};
        for i in 0..n {
            self.say(EngineMsg::Progress { job: Job::Generating, done: i, total: n });
            let control = Control { cancel: Some(&flag), progress: Some(&none) };
            let session =
                self.session.as_mut().ok_or_else(|| EngineError::NotReady("no model is loaded yet".into()))?;
            let token = session.step(control)?;
            let eos = session.tokenizer().and_then(|t| t.eos_id());
            self.generation += 1;
            self.publish()?;
            if stop_at_eos && Some(token) == eos {
                self.say(EngineMsg::Status("stopped at the end of sequence".into()));
                break;
            }
        }
        Ok(())
    }

    fn step_back(&mut self) -> Result<(), EngineError> {
        let session = self.session.as_mut().ok_or_else(|| EngineError::NotReady("no model is loaded yet".into()))?;
        if !session.step_back() {
            return Err(EngineError::NotReady("nothing generated to take back".into()));
        }
        self.generation += 1;
        self.publish()
    }

    /// Sends the session as it is now.
    fn publish(&self) -> Result<(), EngineError> {
        let session = self.session()?;
        let tok = tokenizer(session)?;
        let trace = session.trace();
        let tokens: Vec<TokenView> = trace.positions().map(|p| token_view(tok, p.token())).collect();
        let top = trace.positions().map(|p| p.top().to_vec()).collect();
        let next = match tokens.len() {
            0 => Vec::new(),
            n => session.next_tokens(&[n - 1], 5)?.remove(0),
        };
        let eos = tok.eos_id();
        let snapshot = Snapshot {
            generation: self.generation,
            at_eos: session.len() > session.prompt_len() && tokens.last().map(|t| Some(t.id) == eos).unwrap_or(false),
            tokens,
            prompt_len: session.prompt_len(),
            top,
            next: next.into_iter().map(|t| TokenProbView { token: token_view(tok, t.id), prob: t.prob }).collect(),
            settings: session.settings(),
        };
        self.say(EngineMsg::Snapshot(Arc::new(snapshot)));
        Ok(())
    }

    fn projection(&mut self, neuron: NeuronId) -> Option<Arc<ProjectionView>> {
        if let Some(p) = self.cache.get(&neuron) {
            return Some(p.clone());
        }
        let session = self.session.as_ref()?;
        let c = session.model().config();
        if neuron.layer as usize >= c.num_layers || neuron.index as usize >= c.intermediate_size {
            return None;
        }
        let tok = session.tokenizer()?;
        let p =
            project(session.model().as_ref(), neuron, ProjectionSettings { n: PROJECTION_TOKENS, norm_gain: false });
        let views = |v: Vec<TokenLogit>| {
            v.into_iter().map(|t| TokenLogitView { token: token_view(tok, t.token), logit: t.logit }).collect()
        };
        let view = Arc::new(ProjectionView { neuron, top: views(p.top), bottom: views(p.bottom) });
        self.cache.insert(neuron, view.clone());
        Some(view)
    }

    fn detail(&mut self, neuron: NeuronId) -> Result<(), EngineError> {
        let session = self.session()?;
        let c = session.model().config();
        let (layer, index) = (neuron.layer as usize, neuron.index as usize);
        if layer >= c.num_layers || index >= c.intermediate_size {
            return Err(EngineError::OutOfRange(format!(
                "{neuron} is not in this model ({} layers × {} neurons)",
                c.num_layers, c.intermediate_size
            )));
        }
        let norms = &session.model().value_norms()[layer];
        let (mut m, mut rank) = (Vec::new(), Vec::new());
        for p in session.trace().positions() {
            let row = p.m(layer)?;
            let s = row[index].abs() * norms[index];
            m.push(row[index]);
            rank.push(1 + row.iter().zip(norms).filter(|(x, n)| x.abs() * **n > s).count() as u32);
        }
        let value_norm = norms[index];
        let generation = self.generation;
        let projection = self.projection(neuron).expect("checked above");
        self.say(EngineMsg::Detail(Arc::new(NeuronDetail { generation, neuron, projection, value_norm, m, rank })));
        Ok(())
    }

    /// `neuron`'s m over exemplar contexts, one document's contexts (one pass) at a time, each
    /// sent as soon as computed. Skipped or stopped once a newer request has been sent.
    fn shade(&mut self, request: u64, neuron: NeuronId, contexts: &[Context]) -> Result<(), EngineError> {
        let latest = || self.shade.request.load(Ordering::SeqCst) == request;
        if !latest() {
            return Ok(());
        }
        self.shade.stop.store(false, Ordering::SeqCst);
        if !latest() {
            return Ok(());
        }
        let session = self.session()?;
        let source = self.exemplars.as_ref().ok_or_else(|| EngineError::NotReady("no exemplar file".into()))?;
        let mut docs: Vec<u32> = Vec::new();
        for c in contexts {
            if !docs.contains(&c.record.doc) {
                docs.push(c.record.doc);
            }
        }
        for doc in docs {
            let group: Vec<Context> = contexts.iter().filter(|c| c.record.doc == doc).cloned().collect();
            let m = match context::recompute(session.model().as_ref(), source.file(), neuron, &group, &self.shade.stop)
            {
                Ok(m) => m,
                Err(EngineError::Cancelled) => return Ok(()),
                Err(e) => return Err(e),
            };
            let contexts = group.iter().map(|c| c.record).zip(m).collect();
            self.say(EngineMsg::Shading(Arc::new(Shading { neuron, contexts })));
        }
        Ok(())
    }

    /// One slice of the label build.
    fn build_labels(&mut self) {
        let Some(build) = self.label_build.as_mut() else { return };
        let result = match self.session.as_ref().and_then(|s| Some((s.model(), s.tokenizer()?))) {
            Some((model, tokenizer)) => build.step(model.as_ref(), tokenizer, &self.paths),
            None => Err("labels need a loaded model with its tokenizer".into()),
        };
        let msg = match result {
            Ok(Outcome::Progress(p)) => LabelBuildMsg::Progress(p),
            Ok(Outcome::Built(labels)) => {
                self.label_build = None;
                LabelBuildMsg::Built(Arc::new(labels))
            }
            Err(e) => {
                self.label_build = None;
                LabelBuildMsg::Failed(e)
            }
        };
        self.say(EngineMsg::LabelBuild(msg));
    }

    fn grid(&mut self, fingerprint: &str, settings: MapSettings) -> Result<(), EngineError> {
        let tx = self.tx.clone();
        let progress = move |done, total| {
            let _ = tx.send(EngineMsg::Progress { job: Job::Grid, done, total });
        };
        let flag = self.flag.clone();
        let control = Control { cancel: Some(&flag), progress: Some(&progress) };
        let grid = grid_job::load_or_build(self.session()?, &self.paths.cache, fingerprint, settings, control)?;
        self.say(EngineMsg::Grid(Arc::new(grid)));
        Ok(())
    }

    fn knockout(&mut self, grid: &LoadedGrid, neuron: NeuronId, heuristics: &[String]) -> Result<(), EngineError> {
        let tx = self.tx.clone();
        let progress = move |done, total| {
            let _ = tx.send(EngineMsg::Progress { job: Job::Knockout, done, total });
        };
        let flag = self.flag.clone();
        let control = Control { cancel: Some(&flag), progress: Some(&progress) };
        let result = knockout_job::run(self.session()?, grid, neuron, heuristics, control)?;
        self.say(EngineMsg::Knockout(Arc::new(result)));
        Ok(())
    }

    fn next_tokens(&mut self, position: usize) -> Result<(), EngineError> {
        let session = self.session()?;
        let tok = tokenizer(session)?;
        if position >= session.len() {
            return Err(EngineError::OutOfRange(format!("position {position} is not computed")));
        }
        let tokens = session.next_tokens(&[position], NEXT_TOKENS)?.remove(0);
        let tokens = tokens.into_iter().map(|t| TokenProbView { token: token_view(tok, t.id), prob: t.prob }).collect();
        self.say(EngineMsg::NextTokens(Arc::new(NextView { generation: self.generation, position, tokens })));
        Ok(())
    }

    fn lens(&mut self, position: usize) -> Result<(), EngineError> {
        let session = self.session()?;
        let tok = tokenizer(session)?;
        if position >= session.len() {
            return Err(EngineError::OutOfRange(format!("position {position} is not computed")));
        }
        let model = session.model();
        let (layers, vocab) = (model.config().num_layers, model.config().vocab_size);
        let at = session.trace().position(position);
        let mut resid = Vec::with_capacity(2 * layers * model.config().hidden_size);
        for l in 0..layers {
            resid.extend_from_slice(&at.resid_mid(l)?);
            resid.extend_from_slice(&at.resid_post(l)?);
        }
        let logits = model.logit_lens(&resid);
        let top5 = |row: usize| {
            top_tokens(&logits[row * vocab..(row + 1) * vocab], 5)
                .into_iter()
                .map(|(id, _, prob)| TokenProbView { token: token_view(tok, id), prob })
                .collect()
        };
        let lens_layers = (0..layers).map(|l| LensLayer { before: top5(2 * l), after: top5(2 * l + 1) }).collect();
        let predicted = session.next_tokens(&[position], 1)?.remove(0).remove(0).id;
        let mut contributions = Vec::new();
        for (l, hits) in at.top().iter().enumerate() {
            for h in hits {
                let row = model.project_value_vectors(l, h.index as usize, 1, false);
                let neuron = NeuronId { layer: l as u32, index: h.index };
                contributions.push(Contribution { neuron, m: h.m, logit: h.m * row[predicted as usize] });
            }
        }
        contributions.sort_by(|a, b| b.logit.total_cmp(&a.logit));
        let view = LensView {
            generation: self.generation,
            position,
            predicted: token_view(tok, predicted),
            layers: lens_layers,
            contributions,
        };
        self.say(EngineMsg::Lens(Arc::new(view)));
        Ok(())
    }
}

/// Jobs that run forward passes (or load): the UI shows them as busy and can cancel them.
fn is_long(cmd: &EngineCmd) -> bool {
    matches!(
        cmd,
        EngineCmd::Load { .. }
            | EngineCmd::Adopt { .. }
            | EngineCmd::RunPrompt { .. }
            | EngineCmd::Step { .. }
            | EngineCmd::Grid { .. }
            | EngineCmd::Knockout { .. }
    )
}

fn tokenizer(session: &Session) -> Result<&Tokenizer, EngineError> {
    session
        .tokenizer()
        .map(|t| t.as_ref())
        .ok_or_else(|| EngineError::NoTokenizer("the session has no tokenizer".into()))
}

fn token_view(tok: &Tokenizer, id: u32) -> TokenView {
    TokenView { id, text: tok.token_display(id) }
}
