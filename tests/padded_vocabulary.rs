//! GGUF files whose embedding has rows past the tokenizer's tokens, as files rounded up to a
//! multiple of 64 have: the padding is accepted and never read (no logit, sampled token,
//! next-token list or promoted token names an id without text), and ids without a token show as
//! `<id N>`. A tokenizer with more tokens than the embedding has rows is refused, naming the file.
mod common;

use std::path::Path;

use half::f16;
use neuronav::engine::config::ModelConfig;
use neuronav::engine::error::EngineError;
use neuronav::engine::loader::{self, DeviceChoice, LoadedModel};
use neuronav::engine::model::WeightDType;
use neuronav::engine::random_model::{RandomModel, WeightScheme};
use neuronav::engine::sampling::Sampling;
use neuronav::engine::session::{Control, Session, SessionSettings};
use neuronav::engine::weights::gguf::{GgmlType, GgufFile, MetaValue};
use neuronav::engine::weights::gguf_writer::{GgufWriter, TensorEntry};
use neuronav::science::projection::{self, ProjectionSettings, TokenLogit};
use neuronav::science::vocab_index::VocabIndex;

/// Rows of the embedding and unembedding.
const ROWS: usize = 1000;
/// Tokens of the padded file's tokenizer: rows 990..1000 are padding.
const TOKENS: usize = 990;
/// The padding rows of W_U are scaled by this, so that a reader that used them would see them
/// win the argmax and most promoted lists.
const LOUD: f32 = 64.0;

fn random(tied: bool) -> RandomModel {
    let config = ModelConfig { tie_word_embeddings: tied, ..common::small_config(ROWS, 2, 256) };
    RandomModel { config, scheme: WeightScheme::F16, seed: 3, name: "padded".into() }
}

/// Rewrites the GGUF at `src` to `dst` with a tokenizer of `tokens` tokens (the first ones, or all
/// of them and made-up ones after) and the rows of the unembedding from `TOKENS` on scaled by
/// `LOUD`. Everything else is copied as it is.
fn rewrite(src: &Path, dst: &Path, tokens: usize) {
    let gguf = GgufFile::open(src).unwrap();
    let resize = |key: &str, extra: &dyn Fn(usize) -> MetaValue| {
        let mut values = gguf.meta(key).unwrap().as_array().unwrap().to_vec();
        values.truncate(tokens);
        while values.len() < tokens {
            values.push(extra(values.len()));
        }
        MetaValue::Array(values)
    };
    let mut metadata = gguf.metadata.clone();
    metadata.insert(
        "tokenizer.ggml.tokens".into(),
        resize("tokenizer.ggml.tokens", &|i| MetaValue::String(format!("▁extra{i}"))),
    );
    metadata.insert("tokenizer.ggml.scores".into(), resize("tokenizer.ggml.scores", &|_| MetaValue::F32(-1e4)));
    metadata.insert("tokenizer.ggml.token_type".into(), resize("tokenizer.ggml.token_type", &|_| MetaValue::I32(1)));
    let metadata: Vec<(String, MetaValue)> = metadata.into_iter().collect();
    let entries: Vec<TensorEntry> =
        gguf.tensors().iter().map(|t| TensorEntry::new(t.name.clone(), t.shape.clone(), t.ty)).collect();
    let mut writer = GgufWriter::create(dst, &metadata, &entries).unwrap();
    let unembedding = if gguf.tensor_info("output.weight").is_some() { "output.weight" } else { "token_embd.weight" };
    for t in gguf.tensors() {
        let mut bytes = gguf.tensor_bytes(&t.name).unwrap().to_vec();
        if t.name == unembedding {
            assert_eq!(t.ty, GgmlType::F16);
            let padding_from = TOKENS * t.shape[1] * 2;
            for b in bytes[padding_from..].chunks_exact_mut(2) {
                let loud = f16::from_f32(f16::from_le_bytes([b[0], b[1]]).to_f32() * LOUD);
                b.copy_from_slice(&loud.to_le_bytes());
            }
        }
        writer.write_data(&bytes).unwrap();
    }
    writer.finish().unwrap();
}

fn load(path: &Path) -> LoadedModel {
    loader::load(path, DeviceChoice::Cpu, WeightDType::F32, &|_, _| {}).unwrap()
}

/// The same weights twice: `full` reads every row as a token (its tokenizer has all `ROWS`), as
/// a reader that ignored padding would; `padded` has the `TOKENS`-token tokenizer.
fn pair(dir: &Path, tied: bool) -> (LoadedModel, LoadedModel, std::path::PathBuf) {
    let source = dir.join(format!("source-{tied}.gguf"));
    random(tied).write(&source, &|_, _| {}).unwrap();
    let (full, padded) = (dir.join(format!("full-{tied}.gguf")), dir.join(format!("padded-{tied}.gguf")));
    rewrite(&source, &full, ROWS);
    rewrite(&source, &padded, TOKENS);
    (load(&full), load(&padded), padded)
}

fn run(model: &LoadedModel, ids: &[u32], sampling: Sampling) -> Session {
    let settings = SessionSettings { sampling, ..SessionSettings::default() };
    let mut session = Session::new(model.model.clone(), model.tokenizer.clone(), settings);
    session.run_ids(ids.to_vec(), Control::default()).unwrap();
    session
}

fn assert_close(ours: &[f32], reference: &[f32], what: &str) {
    assert_eq!(ours.len(), reference.len(), "{what}");
    for (i, (a, b)) in ours.iter().zip(reference).enumerate() {
        assert!((a - b).abs() <= 1e-4 * (1.0 + b.abs()), "{what}[{i}]: {a} vs {b}");
    }
}

/// The padded file loads with the tokenizer's vocabulary, its logits are the other file's for
/// the real tokens (as if the padding's were −inf), and nothing it produces names a padding id,
/// though the padding would win every argmax were it read.
#[test]
fn padding_rows_are_accepted_and_never_read() {
    let dir = tempfile::tempdir().unwrap();
    for tied in [false, true] {
        let (full, padded, path) = pair(dir.path(), tied);
        let gguf = GgufFile::open(&path).unwrap();
        assert_eq!(gguf.tensor_info("token_embd.weight").unwrap().shape, vec![ROWS, 256]);
        assert_eq!((padded.config.vocab_size, padded.tokenizer.vocab_size()), (TOKENS, TOKENS), "tied {tied}");
        assert_eq!(full.config.vocab_size, ROWS);

        let ids = padded.tokenizer.encode("the cat sat on the mat").unwrap();
        assert!(ids.iter().all(|&id| (id as usize) < TOKENS));
        let (a, b) = (run(&full, &ids, Sampling::Greedy), run(&padded, &ids, Sampling::Greedy));
        let last = ids.len() - 1;
        let (all, real) = (a.trace().position(last).logits().unwrap(), b.trace().position(last).logits().unwrap());
        assert!(neuronav::engine::sampling::argmax(all) as usize >= TOKENS, "the padding is loud enough");
        assert_close(real, &all[..TOKENS], &format!("tied {tied}: logits"));

        // Next-token lists, greedy and sampled generation, the lens of every position.
        let next = b.next_tokens(&(0..ids.len()).collect::<Vec<_>>(), 10).unwrap();
        assert!(next.iter().flatten().all(|t| (t.id as usize) < TOKENS), "{next:?}");
        let sum: f32 = next[last].iter().map(|t| t.prob).sum();
        assert!(sum <= 1.0 + 1e-5);
        let mut greedy = b;
        let sampling = Sampling::Random { temperature: 2.0, top_p: 1.0, seed: 5 };
        let mut sampled = run(&padded, &ids, sampling);
        for _ in 0..6 {
            assert!((greedy.step(Control::default()).unwrap() as usize) < TOKENS);
            assert!((sampled.step(Control::default()).unwrap() as usize) < TOKENS);
        }
        let lens = padded.model.logit_lens(&greedy.trace().position(0).resid_post(1).unwrap());
        assert_eq!(lens.len(), TOKENS);

        // A padding id is not a token the model runs on.
        let mut session = Session::new(padded.model.clone(), padded.tokenizer.clone(), SessionSettings::default());
        let err = session.run_ids(vec![1, TOKENS as u32 + 3], Control::default()).unwrap_err();
        assert!(matches!(err, EngineError::OutOfRange(_)), "{err}");
    }
}

/// Promoted and suppressed tokens, one neuron at a time and in the whole-model index, are those
/// of the full file's projection with the padding left out; the full file's own index does list
/// padding ids, so the check can fail.
#[test]
fn promoted_tokens_never_include_padding() {
    let dir = tempfile::tempdir().unwrap();
    let (full, padded, _) = pair(dir.path(), false);
    let settings = ProjectionSettings { n: 20, norm_gain: false };
    let index = VocabIndex::build(padded.model.as_ref(), settings, Control::default()).unwrap();
    let unpadded = VocabIndex::build(full.model.as_ref(), settings, Control::default()).unwrap();
    let config = &padded.config;
    let mut padding_listed = 0;
    for layer in 0..config.num_layers as u32 {
        for index_in_layer in 0..config.intermediate_size as u32 {
            let neuron = neuronav::engine::neuron::NeuronId { layer, index: index_in_layer };
            let row = full.model.project_value_vectors(layer as usize, index_in_layer as usize, 1, false);
            let expected = projection::extremes(&row[..TOKENS], settings.n);
            // The same lists up to the order of near-ties: products over 990 rows and over 1000
            // may round differently in the last bit.
            for (ours, theirs) in [(index.top(neuron), expected.top), (index.bottom(neuron), expected.bottom)] {
                let logits = |v: &[TokenLogit]| v.iter().map(|t| t.logit).collect::<Vec<_>>();
                assert_close(&logits(&ours), &logits(&theirs), &format!("{neuron}"));
                for t in &ours {
                    assert!((t.token as usize) < TOKENS, "{neuron}: {t:?}");
                    assert_close(&[t.logit], &[row[t.token as usize]], &format!("{neuron}: {t:?}"));
                }
            }
            let one = projection::project(padded.model.as_ref(), neuron, settings);
            assert!(one.top.iter().chain(&one.bottom).all(|t| (t.token as usize) < TOKENS), "{neuron}");
            padding_listed += unpadded.top(neuron).iter().filter(|t| t.token as usize >= TOKENS).count();
        }
    }
    assert!(padding_listed > 100, "the padding would be listed {padding_listed} times");
    let hits = index.promoting(&(TOKENS as u32..ROWS as u32).collect::<Vec<_>>());
    assert!(hits.is_empty());
}

/// An index cached before padding was left out names padding ids; it is built again.
#[test]
fn a_cached_index_naming_padding_is_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let (full, padded, _) = pair(dir.path(), false);
    let settings = ProjectionSettings { n: 20, norm_gain: false };
    let cache = dir.path().join("cache");
    let (stale, built) =
        VocabIndex::load_or_build(full.model.as_ref(), &cache, &padded.fingerprint, settings, Control::default())
            .unwrap();
    assert!(built);
    assert!(!stale.promoting(&(TOKENS as u32..ROWS as u32).collect::<Vec<_>>()).is_empty());
    let (index, built) =
        VocabIndex::load_or_build(padded.model.as_ref(), &cache, &padded.fingerprint, settings, Control::default())
            .unwrap();
    assert!(built, "the stale index is not reused");
    assert!(index.promoting(&(TOKENS as u32..ROWS as u32).collect::<Vec<_>>()).is_empty());
    let (_, built) =
        VocabIndex::load_or_build(padded.model.as_ref(), &cache, &padded.fingerprint, settings, Control::default())
            .unwrap();
    assert!(!built, "the new one is");
}

/// Wherever a token is shown, an id without a token shows as `<id N>`.
#[test]
fn ids_without_a_token_show_as_their_number() {
    let dir = tempfile::tempdir().unwrap();
    let (_, padded, _) = pair(dir.path(), true);
    let tok = &padded.tokenizer;
    assert_eq!(tok.token_display(TOKENS as u32 + 5), format!("<id {}>", TOKENS + 5));
    let the = tok.encode("the").unwrap();
    let shown = tok.decode(&[*the.last().unwrap(), TOKENS as u32]);
    assert!(shown.ends_with(&format!("<id {TOKENS}>")), "{shown}");
}

/// More tokens than embedding rows: those tokens would have no embedding, so the file is refused
/// with an error naming it.
#[test]
fn more_tokens_than_rows_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source.gguf");
    random(false).write(&source, &|_, _| {}).unwrap();
    let path = dir.path().join("short-embedding.gguf");
    rewrite(&source, &path, ROWS + 24);
    let err = loader::load(&path, DeviceChoice::Cpu, WeightDType::F32, &|_, _| {}).err().expect("refused");
    assert!(matches!(&err, EngineError::BadFile { path: p, .. } if *p == path), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("1024 tokens") && msg.contains("1000 rows"), "{msg}");
}
