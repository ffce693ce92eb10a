//! The LLM labeller against a chat-completions server on 127.0.0.1 that answers per neuron: plain
//! yes and no, a yes later in the first clause, a 429 with Retry-After, a 500, a malformed body, a
//! reply slower than the timeout, and a pair that never gets an answer.
mod common;

use std::sync::Mutex;
use std::time::Duration;

use common::chat_server::{ChatServer, Reply, Seen};

use neuronav::engine::neuron::NeuronId;
use neuronav::science::labels::concepts::Concepts;
use neuronav::science::labels::endpoint::Endpoint;
use neuronav::science::labels::llm::{self, Candidate};
use neuronav::science::labels::store::LabelStore;

const KEY: &str = "sk-test-0123456789";

/// The first evidence token names the behaviour.
fn marker(user: &str) -> String {
    user.split("words: ").nth(1).and_then(|r| r.split(' ').next()).unwrap_or("").to_string()
}

fn script(user: &str, attempt: usize) -> Reply {
    let error = |code, reason, retry_after| Reply::Status { code, reason, retry_after };
    match (marker(user).as_str(), attempt) {
        ("yes", _) => Reply::answer("Yes, these tokens are about addition."),
        ("no", _) => Reply::answer("No, these tokens are not about addition, yes they are numbers."),
        ("later", _) => Reply::answer("The answer is yes, the neuron promotes addition."),
        ("ratelimit", 1) => error(429, "Too Many Requests", Some("1")),
        ("ratelimit", _) => Reply::answer("Yes, it promotes plus."),
        ("crash", 1) => error(500, "Internal Server Error", None),
        ("crash", _) => Reply::answer("yes, mostly"),
        ("garbled", 1) => Reply::Raw(r#"{"choices": [{"message": "#.to_string()),
        ("garbled", _) => Reply::answer("No, not really."),
        ("slow", 1) => Reply::Slow(Duration::from_millis(2500), Box::new(Reply::answer("Yes, but too late."))),
        ("slow", _) => Reply::answer("Yes, in time."),
        _ => error(500, "Internal Server Error", None),
    }
}

fn attempts(server: &ChatServer, name: &str) -> Vec<Seen> {
    server.seen().into_iter().filter(|s| marker(&s.user) == name).collect()
}

fn candidate(neuron: &str, marker: &str) -> Candidate {
    Candidate {
        neuron: neuron.parse().unwrap(),
        concept: "add".into(),
        evidence: vec![marker.into(), "+".into(), "plus".into(), "sum".into()],
    }
}

#[test]
fn answers_are_read_retried_stored_and_never_asked_twice() {
    let (server, url) = ChatServer::start(script);
    let mut endpoint = Endpoint::new(&url, "test-model", Some(KEY));
    endpoint.timeout = Duration::from_millis(1000);
    endpoint.retries = 2;
    endpoint.backoff = Duration::from_millis(50);
    endpoint.concurrency = 3;

    let candidates = [
        candidate("L6N1", "yes"),
        candidate("L6N2", "no"),
        candidate("L6N3", "later"),
        candidate("L7N4", "ratelimit"),
        candidate("L7N5", "crash"),
        candidate("L8N6", "garbled"),
        candidate("L8N7", "slow"),
        candidate("L9N8", "broken"),
    ];
    let dir = tempfile::tempdir().unwrap();
    let mut store = LabelStore::open(&dir.path().join("labels.sqlite3"), "feedface").unwrap();
    let concepts = Concepts::built_in();
    let last = Mutex::new(llm::Progress::default());
    let report = llm::label(&mut store, &endpoint, &concepts, &candidates, &|p| *last.lock().unwrap() = p).unwrap();

    // What got stored, and which said yes.
    let stored = store.labels_by_neuron().unwrap();
    let yes = |n: &str| stored.get(&n.parse::<NeuronId>().unwrap()).map(|l| l[0].applies);
    assert_eq!(yes("L6N1"), Some(true));
    assert_eq!(yes("L6N2"), Some(false), "a yes after the first comma does not count");
    assert_eq!(yes("L6N3"), Some(true), "a yes before the first comma counts wherever it is");
    assert_eq!(yes("L7N4"), Some(true));
    assert_eq!(yes("L7N5"), Some(true));
    assert_eq!(yes("L8N6"), Some(false));
    assert_eq!(yes("L8N7"), Some(true));
    assert_eq!(yes("L9N8"), None, "no answer, no label");
    let slow = &stored[&"L8N7".parse().unwrap()][0];
    assert_eq!(slow.answer, "Yes, in time.", "the raw answer is kept");
    assert_eq!(slow.source, "test-model");
    assert_eq!(slow.evidence, ["slow", "+", "plus", "sum"]);
    assert_eq!((report.answered, report.labelled, report.skipped), (7, 5, 0));
    assert_eq!(report.failed.len(), 1);
    assert_eq!(report.failed[0].0.neuron, "L9N8".parse().unwrap());
    assert!(report.failed[0].1.contains("500"), "{}", report.failed[0].1);
    assert!(report.failed.iter().all(|(_, why)| !why.contains(KEY)));
    assert_eq!(*last.lock().unwrap(), llm::Progress { done: 8, total: 8, labelled: 5, failed: 1 });

    // Retries: one each for the 429, the 500, the malformed body and the timeout; the 429's
    // retry waited for Retry-After (1 s), not the 50 ms backoff.
    for marker in ["ratelimit", "crash", "garbled", "slow"] {
        assert_eq!(attempts(&server, marker).len(), 2, "{marker}");
    }
    let limited = attempts(&server, "ratelimit");
    assert!(limited[1].at - limited[0].at >= Duration::from_millis(950), "{:?}", limited[1].at - limited[0].at);
    assert_eq!(attempts(&server, "broken").len(), 3, "one try and two retries");
    assert_eq!(attempts(&server, "yes").len(), 1);
    assert_eq!(report.requests, server.seen().len());

    // The wire format.
    let first = &attempts(&server, "yes")[0];
    assert_eq!(first.path, "/v1/chat/completions");
    assert_eq!(first.authorization.as_deref(), Some(format!("Bearer {KEY}").as_str()));
    assert_eq!(first.body["model"], "test-model");
    assert_eq!(first.body["temperature"], 0.0);
    assert_eq!(first.body["max_tokens"], 50);
    assert_eq!(
        first.body["messages"],
        serde_json::json!([
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "A neuron in language model promotes the following set of words: yes ,+ ,plus ,sum. \
                Is this neuron promoting arithmetic addition ? First, answer in Yes or No format and provide an explanation."},
        ])
    );

    // A rerun asks only the pair still open; a new store handle sees the committed answers.
    drop(store);
    let mut store = LabelStore::open(&dir.path().join("labels.sqlite3"), "feedface").unwrap();
    let before = server.seen().len();
    let again = llm::label(&mut store, &endpoint, &concepts, &candidates, &|_| {}).unwrap();
    let asked: Vec<String> = server.seen()[before..].iter().map(|s| marker(&s.user)).collect();
    assert_eq!(asked, ["broken"; 3]);
    assert_eq!((again.skipped, again.answered, again.failed.len()), (7, 0, 1));
}
