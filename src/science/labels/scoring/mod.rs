//! Scoring a label: how well its concept lets a chat model predict where the neuron fires on
//! corpus excerpts. `detection` asks which excerpts activate the neuron; `simulation` asks for an
//! activation per token. Each returns a [`ScoreOutcome`]: a score, or why there is none, and
//! every answer received, ready to store with [`ScoreOutcome::to_new_score`].
//!
//! Asking goes through [`Chat`](super::chat::Chat), the same endpoint, settings and retries as
//! `label llm`. A failed request, a refusal or an answer in the wrong shape is an outcome
//! without a score, never an error: a run over many labels goes on.
pub mod detection;
pub mod math;
pub mod simulation;

use serde_json::Value;

use super::concepts::Concept;
use super::excerpt::{visible, Excerpt};
use super::score::NewScore;
use crate::engine::neuron::NeuronId;

/// The system message of both scorers.
pub const SYSTEM_PROMPT: &str = "You are a careful assistant who helps interpret neurons of language models.";

/// What a scorer made of one label.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreOutcome {
    /// `detection` or `simulation`.
    pub scorer: &'static str,
    /// A finite number, or None with `failure` saying why.
    pub score: Option<f64>,
    pub failure: Option<String>,
    /// The excerpts the score rests on.
    pub contexts: u32,
    /// What was shown and everything that came back: raw answers, errors, parsed values.
    pub detail: Value,
    /// Requests made, retries included.
    pub requests: usize,
}

impl ScoreOutcome {
    /// The row to store for the label (`neuron`, `concept`, `source`).
    pub fn to_new_score(&self, neuron: NeuronId, concept: &str, source: &str) -> NewScore {
        NewScore {
            neuron,
            concept: concept.into(),
            source: source.into(),
            scorer: self.scorer.into(),
            score: self.score,
            failure: self.failure.clone(),
            contexts: self.contexts,
            detail: self.detail.to_string(),
        }
    }

    /// No score: `failure` says why.
    fn failed(scorer: &'static str, failure: String, contexts: u32, detail: Value, requests: usize) -> ScoreOutcome {
        ScoreOutcome { scorer, score: None, failure: Some(failure), contexts, detail, requests }
    }
}

/// The opening both prompts share: the concept under test.
fn concept_lines(concept: &Concept) -> String {
    format!(
        "We are checking whether a neuron in a language model responds to {}. The question asked about it was: \"{}\"",
        concept.name, concept.question
    )
}

/// The excerpt as one line of text, its focus token between `[[` and `]]`.
fn marked(excerpt: &Excerpt) -> String {
    excerpt
        .tokens
        .iter()
        .enumerate()
        .map(|(i, t)| if i == excerpt.focus { format!("[[{}]]", visible(t)) } else { visible(t) })
        .collect()
}
