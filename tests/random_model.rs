//! Random model files through neuronav's real loading path: written in each weight scheme, opened
//! by the loader (memory map, dequantization, the tokenizer built from metadata) and run.
mod common;

use neuronav::engine::config::{ModelConfig, RopeLayout};
use neuronav::engine::loader::{self, DeviceChoice};
use neuronav::engine::model::WeightDType;
use neuronav::engine::random_model::{RandomModel, WeightScheme};
use neuronav::engine::session::{Control, Session, SessionSettings};
use neuronav::engine::weights::gguf::GgufFile;

const SCHEMES: [WeightScheme; 4] = [WeightScheme::Q4_0, WeightScheme::Q4_K_M, WeightScheme::Q8_0, WeightScheme::F16];

/// Rows of 256 and 512 (whole blocks of every type), grouped heads, three layers so that Q4_K_M
/// mixes Q4_K and Q6_K.
fn model(scheme: WeightScheme) -> RandomModel {
    let config = common::small_config(1000, 3, 512);
    RandomModel { config, scheme, seed: 42, name: "test".into() }
}

/// `W · x` for a `[rows, cols]` matrix, in f64.
fn matvec(w: &[f32], x: &[f64]) -> Vec<f64> {
    w.chunks_exact(x.len()).map(|row| row.iter().zip(x).map(|(&a, b)| f64::from(a) * b).sum()).collect()
}

fn rms_norm(x: &[f64], eps: f64) -> Vec<f64> {
    let scale = 1.0 / (x.iter().map(|v| v * v).sum::<f64>() / x.len() as f64 + eps).sqrt();
    x.iter().map(|v| v * scale).collect()
}

fn assert_close(ours: &[f32], reference: &[f64], what: &str) {
    assert_eq!(ours.len(), reference.len(), "{what}");
    for (i, (&a, &b)) in ours.iter().zip(reference).enumerate() {
        assert!((f64::from(a) - b).abs() <= 1e-4 + 1e-4 * b.abs(), "{what}[{i}]: {a} vs {b}");
    }
}

/// The first layer at the first position, computed on the host from the file's dequantized
/// tensors: with one position, attention returns each head's value vector whatever RoPE does, so
/// `resid_mid = e + W_o · [W_v · norm(e) per head]` and `m = silu(W_gate x) ⊙ (W_up x)` with
/// `x = norm(resid_mid)` (all norm gains are 1).
fn first_layer(gguf: &GgufFile, config: &ModelConfig, token: u32) -> (Vec<f64>, Vec<f64>) {
    let load = |name: &str| gguf.load_f32(name).unwrap().into_f32();
    let d = config.hidden_size;
    let eps = f64::from(config.rms_norm_eps);
    let embed = load("token_embd.weight");
    let e: Vec<f64> = embed[token as usize * d..][..d].iter().map(|&v| f64::from(v)).collect();
    let v = matvec(&load("blk.0.attn_v.weight"), &rms_norm(&e, eps));
    let group = config.num_heads / config.num_kv_heads;
    let heads: Vec<f64> =
        (0..config.num_heads).flat_map(|h| v[(h / group) * config.head_dim..][..config.head_dim].to_vec()).collect();
    let o = matvec(&load("blk.0.attn_output.weight"), &heads);
    let resid_mid: Vec<f64> = e.iter().zip(&o).map(|(a, b)| a + b).collect();
    let x = rms_norm(&resid_mid, eps);
    let gate = matvec(&load("blk.0.ffn_gate.weight"), &x);
    let up = matvec(&load("blk.0.ffn_up.weight"), &x);
    let m = gate.iter().zip(&up).map(|(g, u)| g / (1.0 + (-g).exp()) * u).collect();
    (resid_mid, m)
}

/// Each scheme loads as `--model FILE` would: its configuration and tokenizer come from the file,
/// the loaded weights are the file's blocks decoded (the first layer's activations and the value
/// norms match a host computation from the reader's tensors), and a prompt runs and decodes.
#[test]
fn loads_and_runs_in_every_scheme() {
    let dir = tempfile::tempdir().unwrap();
    for scheme in SCHEMES {
        let random = model(scheme);
        let (path, written) = random.ensure(dir.path(), &|_, _| {}).unwrap();
        assert!(written);
        let loaded = loader::load(&path, DeviceChoice::Cpu, WeightDType::F32, &|_, _| {}).unwrap();
        assert_eq!(loaded.config, random.config, "{scheme:?}");
        let text = "The answer is 42.";
        let ids = loaded.tokenizer.encode(text).unwrap();
        assert_eq!(loaded.tokenizer.decode(&ids[1..]), text);

        let gguf = GgufFile::open(&path).unwrap();
        let down = gguf.load_f32("blk.1.ffn_down.weight").unwrap().into_f32();
        let ff = random.config.intermediate_size;
        for j in [0, 17, ff - 1] {
            let norm = down.iter().skip(j).step_by(ff).map(|&v| f64::from(v).powi(2)).sum::<f64>().sqrt();
            assert_close(&loaded.model.value_norms()[1][j..=j], &[norm], &format!("{scheme:?} ‖v_{j}‖"));
        }

        let mut session = Session::new(loaded.model.clone(), loaded.tokenizer.clone(), SessionSettings::default());
        session.run_prompt(text, Control::default()).unwrap();
        let position = session.trace().position(0);
        let (resid_mid, m) = first_layer(&gguf, &random.config, ids[0]);
        assert_close(&position.resid_mid(0).unwrap(), &resid_mid, &format!("{scheme:?} resid_mid"));
        assert_close(&position.m(0).unwrap(), &m, &format!("{scheme:?} m"));
        for _ in 0..3 {
            let token = session.step(Control::default()).unwrap();
            assert!((token as usize) < random.config.vocab_size);
        }
        assert_eq!(session.len(), ids.len() + 3);
    }
}

/// `bench --random PRESET --weights SCHEME` writes the file into the cache once, reports its path
/// and size, benchmarks it through the tokenizer-bearing load path, and reuses it the next time.
#[test]
fn bench_writes_then_reuses_the_file() {
    let home = tempfile::tempdir().unwrap();
    let bench = || -> serde_json::Value {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_neuronav"))
            .env("NEURONAV_HOME", home.path())
            .args(["--device", "cpu", "bench", "--random", "smollm2-135m", "--weights", "q8_0"])
            .args(["--tokens", "8", "--decode", "2", "--repeat", "1", "--json"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let first = bench();
    let file = &first["weights_file"];
    let path = home.path().join("cache/random-models/smollm2-135m-q8_0-seed0.gguf");
    assert_eq!(file["path"].as_str(), path.to_str());
    assert_eq!(file["bytes"].as_u64(), Some(std::fs::metadata(&path).unwrap().len()));
    assert!(file["write_seconds"].as_f64().is_some());
    assert_eq!(first["prompt_tokens"].as_u64(), Some(8));
    let second = bench();
    assert_eq!(second["weights_file"]["path"], file["path"]);
    assert!(second["weights_file"]["write_seconds"].is_null(), "the file is reused");
}

/// Llama-2-7B's file in Q4_K_M (4 GB, minutes to write): the tensor table and metadata open and
/// validate, the configuration and 32000-token tokenizer come from them, and writing it kept
/// memory bounded. Loading its weights needs more memory than a test should take.
/// `cargo test --release --test random_model -- --ignored`
#[test]
#[ignore]
fn llama2_7b_file() {
    use neuronav::engine::config::{self, Preset};
    use neuronav::engine::tokenizer::Tokenizer;
    let dir = tempfile::tempdir().unwrap();
    let random = RandomModel {
        config: Preset::Llama2_7b.config(),
        scheme: WeightScheme::Q4_K_M,
        seed: 0,
        name: "llama2-7b".into(),
    };
    let started = std::time::Instant::now();
    let (path, _) = random.ensure(dir.path(), &|_, _| {}).unwrap();
    let seconds = started.elapsed().as_secs_f64();
    let bytes = std::fs::metadata(&path).unwrap().len();
    let gguf = GgufFile::open(&path).unwrap();
    random.check(&gguf).unwrap();
    let resolved = config::from_gguf(&gguf).unwrap();
    assert_eq!(resolved, ModelConfig { rope_layout: RopeLayout::Interleaved, ..random.config.clone() });
    let tokenizer = Tokenizer::from_gguf(&gguf).unwrap();
    assert_eq!(tokenizer.vocab_size(), 32000);
    let peak = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let peak = peak.lines().find(|l| l.starts_with("VmHWM")).unwrap_or("VmHWM: unknown").to_string();
    eprintln!("{}: {:.2} GB in {seconds:.0} s; {peak}", path.display(), bytes as f64 / 1e9);
    assert!((3.8e9..4.2e9).contains(&(bytes as f64)), "{bytes} bytes");
}
