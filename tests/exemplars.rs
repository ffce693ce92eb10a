//! Exemplar builds on the tiny model: the kept positions equal a brute-force scan of every
//! position, shards merge into the unsharded file byte for byte, a rebuild and a resumed build
//! give the same bytes, and bad corpora are named.
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use common::fixture;
use neuronav::engine::hook::Hook;
use neuronav::engine::intervention::Interventions;
use neuronav::engine::loader::{self, DeviceChoice, LoadedModel};
use neuronav::engine::model::WeightDType;
use neuronav::engine::neuron::NeuronId;
use neuronav::engine::session::Control;
use neuronav::science::exemplars::build::{self, Outcome, Plan};
use neuronav::science::exemplars::corpus::Corpus;
use neuronav::science::exemplars::file::{ConceptSeeds, ExemplarFile, ModelIdentity, ShardOf, FILE_NAME};
use neuronav::science::exemplars::windows::windows;
use neuronav::science::exemplars::{bin_of, merge, Record, Settings, BINS, SAMPLES_PER_BIN};

const TEXTS: [&str; 5] = [
    "Roger has 5 tennis balls. He buys 2 more cans of 3 balls each. How many does he have now? 5 + 6 = 11.",
    "the cat sat on the mat",
    "2+3=5 and 4*7=28, so the sum is 33 and the product of the sums is large; we add, subtract, multiply and divide",
    "a",
    "Janet's ducks lay 16 eggs per day. She eats three for breakfast every morning and bakes muffins with four.",
];

fn tiny() -> LoadedModel {
    loader::load(&fixture("tiny-llama"), DeviceChoice::Cpu, WeightDType::F32, &|_, _| {}).unwrap()
}

fn corpus_file(dir: &Path, texts: &[&str]) -> PathBuf {
    let path = dir.join("corpus.txt");
    std::fs::write(&path, texts.join("\n\n")).unwrap();
    path
}

fn identity(loaded: &LoadedModel) -> ModelIdentity {
    ModelIdentity {
        name: loaded.name.clone(),
        fingerprint: loaded.fingerprint.clone(),
        layers: loaded.config.num_layers,
        d_ff: loaded.config.intermediate_size,
    }
}

fn concepts() -> Vec<ConceptSeeds> {
    vec![
        ConceptSeeds { key: "add".into(), seeds: vec!["+".into(), "add".into(), "sum".into()] },
        ConceptSeeds { key: "eq".into(), seeds: vec!["=".into()] },
    ]
}

const SETTINGS: Settings = Settings { top: 6, max_tokens: None, window: 32, top_k: 5 };

fn run(loaded: &LoadedModel, corpus: &Corpus, out: PathBuf, shard: ShardOf, control: Control) -> Outcome {
    let plan = Plan { corpus, field: None, settings: SETTINGS, shard, concepts: concepts(), out, restart: false };
    build::build(loaded.model.as_ref(), &loaded.tokenizer, identity(loaded), &plan, control, &|_, _, _| {}).unwrap()
}

fn whole(loaded: &LoadedModel, corpus: &Corpus, dir: &Path) -> PathBuf {
    let out = dir.join(FILE_NAME);
    assert!(matches!(
        run(loaded, corpus, out.clone(), ShardOf { index: 0, count: 1 }, Control::default()),
        Outcome::Built { .. }
    ));
    out
}

/// Every position's m of every neuron, by running each window of each document on its own.
/// `[doc][pos][layer * d_ff + neuron]`.
fn brute_force(loaded: &LoadedModel, docs: &[Vec<u32>]) -> Vec<Vec<Vec<f32>>> {
    let (layers, d_ff) = (loaded.config.num_layers, loaded.config.intermediate_size);
    docs.iter()
        .map(|tokens| {
            let mut per_pos = vec![vec![0.0; layers * d_ff]; tokens.len()];
            for w in windows(tokens.len(), SETTINGS.window) {
                let mut cache = loaded.model.new_cache();
                let captured = loaded
                    .model
                    .forward(&tokens[w.tokens()], cache.as_mut(), &Interventions::default(), &|| true)
                    .unwrap();
                for layer in 0..layers {
                    let m = &captured.activations[Hook::MlpM];
                    let rows = w.end - w.start;
                    for p in w.counted() {
                        let r = p - w.start;
                        let at = layer * rows * d_ff + r * d_ff;
                        per_pos[p][layer * d_ff..(layer + 1) * d_ff].copy_from_slice(&m[at..at + d_ff]);
                    }
                }
            }
            per_pos
        })
        .collect()
}

#[test]
fn kept_positions_equal_a_brute_force_scan() {
    let loaded = tiny();
    let dir = tempfile::tempdir().unwrap();
    let corpus = Corpus::read(&[corpus_file(dir.path(), &TEXTS)], "text").unwrap();
    let file = ExemplarFile::open(&whole(&loaded, &corpus, dir.path())).unwrap();
    let docs: Vec<Vec<u32>> = (0..corpus.documents.len() as u32).map(|d| file.document(d)).collect();
    assert!(docs.iter().any(|d| d.len() > SETTINGS.window), "a document runs in several windows");
    assert_eq!(docs[0], loaded.tokenizer.encode(TEXTS[0]).unwrap());
    let all = brute_force(&loaded, &docs);
    let positions: usize = docs.iter().map(Vec::len).sum();
    assert_eq!(file.positions(), positions as u64);
    let d_ff = loaded.config.intermediate_size;
    let scales = file.layer_scales();
    for (layer, index) in [(0, 0), (0, 17), (1, 99), (2, 5), (2, 159)] {
        let id = NeuronId { layer, index };
        let g = layer as usize * d_ff + index as usize;
        let mut records: Vec<Record> = all
            .iter()
            .enumerate()
            .flat_map(|(d, per_pos)| {
                per_pos.iter().enumerate().map(move |(p, m)| Record { doc: d as u32, pos: p as u32, m: m[g] })
            })
            .collect();
        let got = file.neuron(id).unwrap();
        records.sort_by(|a, b| b.m.total_cmp(&a.m).then((a.doc, a.pos).cmp(&(b.doc, b.pos))));
        assert_eq!(got.top, records[..SETTINGS.top], "{id} top");
        records.sort_by(|a, b| a.m.total_cmp(&b.m).then((a.doc, a.pos).cmp(&(b.doc, b.pos))));
        assert_eq!(got.bottom, records[..SETTINGS.top], "{id} bottom");
        let n = records.len() as f64;
        let mean = records.iter().map(|r| r.m as f64).sum::<f64>() / n;
        let std = (records.iter().map(|r| (r.m as f64 - mean).powi(2)).sum::<f64>() / n).sqrt();
        assert!((got.stats.mean - mean).abs() < 1e-4 * std.max(1e-3), "{id} mean {} vs {mean}", got.stats.mean);
        assert!((got.stats.std - std).abs() < 1e-3 * std, "{id} std {} vs {std}", got.stats.std);
        assert_eq!(got.stats.max, records.last().unwrap().m);
        assert_eq!(got.stats.min, records[0].m);
        // Each bin holds min(5, its positions) samples, all of them from that bin.
        for b in 0..BINS {
            let in_bin = records.iter().filter(|r| bin_of(r.m / scales[layer as usize]) == b).count();
            assert_eq!(got.bins[b].len(), in_bin.min(SAMPLES_PER_BIN), "{id} bin {b}");
            for r in &got.bins[b] {
                assert_eq!(bin_of(r.m / scales[layer as usize]), b);
                assert!(records.contains(r));
            }
        }
    }
}

#[test]
fn shards_merge_into_the_unsharded_file_byte_for_byte_and_rebuilds_repeat_it() {
    let loaded = tiny();
    let dir = tempfile::tempdir().unwrap();
    let corpus = Corpus::read(&[corpus_file(dir.path(), &TEXTS)], "text").unwrap();
    let one = whole(&loaded, &corpus, &dir.path().join("one"));
    let again = whole(&loaded, &corpus, &dir.path().join("again"));
    assert_eq!(std::fs::read(&one).unwrap(), std::fs::read(&again).unwrap(), "a rebuild gives the same bytes");
    let shards = dir.path().join("shards");
    for index in 0..3 {
        let shard = ShardOf { index, count: 3 };
        run(&loaded, &corpus, shards.join(merge::shard_file(shard)), shard, Control::default());
    }
    let merged = merge::merge(&shards).unwrap();
    assert_eq!(std::fs::read(&one).unwrap(), std::fs::read(&merged).unwrap(), "shards merge byte for byte");
    // A missing shard is named.
    std::fs::remove_file(shards.join("shard-1-of-3.safetensors")).unwrap();
    let message = merge::merge(&shards).unwrap_err().to_string();
    assert!(message.contains("lacks shard 1/3"), "{message}");
}

#[test]
fn a_stopped_build_resumes_to_the_same_bytes_and_refuses_a_changed_corpus() {
    let loaded = tiny();
    let dir = tempfile::tempdir().unwrap();
    let corpus = Corpus::read(&[corpus_file(dir.path(), &TEXTS)], "text").unwrap();
    let reference = whole(&loaded, &corpus, &dir.path().join("reference"));
    let out = dir.path().join("resumed").join(FILE_NAME);
    // Stop after three windows.
    let stop = AtomicBool::new(false);
    let windows_done = AtomicUsize::new(0);
    let plan = Plan {
        corpus: &corpus,
        field: None,
        settings: SETTINGS,
        shard: ShardOf { index: 0, count: 1 },
        concepts: concepts(),
        out: out.clone(),
        restart: false,
    };
    let count = |phase: build::Phase, _: u64, _: u64| {
        if phase == build::Phase::Collecting && windows_done.fetch_add(1, Ordering::Relaxed) == 3 {
            stop.store(true, Ordering::Relaxed);
        }
    };
    let control = Control { cancel: Some(&stop), progress: None };
    let stopped =
        build::build(loaded.model.as_ref(), &loaded.tokenizer, identity(&loaded), &plan, control, &count).unwrap();
    let Outcome::Stopped { partial: Some(partial) } = stopped else { panic!("{stopped:?}") };
    assert!(!out.exists());
    let header = ExemplarFile::open(&partial).unwrap().header().clone();
    assert!(!header.complete && header.positions > 0);
    // Resuming with a changed corpus is refused, naming the partial file.
    let changed = Corpus::read(&[corpus_file(dir.path(), &[TEXTS[0], "a different second document"])], "text").unwrap();
    let plan_changed = Plan { corpus: &changed, ..plan_clone(&plan) };
    let e = uninterrupted(&loaded, &plan_changed).unwrap_err().to_string();
    assert!(e.contains(&partial.display().to_string()) && e.contains("changed") && e.contains("--restart"), "{e}");
    // Resumed, it gives the uninterrupted build's bytes.
    let done = uninterrupted(&loaded, &plan).unwrap();
    assert!(matches!(done, Outcome::Built { .. }), "{done:?}");
    assert!(!partial.exists());
    assert_eq!(std::fs::read(&reference).unwrap(), std::fs::read(&out).unwrap());
    // A second run finds it built.
    let again = uninterrupted(&loaded, &plan).unwrap();
    assert_eq!(again, Outcome::AlreadyBuilt(out));
}

fn uninterrupted(loaded: &LoadedModel, plan: &Plan) -> neuronav::science::exemplars::Result<Outcome> {
    build::build(loaded.model.as_ref(), &loaded.tokenizer, identity(loaded), plan, Control::default(), &|_, _, _| {})
}

fn plan_clone<'a>(plan: &Plan<'a>) -> Plan<'a> {
    Plan {
        corpus: plan.corpus,
        field: plan.field.clone(),
        settings: plan.settings,
        shard: plan.shard,
        concepts: plan.concepts.clone(),
        out: plan.out.clone(),
        restart: plan.restart,
    }
}

fn neuronav(dir: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_neuronav"))
        .current_dir(dir)
        .env("NEURONAV_HOME", dir.join("home"))
        .arg("--model")
        .arg(fixture("tiny-llama"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_corpora_are_named_and_skipped_lines_counted() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("latin1.txt"), b"fine\n\ncaf\xe9 au lait\n").unwrap();
    let (code, _, err) = neuronav(d, &["exemplars", "build", "--corpus", "latin1.txt", "--out", "o"]);
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("latin1.txt") && err.contains("not UTF-8") && err.contains("line 3"), "{err}");
    std::fs::write(d.join("empty.txt"), b"\n  \n").unwrap();
    let (code, _, err) = neuronav(d, &["exemplars", "build", "--corpus", "empty.txt", "--out", "o"]);
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("empty.txt") && err.contains("no documents"), "{err}");
    let long = "one two three four five six seven eight nine ten ".repeat(12);
    let jsonl = format!("{{\"text\": \"2+3=5\"}}\n{{\"body\": \"no text here\"}}\n{{\"text\": \"{long}\"}}\n");
    std::fs::write(d.join("c.jsonl"), jsonl).unwrap();
    let (code, out, err) =
        neuronav(d, &["exemplars", "build", "--corpus", "c.jsonl", "--out", "o", "--format", "json"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("skipped c.jsonl:2: no field 'text'"), "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["outcome"], "built");
    assert_eq!(report["skipped"].as_array().unwrap().len(), 1);
    let file = ExemplarFile::open(&d.join("o").join(FILE_NAME)).unwrap();
    assert_eq!(file.header().corpus.documents, 2);
    assert_eq!(file.header().corpus.skipped, 1);
    // The long document ran in windows of the model's context and every position counted once.
    assert!(file.document(1).len() > 64, "longer than the tiny model's context");
    assert_eq!(file.positions(), (file.document(0).len() + file.document(1).len()) as u64);
    assert_eq!(
        (report["positions"].as_u64(), report["this_run"].as_u64()),
        (Some(file.positions()), Some(file.positions()))
    );
    // Run again, it says it is built and what the file counts.
    let (code, out, err) =
        neuronav(d, &["exemplars", "build", "--corpus", "c.jsonl", "--out", "o", "--format", "json"]);
    assert_eq!(code, Some(0), "{err}");
    let again: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (again["outcome"].as_str(), again["positions"].as_u64()),
        (Some("already built"), Some(file.positions()))
    );
}

#[test]
fn the_seed_word_score_is_pearsons_r_with_the_seed_indicator() {
    let loaded = tiny();
    let dir = tempfile::tempdir().unwrap();
    let texts = ["2+3=5 and 4+4=8", "we add 7 + 1 = 8, then the sum", "no arithmetic here", "1 + 1 = 2 + 0"];
    let corpus = Corpus::read(&[corpus_file(dir.path(), &texts)], "text").unwrap();
    let file = ExemplarFile::open(&whole(&loaded, &corpus, dir.path())).unwrap();
    let docs: Vec<Vec<u32>> = (0..texts.len() as u32).map(|d| file.document(d)).collect();
    let all = brute_force(&loaded, &docs);
    let seeds = ["+", "add", "sum"];
    let is_seed = |t: u32| seeds.contains(&loaded.tokenizer.decode(&[t]).trim().to_lowercase().as_str());
    let indicator: Vec<f64> = docs
        .iter()
        .flat_map(|d| (0..d.len()).map(move |p| (p, d)))
        .map(|(p, d)| (is_seed(d[p]) || d.get(p + 1).is_some_and(|&t| is_seed(t))) as u8 as f64)
        .collect();
    assert!(indicator.contains(&1.0) && indicator.contains(&0.0));
    let d_ff = loaded.config.intermediate_size;
    for (layer, index) in [(0u32, 3u32), (1, 40), (2, 150)] {
        let g = layer as usize * d_ff + index as usize;
        let m: Vec<f64> = all.iter().flatten().map(|v| v[g] as f64).collect();
        let n = m.len() as f64;
        let (mm, mx) = (m.iter().sum::<f64>() / n, indicator.iter().sum::<f64>() / n);
        let cov: f64 = m.iter().zip(&indicator).map(|(a, b)| (a - mm) * (b - mx)).sum();
        let sm: f64 = m.iter().map(|a| (a - mm).powi(2)).sum();
        let sx: f64 = indicator.iter().map(|b| (b - mx).powi(2)).sum();
        let pearson = cov / (sm * sx).sqrt();
        let got = neuronav::science::exemplars::seeds::score(&file, NeuronId { layer, index }, "add").unwrap();
        assert_eq!(got.seed_positions, indicator.iter().filter(|&&x| x == 1.0).count() as u64);
        let r = got.r.unwrap();
        assert!((r - pearson).abs() < 1e-4, "L{layer}N{index}: {r} vs {pearson}");
    }
}
