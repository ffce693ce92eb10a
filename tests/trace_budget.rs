//! The trace's memory budget: past it, the full vectors go to a spill file and come back bit for
//! bit; the resident bytes stay within the budget; the file lives as long as the trace's
//! positions; failing to write it is an error that leaves the session as it was.
mod common;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use common::fixture;
use neuronav::engine::config::{ModelConfig, RopeLayout};
use neuronav::engine::hook::Hook;
use neuronav::engine::loader::{self, DeviceChoice};
use neuronav::engine::model::WeightDType;
use neuronav::engine::runtime::Model;
use neuronav::engine::session::{Control, Session, SessionSettings};
use neuronav::engine::EngineError;

/// `[d_model 48, d_ff 80] × 3 layers`: 704 bytes a position and layer.
fn config() -> ModelConfig {
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
    loader::random(&config(), DeviceChoice::Cpu, WeightDType::F32, 3).unwrap().0
}

fn prompt(n: usize) -> Vec<u32> {
    (0..n).map(|i| ((i * 37 + 5) % 97) as u32).collect()
}

/// A session whose trace keeps `budget` bytes in memory and spills into `dir`.
fn session(model: &Arc<dyn Model>, budget: u64, dir: &Path) -> Session {
    let settings = SessionSettings { trace_memory: budget, ..Default::default() };
    Session::untokenized(model.clone(), settings).spill_to(dir.to_path_buf())
}

/// A 600-token prompt (two prefill passes) and five generated tokens.
fn run(s: &mut Session) {
    s.run_ids(prompt(600), Control::default()).unwrap();
    for _ in 0..5 {
        s.step(Control::default()).unwrap();
    }
}

/// Every token, vector, top-K list, logit and lens prediction of two sessions are the same bits.
fn assert_identical(a: &Session, b: &Session) {
    assert_eq!(a.tokens(), b.tokens());
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    for p in 0..a.len() {
        let (x, y) = (a.trace().position(p), b.trace().position(p));
        for layer in 0..config().num_layers {
            for hook in Hook::ALL {
                let point = hook.at(layer);
                assert_eq!(bits(&x.get(point).unwrap()), bits(&y.get(point).unwrap()), "{point} at {p}");
            }
        }
        assert_eq!(x.top(), y.top(), "top-K at {p}");
        assert_eq!(x.logits().map(bits), y.logits().map(bits), "logits at {p}");
    }
    let all: Vec<usize> = (0..a.len()).collect();
    assert_eq!(a.next_tokens(&all, 3).unwrap(), b.next_tokens(&all, 3).unwrap());
}

/// Bytes of the trace's vectors when every position's are kept.
fn vector_bytes(s: &Session) -> u64 {
    s.len() as u64 * s.trace().layer_bytes_per_position() * config().num_layers as u64
}

#[test]
fn past_the_budget_vectors_are_spilled_and_read_back_bit_for_bit() {
    let model = model();
    let dir = tempfile::tempdir().unwrap();
    let mut reference = session(&model, u64::MAX, dir.path());
    run(&mut reference);
    assert_eq!(reference.trace().spilled_bytes(), 0);
    // The top-K lists and logits (~480 KB) and some of the 1.3 MB of vectors fit.
    for budget in [1 << 20, 0] {
        let mut spilling = session(&model, budget, dir.path());
        run(&mut spilling);
        let (resident, spilled) = (spilling.trace().resident_bytes(), spilling.trace().spilled_bytes());
        assert!(spilled > 0, "budget {budget}");
        if budget > 0 {
            assert!(resident <= budget, "{resident} bytes in memory, budget {budget}");
            assert!(spilled < vector_bytes(&spilling), "some vectors stay in memory");
        } else {
            assert_eq!(spilled, vector_bytes(&spilling), "every vector spills");
        }
        assert_identical(&reference, &spilling);
    }
}

#[test]
fn reranking_reads_spilled_coefficients_back() {
    let model = model();
    let dir = tempfile::tempdir().unwrap();
    let (mut reference, mut spilling) = (session(&model, u64::MAX, dir.path()), session(&model, 0, dir.path()));
    run(&mut reference);
    run(&mut spilling);
    for k in [5, 30] {
        reference.set_top_k(k).unwrap();
        spilling.set_top_k(k).unwrap();
        assert_eq!(spilling.trace().position(601).top()[2].len(), k);
        assert_identical(&reference, &spilling);
    }
}

#[test]
fn stepping_back_gives_the_spilled_bytes_back() {
    let model = model();
    let dir = tempfile::tempdir().unwrap();
    let (mut reference, mut spilling) = (session(&model, u64::MAX, dir.path()), session(&model, 0, dir.path()));
    run(&mut reference);
    run(&mut spilling);
    let full = spilling.trace().spilled_bytes();
    for s in [&mut reference, &mut spilling] {
        assert!(s.step_back() && s.step_back());
    }
    assert_eq!(spilling.trace().spilled_bytes(), full - 2 * spilling.trace().layer_bytes_per_position() * 3);
    for s in [&mut reference, &mut spilling] {
        s.step(Control::default()).unwrap();
    }
    assert_identical(&reference, &spilling);
}

/// Open files of this process in `dir` (Linux shows a deleted file's former path).
#[cfg(target_os = "linux")]
fn open_files_in(dir: &Path) -> usize {
    let links = std::fs::read_dir("/proc/self/fd").unwrap().filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok());
    links.filter(|target| target.starts_with(dir)).count()
}

#[cfg(target_os = "linux")]
#[test]
fn the_spill_file_is_gone_when_the_trace_is_cleared_or_dropped() {
    let model = model();
    let dir = tempfile::tempdir().unwrap();
    let mut s = session(&model, 0, dir.path());
    run(&mut s);
    assert_eq!(open_files_in(dir.path()), 1);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "the file has no name");
    // Running a prompt clears the trace first; three positions still spill (budget 0).
    s.run_ids(prompt(3), Control::default()).unwrap();
    assert_eq!(s.trace().spilled_bytes(), 3 * s.trace().layer_bytes_per_position() * 3);
    assert_eq!(open_files_in(dir.path()), 1);
    drop(s);
    assert_eq!(open_files_in(dir.path()), 0);
    // Compare mode's two runs, side by side: a file each.
    let (mut a, mut b) = (session(&model, 0, dir.path()), session(&model, 0, dir.path()));
    a.run_ids(prompt(4), Control::default()).unwrap();
    b.run_ids(prompt(7), Control::default()).unwrap();
    assert_eq!(open_files_in(dir.path()), 2);
    let mut reference = session(&model, u64::MAX, dir.path());
    reference.run_ids(prompt(4), Control::default()).unwrap();
    assert_identical(&reference, &a);
    // A prompt that fits in memory makes no file.
    let mut fits = session(&model, u64::MAX, dir.path());
    fits.run_ids(prompt(4), Control::default()).unwrap();
    drop((a, b));
    assert_eq!(open_files_in(dir.path()), 0);
}

#[test]
fn an_unwritable_spill_directory_is_an_error_that_leaves_the_session_as_it_was() {
    let model = model();
    let home = tempfile::tempdir().unwrap();
    // A regular file where the directory would be made.
    let blocker = home.path().join("cache");
    std::fs::write(&blocker, b"").unwrap();
    let dir = blocker.join("trace");
    let mut reference = session(&model, u64::MAX, home.path());
    reference.run_ids(prompt(20), Control::default()).unwrap();
    // 20 positions fit in memory; a generated one does not.
    let budget = reference.trace().resident_bytes() + 1000;
    let mut s = session(&model, budget, &dir);
    let err = s.run_ids(prompt(600), Control::default()).unwrap_err();
    let EngineError::Spill { dir: named, .. } = &err else { panic!("{err}") };
    assert_eq!(named, &dir);
    assert!(err.to_string().contains(&format!("the trace's spill file in {}", dir.display())), "{err}");
    assert!(s.is_empty());
    s.run_ids(prompt(20), Control::default()).unwrap();
    assert_eq!(s.trace().spilled_bytes(), 0);
    let err = s.step(Control::default()).unwrap_err();
    assert!(matches!(err, EngineError::Spill { .. }), "{err}");
    assert_eq!(s.len(), 20);
    // Once the directory can be made, the next step continues from the same keys and values.
    std::fs::remove_file(&blocker).unwrap();
    s.step(Control::default()).unwrap();
    reference.step(Control::default()).unwrap();
    assert!(s.trace().spilled_bytes() > 0);
    assert_identical(&reference, &s);
}

#[test]
fn the_memory_check_counts_only_what_the_budget_keeps_in_memory() {
    let model = model();
    let dir = tempfile::tempdir().unwrap();
    let (unbounded, bounded) = (session(&model, u64::MAX, dir.path()), session(&model, 0, dir.path()));
    let vectors = 600 * 3 * (2 * 48 + 80) * 4;
    assert_eq!(unbounded.memory_needed(600) - bounded.memory_needed(600), vectors);
}

#[test]
fn the_trace_memory_flag_reaches_the_run_and_changes_no_result() {
    let home = tempfile::tempdir().unwrap();
    let inspect = |budget: &str| {
        let output = Command::new(env!("CARGO_BIN_EXE_neuronav"))
            .args(["inspect", "--device", "cpu", "--format", "json", "--positions", "all", "--generate", "3"])
            .args(["--prompt", "Roger has 5 balls. 2+3=", "--trace-memory", budget, "--model"])
            .arg(fixture("tiny-llama"))
            .env("NEURONAV_HOME", home.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr).to_string();
        (output.status.success(), String::from_utf8_lossy(&output.stdout).to_string(), stderr)
    };
    let (ok, in_memory, stderr) = inspect("1G");
    assert!(ok, "{stderr}");
    let (ok, spilled, stderr) = inspect("0");
    assert!(ok, "{stderr}");
    assert_eq!(spilled, in_memory);
    let (ok, _, stderr) = inspect("lots");
    assert!(!ok && stderr.contains("'lots' is not a byte count like 512M or 2G"), "{stderr}");
}
