//! Branches after a shared prefix, batched in one pass, compute what each branch computes alone
//! after the same prefix.
mod common;

use common::{fixture, max_abs_diff};
use neuronav::engine::hook::Hook;
use neuronav::engine::intervention::Interventions;
use neuronav::engine::loader::{self, DeviceChoice, LoadedModel};
use neuronav::engine::model::WeightDType;
use neuronav::engine::neuron::NeuronId;
use neuronav::engine::EngineError;

fn load(rel: &str) -> LoadedModel {
    loader::load(&fixture(rel), DeviceChoice::Cpu, WeightDType::F32, &|_, _| {}).unwrap()
}

/// m at each branch's rows and the logits at its last row, run alone after `prefix` in a fresh
/// cache: `([n_layers, len, d_ff], [vocab])` per branch.
fn unbatched(loaded: &LoadedModel, prefix: &[u32], branch: &[u32], i: &Interventions) -> (Vec<f32>, Vec<f32>) {
    let model = &loaded.model;
    let mut cache = model.new_cache();
    if !prefix.is_empty() {
        model.forward(prefix, cache.as_mut(), i, &|| true).unwrap();
    }
    let c = model.forward(branch, cache.as_mut(), i, &|| true).unwrap();
    (c.activations.take(Hook::MlpM), c.logits)
}

fn check(rel: &str, prefix: &[u32], interventions: &Interventions) {
    let loaded = load(rel);
    let model = &loaded.model;
    let (layers, d_ff) = (model.config().num_layers, model.config().intermediate_size);
    let branches: Vec<Vec<u32>> = vec![vec![5, 9, 11, 3], vec![7], vec![2, 2, 40, 8, 1, 6], vec![13, 4]];
    // Every row of every branch, so the whole of each branch is compared.
    let reads: Vec<(usize, usize)> =
        branches.iter().enumerate().flat_map(|(b, br)| (0..br.len()).map(move |o| (b, o))).collect();
    let mut cache = model.new_cache();
    if !prefix.is_empty() {
        model.forward(prefix, cache.as_mut(), interventions, &|| true).unwrap();
    }
    let batched = model.forward_branches(&branches, &reads, cache.as_mut(), interventions, &|| true).unwrap();
    assert_eq!(cache.len(), prefix.len(), "the prefix cache is left as it was");
    let vocab = batched.logits.len() / reads.len();
    for (r, &(b, o)) in reads.iter().enumerate() {
        let (m, logits) = unbatched(&loaded, prefix, &branches[b], interventions);
        let len = branches[b].len();
        let alone: Vec<f32> = (0..layers).flat_map(|l| m[(l * len + o) * d_ff..][..d_ff].to_vec()).collect();
        let ours: Vec<f32> =
            (0..layers).flat_map(|l| batched.m[(l * reads.len() + r) * d_ff..][..d_ff].to_vec()).collect();
        let diff = max_abs_diff(&ours, &alone);
        assert!(diff < 1e-4, "{rel}: branch {b} row {o}: m differs by {diff}");
        if o == len - 1 {
            let diff = max_abs_diff(&batched.logits[r * vocab..][..vocab], &logits);
            assert!(diff < 1e-4, "{rel}: branch {b}: logits differ by {diff}");
        }
    }
    // The same cache serves another batch.
    let again = model.forward_branches(&branches[..1], &[(0, 3)], cache.as_mut(), interventions, &|| true).unwrap();
    let first = reads.iter().position(|&r| r == (0, 3)).unwrap();
    assert!(max_abs_diff(&again.logits, &batched.logits[first * vocab..][..vocab]) < 1e-4);
}

#[test]
fn batched_branches_equal_separate_runs_after_a_prefix() {
    check("tiny-llama", &[1, 17, 23, 5, 30, 2], &Interventions::default());
}

#[test]
fn batched_branches_equal_separate_runs_without_a_prefix_and_quantized() {
    check("tiny-llama.gguf", &[], &Interventions::default());
    check("tiny-llama-q8_0.gguf", &[3, 4], &Interventions::default());
}

#[test]
fn interventions_apply_to_every_branch() {
    let mut i = Interventions::default();
    i.scale(NeuronId { layer: 1, index: 37 }, 0.0).scale(NeuronId { layer: 0, index: 3 }, 4.0);
    check("tiny-llama", &[1, 17, 23], &i);
}

#[test]
fn bad_reads_and_empty_branches_are_errors() {
    let loaded = load("tiny-llama");
    let model = &loaded.model;
    let mut cache = model.new_cache();
    let none = Interventions::default();
    let bad = model.forward_branches(&[vec![1, 2]], &[(0, 2)], cache.as_mut(), &none, &|| true);
    assert!(matches!(bad, Err(EngineError::OutOfRange(m)) if m.contains("no row 2 in branch 0")));
    let empty = model.forward_branches(&[vec![1], vec![]], &[(0, 0)], cache.as_mut(), &none, &|| true);
    assert!(matches!(empty, Err(EngineError::Argument(_))));
    let context = model.config().context_length;
    let long = model.forward_branches(&[vec![1; context + 1]], &[(0, 0)], cache.as_mut(), &none, &|| true);
    assert!(matches!(long, Err(EngineError::ContextOverflow { .. })));
    let cancelled = model.forward_branches(&[vec![1, 2]], &[(0, 1)], cache.as_mut(), &none, &|| false);
    assert!(matches!(cancelled, Err(EngineError::Cancelled)));
    assert_eq!(cache.len(), 0);
}
