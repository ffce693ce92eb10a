//! Hugging Face directories that are broken in the ways real downloads break.
mod common;

use std::path::Path;

use neuronav::engine::loader::{self, DeviceChoice};
use neuronav::engine::model::WeightDType;
use neuronav::engine::EngineError;

const CONFIG: &str = r#"{"model_type":"llama","vocab_size":8,"hidden_size":4,"intermediate_size":6,
"num_hidden_layers":1,"num_attention_heads":2,"num_key_value_heads":1,"max_position_embeddings":16,
"rms_norm_eps":1e-5,"tie_word_embeddings":true}"#;

fn load(dir: &Path) -> Result<(), EngineError> {
    loader::load(dir, DeviceChoice::Cpu, WeightDType::F32, &|_, _| {}).map(|_| ())
}

/// A safetensors file with one f32 tensor whose header is `header` and whose data is `data_len` bytes.
fn safetensors_bytes(header: &str, data_len: usize) -> Vec<u8> {
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend(std::iter::repeat_n(0u8, data_len));
    bytes
}

fn dir_with(files: &[(&str, Vec<u8>)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in files {
        std::fs::write(dir.path().join(name), bytes).unwrap();
    }
    dir
}

fn message(err: EngineError) -> String {
    err.to_string()
}

#[test]
fn header_that_lies_about_sizes_is_rejected_naming_the_file() {
    // Claims 8×4 f32 (128 bytes) but the data section holds 64.
    let header = r#"{"model.embed_tokens.weight":{"dtype":"F32","shape":[8,4],"data_offsets":[0,128]}}"#;
    let dir = dir_with(&[("config.json", CONFIG.into()), ("model.safetensors", safetensors_bytes(header, 64))]);
    let msg = message(load(dir.path()).unwrap_err());
    assert!(msg.contains("model.safetensors"), "{msg}");
    assert!(msg.contains("do not add up"), "{msg}");
}

#[test]
fn shape_and_byte_range_disagreeing_is_rejected() {
    let header = r#"{"model.embed_tokens.weight":{"dtype":"F32","shape":[8,4],"data_offsets":[0,64]}}"#;
    let dir = dir_with(&[("config.json", CONFIG.into()), ("model.safetensors", safetensors_bytes(header, 64))]);
    let msg = message(load(dir.path()).unwrap_err());
    assert!(msg.contains("model.safetensors") && msg.contains("does not match its shape"), "{msg}");
}

#[test]
fn header_length_past_the_end_is_truncation() {
    let mut bytes = (1u64 << 40).to_le_bytes().to_vec();
    bytes.extend_from_slice(b"{}");
    let dir = dir_with(&[("config.json", CONFIG.into()), ("model.safetensors", bytes)]);
    let msg = message(load(dir.path()).unwrap_err());
    assert!(msg.contains("model.safetensors"), "{msg}");
}

#[test]
fn unsupported_dtype_names_the_tensor() {
    let header = r#"{"model.embed_tokens.weight":{"dtype":"I64","shape":[8,4],"data_offsets":[0,256]}}"#;
    let dir = dir_with(&[("config.json", CONFIG.into()), ("model.safetensors", safetensors_bytes(header, 256))]);
    let msg = message(load(dir.path()).unwrap_err());
    assert!(msg.contains("model.embed_tokens.weight") && msg.contains("dtype I64"), "{msg}");
}

/// GPT-2's `config.json` as its Hugging Face repository has it: none of Llama's field names.
const GPT2_CONFIG: &str = r#"{
  "activation_function": "gelu_new",
  "architectures": ["GPT2LMHeadModel"],
  "attn_pdrop": 0.1,
  "bos_token_id": 50256,
  "embd_pdrop": 0.1,
  "eos_token_id": 50256,
  "initializer_range": 0.02,
  "layer_norm_epsilon": 1e-05,
  "model_type": "gpt2",
  "n_ctx": 1024,
  "n_embd": 768,
  "n_head": 12,
  "n_layer": 12,
  "n_positions": 1024,
  "vocab_size": 50257
}"#;

#[test]
fn another_architecture_is_named_before_its_missing_fields() {
    let expected = "model_type 'gpt2' is not supported; neuronav reads Llama-architecture models";
    for config in [GPT2_CONFIG.to_string(), CONFIG.replace("\"llama\"", "\"gpt2\"")] {
        let dir = dir_with(&[("config.json", config.into_bytes())]);
        let msg = message(load(dir.path()).unwrap_err());
        assert!(msg.contains("config.json") && msg.contains(expected), "{msg}");
        assert!(!msg.contains("missing field"), "{msg}");
    }
}

#[test]
fn missing_weights_and_missing_directory_are_clear() {
    let dir = dir_with(&[("config.json", CONFIG.into())]);
    let msg = message(load(dir.path()).unwrap_err());
    assert!(msg.contains("no model.safetensors"), "{msg}");
    let msg = message(load(&dir.path().join("nowhere")).unwrap_err());
    assert!(msg.contains("nowhere") && msg.contains("no such file"), "{msg}");
}

#[test]
fn missing_tokenizer_is_named() {
    let src = common::fixture("tiny-llama");
    let dir = tempfile::tempdir().unwrap();
    for name in ["config.json", "model.safetensors"] {
        std::fs::copy(src.join(name), dir.path().join(name)).unwrap();
    }
    let msg = message(load(dir.path()).unwrap_err());
    assert!(msg.contains("tokenizer.json"), "{msg}");
}
