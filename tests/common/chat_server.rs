//! A scripted OpenAI-compatible chat-completions server on 127.0.0.1 for the tests of the LLM
//! labeller and scorers: a script maps each request's user message (and how many times that same
//! message came before) to a reply, and every request is kept for the test to inspect.
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The user message.
    pub user: String,
    pub at: Instant,
    pub path: String,
    pub authorization: Option<String>,
    pub body: Value,
}

/// What the server sends back.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A 200 completion whose message content is this text.
    Answer(String),
    /// An error status with a JSON error body, and a Retry-After header when given.
    Status { code: u16, reason: &'static str, retry_after: Option<&'static str> },
    /// A 200 with this raw body.
    Raw(String),
    /// The reply after a wait.
    Slow(Duration, Box<Reply>),
}

impl Reply {
    pub fn answer(text: &str) -> Reply {
        Reply::Answer(text.to_string())
    }
}

type Script = Box<dyn Fn(&str, usize) -> Reply + Send + Sync>;

pub struct ChatServer {
    seen: Mutex<Vec<Seen>>,
    script: Script,
}

impl ChatServer {
    /// Binds a free port and serves `script(user message, attempt)`, attempt counting from 1 per
    /// distinct user message. Returns the server and its base URL (up to `/v1`).
    pub fn start(script: impl Fn(&str, usize) -> Reply + Send + Sync + 'static) -> (Arc<ChatServer>, String) {
        let server = Arc::new(ChatServer { seen: Mutex::new(Vec::new()), script: Box::new(script) });
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/v1", listener.local_addr().unwrap());
        let serving = server.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let server = serving.clone();
                std::thread::spawn(move || server.handle(stream));
            }
        });
        (server, url)
    }

    /// Every request so far, in arrival order.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
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
        let attempt = {
            let mut seen = self.seen.lock().unwrap();
            seen.push(Seen {
                user: user.clone(),
                at: Instant::now(),
                path,
                authorization: headers.get("authorization").cloned(),
                body: body.clone(),
            });
            seen.iter().filter(|s| s.user == user).count()
        };
        let mut reply = (self.script)(&user, attempt);
        while let Reply::Slow(wait, then) = reply {
            std::thread::sleep(wait);
            reply = *then;
        }
        let (code, reason, text, retry_after) = match reply {
            Reply::Answer(answer) => {
                let reply = serde_json::json!({
                    "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": body["model"],
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 60, "completion_tokens": 12, "total_tokens": 72},
                });
                (200, "OK", reply.to_string(), None)
            }
            Reply::Status { code, reason, retry_after } => {
                let text = r#"{"error": {"message": "try later", "type": "server_error"}}"#.to_string();
                (code, reason, text, retry_after)
            }
            Reply::Raw(text) => (200, "OK", text, None),
            Reply::Slow(..) => unreachable!("waited for above"),
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
