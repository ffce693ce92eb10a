//! Heuristic labels and knockouts on the default model: classification writes labels the store
//! returns, and knockout accuracies come from runs that agree with greedy decoding.
mod common;

use std::process::Command;

use neuronav::engine::intervention::Interventions;
use neuronav::engine::loader::{self, DeviceChoice, LoadedModel};
use neuronav::engine::model::WeightDType;
use neuronav::engine::neuron::NeuronId;
use neuronav::engine::session::{Control, Session, SessionSettings};
use neuronav::science::heuristics::grid::{GridSpec, Operator};
use neuronav::science::heuristics::knockout::{by_heuristic, ByHeuristicSettings, HeuristicGroup};
use neuronav::science::heuristics::maps::{GridMaps, MapSettings};
use neuronav::science::heuristics::prompts::{default_prefix, GridPrompts};
use neuronav::science::heuristics::runner::outcomes;
use neuronav::science::labels::store::{LabelFilter, LabelStore};

fn load() -> LoadedModel {
    loader::load(&common::default_model(), DeviceChoice::Cpu, WeightDType::F32, &|_, _| {}).unwrap()
}

fn small_grid(loaded: &LoadedModel) -> GridMaps {
    let spec = GridSpec::square(Operator::Add, 12);
    let settings =
        MapSettings { prefix: default_prefix(spec.operator).into(), spec, slots: 1, layers: (15..30).collect() };
    GridMaps::build(loaded.model.as_ref(), &loaded.tokenizer, settings, Control::default()).unwrap()
}

/// Greedy decoding under `ablation`: whether the model writes `result` and then a non-digit.
fn greedy_right(loaded: &LoadedModel, prompt: &str, result: u32, ablation: &Interventions) -> bool {
    let mut s = Session::new(loaded.model.clone(), loaded.tokenizer.clone(), SessionSettings::default());
    s.set_interventions(ablation.clone());
    s.run_prompt(prompt, Control::default()).unwrap();
    for _ in 0..result.to_string().len() + 1 {
        s.step(Control::default()).unwrap();
    }
    let text = s.generated_text();
    let digits: String = text.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits == result.to_string()
}

#[test]
fn ablated_outcomes_agree_with_greedy_decoding_and_an_empty_knockout_keeps_every_answer() {
    let loaded = load();
    let maps = small_grid(&loaded);
    let spec = &maps.settings.spec;
    let correct = maps.correct_cells();
    assert!(correct.len() >= 10, "the model answers some small sums: {}", correct.len());
    // Zero the most important neurons of the last layers: some answers change.
    let mut ablation = Interventions::default();
    let ids: Vec<NeuronId> = (25..30)
        .flat_map(|l| {
            neuronav::science::heuristics::importance::rank_layer(&maps, l)
                .unwrap()
                .into_iter()
                .take(4)
                .map(|i| i.neuron)
        })
        .collect();
    ablation.zero(&ids);
    let prompts = GridPrompts::new(spec, &maps.settings.prefix, &loaded.tokenizer).unwrap();
    let cells: Vec<usize> = correct.iter().copied().step_by(correct.len() / 6).take(6).collect();
    let found =
        outcomes(loaded.model.as_ref(), &loaded.tokenizer, &prompts, &cells, &ablation, Control::default()).unwrap();
    assert_eq!(found.iter().map(|(c, _)| *c).collect::<Vec<_>>(), cells);
    for (cell, outcome) in &found {
        let p = spec.problem(*cell).unwrap();
        let prompt = format!("{}{}", maps.settings.prefix, spec.suffix(&p));
        assert_eq!(outcome.correct, greedy_right(&loaded, &prompt, p.result, &ablation), "{prompt:?}");
    }

    // No neurons zeroed: every correct prompt stays correct on both sides, prefix recomputed.
    let half = HeuristicGroup {
        name: "op1_range_0_6".into(),
        holds: (0..spec.len()).map(|c| spec.problem(c).is_some_and(|p| p.op1 < 6)).collect(),
        neurons: vec![],
    };
    let settings = ByHeuristicSettings { min_neurons: 0, min_prompts: 3, max_prompts: 8, ..Default::default() };
    let rows =
        by_heuristic(loaded.model.as_ref(), &loaded.tokenizer, &maps, &[half], settings, Control::default()).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].associated_accuracy, rows[0].control_accuracy), (1.0, 1.0), "{rows:?}");
}

#[test]
fn classify_stores_heuristic_labels_the_store_returns() {
    let home = tempfile::tempdir().unwrap();
    let db = home.path().join("labels.sqlite3");
    let model = common::default_model();
    let run = |extra: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_neuronav"))
            .arg("--model")
            .arg(&model)
            .args(["heuristics", "classify", "--range", "0..12", "--layers", "15..30", "--db"])
            .arg(&db)
            .args(extra)
            .env("NEURONAV_HOME", home.path())
            .output()
            .unwrap();
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "{stdout}\n{stderr}");
        (stdout.to_string(), stderr.to_string())
    };
    let (stdout, stderr) = run(&[]);
    assert!(stderr.contains("built in"), "{stderr}");
    assert!(stdout.contains("coverage:") && stdout.contains("upper half (layers 15..30)"), "{stdout}");
    let fingerprint = neuronav::engine::fingerprint::fingerprint(&model).unwrap();
    let store = LabelStore::open(&db, &fingerprint).unwrap();
    let labels = store
        .labels(&LabelFilter { source: Some("heuristic-match".into()), applying: true, ..Default::default() })
        .unwrap();
    assert!(!labels.is_empty());
    assert!(labels
        .iter()
        .all(|l| l.concept.starts_with("add:") && l.neuron.layer >= 15 && l.evidence[0].starts_with("score ")));
    let stored = stdout.lines().find(|l| l.starts_with("stored ")).unwrap().to_string();
    assert!(stored.starts_with(&format!("stored {} heuristic labels", labels.len())), "{stored}");

    // Rerun stricter: the maps reload, and labels below the new threshold are withdrawn.
    let (stdout, stderr) = run(&["--threshold", "0.9"]);
    assert!(stderr.contains("loaded in"), "{stderr}");
    let store = LabelStore::open(&db, &fingerprint).unwrap();
    let strict = store
        .labels(&LabelFilter { source: Some("heuristic-match".into()), applying: true, ..Default::default() })
        .unwrap();
    assert!(strict.len() < labels.len(), "{stdout}");
    assert!(stdout.contains(&format!("{} withdrawn", labels.len() - strict.len())), "{stdout}");
    assert!(strict.iter().all(|l| l.evidence[0]["score ".len()..].parse::<f32>().unwrap() >= 0.9));
}
