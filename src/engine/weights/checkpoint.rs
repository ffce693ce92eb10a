//! One table of checkpoint names: each weight the model uses, under its Hugging Face and GGUF names.
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::gguf::GgufFile;
use super::host::HostTensor;
use super::mapped::MappedFile;
use super::safetensors::SafetensorsDir;
use super::stored::StoredTensor;
use crate::engine::config::{self, ModelConfig};
use crate::engine::error::{EngineError, Result};

/// A weight of the Llama architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weight {
    /// `[vocab, d_model]`
    Embed,
    /// `[d_model]`
    FinalNorm,
    /// `[vocab, d_model]`; absent when tied to the embedding.
    LmHead,
    /// `[d_model]`
    AttnNorm(usize),
    /// `[n_heads * head_dim, d_model]`
    QProj(usize),
    /// `[n_kv_heads * head_dim, d_model]`
    KProj(usize),
    /// `[n_kv_heads * head_dim, d_model]`
    VProj(usize),
    /// `[d_model, n_heads * head_dim]`
    OProj(usize),
    /// `[d_model]`
    FfnNorm(usize),
    /// `[d_ff, d_model]`
    GateProj(usize),
    /// `[d_ff, d_model]`
    UpProj(usize),
    /// `[d_model, d_ff]`: column j is neuron j's value vector.
    DownProj(usize),
}

impl Weight {
    /// Every weight a model of `config` loads (the unembedding only when it is not tied), in the
    /// order llama.cpp writes them: the embedding, each layer's, the final norm, the output.
    pub fn all(config: &ModelConfig) -> Vec<Weight> {
        let mut all = vec![Weight::Embed];
        for l in 0..config.num_layers {
            all.extend([
                Weight::AttnNorm(l),
                Weight::QProj(l),
                Weight::KProj(l),
                Weight::VProj(l),
                Weight::OProj(l),
                Weight::FfnNorm(l),
                Weight::GateProj(l),
                Weight::UpProj(l),
                Weight::DownProj(l),
            ]);
        }
        all.push(Weight::FinalNorm);
        if !config.tie_word_embeddings {
            all.push(Weight::LmHead);
        }
        all
    }

    pub fn hf_name(self) -> String {
        let layer = |l: usize, rest: &str| format!("model.layers.{l}.{rest}");
        match self {
            Weight::Embed => "model.embed_tokens.weight".into(),
            Weight::FinalNorm => "model.norm.weight".into(),
            Weight::LmHead => "lm_head.weight".into(),
            Weight::AttnNorm(l) => layer(l, "input_layernorm.weight"),
            Weight::QProj(l) => layer(l, "self_attn.q_proj.weight"),
            Weight::KProj(l) => layer(l, "self_attn.k_proj.weight"),
            Weight::VProj(l) => layer(l, "self_attn.v_proj.weight"),
            Weight::OProj(l) => layer(l, "self_attn.o_proj.weight"),
            Weight::FfnNorm(l) => layer(l, "post_attention_layernorm.weight"),
            Weight::GateProj(l) => layer(l, "mlp.gate_proj.weight"),
            Weight::UpProj(l) => layer(l, "mlp.up_proj.weight"),
            Weight::DownProj(l) => layer(l, "mlp.down_proj.weight"),
        }
    }

    pub fn gguf_name(self) -> String {
        let blk = |l: usize, rest: &str| format!("blk.{l}.{rest}.weight");
        match self {
            Weight::Embed => "token_embd.weight".into(),
            Weight::FinalNorm => "output_norm.weight".into(),
            Weight::LmHead => "output.weight".into(),
            Weight::AttnNorm(l) => blk(l, "attn_norm"),
            Weight::QProj(l) => blk(l, "attn_q"),
            Weight::KProj(l) => blk(l, "attn_k"),
            Weight::VProj(l) => blk(l, "attn_v"),
            Weight::OProj(l) => blk(l, "attn_output"),
            Weight::FfnNorm(l) => blk(l, "ffn_norm"),
            Weight::GateProj(l) => blk(l, "ffn_gate"),
            Weight::UpProj(l) => blk(l, "ffn_up"),
            Weight::DownProj(l) => blk(l, "ffn_down"),
        }
    }

    /// The shape the model expects, PyTorch order.
    pub fn expected_shape(self, c: &ModelConfig) -> Vec<usize> {
        let (d, q, kv) = (c.hidden_size, c.num_heads * c.head_dim, c.num_kv_heads * c.head_dim);
        match self {
            Weight::Embed | Weight::LmHead => vec![c.vocab_size, d],
            Weight::FinalNorm | Weight::AttnNorm(_) | Weight::FfnNorm(_) => vec![d],
            Weight::QProj(_) => vec![q, d],
            Weight::KProj(_) | Weight::VProj(_) => vec![kv, d],
            Weight::OProj(_) => vec![d, q],
            Weight::GateProj(_) | Weight::UpProj(_) => vec![c.intermediate_size, d],
            Weight::DownProj(_) => vec![d, c.intermediate_size],
        }
    }
}

/// The weights of a model on disk, in either format.
pub enum Checkpoint {
    Hf { dir: PathBuf, files: SafetensorsDir },
    Gguf(GgufFile),
}

impl Checkpoint {
    /// Opens a Hugging Face directory or a `.gguf` file and reads its configuration.
    pub fn open(path: &Path) -> Result<(Checkpoint, ModelConfig)> {
        if path.is_dir() {
            let mut config = config::from_hf_config(&path.join("config.json"))?;
            let files = SafetensorsDir::open(path)?;
            // Some tied checkpoints still ship lm_head; an untied config without one is an error
            // caught when the weight is loaded.
            if config.tie_word_embeddings && files.contains("lm_head.weight") {
                config.tie_word_embeddings = false;
            }
            Ok((Checkpoint::Hf { dir: path.to_path_buf(), files }, config))
        } else if path.is_file() {
            let gguf = GgufFile::open(path)?;
            let config = config::from_gguf(&gguf)?;
            Ok((Checkpoint::Gguf(gguf), config))
        } else {
            Err(EngineError::io(path, std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or directory")))
        }
    }

    /// The file or directory the weights come from.
    pub fn path(&self) -> &Path {
        match self {
            Checkpoint::Hf { dir, .. } => dir,
            Checkpoint::Gguf(g) => &g.path,
        }
    }

    /// The files whose memory maps stored tensors borrow.
    pub fn files(&self) -> Vec<Arc<MappedFile>> {
        match self {
            Checkpoint::Hf { files, .. } => files.mapped(),
            Checkpoint::Gguf(g) => vec![g.mapped()],
        }
    }

    /// A weight's name in this checkpoint's format.
    pub fn tensor_name(&self, weight: Weight) -> String {
        match self {
            Checkpoint::Hf { .. } => weight.hf_name(),
            Checkpoint::Gguf(_) => weight.gguf_name(),
        }
    }

    /// Loads one weight and checks its shape against the configuration.
    pub fn load(&self, weight: Weight, config: &ModelConfig) -> Result<HostTensor> {
        let (tensor, name, file) = match self {
            Checkpoint::Hf { files, .. } => {
                let name = weight.hf_name();
                (files.load(&name)?, name, files.path())
            }
            Checkpoint::Gguf(g) => {
                let name = weight.gguf_name();
                (g.load(&name)?, name, g.path.as_path())
            }
        };
        Ok(match check_shape(&tensor.shape, weight, config, &name, file)? {
            Rows::All => tensor,
            Rows::First(n) => tensor.first_rows(n),
        })
    }

    /// One weight as its file stores it, to be read in place, with its shape checked against
    /// the configuration.
    pub fn stored(&self, weight: Weight, config: &ModelConfig) -> Result<StoredTensor> {
        let (tensor, name, file) = match self {
            Checkpoint::Hf { files, .. } => {
                let name = weight.hf_name();
                (files.stored(&name)?, name, files.path())
            }
            Checkpoint::Gguf(g) => {
                let name = weight.gguf_name();
                (g.stored(&name)?, name, g.path.as_path())
            }
        };
        Ok(match check_shape(&tensor.shape, weight, config, &name, file)? {
            Rows::All => tensor,
            Rows::First(n) => tensor.first_rows(n),
        })
    }
}

/// Which rows of a weight the model uses.
enum Rows {
    All,
    /// The vocabulary's rows of an embedding or unembedding with padding rows after them.
    First(usize),
}

/// A weight's shape must be the one the configuration implies, except that the embedding and
/// unembedding may have rows past the vocabulary: padding, which the model never reads (see
/// [`crate::engine::loader::open`]).
fn check_shape(shape: &[usize], weight: Weight, config: &ModelConfig, name: &str, file: &Path) -> Result<Rows> {
    let expected = weight.expected_shape(config);
    let vocabulary = matches!(weight, Weight::Embed | Weight::LmHead);
    match (shape, &expected[..]) {
        _ if shape == expected => Ok(Rows::All),
        ([rows, cols], [vocab, d]) if vocabulary && rows > vocab && cols == d => Ok(Rows::First(*vocab)),
        _ => Err(EngineError::bad_file(
            file,
            format!("tensor '{name}' has shape {shape:?}, the config implies {expected:?}"),
        )),
    }
}
