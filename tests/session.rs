//! Session behaviour on a small random model: caching, stepping back, cancellation, limits.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use neuronav::engine::config::{ModelConfig, RopeLayout};
use neuronav::engine::loader::{self, DeviceChoice};
use neuronav::engine::model::WeightDType;
use neuronav::engine::runtime::Model;
use neuronav::engine::sampling::Sampling;
use neuronav::engine::session::{Control, Session, SessionSettings};
use neuronav::engine::EngineError;

fn small_config() -> ModelConfig {
    ModelConfig {
        vocab_size: 97,
        hidden_size: 48,
        intermediate_size: 80,
        num_layers: 3,
        num_heads: 6,
        num_kv_heads: 2,
        head_dim: 8,
        rope_theta: 10_000.0,
        rope_layout: RopeLayout::Interleaved,
        rms_norm_eps: 1e-5,
        context_length: 1200,
        tie_word_embeddings: false,
    }
}

fn model() -> Arc<dyn Model> {
    loader::random(&small_config(), DeviceChoice::Cpu, WeightDType::F32, 11).unwrap().0
}

fn prompt(n: usize) -> Vec<u32> {
    (0..n).map(|i| ((i * 31 + 7) % 97) as u32).collect()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

/// A KV-cached step computes what a full recompute of the longer text computes, also when the
/// prompt spans several prefill chunks.
#[test]
fn cached_step_equals_full_recompute() {
    let model = model();
    for n in [5, 300] {
        let mut stepped = Session::untokenized(model.clone(), SessionSettings::default());
        stepped.run_ids(prompt(n), Control::default()).unwrap();
        let token = stepped.step(Control::default()).unwrap();
        let mut full = Session::untokenized(model.clone(), SessionSettings::default());
        let mut ids = prompt(n);
        ids.push(token);
        full.run_ids(ids, Control::default()).unwrap();
        let (a, b) = (stepped.trace().position(n), full.trace().position(n));
        assert_eq!(a.token(), b.token());
        for l in 0..3 {
            assert!(
                max_diff(&a.m(l).unwrap(), &b.m(l).unwrap()) < 1e-4,
                "m differs by {}",
                max_diff(&a.m(l).unwrap(), &b.m(l).unwrap())
            );
            assert!(max_diff(&a.resid_post(l).unwrap(), &b.resid_post(l).unwrap()) < 1e-4);
        }
        let (la, lb) = (a.logits().unwrap(), b.logits().unwrap());
        assert!(max_diff(la, lb) < 1e-4, "logits differ by {}", max_diff(la, lb));
        assert_eq!(a.top().iter().map(|l| l.len()).collect::<Vec<_>>(), vec![20; 3]);
    }
}

/// Stepping back and forward again gives identical tokens and captures, greedy or sampled.
#[test]
fn step_back_then_forward_is_identical() {
    let model = model();
    for sampling in [Sampling::Greedy, Sampling::Random { temperature: 1.5, top_p: 0.9, seed: 5 }] {
        let settings = SessionSettings { top_k: 10, sampling, ..Default::default() };
        let mut s = Session::untokenized(model.clone(), settings);
        s.run_ids(prompt(12), Control::default()).unwrap();
        let first: Vec<u32> = (0..6).map(|_| s.step(Control::default()).unwrap()).collect();
        let m_before: Vec<f32> = (0..3).flat_map(|l| s.trace().position(15).m(l).unwrap().to_vec()).collect();
        for _ in 0..4 {
            assert!(s.step_back());
        }
        assert_eq!(s.len(), 14);
        let again: Vec<u32> = (0..4).map(|_| s.step(Control::default()).unwrap()).collect();
        assert_eq!(&first[2..], &again[..], "{sampling:?}");
        let m_after: Vec<f32> = (0..3).flat_map(|l| s.trace().position(15).m(l).unwrap().to_vec()).collect();
        assert_eq!(m_after, m_before);
        // The prompt itself cannot be stepped back into.
        while s.step_back() {}
        assert_eq!(s.len(), 12);
    }
}

#[test]
fn cancelling_a_prefill_leaves_an_empty_usable_session() {
    let mut s = Session::untokenized(model(), SessionSettings::default());
    let cancel = AtomicBool::new(false);
    let progress = |done: usize, _total: usize| {
        if done > 0 {
            cancel.store(true, Ordering::Relaxed);
        }
    };
    let control = Control { cancel: Some(&cancel), progress: Some(&progress) };
    let err = s.run_ids(prompt(1100), control).unwrap_err();
    assert!(matches!(err, EngineError::Cancelled), "{err}");
    assert!(s.is_empty());
    s.run_ids(prompt(3), Control::default()).unwrap();
    assert_eq!(s.len(), 3);
}

#[test]
fn progress_reaches_the_total() {
    let mut s = Session::untokenized(model(), SessionSettings::default());
    let seen = std::sync::Mutex::new(Vec::new());
    let progress = |done: usize, total: usize| seen.lock().unwrap().push((done, total));
    s.run_ids(prompt(1100), Control { cancel: None, progress: Some(&progress) }).unwrap();
    let seen = seen.into_inner().unwrap();
    assert_eq!(seen.first(), Some(&(0, 1100)));
    assert_eq!(seen.last(), Some(&(1100, 1100)));
    assert!(seen.len() > 2, "a long prompt reports progress along the way: {seen:?}");
}

#[test]
fn the_context_length_is_enforced() {
    let mut s = Session::untokenized(model(), SessionSettings::default());
    let err = s.run_ids(prompt(1201), Control::default()).unwrap_err();
    assert!(matches!(err, EngineError::ContextOverflow { tokens: 1201, context: 1200 }), "{err}");
    s.run_ids(prompt(1200), Control::default()).unwrap();
    let err = s.step(Control::default()).unwrap_err();
    assert!(matches!(err, EngineError::ContextOverflow { .. }), "{err}");
    assert_eq!(s.len(), 1200);
}

#[test]
fn changing_k_reranks_without_recomputing() {
    let mut s = Session::untokenized(model(), SessionSettings::default());
    s.run_ids(prompt(4), Control::default()).unwrap();
    let top20: Vec<u32> = s.trace().position(3).top()[1].iter().map(|h| h.index).collect();
    s.set_top_k(5).unwrap();
    let top5: Vec<u32> = s.trace().position(3).top()[1].iter().map(|h| h.index).collect();
    assert_eq!(&top20[..5], &top5[..]);
}
