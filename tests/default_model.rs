//! The real default model (SmolLM2-135M-Instruct, Q4_1 GGUF) against transformers' outputs on the
//! same file (tests/fixtures/smollm2-reference.json, made by scripts/make_reference.py).
mod common;

use std::collections::BTreeSet;

use common::{floats, ids, read_json};
use neuronav::engine::loader::{self, DeviceChoice};
use neuronav::engine::model::WeightDType;
use neuronav::engine::session::{Control, Session, SessionSettings};

#[test]
fn top20_neurons_next_tokens_and_greedy_text_match_transformers() {
    let loaded = loader::load(&common::default_model(), DeviceChoice::Cpu, WeightDType::F32, &|_, _| {}).unwrap();
    assert_eq!(loaded.config.num_layers, 30);
    assert_eq!(loaded.config.intermediate_size, 1536);
    assert!(loaded.config.tie_word_embeddings);
    let reference = read_json("smollm2-reference.json");
    for prompt in reference["prompts"].as_array().unwrap() {
        let text = prompt["text"].as_str().unwrap();
        let label = &text[..text.len().min(30)];
        let expected_ids = ids(&prompt["ids"]);
        assert_eq!(loaded.tokenizer.encode(text).unwrap(), expected_ids, "tokens of {label:?}");
        let mut session = Session::new(loaded.model.clone(), loaded.tokenizer.clone(), SessionSettings::default());
        session.run_ids(expected_ids.clone(), Control::default()).unwrap();
        let last = session.trace().position(expected_ids.len() - 1);
        for (l, layer) in prompt["last_token_layers"].as_array().unwrap().iter().enumerate() {
            let ours: BTreeSet<u32> = last.top()[l].iter().map(|h| h.index).collect();
            let theirs: BTreeSet<u32> = ids(&layer["top20"]).into_iter().collect();
            assert_eq!(ours, theirs, "{label:?}: top-20 set of layer {l}");
            // The best neuron's coefficient and score agree closely too.
            let (m, s) = (floats(&layer["m"])[0], floats(&layer["s"])[0]);
            assert!(
                (last.top()[l][0].m - m).abs() < 1e-3 * (1.0 + m.abs()),
                "{label:?} L{l}: m {} vs {m}",
                last.top()[l][0].m
            );
            assert!(
                (last.top()[l][0].s - s).abs() < 1e-3 * (1.0 + s.abs()),
                "{label:?} L{l}: s {} vs {s}",
                last.top()[l][0].s
            );
        }
        let next: Vec<u32> =
            session.next_tokens(&[expected_ids.len() - 1], 5).unwrap()[0].iter().map(|t| t.id).collect();
        assert_eq!(next, ids(&prompt["next_top5"]), "{label:?}: next-token top 5");
        let expected_greedy = ids(&prompt["greedy"]);
        let greedy: Vec<u32> = (0..expected_greedy.len()).map(|_| session.step(Control::default()).unwrap()).collect();
        assert_eq!(greedy, expected_greedy, "{label:?}: greedy tokens");
        if let Some(expected_text) = prompt["greedy_text"].as_str() {
            assert_eq!(session.generated_text(), expected_text);
        }
    }
}
