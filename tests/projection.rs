//! Vocabulary projections of value vectors (W_U · v) against PyTorch's, for single neurons and for
//! the whole-model index, and the index's cache and search.
mod common;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use common::{fixture, ids, read_json};
use neuronav::engine::error::EngineError;
use neuronav::engine::loader::{self, DeviceChoice, LoadedModel};
use neuronav::engine::model::WeightDType;
use neuronav::engine::neuron::NeuronId;
use neuronav::engine::session::Control;
use neuronav::science::projection::{project, ProjectionSettings, TokenLogit};
use neuronav::science::vocab_index::VocabIndex;

const RAW_20: ProjectionSettings = ProjectionSettings { n: 20, norm_gain: false };

fn load(path: &std::path::Path) -> LoadedModel {
    loader::load(path, DeviceChoice::Cpu, WeightDType::F32, &|_, _| {}).unwrap_or_else(|e| panic!("{e}"))
}

fn token_ids(v: &[TokenLogit]) -> Vec<u32> {
    v.iter().map(|t| t.token).collect()
}

/// The reference's neurons with their top-10 token ids of raw W_U · v.
fn reference_neurons(reference_rel: &str) -> Vec<(NeuronId, Vec<u32>)> {
    let reference = read_json(reference_rel);
    reference["projection"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let neuron =
                NeuronId { layer: p["layer"].as_u64().unwrap() as u32, index: p["index"].as_u64().unwrap() as u32 };
            (neuron, ids(&p["top10"]))
        })
        .collect()
}

/// Single-neuron projections equal PyTorch's top 10 exactly, in order, in every format (f32 and
/// Q8_0 GGUF exercise the dense and the quantized single-row kernels, and a tied head).
#[test]
fn single_neuron_projections_match_pytorch_on_the_tiny_model() {
    for (model_rel, reference_rel) in [
        ("tiny-llama", "reference/f32.json"),
        ("tiny-llama.gguf", "reference/f32.json"),
        ("tiny-llama-q8_0.gguf", "reference/q8_0.json"),
        ("tiny-llama-bf16", "reference/bf16.json"),
        ("tiny-llama-tied", "reference/tied.json"),
    ] {
        let loaded = load(&fixture(model_rel));
        let neurons = reference_neurons(reference_rel);
        assert!(neurons.len() >= 6, "{reference_rel} lists too few neurons");
        for (neuron, expected) in neurons {
            let p = project(loaded.model.as_ref(), neuron, ProjectionSettings { n: 10, norm_gain: false });
            assert_eq!(token_ids(&p.top), expected, "{model_rel} {neuron}");
        }
    }
}

#[test]
fn single_neuron_projections_match_pytorch_on_the_default_model() {
    let loaded = load(&common::default_model());
    let neurons = reference_neurons("smollm2-reference.json");
    assert_eq!(neurons.len(), 12);
    for (neuron, expected) in neurons {
        let p = project(loaded.model.as_ref(), neuron, ProjectionSettings { n: 10, norm_gain: false });
        assert_eq!(token_ids(&p.top), expected, "{neuron}");
    }
}

/// The index (matrix products over blocks of neurons) holds what single projections give, for
/// every neuron, both ends, and with the norm gain; it agrees with PyTorch where that is known.
#[test]
fn the_index_equals_single_projections_for_every_neuron() {
    let loaded = load(&fixture("tiny-llama"));
    let c = &loaded.config;
    let seen = Mutex::new(Vec::new());
    let progress = |done: usize, total: usize| seen.lock().unwrap().push((done, total));
    for settings in [RAW_20, ProjectionSettings { n: 7, norm_gain: true }] {
        seen.lock().unwrap().clear();
        let index =
            VocabIndex::build(loaded.model.as_ref(), settings, Control { cancel: None, progress: Some(&progress) })
                .unwrap();
        let total = c.num_layers * c.intermediate_size;
        assert_eq!(seen.lock().unwrap().last(), Some(&(total, total)), "progress reaches the total");
        for layer in 0..c.num_layers as u32 {
            for j in 0..c.intermediate_size as u32 {
                let neuron = NeuronId { layer, index: j };
                let single = project(loaded.model.as_ref(), neuron, settings);
                let (top, bottom) = (index.top(neuron), index.bottom(neuron));
                assert_eq!(token_ids(&top), token_ids(&single.top), "{neuron} top {settings:?}");
                assert_eq!(token_ids(&bottom), token_ids(&single.bottom), "{neuron} bottom {settings:?}");
                for (a, b) in top.iter().zip(&single.top) {
                    assert!((a.logit - b.logit).abs() < 1e-4 * (1.0 + b.logit.abs()), "{neuron}: {a:?} vs {b:?}");
                }
            }
        }
    }
    let index = VocabIndex::build(loaded.model.as_ref(), RAW_20, Control::default()).unwrap();
    for (neuron, expected) in reference_neurons("reference/f32.json") {
        assert_eq!(token_ids(&index.top(neuron))[..10], expected[..], "{neuron}");
    }
}

/// "Which neurons promote X": every neuron whose top list holds X, ranked by logit, found by
/// scanning single projections independently.
#[test]
fn search_finds_every_promoter_ranked_by_logit() {
    let loaded = load(&fixture("tiny-llama"));
    let c = &loaded.config;
    let index = VocabIndex::build(loaded.model.as_ref(), RAW_20, Control::default()).unwrap();
    for tokens in [vec![23u32], vec![23, 301], vec![5]] {
        let mut expected: Vec<(NeuronId, f32)> = Vec::new();
        for layer in 0..c.num_layers as u32 {
            for j in 0..c.intermediate_size as u32 {
                let neuron = NeuronId { layer, index: j };
                let top = project(loaded.model.as_ref(), neuron, RAW_20).top;
                if let Some(best) = top.iter().find(|t| tokens.contains(&t.token)) {
                    expected.push((neuron, best.logit));
                }
            }
        }
        assert!(!expected.is_empty(), "some neuron promotes {tokens:?}");
        let hits = index.promoting(&tokens);
        let found: BTreeSet<NeuronId> = hits.iter().map(|h| h.neuron).collect();
        assert_eq!(found, expected.iter().map(|e| e.0).collect(), "promoters of {tokens:?}");
        assert!(hits.windows(2).all(|w| w[0].logit >= w[1].logit), "ranked by logit");
        for h in &hits {
            assert!(tokens.contains(&h.token));
            assert_eq!(token_ids(&index.top(h.neuron))[h.rank], h.token, "{} rank", h.neuron);
        }
    }
}

#[test]
fn the_index_is_cached_by_fingerprint_and_reloads_identically() {
    let loaded = load(&fixture("tiny-llama.gguf"));
    let cache = tempfile::tempdir().unwrap();
    let (built, was_built) =
        VocabIndex::load_or_build(loaded.model.as_ref(), cache.path(), &loaded.fingerprint, RAW_20, Control::default())
            .unwrap();
    assert!(was_built);
    let path = VocabIndex::cache_path(cache.path(), &loaded.fingerprint, RAW_20);
    assert!(path.is_file());
    let (again, was_built) =
        VocabIndex::load_or_build(loaded.model.as_ref(), cache.path(), &loaded.fingerprint, RAW_20, Control::default())
            .unwrap();
    assert!(!was_built, "the second call reads the cache");
    for neuron in [NeuronId { layer: 0, index: 0 }, NeuronId { layer: 2, index: 159 }] {
        assert_eq!(again.top(neuron), built.top(neuron));
        assert_eq!(again.bottom(neuron), built.bottom(neuron));
    }
    // Other settings are another file.
    let gain = ProjectionSettings { n: 20, norm_gain: true };
    assert_ne!(VocabIndex::cache_path(cache.path(), &loaded.fingerprint, gain), path);
}

#[test]
fn a_damaged_index_file_is_an_error_naming_it_and_is_rebuilt() {
    let loaded = load(&fixture("tiny-llama"));
    let cache = tempfile::tempdir().unwrap();
    let path = VocabIndex::cache_path(cache.path(), &loaded.fingerprint, RAW_20);
    VocabIndex::build(loaded.model.as_ref(), RAW_20, Control::default()).unwrap().save(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let err = VocabIndex::load(&path).err().expect("a truncated index does not load");
    assert!(err.to_string().contains(&path.display().to_string()), "{err}");
    let (_, was_built) =
        VocabIndex::load_or_build(loaded.model.as_ref(), cache.path(), &loaded.fingerprint, RAW_20, Control::default())
            .unwrap();
    assert!(was_built, "a damaged cache is rebuilt, not trusted");
    assert!(VocabIndex::load(&path).is_ok());
}

#[test]
fn building_the_index_can_be_cancelled() {
    let loaded = load(&fixture("tiny-llama"));
    let cancel = AtomicBool::new(false);
    let progress = |_done: usize, _total: usize| cancel.store(true, Ordering::Relaxed);
    let result =
        VocabIndex::build(loaded.model.as_ref(), RAW_20, Control { cancel: Some(&cancel), progress: Some(&progress) });
    assert!(matches!(result, Err(EngineError::Cancelled)));
}

/// Centred value logits equal the full projection with the gain folded in, minus its mean over
/// the whole vocabulary, for chosen tokens.
#[test]
fn centred_value_logits_equal_the_full_projection_minus_its_mean() {
    for rel in ["tiny-llama", "tiny-llama-tied", "tiny-llama-q8_0.gguf"] {
        let loaded = load(&fixture(rel));
        let model = &loaded.model;
        let (d_ff, vocab) = (model.config().intermediate_size, model.config().vocab_size);
        let tokens = [0u32, 7, 31, vocab as u32 - 1];
        let centred = model.centred_value_logits(1, &tokens);
        assert_eq!(centred.len(), d_ff * tokens.len());
        let full = model.project_value_vectors(1, 0, d_ff, true);
        for j in 0..d_ff {
            let row = &full[j * vocab..][..vocab];
            let mean = row.iter().map(|&x| x as f64).sum::<f64>() / vocab as f64;
            for (i, &t) in tokens.iter().enumerate() {
                let expected = row[t as usize] as f64 - mean;
                let got = centred[j * tokens.len() + i] as f64;
                assert!((got - expected).abs() < 1e-4, "{rel} neuron {j} token {t}: {got} vs {expected}");
            }
        }
    }
}
