//! The method's data ships inside the binary: from an empty directory, with no data flags,
//! `compare`, `analyze` and `bench` run the method's prompts on the default model.
mod common;

use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// Runs the binary in `cwd` with a private NEURONAV_HOME; its standard output and error.
fn neuronav(cwd: &Path, home: &Path, model: &Path, args: &[&str]) -> (String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_neuronav"))
        .arg("--model")
        .arg(model)
        .args(args)
        .current_dir(cwd)
        .env("NEURONAV_HOME", home)
        .output()
        .expect("the neuronav binary runs");
    let (stdout, stderr) = (String::from_utf8(out.stdout).unwrap(), String::from_utf8_lossy(&out.stderr).to_string());
    assert!(out.status.success(), "neuronav {args:?} failed:\n{stderr}");
    (stdout, stderr)
}

/// The method's prompt for `variant` and question `index`, built here from the asset files as
/// the method's Python builds it: stripped exemplar lines, a blank line, the question with its
/// whitespace collapsed, then "Let's think step by step".
fn method_prompt(variant: &str, index: usize) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/method");
    let exemplars = std::fs::read_to_string(root.join(format!("prompts/{variant}.txt"))).unwrap();
    let questions = std::fs::read_to_string(root.join("gsm8k_test.jsonl")).unwrap();
    let line: Value = serde_json::from_str(questions.lines().nth(index).unwrap()).unwrap();
    let question: Vec<&str> = line["question"].as_str().unwrap().split_whitespace().collect();
    let shots: Vec<&str> = exemplars.lines().map(str::trim).collect();
    format!("{}\n\nQuestion: {}\nLet's think step by step\n", shots.join("\n"), question.join(" "))
}

#[test]
fn compare_analyze_and_bench_run_the_shipped_method_data_from_an_empty_directory() {
    let model = common::default_model();
    let (home, cwd) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let run = |args: &[&str]| neuronav(cwd.path(), home.path(), &model, args);

    let args = ["compare", "--variant-a", "cot_prompt", "--variant-b", "text_only", "--question-index", "0"];
    let (stdout, _) = run(&[&args[..], &["--generate", "4", "--format", "json"]].concat());
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["a"]["prompt"], method_prompt("cot_prompt", 0));
    assert_eq!(report["b"]["prompt"], method_prompt("text_only", 0));
    let a_tokens = report["a"]["prompt_tokens"].as_u64().unwrap();
    // Eight exemplars and Janet's ducks: hundreds of tokens on each side.
    assert!(a_tokens > 400 && report["b"]["prompt_tokens"].as_u64().unwrap() > 400, "{report}");
    for side in ["a", "b"] {
        assert!(!report[side]["generated_text"].as_str().unwrap().is_empty(), "{report}");
        // The last prompt token and four generated ones.
        assert_eq!(report[side]["activations"]["positions"], 5, "{report}");
    }

    let (stdout, stderr) = run(&["analyze", "--samples", "1", "--generate", "4"]);
    let out = home.path().join("data/analyze/run-1");
    assert!(stderr.contains(&format!("results go to {}", out.display())), "{stderr}");
    let variants = ["add_only", "cot_prompt", "equation_only", "incorrect_label", "incorrect_ood_label"];
    for variant in variants.iter().chain(&["mult_only", "text_only"]) {
        let row = stdout.lines().find(|l| l.starts_with(&format!("| baseline | {variant} |"))).expect(&stdout);
        assert!(row.contains("/1 ("), "{row}");
    }
    assert!(out.join("summary.md").is_file() && out.join("summary.csv").is_file());
    let spec: Value = serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
    assert_eq!(spec["data"], "gsm8k_test.jsonl (shipped with neuronav)");
    assert_eq!(spec["variants"].as_array().unwrap().len(), 7);

    let (stdout, _) = run(&["bench", "--repeat", "1", "--decode", "2", "--format", "json"]);
    let bench: Value = serde_json::from_str(&stdout).unwrap();
    // The 8-shot CoT prompt with the first question: the prompt compare ran as A.
    assert_eq!(bench["prompt_tokens"].as_u64().unwrap(), a_tokens, "{bench}");
    assert!(bench["prefill_tokens_per_second"].as_f64().unwrap() > 0.0);

    assert!(cwd.path().read_dir().unwrap().next().is_none(), "nothing is read or written beside the caller");
}
