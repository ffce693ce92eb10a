//! The method's LLM step: each lexical candidate's promoted tokens and its concept's question go
//! to a chat model (temperature 0, at most 50 tokens); the neuron carries the concept iff "yes"
//! comes before the first comma of the answer. Requests run on worker threads; every answer is
//! committed to the store the moment it arrives, so an interrupted run keeps what it got and a
//! rerun asks only what is still open.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

use super::concepts::Concepts;
use super::endpoint::Endpoint;
use super::error::Result;
use super::label::{says_yes, NewLabel};
use super::store::LabelStore;
use crate::engine::neuron::NeuronId;

pub const SYSTEM_PROMPT: &str = "You are a helpful assistant.";
pub const TEMPERATURE: f64 = 0.0;
pub const MAX_TOKENS: u32 = 50;
/// Longest wait a 429's Retry-After is obeyed for.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);

/// A (neuron, concept) pair to ask about, with the tokens to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub neuron: NeuronId,
    pub concept: String,
    pub evidence: Vec<String>,
}

/// The user message: the reference's words, tokens joined with " ," as its code does.
pub fn prompt(evidence: &[String], question: &str) -> String {
    format!(
        "A neuron in language model promotes the following set of words: {}. {question} First, answer in Yes or No \
         format and provide an explanation.",
        evidence.join(" ,")
    )
}

/// The chat-completions request body for one question.
pub fn request_body(model: &str, user: &str) -> Value {
    json!({
        "model": model,
        "messages": [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": user},
        ],
        "temperature": TEMPERATURE,
        "max_tokens": MAX_TOKENS,
        "top_p": 1,
        "frequency_penalty": 0,
        "presence_penalty": 0,
    })
}

/// Where a run stands, reported after each candidate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    pub done: usize,
    pub total: usize,
    pub labelled: usize,
    pub failed: usize,
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LlmReport {
    /// Pairs this source had answered before; not asked again.
    pub skipped: usize,
    /// Answers received and stored.
    pub answered: usize,
    /// Of those, how many said yes.
    pub labelled: usize,
    /// Requests made, retries included.
    pub requests: usize,
    /// Pairs with no answer after every retry, with the last error; a rerun asks them again.
    pub failed: Vec<(Candidate, String)>,
}

/// One attempt's failure: whether to retry, and after how long at least.
struct Failure {
    message: String,
    retry_after: Option<Duration>,
    retryable: bool,
}

/// Asks `endpoint` about every candidate its model has not answered yet, storing each answer
/// under the model's name as source.
pub fn label(
    store: &mut LabelStore,
    endpoint: &Endpoint,
    concepts: &Concepts,
    candidates: &[Candidate],
    progress: &dyn Fn(Progress),
) -> Result<LlmReport> {
    let answered = store.answered(&endpoint.model)?;
    let mut seen = std::collections::HashSet::new();
    let mut todo = Vec::new();
    let mut report = LlmReport::default();
    for c in candidates {
        concepts.require(&c.concept)?;
        if answered.contains(&(c.neuron, c.concept.clone())) {
            report.skipped += 1;
        } else if seen.insert((c.neuron, c.concept.clone())) {
            todo.push(c.clone());
        }
    }
    let total = todo.len();
    let queue = Mutex::new(todo.into_iter());
    let stop = AtomicBool::new(false);
    let agent = ureq::AgentBuilder::new().timeout(endpoint.timeout).build();
    let (tx, rx) = mpsc::channel::<(Candidate, std::result::Result<String, String>, usize)>();
    let mut state = Progress { total, ..Progress::default() };
    progress(state);
    std::thread::scope(|scope| -> Result<()> {
        for _ in 0..endpoint.concurrency.min(total.max(1)) {
            let tx = tx.clone();
            let (queue, stop, agent) = (&queue, &stop, &agent);
            scope.spawn(move || loop {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                let Some(candidate) = queue.lock().unwrap_or_else(|e| e.into_inner()).next() else { return };
                let question = &concepts.get(&candidate.concept).expect("checked above").question;
                let (answer, attempts) = ask(agent, endpoint, &prompt(&candidate.evidence, question), stop);
                if tx.send((candidate, answer, attempts)).is_err() {
                    return;
                }
            });
        }
        drop(tx);
        for (candidate, answer, attempts) in rx {
            report.requests += attempts;
            match answer {
                Ok(answer) => {
                    let applies = says_yes(&answer);
                    let label = NewLabel {
                        neuron: candidate.neuron,
                        concept: candidate.concept,
                        source: endpoint.model.clone(),
                        applies,
                        evidence: candidate.evidence,
                        answer,
                    };
                    if let Err(e) = store.upsert_label(&label) {
                        stop.store(true, Ordering::Relaxed);
                        return Err(e);
                    }
                    report.answered += 1;
                    report.labelled += applies as usize;
                }
                Err(message) => report.failed.push((candidate, message)),
            }
            state = Progress { done: state.done + 1, labelled: report.labelled, failed: report.failed.len(), ..state };
            progress(state);
        }
        Ok(())
    })?;
    Ok(report)
}

/// One question, retried with exponential backoff (at least Retry-After on a 429).
/// Returns the answer or the last error, and the number of requests made.
fn ask(agent: &ureq::Agent, endpoint: &Endpoint, user: &str, stop: &AtomicBool) -> (Result<String, String>, usize) {
    let body = request_body(&endpoint.model, user);
    let mut wait = endpoint.backoff;
    for attempt in 0..=endpoint.retries {
        let failure = match request(agent, endpoint, &body) {
            Ok(answer) => return (Ok(answer), attempt as usize + 1),
            Err(f) => f,
        };
        if !failure.retryable || attempt == endpoint.retries || stop.load(Ordering::Relaxed) {
            return (Err(failure.message), attempt as usize + 1);
        }
        std::thread::sleep(failure.retry_after.map_or(wait, |after| after.max(wait)).min(MAX_RETRY_AFTER));
        wait *= 2;
    }
    unreachable!("the last attempt returns")
}

fn request(agent: &ureq::Agent, endpoint: &Endpoint, body: &Value) -> std::result::Result<String, Failure> {
    let mut call = agent.post(&endpoint.completions_url()).set("Content-Type", "application/json");
    if let Some(key) = endpoint.api_key() {
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
    let value: Value = serde_json::from_str(&text).map_err(|e| fail(format!("the reply is not JSON: {e}"), true))?;
    match value.pointer("/choices/0/message/content").and_then(Value::as_str) {
        Some(answer) if !answer.trim().is_empty() => Ok(answer.to_string()),
        _ => Err(fail("the reply has no choices[0].message.content".into(), true)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prompt_is_the_methods() {
        let tokens = ["plus".to_string(), "+".into(), "sum".into()];
        assert_eq!(
            prompt(&tokens, "Is this neuron promoting arithmetic addition ?"),
            "A neuron in language model promotes the following set of words: plus ,+ ,sum. Is this neuron promoting \
             arithmetic addition ? First, answer in Yes or No format and provide an explanation."
        );
        let body = request_body("gpt-4-turbo", "hi");
        assert_eq!(body["temperature"], 0.0);
        assert_eq!(body["max_tokens"], 50);
        assert_eq!(body["messages"][0]["content"], SYSTEM_PROMPT);
        assert_eq!(body["messages"][1]["role"], "user");
    }
}
