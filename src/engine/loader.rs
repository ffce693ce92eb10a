//! Opening a model: checkpoint, tokenizer and weights on the chosen device.
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use burn::backend::Flex;

use super::config::ModelConfig;
use super::error::{EngineError, Result};
use super::fingerprint;
use super::memory;
use super::model::{ComputeChoice, ComputePath, Llama, WeightDType};
use super::runtime::Model;
use super::tokenizer::Tokenizer;
use super::weights::checkpoint::{Checkpoint, Weight};

/// Where the model runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum DeviceChoice {
    /// CUDA when built in and a GPU answers, else the CPU.
    #[default]
    Auto,
    Cpu,
    Cuda,
    /// burn's wgpu backend: Vulkan, Metal or DX12 (Apple Silicon, AMD and Intel GPUs). Only when
    /// asked for, never by `Auto`.
    Wgpu,
}

/// A model ready to run.
pub struct LoadedModel {
    pub model: Arc<dyn Model>,
    pub tokenizer: Arc<Tokenizer>,
    pub config: ModelConfig,
    pub path: PathBuf,
    /// Model file name (or directory name), for display.
    pub name: String,
    /// Identity of the weights (see [`fingerprint`]), keying caches and labels.
    pub fingerprint: String,
    /// Wall time from opening the files to a usable model.
    pub load_time: Duration,
    /// Why `Auto` fell back to the CPU, when it did.
    pub note: Option<String>,
}

/// Opens `path` (a Hugging Face directory or a GGUF file) on `device`, on the compute path
/// `auto` chooses for its size.
pub fn load(
    path: &Path,
    device: DeviceChoice,
    dtype: WeightDType,
    progress: &dyn Fn(usize, usize),
) -> Result<LoadedModel> {
    load_with(path, device, dtype, ComputeChoice::Auto, progress)
}

/// [`load`] on the compute path `compute` chooses.
pub fn load_with(
    path: &Path,
    device: DeviceChoice,
    dtype: WeightDType,
    compute: ComputeChoice,
    progress: &dyn Fn(usize, usize),
) -> Result<LoadedModel> {
    let started = Instant::now();
    let (checkpoint, config, tokenizer) = open(path)?;
    let compute = compute.resolve(&config);
    let (model, note) = match device {
        DeviceChoice::Cpu => (load_cpu(&checkpoint, &config, dtype, compute, progress)?, None),
        DeviceChoice::Cuda => (cuda::load(&checkpoint, &config, dtype, progress)?, None),
        DeviceChoice::Wgpu => (wgpu::load(&checkpoint, &config, dtype, progress)?, None),
        DeviceChoice::Auto => match cuda::available() {
            Ok(()) => (cuda::load(&checkpoint, &config, dtype, progress)?, None),
            Err(why) => (load_cpu(&checkpoint, &config, dtype, compute, progress)?, why.map(fallback_note)),
        },
    };
    let name = path.file_name().unwrap_or(path.as_os_str()).to_string_lossy().into_owned();
    let fingerprint = fingerprint::fingerprint(path)?;
    Ok(LoadedModel {
        model,
        tokenizer: Arc::new(tokenizer),
        config,
        path: path.to_path_buf(),
        name,
        fingerprint,
        load_time: started.elapsed(),
        note,
    })
}

/// Opens a model's files and tokenizer without loading its weights.
///
/// The returned configuration's `vocab_size` is the tokenizer's. Files often round the
/// embedding up (to a multiple of 64 or 128, or for tokens added later); rows past the
/// tokenizer's ids are padding, not tokens, and are never read: the embedding and unembedding
/// are cut to the tokenizer's rows, so that no logit, sampled token, next-token list, lens or
/// promoted token can name an id that has no text. This is the same as masking the padding's
/// logits to −inf, without computing them. A tokenizer with more tokens than the embedding has
/// rows is an error: those tokens would have no embedding.
pub fn open(path: &Path) -> Result<(Checkpoint, ModelConfig, Tokenizer)> {
    let (checkpoint, mut config) = Checkpoint::open(path)?;
    let tokenizer = match &checkpoint {
        Checkpoint::Hf { dir, .. } => Tokenizer::from_hf_dir(dir)?,
        Checkpoint::Gguf(g) => Tokenizer::from_gguf(g)?,
    };
    if tokenizer.vocab_size() == 0 {
        return Err(EngineError::bad_file(path, "the tokenizer has no tokens"));
    }
    if tokenizer.vocab_size() > config.vocab_size {
        return Err(EngineError::bad_file(
            path,
            format!(
                "the tokenizer has {} tokens but the embedding only {} rows: tokens past {} have no embedding",
                tokenizer.vocab_size(),
                config.vocab_size,
                config.vocab_size
            ),
        ));
    }
    config.vocab_size = tokenizer.vocab_size();
    Ok((checkpoint, config, tokenizer))
}

/// What `--device auto` says when it falls back to the CPU.
fn fallback_note(why: String) -> String {
    format!("no usable CUDA device ({why}); running on the CPU")
}

/// A model of `config`'s shapes with random weights (see [`Llama::random`]).
pub fn random(
    config: &ModelConfig,
    device: DeviceChoice,
    dtype: WeightDType,
    seed: u64,
) -> Result<(Arc<dyn Model>, Option<String>)> {
    let cpu = |note| -> Result<(Arc<dyn Model>, Option<String>)> {
        let embeddings = if config.tie_word_embeddings { 1 } else { 2 } * config.vocab_size * config.hidden_size;
        let needed = ((config.block_matrix_params() + embeddings) * dtype.burn().size()) as u64;
        memory::check(|| format!("making random {} weights", dtype.name()), needed, SMALLER_WEIGHTS)?;
        Ok((Arc::new(Llama::<Flex>::random(config, &Default::default(), dtype, seed)), note))
    };
    match device {
        DeviceChoice::Cpu => cpu(None),
        DeviceChoice::Cuda => Ok((cuda::random(config, dtype, seed)?, None)),
        DeviceChoice::Wgpu => Ok((wgpu::random(config, dtype, seed)?, None)),
        DeviceChoice::Auto => match cuda::available() {
            Ok(()) => Ok((cuda::random(config, dtype, seed)?, None)),
            Err(why) => cpu(why.map(fallback_note)),
        },
    }
}

/// What a refused load suggests.
const SMALLER_WEIGHTS: &str =
    "the same model quantized (a Q8_0, Q4_K_M or Q4_0 GGUF) needs about a half to a seventh of f32's memory";

fn load_cpu(
    checkpoint: &Checkpoint,
    config: &ModelConfig,
    dtype: WeightDType,
    compute: ComputePath,
    progress: &dyn Fn(usize, usize),
) -> Result<Arc<dyn Model>> {
    // The weights stay in the file's memory map and are all read for every token, so all of
    // them must fit.
    let needed = Weight::all(config)
        .into_iter()
        .map(|w| checkpoint.stored(w, config).map(|t| t.range.len() as u64))
        .sum::<Result<u64>>()?;
    let what = || format!("loading the weights of {}", checkpoint.path().display());
    memory::check(what, needed, SMALLER_WEIGHTS)?;
    let device = Default::default();
    Ok(Arc::new(Llama::<Flex>::load(checkpoint, config, &device, dtype, compute, progress)?))
}

/// What asking for a GPU backend the build lacks says.
#[cfg(not(all(feature = "cuda", feature = "wgpu")))]
fn built_without(name: &str, feature: &str) -> EngineError {
    EngineError::Device(format!("this neuronav was built without {name}; rebuild with `--features {feature}`"))
}

/// Placing a model on a GPU, whichever backend: matrices there are dense, so products are exact
/// whatever the compute path, and a runtime panic while placing is an error giving the size.
#[cfg(any(feature = "cuda", feature = "wgpu"))]
mod on_gpu {
    use super::*;
    use crate::engine::gpu::{placing_failed, quietly};
    use crate::engine::model::EngineBackend;

    pub fn load<B: EngineBackend>(
        checkpoint: &Checkpoint,
        config: &ModelConfig,
        device: &B::Device,
        dtype: WeightDType,
        progress: &dyn Fn(usize, usize),
    ) -> Result<Arc<dyn Model>>
    where
        Llama<B>: Model + 'static,
    {
        let model = quietly(|| Llama::<B>::load(checkpoint, config, device, dtype, ComputePath::Exact, progress))
            .map_err(|why| placing_failed(config, dtype, why))??;
        Ok(Arc::new(model))
    }

    pub fn random<B: EngineBackend>(
        config: &ModelConfig,
        device: &B::Device,
        dtype: WeightDType,
        seed: u64,
    ) -> Result<Arc<dyn Model>>
    where
        Llama<B>: Model + 'static,
    {
        let model = quietly(|| Llama::<B>::random(config, device, dtype, seed))
            .map_err(|why| placing_failed(config, dtype, why))?;
        Ok(Arc::new(model))
    }
}

#[cfg(not(feature = "cuda"))]
mod cuda {
    use super::*;

    /// Without the `cuda` feature there is nothing to probe; `Auto` quietly means the CPU.
    pub fn available() -> std::result::Result<(), Option<String>> {
        Err(None)
    }

    pub fn load(_: &Checkpoint, _: &ModelConfig, _: WeightDType, _: &dyn Fn(usize, usize)) -> Result<Arc<dyn Model>> {
        Err(built_without("CUDA", "cuda"))
    }

    pub fn random(_: &ModelConfig, _: WeightDType, _: u64) -> Result<Arc<dyn Model>> {
        Err(built_without("CUDA", "cuda"))
    }
}

#[cfg(feature = "cuda")]
mod cuda {
    use super::*;
    use crate::engine::gpu::quietly;
    use burn::backend::cuda::{Cuda, CudaDevice};
    use burn::prelude::*;

    /// Checks that a CUDA driver and GPU answer; the error is the runtime's reason.
    pub fn available() -> std::result::Result<(), Option<String>> {
        quietly(|| Tensor::<Cuda, 1>::zeros([1], &CudaDevice::default()).into_data()).map(|_| ()).map_err(Some)
    }

    fn require() -> Result<()> {
        available().map_err(|why| {
            EngineError::Device(format!(
                "no usable CUDA device ({}); is the NVIDIA driver installed and a GPU visible? \
                 --device cpu runs without one",
                why.unwrap_or_else(|| "unknown reason".into())
            ))
        })
    }

    pub fn load(
        checkpoint: &Checkpoint,
        config: &ModelConfig,
        dtype: WeightDType,
        progress: &dyn Fn(usize, usize),
    ) -> Result<Arc<dyn Model>> {
        require()?;
        on_gpu::load::<Cuda>(checkpoint, config, &CudaDevice::default(), dtype, progress)
    }

    pub fn random(config: &ModelConfig, dtype: WeightDType, seed: u64) -> Result<Arc<dyn Model>> {
        require()?;
        on_gpu::random::<Cuda>(config, &CudaDevice::default(), dtype, seed)
    }
}

#[cfg(not(feature = "wgpu"))]
mod wgpu {
    use super::*;

    pub fn load(_: &Checkpoint, _: &ModelConfig, _: WeightDType, _: &dyn Fn(usize, usize)) -> Result<Arc<dyn Model>> {
        Err(built_without("wgpu", "wgpu"))
    }

    pub fn random(_: &ModelConfig, _: WeightDType, _: u64) -> Result<Arc<dyn Model>> {
        Err(built_without("wgpu", "wgpu"))
    }
}

#[cfg(feature = "wgpu")]
mod wgpu {
    use super::*;
    use crate::engine::gpu::wgpu_device;
    use burn::backend::wgpu::{Wgpu, WgpuDevice};
    use burn::prelude::Backend;

    /// The default adapter, able to compute in `dtype`, or an error saying what is missing.
    fn require(dtype: WeightDType) -> Result<()> {
        let adapter = wgpu_device::adapter().map_err(|why| {
            EngineError::Device(format!(
                "no usable wgpu device ({why}); wgpu needs a Vulkan, Metal or DX12 driver. On Linux \
                 without a GPU driver, `apt-get install mesa-vulkan-drivers` adds lavapipe, a software \
                 Vulkan device. --device cpu runs without one"
            ))
        })?;
        // Shaders have f16 only where the adapter offers it, and no bf16 arithmetic at all; the
        // runtime would panic at the first kernel.
        if !<Wgpu as Backend>::supports_dtype(&WgpuDevice::DefaultDevice, dtype.burn()) {
            return Err(EngineError::Device(format!(
                "the wgpu adapter {} cannot compute in {}; --dtype f32 runs on it",
                adapter.describe(),
                dtype.name()
            )));
        }
        Ok(())
    }

    pub fn load(
        checkpoint: &Checkpoint,
        config: &ModelConfig,
        dtype: WeightDType,
        progress: &dyn Fn(usize, usize),
    ) -> Result<Arc<dyn Model>> {
        require(dtype)?;
        on_gpu::load::<Wgpu>(checkpoint, config, &WgpuDevice::DefaultDevice, dtype, progress)
    }

    pub fn random(config: &ModelConfig, dtype: WeightDType, seed: u64) -> Result<Arc<dyn Model>> {
        require(dtype)?;
        on_gpu::random::<Wgpu>(config, &WgpuDevice::DefaultDevice, dtype, seed)
    }
}
