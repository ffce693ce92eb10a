//! One output convention: every command that prints data prints one JSON document that parses
//! with `--format json` (the shapes of docs/cli-json.md), `--json` still means the same, CSV has
//! a header row, and exit statuses tell bad usage (2), bad input files (3) and failures (1) apart.
mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

struct Neuronav {
    home: tempfile::TempDir,
    model: PathBuf,
}

impl Neuronav {
    fn new(model: PathBuf) -> Neuronav {
        Neuronav { home: tempfile::tempdir().unwrap(), model }
    }

    fn output(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_neuronav"))
            .arg("--model")
            .arg(&self.model)
            .args(args)
            .env("NEURONAV_HOME", self.home.path())
            .env_remove("NEURONAV_LLM_BASE_URL")
            .env_remove("NEURONAV_LLM_MODEL")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the neuronav binary runs");
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    }

    fn stdout(&self, args: &[&str]) -> String {
        self.stdout_with(args, "")
    }

    fn stdout_with(&self, args: &[&str], stdin: &str) -> String {
        let out = self.output(args, stdin);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "neuronav {args:?} failed:\n{stderr}");
        String::from_utf8(out.stdout).unwrap()
    }

    /// `args --format json`, parsed.
    fn json(&self, args: &[&str]) -> Value {
        let stdout = self.stdout(&[args, &["--format", "json"]].concat());
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("neuronav {args:?}: {e}\n{stdout}"))
    }

    fn path(&self, rel: &str) -> String {
        self.home.path().join(rel).to_str().unwrap().to_string()
    }
}

/// Answers every chat request on 127.0.0.1 with "Yes"; the base URL.
fn yes_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
                if line.trim().is_empty() {
                    break;
                }
            }
            reader.read_exact(&mut vec![0; length]).unwrap();
            let body = r#"{"choices": [{"index": 0, "message": {"role": "assistant", "content": "Yes."}}]}"#;
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(body.as_bytes()));
        }
    });
    url
}

#[test]
fn every_command_that_prints_data_prints_json_with_format_json() {
    let n = Neuronav::new(common::fixture("tiny-llama.gguf"));
    let home = n.home.path();
    let prompt = ["--prompt", "one plus two"];

    let inspect = n.json(&[&["inspect"], &prompt[..], &["--generate", "2"]].concat());
    assert_eq!(inspect["positions"].as_array().unwrap().len(), 3);
    let neuron = n.json(&["neuron", "L1N5"]);
    assert_eq!(neuron["neuron"], "L1N5");
    assert_eq!(n.stdout(&["neuron", "L1N5", "--json"]), n.stdout(&["neuron", "L1N5", "--format", "json"]));
    let index = n.json(&["index", "build"]);
    assert_eq!(index["neurons"], 3 * 160);
    assert!(n.json(&["search", "--promotes", "a"]).is_array());
    std::fs::write(home.join("prompt.txt"), "one plus two").unwrap();
    let bench = n.json(&["bench", "--prompt-file", &n.path("prompt.txt"), "--repeat", "1", "--decode", "1"]);
    assert!(bench["prompt_tokens"].as_u64().unwrap() > 0);

    // Above the tiny model's three layers: no lexicon labels but the two imported below.
    let lexical = n.json(&["label", "lexical", "--min-layer", "3"]);
    assert_eq!(lexical["labels"], 0);
    assert!(lexical["concepts"].is_array());
    std::fs::write(
        home.join("labels.jsonl"),
        "{\"neuron\": \"L1N5\", \"concept\": \"add\", \"label_source\": \"lexicon\"}\n\
         {\"neuron\": \"L2N7\", \"concept\": \"add\", \"label_source\": \"lexicon\"}\n",
    )
    .unwrap();
    // Here --format names the file's format; --json asks for the report as JSON.
    let report = n.stdout(&["label", "import", &n.path("labels.jsonl"), "--format", "jsonl", "--json"]);
    let imported: Value = serde_json::from_str(&report).unwrap();
    assert_eq!(imported["imported"], 2);
    let llm = n.json(&["label", "llm", "--base-url", &yes_server(), "--llm-model", "test-llm", "--concept", "add"]);
    assert_eq!((llm["answered"].as_u64(), llm["labelled"].as_u64()), (Some(2), Some(2)), "{llm}");
    let exported: Value = serde_json::from_str(&n.stdout(&["label", "export", "-", "--format", "json"])).unwrap();
    assert!(exported.as_array().unwrap().len() >= 4);
    let verdict = n.json(&["review", "verdict", "L1N5", "add", "agree"]);
    assert_eq!(verdict["verdict"], "agree");
    let batch = n.stdout_with(&["review", "batch", "--format", "json"], "L2N7 add disagree\nL1N5 add unsure\n");
    let saved: Vec<Value> = batch.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(saved.len(), 2);
    assert_eq!(saved[1]["verdict"], "unsure");
    assert!(n.json(&["review", "queue"])["items"].is_array());
    assert!(n.json(&["review", "stats"])["human"].is_object());

    let compare = n.json(&["compare", "--prompt-a", "one plus two", "--prompt-b", "two plus one", "--generate", "1"]);
    assert!(compare["concepts"].is_array());
    let intervene = n.json(&[&["intervene"], &prompt[..], &["--scale", "L1N5=2", "--generate", "2"]].concat());
    assert_eq!(intervene["scaled"][0][0], "L1N5");

    let data = home.join("method");
    std::fs::create_dir_all(data.join("prompts")).unwrap();
    // Short enough for the tiny model's context of 64 tokens.
    std::fs::write(data.join("prompts/equation_only.txt"), "1+1=2\n").unwrap();
    std::fs::write(data.join("gsm8k_test.jsonl"), "{\"question\": \"2+2?\", \"answer\": \"#### 4\"}\n").unwrap();
    let out = n.path("run");
    let analyze =
        n.json(&["analyze", "--method-data", &n.path("method"), "--samples", "1", "--generate", "1", "--out", &out]);
    assert_eq!(analyze["samples_run"], 1);
    assert_eq!(analyze["summary"]["rows"][0]["variant"], "equation_only");
    assert_eq!(n.json(&["analyze", "merge", "--out", &out])["rows"], analyze["summary"]["rows"]);
}

#[test]
fn heuristics_commands_print_json_with_format_json() {
    let n = Neuronav::new(common::default_model());
    fn with<'a>(args: &[&'a str]) -> Vec<&'a str> {
        [args, &["--range", "0..4", "--layers", "28..30"]].concat()
    }
    assert_eq!(n.json(&with(&["heuristics", "grid"]))["prompts"], 16);
    let map = n.json(&with(&["heuristics", "map", "L29N3"]));
    assert_eq!(map["values"].as_array().unwrap().len(), 4);
    let importance = n.json(&with(&["heuristics", "importance", "--top", "2"]));
    assert_eq!(importance.as_array().unwrap().len(), 4);
    let db = n.path("labels.sqlite3");
    let classify = n.json(&with(&["heuristics", "classify", "--from-layer", "28", "--db", &db]));
    assert!(classify["stored"]["db"].is_string());
    let knockout = n.json(&with(&["heuristics", "knockout", "--by", "prompt", "--prompts", "2", "--per-layer", "0,1"]));
    assert_eq!(knockout.as_array().unwrap().len(), 2);
}

#[test]
fn csv_has_a_header_row_and_the_rows_json_has() {
    let n = Neuronav::new(common::fixture("tiny-llama.gguf"));
    let csv = n.stdout(&["inspect", "--prompt", "one plus two", "--top-k", "3", "--format", "csv"]);
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    assert_eq!(
        reader.headers().unwrap(),
        vec!["position", "token_id", "token", "generated", "layer", "rank", "neuron", "m", "s"]
    );
    // The last prompt position: 3 layers × top 3.
    assert_eq!(reader.records().count(), 9);
    let json: Value = serde_json::from_str(&n.stdout(&["search", "--promotes", "a", "--json"])).unwrap();
    let csv = n.stdout(&["search", "--promotes", "a", "--format", "csv"]);
    let rows: Vec<csv::StringRecord> = csv::Reader::from_reader(csv.as_bytes()).records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), json.as_array().unwrap().len());
    if let Some(first) = rows.first() {
        assert_eq!(&first[0], json[0]["neuron"].as_str().unwrap());
    }
}

fn status(out: &Output) -> (Option<i32>, String, String) {
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

#[test]
fn exit_statuses_tell_usage_input_files_and_failures_apart() {
    let n = Neuronav::new(common::fixture("tiny-llama.gguf"));
    let home = n.home.path();

    // 2: bad usage, clap's own and arguments that name nothing that exists.
    let (code, stdout, stderr) = status(&n.output(&["inspect"], ""));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stdout.is_empty() && stderr.contains("--prompt"), "{stderr}");
    let (code, _, stderr) = status(&n.output(&["inspect", "--prompt", "x", "--format", "yaml"], ""));
    assert_eq!(code, Some(2), "{stderr}");
    let (code, stdout, stderr) =
        status(&n.output(&["compare", "--variant-a", "cot_prompt", "--variant-b", "no_such_variant"], ""));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stdout.is_empty() && stderr.contains("no variant 'no_such_variant'"), "{stderr}");
    assert!(stderr.contains("text_only"), "the variants there are are named: {stderr}");
    let (code, _, stderr) = status(&n.output(&["neuron", "L9N0"], ""));
    assert_eq!(code, Some(2), "{stderr}");

    // 3: bad input files.
    let (code, _, stderr) = status(&n.output(&["inspect", "--prompt-file", &n.path("absent.txt")], ""));
    assert_eq!(code, Some(3), "{stderr}");
    assert!(stderr.contains("absent.txt"), "{stderr}");
    let missing = Neuronav::new(home.join("no-model.gguf"));
    let (code, _, stderr) = status(&missing.output(&["inspect", "--prompt", "x"], ""));
    assert_eq!(code, Some(3), "{stderr}");
    std::fs::write(home.join("questions.jsonl"), "{\"question\": 3}\n").unwrap();
    let args = ["analyze", "--questions", &n.path("questions.jsonl"), "--samples", "1", "--out", &n.path("run")];
    let (code, _, stderr) = status(&n.output(&args, ""));
    assert_eq!(code, Some(3), "{stderr}");
    assert!(stderr.contains("questions.jsonl, line 1"), "{stderr}");

    // 1: a failure while running: this prompt is longer than the tiny model's context of 64.
    let long = "one plus two ".repeat(40);
    let (code, stdout, stderr) = status(&n.output(&["inspect", "--prompt", &long], ""));
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stdout.is_empty() && stderr.contains("context holds 64"), "{stderr}");
}

#[test]
fn a_model_of_another_architecture_is_named_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let gpt2 = r#"{"activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"], "model_type": "gpt2",
        "n_ctx": 1024, "n_embd": 768, "n_head": 12, "n_layer": 12, "n_positions": 1024, "vocab_size": 50257}"#;
    std::fs::write(dir.path().join("config.json"), gpt2).unwrap();
    let n = Neuronav::new(dir.path().to_path_buf());
    let (code, _, stderr) = status(&n.output(&["inspect", "--prompt", "x"], ""));
    assert_eq!(code, Some(3), "{stderr}");
    assert!(
        stderr.contains("model_type 'gpt2' is not supported; neuronav reads Llama-architecture models"),
        "{stderr}"
    );
    assert!(!stderr.contains("missing field"), "{stderr}");
}

/// A build without a GPU backend says how to get one when a device of it is asked for: a failure
/// with the cargo feature to build with, never a panic.
#[test]
#[cfg(not(any(feature = "wgpu", feature = "cuda")))]
fn a_gpu_device_in_a_build_without_it_names_the_feature() {
    let n = Neuronav::new(common::fixture("tiny-llama.gguf"));
    for device in ["wgpu", "cuda"] {
        let (code, stdout, stderr) = status(&n.output(&["--device", device, "inspect", "--prompt", "x"], ""));
        assert_eq!(code, Some(1), "{stderr}");
        assert!(stdout.is_empty() && stderr.contains(&format!("--features {device}")), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}
