//! Labels on the first run, in the explorer's reducer without a model: the background build
//! starts when the store holds no labels, never stands in the way of a run, can be stopped and
//! started by hand, stores its labels; the status bar names each label source with its count, and
//! compare mode's summary says how to get reasoning neurons when there are none.
use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use neuronav::engine::model::ComputePath;
use neuronav::engine::neuron::{NeuronHit, NeuronId};
use neuronav::engine::session::SessionSettings;
use neuronav::science::analysis::counting::{ReasoningNeurons, ReasoningSelection};
use neuronav::science::labels::label::{Label, NewLabel};
use neuronav::tui::app::App;
use neuronav::tui::compare::Side;
use neuronav::tui::effect::Effect;
use neuronav::tui::engine_messages::{EngineCmd, EngineMsg};
use neuronav::tui::keymap::{Keymap, Mode};
use neuronav::tui::label_build::{BuildState, LabelBuildMsg, Progress, Stage};
use neuronav::tui::label_worker::{LabelCmd, LabelMsg};
use neuronav::tui::labels::Labels;
use neuronav::tui::snapshot::{ModelInfo, Snapshot, TokenView};
use neuronav::tui::theme::ThemeName;
use neuronav::tui::ui::{self, layout};
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;
use ratatui::Terminal;

const FINGERPRINT: &str = "0123456789abcdef";

fn info() -> Arc<ModelInfo> {
    Arc::new(ModelInfo {
        name: "tiny".into(),
        path: "/m/tiny".into(),
        device: "cpu f32".into(),
        layers: 3,
        d_model: 8,
        d_ff: 50,
        vocab: 100,
        eos: Some(99),
        fingerprint: FINGERPRINT.into(),
        compute: ComputePath::Exact,
    })
}

/// Three tokens; every layer l lists neurons l*10+1..=l*10+3.
fn snapshot() -> Arc<Snapshot> {
    let tokens = ["Tom", "␣has", "␣3"].iter().enumerate().map(|(i, t)| TokenView { id: i as u32, text: t.to_string() });
    let hits = |l: u32| (1..=3).map(|j| NeuronHit { index: l * 10 + j, m: 1.0, s: 4.0 - j as f32 }).collect();
    Arc::new(Snapshot {
        generation: 1,
        tokens: tokens.collect(),
        prompt_len: 3,
        top: vec![(0..3).map(hits).collect(); 3],
        next: Vec::new(),
        settings: SessionSettings::default(),
        at_eos: false,
    })
}

/// The app with the model loaded and the store's answer still to come.
fn loaded(width: u16, height: u16) -> App {
    let mut app = App::new(Keymap::builtin(), Vec::new(), ThemeName::Dark);
    app.on_resize(width, height);
    app.on_engine(EngineMsg::Loaded(info()));
    app.on_engine(EngineMsg::Idle);
    app
}

fn label(neuron: &str, concept: &str, source: &str) -> Label {
    Label {
        neuron: neuron.parse().unwrap(),
        concept: concept.into(),
        source: source.into(),
        applies: true,
        evidence: Vec::new(),
        answer: String::new(),
        time: "2026-01-01T00:00:00.000Z".into(),
    }
}

fn store(labels: Vec<Label>) -> LabelMsg {
    LabelMsg::Loaded { path: "/d/labels.sqlite3".into(), labels: Labels::from_store(labels, []) }
}

fn key(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

fn engine_cmds(effects: &[Effect]) -> Vec<&EngineCmd> {
    effects.iter().filter_map(|e| if let Effect::Engine(Side::A, c) = e { Some(c) } else { None }).collect()
}

fn screen(app: &App) -> (String, layout::Regions) {
    let mut terminal = Terminal::new(TestBackend::new(app.size().width, app.size().height)).unwrap();
    terminal.draw(|f| ui::draw(f, app)).unwrap();
    let buffer = terminal.backend().buffer().clone();
    (
        (0..buffer.area.height)
            .map(|y| (0..buffer.area.width).map(|x| buffer[(x, y)].symbol()).collect::<String>() + "\n")
            .collect(),
        layout::regions(app.size(), app),
    )
}

/// The text of `area` of the screen drawn by [`screen`].
fn region(screen: &str, area: Rect) -> String {
    screen
        .lines()
        .skip(area.y as usize)
        .take(area.height as usize)
        .map(|l| l.chars().skip(area.x as usize).take(area.width as usize).collect::<String>() + "\n")
        .collect()
}

fn status(app: &App) -> String {
    let (s, r) = screen(app);
    region(&s, r.status)
}

#[test]
fn an_empty_store_starts_the_build_which_never_stands_in_the_way_of_a_run() {
    let mut app = loaded(120, 40);
    let effects = app.on_labels(store(Vec::new()));
    assert_eq!(engine_cmds(&effects), [&EngineCmd::BuildLabels { fingerprint: FINGERPRINT.into() }]);
    assert!(status(&app).contains("⟳ labels: starting"), "{}", status(&app));
    let progress = Progress { stage: Stage::Index, done: 12, total: 48 };
    app.on_engine(EngineMsg::LabelBuild(LabelBuildMsg::Progress(progress)));
    assert!(status(&app).contains("⟳ labels 25%"), "{}", status(&app));
    assert!(app.busy().is_none() && !app.is_busy(), "the build is no job of the user's");

    // A run is sent at once, and the build goes on.
    app.set_prompt("Tom has 3 apples");
    let effects = app.on_key(key('r'));
    assert_eq!(engine_cmds(&effects), [&EngineCmd::RunPrompt { text: "Tom has 3 apples".into() }]);
    app.on_engine(EngineMsg::Snapshot(snapshot()));
    app.on_engine(EngineMsg::Idle);
    assert!(matches!(app.label_build(), BuildState::Running(Some(_))));

    let built = Arc::new(vec![NewLabel {
        neuron: NeuronId { layer: 2, index: 21 },
        concept: "add".into(),
        source: "lexicon".into(),
        applies: true,
        evidence: vec!["plus".into(), "sum".into()],
        answer: String::new(),
    }]);
    let effects = app.on_engine(EngineMsg::LabelBuild(LabelBuildMsg::Built(built.clone())));
    assert!(effects.contains(&Effect::Labels(LabelCmd::Add(built))), "{effects:?}");
    assert!(status(&app).contains("⟳ labels: saving 1"), "{}", status(&app));
    let labels = Labels::from_store([label("L2N21", "add", "lexicon")], []);
    app.on_labels(LabelMsg::Added { added: 1, labels });
    assert_eq!(app.label_build(), &BuildState::Done { labels: 1 });
    let status = status(&app);
    assert!(status.contains("labels lexicon 1") && !status.contains('⟳'), "{status}");

    // The labels show in the layer pane.
    app.layer = 2;
    app.refresh();
    let (s, r) = screen(&app);
    let layers = region(&s, r.layers);
    let row = layers.lines().find(|l| l.contains("N21 ")).unwrap_or_else(|| panic!("{layers}"));
    assert!(row.contains("add (lexicon)"), "{row}");
}

#[test]
fn a_store_with_labels_builds_nothing_and_the_status_bar_counts_labels_per_source() {
    let mut app = loaded(160, 40);
    let labels =
        vec![label("L0N1", "add", "lexicon"), label("L0N1", "sum", "lexicon"), label("L2N7", "add", "gpt-4-turbo")];
    let effects = app.on_labels(store(labels));
    assert!(engine_cmds(&effects).is_empty(), "{effects:?}");
    assert_eq!(app.label_build(), &BuildState::NotNeeded);
    let status = status(&app);
    assert!(status.contains("labels gpt-4-turbo 1, lexicon 2"), "{status}");
}

#[test]
fn the_build_is_a_setting_and_a_key_stops_and_starts_it() {
    // Off: nothing starts, and the status bar says which key builds the labels.
    let mut app = loaded(120, 40);
    app.set_auto_labels(false);
    let effects = app.on_labels(store(Vec::new()));
    assert!(engine_cmds(&effects).is_empty(), "{effects:?}");
    assert!(status(&app).contains("no labels (A builds)"), "{}", status(&app));
    let effects = app.on_key(key('A'));
    assert_eq!(engine_cmds(&effects), [&EngineCmd::BuildLabels { fingerprint: FINGERPRINT.into() }]);

    // Stopped: its late messages are dropped.
    let effects = app.on_key(key('A'));
    assert_eq!(engine_cmds(&effects), [&EngineCmd::StopLabels]);
    assert_eq!(app.label_build(), &BuildState::Off { stopped: true });
    let late = Progress { stage: Stage::Texts, done: 1, total: 2 };
    app.on_engine(EngineMsg::LabelBuild(LabelBuildMsg::Progress(late)));
    let effects = app.on_engine(EngineMsg::LabelBuild(LabelBuildMsg::Built(Arc::new(Vec::new()))));
    assert!(effects.iter().all(|e| !matches!(e, Effect::Labels(LabelCmd::Add(_)))), "{effects:?}");
    assert!(status(&app).contains("no labels (A builds)"), "{}", status(&app));

    // Help lists the key.
    let help = Keymap::builtin().help(Mode::Normal);
    assert!(
        help.iter().any(|(k, d)| k == "A" && d.starts_with("Build the lexical labels in the background")),
        "{help:?}"
    );
}

#[test]
fn a_failed_build_says_why_and_how_to_try_again() {
    let mut app = loaded(120, 40);
    app.on_labels(store(Vec::new()));
    app.on_engine(EngineMsg::LabelBuild(LabelBuildMsg::Failed("/h/config/concepts.toml: line 3: bad".into())));
    let (message, error) = app.message().unwrap();
    assert!(*error && message.contains("concepts.toml: line 3"), "{message}");
    assert!(status(&app).contains("no labels (A builds)"), "{}", status(&app));
}

/// Compare mode over the loaded model and a run, with the store's `labels` and the label thread's
/// answer that no neuron is a reasoning neuron.
fn comparing_without_reasoning_neurons(labels: Vec<Label>) -> App {
    let mut app = loaded(160, 50);
    app.on_labels(store(labels));
    app.on_engine(EngineMsg::Snapshot(snapshot()));
    app.compare.adopted = true;
    app.on_engine_b(EngineMsg::Loaded(info()));
    app.last_prompt = "Tom has 3".into();
    app.on_key(key('c'));
    let concepts = ReasoningSelection::method_concepts().concept_keys();
    let none = Arc::new(ReasoningNeurons::from_pairs(Vec::<(NeuronId, String)>::new()));
    app.on_labels(LabelMsg::Reasoning { concepts, sources: vec![], neurons: none });
    app
}

#[test]
fn compare_mode_without_reasoning_neurons_says_so_instead_of_a_table_of_zeros() {
    // The build under way: the summary says the counts come with it.
    let app = comparing_without_reasoning_neurons(Vec::new());
    let (s, r) = screen(&app);
    let summary = region(&s, r.summary);
    assert!(summary.contains("no reasoning neurons"), "{summary}");
    assert!(summary.contains("being built in the background"), "{summary}");
    assert!(!summary.contains("count A"), "a table of zeros is shown:\n{summary}");

    // Stopped: how to get some.
    let mut app = app;
    app.on_key(key('A'));
    let (s, r) = screen(&app);
    let summary = region(&s, r.summary);
    assert!(summary.contains("A builds the lexical labels here"), "{summary}");
    assert!(summary.contains("neuronav label lexical"), "{summary}");

    // Labels of other sources only: the summary names them.
    let app = comparing_without_reasoning_neurons(vec![label("L0N1", "colour", "imported")]);
    let (s, r) = screen(&app);
    let summary = region(&s, r.summary);
    assert!(summary.contains("no label loaded (from imported)"), "{summary}");
}

#[test]
fn stored_labels_recount_compare_modes_reasoning_neurons() {
    let mut app = loaded(160, 50);
    app.on_labels(store(Vec::new()));
    app.compare.adopted = true;
    app.on_engine_b(EngineMsg::Loaded(info()));
    app.last_prompt = "Tom has 3".into();
    app.on_key(key('c'));
    let built = Arc::new(Vec::new());
    app.on_engine(EngineMsg::LabelBuild(LabelBuildMsg::Built(built)));
    let labels = Labels::from_store([label("L2N21", "add", "lexicon")], []);
    let effects = app.on_labels(LabelMsg::Added { added: 1, labels });
    assert!(
        effects.iter().any(|e| matches!(e, Effect::Labels(LabelCmd::Reasoning { .. }))),
        "the reasoning neurons are not asked for again: {effects:?}"
    );
}
