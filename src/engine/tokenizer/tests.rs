//! Ids come from the references in tests/fixtures/tokenizer (sentencepiece, the `tokenizers`
//! library, transformers), written by scripts/make_tokenizer_fixtures.py.
use serde::Deserialize;

use super::*;
use crate::engine::weights::gguf::{GgufFile, MetaValue};

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
    assert_eq!(tok.token_display(100_000), "<id 100000>");
    // The decoder would drop an id it has no token for; every id stays visible.
    let he = tok.id_of("he").unwrap();
    assert_eq!(tok.decode(&[he, 100_000]), "he<id 100000>");
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
