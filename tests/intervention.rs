//! The ablation hook changes exactly the chosen neuron's contribution to the residual stream.
mod common;

use common::fixture;
use neuronav::engine::intervention::{value_noise, Interventions};
use neuronav::engine::loader::{self, DeviceChoice, LoadedModel};
use neuronav::engine::model::WeightDType;
use neuronav::engine::neuron::NeuronId;
use neuronav::engine::session::{Control, Session, SessionSettings};

const LAYER: usize = 1;
const NEURON: u32 = 37;
const D_MODEL: usize = 64;

fn load(rel: &str) -> LoadedModel {
    loader::load(&fixture(rel), DeviceChoice::Cpu, WeightDType::F32, &|_, _| {}).unwrap()
}

/// Runs "hello world" and two generated tokens (single-row forward passes) under `i`.
fn run(loaded: &LoadedModel, i: Interventions) -> Session {
    let mut s = Session::new(loaded.model.clone(), loaded.tokenizer.clone(), SessionSettings::default());
    s.set_interventions(i);
    s.run_prompt("hello world", Control::default()).unwrap();
    s.step(Control::default()).unwrap();
    s.step(Control::default()).unwrap();
    s
}

/// Column `j` of layer `l`'s down_proj, read from the checkpoint file itself.
fn value_vector(l: usize, j: usize) -> Vec<f32> {
    let bytes = std::fs::read(fixture("tiny-llama/model.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let w = st.tensor(&format!("model.layers.{l}.mlp.down_proj.weight")).unwrap();
    let [rows, cols] = [w.shape()[0], w.shape()[1]];
    assert_eq!(rows, D_MODEL);
    let f: Vec<f32> = w.data().chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
    (0..rows).map(|r| f[r * cols + j]).collect()
}

/// Checks resid_post(LAYER) of `changed` − `base` = `coefficient(m_j) · direction` at every
/// position, and that earlier layers did not change.
fn assert_delta(base: &Session, changed: &Session, coefficient: impl Fn(f32) -> f32, direction: &[f32]) {
    assert_eq!(base.tokens(), changed.tokens(), "same tokens, so positions line up");
    for p in 0..base.len() {
        let (a, b) = (base.trace().position(p), changed.trace().position(p));
        assert_eq!(a.resid_post(LAYER - 1).unwrap(), b.resid_post(LAYER - 1).unwrap(), "layers before are untouched");
        assert_eq!(a.resid_mid(LAYER).unwrap(), b.resid_mid(LAYER).unwrap());
        let m = a.m(LAYER).unwrap()[NEURON as usize];
        assert!(m.abs() > 1e-6, "the neuron is active at position {p}");
        for (d, &v) in direction.iter().enumerate() {
            let delta = b.resid_post(LAYER).unwrap()[d] - a.resid_post(LAYER).unwrap()[d];
            let expected = coefficient(m) * v;
            assert!((delta - expected).abs() < 1e-5 + 1e-4 * expected.abs(), "p{p} d{d}: {delta} vs {expected}");
        }
    }
}

#[test]
fn zeroing_a_neuron_removes_exactly_m_times_its_value_vector() {
    let loaded = load("tiny-llama");
    let id = NeuronId { layer: LAYER as u32, index: NEURON };
    let mut zero = Interventions::default();
    zero.zero(&[id]);
    let v = value_vector(LAYER, NEURON as usize);
    // Zeroing may change the generated tokens; run the same token ids as one prompt on both sides.
    let tokens = run(&loaded, Interventions::default()).tokens();
    let mut base_prompt = Session::new(loaded.model.clone(), loaded.tokenizer.clone(), SessionSettings::default());
    base_prompt.run_ids(tokens.clone(), Control::default()).unwrap();
    let mut zero_prompt = Session::new(loaded.model.clone(), loaded.tokenizer.clone(), SessionSettings::default());
    zero_prompt.set_interventions(zero);
    zero_prompt.run_ids(tokens, Control::default()).unwrap();
    assert_delta(&base_prompt, &zero_prompt, |m| -m, &v);
    for p in 0..zero_prompt.len() {
        let (a, b) =
            (base_prompt.trace().position(p).m(LAYER).unwrap(), zero_prompt.trace().position(p).m(LAYER).unwrap());
        assert_eq!(b[NEURON as usize], 0.0, "the trace shows the ablated coefficient");
        let others = (0..a.len()).filter(|&j| j != NEURON as usize).all(|j| a[j] == b[j]);
        assert!(others, "no other neuron of the layer changes");
    }
}

#[test]
fn scaling_and_noise_act_in_single_row_steps_too() {
    // The GGUF model reads quantized weights directly for single rows, so this covers that path.
    for rel in ["tiny-llama", "tiny-llama.gguf"] {
        let loaded = load(rel);
        let id = NeuronId { layer: LAYER as u32, index: NEURON };
        let base = run(&loaded, Interventions::default());
        // Scale by 2: the layer output grows by m·v. Noise: it grows by m·n.
        let mut doubled = Interventions::default();
        doubled.scale(id, 2.0);
        let noise = value_noise(id, 5, D_MODEL);
        let mut noised = Interventions::default();
        noised.noise(&[id], 5, D_MODEL);
        let mut again = Interventions::default();
        again.noise(&[id], 5, D_MODEL);
        assert_eq!(noised, again, "noise is seeded");
        let noised_run = run(&loaded, noised);
        if noised_run.tokens() == base.tokens() {
            assert_delta(&base, &noised_run, |m| m, &noise);
        } else {
            // Greedy decoding took another path; the prompt positions still compare.
            let n = base.prompt_len();
            assert_eq!(noised_run.tokens()[..n], base.tokens()[..n]);
        }
        let doubled_run = run(&loaded, doubled);
        let norm = loaded.model.value_norms()[LAYER][NEURON as usize];
        for p in 0..base.len().min(doubled_run.len()) {
            if base.tokens()[..=p] != doubled_run.tokens()[..=p] {
                break;
            }
            let (a, b) = (base.trace().position(p), doubled_run.trace().position(p));
            let m = a.m(LAYER).unwrap()[NEURON as usize];
            let delta: f32 = a
                .resid_post(LAYER)
                .unwrap()
                .iter()
                .zip(b.resid_post(LAYER).unwrap().iter())
                .map(|(x, y)| (y - x).powi(2))
                .sum::<f32>()
                .sqrt();
            // ‖2m·v − m·v‖ = |m|·‖v‖, the neuron's score.
            assert!((delta - m.abs() * norm).abs() < 1e-4 + 1e-3 * m.abs() * norm, "{rel} p{p}: {delta}");
            assert_eq!(b.m(LAYER).unwrap()[NEURON as usize], 2.0 * m);
        }
    }
}
