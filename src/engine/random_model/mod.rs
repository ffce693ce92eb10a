//! GGUF files of random Llama models: every tensor name, shape and metadata key neuronav's reader
//! and llama.cpp expect, random weights quantized in a llama.cpp weight scheme, and a Llama-2-like
//! SentencePiece vocabulary, so that benchmarks exercise the real loading path (memory mapping,
//! dequantization, the tokenizer built from metadata) on a model nobody here can download.
//!
//! Weights are drawn per row from their own ChaCha8 stream, keyed by the seed, the weight and the
//! row, so a file is the same whatever the number of threads and a test can regenerate any
//! tensor: linear weights N(0, 1/in_features), the embedding N(0, 1), norm gains 1. They are
//! generated, quantized and written a bounded number of rows at a time, so memory stays small
//! whatever the model's size. GGUF files of the llama architecture store Q/K rows permuted for
//! interleaved RoPE; i.i.d. random rows are as random in either order, so none is permuted.
mod scheme;
mod vocab;

use std::path::{Path, PathBuf};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;

pub use scheme::WeightScheme;
pub use vocab::Vocabulary;

use super::config::ModelConfig;
use super::error::{EngineError, Result};
use super::weights::checkpoint::Weight;
use super::weights::gguf::{GgufFile, MetaValue};
use super::weights::gguf_writer::{GgufWriter, TensorEntry};
use super::weights::quantize::{quantize, quantized_len};

/// Changes whenever the same settings would write different bytes, so cached files of an
/// older generator are rewritten rather than reused.
const GENERATOR_VERSION: u32 = 1;
const VERSION_KEY: &str = "neuronav.random.version";
/// Values generated and quantized at a time (16 MiB of f32).
const CHUNK_ELEMENTS: usize = 4 << 20;

/// A random model: shapes, weight scheme, seed, and the name files and metadata carry.
#[derive(Debug, Clone, PartialEq)]
pub struct RandomModel {
    pub config: ModelConfig,
    pub scheme: WeightScheme,
    pub seed: u64,
    /// A short name for the shapes, e.g. `llama2-7b`.
    pub name: String,
}

/// One tensor of the file: the weight it holds and how it is stored.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedTensor {
    pub weight: Weight,
    pub entry: TensorEntry,
}

impl RandomModel {
    /// `<name>-<scheme>-seed<seed>.gguf`.
    pub fn file_name(&self) -> String {
        format!("{}-{}-seed{}.gguf", self.name, self.scheme.name(), self.seed)
    }

    /// `general.name` of the file.
    pub fn display_name(&self) -> String {
        format!("random {} {} seed {}", self.name, self.scheme.name(), self.seed)
    }

    /// The tensors in file order: the embedding, each layer's norms and matrices, the final norm
    /// and (unless tied) the output matrix.
    pub fn plan(&self) -> Vec<PlannedTensor> {
        let c = &self.config;
        Weight::all(c)
            .into_iter()
            .map(|weight| {
                let entry =
                    TensorEntry::new(weight.gguf_name(), weight.expected_shape(c), self.scheme.tensor_type(weight, c));
                PlannedTensor { weight, entry }
            })
            .collect()
    }

    /// The metadata llama.cpp's llama loader and neuronav's reader use, and the vocabulary.
    pub fn metadata(&self) -> std::result::Result<Vec<(String, MetaValue)>, String> {
        let c = &self.config;
        let vocab = Vocabulary::llama_like(c.vocab_size)?;
        let u32_of = |what: &str, n: usize| u32::try_from(n).map_err(|_| format!("{what} {n} does not fit a u32"));
        let mut kvs = vec![
            ("general.architecture", MetaValue::String("llama".into())),
            ("general.name", MetaValue::String(self.display_name())),
            ("general.file_type", MetaValue::U32(self.scheme.file_type())),
            (VERSION_KEY, MetaValue::U32(GENERATOR_VERSION)),
            ("llama.vocab_size", MetaValue::U32(u32_of("vocabulary size", c.vocab_size)?)),
            ("llama.context_length", MetaValue::U32(u32_of("context length", c.context_length)?)),
            ("llama.embedding_length", MetaValue::U32(u32_of("hidden size", c.hidden_size)?)),
            ("llama.block_count", MetaValue::U32(u32_of("layer count", c.num_layers)?)),
            ("llama.feed_forward_length", MetaValue::U32(u32_of("intermediate size", c.intermediate_size)?)),
            ("llama.rope.dimension_count", MetaValue::U32(u32_of("head dimension", c.head_dim)?)),
            ("llama.attention.head_count", MetaValue::U32(u32_of("head count", c.num_heads)?)),
            ("llama.attention.head_count_kv", MetaValue::U32(u32_of("key/value head count", c.num_kv_heads)?)),
            ("llama.attention.layer_norm_rms_epsilon", MetaValue::F32(c.rms_norm_eps)),
            ("llama.rope.freq_base", MetaValue::F32(c.rope_theta)),
        ];
        // llama.cpp takes a head's size as embedding_length / head_count unless told otherwise.
        if c.num_heads * c.head_dim != c.hidden_size {
            kvs.push(("llama.attention.key_length", MetaValue::U32(u32_of("head dimension", c.head_dim)?)));
            kvs.push(("llama.attention.value_length", MetaValue::U32(u32_of("head dimension", c.head_dim)?)));
        }
        if self.scheme.is_quantized() {
            kvs.push(("general.quantization_version", MetaValue::U32(2)));
        }
        let strings = |v: Vec<String>| MetaValue::Array(v.into_iter().map(MetaValue::String).collect());
        kvs.extend([
            ("tokenizer.ggml.model", MetaValue::String("llama".into())),
            ("tokenizer.ggml.tokens", strings(vocab.tokens)),
            ("tokenizer.ggml.scores", MetaValue::Array(vocab.scores.into_iter().map(MetaValue::F32).collect())),
            ("tokenizer.ggml.token_type", MetaValue::Array(vocab.types.into_iter().map(MetaValue::I32).collect())),
            ("tokenizer.ggml.bos_token_id", MetaValue::U32(vocab::BOS_ID)),
            ("tokenizer.ggml.eos_token_id", MetaValue::U32(vocab::EOS_ID)),
            ("tokenizer.ggml.unknown_token_id", MetaValue::U32(vocab::UNK_ID)),
            ("tokenizer.ggml.add_bos_token", MetaValue::Bool(true)),
            ("tokenizer.ggml.add_eos_token", MetaValue::Bool(false)),
        ]);
        Ok(kvs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    }

    /// Writes the model to `path` (atomically: see [`GgufWriter`]). `progress(done, total)`
    /// counts bytes of tensor data.
    pub fn write(&self, path: &Path, progress: &dyn Fn(u64, u64)) -> Result<()> {
        let invalid = |problem: String| EngineError::Write { path: path.to_path_buf(), problem };
        self.config.validate(path)?;
        let metadata = self.metadata().map_err(invalid)?;
        let plan = self.plan();
        let entries: Vec<TensorEntry> = plan.iter().map(|t| t.entry.clone()).collect();
        let total = entries.iter().map(|e| e.n_bytes().map(|n| n as u64)).sum::<std::result::Result<u64, _>>();
        let total = total.map_err(invalid)?;
        let mut writer = GgufWriter::create(path, &metadata, &entries)?;
        let mut done = 0u64;
        let mut values = Vec::new();
        let mut bytes = Vec::new();
        for PlannedTensor { weight, entry } in &plan {
            let (rows, cols) = rows_and_cols(&entry.shape);
            // `create` has checked that no dimension is zero.
            let rows_per_chunk = (CHUNK_ELEMENTS / cols).max(1);
            for first in (0..rows).step_by(rows_per_chunk) {
                let n = rows_per_chunk.min(rows - first) * cols;
                values.resize(n, 0.0);
                self.fill_rows(*weight, first, cols, &mut values);
                bytes.resize(quantized_len(entry.ty, n).unwrap_or(0), 0);
                quantize(entry.ty, &values, &mut bytes)
                    .map_err(|e| invalid(format!("tensor '{}': {e}", entry.name)))?;
                writer.write_data(&bytes)?;
                done += bytes.len() as u64;
                progress(done, total);
            }
        }
        writer.finish()?;
        Ok(())
    }

    /// The values of `weight` before quantization, in PyTorch order: what the file's blocks
    /// encode.
    pub fn values(&self, weight: Weight) -> Vec<f32> {
        let shape = weight.expected_shape(&self.config);
        let (rows, cols) = rows_and_cols(&shape);
        let mut out = vec![0.0; rows * cols];
        self.fill_rows(weight, 0, cols, &mut out);
        out
    }

    /// Rows `first..` of `weight` into `out` (whole rows of `cols` values), in parallel.
    fn fill_rows(&self, weight: Weight, first: usize, cols: usize, out: &mut [f32]) {
        let std = match weight {
            Weight::AttnNorm(_) | Weight::FfnNorm(_) | Weight::FinalNorm => {
                out.fill(1.0);
                return;
            }
            Weight::Embed => 1.0,
            _ => 1.0 / (cols as f32).sqrt(),
        };
        let stream = stream_id(weight);
        out.par_chunks_mut(cols).enumerate().for_each(|(i, row)| {
            let mut key = [0u8; 32];
            key[..8].copy_from_slice(&self.seed.to_le_bytes());
            key[8..16].copy_from_slice(&stream.to_le_bytes());
            key[16..24].copy_from_slice(&((first + i) as u64).to_le_bytes());
            let mut rng = ChaCha8Rng::from_seed(key);
            for v in row {
                let z: f32 = StandardNormal.sample(&mut rng);
                *v = z * std;
            }
        });
    }

    /// Why `gguf` is not this model's file, if it is not: another name or generator version, or
    /// another tensor table.
    pub fn check(&self, gguf: &GgufFile) -> std::result::Result<(), String> {
        let name = gguf.meta("general.name").and_then(MetaValue::as_str);
        if name != Some(self.display_name().as_str()) {
            return Err(format!("general.name is {name:?}, not {:?}", self.display_name()));
        }
        let version = gguf.meta(VERSION_KEY).and_then(MetaValue::as_u64);
        if version != Some(u64::from(GENERATOR_VERSION)) {
            return Err(format!("written by random model generator {version:?}, not {GENERATOR_VERSION}"));
        }
        let plan = self.plan();
        if gguf.tensors().len() != plan.len() {
            return Err(format!("{} tensors, expected {}", gguf.tensors().len(), plan.len()));
        }
        for (info, planned) in gguf.tensors().iter().zip(&plan) {
            let e = &planned.entry;
            if (&info.name, &info.shape, info.ty) != (&e.name, &e.shape, e.ty) {
                return Err(format!(
                    "tensor '{}' {:?} {} where '{}' {:?} {} was expected",
                    info.name, info.shape, info.ty, e.name, e.shape, e.ty
                ));
            }
        }
        Ok(())
    }

    /// The model's file in `dir`: reused when a valid file of this model is there, else written.
    /// Returns the path and whether it was written now.
    pub fn ensure(&self, dir: &Path, progress: &dyn Fn(u64, u64)) -> Result<(PathBuf, bool)> {
        let path = dir.join(self.file_name());
        if path.is_file() && GgufFile::open(&path).is_ok_and(|gguf| self.check(&gguf).is_ok()) {
            return Ok((path, false));
        }
        self.write(&path, progress)?;
        Ok((path, true))
    }
}

/// A tensor as rows: `[rows, cols]` matrices as they are, a vector as one row.
fn rows_and_cols(shape: &[usize]) -> (usize, usize) {
    match *shape {
        [rows, cols] => (rows, cols),
        _ => (1, shape.iter().product()),
    }
}

/// A number per weight, unique within a model, keying its random stream.
fn stream_id(weight: Weight) -> u64 {
    let layer = |l: usize, k: usize| 3 + (l * 9 + k) as u64;
    match weight {
        Weight::Embed => 0,
        Weight::FinalNorm => 1,
        Weight::LmHead => 2,
        Weight::AttnNorm(l) => layer(l, 0),
        Weight::QProj(l) => layer(l, 1),
        Weight::KProj(l) => layer(l, 2),
        Weight::VProj(l) => layer(l, 3),
        Weight::OProj(l) => layer(l, 4),
        Weight::FfnNorm(l) => layer(l, 5),
        Weight::GateProj(l) => layer(l, 6),
        Weight::UpProj(l) => layer(l, 7),
        Weight::DownProj(l) => layer(l, 8),
    }
}

#[cfg(test)]
mod tests;
