//! Text to token ids and back, for Hugging Face directories and GGUF files.
//!
//! Both end up as a `tokenizers::Tokenizer`. A directory brings its own `tokenizer.json`; a GGUF
//! only lists its vocabulary under llama.cpp's `tokenizer.ggml.*` keys, so the pipeline around it
//! is rebuilt here the way the model's own `tokenizer.json` (and llama.cpp) would split text.
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde_json::Value;
use tokenizers::decoders::byte_fallback::ByteFallback;
use tokenizers::decoders::fuse::Fuse;
use tokenizers::decoders::sequence::Sequence as DecoderSequence;
use tokenizers::decoders::strip::Strip;
use tokenizers::decoders::DecoderWrapper;
use tokenizers::models::bpe::{Merges, Vocab, BPE};
use tokenizers::normalizers::{Prepend, Replace, Sequence as NormalizerSequence};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence as PreTokenizerSequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::{AddedToken, NormalizerWrapper, PreTokenizerWrapper, SplitDelimiterBehavior};

use crate::engine::error::{EngineError, Result};
use crate::engine::weights::gguf::{GgufFile, MetaValue};

/// SentencePiece's word-boundary marker, standing for a space.
const METASPACE: char = '\u{2581}';

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

/// How the vocabulary writes a token's bytes, which `token_display` has to undo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Spelling {
    /// GPT-2's byte-to-character table: "Ġ" is a space, "Ċ" a newline.
    ByteLevel,
    /// SentencePiece: "▁" is a space and `<0x0A>` a raw byte.
    Metaspace,
    /// Tokens are the text itself.
    Plain,
}

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

    /// Built from GGUF metadata (tokenizer.ggml.*): "gpt2" byte-level BPE (with the pre-tokenizer
    /// named by tokenizer.ggml.pre) and "llama" SentencePiece.
    pub fn from_gguf(gguf: &GgufFile) -> Result<Tokenizer> {
        let vocab = GgufVocab::read(gguf)?;
        let (inner, spelling, defaults) = match vocab.model.as_str() {
            "gpt2" => (byte_level_bpe(gguf, &vocab)?, Spelling::ByteLevel, GgufDefaults::BYTE_LEVEL),
            "llama" => (sentencepiece_bpe(gguf, &vocab)?, Spelling::Metaspace, GgufDefaults::SENTENCEPIECE),
            other => {
                return Err(tokenizer_error(
                    &gguf.path,
                    format!("tokenizer.ggml.model is {other:?}; only \"gpt2\" and \"llama\" are supported"),
                ))
            }
        };
        let add_bos = meta_bool(gguf, "tokenizer.ggml.add_bos_token")?.unwrap_or(defaults.add_bos);
        let in_vocab = |id: Option<u32>| id.filter(|&id| (id as usize) < vocab.tokens.len());
        let bos = vocab.special(gguf, "bos")?.or(in_vocab(defaults.bos));
        let eos = vocab.special(gguf, "eos")?.or(in_vocab(defaults.eos));
        if add_bos && bos.is_none() {
            return Err(tokenizer_error(&gguf.path, "BOS is to be added but tokenizer.ggml.bos_token_id is missing"));
        }
        let vocab_size = vocab.tokens.len();
        let verbatim = added_ids(&inner);
        Ok(Tokenizer { inner, source: gguf.path.clone(), bos, eos, add_bos, spelling, verbatim, vocab_size })
    }

    /// Token ids of `text`, with BOS prepended iff the model's tokenizer adds one; no EOS.
    ///
    /// Special tokens written in the text (`<|im_start|>`) become their ids, as in a chat template.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let encoding = self.inner.encode_fast(text, true).map_err(|e| tokenizer_error(&self.source, e))?;
        let bos = self.bos.filter(|_| self.add_bos);
        Ok(bos.into_iter().chain(encoding.get_ids().iter().copied()).collect())
    }

    /// The text of `ids`, special tokens included, bytes split across tokens rejoined.
    /// Should the decoder fail, the tokens' display forms stand in, so the caller still sees them.
    pub fn decode(&self, ids: &[u32]) -> String {
        self.inner.decode(ids, false).unwrap_or_else(|_| ids.iter().map(|&id| self.token_display(id)).collect())
    }

    /// One token rendered readably for display: spaces as '␣', newlines, tabs and other control
    /// characters as escapes ("\n"), bytes that are not whole UTF-8 as "\xE6", added/special
    /// tokens ("<s>", "<|im_end|>") as they are. Unknown ids show as "<id N?>".
    pub fn token_display(&self, id: u32) -> String {
        let Some(token) = self.inner.id_to_token(id) else {
            return format!("<id {id}?>");
        };
        if self.verbatim.contains(&id) {
            return token;
        }
        render_bytes(&self.spelling.bytes_of(&token))
    }

    /// One past the largest id the tokenizer can produce.
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

// ---- Hugging Face directories -------------------------------------------------------------------

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

// ---- GGUF metadata ------------------------------------------------------------------------------

/// What llama.cpp assumes for each tokenizer type when the file does not say.
struct GgufDefaults {
    add_bos: bool,
    bos: Option<u32>,
    eos: Option<u32>,
}

impl GgufDefaults {
    const BYTE_LEVEL: GgufDefaults = GgufDefaults { add_bos: false, bos: None, eos: None };
    /// Llama-2's layout: `<unk>` 0, `<s>` 1, `</s>` 2, and BOS in front of every text.
    const SENTENCEPIECE: GgufDefaults = GgufDefaults { add_bos: true, bos: Some(1), eos: Some(2) };
}

/// llama.cpp's token types (`tokenizer.ggml.token_type`).
const TYPE_UNKNOWN: i64 = 2;
const TYPE_CONTROL: i64 = 3;
const TYPE_USER_DEFINED: i64 = 4;

/// The `tokenizer.ggml.*` entries both model types share, checked against each other.
struct GgufVocab {
    model: String,
    tokens: Vec<String>,
    /// One per token; all "normal" when the file has none, as llama.cpp assumes.
    types: Vec<i64>,
}

impl GgufVocab {
    fn read(gguf: &GgufFile) -> Result<GgufVocab> {
        let path = &gguf.path;
        let tokens = meta_array(gguf, "tokenizer.ggml.tokens")?
            .ok_or_else(|| tokenizer_error(path, "GGUF has no embedded tokenizer (tokenizer.ggml.tokens)"))?;
        let tokens = tokens
            .iter()
            .enumerate()
            .map(|(i, t)| {
                t.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| tokenizer_error(path, format!("tokenizer.ggml.tokens[{i}] is not a string")))
            })
            .collect::<Result<Vec<_>>>()?;
        let model = meta_str(gguf, "tokenizer.ggml.model")?
            .ok_or_else(|| tokenizer_error(path, "tokenizer.ggml.model is missing"))?
            .to_owned();
        let types = match meta_array(gguf, "tokenizer.ggml.token_type")? {
            None => vec![1; tokens.len()],
            Some(values) => {
                check_len(gguf, "tokenizer.ggml.token_type", values.len(), tokens.len())?;
                values
                    .iter()
                    .map(|v| {
                        integer(v).ok_or_else(|| tokenizer_error(path, "tokenizer.ggml.token_type holds a non-integer"))
                    })
                    .collect::<Result<_>>()?
            }
        };
        Ok(GgufVocab { model, tokens, types })
    }

    /// `tokenizer.ggml.<kind>_token_id`, checked to be a token of this vocabulary.
    fn special(&self, gguf: &GgufFile, kind: &str) -> Result<Option<u32>> {
        let key = format!("tokenizer.ggml.{kind}_token_id");
        let Some(value) = gguf.meta(&key) else { return Ok(None) };
        match integer(value).and_then(|id| u32::try_from(id).ok()) {
            Some(id) if (id as usize) < self.tokens.len() => Ok(Some(id)),
            _ => Err(tokenizer_error(&gguf.path, format!("{key} is not an id below {}", self.tokens.len()))),
        }
    }

    /// Control (and unknown) tokens as special added tokens, user-defined ones as plain added
    /// tokens: llama.cpp matches both whole in the text before splitting the rest. Only tokens
    /// that `spelled_as_vocab` accepts are added, so each keeps its own id.
    fn added_tokens(&self, spelled_as_vocab: impl Fn(&str) -> bool) -> Vec<AddedToken> {
        self.tokens
            .iter()
            .zip(&self.types)
            .filter(|(token, _)| spelled_as_vocab(token))
            .filter_map(|(token, &ty)| match ty {
                TYPE_UNKNOWN | TYPE_CONTROL => Some(AddedToken::from(token.clone(), true).normalized(false)),
                TYPE_USER_DEFINED => Some(AddedToken::from(token.clone(), false).normalized(false)),
                _ => None,
            })
            .collect()
    }

    /// Token to id; where a token repeats, the last id wins, as in llama.cpp and transformers.
    fn vocab(&self, spell: impl Fn(&str) -> String) -> Vocab {
        self.tokens.iter().zip(0u32..).map(|(t, id)| (spell(t), id)).collect()
    }
}

fn meta_array<'g>(gguf: &'g GgufFile, key: &str) -> Result<Option<&'g [MetaValue]>> {
    gguf.meta(key)
        .map(|v| v.as_array().ok_or_else(|| tokenizer_error(&gguf.path, format!("{key} is not an array"))))
        .transpose()
}

fn meta_str<'g>(gguf: &'g GgufFile, key: &str) -> Result<Option<&'g str>> {
    gguf.meta(key)
        .map(|v| v.as_str().ok_or_else(|| tokenizer_error(&gguf.path, format!("{key} is not a string"))))
        .transpose()
}

fn meta_bool(gguf: &GgufFile, key: &str) -> Result<Option<bool>> {
    gguf.meta(key)
        .map(|v| v.as_bool().ok_or_else(|| tokenizer_error(&gguf.path, format!("{key} is not a boolean"))))
        .transpose()
}

fn check_len(gguf: &GgufFile, key: &str, len: usize, tokens: usize) -> Result<()> {
    if len == tokens {
        return Ok(());
    }
    Err(tokenizer_error(&gguf.path, format!("{key} has {len} entries but tokenizer.ggml.tokens has {tokens}")))
}

/// Any integer variant: writers differ in which they use for ids and token types.
fn integer(value: &MetaValue) -> Option<i64> {
    match *value {
        MetaValue::U8(v) => Some(v.into()),
        MetaValue::I8(v) => Some(v.into()),
        MetaValue::U16(v) => Some(v.into()),
        MetaValue::I16(v) => Some(v.into()),
        MetaValue::U32(v) => Some(v.into()),
        MetaValue::I32(v) => Some(v.into()),
        MetaValue::U64(v) => i64::try_from(v).ok(),
        MetaValue::I64(v) => Some(v),
        _ => None,
    }
}

/// `tokenizer.ggml.merges`: "left right" strings, best first.
fn gguf_merges(gguf: &GgufFile) -> Result<Option<Merges>> {
    let Some(values) = meta_array(gguf, "tokenizer.ggml.merges")? else { return Ok(None) };
    let merge = |(i, v): (usize, &MetaValue)| {
        v.as_str().and_then(|m| m.split_once(' ')).map(|(l, r)| (l.to_owned(), r.to_owned())).ok_or_else(|| {
            tokenizer_error(&gguf.path, format!("tokenizer.ggml.merges[{i}] is not a \"left right\" string"))
        })
    };
    values.iter().enumerate().map(merge).collect::<Result<_>>().map(Some)
}

fn bpe_error(gguf: &GgufFile, e: tokenizers::Error) -> EngineError {
    tokenizer_error(&gguf.path, format!("building BPE from the vocabulary: {e}"))
}

// ---- "gpt2": byte-level BPE ---------------------------------------------------------------------

/// GPT-2's table from bytes to the printable characters byte-level vocabularies are written in:
/// printable Latin-1 stands for itself; the k-th of the other bytes, in order, is U+0100 + k.
const fn is_printable(b: u8) -> bool {
    matches!(b, 0x21..=0x7E | 0xA1..=0xAC | 0xAE..=0xFF)
}

/// The bytes without a printable character of their own, in the order they are shifted up.
const SHIFTED: [u8; 68] = shifted_bytes();

const fn shifted_bytes() -> [u8; 68] {
    let mut shifted = [0; 68];
    let (mut n, mut b) = (0, 0);
    while b < 256 {
        if !is_printable(b as u8) {
            shifted[n] = b as u8;
            n += 1;
        }
        b += 1;
    }
    shifted
}

/// The character a byte is written as.
fn byte_char(b: u8) -> char {
    match SHIFTED.iter().position(|&s| s == b) {
        Some(k) => char::from_u32(0x100 + k as u32).unwrap_or(char::REPLACEMENT_CHARACTER),
        None => b as char,
    }
}

/// The byte a byte-level character stands for, if it is one.
fn byte_of(c: char) -> Option<u8> {
    match c as u32 {
        n @ 0..=0xFF if is_printable(n as u8) => Some(n as u8),
        n @ 0x100..=0x143 => Some(SHIFTED[n as usize - 0x100]),
        _ => None,
    }
}

fn is_byte_level(token: &str) -> bool {
    token.chars().all(|c| byte_of(c).is_some())
}

/// Some converters store user-defined tokens as raw text ("\n\n", "  "); the model's vocabulary
/// spells those through the byte table, as transformers' GGUF loader does.
fn byte_level_spelling(token: &str) -> String {
    if is_byte_level(token) {
        token.to_owned()
    } else {
        token.bytes().map(byte_char).collect()
    }
}

/// How text is cut into words before BPE, by `tokenizer.ggml.pre`, mirroring the regexes in
/// llama.cpp's llama-vocab.cpp and the pre-tokenizers of those models' tokenizer.json.
enum PreSplit {
    /// GPT-2's regex, inside HF's ByteLevel pre-tokenizer.
    Gpt2,
    /// Every digit on its own first (SmolLM, StarCoder, …), then GPT-2's regex.
    DigitsThenGpt2,
    /// Llama 3's regex. `ignore_merges`: a word already in the vocabulary is one token, as Llama 3's
    /// tokenizer.json and llama.cpp's "llama-bpe" do.
    Llama3 { ignore_merges: bool },
}

const LLAMA3_SPLIT: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

impl PreSplit {
    /// A name llama.cpp knows but this list does not (or none) falls back to GPT-2's split, which
    /// llama.cpp itself uses for "default": most byte-level vocabularies were trained on a
    /// variant of it, so text still tokenizes sensibly, if not always as the model's own would.
    fn from_pre(pre: Option<&str>) -> PreSplit {
        match pre.unwrap_or("default") {
            "smollm" | "starcoder" | "refact" | "command-r" | "codeshell" | "exaone" | "minerva" => {
                PreSplit::DigitsThenGpt2
            }
            "llama-bpe" | "llama3" | "llama-v3" | "falcon3" | "pixtral" => PreSplit::Llama3 { ignore_merges: true },
            "dbrx" | "smaug-bpe" => PreSplit::Llama3 { ignore_merges: false },
            _ => PreSplit::Gpt2,
        }
    }

    fn pre_tokenizer(&self) -> tokenizers::Result<PreTokenizerWrapper> {
        let gpt2 = ByteLevel::new(false, true, true);
        Ok(match self {
            PreSplit::Gpt2 => gpt2.into(),
            PreSplit::DigitsThenGpt2 => PreTokenizerSequence::new(vec![Digits::new(true).into(), gpt2.into()]).into(),
            PreSplit::Llama3 { .. } => {
                let split =
                    Split::new(SplitPattern::Regex(LLAMA3_SPLIT.into()), SplitDelimiterBehavior::Isolated, false)?;
                PreTokenizerSequence::new(vec![split.into(), ByteLevel::new(false, true, false).into()]).into()
            }
        })
    }

    fn ignore_merges(&self) -> bool {
        matches!(self, PreSplit::Llama3 { ignore_merges: true })
    }
}

fn byte_level_bpe(gguf: &GgufFile, vocab: &GgufVocab) -> Result<tokenizers::Tokenizer> {
    let merges = gguf_merges(gguf)?.ok_or_else(|| {
        tokenizer_error(&gguf.path, "a \"gpt2\" tokenizer needs tokenizer.ggml.merges, which is missing")
    })?;
    let split = PreSplit::from_pre(meta_str(gguf, "tokenizer.ggml.pre")?);
    let model = BPE::builder()
        .vocab_and_merges(vocab.vocab(byte_level_spelling), merges)
        .ignore_merges(split.ignore_merges())
        .build()
        .map_err(|e| bpe_error(gguf, e))?;
    let mut inner = tokenizers::Tokenizer::new(model);
    inner.with_pre_tokenizer(Some(split.pre_tokenizer().map_err(|e| bpe_error(gguf, e))?));
    inner.with_decoder(Some(ByteLevel::default()));
    inner.add_special_tokens(&vocab.added_tokens(is_byte_level));
    Ok(inner)
}

// ---- "llama": SentencePiece ---------------------------------------------------------------------

/// SentencePiece BPE as transformers' GGUF loader and Llama-2's tokenizer.json build it: BPE with
/// byte fallback over merges recovered from the scores, a normalizer that writes spaces as "▁"
/// and puts one in front of the text, and a decoder that undoes both.
///
/// The "▁" in front comes from a normalizer rather than a Metaspace pre-tokenizer because that is
/// what sentencepiece does with Llama's settings: "  hi" is "▁▁▁hi", where Metaspace leaves
/// "▁▁hi". `tokenizer.ggml.add_space_prefix` = false drops it.
fn sentencepiece_bpe(gguf: &GgufFile, vocab: &GgufVocab) -> Result<tokenizers::Tokenizer> {
    let merges = match gguf_merges(gguf)? {
        Some(merges) => merges,
        None => merges_from_scores(&vocab.tokens, &scores(gguf, vocab)?),
    };
    let unk = vocab
        .special(gguf, "unknown")?
        .or_else(|| vocab.types.iter().position(|&t| t == TYPE_UNKNOWN).map(|i| i as u32));
    let mut builder =
        BPE::builder().vocab_and_merges(vocab.vocab(str::to_owned), merges).byte_fallback(true).fuse_unk(true);
    if let Some(unk) = unk {
        builder = builder.unk_token(vocab.tokens[unk as usize].clone());
    }
    let model = builder.build().map_err(|e| bpe_error(gguf, e))?;
    let space_prefix = meta_bool(gguf, "tokenizer.ggml.add_space_prefix")?.unwrap_or(true);

    let mut inner = tokenizers::Tokenizer::new(model);
    inner.with_normalizer(Some(metaspace_normalizer(space_prefix).map_err(|e| bpe_error(gguf, e))?));
    inner.with_decoder(Some(metaspace_decoder(space_prefix).map_err(|e| bpe_error(gguf, e))?));
    inner.add_special_tokens(&vocab.added_tokens(|_| true));
    Ok(inner)
}

fn scores(gguf: &GgufFile, vocab: &GgufVocab) -> Result<Vec<f64>> {
    let values = meta_array(gguf, "tokenizer.ggml.scores")?.ok_or_else(|| {
        tokenizer_error(
            &gguf.path,
            "a \"llama\" tokenizer without merges needs tokenizer.ggml.scores, which is missing",
        )
    })?;
    check_len(gguf, "tokenizer.ggml.scores", values.len(), vocab.tokens.len())?;
    values
        .iter()
        .map(|v| match *v {
            MetaValue::F32(s) => Ok(s.into()),
            MetaValue::F64(s) => Ok(s),
            _ => Err(tokenizer_error(&gguf.path, "tokenizer.ggml.scores holds a non-float")),
        })
        .collect()
}

/// The merges a SentencePiece vocabulary implies, ordered as transformers' `generate_merges` orders
/// them, so ties break the same way: every split of every token into two tokens, the splits of
/// one token by the ids of their halves, then all by score, longer left and right halves first,
/// stable otherwise.
fn merges_from_scores(tokens: &[String], scores: &[f64]) -> Merges {
    let ids: HashMap<&str, usize> = tokens.iter().enumerate().map(|(i, t)| (t.as_str(), i)).collect();
    // A repeated token keeps its first place and its last score, as a Python dict built from pairs does.
    let mut first_seen = HashSet::new();
    let mut candidates = Vec::new();
    for token in tokens {
        if !first_seen.insert(token.as_str()) {
            continue;
        }
        let score = scores[ids[token.as_str()]];
        let start = candidates.len();
        for (at, _) in token.char_indices().skip(1) {
            let (left, right) = token.split_at(at);
            if let (Some(&l), Some(&r)) = (ids.get(left), ids.get(right)) {
                candidates.push((left, right, score, (l, r)));
            }
        }
        candidates[start..].sort_by_key(|c| c.3);
    }
    let chars = |s: &str| s.chars().count();
    candidates.sort_by(|a, b| {
        b.2.total_cmp(&a.2).then_with(|| chars(b.0).cmp(&chars(a.0))).then_with(|| chars(b.1).cmp(&chars(a.1)))
    });
    candidates.into_iter().map(|(l, r, _, _)| (l.to_owned(), r.to_owned())).collect()
}

fn metaspace_normalizer(space_prefix: bool) -> tokenizers::Result<NormalizerWrapper> {
    let spaces = Replace::new(" ", METASPACE.to_string())?;
    Ok(if space_prefix {
        NormalizerSequence::new(vec![Prepend::new(METASPACE.to_string()).into(), spaces.into()]).into()
    } else {
        spaces.into()
    })
}

fn metaspace_decoder(space_prefix: bool) -> tokenizers::Result<DecoderWrapper> {
    let mut steps: Vec<DecoderWrapper> =
        vec![Replace::new(METASPACE.to_string(), " ")?.into(), ByteFallback::new().into(), Fuse::new().into()];
    if space_prefix {
        steps.push(Strip::new(' ', 1, 0).into());
    }
    Ok(DecoderSequence::new(steps).into())
}

// ---- Display ------------------------------------------------------------------------------------

impl Spelling {
    /// The bytes a vocabulary entry stands for.
    fn bytes_of(self, token: &str) -> Vec<u8> {
        match self {
            Spelling::ByteLevel if is_byte_level(token) => token.chars().filter_map(byte_of).collect(),
            Spelling::Metaspace => match sentencepiece_byte(token) {
                Some(b) => vec![b],
                None => token.replace(METASPACE, " ").into_bytes(),
            },
            _ => token.as_bytes().to_vec(),
        }
    }
}

/// SentencePiece's byte tokens, `<0x0A>`.
fn sentencepiece_byte(token: &str) -> Option<u8> {
    let hex = token.strip_prefix("<0x")?.strip_suffix('>')?;
    if hex.len() != 2 {
        return None;
    }
    u8::from_str_radix(hex, 16).ok()
}

/// Bytes as one line of visible text: invalid UTF-8 (a token holding part of a character) as
/// "\xE6", whitespace and control characters as escapes or '␣'.
fn render_bytes(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.utf8_chunks() {
        chunk.valid().chars().for_each(|c| push_visible(&mut out, c));
        chunk.invalid().iter().for_each(|b| out.push_str(&format!("\\x{b:02X}")));
    }
    out
}

fn push_visible(out: &mut String, c: char) {
    match c {
        ' ' => out.push('␣'),
        '\n' => out.push_str("\\n"),
        '\t' => out.push_str("\\t"),
        '\r' => out.push_str("\\r"),
        c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
        c => out.push(c),
    }
}

#[cfg(test)]
mod tests {
    //! Ids come from the references in tests/fixtures/tokenizer (sentencepiece, the `tokenizers`
    //! library, transformers), written by scripts/make_tokenizer_fixtures.py.
    use super::*;
    use serde::Deserialize;

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tokenizer").join(name)
    }

    #[derive(Deserialize)]
    struct Reference<C> {
        vocab_size: usize,
        bos_id: u32,
        eos_id: u32,
        cases: Vec<C>,
    }

    #[derive(Deserialize)]
    struct Case {
        text: String,
        ids: Vec<u32>,
        decoded: String,
    }

    /// bpe.json: each text's ids from hf-dir and the byte-level GGUFs, and under GPT-2's split of
    /// hf-dir's vocabulary; every byte-level decoding gives the text back.
    #[derive(Deserialize)]
    struct BpeCase {
        text: String,
        hf_dir: Vec<u32>,
        smollm: Vec<u32>,
        #[serde(rename = "llama-bpe")]
        llama_bpe: Vec<u32>,
        gpt2: Vec<u32>,
        decoded: String,
    }

    fn reference<C: for<'de> Deserialize<'de>>(name: &str) -> Reference<C> {
        serde_json::from_str(&std::fs::read_to_string(fixture(name)).unwrap()).unwrap()
    }

    fn gguf(name: &str) -> GgufFile {
        GgufFile::open(&fixture(name)).unwrap()
    }

    fn problem(result: Result<Tokenizer>) -> String {
        match result {
            Ok(_) => panic!("expected an error"),
            Err(e) => e.to_string(),
        }
    }

    /// Each case's ids, and its text back from them; `from_bos`: the reference decoded the ids
    /// after the BOS the tokenizer adds.
    fn assert_round_trips(tok: &Tokenizer, text: &str, ids: &[u32], decoded: &str, from_bos: bool) {
        assert_eq!(tok.encode(text).unwrap(), ids, "encoding {text:?}");
        let body = if from_bos { &ids[1..] } else { ids };
        assert_eq!(tok.decode(body), decoded, "decoding the ids of {text:?}");
    }

    #[test]
    fn sentencepiece_gguf_matches_sentencepiece() {
        let tok = Tokenizer::from_gguf(&gguf("spm.gguf")).unwrap();
        let reference: Reference<Case> = reference("spm.json");
        assert_eq!(tok.vocab_size(), reference.vocab_size);
        assert_eq!(tok.bos_id(), Some(reference.bos_id));
        assert_eq!(tok.eos_id(), Some(reference.eos_id));
        for case in &reference.cases {
            assert_round_trips(&tok, &case.text, &case.ids, &case.decoded, true);
        }
    }

    #[test]
    fn sentencepiece_tokens_display_readably() {
        let tok = Tokenizer::from_gguf(&gguf("spm.gguf")).unwrap();
        let show = |token: &str| tok.token_display(tok.id_of(token).unwrap());
        assert_eq!(show("<s>"), "<s>");
        assert_eq!(show("<unk>"), "<unk>");
        assert_eq!(show("<0x0A>"), "\\n");
        assert_eq!(show("<0x20>"), "␣");
        assert_eq!(show("<0xE6>"), "\\xE6");
        assert_eq!(show("▁the"), "␣the");
        assert_eq!(show("▁▁"), "␣␣");
        assert_eq!(show("he"), "he");
        assert_eq!(tok.token_display(100_000), "<id 100000?>");
    }

    #[test]
    fn byte_level_gguf_splits_by_its_pre_tokenizer() {
        let reference: Reference<BpeCase> = reference("bpe.json");
        let smollm = Tokenizer::from_gguf(&gguf("bpe-smollm.gguf")).unwrap();
        let llama3 = Tokenizer::from_gguf(&gguf("bpe-llama3.gguf")).unwrap();
        assert_eq!(smollm.vocab_size(), reference.vocab_size);
        assert_eq!((smollm.bos_id(), smollm.eos_id()), (Some(reference.bos_id), Some(reference.eos_id)));
        for case in &reference.cases {
            assert_round_trips(&smollm, &case.text, &case.smollm, &case.decoded, true);
            assert_round_trips(&llama3, &case.text, &case.llama_bpe, &case.decoded, true);
        }
    }

    #[test]
    fn unknown_pre_tokenizer_falls_back_to_gpt2() {
        let mut file = gguf("bpe-smollm.gguf");
        file.metadata.insert("tokenizer.ggml.pre".into(), MetaValue::String("no-such-model".into()));
        let tok = Tokenizer::from_gguf(&file).unwrap();
        let reference: Reference<BpeCase> = reference("bpe.json");
        for case in &reference.cases {
            assert_eq!(tok.encode(&case.text).unwrap(), case.gpt2, "encoding {:?}", case.text);
        }
    }

    #[test]
    fn byte_level_tokens_display_readably() {
        let tok = Tokenizer::from_gguf(&gguf("bpe-smollm.gguf")).unwrap();
        let show = |token: &str| tok.token_display(tok.id_of(token).unwrap());
        assert_eq!(show("Ġ"), "␣");
        assert_eq!(show("Ċ"), "\\n");
        assert_eq!(show("ĉ"), "\\t");
        assert_eq!(show("Ã"), "\\xC3");
        assert_eq!(show("<|user|>"), "<|user|>");
        assert_eq!(show("<s>"), "<s>");
    }

    /// Anchors from GPT-2's bytes_to_unicode, and the two directions agreeing everywhere.
    #[test]
    fn byte_table_is_gpt2s() {
        assert_eq!([b' ', b'\n', b'\t', 0x7F, 0xAD, b'a', 0xE9].map(byte_char), ['Ġ', 'Ċ', 'ĉ', 'ġ', 'Ń', 'a', 'é']);
        assert!((0..=255).all(|b| byte_of(byte_char(b)) == Some(b)));
        assert_eq!(byte_of('ń'), None);
    }

    #[test]
    fn hf_dir_matches_the_tokenizers_library() {
        let tok = Tokenizer::from_hf_dir(&fixture("hf-dir")).unwrap();
        let reference: Reference<BpeCase> = reference("bpe.json");
        assert_eq!(tok.vocab_size(), reference.vocab_size);
        assert_eq!((tok.bos_id(), tok.eos_id()), (Some(reference.bos_id), Some(reference.eos_id)));
        for case in &reference.cases {
            assert_round_trips(&tok, &case.text, &case.hf_dir, &case.decoded, true);
        }
        assert_eq!(tok.token_display(tok.id_of("Ġ").unwrap()), "␣");
        assert_eq!(tok.token_display(reference.bos_id), "<s>");
    }

    /// An explicit add_bos_token replaces the post-processor's rule, as in transformers; with no
    /// token names in tokenizer_config.json the ids come from config.json.
    #[test]
    fn hf_dir_add_bos_token_overrides_the_post_processor() {
        let dir = std::env::temp_dir().join(format!("neuronav-tokenizer-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(fixture("hf-dir/tokenizer.json"), dir.join("tokenizer.json")).unwrap();
        std::fs::write(dir.join("tokenizer_config.json"), r#"{"add_bos_token": false}"#).unwrap();
        std::fs::write(dir.join("config.json"), r#"{"bos_token_id": 1, "eos_token_id": [2, 3]}"#).unwrap();
        let tok = Tokenizer::from_hf_dir(&dir);
        std::fs::remove_dir_all(&dir).unwrap();
        let tok = tok.unwrap();
        let reference: Reference<BpeCase> = reference("bpe.json");
        assert_eq!((tok.bos_id(), tok.eos_id()), (Some(1), Some(2)));
        for case in &reference.cases {
            assert_eq!(tok.encode(&case.text).unwrap(), case.hf_dir[1..], "encoding {:?}", case.text);
        }
    }

    #[test]
    fn hf_dir_without_tokenizer_json_names_the_directory() {
        let dir = fixture("no-such-dir");
        let message = problem(Tokenizer::from_hf_dir(&dir));
        assert!(message.contains("no tokenizer.json"), "{message}");
        assert!(message.contains(&dir.display().to_string()), "{message}");
    }

    #[test]
    fn gguf_without_tokens_says_so() {
        let mut file = gguf("spm.gguf");
        file.metadata.remove("tokenizer.ggml.tokens");
        let message = problem(Tokenizer::from_gguf(&file));
        assert!(message.contains("GGUF has no embedded tokenizer (tokenizer.ggml.tokens)"), "{message}");
        assert!(message.contains("spm.gguf"), "{message}");
    }

    /// A change to spm.gguf's metadata that breaks it.
    enum Edit {
        DropLast(&'static str),
        Set(&'static str, MetaValue),
    }

    impl Edit {
        fn apply(self, file: &mut GgufFile) {
            match self {
                Edit::DropLast(key) => match file.metadata.get_mut(key) {
                    Some(MetaValue::Array(values)) => drop(values.pop()),
                    _ => panic!("{key} is not an array"),
                },
                Edit::Set(key, value) => drop(file.metadata.insert(key.into(), value)),
            }
        }
    }

    /// Each edit, and words its error must contain.
    #[test]
    fn malformed_gguf_metadata_is_an_error() {
        let string = |s: &str| MetaValue::String(s.into());
        let cases = [
            (Edit::DropLast("tokenizer.ggml.token_type"), "tokenizer.ggml.token_type has 399 entries"),
            (Edit::DropLast("tokenizer.ggml.scores"), "tokenizer.ggml.scores has 399 entries"),
            (Edit::Set("tokenizer.ggml.model", string("bert")), "tokenizer.ggml.model is \"bert\""),
            (Edit::Set("tokenizer.ggml.model", string("gpt2")), "needs tokenizer.ggml.merges"),
            (Edit::Set("tokenizer.ggml.tokens", MetaValue::Array(vec![MetaValue::U32(7)])), "[0] is not a string"),
            (Edit::Set("tokenizer.ggml.bos_token_id", MetaValue::U32(1 << 20)), "bos_token_id is not an id"),
        ];
        for (edit, expected) in cases {
            let mut file = gguf("spm.gguf");
            edit.apply(&mut file);
            let message = problem(Tokenizer::from_gguf(&file));
            assert!(message.contains(expected), "expected {expected:?} in {message:?}");
            assert!(message.contains("spm.gguf"), "{message}");
        }
    }

    /// The default model's tokenizer; the model is fetched into the cache on first use.
    fn default_model() -> Tokenizer {
        let paths = crate::paths::Paths::resolve().expect("a cache directory");
        let path = crate::engine::default_model::ensure(&paths.cache, &|msg| eprintln!("{msg}"))
            .expect("the default model could be fetched");
        Tokenizer::from_gguf(&GgufFile::open(&path).unwrap()).unwrap()
    }

    #[test]
    fn default_model_splits_digits_one_per_token() {
        let tok = default_model();
        let ids = tok.encode("Q: Roger has 5 tennis balls. 2+3=5").unwrap();
        assert_eq!(ids, [65, 42, 21444, 553, 216, 37, 21059, 14324, 30, 216, 34, 27, 35, 45, 37]);
    }

    #[test]
    fn default_model_matches_transformers() {
        let tok = default_model();
        let reference: Reference<Case> = reference("smollm2.json");
        assert_eq!(tok.vocab_size(), reference.vocab_size);
        assert_eq!((tok.bos_id(), tok.eos_id()), (Some(reference.bos_id), Some(reference.eos_id)));
        for case in &reference.cases {
            assert_round_trips(&tok, &case.text, &case.ids, &case.decoded, false);
        }
        let show = |token: &str| tok.token_display(tok.id_of(token).unwrap());
        assert_eq!(show("<|im_start|>"), "<|im_start|>");
        assert_eq!(show("Ġworld"), "␣world");
        assert_eq!(show("ĊĊ"), "\\n\\n");
    }
}
