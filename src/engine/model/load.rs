//! A checkpoint's weights to a [`Llama`]: on the CPU every matrix stays in the file's memory map
//! in its own encoding; on a GPU each is decoded and placed on the device.
use std::cell::Cell;
use std::path::Path;

use burn::prelude::*;
use burn::tensor::DType;

use super::block::Block;
use super::compute::ComputePath;
use super::host_reads;
use super::matrix::Matrix;
use super::packed::{PackedRows, SharedBytes, Storage};
use super::rope::Rope;
use super::{EngineBackend, Llama};
use crate::engine::config::ModelConfig;
use crate::engine::error::{EngineError, Result};
use crate::engine::weights::checkpoint::{Checkpoint, Weight};
use crate::engine::weights::{HostData, HostTensor, StoredTensor};

/// The element type of activations between operations, and of the weights on a GPU (see
/// docs/architecture.md, "What --dtype means").
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

/// One load in progress: where the weights come from and go, and how far it has got.
struct Loading<'a, B: EngineBackend> {
    checkpoint: &'a Checkpoint,
    config: &'a ModelConfig,
    device: &'a B::Device,
    dtype: DType,
    /// How host matrices multiply.
    compute: ComputePath,
    progress: &'a dyn Fn(usize, usize),
    done: Cell<usize>,
    total: usize,
}

impl<B: EngineBackend> Loading<'_, B> {
    fn tick(&self) {
        self.done.set(self.done.get() + 1);
        (self.progress)(self.done.get(), self.total);
    }

    /// A norm's gain, on the device in the model's element type.
    fn vector(&self, w: Weight) -> Result<Tensor<B, 1>> {
        let t = self.checkpoint.load(w, self.config)?;
        self.tick();
        Ok(to_device(t, self.device, self.dtype))
    }

    /// A matrix where the backend keeps it, with `host` (column norms, the mean row) computed
    /// from its values on the way.
    fn matrix<T>(
        &self,
        w: Weight,
        host: impl FnOnce(&PackedRows) -> T,
        dense: impl FnOnce(&HostTensor) -> T,
    ) -> Result<(Matrix<B>, T)> {
        let loaded = if B::ON_HOST {
            let stored = self.checkpoint.stored(w, self.config)?;
            let matrix = host_matrix(stored, &self.checkpoint.tensor_name(w), self.checkpoint.path())?;
            let read = host(&matrix);
            (Matrix::Host(matrix, self.compute), read)
        } else {
            let t = self.checkpoint.load(w, self.config)?;
            let read = dense(&t);
            (Matrix::Dense(to_device(t, self.device, self.dtype)), read)
        };
        self.tick();
        Ok(loaded)
    }

    fn linear(&self, w: Weight) -> Result<Matrix<B>> {
        Ok(self.matrix(w, |_| (), |_| ())?.0)
    }
}

impl<B: EngineBackend> Llama<B> {
    /// Loads every weight of `checkpoint`, checking each shape against its configuration; host
    /// matrices multiply on `compute`'s path. `progress(done, total)` is called after each tensor.
    pub fn load(
        checkpoint: &Checkpoint,
        config: &ModelConfig,
        device: &B::Device,
        dtype: WeightDType,
        compute: ComputePath,
        progress: &dyn Fn(usize, usize),
    ) -> Result<Self> {
        let dt = dtype.burn();
        let total = Weight::all(config).len();
        let done = Cell::new(0);
        let loading = Loading::<B> { checkpoint, config, device, dtype: dt, compute, progress, done, total };
        let mut value_norms = Vec::with_capacity(config.num_layers);
        let mut blocks = Vec::with_capacity(config.num_layers);
        for l in 0..config.num_layers {
            let (down_proj, norms) = loading.matrix(Weight::DownProj(l), PackedRows::column_norms, column_norms)?;
            value_norms.push(norms);
            blocks.push(Block {
                attn_norm: loading.vector(Weight::AttnNorm(l))?,
                q_proj: loading.linear(Weight::QProj(l))?,
                k_proj: loading.linear(Weight::KProj(l))?,
                v_proj: loading.linear(Weight::VProj(l))?,
                o_proj: loading.linear(Weight::OProj(l))?,
                ffn_norm: loading.vector(Weight::FfnNorm(l))?,
                gate_proj: loading.linear(Weight::GateProj(l))?,
                up_proj: loading.linear(Weight::UpProj(l))?,
                down_proj,
            });
        }
        let final_norm = loading.vector(Weight::FinalNorm)?;
        let (embed, lm_head, unembed_mean) = if config.tie_word_embeddings {
            let (embed, mean) = loading.matrix(Weight::Embed, host_reads::mean_row, mean_row)?;
            (embed, None, mean)
        } else {
            let embed = loading.linear(Weight::Embed)?;
            let (lm_head, mean) = loading.matrix(Weight::LmHead, host_reads::mean_row, mean_row)?;
            (embed, Some(lm_head), mean)
        };
        Ok(Llama {
            config: config.clone(),
            device: device.clone(),
            dtype: dt,
            embed,
            blocks,
            final_norm,
            lm_head,
            unembed_mean,
            rope: Rope::new(config, device, dt),
            value_norms,
            files: if B::ON_HOST { checkpoint.files() } else { Vec::new() },
        })
    }
}

/// A stored matrix read in place, borrowing the file's memory map.
fn host_matrix(stored: StoredTensor, name: &str, file: &Path) -> Result<PackedRows> {
    let bad = |problem: String| EngineError::bad_file(file, format!("tensor '{name}': {problem}"));
    let [rows, cols] = stored.shape[..] else { return Err(bad(format!("shape {:?} is not a matrix", stored.shape))) };
    let source: SharedBytes = stored.map;
    let storage = Storage::shared(source, stored.range.start, stored.range.len())
        .ok_or_else(|| bad("its bytes lie outside the file".into()))?;
    PackedRows::new(stored.format, rows, cols, storage).map_err(bad)
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

/// The mean row of a `[rows, cols]` matrix, accumulated in f64.
fn mean_row(t: &HostTensor) -> Vec<f32> {
    let (rows, cols) = (t.shape[0], t.shape[1]);
    let values = t.to_f32();
    let mut sums = vec![0f64; cols];
    for row in values.chunks_exact(cols) {
        sums.iter_mut().zip(row).for_each(|(s, &x)| *s += f64::from(x));
    }
    sums.into_iter().map(|s| (s / rows as f64) as f32).collect()
}
