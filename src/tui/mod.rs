//! The terminal explorer: `neuronav` with no subcommand.
//!
//! Threads: input (blocking crossterm reads), the engine worker (owns the model and session), the
//! label thread (owns the label store), a ticker for the progress spinner, and the main thread,
//! which selects over their channels, runs the reducer and redraws when something changed.
pub mod action;
pub mod app;
pub mod command;
pub mod compare;
pub mod cursor;
pub mod effect;
pub mod engine_messages;
pub mod exemplars;
pub mod export;
pub mod grid;
pub mod grid_job;
pub mod heatmap;
pub mod key;
pub mod keymap;
pub mod knockout_job;
pub mod label_build;
pub mod label_worker;
pub mod labels;
pub mod modes;
pub mod prompts;
pub mod review;
pub mod snapshot;
pub mod terminal;
pub mod theme;
pub mod ui;
pub mod worker;

use std::ops::ControlFlow;
use std::path::PathBuf;
use std::time::Duration;

use color_eyre::eyre::{eyre, Result, WrapErr};
use crossbeam_channel::{select, unbounded};
use crossterm::event::{Event, KeyEventKind};

use self::app::App;
use self::compare::Side;
use self::effect::Effect;
use self::engine_messages::EngineCmd;
use self::keymap::Keymap;
use self::label_worker::LabelWorker;
use self::theme::ThemeName;
use self::worker::Engine;
use crate::engine::loader::DeviceChoice;
use crate::engine::model::{ComputeChoice, WeightDType};
use crate::paths::Paths;
use crate::science::analysis::changes::Changes;
use crate::science::analysis::counting::ReasoningSelection;
use crate::science::analysis::method_data::MethodData;
use crate::science::labels::store::LabelStore;

/// The model the explorer opens.
#[derive(Debug, Clone)]
pub struct ModelSpec {
    /// A Hugging Face Llama directory or a GGUF file; None: the default model, fetched when missing.
    pub path: Option<PathBuf>,
    pub device: DeviceChoice,
    pub dtype: WeightDType,
    /// Bytes each run's trace keeps in memory; the rest goes to a file in the cache directory.
    pub trace_memory: u64,
    pub compute: ComputeChoice,
}

/// How the explorer opens.
#[derive(Debug, Clone)]
pub struct Options {
    /// A file whose text the prompt starts with.
    pub open: Option<PathBuf>,
    /// The theme's name (dark, light, basic, plain); None: from the environment (NO_COLOR selects
    /// plain).
    pub theme: Option<String>,
    /// Neurons kept per layer and position.
    pub top_k: usize,
    /// The method's data: the picker offers its prompt variants, and `:variant` builds prompts
    /// from it unless compare mode's start says otherwise.
    pub method: MethodData,
    /// Build the vocabulary index and lexical labels in the background when the label store
    /// holds no labels for the model.
    pub auto_labels: bool,
}

/// How the explorer opens in compare mode (`neuronav compare --tui`, `neuronav intervene --tui`).
#[derive(Debug, Clone)]
pub struct CompareStart {
    pub a: String,
    pub b: String,
    /// Tokens generated on each side after the prompt, as `neuronav compare --generate` does.
    pub generate: usize,
    pub top_k: usize,
    pub reasoning: ReasoningSelection,
    /// Run B's interventions.
    pub changes: Changes,
    /// The label store [default: labels.sqlite3 in the data directory].
    pub db: Option<PathBuf>,
    /// Where `:variant` prompts come from.
    pub method: MethodData,
}

/// Set to make the explorer panic after its first frame: how the tests check that a panic
/// leaves the terminal restored.
const PANIC_FOR_TESTS: &str = "NEURONAV_TEST_PANIC";

pub fn run(model: ModelSpec, paths: Paths, options: Options, start: Option<CompareStart>) -> Result<()> {
    let (keymap, warnings) = Keymap::load(&paths.config.join("keymap.toml")).map_err(|e| eyre!(e))?;
    let theme = match &options.theme {
        Some(name) => {
            ThemeName::parse(name).ok_or_else(|| eyre!("unknown theme '{name}' (dark, light, basic, plain)"))?
        }
        None => ThemeName::from_env(),
    };
    let mut prompts = prompts::examples();
    let (variants, problems) = prompts::method_variants(&options.method);
    prompts.extend(variants);
    let mut app = App::new(keymap, prompts, theme);
    app.settings.top_k = options.top_k.max(1);
    app.settings.trace_memory = model.trace_memory;
    app.set_auto_labels(options.auto_labels);
    if let Some(file) = &options.open {
        let text =
            std::fs::read_to_string(file).wrap_err_with(|| format!("reading the prompt from {}", file.display()))?;
        app.set_prompt(&text);
    }
    if let Some(w) = warnings.into_iter().chain(problems).next() {
        app.error(w);
    }
    let mut method = options.method;
    let mut db = LabelStore::default_path(&paths.data);
    if let Some(start) = start {
        app.settings.top_k = start.top_k.max(1);
        app.start_compare(&start.a, &start.b, start.generate, start.reasoning, start.changes);
        method = start.method;
        db = start.db.unwrap_or(db);
    }
    let mut labels = LabelWorker::spawn(db);
    // Run B of compare mode: a worker of its own, over the model run A's worker loads.
    let engine_b = Engine::spawn(paths.clone());
    let engine = Engine::spawn(paths);
    engine.send(EngineCmd::Load {
        model: model.path,
        device: model.device,
        dtype: model.dtype,
        compute: model.compute,
        settings: app.settings.session(),
    });
    let mut tui = terminal::Tui::enter().wrap_err("setting up the terminal")?;
    let workers = Workers { engines: [engine, engine_b], labels: &labels, method };
    let result = main_loop(&mut tui, &mut app, &workers);
    drop(workers);
    drop(tui);
    // Verdicts still on their way to the store are committed before the process ends.
    labels.finish();
    result
}

/// What the main loop talks to.
struct Workers<'a> {
    /// Run A's engine worker and compare mode's run B's, indexed by [`Side::index`].
    engines: [Engine; 2],
    labels: &'a LabelWorker,
    method: MethodData,
}

impl Workers<'_> {
    fn engine(&self, side: Side) -> &Engine {
        &self.engines[side.index()]
    }
}

fn main_loop(tui: &mut terminal::Tui, app: &mut App, workers: &Workers) -> Result<()> {
    let (engine, engine_b, labels) = (workers.engine(Side::A), workers.engine(Side::B), workers.labels);
    let size = tui.terminal.size()?;
    app.on_resize(size.width, size.height);
    let (input_tx, input) = unbounded();
    std::thread::Builder::new().name("input".into()).spawn(move || loop {
        let event = crossterm::event::read();
        let failed = event.is_err();
        if input_tx.send(event).is_err() || failed {
            return;
        }
    })?;
    let ticker = crossbeam_channel::tick(Duration::from_millis(120));
    let panic_for_tests = std::env::var_os(PANIC_FOR_TESTS).is_some();
    let mut dirty = true;
    loop {
        if dirty {
            tui.terminal.draw(|frame| ui::draw(frame, app)).wrap_err("drawing the screen")?;
            if panic_for_tests {
                panic!("{PANIC_FOR_TESTS} is set");
            }
        }
        let effects = select! {
            recv(input) -> event => {
                dirty = true;
                match event.map_err(|_| eyre!("the input thread stopped"))?.wrap_err("reading the terminal")? {
                    Event::Key(k) if k.kind != KeyEventKind::Release => app.on_key(k),
                    Event::Paste(text) => { app.on_paste(&text); app.refresh() }
                    Event::Mouse(m) => app.on_mouse(m),
                    Event::Resize(w, h) => app.on_resize(w, h),
                    _ => Vec::new(),
                }
            }
            recv(engine.rx) -> msg => {
                dirty = true;
                let Ok(msg) = msg else { return Err(eyre!("the engine stopped")) };
                let mut effects = app.on_engine(msg);
                // A burst (projections) is drawn once.
                while let Ok(more) = engine.rx.try_recv() {
                    effects.extend(app.on_engine(more));
                }
                effects
            }
            recv(engine_b.rx) -> msg => {
                dirty = true;
                let Ok(msg) = msg else { return Err(eyre!("run B's engine stopped")) };
                app.on_engine_b(msg)
            }
            recv(labels.rx) -> msg => {
                dirty = true;
                match msg {
                    Ok(msg) => app.on_labels(msg),
                    // The label thread ends only after the UI lets go of it.
                    Err(_) => return Err(eyre!("the label thread stopped")),
                }
            }
            recv(ticker) -> _ => {
                dirty = app.is_busy();
                Vec::new()
            }
        };
        for effect in effects {
            if do_effect(effect, app, workers).is_break() {
                return Ok(());
            }
        }
    }
}

/// Does what the reducer asked for and hands the outcome back to the app; breaks to quit.
fn do_effect(effect: Effect, app: &mut App, workers: &Workers) -> ControlFlow<()> {
    match effect {
        Effect::Engine(side, cmd) => workers.engine(side).send(cmd),
        Effect::Labels(cmd) => workers.labels.send(cmd),
        Effect::Cancel(side) => {
            workers.engine(side).cancel();
            app.cancelled(side);
        }
        Effect::Quit => return ControlFlow::Break(()),
        Effect::Export { path, contents } => {
            let result = export::write_atomically(&path, &contents);
            app.on_exported(&path, result);
        }
        Effect::ReadPrompt(side, path) => {
            let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()));
            app.on_prompt_file(side, &path, text);
        }
        Effect::ReadExemplars(source, neuron) => {
            let view = source.read(neuron);
            for effect in app.on_exemplars(neuron, view) {
                do_effect(effect, app, workers)?;
            }
        }
        Effect::VariantPrompt { side, variant, question } => {
            let (what, text) = prompts::variant_prompt(&workers.method, &variant, question);
            app.on_prompt_for(side, &what, text);
        }
    }
    ControlFlow::Continue(())
}
