//! Parity with PyTorch/transformers on a tiny random Llama (GQA, untied head), saved in every
//! format neuronav reads. The references were computed by scripts/make_reference.py.
mod common;

use common::{fixture, floats, ids, read_json};
use neuronav::engine::loader::{self, DeviceChoice, LoadedModel};
use neuronav::engine::model::WeightDType;
use neuronav::engine::session::{Control, Session, SessionSettings};
use serde_json::Value;

/// |ours - reference| ≤ 1e-4 + 1e-4·|reference|, elementwise.
fn assert_close(ours: &[f32], reference: &[f32], what: &str) {
    assert_eq!(ours.len(), reference.len(), "{what}: lengths differ");
    for (i, (a, b)) in ours.iter().zip(reference).enumerate() {
        assert!((a - b).abs() <= 1e-4 + 1e-4 * b.abs(), "{what}[{i}]: ours {a}, reference {b}");
    }
}

/// `[L][T][n]` nested arrays, flattened layer-major.
fn nested(v: &Value) -> Vec<Vec<Vec<f32>>> {
    v.as_array().unwrap().iter().map(|l| l.as_array().unwrap().iter().map(floats).collect()).collect()
}

fn load(rel: &str) -> LoadedModel {
    match loader::load(&fixture(rel), DeviceChoice::Cpu, WeightDType::F32, &|_, _| {}) {
        Ok(m) => m,
        Err(e) => panic!("{rel}: {e}"),
    }
}

fn check_variant(model_rel: &str, reference_rel: &str) {
    let loaded = load(model_rel);
    let reference = read_json(reference_rel);
    let norms = nested(&Value::Array(vec![reference["value_norms"].clone()]));
    for (l, expected) in norms[0].iter().enumerate() {
        assert_close(&loaded.model.value_norms()[l], expected, &format!("{model_rel} value norms L{l}"));
    }
    for prompt in reference["prompts"].as_array().unwrap() {
        let text = prompt["text"].as_str().unwrap();
        let expected_ids = ids(&prompt["ids"]);
        assert_eq!(loaded.tokenizer.encode(text).unwrap(), expected_ids, "{model_rel}: tokens of {text:?}");
        let mut session = Session::new(loaded.model.clone(), loaded.tokenizer.clone(), SessionSettings::default());
        session.run_ids(expected_ids.clone(), Control::default()).unwrap();
        let t = expected_ids.len();
        let m = nested(&prompt["m"]);
        let mid = nested(&prompt["resid_mid"]);
        let post = nested(&prompt["resid_post"]);
        for p in 0..t {
            let trace = session.trace().position(p);
            for l in 0..loaded.config.num_layers {
                let what = |name: &str| format!("{model_rel} {text:?} {name} L{l} pos {p}");
                assert_close(&trace.m(l).unwrap(), &m[l][p], &what("m"));
                assert_close(&trace.resid_mid(l).unwrap(), &mid[l][p], &what("resid_mid"));
                assert_close(&trace.resid_post(l).unwrap(), &post[l][p], &what("resid_post"));
            }
        }
        let logits: Vec<Vec<f32>> = prompt["logits"].as_array().unwrap().iter().map(floats).collect();
        let last = session.trace().position(t - 1).logits().unwrap();
        assert_close(last, &logits[t - 1], &format!("{model_rel} {text:?} last logits"));
        // Logits of earlier positions come from the logit lens on the last residual stream.
        let layers = loaded.config.num_layers;
        let resid: Vec<f32> =
            (0..t).flat_map(|p| session.trace().position(p).resid_post(layers - 1).unwrap().to_vec()).collect();
        let lens = loaded.model.logit_lens(&resid);
        for (p, expected) in logits.iter().enumerate() {
            let vocab = expected.len();
            assert_close(&lens[p * vocab..(p + 1) * vocab], expected, &format!("{model_rel} logits pos {p}"));
        }
        let greedy: Vec<u32> = (0..8).map(|_| session.step(Control::default()).unwrap()).collect();
        assert_eq!(greedy, ids(&prompt["greedy"]), "{model_rel}: greedy continuation of {text:?}");
    }
}

#[test]
fn hf_f32_directory_matches_pytorch() {
    check_variant("tiny-llama", "reference/f32.json");
}

/// The GGUF stores Q/K permuted for adjacent-pair RoPE; with the matching RoPE it must give the
/// same numbers as the Hugging Face layout.
#[test]
fn gguf_f32_matches_pytorch() {
    check_variant("tiny-llama.gguf", "reference/f32.json");
}

#[test]
fn gguf_q8_0_matches_pytorch_on_dequantized_weights() {
    check_variant("tiny-llama-q8_0.gguf", "reference/q8_0.json");
}

#[test]
fn sharded_f16_directory_matches_pytorch() {
    check_variant("tiny-llama-f16-sharded", "reference/f16.json");
}

#[test]
fn bf16_directory_matches_pytorch() {
    check_variant("tiny-llama-bf16", "reference/bf16.json");
}

#[test]
fn tied_head_matches_pytorch() {
    let loaded = load("tiny-llama-tied");
    assert!(loaded.config.tie_word_embeddings);
    drop(loaded);
    check_variant("tiny-llama-tied", "reference/tied.json");
}

#[test]
fn prompt_longer_than_the_context_is_refused() {
    let loaded = load("tiny-llama");
    let mut session = Session::new(loaded.model.clone(), loaded.tokenizer.clone(), SessionSettings::default());
    let err = session.run_prompt(&"2+2=4 ".repeat(40), Control::default()).unwrap_err();
    assert!(err.to_string().contains("context holds 64"), "{err}");
}
