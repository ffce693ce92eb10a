//! Model hyper-parameters: read from a Hugging Face `config.json` or from GGUF metadata, and
//! resolved into one [`ModelConfig`] the model code uses.
use std::path::Path;

use serde::Deserialize;

use super::error::{EngineError, Result};
use super::weights::gguf::GgufFile;

/// How the query/key weights lay out each head's rotary pairs, which decides the RoPE variant.
///
/// Hugging Face checkpoints rotate dimension `i` with `i + head_dim/2` ("rotate half"); GGUF files
/// of the llama architecture store Q/K rows permuted so that dimensions `2i` and `2i+1` form a pair.
/// Applying the wrong variant gives plausible but wrong attention.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RopeLayout {
    Halves,
    Interleaved,
}

/// The resolved shape of a Llama model.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelConfig {
    pub vocab_size: usize,
    /// d_model
    pub hidden_size: usize,
    /// d_ff: the number of feed-forward neurons per layer
    pub intermediate_size: usize,
    pub num_layers: usize,
    pub num_heads: usize,
    pub num_kv_heads: usize,
    pub head_dim: usize,
    pub rope_theta: f32,
    pub rope_layout: RopeLayout,
    pub rms_norm_eps: f32,
    /// Maximum number of positions (the context length).
    pub context_length: usize,
    pub tie_word_embeddings: bool,
}

impl ModelConfig {
    /// Checks the relations the model code relies on.
    pub fn validate(&self, path: &Path) -> Result<()> {
        let problem = if self.num_layers == 0 || self.hidden_size == 0 || self.intermediate_size == 0 {
            Some("layers, hidden size and intermediate size must be positive".to_string())
        } else if self.num_heads == 0 || self.num_kv_heads == 0 || !self.num_heads.is_multiple_of(self.num_kv_heads) {
            Some(format!(
                "{} attention heads cannot be grouped over {} key/value heads",
                self.num_heads, self.num_kv_heads
            ))
        } else if self.head_dim == 0 || !self.head_dim.is_multiple_of(2) {
            Some(format!("head dimension {} must be even and positive", self.head_dim))
        } else if self.vocab_size == 0 || self.context_length == 0 {
            Some("vocabulary size and context length must be positive".to_string())
        } else if !(self.rms_norm_eps > 0.0 && self.rope_theta > 0.0) {
            Some("rms_norm_eps and rope_theta must be positive".to_string())
        } else {
            None
        };
        match problem {
            Some(p) => Err(EngineError::bad_file(path, p)),
            None => Ok(()),
        }
    }

    /// Number of feed-forward neurons in the whole model.
    pub fn num_neurons(&self) -> usize {
        self.num_layers * self.intermediate_size
    }

    /// Weights of the linear layers of all blocks (attention and feed-forward), which every
    /// position multiplies through.
    pub fn block_matrix_params(&self) -> usize {
        let (d, ff) = (self.hidden_size, self.intermediate_size);
        let (q, kv) = (self.num_heads * self.head_dim, self.num_kv_heads * self.head_dim);
        self.num_layers * (d * q + 2 * d * kv + q * d + 3 * d * ff)
    }

    /// Parameters of the matrices: the blocks', the embedding and, when untied, the unembedding
    /// (the norms' gains add a negligible few).
    pub fn num_params(&self) -> usize {
        let embeddings = if self.tie_word_embeddings { 1 } else { 2 } * self.vocab_size * self.hidden_size;
        self.block_matrix_params() + embeddings
    }

    /// Floating-point operations of a forward pass over positions `start..start + t`, counting a
    /// multiply-add as 2: the block matrices for every position, causal attention over all
    /// cached positions, and the unembedding of the last position only (as the engine runs it).
    pub fn forward_flops(&self, start: usize, t: usize) -> f64 {
        let matrices = 2.0 * t as f64 * self.block_matrix_params() as f64;
        // Σ over the new positions of the keys each sees, × (q·k and p·v) × heads × head_dim.
        let keys: f64 = (start + 1..=start + t).map(|k| k as f64).sum();
        let attention = 4.0 * keys * (self.num_layers * self.num_heads * self.head_dim) as f64;
        matrices + attention + 2.0 * (self.hidden_size * self.vocab_size) as f64
    }

    /// Floating-point operations of projecting every neuron's value vector to the vocabulary.
    pub fn index_flops(&self) -> f64 {
        2.0 * (self.num_neurons() * self.hidden_size * self.vocab_size) as f64
    }
}

/// The fields of a Hugging Face Llama `config.json` the engine reads.
#[derive(Debug, Deserialize)]
struct HfConfig {
    vocab_size: usize,
    hidden_size: usize,
    intermediate_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    num_key_value_heads: Option<usize>,
    head_dim: Option<usize>,
    /// Older configs: `rope_theta` and `rope_scaling`; newer ones: `rope_parameters`.
    rope_theta: Option<f32>,
    #[serde(default = "default_rms_norm_eps")]
    rms_norm_eps: f32,
    #[serde(default = "default_context")]
    max_position_embeddings: usize,
    #[serde(default)]
    tie_word_embeddings: bool,
    #[serde(default)]
    rope_scaling: Option<serde_json::Value>,
    #[serde(default)]
    rope_parameters: Option<RopeParameters>,
    #[serde(default)]
    attention_bias: bool,
    #[serde(default)]
    mlp_bias: bool,
    #[serde(default)]
    hidden_act: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RopeParameters {
    rope_theta: Option<f32>,
    rope_type: Option<String>,
}

fn default_rope_theta() -> f32 {
    10_000.0
}
fn default_rms_norm_eps() -> f32 {
    1e-6
}
fn default_context() -> usize {
    2048
}

/// What is said of a model of another architecture, named by `key` of its configuration.
fn unsupported(key: &str, kind: &str) -> String {
    format!("{key} '{kind}' is not supported; neuronav reads Llama-architecture models")
}

/// Reads `config.json` of a Hugging Face Llama directory.
pub fn from_hf_config(path: &Path) -> Result<ModelConfig> {
    let text = std::fs::read_to_string(path).map_err(|e| EngineError::io(path, e))?;
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| EngineError::bad_file(path, format!("not JSON: {e}")))?;
    // The architecture is checked before the Llama fields: another architecture's config lacks
    // some of them, and "missing field" would hide what is really wrong.
    if let Some(kind) = json.get("model_type").and_then(serde_json::Value::as_str) {
        if !matches!(kind, "llama" | "mistral") {
            return Err(EngineError::bad_file(path, unsupported("model_type", kind)));
        }
    }
    let hf: HfConfig =
        serde_json::from_value(json).map_err(|e| EngineError::bad_file(path, format!("not a Llama config: {e}")))?;
    if let Some(act) = hf.hidden_act.as_deref() {
        if act != "silu" {
            return Err(EngineError::bad_file(path, format!("hidden_act '{act}' is not silu")));
        }
    }
    if hf.attention_bias || hf.mlp_bias {
        return Err(EngineError::bad_file(path, "biases in attention or MLP are not supported"));
    }
    if let Some(scaling) = hf.rope_scaling.as_ref().filter(|v| !v.is_null()) {
        return Err(EngineError::bad_file(path, format!("rope_scaling {scaling} is not supported")));
    }
    if let Some(kind) = hf.rope_parameters.as_ref().and_then(|p| p.rope_type.as_deref()).filter(|t| *t != "default") {
        return Err(EngineError::bad_file(path, format!("rope_type '{kind}' is not supported")));
    }
    let rope_theta =
        hf.rope_parameters.as_ref().and_then(|p| p.rope_theta).or(hf.rope_theta).unwrap_or_else(default_rope_theta);
    if hf.num_attention_heads == 0 {
        return Err(EngineError::bad_file(path, "num_attention_heads is 0"));
    }
    let config = ModelConfig {
        vocab_size: hf.vocab_size,
        hidden_size: hf.hidden_size,
        intermediate_size: hf.intermediate_size,
        num_layers: hf.num_hidden_layers,
        num_heads: hf.num_attention_heads,
        num_kv_heads: hf.num_key_value_heads.unwrap_or(hf.num_attention_heads),
        head_dim: hf.head_dim.unwrap_or(hf.hidden_size / hf.num_attention_heads),
        rope_theta,
        rope_layout: RopeLayout::Halves,
        rms_norm_eps: hf.rms_norm_eps,
        context_length: hf.max_position_embeddings,
        tie_word_embeddings: hf.tie_word_embeddings,
    };
    config.validate(path)?;
    Ok(config)
}

/// Reads the `llama.*` metadata of a GGUF file. `vocab_size` and tying come from the tensor table.
pub fn from_gguf(gguf: &GgufFile) -> Result<ModelConfig> {
    let path = gguf.path.as_path();
    let arch = gguf.architecture().unwrap_or("(none)");
    if arch != "llama" {
        return Err(EngineError::bad_file(path, unsupported("general.architecture", arch)));
    }
    let int = |key: &str| -> Result<usize> {
        gguf.meta(&format!("llama.{key}"))
            .and_then(|v| v.as_u64())
            .map(|v| v as usize)
            .ok_or_else(|| EngineError::bad_file(path, format!("metadata 'llama.{key}' is missing or not an integer")))
    };
    let float = |key: &str, default: f64| -> Result<f32> {
        match gguf.meta(&format!("llama.{key}")) {
            None => Ok(default as f32),
            Some(v) => v
                .as_f64()
                .map(|x| x as f32)
                .ok_or_else(|| EngineError::bad_file(path, format!("metadata 'llama.{key}' is not a number"))),
        }
    };
    let hidden_size = int("embedding_length")?;
    let num_heads = int("attention.head_count")?;
    let num_kv_heads = int("attention.head_count_kv").unwrap_or(num_heads);
    if num_heads == 0 {
        return Err(EngineError::bad_file(path, "llama.attention.head_count is 0"));
    }
    let head_dim = int("rope.dimension_count").unwrap_or(hidden_size / num_heads);
    if gguf.meta("llama.rope.scaling.type").and_then(|v| v.as_str()).is_some_and(|t| t != "none") {
        return Err(EngineError::bad_file(path, "rope scaling is not supported"));
    }
    let embed = gguf
        .tensor_info("token_embd.weight")
        .ok_or_else(|| EngineError::bad_file(path, "tensor 'token_embd.weight' is missing"))?;
    let vocab_size = *embed.shape.first().unwrap_or(&0);
    let config = ModelConfig {
        vocab_size,
        hidden_size,
        intermediate_size: int("feed_forward_length")?,
        num_layers: int("block_count")?,
        num_heads,
        num_kv_heads,
        head_dim,
        rope_theta: float("rope.freq_base", 10_000.0)?,
        rope_layout: RopeLayout::Interleaved,
        rms_norm_eps: float("attention.layer_norm_rms_epsilon", 1e-5)?,
        context_length: int("context_length")?,
        tie_word_embeddings: gguf.tensor_info("output.weight").is_none(),
    };
    config.validate(path)?;
    Ok(config)
}

/// Shapes of well-known models, for benchmarks on random weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Preset {
    /// SmolLM2-135M: 30 layers × 1536 neurons, d_model 576, GQA 9/3, vocab 49152, tied
    Smollm2_135m,
    /// Llama-2-7B: 32 layers × 11008 neurons, d_model 4096, 32 heads, vocab 32000, untied
    Llama2_7b,
}

impl Preset {
    pub fn config(self) -> ModelConfig {
        match self {
            Preset::Smollm2_135m => ModelConfig {
                vocab_size: 49152,
                hidden_size: 576,
                intermediate_size: 1536,
                num_layers: 30,
                num_heads: 9,
                num_kv_heads: 3,
                head_dim: 64,
                rope_theta: 100_000.0,
                rope_layout: RopeLayout::Interleaved,
                rms_norm_eps: 1e-5,
                context_length: 8192,
                tie_word_embeddings: true,
            },
            Preset::Llama2_7b => ModelConfig {
                vocab_size: 32000,
                hidden_size: 4096,
                intermediate_size: 11008,
                num_layers: 32,
                num_heads: 32,
                num_kv_heads: 32,
                head_dim: 128,
                rope_theta: 10_000.0,
                rope_layout: RopeLayout::Halves,
                rms_norm_eps: 1e-5,
                context_length: 4096,
                tie_word_embeddings: false,
            },
        }
    }
}
