//! The explorer's reducer without a terminal or a model: keys in, state and effects out.
use std::collections::HashMap;
use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use half::f16;
use neuronav::engine::intervention::Interventions;
use neuronav::engine::model::ComputePath;
use neuronav::engine::neuron::{NeuronHit, NeuronId};
use neuronav::engine::session::SessionSettings;
use neuronav::science::analysis::counting::{ReasoningNeurons, ReasoningSelection};
use neuronav::science::heuristics::cache;
use neuronav::science::heuristics::grid::{GridSpec, Operator};
use neuronav::science::heuristics::knockout::HeuristicKnockout;
use neuronav::science::heuristics::maps::{MapSettings, Outcome};
use neuronav::science::labels::label::{Label, NewVerdict, Verdict, VerdictKind};
use neuronav::science::labels::store::{Answers, QueueItem};
use neuronav::tui::action::Action;
use neuronav::tui::app::{App, Focus, SearchHit, SortBy};
use neuronav::tui::compare::{Drive, Side};
use neuronav::tui::effect::Effect;
use neuronav::tui::engine_messages::{EngineCmd, EngineMsg, Job};
use neuronav::tui::grid::{GridChoice, LoadedGrid};
use neuronav::tui::keymap::{Keymap, Mode};
use neuronav::tui::knockout_job::KnockoutResult;
use neuronav::tui::label_worker::{LabelCmd, LabelMsg};
use neuronav::tui::labels::{LabelView, Labels};
use neuronav::tui::prompts;
use neuronav::tui::snapshot::{ModelInfo, Snapshot, TokenView};
use neuronav::tui::theme::ThemeName;
use neuronav::tui::ui::heatmap::Zoom;
use neuronav::tui::ui::{self, popup};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use safetensors::tensor::{Dtype, TensorView};

fn info() -> Arc<ModelInfo> {
    Arc::new(ModelInfo {
        name: "tiny".into(),
        path: "/m/tiny".into(),
        device: "cpu f32".into(),
        compute: ComputePath::Exact,
        layers: 3,
        d_model: 8,
        d_ff: 50,
        vocab: 100,
        eos: Some(99),
        fingerprint: "0123456789abcdef".into(),
    })
}

/// Tokens "a b c d", and at every position layer l holds neurons l*10+1.. with alternating signs.
fn snapshot(generation: u64, n: usize) -> Arc<Snapshot> {
    let words = ["Tom", "␣has", "␣3", "␣apples", "␣and", "␣more"];
    let tokens = (0..n).map(|i| TokenView { id: i as u32, text: words[i % words.len()].into() }).collect();
    let top = (0..n)
        .map(|_| {
            (0..3u32)
                .map(|l| {
                    (0..5u32)
                        .map(|j| NeuronHit {
                            index: l * 10 + j + 1,
                            m: if j % 2 == 0 { 1.0 + j as f32 } else { -(1.0 + j as f32) * 2.0 },
                            s: 10.0 - j as f32,
                        })
                        .collect()
                })
                .collect()
        })
        .collect();
    Arc::new(Snapshot {
        generation,
        tokens,
        prompt_len: n.min(4),
        top,
        next: Vec::new(),
        settings: SessionSettings::default(),
        at_eos: false,
    })
}

fn app() -> App {
    let mut app = App::new(Keymap::builtin(), prompts::examples(), ThemeName::Dark);
    app.on_engine(EngineMsg::Loaded(info()));
    app.on_engine(EngineMsg::Idle);
    app
}

fn loaded_app() -> App {
    let mut app = app();
    app.on_engine(EngineMsg::Snapshot(snapshot(1, 6)));
    app
}

fn key(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

fn special(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn ctrl(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)
}

fn type_str(app: &mut App, s: &str) -> Vec<Effect> {
    s.chars().flat_map(|c| app.on_key(key(c))).collect()
}

fn command(app: &mut App, line: &str) -> Vec<Effect> {
    app.on_key(key(':'));
    type_str(app, line);
    app.on_key(special(KeyCode::Enter))
}

fn engine_cmds(effects: &[Effect]) -> Vec<&EngineCmd> {
    effects.iter().filter_map(|e| if let Effect::Engine(Side::A, c) = e { Some(c) } else { None }).collect()
}

#[test]
fn typing_a_prompt_and_running_it_sends_the_text_to_the_engine() {
    let mut app = app();
    assert!(app.on_key(key('r')).is_empty(), "an empty prompt must not run");
    assert!(app.message().is_some_and(|(m, err)| *err && m.contains("empty")));
    app.on_key(key('i'));
    assert_eq!(app.mode(), Mode::Prompt);
    type_str(&mut app, "2+3=");
    app.on_key(special(KeyCode::Enter));
    type_str(&mut app, "qs"); // keys bound in [normal] are text while editing
    app.on_key(special(KeyCode::Esc));
    assert_eq!(app.mode(), Mode::Normal);
    let effects = app.on_key(key('r'));
    assert_eq!(effects, vec![Effect::Engine(Side::A, EngineCmd::RunPrompt { text: "2+3=\nqs".into() })]);
    assert!(app.busy().is_some());
}

#[test]
fn undo_and_paste_edit_the_prompt() {
    let mut app = app();
    app.on_key(key('i'));
    type_str(&mut app, "abc");
    app.on_key(ctrl('z'));
    assert_ne!(app.prompt_text(), "abc");
    app.on_key(ctrl('y'));
    assert_eq!(app.prompt_text(), "abc");
    app.on_paste(" pasted\r\nline");
    assert_eq!(app.prompt_text(), "abc pasted\nline");
}

#[test]
fn a_chord_waits_for_its_second_key() {
    let mut app = loaded_app();
    app.focus = Focus::Layers;
    for _ in 0..3 {
        app.on_key(key('j'));
    }
    assert_eq!(app.row, 3);
    app.on_key(key('g'));
    assert_eq!(app.pending().len(), 1);
    assert_eq!(app.row, 3);
    app.on_key(key('g'));
    assert!(app.pending().is_empty());
    assert_eq!(app.row, 0);
    app.on_key(key('G'));
    assert_eq!(app.row, 4, "the last row of five");
}

#[test]
fn interrupt_cancels_a_running_job_and_quits_when_idle() {
    let mut app = loaded_app();
    assert_eq!(app.on_key(key('s')), vec![Effect::Engine(Side::A, EngineCmd::Step { n: 1, stop_at_eos: true })]);
    assert_eq!(app.on_key(ctrl('c')), vec![Effect::Cancel(Side::A)]);
    assert_eq!(app.on_key(special(KeyCode::Esc)), vec![Effect::Cancel(Side::A)]);
    app.on_engine(EngineMsg::Idle);
    assert!(app.busy().is_none());
    assert_eq!(app.on_key(ctrl('c')), vec![Effect::Quit]);
    assert_eq!(app.on_key(key('q')), vec![Effect::Quit]);
}

#[test]
fn steps_queue_behind_a_running_one_and_busy_ends_with_the_last() {
    let mut app = loaded_app();
    let effects: Vec<Effect> = "sss".chars().flat_map(|c| app.on_key(key(c))).collect();
    assert_eq!(engine_cmds(&effects).len(), 3);
    app.on_engine(EngineMsg::Idle);
    app.on_engine(EngineMsg::Idle);
    assert!(app.busy().is_some());
    app.on_engine(EngineMsg::Idle);
    assert!(app.busy().is_none());
    let effects = command(&mut app, "n 5");
    assert!(effects.is_empty());
    assert_eq!(app.on_key(key('S')), vec![Effect::Engine(Side::A, EngineCmd::Step { n: 5, stop_at_eos: true })]);
}

#[test]
fn at_eos_stepping_stops_until_continuing_is_chosen() {
    let mut app = app();
    let mut s = (*snapshot(1, 6)).clone();
    s.at_eos = true;
    app.on_engine(EngineMsg::Snapshot(Arc::new(s)));
    assert!(app.on_key(key('s')).is_empty());
    app.on_key(key('e'));
    assert_eq!(app.on_key(key('s')), vec![Effect::Engine(Side::A, EngineCmd::Step { n: 1, stop_at_eos: false })]);
}

#[test]
fn a_snapshot_selects_the_last_position_and_rows_follow_sort_and_sign() {
    let mut app = loaded_app();
    assert_eq!(app.position(), 5);
    app.focus = Focus::Layers;
    app.on_key(key('l'));
    assert_eq!(app.layer, 1);
    let ids: Vec<u32> = app.rows()[1].iter().map(|h| h.index).collect();
    assert_eq!(ids, vec![11, 12, 13, 14, 15], "by score");
    app.on_key(key('o'));
    assert_eq!(app.sort(), SortBy::AbsM);
    let ids: Vec<u32> = app.rows()[1].iter().map(|h| h.index).collect();
    assert_eq!(ids, vec![14, 15, 12, 13, 11], "|m| of N11..N15 is 1, 4, 3, 8, 5");
    app.on_key(key('f'));
    assert!(app.rows()[1].iter().all(|h| h.m > 0.0));
    app.on_key(key('f'));
    assert!(app.rows()[1].iter().all(|h| h.m < 0.0));
    // A step at the end of the text moves the selection along; an older snapshot is ignored.
    app.on_engine(EngineMsg::Snapshot(snapshot(2, 7)));
    assert_eq!(app.position(), 6);
    app.on_engine(EngineMsg::Snapshot(snapshot(1, 3)));
    assert_eq!(app.snapshot().unwrap().len(), 7);
}

#[test]
fn visible_neurons_are_projected_once() {
    let mut app = app();
    let effects = app.on_engine(EngineMsg::Snapshot(snapshot(1, 6)));
    let cmds = engine_cmds(&effects);
    let EngineCmd::Project { neurons } = cmds[0] else { panic!("{cmds:?}") };
    assert_eq!(neurons.len(), 5);
    assert_eq!(neurons[0], NeuronId { layer: 0, index: 1 });
    assert!(engine_cmds(&app.on_key(key('j'))).is_empty(), "already requested");
}

#[test]
fn goto_opens_the_neuron_detail_and_bad_commands_say_why() {
    let mut app = loaded_app();
    let effects = command(&mut app, "goto L2N23");
    let neuron = NeuronId { layer: 2, index: 23 };
    assert_eq!(app.detail_neuron(), Some(neuron));
    assert_eq!(app.layer, 2);
    assert_eq!(app.row, 2, "N23 is the third row of layer 2");
    assert_eq!(app.focus, Focus::Detail);
    assert!(engine_cmds(&effects).contains(&&EngineCmd::Detail { neuron }));
    command(&mut app, "goto L9N1");
    assert!(app.message().is_some_and(|(m, err)| *err && m.contains("3 layers")));
    command(&mut app, "k x");
    assert!(app.message().is_some_and(|(m, err)| *err && m.contains("'x'")));
    assert_eq!(command(&mut app, "k 7"), vec![Effect::Engine(Side::A, EngineCmd::SetTopK(7))]);
    assert_eq!(command(&mut app, "q"), vec![Effect::Quit]);
}

#[test]
fn before_any_run_the_detail_asks_for_the_neurons_projection() {
    let mut app = app();
    let neuron = NeuronId { layer: 2, index: 23 };
    let effects = command(&mut app, "goto L2N23");
    assert_eq!(app.detail_neuron(), Some(neuron));
    assert_eq!(engine_cmds(&effects), [&EngineCmd::Project { neurons: vec![neuron] }]);
    assert!(engine_cmds(&app.refresh()).is_empty(), "asked once");
}

#[test]
fn search_finds_tokens_and_neurons() {
    let mut app = loaded_app();
    app.on_key(key('/'));
    type_str(&mut app, "apples");
    app.on_key(special(KeyCode::Enter));
    assert_eq!(app.position(), 3);
    assert_eq!(app.focus, Focus::Tokens);
    app.on_key(key('/'));
    type_str(&mut app, "N13");
    app.on_key(special(KeyCode::Enter));
    assert_eq!(app.search().unwrap().hits, vec![SearchHit::Neuron(NeuronId { layer: 1, index: 13 })]);
    assert_eq!((app.layer, app.row, app.focus), (1, 2, Focus::Layers));
    app.on_key(key('/'));
    type_str(&mut app, "zebra");
    app.on_key(special(KeyCode::Enter));
    assert!(app.message().is_some_and(|(m, err)| *err && m.contains("not found")));
}

#[test]
fn label_filters_use_the_labels_seam() {
    let mut app = loaded_app();
    let label = |c: &str| vec![LabelView { concept: c.into(), source: "lexical".into(), ..Default::default() }];
    app.labels = Labels::new(HashMap::from([
        (NeuronId { layer: 0, index: 2 }, label("add")),
        (NeuronId { layer: 0, index: 4 }, label("mult")),
    ]));
    command(&mut app, "concept add");
    let ids: Vec<u32> = app.rows()[0].iter().map(|h| h.index).collect();
    assert_eq!(ids, vec![2]);
    command(&mut app, "concept");
    command(&mut app, "source lexical");
    assert_eq!(app.rows()[0].len(), 2);
}

#[test]
fn export_writes_model_prompt_settings_and_neurons() {
    let mut app = loaded_app();
    app.last_prompt = "Tom has 3 apples".into();
    let effects = command(&mut app, "export session /tmp/x.json");
    let [Effect::Export { path, contents }] = effects.as_slice() else { panic!("{effects:?}") };
    assert_eq!(path.to_str(), Some("/tmp/x.json"));
    let doc: serde_json::Value = serde_json::from_str(contents).unwrap();
    assert_eq!(doc["model"]["name"], "tiny");
    assert_eq!(doc["prompt"], "Tom has 3 apples");
    assert_eq!(doc["settings"]["top_k"], 20);
    assert_eq!(doc["tokens"].as_array().unwrap().len(), 6);
    assert_eq!(doc["positions"][5]["neurons"][0]["id"], "L0N1");
    assert_eq!(doc["positions"][5]["neurons"].as_array().unwrap().len(), 15);
    let effects = command(&mut app, "export position /tmp/x.csv");
    let [Effect::Export { contents, .. }] = effects.as_slice() else { panic!("{effects:?}") };
    let lines: Vec<&str> = contents.lines().collect();
    assert_eq!(lines.len(), 16);
    assert!(lines[1].starts_with("5,5,␣more,true,0,1,L0N1,1,10,"), "{}", lines[1]);
    command(&mut app, "export /tmp/x.txt");
    assert!(app.message().is_some_and(|(m, err)| *err && m.contains(".json or a .csv")));
}

#[test]
fn tab_cycles_the_visible_panes_and_the_picker_loads_a_prompt() {
    let mut app = loaded_app();
    app.focus = Focus::Prompt;
    let order: Vec<Focus> = (0..3)
        .map(|_| {
            app.on_key(special(KeyCode::Tab));
            app.focus
        })
        .collect();
    assert_eq!(order, vec![Focus::Tokens, Focus::Layers, Focus::Prompt], "no detail or lens open");
    app.on_key(key('p'));
    assert_eq!(app.mode(), Mode::Picker);
    app.on_key(key('j'));
    app.on_key(special(KeyCode::Enter));
    assert_eq!(app.prompt_text().trim_end(), prompts::examples()[1].text.trim_end());
    app.on_key(key('?'));
    assert_eq!(app.mode(), Mode::Help);
    app.on_key(key('q'));
    assert_eq!(app.mode(), Mode::Normal, "q closes help instead of quitting");
}

#[test]
fn mouse_clicks_select_tokens_and_rows_and_the_wheel_scrolls() {
    let mut app = loaded_app();
    app.on_resize(120, 40);
    let regions = neuronav::tui::ui::layout::regions(app.size(), &app);
    // Tokens are laid out from the strip's inner left edge: "Tom ␣has ␣3 …"; column 5 is "␣has".
    let click = |x, y| MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column: x,
        row: y,
        modifiers: KeyModifiers::NONE,
    };
    app.on_mouse(click(regions.tokens.x + 1 + 5, regions.tokens.y + 1));
    assert_eq!((app.focus, app.position()), (Focus::Tokens, 1));
    // Rows start below the border and the header line.
    app.on_mouse(click(regions.layers.x + 3, regions.layers.y + 2 + 3));
    assert_eq!((app.focus, app.row), (Focus::Layers, 3));
    let wheel = MouseEvent {
        kind: MouseEventKind::ScrollUp,
        column: regions.layers.x + 3,
        row: regions.layers.y + 3,
        modifiers: KeyModifiers::NONE,
    };
    app.on_mouse(wheel);
    assert_eq!(app.row, 2);
}

fn label(neuron: &str, concept: &str) -> Label {
    Label {
        neuron: neuron.parse().unwrap(),
        concept: concept.into(),
        source: "gpt".into(),
        applies: true,
        evidence: vec!["plus".into(), "sum".into()],
        answer: "Yes, addition".into(),
        time: "2026-01-01T00:00:00.000Z".into(),
    }
}

fn verdict(id: i64, neuron: &str, concept: &str, kind: VerdictKind) -> Verdict {
    Verdict {
        id,
        neuron: neuron.parse().unwrap(),
        concept: concept.into(),
        verdict: kind,
        note: None,
        corrected: None,
        time: "2026-01-01T00:00:01.000Z".into(),
    }
}

fn label_cmds(effects: &[Effect]) -> Vec<&LabelCmd> {
    effects.iter().filter_map(|e| if let Effect::Labels(c) = e { Some(c) } else { None }).collect()
}

#[test]
fn a_loaded_model_opens_its_labels_and_they_fill_panes_and_filters() {
    let mut app = App::new(Keymap::builtin(), Vec::new(), ThemeName::Dark);
    let effects = app.on_engine(EngineMsg::Loaded(info()));
    assert_eq!(label_cmds(&effects), [&LabelCmd::Open { fingerprint: "0123456789abcdef".into() }]);
    app.on_engine(EngineMsg::Idle);
    app.on_engine(EngineMsg::Snapshot(snapshot(1, 6)));
    let no = Label { applies: false, concept: "mult".into(), ..label("L0N4", "mult") };
    let labels = Labels::from_store([label("L0N2", "add"), no], [verdict(3, "L0N2", "add", VerdictKind::Agree)]);
    app.on_labels(LabelMsg::Loaded { path: "/d/labels.sqlite3".into(), labels });
    let n2 = NeuronId { layer: 0, index: 2 };
    assert_eq!(app.labels.with_sources(n2), "add (gpt)");
    assert!(app.labels.of(NeuronId { layer: 0, index: 4 }).is_empty(), "a No answer is no label");
    assert_eq!(app.labels.verdicts_of(n2).len(), 1);
    command(&mut app, "source gpt");
    assert_eq!(app.rows()[0].iter().map(|h| h.index).collect::<Vec<_>>(), vec![2]);
    command(&mut app, "source lexicon");
    assert!(app.rows()[0].is_empty());
}

#[test]
fn review_mode_records_verdicts_advances_and_counts_agreement() {
    let mut app = loaded_app();
    command(&mut app, "source gpt");
    let effects = app.on_key(key('R'));
    assert_eq!(
        label_cmds(&effects),
        [&LabelCmd::Queue { source: Some("gpt".into()), concept: None, answers: Answers::Yes }]
    );
    assert_eq!(app.mode(), Mode::Review);
    let checked = QueueItem {
        label: label("L1N11", "mult"),
        verdict: Some(verdict(1, "L1N11", "mult", VerdictKind::Agree)),
        scores: vec![],
    };
    let items = vec![
        QueueItem { label: label("L2N40", "add"), verdict: None, scores: vec![] },
        QueueItem { label: label("L2N41", "add"), verdict: None, scores: vec![] },
        checked,
    ];
    let effects =
        app.on_labels(LabelMsg::Queue { source: Some("gpt".into()), concept: None, answers: Answers::Yes, items });
    let l2n40: NeuronId = "L2N40".parse().unwrap();
    let l2n41: NeuronId = "L2N41".parse().unwrap();
    assert_eq!(engine_cmds(&effects), [&EngineCmd::Project { neurons: vec![l2n40, l2n41] }], "this and the next item");
    let review = app.review().unwrap();
    assert_eq!((review.len(), review.at, review.unchecked()), (3, 0, 2));
    assert_eq!((review.agreement.overall.checked, review.agreement.overall.agreed), (1, 1));

    // A note goes with the next verdict; the verdict is sent, shown as saving, and the queue moves on.
    app.on_key(key('n'));
    assert_eq!(app.mode(), Mode::Line);
    type_str(&mut app, "plus and sum");
    app.on_key(special(KeyCode::Enter));
    let effects = app.on_key(key('a'));
    let sent = NewVerdict {
        neuron: l2n40,
        concept: "add".into(),
        verdict: VerdictKind::Agree,
        note: Some("plus and sum".into()),
        corrected: None,
    };
    assert_eq!(label_cmds(&effects), [&LabelCmd::Record(sent)]);
    let review = app.review().unwrap();
    assert_eq!(review.at, 1);
    assert_eq!(review.items.as_ref().unwrap()[0].saving, Some(VerdictKind::Agree));
    assert_eq!(review.agreement.overall.checked, 1, "not counted before the store says it is saved");

    app.on_labels(LabelMsg::Saved(verdict(7, "L2N40", "add", VerdictKind::Agree)));
    let review = app.review().unwrap();
    let first = &review.items.as_ref().unwrap()[0];
    assert_eq!((first.saving, first.verdict.as_ref().map(|v| v.id)), (None, Some(7)));
    assert_eq!((review.agreement.overall.checked, review.agreement.overall.agreed), (2, 2));
    assert_eq!(review.unchecked(), 1);
    assert!(app.message().is_some_and(|(m, err)| !err && m.contains("saved L2N40 add agree")));
    assert_eq!(app.labels.verdicts_of(l2n40).len(), 1, "the detail pane sees the verdict");

    // Correcting the concept records a disagree verdict with the concept named.
    app.on_key(key('c'));
    for _ in 0.."add".len() {
        app.on_key(special(KeyCode::Backspace));
    }
    type_str(&mut app, "mult");
    let effects = app.on_key(special(KeyCode::Enter));
    let corrected = NewVerdict {
        neuron: l2n41,
        concept: "add".into(),
        verdict: VerdictKind::Disagree,
        note: None,
        corrected: Some("mult".into()),
    };
    assert_eq!(label_cmds(&effects), [&LabelCmd::Record(corrected.clone())]);
    app.on_labels(LabelMsg::NotSaved { verdict: corrected, error: "disk full".into() });
    assert!(app.message().is_some_and(|(m, err)| *err && m.contains("not saved") && m.contains("disk full")));
    let review = app.review().unwrap();
    assert_eq!(review.items.as_ref().unwrap()[1].saving, None);
    assert_eq!(review.items.as_ref().unwrap()[1].verdict, None);

    // The last item stays selected; a new verdict on an already checked pair replaces it in the counts.
    let effects = app.on_key(key('d'));
    assert!(matches!(label_cmds(&effects)[..], [LabelCmd::Record(NewVerdict { verdict: VerdictKind::Disagree, .. })]));
    assert_eq!(app.review().unwrap().at, 2);
    app.on_labels(LabelMsg::Saved(verdict(9, "L1N11", "mult", VerdictKind::Disagree)));
    let a = app.review().unwrap().agreement.overall;
    assert_eq!((a.labels, a.checked, a.agreed, a.disagreed), (3, 2, 1, 1));
    assert_eq!(a.rate(), Some(0.5));

    app.on_key(key('k'));
    assert_eq!(app.review().unwrap().at, 1);
    app.on_key(special(KeyCode::Esc));
    assert!(app.review().is_none());
    assert_eq!(app.mode(), Mode::Normal);
    let effects = command(&mut app, "review * add");
    assert_eq!(
        label_cmds(&effects),
        [&LabelCmd::Queue { source: None, concept: Some("add".into()), answers: Answers::Yes }]
    );
}

#[test]
fn review_answers_are_chosen_by_command_and_cycled_by_key() {
    let mut app = loaded_app();
    let effects = command(&mut app, "review gpt add no");
    let queue = |answers| LabelCmd::Queue { source: Some("gpt".into()), concept: Some("add".into()), answers };
    assert_eq!(label_cmds(&effects), [&queue(Answers::No)]);
    assert_eq!(app.review().unwrap().answers, Answers::No);
    let declined = Label { applies: false, answer: "No, not addition.".into(), ..label("L2N40", "add") };
    let items = vec![QueueItem { label: declined, verdict: None, scores: vec![] }];
    // A queue answered for an earlier choice is not shown.
    let stale = LabelMsg::Queue {
        source: Some("gpt".into()),
        concept: Some("add".into()),
        answers: Answers::Yes,
        items: items.clone(),
    };
    app.on_labels(stale);
    assert_eq!(app.review().unwrap().items, None);
    app.on_labels(LabelMsg::Queue {
        source: Some("gpt".into()),
        concept: Some("add".into()),
        answers: Answers::No,
        items,
    });
    assert_eq!(app.review().unwrap().len(), 1);
    let said_no = app.review().unwrap().agreement.said_no;
    assert_eq!((said_no.labels, said_no.checked, said_no.rate()), (1, 0, None));

    // t: no, then both, then yes again, keeping source and concept.
    assert_eq!(label_cmds(&app.on_key(key('t'))), [&queue(Answers::Both)]);
    assert_eq!(app.review().unwrap().answers, Answers::Both);
    assert_eq!(app.review().unwrap().items, None, "the old queue is gone until the new one comes");
    assert_eq!(label_cmds(&app.on_key(key('t'))), [&queue(Answers::Yes)]);
    assert_eq!(app.mode(), Mode::Review);
}

#[test]
fn review_needs_a_model_and_an_empty_queue_says_so() {
    let mut app = App::new(Keymap::builtin(), Vec::new(), ThemeName::Dark);
    assert!(app.update(Action::Review).is_empty());
    assert!(app.message().is_some_and(|(m, err)| *err && m.contains("loading")));
    let mut app = loaded_app();
    app.on_key(key('R'));
    app.on_labels(LabelMsg::Queue { source: None, concept: None, answers: Answers::Yes, items: Vec::new() });
    assert!(app.message().is_some_and(|(m, err)| *err && m.contains("no labels to review")));
    assert!(app.on_key(key('a')).is_empty());
    app.on_key(key('?'));
    let help: Vec<String> = neuronav::tui::ui::popup::help_lines(&app)
        .iter()
        .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
        .collect();
    assert_eq!(help[0], "[review]", "help over review lists its keys first");
    assert!(help.iter().any(|l| l.contains('a') && l.contains("Agree")), "{help:?}");
}

// ---- heatmap mode -------------------------------------------------------------------------------

/// m of synthetic maps: distinct per layer, neuron and cell, exact in f16.
fn synthetic_m(layer: usize, neuron: usize, cell: usize) -> f32 {
    (layer as f32 + 1.0) * 0.5 + neuron as f32 * 0.25 - cell as f32 * 0.125
}

/// The centred logit of synthetic maps for answer token `100 + r` (the result r).
fn synthetic_logit(neuron: usize, token: u32) -> f32 {
    -1.0 - neuron as f32 - (token - 100) as f32 * 0.5
}

/// Maps of `settings` for `info()`'s 50 neurons, written in the cache's format and read back the
/// way the explorer reads them: the result r is token 100 + r, the model right on even results.
fn synthetic_grid(settings: MapSettings) -> Arc<LoadedGrid> {
    synthetic_grid_of(settings, synthetic_m)
}

/// The same with m of `(layer, neuron, cell)` given.
fn synthetic_grid_of(settings: MapSettings, synthetic_m: fn(usize, usize, usize) -> f32) -> Arc<LoadedGrid> {
    let (d_ff, spec) = (50, &settings.spec);
    let cells = spec.len();
    let results: Vec<Option<u32>> = (0..cells).map(|c| spec.problem(c).map(|p| p.result)).collect();
    let mut m = Vec::new();
    for li in 0..settings.layers.len() {
        for j in 0..d_ff {
            m.extend(results.iter().enumerate().map(|(c, r)| match r {
                Some(_) => f16::from_f32(synthetic_m(settings.layers[li], j, c)),
                None => f16::NAN,
            }));
        }
    }
    let targets: Vec<Option<u32>> = results.iter().map(|r| r.map(|r| 100 + r)).collect();
    let mut target_tokens: Vec<u32> = targets.iter().flatten().copied().collect();
    target_tokens.sort_unstable();
    target_tokens.dedup();
    let logits: Vec<f32> = (0..settings.layers.len() * d_ff)
        .flat_map(|lj| target_tokens.iter().map(move |&t| synthetic_logit(lj % d_ff, t)))
        .collect();
    let outcomes: Vec<Option<Outcome>> = results
        .iter()
        .map(|r| r.map(|r| Outcome { correct: r % 2 == 0, answer: if r % 2 == 0 { r } else { r + 1 }.to_string() }))
        .collect();
    let m_bytes: Vec<u8> = m.iter().flat_map(|x| x.to_le_bytes()).collect();
    let l_bytes: Vec<u8> = logits.iter().flat_map(|x| x.to_le_bytes()).collect();
    let views = vec![
        ("m", TensorView::new(Dtype::F16, vec![1, settings.layers.len(), d_ff, cells], &m_bytes).unwrap()),
        (
            "value_logits",
            TensorView::new(Dtype::F32, vec![settings.layers.len(), d_ff, target_tokens.len()], &l_bytes).unwrap(),
        ),
    ];
    let metadata: HashMap<String, String> = [
        ("settings".to_string(), serde_json::to_string(&settings).unwrap()),
        ("outcomes".to_string(), serde_json::to_string(&outcomes).unwrap()),
        ("targets".to_string(), serde_json::to_string(&targets).unwrap()),
        ("target_tokens".to_string(), serde_json::to_string(&target_tokens).unwrap()),
    ]
    .into();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("grid.safetensors");
    safetensors::serialize_to_file(views, Some(metadata), &file).unwrap();
    let maps = cache::load(&file).unwrap();
    let token_texts = maps.target_tokens.iter().map(|t| format!("r{}", t - 100)).collect();
    Arc::new(LoadedGrid::new(Arc::new(maps), token_texts))
}

fn grid_cmds(effects: &[Effect]) -> Vec<&MapSettings> {
    engine_cmds(effects)
        .into_iter()
        .filter_map(|c| if let EngineCmd::Grid { settings, .. } = c { Some(settings) } else { None })
        .collect()
}

fn draw(app: &App) -> Vec<String> {
    let mut terminal = Terminal::new(TestBackend::new(app.size().width, app.size().height)).unwrap();
    terminal.draw(|f| ui::draw(f, app)).unwrap();
    let buf = terminal.backend().buffer();
    (0..buf.area.height).map(|y| (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect()).collect()
}

#[test]
fn the_heatmap_asks_for_its_grid_once_and_keeps_the_maps_for_later_neurons() {
    let mut app = loaded_app();
    let standard = GridChoice::default().settings(3).unwrap();
    assert_eq!(standard.spec, GridSpec::square(Operator::Add, 50), "+ over 0..50 unless :grid says otherwise");
    let effects = app.on_key(key('M'));
    assert_eq!(
        engine_cmds(&effects),
        [&EngineCmd::Grid { fingerprint: info().fingerprint.clone(), settings: standard.clone() }]
    );
    assert_eq!(app.mode(), Mode::Heatmap);
    assert_eq!(app.busy().map(|b| (b.job, b.total)), Some((Job::Grid, 2500)));
    let first = app.heatmap().unwrap().neuron;
    assert_eq!(first, app.selected_neuron().unwrap());
    // Another neuron while the maps are on their way asks for nothing more.
    assert!(grid_cmds(&app.on_key(key(']'))).is_empty());
    app.on_engine(EngineMsg::Grid(synthetic_grid(standard.clone())));
    app.on_engine(EngineMsg::Idle);
    assert!(app.busy().is_none());
    let mode = app.heatmap().unwrap();
    assert_eq!(mode.neuron, NeuronId { layer: 0, index: app.rows()[0][1].index });
    assert_eq!(mode.values[7], synthetic_m(0, mode.neuron.index as usize, 7));
    assert!(app.message().unwrap().0.contains("50.0%"), "half the results are even");
    // m falls with the cell index, so the top prompts are the first rows and the bottom ones the last.
    let matched = |name: &str| mode.matches.iter().any(|(n, score)| n == name && *score == 1.0);
    assert!(matched("op1 in [0, 10) · K") && matched("op1 in [40, 50) · K low"), "{:?}", mode.matches);

    // Closed and opened on another neuron: the maps are already in memory.
    assert!(app.on_key(key('q')).is_empty(), "nothing to cancel");
    assert_eq!(app.mode(), Mode::Normal);
    app.on_key(key('j'));
    app.on_key(key('j'));
    let effects = app.on_key(key('M'));
    assert!(grid_cmds(&effects).is_empty(), "{effects:?}");
    let mode = app.heatmap().unwrap();
    assert_eq!(mode.neuron, NeuronId { layer: 0, index: app.rows()[0][2].index });
    assert!(mode.has_neuron());
}

#[test]
fn closing_a_loading_heatmap_cancels_its_job_and_it_may_be_asked_for_again() {
    let mut app = loaded_app();
    let effects = command(&mut app, "grid - 0..10");
    let sub = GridChoice { operator: Operator::Sub, operands: 0..10, layers: None }.settings(3).unwrap();
    assert_eq!(grid_cmds(&effects), [&sub], ":grid opens the selected neuron's heatmap");
    assert_eq!(app.busy().map(|b| b.total), Some(55), "the legal prompts of 0..10 - 0..10");
    assert_eq!(app.on_key(special(KeyCode::Esc)), vec![Effect::Cancel(Side::A)]);
    assert_eq!(app.mode(), Mode::Normal);
    app.cancelled(Side::A);
    app.on_engine(EngineMsg::Status("cancelled".into()));
    app.on_engine(EngineMsg::Idle);
    assert_eq!(grid_cmds(&app.on_key(key('M'))), [&sub]);
    let err = command(&mut app, "grid L2..9");
    assert!(grid_cmds(&err).is_empty());
    assert!(app.message().is_some_and(|(m, e)| *e && m.contains("3 layers")), "{:?}", app.message());
}

#[test]
fn heatmap_keys_move_the_cursor_switch_the_map_and_step_through_neurons() {
    let mut app = loaded_app();
    app.on_resize(100, 30);
    let effects = command(&mut app, "grid + 0..4 L0..2");
    let settings = grid_cmds(&effects)[0].clone();
    app.on_engine(EngineMsg::Grid(synthetic_grid(settings)));
    app.on_engine(EngineMsg::Idle);
    let cursor = |app: &App| app.heatmap().unwrap().view.cursor();
    type_str(&mut app, "jjl");
    assert_eq!(cursor(&app), (2, 1));
    app.on_key(special(KeyCode::Down));
    app.on_key(special(KeyCode::Left));
    assert_eq!(cursor(&app), (3, 0));
    type_str(&mut app, "G");
    assert_eq!(cursor(&app), (3, 3));
    type_str(&mut app, "gg");
    assert_eq!(cursor(&app), (0, 0));
    app.on_key(ctrl('d'));
    assert_eq!(cursor(&app), (3, 0), "a page is more than the 4 rows");
    type_str(&mut app, "kkl");
    assert_eq!(cursor(&app), (1, 1));
    type_str(&mut app, "z");
    assert_eq!(app.heatmap().unwrap().view.zoom(), Zoom::Coarse);

    // The panel shows the cell under the cursor in the map shown: K, then KV = K × logit.
    let neuron = app.heatmap().unwrap().neuron;
    let (j, cell) = (neuron.index as usize, 5);
    let k = synthetic_m(0, j, cell);
    let panel_line = |app: &App| draw(app).into_iter().find(|l| l.contains("1+1=")).expect("the prompt is shown");
    assert!(panel_line(&app).contains(&format!("{k:+.3}")), "{}", panel_line(&app));
    assert!(draw(&app).iter().any(|l| l.contains("model 2") && l.contains("correct")));
    type_str(&mut app, "m");
    let kv = k * synthetic_logit(j, 102);
    assert_eq!(app.heatmap().unwrap().values[cell], kv);
    assert!(panel_line(&app).contains(&format!("{kv:+.3}")), "{}", panel_line(&app));
    assert!(draw(&app).iter().any(|l| l.contains("KV map")));

    // [ ] step through the layer pane's list; H L keep the index and change the layer.
    type_str(&mut app, "]]");
    let list: Vec<u32> = app.rows()[0].iter().map(|h| h.index).collect();
    assert_eq!(app.heatmap().unwrap().neuron, NeuronId { layer: 0, index: list[2] });
    type_str(&mut app, "L");
    let mode = app.heatmap().unwrap();
    assert_eq!(mode.neuron, NeuronId { layer: 1, index: list[2] });
    assert_eq!(mode.values[cell], synthetic_m(1, list[2] as usize, cell) * synthetic_logit(list[2] as usize, 102));
    type_str(&mut app, "L");
    assert!(!app.heatmap().unwrap().has_neuron(), "layer 2 is not among the grid's layers");
    assert!(draw(&app).concat().contains("not in this grid's maps"));
    type_str(&mut app, "[");
    assert_eq!(app.heatmap().unwrap().neuron, NeuronId { layer: 0, index: list[1] });
    // An illegal cell has no prompt: 1-2 of a subtraction grid.
    let effects = command(&mut app, "grid - 0..4 L0..2");
    app.on_engine(EngineMsg::Grid(synthetic_grid(grid_cmds(&effects)[0].clone())));
    app.on_engine(EngineMsg::Idle);
    type_str(&mut app, "jll");
    assert!(app.heatmap().unwrap().values[6].is_nan());
    assert!(draw(&app).concat().contains("illegal cell"));
}

#[test]
fn closing_the_heatmap_returns_to_the_mode_it_was_opened_from() {
    let mut app = loaded_app();
    command(&mut app, "goto L1N7");
    assert_eq!(app.focus, Focus::Detail);
    app.on_key(key('M'));
    assert_eq!(app.heatmap().unwrap().neuron, NeuronId { layer: 1, index: 7 }, "the detail pane's neuron");
    app.on_key(special(KeyCode::Esc));
    assert_eq!((app.mode(), app.focus), (Mode::Normal, Focus::Detail));

    app.on_key(key('R'));
    let items = vec![
        QueueItem { label: label("L2N40", "add"), verdict: None, scores: vec![] },
        QueueItem { label: label("L0N3", "add"), verdict: None, scores: vec![] },
    ];
    app.on_labels(LabelMsg::Queue { source: None, concept: None, answers: Answers::Yes, items });
    app.on_key(key('j'));
    app.on_key(key('M'));
    let mode = app.heatmap().unwrap();
    assert_eq!((mode.neuron, mode.at, mode.list.len()), ("L0N3".parse().unwrap(), 1, 2), "the review item");
    app.on_key(key('['));
    assert_eq!(app.heatmap().unwrap().neuron, "L2N40".parse().unwrap(), "the review queue is the list");
    app.on_key(key('q'));
    assert_eq!(app.mode(), Mode::Review);
    assert_eq!(app.review().unwrap().at, 1);
}

#[test]
fn help_lists_the_heatmap_keys_and_the_grid_command() {
    let mut app = loaded_app();
    app.on_key(key('M'));
    app.on_key(key('?'));
    let help: Vec<String> =
        popup::help_lines(&app).iter().map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect()).collect();
    assert_eq!(help[0], "[heatmap]", "help over the heatmap lists its keys first");
    for (keys, desc) in [
        ("m", "K map / KV map"),
        ("z", "Fine / coarse"),
        ("]", "Next neuron"),
        ("L", "next layer"),
        ("K", "Knockout: zero the neurons of each heuristic"),
    ] {
        assert!(help.iter().any(|l| l.trim_start().starts_with(keys) && l.contains(desc)), "{keys} {desc}: {help:?}");
    }
    assert!(help.iter().any(|l| l.contains("M") && l.contains("Operand-grid heatmap")));
    assert!(help.iter().any(|l| l.contains(":grid [+|-|*|/] [A..B] [LA..B]")));
}
fn knockout_cmds(effects: &[Effect]) -> Vec<(&Arc<LoadedGrid>, NeuronId, &Vec<String>)> {
    engine_cmds(effects)
        .into_iter()
        .filter_map(|c| match c {
            EngineCmd::Knockout { grid, neuron, heuristics } => Some((grid, *neuron, heuristics)),
            _ => None,
        })
        .collect()
}

#[test]
fn k_knocks_out_the_shown_neurons_heuristics_and_keeps_only_the_latest_neurons_answer() {
    let mut app = loaded_app();
    app.on_resize(120, 40);
    let effects = command(&mut app, "grid + 0..10 L0..2");
    let settings = grid_cmds(&effects)[0].clone();
    app.on_engine(EngineMsg::Grid(synthetic_grid(settings.clone())));
    app.on_engine(EngineMsg::Idle);
    let shown = |app: &App| {
        let mode = app.heatmap().unwrap();
        (mode.neuron, mode.heuristics.clone())
    };
    let (first, heuristics) = shown(&app);
    assert!(!heuristics.is_empty(), "the synthetic maps match operand ranges");

    let effects = app.on_key(key('K'));
    let cmds = knockout_cmds(&effects);
    assert_eq!(cmds.len(), 1, "{effects:?}");
    assert_eq!((cmds[0].0.settings(), cmds[0].1, cmds[0].2), (&settings, first, &heuristics));
    assert_eq!(app.busy().map(|b| b.job), Some(Job::Knockout));
    assert!(knockout_cmds(&app.on_key(key('K'))).is_empty(), "already running for this neuron");
    assert!(draw(&app).concat().contains(&format!("knockout of {first}'s heuristics: running")));

    // Another neuron's knockout is asked for before the first answers: the first is stale.
    app.on_key(key(']'));
    let (second, _) = shown(&app);
    assert_eq!(knockout_cmds(&app.on_key(key('K'))).iter().map(|c| c.1).collect::<Vec<_>>(), [second]);
    let row = |heuristic: &str| HeuristicKnockout {
        heuristic: heuristic.into(),
        neurons: 7,
        prompts: 40,
        associated_accuracy: 0.25,
        control_accuracy: 0.975,
    };
    let result = |neuron, name| Arc::new(KnockoutResult { neuron, settings: settings.clone(), rows: vec![row(name)] });
    app.on_engine(EngineMsg::Knockout(result(first, "op1_stale")));
    assert!(app.heatmap().unwrap().knockout.is_none(), "an answer for the neuron shown before");
    app.on_engine(EngineMsg::Knockout(result(second, "op1_range_0_10")));
    app.on_engine(EngineMsg::Idle);
    app.on_engine(EngineMsg::Idle);
    assert!(app.busy().is_none());
    assert_eq!(app.heatmap().unwrap().knockout.as_ref().unwrap().neuron, second);

    // Kept while another neuron is shown, as a table under the map.
    app.on_key(key('['));
    let screen = draw(&app);
    assert!(screen.iter().any(|l| l.contains("knockout: accuracy with the heuristic's neurons zeroed (1.0 before)")));
    let line = screen.iter().find(|l| l.contains("op1_range_0_10")).expect("the row is shown");
    let cells: Vec<&str> = line.trim_matches(|c| c == '│' || c == ' ').split_whitespace().collect();
    assert_eq!(cells, ["op1_range_0_10", "7", "40", "0.25", "0.97"], "{line}");
    assert!(!screen.concat().contains("op1_stale"));
}

/// m that no heuristic explains: a hash of the cell, in [-0.5, 0.5).
fn scrambled_m(layer: usize, neuron: usize, cell: usize) -> f32 {
    let mut x = (cell as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (neuron * 31 + layer) as u64;
    x ^= x >> 29;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 32;
    (x % 1000) as f32 / 1000.0 - 0.5
}

#[test]
fn k_on_a_neuron_matching_no_heuristic_says_so_and_runs_nothing() {
    let mut app = loaded_app();
    let effects = command(&mut app, "grid L0..2");
    let settings = grid_cmds(&effects)[0].clone();
    app.on_engine(EngineMsg::Grid(synthetic_grid_of(settings, scrambled_m)));
    app.on_engine(EngineMsg::Idle);
    let mode = app.heatmap().unwrap();
    assert!(mode.has_neuron() && mode.heuristics.is_empty(), "{:?}", mode.matches);
    let effects = app.on_key(key('K'));
    assert!(engine_cmds(&effects).is_empty(), "{effects:?}");
    assert!(app.message().unwrap().0.contains("matches no heuristic"), "{:?}", app.message());
    assert!(app.busy().is_none());
}

fn engine_b_cmds(effects: &[Effect]) -> Vec<&EngineCmd> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Engine(Side::B, c) if !matches!(c, EngineCmd::NextTokens { .. }) => Some(c),
            _ => None,
        })
        .collect()
}

/// An app whose run B's worker has its session (as after `EngineMsg::Shared`).
fn comparing_app() -> App {
    let mut app = loaded_app();
    app.set_prompt("Tom has 3 apples");
    app.last_prompt = "Tom has 3 apples".into();
    app.compare.adopted = true;
    app.on_engine_b(EngineMsg::Loaded(info()));
    app
}

#[test]
fn compare_mode_runs_and_steps_both_sides_and_the_drive_picks_one() {
    let mut app = comparing_app();
    let effects = app.on_key(key('c'));
    assert!(app.compare.open);
    assert_eq!(app.compare.prompt_text(), "Tom has 3 apples", "B starts as A's prompt");
    let concepts = ReasoningSelection::method_concepts().concept_keys();
    assert_eq!(concepts.len(), 7, "the method's concepts");
    assert!(effects.contains(&Effect::Labels(LabelCmd::Reasoning { concepts, sources: vec![] })), "{effects:?}");

    let effects = app.on_key(key('r'));
    let run = EngineCmd::RunPrompt { text: "Tom has 3 apples".into() };
    assert_eq!(engine_cmds(&effects), [&run]);
    assert_eq!(engine_b_cmds(&effects), [&run]);
    assert!(app.busy().is_some() && app.compare.busy.is_some());
    assert_eq!(
        app.on_key(ctrl('c')),
        vec![Effect::Cancel(Side::A), Effect::Cancel(Side::B)],
        "both runs are cancelled"
    );
    app.on_engine(EngineMsg::Snapshot(snapshot(2, 6)));
    app.on_engine(EngineMsg::Idle);
    app.on_engine_b(EngineMsg::Snapshot(snapshot(1, 5)));
    app.on_engine_b(EngineMsg::Idle);
    assert!(!app.is_busy());

    let step = EngineCmd::Step { n: 1, stop_at_eos: true };
    let effects = app.on_key(key('s'));
    assert_eq!((engine_cmds(&effects), engine_b_cmds(&effects)), (vec![&step], vec![&step]));
    app.on_engine(EngineMsg::Idle);
    app.on_engine_b(EngineMsg::Idle);
    app.on_key(key('D'));
    let effects = app.on_key(key('s'));
    assert_eq!((engine_cmds(&effects).len(), engine_b_cmds(&effects).len()), (1, 0), "A only");
    app.on_engine(EngineMsg::Idle);
    app.on_key(key('D'));
    let effects = app.on_key(key('b'));
    assert_eq!((engine_cmds(&effects).len(), engine_b_cmds(&effects)), (0, vec![&EngineCmd::StepBack]), "B only");
    assert_eq!(app.on_key(ctrl('c')), vec![Effect::Quit], "a step back is no job");
    app.on_key(key('D'));
    assert_eq!(app.compare.drive, Drive::Both);
    let effects = command(&mut app, "k 7");
    assert_eq!(
        (engine_cmds(&effects), engine_b_cmds(&effects)),
        (vec![&EngineCmd::SetTopK(7)], vec![&EngineCmd::SetTopK(7)])
    );

    app.on_key(key('I'));
    assert_eq!(app.mode(), Mode::Prompt);
    type_str(&mut app, "Ann: ");
    app.on_key(special(KeyCode::Esc));
    assert_eq!(app.compare.prompt_text(), "Ann: Tom has 3 apples");
    assert_eq!(app.prompt_text(), "Tom has 3 apples", "A's prompt is untouched");
    app.on_key(key('P'));
    app.on_key(key('j'));
    app.on_key(special(KeyCode::Enter));
    assert_eq!(app.compare.prompt_text().trim_end(), prompts::examples()[1].text.trim_end());
    assert_eq!(
        command(&mut app, "b variant cot_prompt 3"),
        vec![Effect::VariantPrompt { side: Side::B, variant: "cot_prompt".into(), question: Some(3) }]
    );
    app.on_key(key('c'));
    assert!(!app.compare.open);
    assert_eq!(engine_cmds(&app.on_key(key('s'))).len(), 1);
    assert!(engine_b_cmds(&app.on_key(key('s'))).is_empty(), "closed, compare mode drives A alone");
}

#[test]
fn marks_and_commands_set_run_bs_interventions_and_rerun_it_on_as_prompt() {
    let mut app = comparing_app();
    let id = |layer, index| NeuronId { layer, index };
    app.focus = Focus::Layers;
    app.on_key(key('m'));
    app.on_key(key('j'));
    app.on_key(key('m'));
    assert_eq!(app.compare.marked.iter().copied().collect::<Vec<_>>(), [id(0, 1), id(0, 2)]);
    app.on_key(key('m'));
    assert_eq!(app.compare.marked.len(), 1, "m again unmarks");
    app.on_key(key('m'));
    let effects = app.on_key(key('x'));
    assert!(app.compare.open && app.compare.marked.is_empty());
    let mut want = Interventions::default();
    want.zero(&[id(0, 1), id(0, 2)]);
    // A generated 2 tokens after its 4-token prompt: B runs A's prompt and generates as many.
    assert_eq!(
        engine_b_cmds(&effects),
        [
            &EngineCmd::SetInterventions(want.clone()),
            &EngineCmd::RunPrompt { text: "Tom has 3 apples".into() },
            &EngineCmd::Step { n: 2, stop_at_eos: false }
        ]
    );
    assert!(engine_cmds(&effects).iter().all(|c| matches!(c, EngineCmd::NextTokens { .. })), "A runs unchanged");
    assert_eq!(app.compare.changes.describe(), "zero L0N1 L0N2");

    let effects = command(&mut app, "scale L1N12=3");
    want.scale(id(1, 12), 3.0);
    assert_eq!(engine_b_cmds(&effects)[0], &EngineCmd::SetInterventions(want.clone()));
    command(&mut app, "seed 7");
    let effects = command(&mut app, "ablate noise L2N21,L0N2");
    let mut noised = Interventions::default();
    noised.zero(&[id(0, 1)]).noise(&[id(0, 2), id(2, 21)], 7, 8).scale(id(1, 12), 3.0);
    assert_eq!(engine_b_cmds(&effects)[0], &EngineCmd::SetInterventions(noised));
    assert_eq!(app.compare.changes.describe(), "zero L0N1 · noise L0N2 L2N21 (seed 7) · L1N12×3");

    assert!(engine_b_cmds(&command(&mut app, "ablate L9N1")).is_empty());
    assert!(app.message().is_some_and(|(m, err)| *err && m.contains("L9N1 is not in this model")));
    let effects = app.on_key(key('X'));
    assert_eq!(engine_b_cmds(&effects)[0], &EngineCmd::SetInterventions(Interventions::default()));
    assert!(engine_b_cmds(&effects).contains(&&EngineCmd::RunPrompt { text: "Tom has 3 apples".into() }));
    assert!(engine_b_cmds(&app.on_key(key('X'))).is_empty());
    assert!(app.message().is_some_and(|(m, err)| *err && m.contains("no interventions")));
    assert!(engine_b_cmds(&app.on_key(key('x'))).is_empty());
    assert!(app.message().is_some_and(|(m, err)| *err && m.contains("no neuron marked")));
}

#[test]
fn b_follows_as_position_and_reasoning_neurons_are_counted_per_concept() {
    let mut app = comparing_app();
    app.on_key(key('c'));
    // B: 6 tokens, 2 of them the prompt. A: 6 tokens, 4 the prompt, position 5 (2 after its prompt).
    let mut b = (*snapshot(1, 6)).clone();
    b.prompt_len = 2;
    app.on_engine_b(EngineMsg::Snapshot(Arc::new(b)));
    assert_eq!(app.position_b(), Some(3));
    app.on_key(key('['));
    assert_eq!((app.position(), app.position_b()), (4, Some(2)));
    app.on_key(key(']'));

    let concepts = ReasoningSelection::method_concepts().concept_keys();
    let neurons = ReasoningNeurons::from_pairs([
        (NeuronId { layer: 0, index: 1 }, "add".to_string()),
        (NeuronId { layer: 2, index: 25 }, "formula".to_string()),
        (NeuronId { layer: 2, index: 40 }, "formula".to_string()),
    ]);
    // An answer for other sources is stale.
    app.on_labels(LabelMsg::Reasoning {
        concepts: concepts.clone(),
        sources: vec!["x".into()],
        neurons: Arc::new(neurons.clone()),
    });
    assert!(app.compare.neurons.is_none());
    app.on_labels(LabelMsg::Reasoning { concepts: concepts.clone(), sources: vec![], neurons: Arc::new(neurons) });
    // Every position lists L0N1..5, L1N11..15, L2N21..25: counted are A's positions 3..6 and B's 1..6.
    let [a, b] = &app.compare.activations;
    assert_eq!((a.positions, b.positions), (3, 5));
    assert_eq!((a.concept("add").hits, b.concept("add").hits), (3, 5));
    assert_eq!((a.concept("formula").hits, a.overall.hits), (3, 6));
    assert_eq!(a.concept("formula").mean_s(), 6.0, "N25 is the fifth of its layer: s = 10 - 4");

    let label = |source: &str| vec![LabelView { concept: "add".into(), source: source.into(), ..Default::default() }];
    app.labels = Labels::new(HashMap::from([
        (NeuronId { layer: 0, index: 1 }, label("lexicon")),
        (NeuronId { layer: 0, index: 2 }, label("gpt")),
    ]));
    let sources: Vec<Vec<String>> = (0..3)
        .map(|_| {
            let effects = app.on_key(key('u'));
            let Some(Effect::Labels(LabelCmd::Reasoning { sources, .. })) = effects.first() else {
                panic!("{effects:?}")
            };
            sources.clone()
        })
        .collect();
    assert_eq!(sources, [vec!["gpt".to_string()], vec!["lexicon".to_string()], vec![]]);
    assert!(app.compare.neurons.is_none(), "waiting for the new reasoning neurons");
    assert_eq!(
        command(&mut app, "reasoning concept add"),
        vec![Effect::Labels(LabelCmd::Reasoning { concepts: vec!["add".into()], sources: vec![] })]
    );
}
