//! The explorer drawn into a test backend, fed by the real engine worker running the tiny test
//! model. Each assertion reads the text of one named region and checks it against numbers
//! computed independently through the engine's own API.
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use neuronav::engine::loader::{self, DeviceChoice};
use neuronav::engine::model::WeightDType;
use neuronav::engine::neuron::NeuronId;
use neuronav::engine::session::{Control, Session, SessionSettings};
use neuronav::paths::Paths;
use neuronav::science::projection::{project, ProjectionSettings};
use neuronav::tui::action::Action;
use neuronav::tui::app::{App, Effect, LayerView};
use neuronav::tui::command::Command;
use neuronav::tui::keymap::Keymap;
use neuronav::tui::labels::{LabelView, Labels};
use neuronav::tui::theme::ThemeName;
use neuronav::tui::ui::{self, layout};
use neuronav::tui::worker::{Engine, EngineCmd};
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::Terminal;

mod common;

const PROMPT: &str = "Question: Tom has 3 apples and buys 4 more. How many?";

fn tiny() -> PathBuf {
    common::fixture("tiny-llama")
}

/// Sends the effects to the engine and feeds its answers to the app until `done` holds.
#[track_caller]
fn pump(app: &mut App, engine: &Engine, effects: Vec<Effect>, done: impl Fn(&App) -> bool) {
    let mut queue = effects;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        for e in queue.drain(..) {
            if let Effect::Engine(cmd) = e {
                engine.send(cmd);
            }
        }
        if done(app) {
            return;
        }
        let left = deadline.checked_duration_since(Instant::now()).expect("the engine did not answer in time");
        let msg = engine.rx.recv_timeout(left).expect("the engine did not answer in time");
        queue = app.on_engine(msg);
    }
}

/// The app after running PROMPT on the tiny model, with every visible projection in.
fn explored(width: u16, height: u16) -> (App, Engine) {
    let home = tempfile::tempdir().unwrap();
    let paths =
        Paths { cache: home.path().join("cache"), data: home.path().join("data"), config: home.path().join("config") };
    let engine = Engine::spawn(paths);
    let mut app = App::new(Keymap::builtin(), Vec::new(), ThemeName::Dark);
    app.on_resize(width, height);
    engine.send(EngineCmd::Load {
        model: Some(tiny()),
        device: DeviceChoice::Cpu,
        dtype: WeightDType::F32,
        settings: SessionSettings::default(),
    });
    pump(&mut app, &engine, Vec::new(), |a| a.model.is_some() && a.busy.is_none());
    app.set_prompt(PROMPT);
    let effects = app.update(Action::RunPrompt);
    pump(&mut app, &engine, effects, |a| a.busy.is_none() && a.snapshot.is_some());
    let effects = app.refresh();
    pump(&mut app, &engine, effects, all_projected);
    (app, engine)
}

fn all_projected(app: &App) -> bool {
    let visible = layout::visible_layers(app.size, app);
    visible.clone().count() > 0
        && visible
            .flat_map(|l| app.rows[l].iter().map(move |h| NeuronId { layer: l as u32, index: h.index }))
            .all(|n| app.projections.contains_key(&n))
}

/// An independent run of the same prompt through the session API.
fn reference() -> (Session, Arc<neuronav::engine::tokenizer::Tokenizer>) {
    let loaded = loader::load(&tiny(), DeviceChoice::Cpu, WeightDType::F32, &|_, _| {}).unwrap();
    let mut session = Session::new(loaded.model, loaded.tokenizer.clone(), SessionSettings::default());
    session.run_prompt(PROMPT, Control::default()).unwrap();
    (session, loaded.tokenizer)
}

fn render(app: &App) -> Buffer {
    let mut terminal = Terminal::new(TestBackend::new(app.size.width, app.size.height)).unwrap();
    terminal.draw(|f| ui::draw(f, app)).unwrap();
    terminal.backend().buffer().clone()
}

/// The text of `area` in `buffer`, one line per row.
fn text(buffer: &Buffer, area: Rect) -> String {
    let mut out = String::new();
    for y in area.top()..area.bottom() {
        for x in area.left()..area.right() {
            out.push_str(buffer[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

#[test]
fn layer_pane_shows_the_top_neurons_their_labels_and_promoted_tokens() {
    let (mut app, _engine) = explored(120, 40);
    let (session, tok) = reference();
    let last = session.len() - 1;
    let best = session.trace().position(last).top()[0][0];
    let id = NeuronId { layer: 0, index: best.index };
    app.labels =
        Labels::new(HashMap::from([(id, vec![LabelView { concept: "addition".into(), source: "lexical".into() }])]));
    let buffer = render(&app);
    let regions = layout::regions(app.size, &app);
    let layers = text(&buffer, regions.layers);
    let row = layers
        .lines()
        .find(|l| l.contains(&format!("N{} ", best.index)))
        .unwrap_or_else(|| panic!("N{} not in the layer pane:\n{layers}", best.index));
    assert!(row.contains(&format!("{:+.2}", best.m)), "m missing: {row}");
    assert!(row.contains("addition"), "label missing: {row}");
    let promoted = project(session.model().as_ref(), id, ProjectionSettings { n: 1, norm_gain: false });
    assert!(row.contains(&tok.token_display(promoted.top[0].token)), "first promoted token missing: {row}");
    assert!(layers.contains("layer 0"), "{layers}");

    let tokens = text(&buffer, regions.tokens);
    let last_token = tok.token_display(session.tokens()[last]);
    assert!(tokens.contains(&last_token) && tokens.contains("␣more"), "{tokens}");
    let status = text(&buffer, regions.status);
    assert!(status.contains("cpu f32") && status.contains("K=20") && status.contains("? help"), "{status}");
}

#[test]
fn neuron_detail_and_logit_lens_show_what_the_engine_computes() {
    let (mut app, engine) = explored(160, 50);
    let (session, tok) = reference();
    let neuron = NeuronId { layer: 1, index: 7 };
    let effects = app.execute(Command::GotoNeuron(neuron));
    pump(&mut app, &engine, effects, |a| a.detail.is_some());
    let effects = app.update(Action::OpenLens);
    pump(&mut app, &engine, effects, |a| a.lens.is_some());
    let buffer = render(&app);
    let regions = layout::regions(app.size, &app);
    let detail = text(&buffer, regions.detail);
    assert!(detail.contains("neuron L1N7"), "{detail}");
    let p = project(session.model().as_ref(), neuron, ProjectionSettings { n: 2, norm_gain: false });
    assert!(detail.contains(&tok.token_display(p.top[0].token)), "top promoted token missing:\n{detail}");
    let last = session.len() - 1;
    let m = session.trace().position(last).m(1)[7];
    assert!(detail.contains(&format!("m {m:+.3}")), "m at the selected position missing:\n{detail}");
    assert!(detail.contains("labels: none"), "{detail}");

    let lens = text(&buffer, regions.lens);
    let predicted = session.next_tokens(&[last], 1)[0][0].id;
    assert!(lens.contains(&format!("→ '{}'", tok.token_display(predicted))), "{lens}");
    assert!(lens.contains("L0") && lens.contains("L2"), "{lens}");
}

#[test]
fn stepping_adds_tokens_to_the_strip_and_side_by_side_shows_every_layer() {
    let (mut app, engine) = explored(120, 40);
    let before = app.snapshot.as_ref().unwrap().len();
    let effects = app.update(Action::Step);
    pump(&mut app, &engine, effects, |a| a.busy.is_none());
    let s = app.snapshot.clone().unwrap();
    assert_eq!(s.len(), before + 1);
    assert_eq!(app.position, before, "the selection follows the new token");
    app.layer_view = LayerView::SideBySide;
    let effects = app.refresh();
    pump(&mut app, &engine, effects, all_projected);
    let buffer = render(&app);
    let regions = layout::regions(app.size, &app);
    let layers = text(&buffer, regions.layers);
    for l in 0..3 {
        assert!(layers.contains(&format!(" L{l} ")), "layer {l} header missing:\n{layers}");
        let best = s.top[app.position][l][0];
        assert!(layers.contains(&format!("N{}", best.index)), "top neuron of layer {l} missing:\n{layers}");
    }
    let tokens = text(&buffer, regions.tokens);
    assert!(tokens.contains("1 generated"), "{tokens}");
}

#[test]
fn small_terminals_get_a_compact_layout_or_a_clear_message() {
    let (mut app, _engine) = explored(50, 15);
    let buffer = render(&app);
    let regions = layout::regions(app.size, &app);
    assert!(regions.compact);
    let best = app.rows[0][0];
    let layers = text(&buffer, regions.layers);
    assert!(layers.contains(&format!("N{}", best.index)), "{layers}");
    app.on_resize(20, 5);
    let buffer = render(&app);
    let all = text(&buffer, Rect::new(0, 0, 20, 5));
    assert!(all.contains("too small"), "{all}");
}
