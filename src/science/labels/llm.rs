//! The method's LLM step: each lexical candidate's promoted tokens and its concept's question go
//! to a chat model (temperature 0, at most 50 tokens); the neuron carries the concept iff "yes"
//! comes before the first comma of the answer. Requests run on worker threads; every answer is
//! committed to the store the moment it arrives, so an interrupted run keeps what it got and a
//! rerun asks only what is still open.
use std::sync::{mpsc, Mutex};

use serde_json::Value;

use super::chat::{self, Chat};
use super::concepts::Concepts;
use super::endpoint::Endpoint;
use super::error::Result;
use super::label::{says_yes, NewLabel};
use super::store::LabelStore;
use crate::engine::neuron::NeuronId;

pub const SYSTEM_PROMPT: &str = "You are a helpful assistant.";
pub const MAX_TOKENS: u32 = 50;

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
    chat::request_body(model, SYSTEM_PROMPT, user, MAX_TOKENS)
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
    let chat = Chat::new(endpoint);
    let (tx, rx) = mpsc::channel::<(Candidate, std::result::Result<String, String>, usize)>();
    let mut state = Progress { total, ..Progress::default() };
    progress(state);
    std::thread::scope(|scope| -> Result<()> {
        for _ in 0..endpoint.concurrency.min(total.max(1)) {
            let tx = tx.clone();
            let (queue, chat) = (&queue, &chat);
            scope.spawn(move || loop {
                if chat.stopped() {
                    return;
                }
                let Some(candidate) = queue.lock().unwrap_or_else(|e| e.into_inner()).next() else { return };
                let question = &concepts.get(&candidate.concept).expect("checked above").question;
                let body = request_body(&endpoint.model, &prompt(&candidate.evidence, question));
                let reply = chat.ask(&body);
                if tx.send((candidate, reply.answer, reply.attempts)).is_err() {
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
                        chat.stop();
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
