//! The LLM labeller against a chat-completions server on 127.0.0.1 that answers per neuron: plain
//! yes and no, a yes later in the first clause, a 429 with Retry-After, a 500, a malformed body, a
//! reply slower than the timeout, and a pair that never gets an answer.
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use neuronav::engine::neuron::NeuronId;
use neuronav::science::labels::concepts::Concepts;
use neuronav::science::labels::endpoint::Endpoint;
use neuronav::science::labels::llm::{self, Candidate};
use neuronav::science::labels::store::LabelStore;
use serde_json::Value;

const KEY: &str = "sk-test-0123456789";

/// One request as the server saw it.
#[derive(Debug, Clone)]
struct Seen {
    marker: String,
    at: Instant,
    path: String,
    authorization: Option<String>,
    body: Value,
}

#[derive(Default)]
struct Server {
    seen: Mutex<Vec<Seen>>,
}

impl Server {
    /// Binds 127.0.0.1 on a free port; returns the base URL.
    fn start(self: &Arc<Self>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/v1", listener.local_addr().unwrap());
        let server = self.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let server = server.clone();
                std::thread::spawn(move || server.handle(stream));
            }
        });
        url
    }

    fn attempts(&self, marker: &str) -> Vec<Seen> {
        self.seen.lock().unwrap().iter().filter(|s| s.marker == marker).cloned().collect()
    }

    fn handle(&self, stream: TcpStream) {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut request_line = String::new();
        reader.read_line(&mut request_line).unwrap();
        let path = request_line.split_whitespace().nth(1).unwrap_or("").to_string();
        let mut headers = HashMap::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(':').unwrap();
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
        }
        let length: usize = headers.get("content-length").map_or(0, |v| v.parse().unwrap());
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let body: Value = serde_json::from_slice(&body).unwrap();
        let user = body["messages"][1]["content"].as_str().unwrap_or("").to_string();
        // The first evidence token names the behaviour.
        let marker = user.split("words: ").nth(1).and_then(|r| r.split(' ').next()).unwrap_or("").to_string();
        let attempt = {
            let mut seen = self.seen.lock().unwrap();
            seen.push(Seen {
                marker: marker.clone(),
                at: Instant::now(),
                path,
                authorization: headers.get("authorization").cloned(),
                body: body.clone(),
            });
            seen.iter().filter(|s| s.marker == marker).count()
        };
        let ok = |answer: &str| {
            let reply = serde_json::json!({
                "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": body["model"],
                "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 60, "completion_tokens": 12, "total_tokens": 72},
            });
            (200, "OK", reply.to_string(), None)
        };
        let error = |code, reason, retry_after| {
            (code, reason, r#"{"error": {"message": "try later", "type": "server_error"}}"#.to_string(), retry_after)
        };
        let (code, reason, text, retry_after) = match (marker.as_str(), attempt) {
            ("yes", _) => ok("Yes, these tokens are about addition."),
            ("no", _) => ok("No, these tokens are not about addition, yes they are numbers."),
            ("later", _) => ok("The answer is yes, the neuron promotes addition."),
            ("ratelimit", 1) => error(429, "Too Many Requests", Some("1")),
            ("ratelimit", _) => ok("Yes, it promotes plus."),
            ("crash", 1) => error(500, "Internal Server Error", None),
            ("crash", _) => ok("yes, mostly"),
            ("garbled", 1) => (200, "OK", r#"{"choices": [{"message": "#.to_string(), None),
            ("garbled", _) => ok("No, not really."),
            ("slow", 1) => {
                std::thread::sleep(Duration::from_millis(2500));
                ok("Yes, but too late.")
            }
            ("slow", _) => ok("Yes, in time."),
            _ => error(500, "Internal Server Error", None),
        };
        let mut stream = stream;
        let extra = retry_after.map_or(String::new(), |s| format!("Retry-After: {s}\r\n"));
        let head = format!(
            "HTTP/1.1 {code} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n",
            text.len()
        );
        let _ = stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(text.as_bytes()));
    }
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
    let server = Arc::new(Server::default());
    let url = server.start();
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
        assert_eq!(server.attempts(marker).len(), 2, "{marker}");
    }
    let limited = server.attempts("ratelimit");
    assert!(limited[1].at - limited[0].at >= Duration::from_millis(950), "{:?}", limited[1].at - limited[0].at);
    assert_eq!(server.attempts("broken").len(), 3, "one try and two retries");
    assert_eq!(server.attempts("yes").len(), 1);
    assert_eq!(report.requests, server.seen.lock().unwrap().len());

    // The wire format.
    let first = &server.attempts("yes")[0];
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
    let before = server.seen.lock().unwrap().len();
    let again = llm::label(&mut store, &endpoint, &concepts, &candidates, &|_| {}).unwrap();
    let asked: Vec<String> = server.seen.lock().unwrap()[before..].iter().map(|s| s.marker.clone()).collect();
    assert_eq!(asked, ["broken"; 3]);
    assert_eq!((again.skipped, again.answered, again.failed.len()), (7, 0, 1));
}
