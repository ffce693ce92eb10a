//! Operand-grid maps on the default model: the batched grid pass equals separate runs, outcomes
//! equal greedy decoding, KV maps equal K times the centred projection, and the cache reloads.
mod common;

use common::max_abs_diff;
use neuronav::engine::hook::Hook;
use neuronav::engine::intervention::Interventions;
use neuronav::engine::loader::{self, DeviceChoice, LoadedModel};
use neuronav::engine::model::WeightDType;
use neuronav::engine::session::{Control, Session, SessionSettings};
use neuronav::science::heuristics::cache;
use neuronav::science::heuristics::grid::{GridSpec, Operator};
use neuronav::science::heuristics::maps::{GridMaps, MapSettings};
use neuronav::science::heuristics::prompts::{default_prefix, GridPrompts};

fn load() -> LoadedModel {
    loader::load(&common::default_model(), DeviceChoice::Cpu, WeightDType::F32, &|_, _| {}).unwrap()
}

fn settings(n: u32, slots: usize, layers: Vec<usize>) -> MapSettings {
    let spec = GridSpec::square(Operator::Add, n);
    MapSettings { prefix: default_prefix(spec.operator).into(), spec, slots, layers }
}

/// m at every row of `branch` run alone after the prefix: `[n_layers, len, d_ff]`.
fn alone(loaded: &LoadedModel, prefix: &[u32], branch: &[u32]) -> Vec<f32> {
    let mut cache = loaded.model.new_cache();
    let none = Interventions::default();
    loaded.model.forward(prefix, cache.as_mut(), &none, &|| true).unwrap();
    loaded.model.forward(branch, cache.as_mut(), &none, &|| true).unwrap().activations.take(Hook::MlpM)
}

#[test]
fn batched_grid_prompts_equal_separate_runs() {
    let loaded = load();
    let (layers, d_ff) = (loaded.config.num_layers, loaded.config.intermediate_size);
    let spec = GridSpec::square(Operator::Add, 100);
    let prompts = GridPrompts::new(&spec, default_prefix(Operator::Add), &loaded.tokenizer).unwrap();
    // Mixed lengths: one- and two-digit operands and results.
    let cells: Vec<usize> = [(0, 0), (3, 4), (7, 8), (12, 5), (45, 54), (99, 99), (9, 91), (50, 7)]
        .iter()
        .map(|&(a, b)| spec.index(a, b).unwrap())
        .collect();
    let branches: Vec<Vec<u32>> = cells.iter().map(|&c| prompts.cells[c].as_ref().unwrap().tokens.clone()).collect();
    let equals: Vec<usize> = cells.iter().map(|&c| prompts.cells[c].as_ref().unwrap().equals).collect();
    let reads: Vec<(usize, usize)> = equals.iter().copied().enumerate().collect();
    let mut cache = loaded.model.new_cache();
    let none = Interventions::default();
    loaded.model.forward(&prompts.prefix, cache.as_mut(), &none, &|| true).unwrap();
    let batched = loaded.model.forward_branches(&branches, &reads, cache.as_mut(), &none, &|| true).unwrap();
    for (b, branch) in branches.iter().enumerate() {
        let m = alone(&loaded, &prompts.prefix, branch);
        let len = branch.len();
        let theirs: Vec<f32> = (0..layers).flat_map(|l| m[(l * len + equals[b]) * d_ff..][..d_ff].to_vec()).collect();
        let ours: Vec<f32> =
            (0..layers).flat_map(|l| batched.m[(l * reads.len() + b) * d_ff..][..d_ff].to_vec()).collect();
        // The two runs multiply matrices of different heights, so sums are ordered differently:
        // f32 rounding, relative to the largest coefficient.
        let diff = max_abs_diff(&ours, &theirs);
        let scale = theirs.iter().fold(1f32, |a, x| a.max(x.abs()));
        assert!(diff < 1e-5 * scale, "prompt {b}: m at \"=\" differs by {diff} (largest |m| {scale})");
    }
}

#[test]
fn maps_outcomes_and_kv_follow_from_separate_runs_and_the_cache_reloads() {
    let loaded = load();
    let d_ff = loaded.config.intermediate_size;
    let layers = vec![3, 20, 29];
    let s = settings(12, 2, layers.clone());
    let dir = tempfile::tempdir().unwrap();
    let (maps, built) =
        cache::load_or_build(loaded.model.as_ref(), &loaded.tokenizer, dir.path(), "fp", s.clone(), Control::default())
            .unwrap();
    assert!(built);
    let prompts = GridPrompts::new(&s.spec, &s.prefix, &loaded.tokenizer).unwrap();
    let vocab = loaded.config.vocab_size;
    for (op1, op2) in [(0, 0), (3, 9), (11, 11), (7, 5)] {
        let cell = s.spec.index(op1, op2).unwrap();
        let p = prompts.cells[cell].as_ref().unwrap();
        let m = alone(&loaded, &prompts.prefix, &p.tokens);
        let len = p.tokens.len();
        for (slot, &layer) in [(0, &20), (1, &29), (0, &3)] {
            let k = maps.k_map(slot, layer, 0).unwrap();
            for j in [0, 17, 1535] {
                let expected = m[(layer * len + p.equals + slot) * d_ff + j];
                let got = maps.k_map(slot, layer, j).unwrap()[cell];
                assert!(
                    (got - expected).abs() <= 1e-3 * (1.0 + expected.abs()),
                    "{op1}+{op2} L{layer} N{j}: {got} vs {expected}"
                );
            }
            assert_eq!(k.len(), 144);
        }
        // The outcome is what greedy decoding writes after the same prompt.
        let mut session = Session::new(loaded.model.clone(), loaded.tokenizer.clone(), SessionSettings::default());
        session.run_prompt(&format!("{}{op1}+{op2}=", s.prefix), Control::default()).unwrap();
        for _ in 0..4 {
            session.step(Control::default()).unwrap();
        }
        let text = session.generated_text();
        let written: String = text.chars().take_while(|c| c.is_ascii_digit()).collect();
        let outcome = maps.outcomes[cell].as_ref().unwrap();
        assert_eq!(outcome.correct, written == (op1 + op2).to_string(), "{op1}+{op2}: greedy wrote {text:?}");
        if outcome.correct {
            assert_eq!(outcome.answer, written);
        }
        // KV = K × (centred logit of the token the row should predict).
        for &layer in &layers {
            let full = loaded.model.project_value_vectors(layer, 5, 1, true);
            let mean = full.iter().map(|&x| x as f64).sum::<f64>() / vocab as f64;
            let target = p.answer()[0] as usize;
            let expected = maps.k_map(0, layer, 5).unwrap()[cell] * (full[target] as f64 - mean) as f32;
            let got = maps.kv_map(0, layer, 5).unwrap()[cell];
            assert!(
                (got - expected).abs() <= 1e-3 * (1.0 + expected.abs()),
                "KV {op1}+{op2} L{layer}: {got} vs {expected}"
            );
        }
    }
    assert!(maps.k_map(0, 4, 0).is_none(), "layer 4 was not kept");
    // A one-digit answer has no second answer token to predict at slot 1.
    let one_digit = s.spec.index(2, 3).unwrap();
    assert!(maps.kv_map(1, 20, 0).unwrap()[one_digit].is_nan());
    assert!(maps.kv_map(1, 20, 0).unwrap()[s.spec.index(5, 7).unwrap()].is_finite());

    let (again, built) =
        cache::load_or_build(loaded.model.as_ref(), &loaded.tokenizer, dir.path(), "fp", s.clone(), Control::default())
            .unwrap();
    assert!(!built, "the cached maps are reloaded");
    assert_eq!(again.outcomes, maps.outcomes);
    assert_eq!(again.k_map(1, 29, 100), maps.k_map(1, 29, 100));
    assert_eq!(again.kv_map(0, 3, 7), maps.kv_map(0, 3, 7));

    // A damaged file is rebuilt rather than trusted.
    let file = cache::path(dir.path(), "fp", &s);
    let len = std::fs::metadata(&file).unwrap().len();
    std::fs::OpenOptions::new().write(true).open(&file).unwrap().set_len(len / 2).unwrap();
    assert!(cache::load(&file).is_err());
    let (_, built) =
        cache::load_or_build(loaded.model.as_ref(), &loaded.tokenizer, dir.path(), "fp", s, Control::default())
            .unwrap();
    assert!(built);
}

#[test]
fn cancelling_stops_the_build() {
    let loaded = load();
    let cancel = std::sync::atomic::AtomicBool::new(true);
    let control = Control { cancel: Some(&cancel), progress: None };
    let r = GridMaps::build(loaded.model.as_ref(), &loaded.tokenizer, settings(10, 1, vec![0]), control);
    assert!(matches!(r, Err(neuronav::engine::EngineError::Cancelled)));
}
