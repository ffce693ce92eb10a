//! The activation analysis on the tiny model: counts against the engine's raw top-K lists, and
//! `neuronav analyze` resumable and sharded, with shards merging into the unsharded result.
mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use common::fixture;
use neuronav::engine::fingerprint::fingerprint;
use neuronav::engine::loader::{self, DeviceChoice};
use neuronav::engine::model::WeightDType;
use neuronav::engine::neuron::NeuronId;
use neuronav::engine::session::{Session, SessionSettings};
use neuronav::science::analysis::counting::{method_positions, ReasoningNeurons};
use neuronav::science::analysis::sample;
use neuronav::science::labels::label::NewLabel;
use neuronav::science::labels::store::LabelStore;

/// Labels used throughout: (neuron, concept, source, applies).
const LABELS: &[(&str, &str, &str, bool)] = &[
    ("L0N3", "add", "lexicon", true),
    ("L1N37", "add", "lexicon", true),
    ("L1N37", "formula", "gpt-4-turbo", true),
    ("L2N5", "subtract", "lexicon", true),
    ("L2N9", "division", "lexicon", false),
];

#[test]
fn counts_equal_a_direct_reading_of_the_top_k_lists() {
    let loaded = loader::load(&fixture("tiny-llama"), DeviceChoice::Cpu, WeightDType::F32, &|_, _| {}).unwrap();
    // Neurons that surely fire: the top three of each layer at the first position of prompt A.
    let mut probe = Session::new(
        loaded.model.clone(),
        loaded.tokenizer.clone(),
        SessionSettings { top_k: 8, ..Default::default() },
    );
    probe.run_prompt("one plus two", Default::default()).unwrap();
    let concepts = ["add", "formula", "connections"];
    let mut pairs = Vec::new();
    for (l, hits) in probe.trace().position(probe.len() - 1).top().iter().enumerate() {
        for (k, h) in hits.iter().take(3).enumerate() {
            pairs.push((NeuronId { layer: l as u32, index: h.index }, concepts[k].to_string()));
            if k == 0 {
                pairs.push((NeuronId { layer: l as u32, index: h.index }, "formula".to_string()));
            }
        }
    }
    let neurons = ReasoningNeurons::from_pairs(pairs.clone());
    for prompt in ["one plus two", "seven minus four is"] {
        let mut s = Session::new(
            loaded.model.clone(),
            loaded.tokenizer.clone(),
            SessionSettings { top_k: 8, ..Default::default() },
        );
        let run = sample::run(&mut s, prompt, 3, &neurons).unwrap();
        // Independently: walk every counted position's raw lists.
        let mut per_concept: BTreeMap<String, (u64, f64)> = BTreeMap::new();
        let (mut hits, mut sum) = (0u64, 0f64);
        let positions = s.prompt_len() - 1..s.len();
        assert_eq!(positions, method_positions(s.prompt_len(), 3));
        for p in positions {
            for (l, top) in s.trace().position(p).top().iter().enumerate() {
                assert_eq!(top.len(), 8);
                for h in top {
                    let id = NeuronId { layer: l as u32, index: h.index };
                    let cs: Vec<&String> = pairs.iter().filter(|(n, _)| *n == id).map(|(_, c)| c).collect();
                    if !cs.is_empty() {
                        hits += 1;
                        sum += h.s as f64;
                    }
                    let mut seen: Vec<&String> = Vec::new();
                    for c in cs {
                        if !seen.contains(&c) {
                            seen.push(c);
                            let e = per_concept.entry(c.clone()).or_default();
                            e.0 += 1;
                            e.1 += h.s as f64;
                        }
                    }
                }
            }
        }
        assert!(hits > 0, "{prompt}: some labelled neuron fires");
        assert_eq!(run.activations.positions, 4);
        assert_eq!(run.activations.overall.hits, hits, "{prompt}");
        assert!((run.activations.overall.sum_s - sum).abs() < 1e-9);
        for (c, (n, s)) in &per_concept {
            assert_eq!(run.activations.concept(c).hits, *n, "{prompt} {c}");
            assert!((run.activations.concept(c).sum_s - s).abs() < 1e-9);
        }
        assert_eq!(run.activations.per_concept.len(), per_concept.len());
    }
}

fn write_fixture_run(dir: &Path) {
    let variants = dir.join("variants");
    std::fs::create_dir_all(&variants).unwrap();
    std::fs::write(variants.join("equation_only.txt"), "2+2=4\n").unwrap();
    std::fs::write(variants.join("short.txt"), "1+1=2\n").unwrap();
    let data: String = ["1+2", "3+1", "2+5", "4+4"]
        .iter()
        .map(|q| format!("{{\"question\": \"{q}?\", \"answer\": \"so\\n#### 3\"}}\n"))
        .collect();
    std::fs::write(dir.join("data.jsonl"), data).unwrap();
    let model = fixture("tiny-llama");
    let mut store = LabelStore::open(&dir.join("home/data/labels.sqlite3"), &fingerprint(&model).unwrap()).unwrap();
    let labels: Vec<NewLabel> = LABELS
        .iter()
        .map(|&(n, c, s, applies)| NewLabel {
            neuron: n.parse().unwrap(),
            concept: c.into(),
            source: s.into(),
            applies,
            evidence: vec![],
            answer: String::new(),
        })
        .collect();
    store.upsert_labels(&labels).unwrap();
}

fn analyze(dir: &Path, extra: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_neuronav"))
        .env("NEURONAV_HOME", dir.join("home"))
        .arg("--model")
        .arg(fixture("tiny-llama"))
        .args(["--device", "cpu", "analyze"])
        .args(extra)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "analyze {extra:?} failed: {stderr}");
    stderr
}

fn run_args<'a>(dir: &'a str, out: &'a str) -> Vec<String> {
    [
        "--variants",
        &format!("{dir}/variants"),
        "--data",
        &format!("{dir}/data.jsonl"),
        "--samples",
        "3",
        "--seed",
        "4",
        "--generate",
        "3",
        "--top-k",
        "10",
        "--out",
        out,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// Every file under `dir` by relative path.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut map = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                map.insert(p.strip_prefix(dir).unwrap().display().to_string(), std::fs::read(&p).unwrap());
            }
        }
    }
    map
}

#[test]
fn shards_merge_into_the_unsharded_run_and_reruns_skip_finished_samples() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write_fixture_run(dir);
    let d = dir.to_str().unwrap();
    let (whole, sharded) = (format!("{d}/whole"), format!("{d}/sharded"));
    let args = |out: &str, shard: Option<&str>| {
        let mut a = run_args(d, out);
        if let Some(s) = shard {
            a.extend(["--shard".to_string(), s.to_string()]);
        }
        a
    };
    let log = analyze(dir, &args(&whole, None).iter().map(String::as_str).collect::<Vec<_>>());
    assert!(log.contains("6 samples run, 0 already done"), "{log}");
    for s in ["0/2", "1/2"] {
        let log = analyze(dir, &args(&sharded, Some(s)).iter().map(String::as_str).collect::<Vec<_>>());
        assert!(log.contains("3 samples run"), "{log}");
    }
    let before_merge = analyze(dir, &["merge", "--out", &sharded]);
    assert!(before_merge.contains("wrote"), "{before_merge}");
    assert_eq!(files(Path::new(&whole)), files(Path::new(&sharded)), "every result and the summary are equal");

    let summary = std::fs::read_to_string(format!("{whole}/summary.csv")).unwrap();
    let mut lines = summary.lines();
    assert!(lines.next().unwrap().starts_with("condition,variant,samples,correct,accuracy,counted_samples,positions,activations,mean_s,connections_activations"));
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 2);
    assert!(rows[0].starts_with("baseline,equation_only,3,"), "{}", rows[0]);
    // 3 samples × (last prompt token + 3 generated).
    assert_eq!(rows[0].split(',').nth(6), Some("12"));

    // A rerun recomputes nothing; a lost result is the only one recomputed, identically.
    let log = analyze(dir, &args(&whole, None).iter().map(String::as_str).collect::<Vec<_>>());
    assert!(log.contains("0 samples run, 6 already done"), "{log}");
    let all = files(Path::new(&whole));
    let victim = all.keys().find(|k| k.contains("results/baseline/short/")).unwrap().clone();
    std::fs::remove_file(Path::new(&whole).join(&victim)).unwrap();
    let log = analyze(dir, &args(&whole, None).iter().map(String::as_str).collect::<Vec<_>>());
    assert!(log.contains("1 samples run, 5 already done"), "{log}");
    assert_eq!(files(Path::new(&whole)), all);

    // Other settings into the same directory are refused.
    let mut other = args(&whole, None);
    other[11] = "4".into();
    let out = Command::new(env!("CARGO_BIN_EXE_neuronav"))
        .env("NEURONAV_HOME", dir.join("home"))
        .arg("--model")
        .arg(fixture("tiny-llama"))
        .args(["--device", "cpu", "analyze"])
        .args(&other)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("describes a different run"));
}

#[test]
fn ablation_runs_baseline_ablated_and_random_conditions() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write_fixture_run(dir);
    let d = dir.to_str().unwrap();
    let out = format!("{d}/ablate");
    let mut a = run_args(d, &out);
    a.extend(["--ablate", "reasoning", "--ablation", "zero"].map(String::from));
    analyze(dir, &a.iter().map(String::as_str).collect::<Vec<_>>());
    let spec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{out}/run.json")).unwrap()).unwrap();
    let conditions = spec["conditions"].as_array().unwrap();
    let names: Vec<&str> = conditions.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["baseline", "ablated", "random"]);
    // The applying labels: L0N3, L1N37, L2N5 (L2N9's label says no).
    assert_eq!(conditions[1]["neurons"].as_array().unwrap().len(), 3);
    assert_eq!(conditions[2]["neurons"].as_array().unwrap().len(), 3);
    let summary = std::fs::read_to_string(format!("{out}/summary.csv")).unwrap();
    assert_eq!(summary.lines().count(), 1 + 3 * 2);
    // Zeroed neurons have m = 0 and never reach the top-K: no activations under ablation.
    for row in summary.lines().filter(|l| l.starts_with("ablated,")) {
        assert_eq!(row.split(',').nth(7), Some("0"), "{row}");
    }
}

fn neuronav(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_neuronav"))
        .env("NEURONAV_HOME", dir.join("home"))
        .arg("--model")
        .arg(fixture("tiny-llama"))
        .args(["--device", "cpu"])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn compare_reports_both_sides_as_the_library_counts_them() {
    let tmp = tempfile::tempdir().unwrap();
    write_fixture_run(tmp.path());
    let (a, b) = ("one plus two", "seven minus four is");
    let json = neuronav(
        tmp.path(),
        &["compare", "--prompt-a", a, "--prompt-b", b, "--generate", "2", "--top-k", "40", "--format", "json"],
    );
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(report["reasoning_neurons"], 3, "applying labels only");
    let loaded = loader::load(&fixture("tiny-llama"), DeviceChoice::Cpu, WeightDType::F32, &|_, _| {}).unwrap();
    let neurons = ReasoningNeurons::from_pairs(
        LABELS.iter().filter(|l| l.3).map(|&(n, c, _, _)| (n.parse().unwrap(), c.to_string())),
    );
    let mut side_hits = Vec::new();
    for (side, prompt) in [("a", a), ("b", b)] {
        let mut s = Session::new(
            loaded.model.clone(),
            loaded.tokenizer.clone(),
            SessionSettings { top_k: 40, ..Default::default() },
        );
        let run = sample::run(&mut s, prompt, 2, &neurons).unwrap();
        let got = &report[side]["activations"];
        assert_eq!(got["overall"]["hits"], run.activations.overall.hits, "{side}");
        for c in ["add", "formula", "subtract"] {
            assert_eq!(
                got["per_concept"][c]["hits"].as_u64().unwrap_or(0),
                run.activations.concept(c).hits,
                "{side} {c}"
            );
        }
        side_hits.push(run.activations.per_neuron.keys().map(|k| k.to_string()).collect::<Vec<_>>());
    }
    let only_a: Vec<String> = side_hits[0].iter().filter(|n| !side_hits[1].contains(n)).cloned().collect();
    let listed: Vec<String> =
        report["only_a"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
    assert_eq!(listed, only_a);
    let csv = neuronav(tmp.path(), &["compare", "--prompt-a", a, "--prompt-b", b, "--top-k", "40", "--format", "csv"]);
    assert!(csv.starts_with("concept,count_a,count_b,mean_s_a,mean_s_b\nall,"), "{csv}");
}

#[test]
fn intervene_shows_the_ablated_run_beside_the_original() {
    let tmp = tempfile::tempdir().unwrap();
    let json = neuronav(
        tmp.path(),
        &["intervene", "--prompt", "one plus two", "--scale", "L2N5=40", "--generate", "3", "--json"],
    );
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    let (o, i) = (&report["original"], &report["intervened"]);
    assert_eq!(o["next_tokens"].as_array().unwrap().len(), 10);
    let probs = |r: &serde_json::Value| -> Vec<f64> {
        r["next_tokens"].as_array().unwrap().iter().map(|t| t["prob"].as_f64().unwrap()).collect()
    };
    assert_ne!(probs(o), probs(i), "a 40-fold neuron in the last layer moves the distribution");
    let plain = neuronav(
        tmp.path(),
        &["intervene", "--prompt", "one plus two", "--scale", "L2N5=1", "--generate", "3", "--json"],
    );
    let plain: serde_json::Value = serde_json::from_str(&plain).unwrap();
    assert_eq!(plain["original"], plain["intervened"], "a factor of 1 changes nothing");
    let out = Command::new(env!("CARGO_BIN_EXE_neuronav"))
        .env("NEURONAV_HOME", tmp.path().join("home"))
        .args(["--model", fixture("tiny-llama").to_str().unwrap(), "intervene", "--prompt", "x", "--ablate", "L9N1"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("L9N1 is not in this model"));
}
