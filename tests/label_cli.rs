//! The label and review commands end to end on the tiny GGUF model, in a private NEURONAV_HOME.
mod common;

use std::path::Path;
use std::process::{Command, Output};

use neuronav::science::labels::score::NewScore;
use neuronav::science::labels::store::LabelStore;

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
    // Split by the source's answer: the lexicon only says yes, so the no group is empty.
    let row = |name: &str| -> Vec<String> {
        let line = stats.lines().find(|l| l.trim_start().starts_with(name)).expect(&stats);
        line[line.find(name).unwrap() + name.len()..].split_whitespace().map(String::from).collect()
    };
    assert_eq!(row("all"), row("said yes"), "{stats}");
    assert_eq!(row("said yes")[1..], ["1", "0", "1", "0", "0%"], "{stats}");
    let said_no = stats.lines().find(|l| l.trim_start().starts_with("said no")).expect(&stats);
    assert!(said_no.ends_with("no labels"), "{said_no}");
    let no_queue = ok(home, &["review", "queue", "--answers", "no"]);
    assert!(no_queue.starts_with("0 labels, 0 unchecked"), "{no_queue}");
    let both: serde_json::Value =
        serde_json::from_str(&ok(home, &["review", "queue", "--answers", "both", "--json"])).unwrap();
    assert_eq!(both["labels"].to_string(), row("all")[0], "every label of every concept is a yes");

    // A score stored with the label shows beside it, and review stats sets it against the verdict.
    let db = home.join("data/labels.sqlite3");
    let fingerprint: String = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("SELECT model FROM labels LIMIT 1", [], |r| r.get(0))
        .unwrap();
    let mut store = LabelStore::open(&db, &fingerprint).unwrap();
    let scored = NewScore {
        neuron: neuron.parse().unwrap(),
        concept: "letters".into(),
        source: "lexicon".into(),
        scorer: "detection".into(),
        score: Some(0.75),
        failure: None,
        contexts: 20,
        detail: r#"{"answer": "Answer: 1, 2"}"#.into(),
    };
    store.record_score(&scored).unwrap();
    store
        .record_score(&NewScore { scorer: "simulation".into(), score: None, failure: Some("timeout".into()), ..scored })
        .unwrap();
    drop(store);
    let shown = ok(home, &["neuron", &neuron]);
    assert!(
        shown.contains(
            "scores:   detection 0.75 (20 contexts) · simulation failed (timeout) (20 contexts) · seeds not scored"
        ),
        "{shown}"
    );
    let json: serde_json::Value = serde_json::from_str(&ok(home, &["neuron", &neuron, "--json"])).unwrap();
    assert_eq!(json["scores"][0]["score"], 0.75);
    assert_eq!(json["scores"][1]["score"], serde_json::Value::Null);
    assert_eq!(json["scores"][1]["failure"], "timeout");
    let stats = ok(home, &["review", "stats"]);
    // The one scored label was judged against (disagree with a yes): no agreed score, no AUC.
    assert!(
        stats.contains("detection   all       agreed 0 (no scores) · disagreed 1 (mean 0.75) · AUC undefined"),
        "{stats}"
    );
    assert!(stats.contains("simulation  all       agreed 0 (no scores) · disagreed 0 (no scores)"), "{stats}");
    let json: serde_json::Value = serde_json::from_str(&ok(home, &["review", "stats", "--json"])).unwrap();
    assert_eq!(json["scores"]["detection"]["said_yes"]["disagreed"]["mean"], 0.75);
    assert_eq!(json["scores"]["simulation"]["overall"]["failed"], 1);
    assert_eq!(json["human"]["said_no"]["labels"], 0);

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
