//! The label and review commands end to end on the tiny GGUF model, in a private NEURONAV_HOME.
mod common;

use std::path::Path;
use std::process::{Command, Output};

fn neuronav(home: &Path, args: &[&str]) -> Output {
    let model = common::fixture("tiny-llama.gguf");
    Command::new(env!("CARGO_BIN_EXE_neuronav"))
        .arg("--model")
        .arg(&model)
        .args(args)
        .env("NEURONAV_HOME", home)
        .env("NEURONAV_LLM_API_KEY", "sk-never-shown-4711")
        .env_remove("NEURONAV_LLM_BASE_URL")
        .output()
        .expect("the neuronav binary runs")
}

fn ok(home: &Path, args: &[&str]) -> String {
    let out = neuronav(home, args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "neuronav {args:?} failed: {stderr}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn lexical_labels_show_on_the_neuron_take_verdicts_and_round_trip() {
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    std::fs::create_dir_all(home.join("config")).unwrap();
    let letters: Vec<String> = ('a'..='z').map(|c| format!("\"{c}\"")).collect();
    std::fs::write(
        home.join("config/concepts.toml"),
        format!(
            "[[concept]]\nkey = \"letters\"\nname = \"letters\"\nseeds = [{}]\nquestion = \"Letters?\"\n",
            letters.join(", ")
        ),
    )
    .unwrap();

    let report = ok(home, &["label", "lexical", "--min-layer", "1"]);
    let letters_line = report.lines().find(|l| l.starts_with("letters")).expect(&report);
    let count: usize = letters_line.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(count > 0, "{report}");
    assert!(home.join("data/labels.sqlite3").is_file());

    let export = home.join("labels.jsonl");
    ok(home, &["label", "export", export.to_str().unwrap(), "--concept", "letters"]);
    let text = std::fs::read_to_string(&export).unwrap();
    assert_eq!(text.lines().count(), count);
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    let neuron = first["neuron"].as_str().unwrap().to_string();
    assert_eq!(first["label_source"], "lexicon");

    let saved =
        ok(home, &["review", "verdict", &neuron, "letters", "disagree", "--note", "only vowels", "--corrected", "add"]);
    assert!(saved.starts_with("saved\t1\t"), "{saved}");
    let shown = ok(home, &["neuron", &neuron]);
    assert!(shown.contains("label:      letters (lexicon, yes)"), "{shown}");
    assert!(shown.contains("verdict:    letters disagree, is add"), "{shown}");
    assert!(shown.contains("only vowels"), "{shown}");
    let json: serde_json::Value = serde_json::from_str(&ok(home, &["neuron", &neuron, "--json"])).unwrap();
    assert_eq!(json["verdicts"][0]["verdict"], "disagree");

    let stats = ok(home, &["review", "stats"]);
    let row = stats.lines().find(|l| l.trim_start().starts_with("letters")).expect(&stats);
    let numbers: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(numbers[1..], [count.to_string().as_str(), "1", "0", "1", "0", "0%"], "{stats}");
    assert!(stats.contains(&format!("{neuron:<10} letters")), "{stats}");

    // The same file again adds nothing.
    let again = ok(home, &["label", "import", export.to_str().unwrap()]);
    assert!(again.contains(&format!("0 imported, 0 updated, {count} already in the store, 0 rejected")), "{again}");

    // Bad verdicts are refused with the reason.
    let out = neuronav(home, &["review", "verdict", "L9N0", "letters", "agree"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("outside this model"));

    // An endpoint that never answers: an error naming the failures, no label, no key anywhere.
    let out = neuronav(
        home,
        &["label", "llm", "--base-url", "http://127.0.0.1:9/v1", "--retries", "0", "--timeout", "2", "--limit", "2"],
    );
    assert!(!out.status.success());
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(all.contains("2 pairs got no answer"), "{all}");
    assert!(!all.contains("sk-never-shown-4711"), "{all}");
    let stats = ok(home, &["review", "stats", "--json"]);
    let stats: serde_json::Value = serde_json::from_str(&stats).unwrap();
    assert_eq!(stats["counts"]["labels"].as_object().unwrap().len(), 1, "only the lexicon's labels");
    for entry in std::fs::read_dir(home.join("data")).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(!bytes.windows(19).any(|w| w == b"sk-never-shown-4711"));
    }
}
