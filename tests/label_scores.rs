//! The LLM scorers against a scripted chat-completions server on 127.0.0.1, each outcome stored
//! as a score row: detection answered right, partly wrong, in the wrong format, refused, timed
//! out and failed with HTTP 500; simulation answered right, malformed, and half usable.
mod common;

use std::time::Duration;

use common::chat_server::{ChatServer, Reply};
use neuronav::engine::neuron::NeuronId;
use neuronav::science::labels::chat::Chat;
use neuronav::science::labels::concepts::Concepts;
use neuronav::science::labels::endpoint::Endpoint;
use neuronav::science::labels::excerpt::Excerpt;
use neuronav::science::labels::score::Score;
use neuronav::science::labels::scoring::{detection, simulation, ScoreOutcome, SYSTEM_PROMPT};
use neuronav::science::labels::store::LabelStore;
use serde_json::Value;

/// The first token of every excerpt names what the server does with it.
fn script(user: &str, _attempt: usize) -> Reply {
    if user.contains("numbered excerpts") {
        detection_reply(user)
    } else {
        simulation_reply(user)
    }
}

/// Numbered lines `N. MARKER ...`; the activating excerpts mark ` plus`.
fn detection_reply(user: &str) -> Reply {
    let lines: Vec<(usize, &str)> =
        user.lines().filter_map(|l| l.split_once(". ").and_then(|(n, rest)| Some((n.parse().ok()?, rest)))).collect();
    let marker = lines[0].1.split(' ').next().unwrap();
    let hot: Vec<usize> = lines.iter().filter(|(_, l)| l.contains("[[ plus]]")).map(|(n, _)| *n).collect();
    let cold: Vec<usize> = lines.iter().filter(|(_, l)| !l.contains("[[ plus]]")).map(|(n, _)| *n).collect();
    let list = |v: &[usize]| v.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(", ");
    match marker {
        "det-right" => Reply::Answer(format!("Answer: {}", list(&hot))),
        // One activating excerpt missed, one quiet one named.
        "det-partly" => Reply::Answer(format!("Answer: {}", list(&[&hot[1..], &cold[..1]].concat()))),
        "det-format" => Reply::answer("The ones with a plus sign activate it."),
        "det-refuse" => Reply::answer("I can't help with that."),
        "det-slow" => Reply::Slow(Duration::from_millis(1500), Box::new(Reply::answer("Answer: 1"))),
        _ => Reply::Status { code: 500, reason: "Internal Server Error", retry_after: None },
    }
}

/// Lines `I<TAB>TOKEN`; the prediction is 10 on ` plus`, 0 elsewhere, written as the marker says.
fn simulation_reply(user: &str) -> Reply {
    let tokens: Vec<(usize, &str)> =
        user.lines().filter_map(|l| l.split_once('\t').and_then(|(i, t)| Some((i.parse().ok()?, t)))).collect();
    let marker = tokens[0].1;
    let line = |(i, t): &(usize, &str), p: &str| format!("{i}\t{t}\t{p}");
    let predictions: Vec<String> = tokens
        .iter()
        .map(|tok| match (marker, tok.1 == " plus") {
            ("sim-words", true) => line(tok, "high"),
            ("sim-big", true) => line(tok, "11"),
            (_, true) => line(tok, "10"),
            (_, false) => line(tok, "0"),
        })
        .collect();
    match marker {
        "sim-short" => Reply::Answer(predictions[..2].join("\n")),
        _ => Reply::Answer(predictions.join("\n")),
    }
}

fn excerpt(marker: &str, middle: &str, activations: [f32; 4]) -> Excerpt {
    Excerpt {
        tokens: vec![marker.into(), " 1".into(), middle.into(), " 2".into()],
        focus: 2,
        activations: activations.to_vec(),
    }
}

/// Three activating and three quiet excerpts of one marker.
fn detection_set(marker: &str) -> (Vec<Excerpt>, Vec<Excerpt>) {
    let hot = (0..3).map(|_| excerpt(marker, " plus", [0.0, 0.0, 1.0, 0.0])).collect();
    let quiet = (0..3).map(|_| excerpt(marker, " cat", [0.0; 4])).collect();
    (hot, quiet)
}

#[test]
fn detection_and_simulation_scores_are_stored_with_every_answer() {
    let (server, url) = ChatServer::start(script);
    let mut endpoint = Endpoint::new(&url, "score-model", None);
    endpoint.timeout = Duration::from_millis(500);
    endpoint.retries = 1;
    endpoint.backoff = Duration::from_millis(20);
    let chat = Chat::new(&endpoint);
    let concepts = Concepts::built_in();
    let add = concepts.get("add").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut store = LabelStore::open(&dir.path().join("labels.sqlite3"), "feedface").unwrap();
    let mut record = |neuron: &str, outcome: &ScoreOutcome| -> Score {
        let neuron: NeuronId = neuron.parse().unwrap();
        store.record_score(&outcome.to_new_score(neuron, "add", "gpt")).unwrap()
    };
    let detail = |s: &Score| -> Value { serde_json::from_str(&s.detail).unwrap() };

    // Detection, answered right: balanced accuracy 1.
    let (hot, quiet) = detection_set("det-right");
    let right = record("L1N1", &detection::score(&chat, add, &hot, &quiet, 7));
    assert_eq!(
        (right.scorer.as_str(), right.score, right.failure.as_deref(), right.contexts),
        ("detection", Some(1.0), None, 6)
    );
    let d = detail(&right);
    assert_eq!(d["seed"], 7);
    // The order recorded is the order the model saw: the activating ones are the lines marked plus.
    let asked = server.seen().into_iter().find(|s| s.user.contains("det-right")).unwrap();
    for shown in d["shown"].as_array().unwrap() {
        let n = shown["number"].as_u64().unwrap();
        let line = asked.user.lines().find(|l| l.starts_with(&format!("{n}. "))).unwrap();
        assert_eq!(shown["activating"].as_bool().unwrap(), line.contains("[[ plus]]"), "{line}");
    }
    assert!(d["answer"].as_str().unwrap().starts_with("Answer: "));
    assert_eq!(asked.body["model"], "score-model");
    assert_eq!(asked.body["temperature"], 0.0);
    assert_eq!(asked.body["max_tokens"], 200);
    assert_eq!(asked.body["messages"][0]["content"], SYSTEM_PROMPT);
    assert!(asked.user.starts_with(
        "We are checking whether a neuron in a language model responds to arithmetic addition. The question asked \
         about it was: \"Is this neuron promoting arithmetic addition ?\"\n\nBelow are 6 numbered excerpts of text."
    ));
    // Another seed, another order, the same score.
    let reseeded = detection::score(&chat, add, &hot, &quiet, 8);
    assert_eq!(reseeded.score, Some(1.0));
    assert_ne!(reseeded.detail["shown"], d["shown"], "seeds 7 and 8 shuffle six excerpts differently");

    // Partly wrong: TP 2 of 3, TN 2 of 3: (2/3 + 2/3) / 2 = 2/3.
    let (hot, quiet) = detection_set("det-partly");
    let partly = record("L1N2", &detection::score(&chat, add, &hot, &quiet, 7));
    assert!((partly.score.unwrap() - 2.0 / 3.0).abs() < 1e-12, "{partly:?}");
    assert_eq!(
        (detail(&partly)["true_positives"].as_u64(), detail(&partly)["true_negatives"].as_u64()),
        (Some(2), Some(2))
    );

    // Wrong format and refusal: no score, the reason, the raw answer kept.
    for (neuron, marker, raw) in [
        ("L1N3", "det-format", "The ones with a plus sign activate it."),
        ("L1N4", "det-refuse", "I can't help with that."),
    ] {
        let (hot, quiet) = detection_set(marker);
        let row = record(neuron, &detection::score(&chat, add, &hot, &quiet, 7));
        assert_eq!(row.score, None, "{marker}");
        assert_eq!(row.failure.as_deref(), Some("the answer names no excerpt numbers (nor \"none\")"), "{marker}");
        assert_eq!(detail(&row)["answer"], raw);
    }

    // A timeout on every attempt and an HTTP 500 on every attempt: no score, the error, the attempts.
    let (hot, quiet) = detection_set("det-slow");
    let slow = record("L1N5", &detection::score(&chat, add, &hot, &quiet, 7));
    assert_eq!(slow.score, None);
    assert!(slow.failure.as_deref().unwrap().starts_with("no answer: no reply"), "{slow:?}");
    assert_eq!(detail(&slow)["attempts"], 2);
    assert_eq!(detail(&slow)["answer"], Value::Null);
    let (hot, quiet) = detection_set("det-broken");
    let broken = record("L1N6", &detection::score(&chat, add, &hot, &quiet, 7));
    assert!(broken.failure.as_deref().unwrap().starts_with("no answer: HTTP 500"), "{broken:?}");
    assert_eq!(server.seen().iter().filter(|s| s.user.contains("det-broken")).count(), 2, "one try, one retry");

    // Bad input is refused before anything is asked.
    let before = server.seen().len();
    let none_quiet = detection::score(&chat, add, &hot, &[], 7);
    assert!(none_quiet.failure.unwrap().contains("there were 3 and 0"));
    let mut bad = hot.clone();
    bad[1].focus = 9;
    let unshowable = detection::score(&chat, add, &bad, &quiet, 7);
    assert_eq!(
        unshowable.failure.as_deref(),
        Some("activating excerpt 1 cannot be shown: its focus 9 is past its 4 tokens")
    );
    assert_eq!(server.seen().len(), before);

    // Simulation, answered right, pooled over two excerpts.
    let good = [excerpt("sim-ok", " plus", [0.0, 0.0, 1.0, 0.0]), excerpt("sim-ok", " plus", [0.0, 0.0, 0.5, 0.5])];
    let sim = record("L2N1", &simulation::score(&chat, add, &good));
    // Predictions x = [0,0,10,0, 0,0,10,0], mean 2.5; activations y = [0,0,1,0, 0,0,0.5,0.5],
    // mean 0.25. Σdx·dy = 5·(−2.5)(−0.25) [tokens 0,1,3,4,5] + 7.5·0.75 [2] + 7.5·0.25 [6]
    // + (−2.5)·0.25 [7] = 3.125 + 5.625 + 1.875 − 0.625 = 10; Σdx² = 6·6.25 + 2·56.25 = 150;
    // Σdy² = 5·0.0625 + 0.5625 + 2·0.0625 = 1; r = 10 / √150 ≈ 0.816.
    let expected = 10.0 / 150f64.sqrt();
    assert!((sim.score.unwrap() - expected).abs() < 1e-12, "{sim:?} vs {expected}");
    assert_eq!((sim.scorer.as_str(), sim.contexts, sim.failure.as_deref()), ("simulation", 2, None));
    let d = detail(&sim);
    assert_eq!(d["excerpts"][0]["answer"], "0\tsim-ok\t0\n1\t 1\t0\n2\t plus\t10\n3\t 2\t0");
    assert_eq!(d["excerpts"][1]["predictions"], serde_json::json!([0.0, 0.0, 10.0, 0.0]));
    let asked = server.seen().into_iter().find(|s| s.user.contains("sim-ok")).unwrap();
    assert_eq!(
        asked.user,
        "We are checking whether a neuron in a language model responds to arithmetic addition. The question asked \
         about it was: \"Is this neuron promoting arithmetic addition ?\"\n\nBelow is an excerpt of text, one token a \
         line: the token's number, a tab, and the token (line breaks and tabs inside a token are written \\n and \
         \\t).\n\n0\tsim-ok\n1\t 1\n2\t plus\n3\t 2\n\nFor every token, predict how strongly the neuron activates on \
         it: a whole number from 0 (not at all) to 10 (as strongly as it ever does). Answer with exactly one line per \
         token, in the same order, and nothing else: the token's number, a tab, the token, a tab, your prediction."
    );

    // Malformed simulation: no excerpt usable, no score, each reason and raw answer kept.
    let malformed =
        [excerpt("sim-words", " plus", [0.0, 0.0, 1.0, 0.0]), excerpt("sim-short", " plus", [0.0, 0.0, 1.0, 0.0])];
    let row = record("L2N2", &simulation::score(&chat, add, &malformed));
    assert_eq!(row.score, None);
    assert_eq!(row.contexts, 0);
    assert_eq!(
        row.failure.as_deref(),
        Some(
            "no excerpt's predictions are usable: excerpt 0: answer line 3: 'high' is not a number; excerpt 1: the \
             answer has 2 predictions for 4 tokens"
        )
    );
    let d = detail(&row);
    assert_eq!(d["excerpts"][0]["answer"], "0\tsim-words\t0\n1\t 1\t0\n2\t plus\thigh\n3\t 2\t0");
    assert_eq!(d["excerpts"][1]["answer"], "0\tsim-short\t0\n1\t 1\t0");

    // One excerpt out of range, one right: the score rests on the one (r = 1), the other is named.
    let mixed = [excerpt("sim-big", " plus", [0.0, 0.0, 1.0, 0.0]), excerpt("sim-ok", " plus", [0.0, 0.0, 1.0, 0.0])];
    let row = record("L2N3", &simulation::score(&chat, add, &mixed));
    assert_eq!((row.score, row.contexts), (Some(1.0), 1));
    assert_eq!(detail(&row)["excerpts"][0]["unusable"], "answer line 3: the prediction 11 is outside 0 to 10");

    // Flat predictions: Pearson r undefined, said so.
    let flat = [excerpt("sim-ok", " cat", [0.0, 0.0, 1.0, 0.0])];
    let row = record("L2N4", &simulation::score(&chat, add, &flat));
    assert_eq!(row.score, None);
    assert_eq!(row.failure.as_deref(), Some("the predictions are all equal (0), so Pearson r is undefined"));

    // Everything is in the store, one row per label and scorer.
    let stored = store.scores().unwrap();
    assert_eq!(stored.len(), 10, "six detection rows, four simulation rows");
    let of = |n: &str| store.scores_for(n.parse().unwrap()).unwrap();
    assert_eq!(of("L1N1")[0].score, Some(1.0));
    assert_eq!(of("L1N4")[0].failure.as_deref(), Some("the answer names no excerpt numbers (nor \"none\")"));
}
