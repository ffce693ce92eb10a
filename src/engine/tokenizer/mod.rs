//! Text to token ids and back, for Hugging Face directories and GGUF files.
//!
//! Both end up as a `tokenizers::Tokenizer`. A directory brings its own `tokenizer.json`
//! (`hf.rs`); a GGUF only lists its vocabulary under llama.cpp's `tokenizer.ggml.*` keys, so the
//! pipeline around it is rebuilt (`gguf.rs`) the way the model's own `tokenizer.json` (and
//! llama.cpp) would split text. `spelling.rs` turns a vocabulary entry back into readable text.
mod gguf;
mod hf;
mod spelling;
#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::engine::error::{EngineError, Result};
use spelling::{render_bytes, Spelling};

/// A model's tokenizer, with the special ids and the BOS rule the model was trained with.
pub struct Tokenizer {
    inner: tokenizers::Tokenizer,
    /// The file or directory it came from, for error messages.
    source: PathBuf,
    bos: Option<u32>,
    eos: Option<u32>,
    /// Whether `encode` puts BOS in front itself (a `tokenizer.json` post-processor may instead).
    add_bos: bool,
    spelling: Spelling,
    /// Added tokens (`<s>`, `<|im_start|>`, …): shown as they are, never unspelled.
    verbatim: HashSet<u32>,
    vocab_size: usize,
}

impl Tokenizer {
    /// Token ids of `text`, with BOS prepended iff the model's tokenizer adds one; no EOS.
    ///
    /// Special tokens written in the text (`<|im_start|>`) become their ids, as in a chat template.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let encoding = self.inner.encode_fast(text, true).map_err(|e| tokenizer_error(&self.source, e))?;
        let bos = self.bos.filter(|_| self.add_bos);
        Ok(bos.into_iter().chain(encoding.get_ids().iter().copied()).collect())
    }

    /// The text of `ids`, special tokens included, bytes split across tokens rejoined.
    /// Should the decoder fail, or an id have no token (which the decoder would silently drop),
    /// the tokens' display forms stand in, so the caller still sees every id.
    pub fn decode(&self, ids: &[u32]) -> String {
        let shown = || ids.iter().map(|&id| self.token_display(id)).collect();
        if ids.iter().any(|&id| self.inner.id_to_token(id).is_none()) {
            return shown();
        }
        self.inner.decode(ids, false).unwrap_or_else(|_| shown())
    }

    /// One token rendered readably for display: spaces as '␣', newlines, tabs and other control
    /// characters as escapes ("\n"), bytes that are not whole UTF-8 as "\xE6", added/special
    /// tokens ("<s>", "<|im_end|>") as they are. An id with no token (past the vocabulary, such
    /// as a padding row of the embedding) shows as "<id N>".
    pub fn token_display(&self, id: u32) -> String {
        let Some(token) = self.inner.id_to_token(id) else {
            return format!("<id {id}>");
        };
        if self.verbatim.contains(&id) {
            return token;
        }
        render_bytes(&self.spelling.bytes_of(&token))
    }

    /// One past the largest id the tokenizer can produce: the model's vocabulary (rows of the
    /// embedding past it are padding, see [`crate::engine::loader::open`]).
    pub fn vocab_size(&self) -> usize {
        self.vocab_size
    }

    pub fn bos_id(&self) -> Option<u32> {
        self.bos
    }

    pub fn eos_id(&self) -> Option<u32> {
        self.eos
    }

    /// The id of a vocabulary entry as the vocabulary spells it ("Ġthe", "▁the", "<|im_end|>").
    pub fn id_of(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }
}

fn added_ids(inner: &tokenizers::Tokenizer) -> HashSet<u32> {
    inner.get_added_tokens_decoder().into_keys().collect()
}

fn tokenizer_error(path: &Path, problem: impl ToString) -> EngineError {
    EngineError::Tokenizer { path: path.to_path_buf(), problem: problem.to_string() }
}
