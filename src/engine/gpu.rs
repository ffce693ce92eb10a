//! What the GPU backends (CUDA, wgpu) share: their runtimes' panics turned into errors, and,
//! for wgpu, the adapter it runs on.
use super::config::ModelConfig;
use super::error::EngineError;
use super::model::WeightDType;

/// Runs `f`, turning a panic into its message. burn's GPU runtimes panic where they cannot go
/// on (no driver or device, out of memory); the panic hook is silenced meanwhile, so a terminal
/// UI's hook does not take the process down for what is an ordinary error here.
pub fn quietly<T>(f: impl FnOnce() -> T) -> std::result::Result<T, String> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    std::panic::set_hook(hook);
    result.map_err(|e| {
        e.downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "unknown error".into())
    })
}

/// What a failure while placing the weights on the GPU says: the runtime's message and how
/// much the weights need.
pub fn placing_failed(config: &ModelConfig, dtype: WeightDType, why: String) -> EngineError {
    let embeddings = if config.tie_word_embeddings { 1 } else { 2 } * config.vocab_size * config.hidden_size;
    let bytes = (config.block_matrix_params() + embeddings) * dtype.burn().size();
    EngineError::Device(format!(
        "placing the weights on the GPU failed: {why}. The weights alone need {:.2} GB in {}; \
         --dtype f16 halves f32's share, or run with --device cpu",
        bytes as f64 / 1e9,
        dtype.name()
    ))
}

/// What a forward pass that failed on the GPU says: the runtime's message and what the pass
/// needed on the device besides the weights: the key/value cache of `start + rows` positions, the
/// attention scores of one layer, a layer's intermediates and the captures on their way to the
/// host. `element`: bytes of the activations' element type.
pub fn run_failed(config: &ModelConfig, element: usize, start: usize, rows: usize, why: String) -> EngineError {
    let c = config;
    let element = element as u64;
    let (end, rows) = ((start + rows) as u64, rows as u64);
    let kv = end * (2 * c.num_layers * c.num_kv_heads * c.head_dim) as u64 * element;
    let scores = rows * end * c.num_heads as u64 * element;
    let layer = rows * (4 * c.hidden_size + 3 * c.intermediate_size) as u64 * element;
    let captures = rows * ((2 * c.hidden_size + c.intermediate_size) * c.num_layers) as u64 * element;
    let need = kv + scores + layer + captures;
    EngineError::Device(format!(
        "the forward pass over {rows} positions (after {start}) failed on the GPU: {why}. Besides the \
         weights it needs about {:.2} GB on the device ({:.2} GB of it the attention scores of one \
         layer); run fewer positions at once, --dtype f16, or --device cpu",
        need as f64 / 1e9,
        scores as f64 / 1e9
    ))
}

/// burn's wgpu backend on its default device, set up once per process.
#[cfg(feature = "wgpu")]
pub mod wgpu_device {
    use std::sync::OnceLock;

    use burn::backend::wgpu::graphics::AutoGraphicsApi;
    use burn::backend::wgpu::{init_setup, RuntimeOptions, WgpuDevice};

    /// The adapter the default device runs on.
    #[derive(Debug, Clone)]
    pub struct Adapter {
        pub name: String,
        /// The graphics API: Vulkan, Metal, DX12.
        pub api: String,
        /// A CPU adapter (Mesa's lavapipe, llvmpipe) runs the shaders on the processor.
        pub software: bool,
    }

    impl Adapter {
        /// For the model's description: `llvmpipe (LLVM 15.0.6, 256 bits) [vulkan, software]`.
        pub fn describe(&self) -> String {
            let software = if self.software { ", software" } else { "" };
            format!("{} [{}{software}]", self.name, self.api)
        }
    }

    /// Sets up the default device on the platform's graphics API, once; later calls return the
    /// first answer. burn panics when no adapter answers; that panic is the error here, and
    /// nothing was registered with the runtime, so the process goes on without wgpu.
    pub fn adapter() -> Result<&'static Adapter, String> {
        static ADAPTER: OnceLock<Result<Adapter, String>> = OnceLock::new();
        ADAPTER
            .get_or_init(|| {
                let setup = super::quietly(|| {
                    init_setup::<AutoGraphicsApi>(&WgpuDevice::DefaultDevice, RuntimeOptions::default())
                })?;
                let info = setup.adapter.get_info();
                Ok(Adapter {
                    name: info.name,
                    api: info.backend.to_str().to_string(),
                    software: info.device_type == wgpu::DeviceType::Cpu,
                })
            })
            .as_ref()
            .map_err(Clone::clone)
    }
}
