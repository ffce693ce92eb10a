//! One chat-completion exchange with an OpenAI-compatible endpoint, as the LLM labeller and the
//! LLM scorers make it: a request with retries (429 after at least Retry-After, 5xx, 408,
//! timeouts, malformed bodies) and exponential backoff, and the answer text or the last error.
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{json, Value};

use super::endpoint::Endpoint;

/// Every question is asked at temperature 0: the same question gets the same answer.
pub const TEMPERATURE: f64 = 0.0;
/// Longest wait a 429's Retry-After is obeyed for.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);

/// What came of one question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The answer text, or the last attempt's error.
    pub answer: Result<String, String>,
    /// Requests made, retries included.
    pub attempts: usize,
}

/// A connection to an endpoint, shared by the threads that ask through it.
pub struct Chat {
    endpoint: Endpoint,
    agent: ureq::Agent,
    stop: AtomicBool,
}

impl Chat {
    pub fn new(endpoint: &Endpoint) -> Chat {
        let agent = ureq::AgentBuilder::new().timeout(endpoint.timeout).build();
        Chat { endpoint: endpoint.clone(), agent, stop: AtomicBool::new(false) }
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// No more retries from now on; a question under way ends with its current attempt.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Sends `body` (a chat-completions request), retried with exponential backoff (at least
    /// Retry-After on a 429).
    pub fn ask(&self, body: &Value) -> Reply {
        let mut wait = self.endpoint.backoff;
        for attempt in 0..=self.endpoint.retries {
            let attempts = attempt as usize + 1;
            let failure = match self.request(body) {
                Ok(answer) => return Reply { answer: Ok(answer), attempts },
                Err(f) => f,
            };
            if !failure.retryable || attempt == self.endpoint.retries || self.stopped() {
                return Reply { answer: Err(failure.message), attempts };
            }
            std::thread::sleep(failure.retry_after.map_or(wait, |after| after.max(wait)).min(MAX_RETRY_AFTER));
            wait *= 2;
        }
        unreachable!("the last attempt returns")
    }

    fn request(&self, body: &Value) -> Result<String, Failure> {
        let mut call = self.agent.post(&self.endpoint.completions_url()).set("Content-Type", "application/json");
        if let Some(key) = self.endpoint.api_key() {
            call = call.set("Authorization", &format!("Bearer {key}"));
        }
        let fail = |message: String, retryable| Failure { message, retry_after: None, retryable };
        let response = match call.send_string(&body.to_string()) {
            Ok(response) => response,
            Err(ureq::Error::Status(code, response)) => {
                let retry_after = response.header("Retry-After").and_then(|s| s.trim().parse::<f64>().ok());
                let detail = response.into_string().unwrap_or_default();
                let detail: String = detail.chars().take(200).collect();
                return Err(Failure {
                    message: format!("HTTP {code}: {}", detail.trim()),
                    retry_after: retry_after.filter(|s| s.is_finite() && *s >= 0.0).map(Duration::from_secs_f64),
                    // Client errors other than rate limits (bad key, unknown model) will not go away.
                    retryable: code == 429 || code >= 500 || code == 408,
                });
            }
            Err(ureq::Error::Transport(t)) => return Err(fail(format!("no reply: {t}"), true)),
        };
        let text = response.into_string().map_err(|e| fail(format!("reading the reply: {e}"), true))?;
        let value: Value =
            serde_json::from_str(&text).map_err(|e| fail(format!("the reply is not JSON: {e}"), true))?;
        match value.pointer("/choices/0/message/content").and_then(Value::as_str) {
            Some(answer) if !answer.trim().is_empty() => Ok(answer.to_string()),
            _ => Err(fail("the reply has no choices[0].message.content".into(), true)),
        }
    }
}

/// One attempt's failure: whether to retry, and after how long at least.
struct Failure {
    message: String,
    retry_after: Option<Duration>,
    retryable: bool,
}

/// A chat-completions request: a system and a user message, at most `max_tokens` tokens of
/// answer.
pub fn request_body(model: &str, system: &str, user: &str, max_tokens: u32) -> Value {
    json!({
        "model": model,
        "messages": [
            {"role": "system", "content": system},
            {"role": "user", "content": user},
        ],
        "temperature": TEMPERATURE,
        "max_tokens": max_tokens,
        "top_p": 1,
        "frequency_penalty": 0,
        "presence_penalty": 0,
    })
}
