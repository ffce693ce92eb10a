use std::path::Path;

use super::*;
use crate::engine::config::{self, RopeLayout};
use crate::engine::tokenizer::Tokenizer;
use crate::engine::weights::gguf::GgmlType;
use crate::engine::weights::quant::dequantize;
use crate::engine::weights::quantize::quantize_to_vec;

const SCHEMES: [WeightScheme; 4] = [WeightScheme::Q4_0, WeightScheme::Q4_K_M, WeightScheme::Q8_0, WeightScheme::F16];

/// Rows of 256 (whole k-quant blocks), three layers (Q4_K_M's more-bits rule picks layer 2),
/// grouped heads, a vocabulary that stops inside the word list.
pub(crate) fn tiny(scheme: WeightScheme) -> RandomModel {
    let config = ModelConfig {
        vocab_size: 700,
        hidden_size: 256,
        intermediate_size: 512,
        num_layers: 3,
        num_heads: 4,
        num_kv_heads: 2,
        head_dim: 64,
        rope_theta: 10_000.0,
        rope_layout: RopeLayout::Interleaved,
        rms_norm_eps: 1e-5,
        context_length: 512,
        tie_word_embeddings: false,
    };
    RandomModel { config, scheme, seed: 7, name: "tiny".into() }
}

/// What the reader must find for `weight`: its values quantized and decoded.
fn decoded(model: &RandomModel, weight: Weight, ty: GgmlType) -> Vec<f32> {
    let values = model.values(weight);
    let bytes = quantize_to_vec(ty, &values).unwrap();
    let mut out = vec![0.0; values.len()];
    dequantize(ty, &bytes, values.len(), &mut out).unwrap();
    out
}

fn write(model: &RandomModel, dir: &Path) -> GgufFile {
    let path = dir.join(model.file_name());
    model.write(&path, &|_, _| {}).unwrap();
    GgufFile::open(&path).unwrap()
}

/// Each scheme's file opens in the validating reader with the planned table, resolves to the
/// configuration it was made from, and every tensor decodes to its values' quantize-dequantize.
#[test]
fn every_tensor_reads_back_as_its_blocks() {
    let dir = tempfile::tempdir().unwrap();
    for scheme in SCHEMES {
        let model = tiny(scheme);
        let gguf = write(&model, dir.path());
        model.check(&gguf).unwrap();
        let resolved = config::from_gguf(&gguf).unwrap();
        assert_eq!(resolved, model.config, "{scheme:?}");
        assert_eq!(gguf.meta("general.file_type"), Some(&MetaValue::U32(scheme.file_type())));
        for t in model.plan() {
            let info = gguf.tensor_info(&t.entry.name).unwrap();
            assert_eq!((&info.shape, info.ty), (&t.entry.shape, t.entry.ty), "{}", info.name);
            let loaded = gguf.load_f32(&info.name).unwrap().into_f32();
            let want = decoded(&model, t.weight, info.ty);
            assert!(loaded.iter().zip(&want).all(|(a, b)| a.to_bits() == b.to_bits()), "{scheme:?} {}", info.name);
        }
    }
}

#[test]
fn types_per_scheme() {
    let types = |scheme| -> Vec<(String, GgmlType)> {
        tiny(scheme).plan().into_iter().map(|t| (t.entry.name, t.entry.ty)).collect()
    };
    let q4_k_m = types(WeightScheme::Q4_K_M);
    let ty = |name: &str| q4_k_m.iter().find(|(n, _)| n == name).unwrap().1;
    assert_eq!(ty("blk.1.attn_v.weight"), GgmlType::Q4_K);
    assert_eq!(ty("blk.2.attn_v.weight"), GgmlType::Q6_K);
    assert_eq!(ty("blk.2.ffn_down.weight"), GgmlType::Q6_K);
    assert_eq!(ty("blk.2.ffn_up.weight"), GgmlType::Q4_K);
    assert_eq!(ty("output.weight"), GgmlType::Q6_K);
    assert_eq!(ty("output_norm.weight"), GgmlType::F32);
    assert_eq!(q4_k_m.len(), 1 + 9 * 3 + 2);
    assert_eq!(q4_k_m[0].0, "token_embd.weight");
    for (name, ty) in types(WeightScheme::Q8_0) {
        assert_eq!(ty, if name.contains("norm") { GgmlType::F32 } else { GgmlType::Q8_0 }, "{name}");
    }
}

/// Values depend on the seed, weight and row only, not on the threads that draw them, and have
/// the documented scales.
#[test]
fn values_are_deterministic() {
    let model = tiny(WeightScheme::F16);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    let one_thread = pool.install(|| model.values(Weight::UpProj(1)));
    assert_eq!(one_thread, model.values(Weight::UpProj(1)));
    assert_ne!(one_thread, model.values(Weight::GateProj(1)));
    let other_seed = RandomModel { seed: 8, ..tiny(WeightScheme::F16) };
    assert_ne!(one_thread, other_seed.values(Weight::UpProj(1)));
    let std = |v: &[f32]| (v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>() / v.len() as f64).sqrt();
    assert!((std(&one_thread) - 1.0 / 16.0).abs() < 0.002, "{}", std(&one_thread));
    assert!((std(&model.values(Weight::DownProj(0))) - 1.0 / 512f64.sqrt()).abs() < 0.002);
    assert!((std(&model.values(Weight::Embed)) - 1.0).abs() < 0.01);
    assert!(model.values(Weight::FfnNorm(2)).iter().all(|&x| x == 1.0));
}

/// A valid file of the model is reused; a damaged one, or another model's, is rewritten.
#[test]
fn ensure_reuses_only_valid_files() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny(WeightScheme::Q8_0);
    let (path, written) = model.ensure(dir.path(), &|_, _| {}).unwrap();
    assert!(written);
    assert_eq!(path, dir.path().join("tiny-q8_0-seed7.gguf"));
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(model.ensure(dir.path(), &|_, _| {}).unwrap(), (path.clone(), false));

    std::fs::write(&path, &bytes[..bytes.len() - 100]).unwrap();
    assert_eq!(model.ensure(dir.path(), &|_, _| {}).unwrap(), (path.clone(), true));
    assert_eq!(std::fs::read(&path).unwrap(), bytes);

    let other = RandomModel { seed: 3, ..tiny(WeightScheme::Q8_0) };
    let (other_path, _) = other.ensure(dir.path(), &|_, _| {}).unwrap();
    std::fs::copy(&other_path, &path).unwrap();
    let problem = model.check(&GgufFile::open(&path).unwrap()).unwrap_err();
    assert!(problem.contains("\"random tiny q8_0 seed 3\""), "{problem}");
    assert_eq!(model.ensure(dir.path(), &|_, _| {}).unwrap(), (path.clone(), true));
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
    let f16 = tiny(WeightScheme::F16);
    assert!(f16.check(&GgufFile::open(&path).unwrap()).is_err());
}

#[test]
fn progress_counts_every_byte() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny(WeightScheme::Q4_K_M);
    let last = std::sync::Mutex::new((0, 0));
    model.write(&dir.path().join("m.gguf"), &|done, total| *last.lock().unwrap() = (done, total)).unwrap();
    let (done, total) = *last.lock().unwrap();
    let data: u64 = model.plan().iter().map(|t| t.entry.n_bytes().unwrap() as u64).sum();
    assert_eq!((done, total), (data, data));
}

/// Llama-2's vocabulary size: the tokenizer neuronav builds from the metadata splits text into
/// whole words and spells numbers digit by digit, and every text round-trips, bytes included.
#[test]
fn tokenizer_from_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let model = RandomModel {
        config: ModelConfig { vocab_size: 32000, ..tiny(WeightScheme::F16).config },
        ..tiny(WeightScheme::F16)
    };
    let path = dir.path().join("vocab.gguf");
    GgufWriter::create(&path, &model.metadata().unwrap(), &[]).unwrap().finish().unwrap();
    let tokenizer = Tokenizer::from_gguf(&GgufFile::open(&path).unwrap()).unwrap();
    assert_eq!(tokenizer.vocab_size(), 32000);
    assert_eq!((tokenizer.bos_id(), tokenizer.eos_id()), (Some(1), Some(2)));
    let ids = tokenizer.encode("The answer is 42.").unwrap();
    let id = |t: &str| tokenizer.id_of(t).unwrap();
    assert_eq!(ids, [1, id("▁The"), id("▁answer"), id("▁is"), id("▁"), id("4"), id("2"), id(".")]);
    let texts = [
        "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May.",
        "  def f(x):\n\treturn x * 2  # twice\n",
        "Ünïcödé, 你好 and 🙂 fall back to bytes.",
        "",
    ];
    for text in texts {
        let ids = tokenizer.encode(text).unwrap();
        assert_eq!(ids[0], 1);
        assert_eq!(tokenizer.decode(&ids[1..]), text);
    }
    let ids = tokenizer.encode(texts[0]).unwrap();
    let shown: Vec<String> = ids.iter().map(|&id| tokenizer.token_display(id)).collect();
    for word in ["␣sold", "␣friends", "␣half", "␣many", "␣May", ","] {
        assert!(shown.iter().any(|t| t == word), "{word} in {shown:?}");
    }
    assert_eq!(tokenizer.token_display(id("▁friends")), "␣friends");
    assert_eq!(tokenizer.token_display(13), "\\n");
}
