//! `neuronav label score` end to end on the tiny model: exemplars built into the cache are found
//! without being named, the offline seed-word score and an LLM detection against a scripted
//! server are stored with the labels, and a rerun asks nothing again.
mod common;

use std::path::Path;
use std::process::Command;

use common::chat_server::{ChatServer, Reply};
use common::fixture;
use serde_json::Value;

fn neuronav(dir: &Path, args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_neuronav"))
        .current_dir(dir)
        .env("NEURONAV_HOME", dir.join("home"))
        .env_remove("NEURONAV_LLM_BASE_URL")
        .env_remove("NEURONAV_LLM_MODEL")
        .arg("--model")
        .arg(fixture("tiny-llama"))
        .args(args)
        // `label import` reads --format as its file's format.
        .args(if args.contains(&"import") { &["--json"][..] } else { &["--format", "json"][..] })
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{args:?}: {stderr}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {stdout}"))
}

#[test]
fn scores_are_stored_with_labels_and_never_asked_for_twice() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("corpus.txt"),
        "2+3=5 and 4+4=8\n\nwe add 7 + 1 = 8, then the sum\n\nno arithmetic in this one at all\n\n1 + 1 = 2",
    )
    .unwrap();
    let built = neuronav(d, &["exemplars", "build", "--corpus", "corpus.txt"]);
    assert_eq!(built["outcome"], "built");
    std::fs::write(
        d.join("labels.csv"),
        "neuron,concept,label_source,answer\nL1N3,add,gpt-test,\"Yes, addition\"\nL2N7,add,gpt-test,\"No, not addition\"\n",
    )
    .unwrap();
    neuronav(d, &["label", "import", "labels.csv"]);

    let seeds = neuronav(d, &["label", "score", "--scorer", "seeds"]);
    assert_eq!(seeds["scored"], 2, "{seeds}");
    // Detection against a model that never says an excerpt activates: no true positives, every
    // true negative, so balanced accuracy is exactly (0 + 1) / 2.
    let (server, url) = ChatServer::start(|_, _| Reply::answer("Reasoning aside.\nAnswer: none"));
    let args = ["label", "score", "--scorer", "detection", "--base-url", url.as_str(), "--llm-model", "judge"];
    let detection = neuronav(d, &args);
    assert_eq!(detection["scored"], 2, "{detection}");
    assert_eq!(detection["mean"], 0.5);
    assert_eq!(server.seen().len(), 2);
    let again = neuronav(d, &args);
    assert_eq!((again["scored"].as_u64(), again["already_scored"].as_u64()), (Some(0), Some(2)));
    assert_eq!(server.seen().len(), 2, "a rerun asks nothing again");

    let neuron = neuronav(d, &["neuron", "L1N3"]);
    let scores = neuron["scores"].as_array().unwrap();
    let by = |scorer: &str| scores.iter().find(|s| s["scorer"] == scorer).cloned().unwrap_or(Value::Null);
    assert_eq!(by("detection")["score"], 0.5);
    assert!(by("seeds")["score"].is_f64(), "{neuron}");
    // The exemplars came from the cache, found by the model's fingerprint.
    let top = neuron["exemplars"]["top"].as_array().unwrap();
    assert_eq!(top.len(), 20);
    assert!(top.windows(2).all(|w| w[0]["m"].as_f64() >= w[1]["m"].as_f64()));
    assert!(neuron["exemplars_missing"].is_null());

    // Neurons whose top exemplars fire on "+", best first, each with such an exemplar.
    let found = neuronav(d, &["search", "--activates", "+", "--limit", "500"]);
    let rows = found.as_array().unwrap();
    assert!(!rows.is_empty());
    assert!(rows.windows(2).all(|w| w[0]["normalised"].as_f64() >= w[1]["normalised"].as_f64()));
    for row in rows {
        assert_eq!(row["best"]["token"].as_str().unwrap().trim(), "+", "{row}");
        let matches = row["matches"].as_u64().unwrap();
        assert!(matches >= 1 && matches <= row["of"].as_u64().unwrap());
    }
}
