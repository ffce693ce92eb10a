//! The lexical pre-filter over the whole-model index, checked against per-neuron projections.
mod common;

use std::collections::BTreeSet;
use std::time::Instant;

use neuronav::engine::loader::{self, DeviceChoice, LoadedModel};
use neuronav::engine::model::WeightDType;
use neuronav::engine::neuron::NeuronId;
use neuronav::engine::session::Control;
use neuronav::science::labels::concepts::Concepts;
use neuronav::science::labels::label::LEXICON;
use neuronav::science::labels::lexical::{self, LexicalSettings};
use neuronav::science::projection::{self, ProjectionSettings};
use neuronav::science::vocab_index::VocabIndex;

fn load(path: &std::path::Path) -> LoadedModel {
    loader::load(path, DeviceChoice::Cpu, WeightDType::F32, &|_, _| {}).unwrap()
}

/// (neuron, concept, evidence) by the definition: project the neuron alone, decode each of its 20
/// promoted tokens alone, strip, lower-case, count the seed words.
fn by_definition(
    loaded: &LoadedModel,
    concepts: &Concepts,
    neurons: impl Iterator<Item = NeuronId>,
) -> BTreeSet<(NeuronId, String, Vec<String>)> {
    let mut hits = BTreeSet::new();
    for neuron in neurons {
        let p = projection::project(loaded.model.as_ref(), neuron, ProjectionSettings { n: 20, norm_gain: false });
        let words: Vec<String> = p.top.iter().map(|t| loaded.tokenizer.decode(&[t.token]).trim().to_string()).collect();
        for c in concepts.iter() {
            let matches = words.iter().filter(|w| c.seeds.iter().any(|s| s.to_lowercase() == w.to_lowercase())).count();
            if matches >= 2 {
                hits.insert((neuron, c.key.clone(), words.clone()));
            }
        }
    }
    hits
}

#[test]
fn tiny_model_labels_match_per_neuron_projections() {
    let loaded = load(&common::fixture("tiny-llama"));
    let dir = tempfile::tempdir().unwrap();
    // The method's seven, and one whose seeds (single letters) the tiny vocabulary is full of.
    let user = dir.path().join("concepts.toml");
    let letters: Vec<String> = ('a'..='z').map(|c| format!("\"{c}\"")).collect();
    std::fs::write(
        &user,
        format!(
            "[[concept]]\nkey = \"letters\"\nname = \"letters\"\nseeds = [{}]\nquestion = \"Letters?\"\n",
            letters.join(", ")
        ),
    )
    .unwrap();
    let concepts = Concepts::load(&user).unwrap();
    let fp = &loaded.fingerprint;
    let (index, built) = VocabIndex::load_or_build(
        loaded.model.as_ref(),
        dir.path(),
        fp,
        ProjectionSettings::default(),
        Control::default(),
    )
    .unwrap();
    assert!(built);
    let texts = lexical::token_texts(&loaded.tokenizer, loaded.config.vocab_size);
    // Byte-level BPE: "Ġadd" is " add" decoded, "add" stripped.
    assert_eq!(texts[loaded.tokenizer.id_of("Ġadd").unwrap() as usize], "add");
    let settings = LexicalSettings { min_layer: 1, min_matches: 2 };
    let labels = lexical::prefilter(&index, &texts, &concepts, settings);

    let got: BTreeSet<_> = labels.iter().map(|l| (l.neuron, l.concept.clone(), l.evidence.clone())).collect();
    assert_eq!(got.len(), labels.len(), "each pair once");
    let c = &loaded.config;
    let all = (0..c.num_layers as u32)
        .flat_map(|layer| (0..c.intermediate_size as u32).map(move |index| NeuronId { layer, index }));
    let expected: BTreeSet<_> =
        by_definition(&loaded, &concepts, all).into_iter().filter(|(n, _, _)| n.layer >= 1).collect();
    assert_eq!(got, expected);
    assert!(got.iter().filter(|(_, c, _)| c == "letters").count() > 20, "the test concept is matched often");
    assert!(labels.iter().all(|l| l.source == LEXICON && l.applies && l.evidence.len() == 20 && l.answer.is_empty()));

    // With the layer threshold at 0, layer 0's hits join; none is lost above it.
    let everywhere = lexical::prefilter(&index, &texts, &concepts, LexicalSettings { min_layer: 0, min_matches: 2 });
    assert!(everywhere.iter().any(|l| l.neuron.layer == 0));
    assert_eq!(everywhere.iter().filter(|l| l.neuron.layer >= 1).count(), labels.len());
}

/// The method's settings on SmolLM2-135M: every neuron of layers 6-29 filtered in seconds.
#[test]
fn default_model_is_filtered_in_seconds() {
    let loaded = load(&common::default_model());
    let cache = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let (index, _) = VocabIndex::load_or_build(
        loaded.model.as_ref(),
        cache.path(),
        &loaded.fingerprint,
        ProjectionSettings::default(),
        Control::default(),
    )
    .unwrap();
    let index_s = started.elapsed().as_secs_f64();
    let concepts = Concepts::built_in();
    let started = Instant::now();
    let texts = lexical::token_texts(&loaded.tokenizer, loaded.config.vocab_size);
    let labels = lexical::prefilter(&index, &texts, &concepts, LexicalSettings::default());
    let filter_s = started.elapsed().as_secs_f64();
    let counts: Vec<String> = concepts
        .iter()
        .map(|c| format!("{} {}", c.key, labels.iter().filter(|l| l.concept == c.key).count()))
        .collect();
    eprintln!("index {index_s:.1} s, lexical filter {filter_s:.2} s: {}", counts.join(", "));
    assert!(filter_s < 10.0, "{filter_s} s");
    assert!(labels.iter().all(|l| l.neuron.layer >= 6));
    assert!(!labels.is_empty());
    // A sample checked neuron by neuron against its own projection.
    let sample: BTreeSet<NeuronId> = labels.iter().step_by(labels.len().div_ceil(40)).map(|l| l.neuron).collect();
    let expected = by_definition(&loaded, &concepts, sample.iter().copied());
    let got: BTreeSet<_> = labels
        .iter()
        .filter(|l| sample.contains(&l.neuron))
        .map(|l| (l.neuron, l.concept.clone(), l.evidence.clone()))
        .collect();
    assert_eq!(got, expected);
}
