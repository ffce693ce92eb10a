//! The explorer drawn into a test backend, fed by the real engine worker running the tiny test
//! model. Each assertion reads the text of one named region and checks it against numbers
//! computed independently through the engine's own API.
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use neuronav::engine::fingerprint::fingerprint;
use neuronav::engine::intervention::Interventions;
use neuronav::engine::loader::{self, DeviceChoice};
use neuronav::engine::model::{ComputeChoice, WeightDType};
use neuronav::engine::neuron::NeuronId;
use neuronav::engine::session::{Control, Session, SessionSettings};
use neuronav::engine::tokenizer::Tokenizer;
use neuronav::paths::Paths;
use neuronav::science::analysis::ablation::AblationMode;
use neuronav::science::exemplars::build::{build, Plan};
use neuronav::science::exemplars::context;
use neuronav::science::exemplars::corpus::Corpus;
use neuronav::science::exemplars::file::{ExemplarFile, ModelIdentity, ShardOf, FILE_NAME};
use neuronav::science::exemplars::{location, Record, Settings as ExemplarSettings, BINS};
use neuronav::science::heuristics::cache;
use neuronav::science::heuristics::catalog::{Catalog, CatalogSettings};
use neuronav::science::heuristics::classify::{classify, ClassifySettings};
use neuronav::science::heuristics::grid::{GridSpec, Operator};
use neuronav::science::heuristics::importance::rank_layer;
use neuronav::science::heuristics::maps::{GridMaps, MapSettings};
use neuronav::science::heuristics::prompts::default_prefix;
use neuronav::science::labels::label::{NewLabel, VerdictKind};
use neuronav::science::labels::store::{Answers, LabelStore};
use neuronav::science::projection::{project, ProjectionSettings};
use neuronav::science::vocab_index::VocabIndex;
use neuronav::tui::action::Action;
use neuronav::tui::app::{App, Focus, LayerView};
use neuronav::tui::command::Command;
use neuronav::tui::compare::Side;
use neuronav::tui::effect::Effect;
use neuronav::tui::engine_messages::{EngineCmd, EngineMsg};
use neuronav::tui::exemplars::{bin_of_page, Found, Shading, NO_EXEMPLARS};
use neuronav::tui::grid::GridChoice;
use neuronav::tui::keymap::Keymap;
use neuronav::tui::label_build::BuildState;
use neuronav::tui::label_worker::LabelWorker;
use neuronav::tui::labels::{LabelView, Labels};
use neuronav::tui::theme::ThemeName;
use neuronav::tui::ui::heatmap::{ColorDepth, Palette, Scale};
use neuronav::tui::ui::{self, layout};
use neuronav::tui::worker::Engine;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Color;
use ratatui::Terminal;

mod common;

const PROMPT: &str = "Question: Tom has 3 apples and buys 4 more. How many?";

fn tiny() -> PathBuf {
    common::fixture("tiny-llama")
}

/// The engine workers (of run A and of compare mode's run B) and the label thread over a
/// temporary home.
struct Workers {
    engine: Engine,
    engine_b: Engine,
    labels: LabelWorker,
    _home: tempfile::TempDir,
}

fn paths(home: &Path) -> Paths {
    Paths { cache: home.join("cache"), data: home.join("data"), config: home.join("config") }
}

/// Sends the effects to the workers and feeds their answers to the app until `done` holds.
#[track_caller]
fn pump(app: &mut App, workers: &Workers, effects: Vec<Effect>, done: impl Fn(&App) -> bool) {
    let mut queue = effects;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut more = Vec::new();
        for e in queue.drain(..) {
            match e {
                Effect::Engine(Side::A, cmd) => workers.engine.send(cmd),
                Effect::Engine(Side::B, cmd) => workers.engine_b.send(cmd),
                Effect::Labels(cmd) => workers.labels.send(cmd),
                Effect::ReadExemplars(source, neuron) => more.extend(app.on_exemplars(neuron, source.read(neuron))),
                _ => {}
            }
        }
        if !more.is_empty() {
            queue = more;
            continue;
        }
        if done(app) {
            return;
        }
        let left = deadline.checked_duration_since(Instant::now()).expect("the workers did not answer in time");
        queue = crossbeam_channel::select! {
            recv(workers.engine.rx) -> msg => app.on_engine(msg.expect("the engine stopped")),
            recv(workers.engine_b.rx) -> msg => app.on_engine_b(msg.expect("run B's engine stopped")),
            recv(workers.labels.rx) -> msg => app.on_labels(msg.expect("the label thread stopped")),
            default(left) => panic!("the workers did not answer in time"),
        };
    }
}

/// The app with `model` loaded on the CPU in f32.
fn loaded(model: PathBuf, width: u16, height: u16, home: tempfile::TempDir) -> (App, Workers) {
    let engines = paths(home.path());
    loaded_with(model, width, height, home, engines, true)
}

/// [`loaded`] with the engines keeping their files in `engines` (the labels stay in `home`), and
/// the background label build on or off.
fn loaded_with(
    model: PathBuf,
    width: u16,
    height: u16,
    home: tempfile::TempDir,
    engines: Paths,
    auto_labels: bool,
) -> (App, Workers) {
    let labels = LabelWorker::spawn(LabelStore::default_path(&paths(home.path()).data));
    let workers =
        Workers { engine_b: Engine::spawn(engines.clone()), engine: Engine::spawn(engines), labels, _home: home };
    let mut app = App::new(Keymap::builtin(), Vec::new(), ThemeName::Dark);
    app.set_auto_labels(auto_labels);
    app.on_resize(width, height);
    workers.engine.send(EngineCmd::Load {
        model: Some(model),
        device: DeviceChoice::Cpu,
        dtype: WeightDType::F32,
        compute: ComputeChoice::Auto,
        settings: SessionSettings::default(),
    });
    pump(&mut app, &workers, Vec::new(), |a| a.model().is_some() && a.busy().is_none());
    (app, workers)
}

/// The app after running PROMPT on the tiny model, with every visible projection in.
fn explored(width: u16, height: u16) -> (App, Workers) {
    explored_in(width, height, tempfile::tempdir().unwrap())
}

/// The same with `home` as the data directory's parent (where the label store lives).
fn explored_in(width: u16, height: u16, home: tempfile::TempDir) -> (App, Workers) {
    let (mut app, engine) = loaded(tiny(), width, height, home);
    app.set_prompt(PROMPT);
    let effects = app.update(Action::RunPrompt);
    pump(&mut app, &engine, effects, |a| a.busy().is_none() && a.snapshot().is_some());
    let effects = app.refresh();
    pump(&mut app, &engine, effects, all_projected);
    (app, engine)
}

fn all_projected(app: &App) -> bool {
    let visible = layout::visible_layers(app.size(), app);
    visible.clone().count() > 0
        && visible
            .flat_map(|l| app.rows()[l].iter().map(move |h| NeuronId { layer: l as u32, index: h.index }))
            .all(|n| app.projections().contains_key(&n))
}

/// An independent run of the same prompt through the session API.
fn reference() -> (Session, Arc<neuronav::engine::tokenizer::Tokenizer>) {
    reference_of(PROMPT, 0, Interventions::default())
}

/// An independent run of `prompt` with `interventions`, generating `generate` tokens greedily.
fn reference_of(
    prompt: &str,
    generate: usize,
    interventions: Interventions,
) -> (Session, Arc<neuronav::engine::tokenizer::Tokenizer>) {
    let loaded = loader::load(&tiny(), DeviceChoice::Cpu, WeightDType::F32, &|_, _| {}).unwrap();
    let mut session = Session::new(loaded.model, loaded.tokenizer.clone(), SessionSettings::default());
    session.set_interventions(interventions);
    session.run_prompt(prompt, Control::default()).unwrap();
    for _ in 0..generate {
        session.step(Control::default()).unwrap();
    }
    (session, loaded.tokenizer)
}

fn render(app: &App) -> Buffer {
    let mut terminal = Terminal::new(TestBackend::new(app.size().width, app.size().height)).unwrap();
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
fn a_forward_pass_that_overflows_shows_its_error_and_no_numbers() {
    // Layer 1's gate and up projections × 1e30: its m overflows f32.
    let model = common::scaled_tiny_copy(|name| {
        if name.starts_with("model.layers.1.mlp.") && !name.contains("down") {
            1e30
        } else {
            1.0
        }
    });
    let (mut app, workers) = loaded(model.path().to_path_buf(), 120, 40, tempfile::tempdir().unwrap());
    app.set_prompt(PROMPT);
    let effects = app.update(Action::RunPrompt);
    pump(&mut app, &workers, effects, |a| a.busy().is_none() && a.message().is_some_and(|&(_, error)| error));
    let (message, _) = app.message().unwrap();
    assert!(message.starts_with("layer 1 produced") && message.contains("blocks.1.mlp.m"), "{message}");
    assert!(app.snapshot().is_none(), "nothing of the failed run is shown");
    let screen = text(&render(&app), Rect::new(0, 0, 120, 40));
    assert!(screen.contains("layer 1 produced"), "{screen}");
}

#[test]
fn layer_pane_shows_the_top_neurons_their_labels_and_promoted_tokens() {
    let (mut app, _engine) = explored(120, 40);
    let (session, tok) = reference();
    let last = session.len() - 1;
    let best = session.trace().position(last).top()[0][0];
    let id = NeuronId { layer: 0, index: best.index };
    app.labels = Labels::new(HashMap::from([(
        id,
        vec![LabelView { concept: "addition".into(), source: "lexical".into(), ..Default::default() }],
    )]));
    let buffer = render(&app);
    let regions = layout::regions(app.size(), &app);
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
    pump(&mut app, &engine, effects, |a| a.detail().is_some());
    let effects = app.update(Action::OpenLens);
    pump(&mut app, &engine, effects, |a| a.lens().is_some());
    let buffer = render(&app);
    let regions = layout::regions(app.size(), &app);
    let detail = text(&buffer, regions.detail);
    assert!(detail.contains("neuron L1N7"), "{detail}");
    let p = project(session.model().as_ref(), neuron, ProjectionSettings { n: 2, norm_gain: false });
    assert!(detail.contains(&tok.token_display(p.top[0].token)), "top promoted token missing:\n{detail}");
    let last = session.len() - 1;
    let m = session.trace().position(last).m(1).unwrap()[7];
    assert!(detail.contains(&format!("m {m:+.3}")), "m at the selected position missing:\n{detail}");
    assert!(detail.contains("labels: none"), "{detail}");

    let lens = text(&buffer, regions.lens);
    let predicted = session.next_tokens(&[last], 1).unwrap()[0][0].id;
    assert!(lens.contains(&format!("→ '{}'", tok.token_display(predicted))), "{lens}");
    assert!(lens.contains("L0") && lens.contains("L2"), "{lens}");
}

#[test]
fn stepping_adds_tokens_to_the_strip_and_side_by_side_shows_every_layer() {
    let (mut app, engine) = explored(120, 40);
    let before = app.snapshot().unwrap().len();
    let effects = app.update(Action::Step);
    pump(&mut app, &engine, effects, |a| a.busy().is_none());
    let s = app.snapshot().cloned().unwrap();
    assert_eq!(s.len(), before + 1);
    assert_eq!(app.position(), before, "the selection follows the new token");
    app.layer_view = LayerView::SideBySide;
    let effects = app.refresh();
    pump(&mut app, &engine, effects, all_projected);
    let buffer = render(&app);
    let regions = layout::regions(app.size(), &app);
    let layers = text(&buffer, regions.layers);
    for l in 0..3 {
        assert!(layers.contains(&format!(" L{l} ")), "layer {l} header missing:\n{layers}");
        let best = s.top[app.position()][l][0];
        assert!(layers.contains(&format!("N{}", best.index)), "top neuron of layer {l} missing:\n{layers}");
    }
    let tokens = text(&buffer, regions.tokens);
    assert!(tokens.contains("1 generated"), "{tokens}");
}

#[test]
fn small_terminals_get_a_compact_layout_or_a_clear_message() {
    let (mut app, _engine) = explored(50, 15);
    let buffer = render(&app);
    let regions = layout::regions(app.size(), &app);
    assert!(regions.compact);
    let best = app.rows()[0][0];
    let layers = text(&buffer, regions.layers);
    assert!(layers.contains(&format!("N{}", best.index)), "{layers}");
    app.on_resize(20, 5);
    let buffer = render(&app);
    let all = text(&buffer, Rect::new(0, 0, 20, 5));
    assert!(all.contains("too small"), "{all}");
}

#[test]
fn with_an_empty_store_the_worker_builds_and_caches_the_vocabulary_index() {
    let home = tempfile::tempdir().unwrap();
    let cache = home.path().join("cache");
    let (mut app, workers) = loaded(tiny(), 120, 40, home);
    pump(&mut app, &workers, Vec::new(), |a| matches!(a.label_build(), BuildState::Done { .. }));
    // The seed-word filter reads layers 6 and up; the tiny model has 3.
    assert_eq!(app.label_build(), &BuildState::Done { labels: 0 });
    let status = text(&render(&app), layout::regions(app.size(), &app).status);
    assert!(status.contains("no labels"), "{status}");
    let path = VocabIndex::cache_path(&cache, &fingerprint(&tiny()).unwrap(), ProjectionSettings::default());
    let index = VocabIndex::load(&path).unwrap_or_else(|e| panic!("{e}"));
    // PyTorch's top 10 of W_U·v for the reference's neurons.
    let reference = common::read_json("reference/f32.json");
    for p in reference["projection"].as_array().unwrap() {
        let neuron =
            NeuronId { layer: p["layer"].as_u64().unwrap() as u32, index: p["index"].as_u64().unwrap() as u32 };
        let top: Vec<u32> = index.top(neuron).iter().take(10).map(|t| t.token).collect();
        assert_eq!(top, common::ids(&p["top10"]), "{neuron}");
    }
}

/// The detail pane's text for `neuron` as the engine computed it: its projection and its m at the
/// last position of the reference run.
fn expected_detail(session: &Session, tok: &Tokenizer, neuron: NeuronId) -> (String, String, String) {
    let p = project(session.model().as_ref(), neuron, ProjectionSettings { n: 2, norm_gain: false });
    let m = session.trace().position(session.len() - 1).m(neuron.layer as usize).unwrap()[neuron.index as usize];
    (tok.token_display(p.top[0].token), tok.token_display(p.bottom[0].token), format!("m {m:+.3}"))
}

#[test]
fn a_wide_terminal_shows_the_selected_neurons_detail_beside_the_layer_pane() {
    let (mut app, workers) = explored(200, 60);
    let (session, tok) = reference();
    let r = layout::regions(app.size(), &app);
    assert!(r.detail.x >= r.layers.right() && r.detail.y == r.layers.y, "not beside: {r:?}");
    assert!(r.layers.width >= 90 && r.detail.width >= 90, "{r:?}");
    assert_eq!(app.focus, Focus::Layers, "no key was pressed");
    let first = app.selected_neuron().unwrap();
    let effects = app.refresh();
    pump(&mut app, &workers, effects, |a| a.detail().is_some_and(|d| d.neuron == first));
    let detail = text(&render(&app), r.detail);
    let (promoted, suppressed, m) = expected_detail(&session, &tok, first);
    assert!(detail.contains(&format!("neuron {first} ")), "{detail}");
    for part in [&promoted, &suppressed, &m, "m over tokens", "labels: none"] {
        assert!(detail.contains(part), "{part:?} missing:\n{detail}");
    }

    // Down selects the next neuron: until its numbers come, the pane shows what is known of it
    // and says the rest is being computed, never the last neuron's numbers.
    let effects = app.update(Action::Down);
    let next = app.selected_neuron().unwrap();
    assert_ne!(next, first);
    let detail = text(&render(&app), r.detail);
    let (promoted, _, next_m) = expected_detail(&session, &tok, next);
    assert!(detail.contains(&format!("neuron {next} · computing…")), "{detail}");
    assert!(detail.contains(&promoted) && !detail.contains(&m), "{detail}");
    pump(&mut app, &workers, effects, |a| a.detail().is_some_and(|d| d.neuron == next));
    let detail = text(&render(&app), r.detail);
    assert!(detail.contains(&next_m) && !detail.contains("computing"), "{detail}");
}

#[test]
fn an_80_by_24_terminal_keeps_the_layer_pane_whole_until_enter() {
    let (mut app, workers) = explored(80, 24);
    let r = layout::regions(app.size(), &app);
    assert!(!r.compact && r.detail.area() == 0 && r.layers.width == 80, "{r:?}");
    let neuron = app.selected_neuron().unwrap();
    let layers = text(&render(&app), r.layers);
    assert!(layers.contains(&format!("N{} ", neuron.index)) && !layers.contains("m over tokens"), "{layers}");
    let effects = app.update(Action::OpenNeuron);
    pump(&mut app, &workers, effects, |a| a.detail().is_some_and(|d| d.neuron == neuron));
    let r = layout::regions(app.size(), &app);
    assert!(r.detail.area() > 0 && r.layers.width < 80, "{r:?}");
}

#[test]
fn labels_from_the_store_show_with_their_source_and_review_commits_verdicts() {
    let (session, tok) = reference();
    let last = session.len() - 1;
    let top = session.trace().position(last).top();
    let first = NeuronId { layer: 0, index: top[0][0].index };
    let second = NeuronId { layer: 2, index: top[2][0].index };
    let home = tempfile::tempdir().unwrap();
    let db = LabelStore::default_path(&paths(home.path()).data);
    let fp = fingerprint(&tiny()).unwrap();
    let new = |neuron, concept: &str, source: &str, applies, answer: &str| NewLabel {
        neuron,
        concept: concept.into(),
        source: source.into(),
        applies,
        evidence: vec!["plus".into(), "sum".into()],
        answer: answer.into(),
    };
    LabelStore::open(&db, &fp)
        .unwrap()
        .upsert_labels(&[
            new(first, "add", "gpt-test", true, "Yes, these are about addition"),
            new(first, "mult", "gpt-test", false, "No, not multiplication"),
            new(second, "add", "lexicon", true, ""),
        ])
        .unwrap();
    let (mut app, workers) = explored_in(160, 50, home);
    pump(&mut app, &workers, Vec::new(), |a| !a.labels.is_empty());

    let buffer = render(&app);
    let regions = layout::regions(app.size(), &app);
    let layers = text(&buffer, regions.layers);
    let row = layers.lines().find(|l| l.contains(&format!("N{} ", first.index))).unwrap();
    assert!(row.contains("add (gpt-test)"), "label and source missing: {row}");
    assert!(!layers.contains("mult"), "a No answer shows as a label:\n{layers}");
    let status = text(&buffer, regions.status);
    assert!(status.contains("labels gpt-test 1, lexicon 1"), "{status}");

    app.execute(Command::FilterSource(Some("lexicon".into())));
    assert!(app.rows()[0].is_empty(), "layer 0 has no lexicon label");
    assert_eq!(app.rows()[2].iter().map(|h| h.index).collect::<Vec<_>>(), [second.index]);
    app.execute(Command::FilterSource(None));
    app.execute(Command::FilterConcept(Some("add".into())));
    assert_eq!(app.rows()[0].iter().map(|h| h.index).collect::<Vec<_>>(), [first.index]);
    app.execute(Command::FilterConcept(None));

    // The all-layers grid counts each layer's labelled neurons among those listed.
    app.layer_view = LayerView::Grid;
    let grid = text(&render(&app), layout::regions(app.size(), &app).layers);
    let count = |l: usize| -> usize {
        let head = grid.lines().find(|line| line.trim_start_matches('│').starts_with(&format!("L{l} ")));
        head.unwrap_or_else(|| panic!("no row for L{l}:\n{grid}")).trim_start_matches('│')[4..7].trim().parse().unwrap()
    };
    assert_eq!((count(0), count(1), count(2)), (1, 0, 1), "{grid}");
    app.layer_view = LayerView::Single;

    let effects = app.execute(Command::GotoNeuron(first));
    pump(&mut app, &workers, effects, |a| a.detail().is_some());
    let buffer = render(&app);
    let detail = text(&buffer, layout::regions(app.size(), &app).detail);
    assert!(detail.contains("add (gpt-test)") && detail.contains("evidence: plus sum"), "{detail}");
    assert!(detail.contains("answer: Yes, these are about addition"), "{detail}");
    assert!(!detail.contains("mult") && !detail.contains("verdict"), "{detail}");

    let effects =
        app.execute(Command::Review { source: Some("gpt-test".into()), concept: None, answers: Answers::Yes });
    pump(&mut app, &workers, effects, |a| {
        a.review().is_some_and(|r| r.len() == 1) && a.projections().contains_key(&first)
    });
    let screen = |app: &App| text(&render(app), layout::regions(app.size(), app).review);
    let review = screen(&app);
    let p = project(session.model().as_ref(), first, ProjectionSettings { n: 3, norm_gain: false });
    let promoted: Vec<String> = p.top.iter().map(|t| tok.token_display(t.token)).collect();
    let line = review.lines().find(|l| l.contains("promotes")).unwrap_or_else(|| panic!("{review}"));
    assert!(line.contains(&promoted.join(" ")), "promoted tokens {promoted:?} missing: {line}");
    assert!(review.contains("evidence    plus sum") && review.contains("Yes, these are about addition"), "{review}");
    assert!(review.contains("0 of 1 checked · no verdicts yet"), "{review}");
    assert!(review.contains("gpt-test said yes"), "the source's answer shows:\n{review}");
    assert!(review.contains("said no   no labels"), "an empty group says so:\n{review}");

    let effects = app.update(Action::Agree);
    pump(&mut app, &workers, effects, |a| a.message().is_some_and(|(m, _)| m.starts_with("saved")));
    let review = screen(&app);
    assert!(review.contains("1 of 1 checked · agreed 1 · disagreed 0 · unsure 0 · rate 100%"), "{review}");
    let stored = LabelStore::open(&LabelStore::default_path(&paths(workers._home.path()).data), &fp)
        .unwrap()
        .verdicts_for(first)
        .unwrap();
    assert_eq!(
        stored.iter().map(|v| (v.concept.as_str(), v.verdict)).collect::<Vec<_>>(),
        [("add", VerdictKind::Agree)]
    );

    app.update(Action::Cancel);
    let detail = text(&render(&app), layout::regions(app.size(), &app).detail);
    assert!(detail.contains("add agree"), "the verdict shows in the detail:\n{detail}");
}

#[test]
fn the_heatmap_shows_the_cursor_cell_the_neurons_tokens_and_matches_from_the_grid_maps() {
    let model = common::default_model();
    let on_cpu = loader::load(&model, DeviceChoice::Cpu, WeightDType::F32, &|_, _| {}).unwrap();
    let spec = GridSpec::square(Operator::Add, 6);
    let settings = MapSettings { prefix: default_prefix(Operator::Add).into(), spec, slots: 1, layers: vec![0, 1, 2] };
    let maps = GridMaps::build(on_cpu.model.as_ref(), &on_cpu.tokenizer, settings.clone(), Control::default()).unwrap();
    let catalog = Catalog::new(&settings.spec, &CatalogSettings::default());
    // A neuron of layer 1 implementing some heuristic, so the panel has matches to show.
    let (neuron, k, matches) = (0..maps.d_ff)
        .find_map(|j| {
            let (k, kv) = (maps.k_map(0, 1, j).unwrap(), maps.kv_map(0, 1, j).unwrap());
            let matches = classify(&catalog, &k, &kv, &ClassifySettings::default());
            (!matches.is_empty()).then_some((NeuronId { layer: 1, index: j as u32 }, k, matches))
        })
        .expect("some neuron of layer 1 implements a heuristic");

    let home = tempfile::tempdir().unwrap();
    let paths = paths(home.path());
    let (mut app, workers) = loaded(model, 120, 40, home);
    app.execute(Command::GotoNeuron(neuron));
    let effects =
        app.execute(Command::Grid(GridChoice { operator: Operator::Add, operands: 0..6, layers: Some(0..3) }));
    assert!(effects.contains(&Effect::Engine(
        Side::A,
        EngineCmd::Grid { fingerprint: on_cpu.fingerprint.clone(), settings: settings.clone() }
    )));
    pump(&mut app, &workers, effects, |a| a.busy().is_none() && a.heatmap().is_some_and(|h| h.grid.is_some()));
    assert!(cache::path(&paths.cache, &on_cpu.fingerprint, &settings).exists(), "the maps are cached");

    for action in [Action::Down, Action::Down, Action::Down, Action::Right, Action::Right] {
        app.update(action);
    }
    let screen = text(&render(&app), layout::regions(app.size(), &app).heatmap);
    let cell = settings.spec.index(3, 2).unwrap();
    let outcome = maps.outcomes[cell].as_ref().unwrap();
    let verdict = if outcome.correct { "correct" } else { "wrong" };
    assert!(screen.contains(&format!("{neuron} · K map")), "{screen}");
    assert!(screen.contains(&format!("3+2=  {:+.3}", k[cell])), "{screen}");
    assert!(screen.contains(&format!("model {}  {verdict}", outcome.answer)), "{screen}");
    let (best_token, best_logit) =
        maps.target_logits(1, neuron.index as usize).unwrap().into_iter().max_by(|a, b| a.1.total_cmp(&b.1)).unwrap();
    assert!(screen.contains(&format!("{} {best_logit:+.2}", on_cpu.tokenizer.token_display(best_token))), "{screen}");
    let best = &matches[0];
    let line = format!("{:.2} {}", best.score, best.heuristic.describe());
    assert!(screen.lines().any(|l| l.contains(&line)), "{line} missing:\n{screen}");
    let ranked = rank_layer(&maps, 1).unwrap();
    let rank = ranked.iter().position(|i| i.neuron == neuron).unwrap();
    let (mean, std) = (ranked[rank].mean, ranked[rank].std);
    let importance = format!("{mean:+.3} ± {std:.3}  rank {}/{}", rank + 1, maps.d_ff);
    assert!(screen.contains("importance (direct effect only)"), "{screen}");
    assert!(screen.contains(&importance), "{importance} missing:\n{screen}");

    // K knocks out the neuron's heuristics on the worker; its rows come back as a table.
    let effects = app.update(Action::KnockoutHeuristics);
    let knockouts = effects.iter().filter(|e| matches!(e, Effect::Engine(Side::A, EngineCmd::Knockout { .. }))).count();
    assert_eq!(knockouts, 1, "{effects:?}");
    pump(&mut app, &workers, effects, |a| a.busy().is_none() && a.heatmap().is_some_and(|h| h.knockout.is_some()));
    let result = app.heatmap().unwrap().knockout.clone().unwrap();
    assert_eq!(result.neuron, neuron);
    let screen = text(&render(&app), layout::regions(app.size(), &app).heatmap);
    assert!(screen.contains("knockout: accuracy with the heuristic's neurons zeroed (1.0 before)"), "{screen}");
    for r in &result.rows {
        let cells = [r.heuristic.clone(), r.neurons.to_string(), r.prompts.to_string()];
        assert!(screen.lines().any(|l| cells.iter().all(|c| l.contains(c.as_str()))), "{r:?} missing:\n{screen}");
    }
    if result.rows.is_empty() {
        assert!(screen.contains("no heuristic has enough member neurons"), "{screen}");
    }

    // Layer 3 is not among the grid's layers: a message instead of a map.
    for _ in 0..2 {
        app.update(Action::NextLayer);
    }
    let screen = text(&render(&app), layout::regions(app.size(), &app).heatmap);
    assert!(screen.contains(&format!("L3N{} is not in this grid's maps", neuron.index)), "{screen}");
}
const PROMPT_B: &str = "Question: Ann has 5 pears and eats 2. How many are left?";

/// Counts, straight from a session's top-K lists, the hits of `labels` (neuron, concept) at the
/// last prompt position and every generated one: per concept and overall (hits, Σ s), per layer,
/// and the neurons hit.
struct Counted {
    concepts: BTreeMap<String, (u64, f64)>,
    overall: (u64, f64),
    layers: BTreeMap<u32, i64>,
    neurons: BTreeSet<NeuronId>,
}

fn count(session: &Session, labels: &[(NeuronId, &str)]) -> Counted {
    let mut c =
        Counted { concepts: BTreeMap::new(), overall: (0, 0.0), layers: BTreeMap::new(), neurons: BTreeSet::new() };
    for p in session.prompt_len() - 1..session.len() {
        for (l, hits) in session.trace().position(p).top().iter().enumerate() {
            for h in hits {
                let id = NeuronId { layer: l as u32, index: h.index };
                let concepts: BTreeSet<&str> = labels.iter().filter(|(n, _)| *n == id).map(|(_, c)| *c).collect();
                if concepts.is_empty() {
                    continue;
                }
                c.overall.0 += 1;
                c.overall.1 += h.s as f64;
                *c.layers.entry(id.layer).or_default() += 1;
                c.neurons.insert(id);
                for concept in concepts {
                    let e = c.concepts.entry(concept.to_string()).or_default();
                    e.0 += 1;
                    e.1 += h.s as f64;
                }
            }
        }
    }
    c
}

/// The summary's line for one concept, as it must read.
fn summary_row(name: &str, a: (u64, f64), b: (u64, f64)) -> String {
    let mean = |(n, s): (u64, f64)| if n == 0 { 0.0 } else { s / n as f64 };
    let diff = a.0 as i64 - b.0 as i64;
    format!("{name:<14} {:>8} {:>8} {diff:>+7} {:>9.3} {:>9.3}", a.0, b.0, mean(a), mean(b))
}

/// The neuron ids of a compare layer list with whether each carries `mark` in the marks column.
fn listed(pane: &str, mark: char) -> Vec<(u32, bool)> {
    pane.lines()
        .map(|l| l.trim_start_matches('│'))
        .filter_map(|l| {
            let index = l.split_whitespace().next()?.strip_prefix('N')?.parse().ok()?;
            // Neuron, m and s columns, then two characters of marks.
            let marks: String = l.chars().skip(7 + 1 + 7 + 1 + 6 + 1).take(2).collect();
            Some((index, marks.contains(mark)))
        })
        .collect()
}

/// Pumps until both runs are idle with the reasoning neurons counted, each side's next-token
/// candidates at its position, and every listed neuron projected.
fn wait_for_compare(app: &mut App, workers: &Workers, effects: Vec<Effect>) {
    pump(app, workers, effects, |a| {
        let next_in = |side: Side| {
            ui::compare::side_of(a, side).is_some_and(|(s, p)| {
                a.compare.next[side.index()].as_ref().is_some_and(|n| n.position == p && n.generation == s.generation)
            })
        };
        !a.is_busy() && a.compare.neurons.is_some() && next_in(Side::A) && next_in(Side::B)
    });
    let effects = app.refresh();
    pump(app, workers, effects, |a| {
        let b = a.compare.rows.get(a.layer).map_or(&[][..], |r| r);
        all_projected(a)
            && b.iter().all(|h| a.projections().contains_key(&NeuronId { layer: a.layer as u32, index: h.index }))
    });
}

#[test]
fn compare_mode_counts_reasoning_neurons_per_concept_and_marks_one_sided_neurons() {
    let (ref_a, _) = reference_of(PROMPT, 2, Interventions::default());
    let (ref_b, _) = reference_of(PROMPT_B, 2, Interventions::default());
    // Labels on neurons each run lists at its counted positions, one of them on both sides.
    let top = |s: &Session, p: usize, l: usize, rank: usize| NeuronId {
        layer: l as u32,
        index: s.trace().position(p).top()[l][rank].index,
    };
    let (la, lb) = (ref_a.len() - 1, ref_b.len() - 1);
    let labels = [
        (top(&ref_a, la, 0, 0), "add"),
        (top(&ref_b, lb, 0, 1), "add"),
        (top(&ref_a, la - 1, 1, 2), "formula"),
        (top(&ref_b, lb, 2, 0), "formula"),
        (top(&ref_b, lb, 2, 0), "equals_to"),
        (top(&ref_a, la, 2, 3), "subtract"),
    ];
    let other = [(top(&ref_b, lb, 1, 0), "add")];
    let home = tempfile::tempdir().unwrap();
    let db = LabelStore::default_path(&paths(home.path()).data);
    let new = |(neuron, concept): (NeuronId, &str), source: &str, applies| NewLabel {
        neuron,
        concept: concept.into(),
        source: source.into(),
        applies,
        evidence: vec![],
        answer: String::new(),
    };
    let mut rows: Vec<NewLabel> = labels.iter().map(|&l| new(l, "lexicon", true)).collect();
    rows.push(new(other[0], "other", true));
    // A No answer makes no reasoning neuron.
    rows.push(new((top(&ref_a, la, 1, 0), "multiply"), "lexicon", false));
    LabelStore::open(&db, &fingerprint(&tiny()).unwrap()).unwrap().upsert_labels(&rows).unwrap();

    let (mut app, workers) = explored_in(200, 60, home);
    pump(&mut app, &workers, Vec::new(), |a| !a.labels.is_empty());
    app.update(Action::ToggleEos);
    let effects = app.update(Action::Compare);
    app.compare.set_prompt(PROMPT_B);
    let effects = effects.into_iter().chain(app.update(Action::RunPrompt)).collect::<Vec<_>>();
    wait_for_compare(&mut app, &workers, effects);
    app.execute(Command::StepCount(2));
    let effects = app.update(Action::StepMany);
    app.layer = 2;
    wait_for_compare(&mut app, &workers, effects);

    let buffer = render(&app);
    let regions = layout::regions(app.size(), &app);
    let summary = text(&buffer, regions.summary);
    // Every source counts by default.
    let every: Vec<(NeuronId, &str)> = labels.iter().chain(&other).copied().collect();
    let (a, b) = (count(&ref_a, &every), count(&ref_b, &every));
    assert!(summary.contains("positions counted A 3 · B 3"), "{summary}");
    let all = summary_row("all", a.overall, b.overall);
    assert!(summary.contains(&all), "'{all}' missing:\n{summary}");
    for concept in ["add", "formula", "equals_to", "subtract", "multiply", "division", "connections"] {
        let (x, y) = (a.concepts.get(concept).copied(), b.concepts.get(concept).copied());
        let row = summary_row(concept, x.unwrap_or_default(), y.unwrap_or_default());
        assert!(summary.contains(&row), "{concept}: '{row}' missing:\n{summary}");
    }
    assert!(a.concepts["add"].0 > 0 && b.concepts["formula"].0 > 0 && !a.concepts.contains_key("multiply"));
    let names = |ids: Vec<&NeuronId>| ids.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(" ");
    let only_a = names(a.neurons.difference(&b.neurons).collect());
    assert!(
        summary.contains(&format!("active in A only ({}): {only_a}", a.neurons.difference(&b.neurons).count())),
        "{summary}"
    );
    let only_b = names(b.neurons.difference(&a.neurons).collect());
    assert!(summary.contains(&format!("): {only_b}")), "{summary}");

    let bars = text(&buffer, regions.bars);
    for l in 0..3 {
        let d = a.layers.get(&l).copied().unwrap_or(0) - b.layers.get(&l).copied().unwrap_or(0);
        assert!(bars.contains(&format!("L{l:<3}{d:>+4} ")), "layer {l}: {d:+}\n{bars}");
    }

    // ◆: listed in layer 2 at this side's position and not at the other side's.
    let ids =
        |s: &Session| -> BTreeSet<u32> { s.trace().position(s.len() - 1).top()[2].iter().map(|h| h.index).collect() };
    let (ia, ib) = (ids(&ref_a), ids(&ref_b));
    for (pane, this, other) in [(regions.layers, &ia, &ib), (regions.layers_b, &ib, &ia)] {
        let rows = listed(&text(&buffer, pane), '◆');
        assert_eq!(rows.iter().map(|r| r.0).collect::<BTreeSet<_>>(), *this, "every listed neuron is shown");
        let marked: BTreeSet<u32> = rows.iter().filter(|r| r.1).map(|r| r.0).collect();
        assert_eq!(marked, this.difference(other).copied().collect::<BTreeSet<_>>());
    }
    assert!(!ia.is_subset(&ib), "the prompts should list different neurons");

    // Another source defines other reasoning neurons.
    let effects = app.execute(Command::Reasoning { concepts: None, sources: Some(vec!["other".into()]) });
    wait_for_compare(&mut app, &workers, effects);
    let summary = text(&render(&app), layout::regions(app.size(), &app).summary);
    let (a, b) = (count(&ref_a, &other), count(&ref_b, &other));
    assert!(summary.contains("from other · 1 neurons"), "{summary}");
    assert!(summary.contains(&summary_row("add", a.overall, b.overall)), "{summary}");
}

#[test]
fn zeroing_a_neuron_in_run_b_changes_its_next_token_distribution_beside_run_a() {
    let (mut app, workers) = explored(200, 60);
    let (session, tok) = reference();
    let last = session.len() - 1;
    // The top neuron of the last layer at the last prompt token.
    let neuron = NeuronId { layer: 2, index: session.trace().position(last).top()[2][0].index };
    let mut zeroed = Interventions::default();
    zeroed.zero(&[neuron]);
    let (intervened, _) = reference_of(PROMPT, 0, zeroed);
    let next = |s: &Session| -> String {
        let c = s.next_tokens(&[last], 3).unwrap().remove(0);
        c.iter().map(|t| format!("{} {:.4}", tok.token_display(t.id), t.prob)).collect::<Vec<_>>().join("  ")
    };
    let (want_a, want_b) = (next(&session), next(&intervened));
    assert_ne!(want_a, want_b, "zeroing {neuron} changes nothing visible");

    app.layer = 2;
    let effects = app.execute(Command::Ablate { mode: AblationMode::Zero, ids: vec![neuron] });
    wait_for_compare(&mut app, &workers, effects);
    let buffer = render(&app);
    let regions = layout::regions(app.size(), &app);
    let (tokens_a, tokens_b) = (text(&buffer, regions.tokens), text(&buffer, regions.tokens_b));
    assert!(tokens_a.contains(&format!("next: {want_a}")), "A's next tokens missing:\n{tokens_a}");
    assert!(tokens_b.contains(&format!("next: {want_b}")), "B's next tokens missing:\n{tokens_b}");
    assert!(tokens_b.contains(&format!("pos {last} (+0)")), "{tokens_b}");
    let title = text(&buffer, regions.prompt_b);
    assert!(title.contains(&format!("B · A's prompt with zero {neuron}")), "{title}");
    assert!(text(&buffer, regions.status).contains("B: 1 changed"));
    // The zeroed neuron is marked ✗ in A's list, and B's trace records it at m = 0.
    let rows = listed(&text(&buffer, regions.layers), '✗');
    assert_eq!(rows.iter().filter(|r| r.1).map(|r| r.0).collect::<Vec<_>>(), [neuron.index]);
    let b = app.compare.snapshot.as_ref().unwrap();
    assert!(!b.top[last][2].iter().any(|h| h.index == neuron.index && h.m != 0.0));

    let effects = app.update(Action::ClearInterventions);
    pump(&mut app, &workers, effects, |a| {
        a.compare.changes.is_empty() && !a.is_busy() && a.compare.next[1].as_ref().is_some_and(|n| n.generation > 2)
    });
    let tokens_b = text(&render(&app), layout::regions(app.size(), &app).tokens_b);
    assert!(tokens_b.contains(&format!("next: {want_a}")), "cleared, B runs as A:\n{tokens_b}");
}

/// Builds an exemplar file of `model` over `corpus` into `cache`, where the explorer looks for it,
/// unless that build is there already. Returns the file and the model's tokenizer.
fn build_exemplars(
    model: &Path,
    cache: &Path,
    corpus: &Corpus,
    settings: ExemplarSettings,
) -> (PathBuf, Arc<Tokenizer>) {
    let loaded = loader::load(model, DeviceChoice::Cpu, WeightDType::F32, &|_, _| {}).unwrap();
    let fp = fingerprint(model).unwrap();
    let out = location::build_dir(cache, &fp, &format!("tests {settings:?}")).join(FILE_NAME);
    let identity = ModelIdentity {
        name: loaded.name.clone(),
        fingerprint: fp,
        layers: loaded.config.num_layers,
        d_ff: loaded.config.intermediate_size,
    };
    let plan = Plan {
        corpus,
        field: None,
        settings,
        shard: ShardOf { index: 0, count: 1 },
        concepts: Vec::new(),
        out: out.clone(),
        restart: false,
    };
    build(loaded.model.as_ref(), &loaded.tokenizer, identity, &plan, Control::default(), &|_, _, _| {}).unwrap();
    (out, loaded.tokenizer)
}

/// The tiny model's exemplars over a few short documents, in `home`'s cache.
fn tiny_exemplars(home: &Path) -> (ExemplarFile, Arc<Tokenizer>) {
    let text = [
        "Tom has 3 apples and buys 4 more. How many apples does Tom have now?",
        "The cat sat on the mat, and then the dog ran after the cat across the yard.",
        "Janet's ducks lay 16 eggs per day. She eats three for breakfast every morning.",
        "A train leaves the station at 9 and arrives at 11; how long is the trip?",
        "She sold 48 clips in April and half as many clips in May.",
        "Weng earns 12 dollars an hour for babysitting. Yesterday she did 50 minutes.",
    ];
    let file = home.join("corpus.txt");
    std::fs::write(&file, text.join("\n\n")).unwrap();
    let corpus = Corpus::read(&[file], "text").unwrap();
    let settings = ExemplarSettings { top: 8, max_tokens: None, window: 64, top_k: 5 };
    let (path, tok) = build_exemplars(&tiny(), &paths(home).cache, &corpus, settings);
    (ExemplarFile::open(&path).unwrap(), tok)
}

/// What an exemplar line shows of `record`: the token before its position, then the position's
/// token in brackets.
fn marked(file: &ExemplarFile, tok: &Tokenizer, record: Record) -> String {
    let c = context::context(file, record);
    let text = |i: usize| tok.token_display(c.tokens[i]).replace('␣', " ");
    let before = if c.focus > 0 { text(c.focus - 1) } else { String::new() };
    format!("{before}[{}]", text(c.focus))
}

/// The row and column where the exemplar line of `record` has its `[` in `area`.
#[track_caller]
fn find_marked(buffer: &Buffer, area: Rect, file: &ExemplarFile, tok: &Tokenizer, record: Record) -> (u16, u16) {
    let want = marked(file, tok, record);
    let m = format!("{:+.3}", record.m);
    for y in area.top()..area.bottom() {
        let row: String = (area.left()..area.right()).map(|x| buffer[(x, y)].symbol()).collect();
        if let Some(at) = row.find(&want).filter(|_| row.contains(&m)) {
            let bracket =
                row[..at].chars().count() + want.chars().count() - want.rsplit('[').next().unwrap().chars().count() - 1;
            return (y, area.left() + bracket as u16);
        }
    }
    panic!("{want} ({m}) is not shown:\n{}", text(buffer, area));
}

fn key(c: char) -> crossterm::event::KeyEvent {
    crossterm::event::KeyEvent::new(crossterm::event::KeyCode::Char(c), crossterm::event::KeyModifiers::NONE)
}

#[test]
fn a_neurons_exemplars_show_in_the_detail_and_the_keys_page_through_its_lists() {
    let home = tempfile::tempdir().unwrap();
    let (file, tok) = tiny_exemplars(home.path());
    let (mut app, workers) = explored_in(200, 60, home);
    let r = layout::regions(app.size(), &app);
    let neuron = app.selected_neuron().unwrap();
    let effects = app.refresh();
    pump(&mut app, &workers, effects, |a| a.exemplars().view_of(neuron).is_some());
    let x = file.neuron(neuron).unwrap();
    assert_eq!(x.top.len(), 8, "the corpus has more than 8 positions");
    let shown = |app: &App, record: Record| find_marked(&render(app), r.detail, &file, &tok, record);
    let detail = text(&render(&app), r.detail);
    let stats = x.stats;
    for part in [
        "exemplars · top m · page 1/2".to_string(),
        format!("mean {:+.3}  std {:.3}", stats.mean, stats.std),
        format!("top-K share {:.2}%  scale {:.3}", stats.top_k_fraction * 100.0, stats.scale),
    ] {
        assert!(detail.contains(&part), "{part:?} missing:\n{detail}");
    }
    for &record in &x.top[..5] {
        shown(&app, record);
    }
    app.on_key(key('}'));
    let detail = text(&render(&app), r.detail);
    assert!(detail.contains("top m · page 2/2"), "{detail}");
    for &record in &x.top[5..] {
        shown(&app, record);
    }
    app.on_key(key('E'));
    let detail = text(&render(&app), r.detail);
    assert!(detail.contains("most negative m · page 1/2"), "{detail}");
    for &record in &x.bottom[..5] {
        shown(&app, record);
    }
    app.on_key(key('E'));
    // The bins, the most positive first: each page one bin, its range in the layer's scale.
    for page in 0..BINS {
        let bin = bin_of_page(page);
        let detail = text(&render(&app), r.detail);
        assert!(detail.contains(&format!("bin {}/{BINS}: m in [", bin + 1)), "{detail}");
        assert!(detail.contains(&format!("× layer scale {:.3}", stats.layer_scale)), "{detail}");
        if x.bins[bin].is_empty() {
            assert!(detail.contains("no position of the corpus fell in this bin"), "{detail}");
        }
        for &record in &x.bins[bin] {
            shown(&app, record);
        }
        app.on_key(key('}'));
    }
    assert!(x.bins.iter().any(|b| !b.is_empty()));
    let detail = text(&render(&app), r.detail);
    assert!(detail.contains("bin 1/10: m in [-∞, -1)"), "paging stops at the lowest bin:\n{detail}");
    app.on_key(key('{'));
    let detail = text(&render(&app), r.detail);
    assert!(detail.contains("bin 2/10: m in [-1, -0.5)"), "{detail}");
}

#[test]
fn the_worker_shades_the_shown_tokens_by_m_and_leaves_nan_unshaded() {
    let home = tempfile::tempdir().unwrap();
    let (file, tok) = tiny_exemplars(home.path());
    let (mut app, workers) = explored_in(200, 60, home);
    let r = layout::regions(app.size(), &app);
    // The next neuron: its text is read at once, as the main loop does; its shading request is
    // held back until the unshaded text has been checked.
    let mut held = Vec::new();
    for effect in app.update(Action::Down) {
        match effect {
            Effect::ReadExemplars(source, n) => held.extend(app.on_exemplars(n, source.read(n))),
            other => held.push(other),
        }
    }
    let neuron = app.selected_neuron().unwrap();
    assert!(held
        .iter()
        .any(|e| matches!(e, Effect::Engine(Side::A, EngineCmd::Shade { neuron: n, .. }) if *n == neuron)));
    let x = file.neuron(neuron).unwrap();
    let first = x.top[0];
    let (y, bracket) = find_marked(&render(&app), r.detail, &file, &tok, first);
    let focus_cell = (bracket + 1, y);
    let before_cell = (bracket - 1, y);
    let unshaded = render(&app);
    assert_eq!(unshaded[focus_cell].bg, Color::Reset, "no shading before the worker answers");
    let page: Vec<(u32, u32)> = x.top[..5].iter().map(|r| (r.doc, r.pos)).collect();
    pump(&mut app, &workers, held, |a| page.iter().all(|k| a.exemplars().shading.contains_key(k)));
    let c = context::context(&file, first);
    let m = app.exemplars().shading[&(first.doc, first.pos)].clone();
    assert_eq!(m.len(), c.tokens.len());
    assert!(
        (m[c.focus] - first.m).abs() <= 1e-3 * first.m.abs().max(1.0),
        "{} recomputed, {} kept",
        m[c.focus],
        first.m
    );
    let palette =
        Palette { depth: ColorDepth::for_theme(ThemeName::Dark), scale: Scale::Max, max: x.stats.scale, light: false };
    let shaded = render(&app);
    assert_eq!(shaded[focus_cell].bg, palette.color(m[c.focus]));
    assert_ne!(shaded[focus_cell].bg, Color::Reset);
    if c.focus > 0 {
        assert_eq!(shaded[before_cell].bg, palette.color(m[c.focus - 1]), "the token before the focus");
    }
    // An answer for another neuron changes nothing; NaN leaves a token unshaded, not neutral.
    let other = NeuronId { layer: neuron.layer, index: neuron.index + 1 };
    app.on_engine(EngineMsg::Shading(Arc::new(Shading { neuron: other, contexts: vec![(first, vec![0.0; m.len()])] })));
    assert_eq!(render(&app)[focus_cell].bg, palette.color(m[c.focus]));
    let mut nan = m.clone();
    nan[c.focus] = f32::NAN;
    app.on_engine(EngineMsg::Shading(Arc::new(Shading { neuron, contexts: vec![(first, nan)] })));
    let after = render(&app);
    assert_eq!(after[focus_cell].bg, Color::Reset);
    if c.focus > 0 {
        assert_eq!(after[before_cell].bg, palette.color(m[c.focus - 1]));
    }
}

#[test]
fn without_an_exemplar_file_the_detail_says_how_to_build_one_and_a_broken_file_is_named() {
    let (mut app, workers) = explored(200, 60);
    let r = layout::regions(app.size(), &app);
    let effects = app.refresh();
    pump(&mut app, &workers, effects, |_| true);
    assert!(matches!(app.exemplars().found, Some(Found::Nothing)));
    let detail = text(&render(&app), r.detail);
    assert!(detail.contains(NO_EXEMPLARS), "{detail}");
    app.on_key(key('E'));
    assert_eq!(app.message(), Some(&(NO_EXEMPLARS.to_string(), true)));

    let home = tempfile::tempdir().unwrap();
    let dir = location::build_dir(&paths(home.path()).cache, &fingerprint(&tiny()).unwrap(), "broken");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(FILE_NAME), b"not a safetensors file").unwrap();
    let (app, _workers) = loaded(tiny(), 200, 60, home);
    let (message, error) = app.message().unwrap();
    assert!(*error && message.contains(&dir.join(FILE_NAME).display().to_string()), "{message}");
    assert!(matches!(app.exemplars().found, Some(Found::Broken(_))));
}

/// Selecting a neuron to its exemplars' text, and to their shading, on the default model with a
/// 20000-token GSM8K exemplar file (built into the cache on the first run).
#[test]
#[ignore = "builds a 20000-token exemplar file of the default model; run with --ignored"]
fn exemplar_text_and_shading_times_on_the_default_model() {
    let model = common::default_model();
    let real = Paths::resolve().unwrap();
    let settings = ExemplarSettings { top: 20, max_tokens: Some(20_000), window: 512, top_k: 20 };
    let started = Instant::now();
    build_exemplars(&model, &real.cache, &Corpus::gsm8k(), settings);
    eprintln!("exemplar file ready in {:.1?}", started.elapsed());
    let (mut app, workers) = loaded_with(model, 200, 60, tempfile::tempdir().unwrap(), real, false);
    assert!(matches!(app.exemplars().found, Some(Found::File(_))));
    let page_shaded = |a: &App, neuron: NeuronId| match a.exemplars().view_of(neuron) {
        Some(Ok(v)) => {
            v.page(a.exemplars().list, a.exemplars().page).iter().all(|c| a.exemplars().shading.contains_key(&c.key()))
        }
        _ => false,
    };
    for (layer, index) in [(0, 5), (8, 100), (15, 777), (22, 1000), (29, 1535)] {
        let neuron = NeuronId { layer, index };
        let t0 = Instant::now();
        let effects = app.execute(Command::GotoNeuron(neuron));
        pump(&mut app, &workers, effects, |a| a.exemplars().view_of(neuron).is_some());
        render(&app);
        let text_time = t0.elapsed();
        pump(&mut app, &workers, Vec::new(), |a| !a.exemplars().shading.is_empty());
        let first_time = t0.elapsed();
        pump(&mut app, &workers, Vec::new(), |a| page_shaded(a, neuron));
        render(&app);
        let shaded_time = t0.elapsed();
        eprintln!("{neuron}: text {text_time:.1?}, first shading {first_time:.1?}, page shaded {shaded_time:.1?}");
    }
}

#[test]
fn review_shows_the_exemplars_of_the_neuron_under_review_and_pages_them() {
    let home = tempfile::tempdir().unwrap();
    let (file, tok) = tiny_exemplars(home.path());
    let neuron = NeuronId { layer: 1, index: 7 };
    let db = LabelStore::default_path(&paths(home.path()).data);
    let label = NewLabel {
        neuron,
        concept: "add".into(),
        source: "gpt-test".into(),
        applies: true,
        evidence: vec!["plus".into()],
        answer: String::new(),
    };
    LabelStore::open(&db, &fingerprint(&tiny()).unwrap()).unwrap().upsert_labels(&[label]).unwrap();
    let (mut app, workers) = explored_in(160, 50, home);
    let effects = app.update(Action::Review);
    pump(&mut app, &workers, effects, |a| a.exemplars().view_of(neuron).is_some());
    let x = file.neuron(neuron).unwrap();
    let r = layout::regions(app.size(), &app);
    find_marked(&render(&app), r.review, &file, &tok, x.top[0]);
    app.on_key(key('E'));
    let review = text(&render(&app), r.review);
    assert!(review.contains("most negative m · page 1/2"), "{review}");
    find_marked(&render(&app), r.review, &file, &tok, x.bottom[0]);
}
