//! Tokenizers rebuilt from GGUF metadata (`tokenizer.ggml.*`): "gpt2" byte-level BPE and
//! "llama" SentencePiece, split and merged as llama.cpp and the models' own `tokenizer.json` do.
use std::collections::{HashMap, HashSet};

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

use super::spelling::{byte_char, is_byte_level, Spelling, METASPACE};
use super::{added_ids, tokenizer_error, Tokenizer};
use crate::engine::error::{EngineError, Result};
use crate::engine::weights::gguf::{GgufFile, MetaValue};

impl Tokenizer {
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
}

// ---- Metadata -----------------------------------------------------------------------------------

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
