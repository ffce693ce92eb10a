//! How the CPU multiplies activations by quantized weights: exactly, or with 8-bit activations
//! and integer dot products (see docs/architecture.md, "Two compute paths").
use serde::Serialize;

use crate::engine::config::ModelConfig;
use crate::engine::weights::gguf::GgmlType;

/// Parameters above which `auto` chooses the fast path: a 7B model's prefill is 1.5-2× faster
/// with it, while a small model's is fast enough exactly and its numbers stay a dequantized copy's.
pub const FAST_ABOVE_PARAMS: usize = 1_000_000_000;

/// The products a model's quantized host matrices compute. F16, BF16 and F32 matrices, and every
/// matrix on a GPU, are multiplied exactly on either path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ComputePath {
    /// f32 activations times the weights as dequantized: panels of rows dequantized and
    /// multiplied with `gemm` for a prompt, blocks read in place for one row. The numbers of a
    /// dequantized copy of the weights.
    Exact,
    /// Activations quantized to 8 bits per block and multiplied by the weight blocks as integers
    /// (`q8`), as llama.cpp does: about 0.5% error per product from the activations' rounding;
    /// the CPU's key/value cache is kept in f16 (`kv_rows`).
    Fast,
}

impl ComputePath {
    pub fn name(self) -> &'static str {
        match self {
            ComputePath::Exact => "exact",
            ComputePath::Fast => "fast",
        }
    }

    /// Whether a matrix stored as `format` is multiplied with the integer kernels on this path.
    pub fn integer_products(self, format: GgmlType) -> bool {
        self == ComputePath::Fast && super::q8::has_kernels(format)
    }
}

/// The compute path asked for on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ComputeChoice {
    /// Fast for models of more than 1B parameters, exact otherwise
    #[default]
    Auto,
    /// f32 activations times exactly dequantized weights
    Exact,
    /// 8-bit activations, integer products with quantized weights
    Fast,
}

impl ComputeChoice {
    /// The path a model of `config`'s shapes runs on.
    pub fn resolve(self, config: &ModelConfig) -> ComputePath {
        match self {
            ComputeChoice::Exact => ComputePath::Exact,
            ComputeChoice::Fast => ComputePath::Fast,
            ComputeChoice::Auto if config.num_params() > FAST_ABOVE_PARAMS => ComputePath::Fast,
            ComputeChoice::Auto => ComputePath::Exact,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::config::Preset;

    #[test]
    fn auto_is_fast_for_large_models_only() {
        assert_eq!(ComputeChoice::Auto.resolve(&Preset::Llama2_7b.config()), ComputePath::Fast);
        assert_eq!(ComputeChoice::Auto.resolve(&Preset::Smollm2_135m.config()), ComputePath::Exact);
        assert_eq!(ComputeChoice::Fast.resolve(&Preset::Smollm2_135m.config()), ComputePath::Fast);
        assert_eq!(ComputeChoice::Exact.resolve(&Preset::Llama2_7b.config()), ComputePath::Exact);
    }

    #[test]
    fn float_matrices_stay_exact() {
        assert!(ComputePath::Fast.integer_products(GgmlType::Q4_0));
        assert!(ComputePath::Fast.integer_products(GgmlType::Q6_K));
        assert!(!ComputePath::Fast.integer_products(GgmlType::F16));
        assert!(!ComputePath::Exact.integer_products(GgmlType::Q4_0));
    }
}
