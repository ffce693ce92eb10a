//! Tokenizers of Hugging Face directories: `tokenizer.json`, with `tokenizer_config.json` and
//! `config.json` for the special ids and the BOS rule.
use std::path::Path;

use serde_json::Value;
use tokenizers::decoders::DecoderWrapper;
use tokenizers::normalizers::Replace;

use super::spelling::{Spelling, METASPACE};
use super::{added_ids, tokenizer_error, Tokenizer};
use crate::engine::error::{EngineError, Result};

impl Tokenizer {
    /// A Hugging Face directory: tokenizer.json, with tokenizer_config.json / config.json (when
    /// present) for bos/eos ids and add_bos_token.
    ///
    /// BOS follows transformers: the `tokenizer.json` post-processor adds it, unless
    /// tokenizer_config.json sets `add_bos_token`/`add_eos_token` or there is no post-processor;
    /// then `add_bos_token` alone decides.
    pub fn from_hf_dir(dir: &Path) -> Result<Tokenizer> {
        let file = dir.join("tokenizer.json");
        if !file.is_file() {
            return Err(tokenizer_error(dir, "no tokenizer.json in this directory"));
        }
        let mut inner = tokenizers::Tokenizer::from_file(&file).map_err(|e| tokenizer_error(&file, e))?;
        let tokenizer_config = read_json(&dir.join("tokenizer_config.json"))?.unwrap_or(Value::Null);
        let model_config = read_json(&dir.join("config.json"))?.unwrap_or(Value::Null);
        let bos = special_id(&inner, &tokenizer_config, &model_config, "bos");
        let eos = special_id(&inner, &tokenizer_config, &model_config, "eos");

        let explicit = ["add_bos_token", "add_eos_token"].iter().any(|k| tokenizer_config.get(k).is_some());
        let add_bos = if explicit || inner.get_post_processor().is_none() {
            inner.with_post_processor(None::<tokenizers::PostProcessorWrapper>);
            tokenizer_config.get("add_bos_token").and_then(Value::as_bool).unwrap_or(false)
        } else {
            false
        };
        if add_bos && bos.is_none() {
            return Err(tokenizer_error(dir, "add_bos_token is set but no BOS token is named"));
        }
        let spelling = inner.get_decoder().map_or(Spelling::Plain, decoder_spelling);
        let vocab_size = inner.get_vocab(true).values().max().map_or(0, |&id| id as usize + 1);
        let verbatim = added_ids(&inner);
        Ok(Tokenizer { inner, source: dir.to_path_buf(), bos, eos, add_bos, spelling, verbatim, vocab_size })
    }
}

/// A JSON file that may be absent.
fn read_json(path: &Path) -> Result<Option<Value>> {
    if !path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(path).map_err(|e| EngineError::io(path, e))?;
    serde_json::from_str(&text).map(Some).map_err(|e| EngineError::bad_file(path, e.to_string()))
}

/// `bos`/`eos`: tokenizer_config.json names the token (a string or `{"content": …}`);
/// failing that, config.json gives `<kind>_token_id` (a number, or a list whose first is used).
fn special_id(
    inner: &tokenizers::Tokenizer,
    tokenizer_config: &Value,
    model_config: &Value,
    kind: &str,
) -> Option<u32> {
    let named = tokenizer_config.get(format!("{kind}_token")).and_then(|v| match v {
        Value::String(s) => Some(s.as_str()),
        Value::Object(o) => o.get("content").and_then(Value::as_str),
        _ => None,
    });
    named.and_then(|token| inner.token_to_id(token)).or_else(|| {
        let id = model_config.get(format!("{kind}_token_id"))?;
        let id = id.as_array().and_then(|ids| ids.first()).unwrap_or(id);
        id.as_u64().and_then(|id| u32::try_from(id).ok())
    })
}

fn decoder_spelling(decoder: &DecoderWrapper) -> Spelling {
    match decoder {
        DecoderWrapper::ByteLevel(_) => Spelling::ByteLevel,
        DecoderWrapper::Metaspace(_) => Spelling::Metaspace,
        DecoderWrapper::Replace(r) if Replace::new(METASPACE.to_string(), " ").is_ok_and(|m| *r == m) => {
            Spelling::Metaspace
        }
        DecoderWrapper::Sequence(seq) => {
            seq.get_decoders().iter().map(decoder_spelling).find(|s| *s != Spelling::Plain).unwrap_or(Spelling::Plain)
        }
        _ => Spelling::Plain,
    }
}
