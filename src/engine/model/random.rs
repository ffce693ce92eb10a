//! A model of a configuration's shapes with random weights, made where the backend keeps its
//! weights: for benchmarks of real model sizes without their files.
use burn::prelude::*;
use burn::tensor::{DType, Distribution};
use half::{bf16, f16};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::Normal;
use rayon::prelude::*;

use super::block::Block;
use super::compute::ComputePath;
use super::host_reads;
use super::load::WeightDType;
use super::matrix::{to_host, Matrix};
use super::packed::PackedRows;
use super::rope::Rope;
use super::{EngineBackend, Llama};
use crate::engine::config::ModelConfig;
use crate::engine::weights::gguf::GgmlType;

/// Rows of a host matrix drawn by one task, each task from its own stream of the generator, so
/// that the values do not depend on the number of threads.
const ROWS_PER_TASK: usize = 64;

impl<B: EngineBackend> Llama<B> {
    /// Linear weights N(0, 1/in_features), the embedding N(0, 1), gains 1; in `dtype` (on the
    /// CPU, host matrices of that encoding).
    pub fn random(config: &ModelConfig, device: &B::Device, dtype: WeightDType, seed: u64) -> Self {
        B::seed(device, seed);
        let dt = dtype.burn();
        let mut made = 0;
        let mut matrix = |rows: usize, cols: usize, std: f64| {
            made += 1;
            if B::ON_HOST {
                // Float weights: products are exact on either path.
                Matrix::Host(random_host(rows, cols, std, dtype, seed, made), ComputePath::Exact)
            } else {
                Matrix::Dense(Tensor::<B, 2>::random([rows, cols], Distribution::Normal(0.0, std), device).cast(dt))
            }
        };
        // N(0, 1/in_features) for a matrix `[out, in]`.
        let scale = |inp: usize| (1.0 / inp as f64).sqrt();
        let ones = |n: usize| Tensor::<B, 1>::ones([n], (device, dt));
        let (d, ff) = (config.hidden_size, config.intermediate_size);
        let (q, kv) = (config.num_heads * config.head_dim, config.num_kv_heads * config.head_dim);
        let mut value_norms = Vec::with_capacity(config.num_layers);
        let mut blocks = Vec::with_capacity(config.num_layers);
        for _ in 0..config.num_layers {
            let block = Block {
                attn_norm: ones(d),
                q_proj: matrix(q, d, scale(d)),
                k_proj: matrix(kv, d, scale(d)),
                v_proj: matrix(kv, d, scale(d)),
                o_proj: matrix(d, q, scale(q)),
                ffn_norm: ones(d),
                gate_proj: matrix(ff, d, scale(d)),
                up_proj: matrix(ff, d, scale(d)),
                down_proj: matrix(d, ff, scale(ff)),
            };
            value_norms.push(match &block.down_proj {
                Matrix::Host(w, _) => w.column_norms(),
                Matrix::Dense(w) => to_host(w.clone().cast(DType::F32).square().sum_dim(0).sqrt()),
            });
            blocks.push(block);
        }
        let embed = matrix(config.vocab_size, d, 1.0);
        let lm_head = (!config.tie_word_embeddings).then(|| matrix(config.vocab_size, d, scale(d)));
        let unembed_mean = match lm_head.as_ref().unwrap_or(&embed) {
            Matrix::Host(w, _) => host_reads::mean_row(w),
            Matrix::Dense(w) => to_host(w.clone().cast(DType::F32).mean_dim(0)),
        };
        Llama {
            config: config.clone(),
            device: device.clone(),
            dtype: dt,
            embed,
            blocks,
            final_norm: ones(d),
            lm_head,
            unembed_mean,
            rope: Rope::new(config, device, dt),
            value_norms,
            files: Vec::new(),
        }
    }
}

/// A `[rows, cols]` host matrix of N(0, std) values in `dtype`'s encoding, drawn from stream
/// `matrix` of the generator seeded with `seed`.
fn random_host(rows: usize, cols: usize, std: f64, dtype: WeightDType, seed: u64, matrix: u64) -> PackedRows {
    let (format, size) = match dtype {
        WeightDType::F32 => (GgmlType::F32, 4),
        WeightDType::F16 => (GgmlType::F16, 2),
        WeightDType::BF16 => (GgmlType::BF16, 2),
    };
    let normal = Normal::new(0.0, std as f32).expect("a finite, positive standard deviation");
    let mut bytes = vec![0u8; rows * cols * size];
    bytes.par_chunks_mut(ROWS_PER_TASK * cols * size).enumerate().for_each(|(task, chunk)| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream((matrix << 32) | task as u64);
        for value in chunk.chunks_exact_mut(size) {
            let x: f32 = rng.sample(normal);
            match dtype {
                WeightDType::F32 => value.copy_from_slice(&x.to_le_bytes()),
                WeightDType::F16 => value.copy_from_slice(&f16::from_f32(x).to_le_bytes()),
                WeightDType::BF16 => value.copy_from_slice(&bf16::from_f32(x).to_le_bytes()),
            }
        }
    });
    PackedRows::new(format, rows, cols, bytes).expect("sizes made to fit")
}
