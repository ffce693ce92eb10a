//! The two compute paths: the fast one (8-bit activations, integer products) stays within a
//! stated tolerance of the exact one on random models of every weight scheme, for a prompt's
//! rows and for decoded ones; float weights run exactly on either; and the path chosen with
//! `--compute` is the one `inspect --format json` reports.
mod common;

use std::path::Path;
use std::process::Command;

use common::fixture;
use neuronav::engine::agreement::{self, Agreement};
use neuronav::engine::config::{ModelConfig, RopeLayout};
use neuronav::engine::loader::{self, DeviceChoice};
use neuronav::engine::model::{ComputeChoice, ComputePath, WeightDType};
use neuronav::engine::random_model::{RandomModel, WeightScheme};
use neuronav::engine::session::{Control, Session, SessionSettings};

/// Mean over (layer, position) of ‖m_fast − m_exact‖ / ‖m_exact‖: activations rounded to 8 bits
/// per block cost about 0.5% a product, compounded over three layers.
const MEAN_TOLERANCE: f64 = 0.02;
/// The same at the worst (layer, position).
const MAX_TOLERANCE: f64 = 0.06;

/// Three layers; `d_model` 256 gives rows of whole k-quant blocks, 288 rows that Q4_K_M stores as
/// Q4_1 and Q8_0 (its fallbacks), so that every integer kernel but Q5_K's runs in some model
/// (Q5_K's is checked against the exact product in `engine::model::matrix`).
fn model(scheme: WeightScheme, d_model: usize) -> RandomModel {
    let config = ModelConfig {
        vocab_size: 1000,
        hidden_size: d_model,
        intermediate_size: 512,
        num_layers: 3,
        num_heads: 4,
        num_kv_heads: 2,
        head_dim: d_model / 4,
        rope_theta: 10_000.0,
        rope_layout: RopeLayout::Interleaved,
        rms_norm_eps: 1e-5,
        context_length: 512,
        tie_word_embeddings: false,
    };
    RandomModel { config, scheme, seed: 7, name: format!("paths{d_model}") }
}

/// The prompt's 13 tokens fill one panel of 8 rows and part of another; 3 more are decoded.
const PROMPT: &str = "Roger has 5 tennis balls and buys 2 more cans.";

/// `path` run on `compute`: the session after the prompt and three greedy steps.
fn run(path: &Path, compute: ComputeChoice, expected: ComputePath) -> Session {
    let loaded = loader::load_with(path, DeviceChoice::Cpu, WeightDType::F32, compute, &|_, _| {}).unwrap();
    assert_eq!(loaded.model.compute_path(), expected, "{} on {compute:?}", path.display());
    let mut session = Session::new(loaded.model, loaded.tokenizer, SessionSettings::default());
    session.run_prompt(PROMPT, Control::default()).unwrap();
    assert!(session.len() >= 10, "the prompt fills a panel: {} tokens", session.len());
    session
}

/// Both paths over the prompt and three greedy steps (each decoded row multiplied alone); the
/// agreement, the positions and the last position's logits of each.
fn compare(path: &Path, fast_runs: ComputePath) -> (Agreement, usize, Vec<f32>, Vec<f32>) {
    let mut exact = run(path, ComputeChoice::Exact, ComputePath::Exact);
    let mut fast = run(path, ComputeChoice::Fast, fast_runs);
    for _ in 0..3 {
        exact.step(Control::default()).unwrap();
        fast.step(Control::default()).unwrap();
    }
    // The models are seeded: a near tie that decodes differently would fail here every time.
    assert_eq!(exact.tokens(), fast.tokens(), "{}: both paths decode the same tokens", path.display());
    let last = exact.len() - 1;
    let logits = |s: &Session| s.trace().position(last).logits().unwrap().to_vec();
    let agreement = agreement::compare(exact.trace(), fast.trace()).unwrap();
    (agreement, exact.len(), logits(&exact), logits(&fast))
}

fn relative(a: &[f32], b: &[f32]) -> f64 {
    let diff: f64 = a.iter().zip(b).map(|(&x, &y)| f64::from(x - y).powi(2)).sum();
    let norm: f64 = a.iter().map(|&x| f64::from(x).powi(2)).sum();
    (diff / norm).sqrt()
}

#[test]
fn fast_path_is_within_tolerance_of_exact_in_every_scheme() {
    let dir = tempfile::tempdir().unwrap();
    let quantized = [WeightScheme::Q4_0, WeightScheme::Q4_K_M, WeightScheme::Q8_0];
    let cases = quantized.iter().flat_map(|&s| [(s, 256), (s, 288)]);
    for (scheme, d_model) in cases {
        let (path, _) = model(scheme, d_model).ensure(dir.path(), &|_, _| {}).unwrap();
        let (a, positions, exact_logits, fast_logits) = compare(&path, ComputePath::Fast);
        let what = format!("{scheme:?} d_model {d_model}: {a:?}");
        println!("{what}");
        assert_eq!((a.pairs, a.top_k), (3 * positions, 20), "{what}");
        // Not the exact numbers (the integer kernels ran) but near them.
        assert!(a.mean_relative_error > 1e-4, "{what}");
        assert!(a.mean_relative_error <= MEAN_TOLERANCE, "{what}");
        assert!(a.max_relative_error <= MAX_TOLERANCE, "{what}");
        let logits = relative(&exact_logits, &fast_logits);
        assert!(logits <= MAX_TOLERANCE, "{what}: logits off by {logits}");
    }
}

#[test]
fn float_weights_run_exactly_on_the_fast_path() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = model(WeightScheme::F16, 256).ensure(dir.path(), &|_, _| {}).unwrap();
    let (a, _, exact_logits, fast_logits) = compare(&path, ComputePath::Exact);
    assert_eq!((a.mean_relative_error, a.max_relative_error, a.top_k_sets_differ), (0.0, 0.0, 0), "{a:?}");
    assert_eq!(exact_logits, fast_logits);
}

/// `auto` is exact below 1B parameters.
#[test]
fn auto_is_exact_for_small_quantized_models() {
    let path = fixture("tiny-llama-q8_0.gguf");
    let loaded = loader::load(&path, DeviceChoice::Cpu, WeightDType::F32, &|_, _| {}).unwrap();
    assert_eq!(loaded.model.compute_path(), ComputePath::Exact);
}

/// `inspect --format json`'s `model.compute` for `model` with `flags`.
fn inspected(model: &Path, flags: &[&str]) -> String {
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_neuronav"))
        .env("NEURONAV_HOME", home.path())
        .args(flags)
        .args(["--device", "cpu", "inspect", "--prompt", "2+3=", "--format", "json", "--model"])
        .arg(model)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    report["model"]["compute"].as_str().unwrap().to_string()
}

#[test]
fn the_compute_flag_shows_in_inspect_json() {
    let quantized = fixture("tiny-llama-q8_0.gguf");
    assert_eq!(inspected(&quantized, &[]), "exact");
    assert_eq!(inspected(&quantized, &["--compute", "fast"]), "fast");
    assert_eq!(inspected(&quantized, &["--compute", "exact"]), "exact");
    assert_eq!(inspected(&quantized, &["--compute", "auto"]), "exact");
    // f32 weights have no integer products: what ran is exact.
    assert_eq!(inspected(&fixture("tiny-llama"), &["--compute", "fast"]), "exact");
}
