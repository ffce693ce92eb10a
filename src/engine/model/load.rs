//! Host tensors from a checkpoint to a [`Llama`] on a burn device.
use burn::prelude::*;
use burn::tensor::DType;

use super::block::Block;
use super::linear::Linear;
use super::packed::PackedRows;
use super::rope::Rope;
use super::{EngineBackend, Llama};
use crate::engine::error::{EngineError, Result};
use crate::engine::weights::checkpoint::{Checkpoint, Weight};
use crate::engine::weights::gguf::GgmlType;
use crate::engine::weights::{HostData, HostTensor};

/// The element type weights and activations use on the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum WeightDType {
    #[default]
    F32,
    F16,
    BF16,
}

impl WeightDType {
    pub fn burn(self) -> DType {
        match self {
            WeightDType::F32 => DType::F32,
            WeightDType::F16 => DType::F16,
            WeightDType::BF16 => DType::BF16,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            WeightDType::F32 => "f32",
            WeightDType::F16 => "f16",
            WeightDType::BF16 => "bf16",
        }
    }
}

impl<B: EngineBackend> Llama<B> {
    /// Loads every weight of `checkpoint`, checking each shape against its configuration.
    /// `progress(done, total)` is called after each tensor.
    pub fn load(
        checkpoint: &Checkpoint,
        config: &crate::engine::config::ModelConfig,
        device: &B::Device,
        dtype: WeightDType,
        progress: &dyn Fn(usize, usize),
    ) -> Result<Self> {
        let dt = dtype.burn();
        let total = 3 + 9 * config.num_layers;
        let done = std::cell::Cell::new(0);
        let fetch = |w: Weight| -> Result<HostTensor> {
            let t = checkpoint.load(w, config)?;
            done.set(done.get() + 1);
            progress(done.get(), total);
            Ok(t)
        };
        let linear = |w: Weight, t: HostTensor| -> Result<Linear<B>> {
            let packed = if B::READS_PACKED { packed(checkpoint, w)? } else { None };
            Ok(Linear { weight: to_device(t, device, dt), packed })
        };
        let mut value_norms = Vec::with_capacity(config.num_layers);
        let mut blocks = Vec::with_capacity(config.num_layers);
        for l in 0..config.num_layers {
            let down = fetch(Weight::DownProj(l))?;
            value_norms.push(column_norms(&down));
            blocks.push(Block {
                attn_norm: to_device(fetch(Weight::AttnNorm(l))?, device, dt),
                q_proj: linear(Weight::QProj(l), fetch(Weight::QProj(l))?)?,
                k_proj: linear(Weight::KProj(l), fetch(Weight::KProj(l))?)?,
                v_proj: linear(Weight::VProj(l), fetch(Weight::VProj(l))?)?,
                o_proj: linear(Weight::OProj(l), fetch(Weight::OProj(l))?)?,
                ffn_norm: to_device(fetch(Weight::FfnNorm(l))?, device, dt),
                gate_proj: linear(Weight::GateProj(l), fetch(Weight::GateProj(l))?)?,
                up_proj: linear(Weight::UpProj(l), fetch(Weight::UpProj(l))?)?,
                down_proj: linear(Weight::DownProj(l), down)?,
            });
        }
        let embed: Tensor<B, 2> = to_device(fetch(Weight::Embed)?, device, dt);
        let final_norm = to_device(fetch(Weight::FinalNorm)?, device, dt);
        let lm_head = if config.tie_word_embeddings {
            done.set(done.get() + 1);
            let packed = if B::READS_PACKED { packed(checkpoint, Weight::Embed)? } else { None };
            Linear { weight: embed.clone(), packed }
        } else {
            linear(Weight::LmHead, fetch(Weight::LmHead)?)?
        };
        Ok(Llama {
            config: config.clone(),
            device: device.clone(),
            dtype: dt,
            embed,
            blocks,
            final_norm,
            lm_head,
            rope: Rope::new(config, device, dt),
            value_norms,
        })
    }
}

/// A GGUF matrix's quantized blocks, when it is stored in a format `PackedRows` reads.
fn packed(checkpoint: &Checkpoint, weight: Weight) -> Result<Option<PackedRows>> {
    let Checkpoint::Gguf(g) = checkpoint else { return Ok(None) };
    let name = weight.gguf_name();
    let Some(info) = g.tensor_info(&name) else { return Ok(None) };
    let format = match info.ty {
        GgmlType::Q4_0 | GgmlType::Q4_1 | GgmlType::Q8_0 => info.ty,
        _ => return Ok(None),
    };
    let [rows, cols] = info.shape[..] else { return Ok(None) };
    let bytes = g.tensor_bytes(&name)?.to_vec();
    PackedRows::new(format, rows, cols, bytes)
        .map(Some)
        .map_err(|problem| EngineError::bad_file(&g.path, format!("tensor '{name}': {problem}")))
}

fn to_device<B: Backend, const D: usize>(t: HostTensor, device: &B::Device, dtype: DType) -> Tensor<B, D> {
    let shape = t.shape.clone();
    let data = match t.data {
        HostData::F32(v) => TensorData::new(v, shape),
        HostData::F16(v) => TensorData::new(v, shape),
        HostData::BF16(v) => TensorData::new(v, shape),
    };
    Tensor::from_data(data, (device, dtype))
}

/// L2 norm of every column of a `[rows, cols]` matrix, accumulated in f64.
fn column_norms(t: &HostTensor) -> Vec<f32> {
    let cols = t.shape[1];
    let values = t.to_f32();
    let mut sums = vec![0f64; cols];
    for row in values.chunks_exact(cols) {
        for (s, &x) in sums.iter_mut().zip(row) {
            *s += (x as f64) * (x as f64);
        }
    }
    sums.into_iter().map(|s| s.sqrt() as f32).collect()
}

impl<B: EngineBackend> Llama<B> {
    /// A model of `config`'s shapes with random weights, made on the device: for benchmarks of
    /// real model sizes without their files. Linear weights are N(0, 1/in_features), gains 1.
    pub fn random(
        config: &crate::engine::config::ModelConfig,
        device: &B::Device,
        dtype: WeightDType,
        seed: u64,
    ) -> Self {
        use burn::tensor::Distribution;
        B::seed(device, seed);
        let dt = dtype.burn();
        let linear = |out: usize, inp: usize| {
            Tensor::<B, 2>::random([out, inp], Distribution::Normal(0.0, (1.0 / inp as f64).sqrt()), device).cast(dt)
        };
        let ones = |n: usize| Tensor::<B, 1>::ones([n], (device, dt));
        let (d, ff) = (config.hidden_size, config.intermediate_size);
        let (q, kv) = (config.num_heads * config.head_dim, config.num_kv_heads * config.head_dim);
        let mut value_norms = Vec::with_capacity(config.num_layers);
        let blocks = (0..config.num_layers)
            .map(|_| {
                let down_proj = linear(d, ff);
                let norms = down_proj.clone().cast(DType::F32).square().sum_dim(0).sqrt();
                value_norms.push(norms.into_data().convert::<f32>().into_vec::<f32>().expect("f32"));
                Block {
                    attn_norm: ones(d),
                    q_proj: Linear::dense(linear(q, d)),
                    k_proj: Linear::dense(linear(kv, d)),
                    v_proj: Linear::dense(linear(kv, d)),
                    o_proj: Linear::dense(linear(d, q)),
                    ffn_norm: ones(d),
                    gate_proj: Linear::dense(linear(ff, d)),
                    up_proj: Linear::dense(linear(ff, d)),
                    down_proj: Linear::dense(down_proj),
                }
            })
            .collect();
        let embed = Tensor::<B, 2>::random([config.vocab_size, d], Distribution::Normal(0.0, 1.0), device).cast(dt);
        let lm_head =
            Linear::dense(if config.tie_word_embeddings { embed.clone() } else { linear(config.vocab_size, d) });
        Llama {
            config: config.clone(),
            device: device.clone(),
            dtype: dt,
            embed,
            blocks,
            final_norm: ones(d),
            lm_head,
            rope: Rope::new(config, device, dt),
            value_norms,
        }
    }
}
