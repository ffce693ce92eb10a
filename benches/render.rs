//! Time to draw one frame at 200x60 with 30 layers × K=20 neurons (SmolLM2-135M's shape), every
//! neuron projected, in each layer view. No model is needed: the state is made up.
use std::sync::Arc;
use std::time::Instant;

use neuronav::engine::model::ComputePath;
use neuronav::engine::neuron::{NeuronHit, NeuronId};
use neuronav::engine::session::SessionSettings;
use neuronav::tui::action::Action;
use neuronav::tui::app::{App, LayerView};
use neuronav::tui::engine_messages::EngineMsg;
use neuronav::tui::keymap::Keymap;
use neuronav::tui::snapshot::*;
use neuronav::tui::theme::ThemeName;
use ratatui::backend::TestBackend;
use ratatui::Terminal;

const LAYERS: usize = 30;
const K: usize = 20;
const POSITIONS: usize = 200;

fn token(id: u32) -> TokenView {
    TokenView { id, text: format!("␣tok{}", id % 97) }
}

fn app() -> App {
    let mut app = App::new(Keymap::builtin(), Vec::new(), ThemeName::Dark);
    app.on_resize(200, 60);
    app.on_engine(EngineMsg::Loaded(Arc::new(ModelInfo {
        name: "SmolLM2-135M-Instruct.Q4_1.gguf".into(),
        path: "/m".into(),
        device: "cpu f32".into(),
        layers: LAYERS,
        d_model: 576,
        d_ff: 1536,
        vocab: 49152,
        eos: Some(2),
        fingerprint: "0123456789abcdef".into(),
        compute: ComputePath::Exact,
    })));
    app.on_engine(EngineMsg::Idle);
    let hit = |l: usize, j: usize| NeuronHit {
        index: ((l * 131 + j * 977) % 1536) as u32,
        m: if j.is_multiple_of(3) { -1.5 } else { 2.0 } / (1.0 + j as f32),
        s: 3.0 / (1.0 + j as f32),
    };
    let snapshot = Snapshot {
        generation: 1,
        tokens: (0..POSITIONS as u32).map(token).collect(),
        prompt_len: 150,
        top: (0..POSITIONS).map(|_| (0..LAYERS).map(|l| (0..K).map(|j| hit(l, j)).collect()).collect()).collect(),
        next: Vec::new(),
        settings: SessionSettings::default(),
        at_eos: false,
    };
    app.on_engine(EngineMsg::Snapshot(Arc::new(snapshot)));
    for l in 0..LAYERS {
        for j in 0..K {
            let neuron = NeuronId { layer: l as u32, index: hit(l, j).index };
            let logits =
                |n: u32| (0..12).map(|i| TokenLogitView { token: token(n + i), logit: 1.0 - i as f32 * 0.1 }).collect();
            app.on_engine(EngineMsg::Projection(Arc::new(ProjectionView {
                neuron,
                top: logits(j as u32),
                bottom: logits(50),
            })));
        }
    }
    app.update(Action::Noop);
    app
}

fn main() {
    let mut app = app();
    let mut terminal = Terminal::new(TestBackend::new(200, 60)).unwrap();
    for view in [LayerView::Single, LayerView::SideBySide, LayerView::Grid] {
        app.layer_view = view;
        app.update(Action::Noop);
        let frames = 300;
        for _ in 0..20 {
            terminal.draw(|f| neuronav::tui::ui::draw(f, &app)).unwrap();
        }
        let t = Instant::now();
        for i in 0..frames {
            // Move the selection so every frame differs, as when holding j.
            app.row = i % K;
            terminal.draw(|f| neuronav::tui::ui::draw(f, &app)).unwrap();
        }
        let ms = t.elapsed().as_secs_f64() * 1000.0 / frames as f64;
        println!("frame 200x60, {LAYERS} layers x K={K}, {view:?}: {ms:.3} ms");
    }
}
