//! What the store keeps of a label's scores: how well a scorer found the label's concept to
//! explain the neuron, or why it could not say, with everything the scorer received.
use serde::Serialize;

use crate::engine::neuron::NeuronId;

/// Detection: can a model, told the concept, tell excerpts where the neuron fires from ones where
/// it does not (balanced accuracy).
pub const DETECTION: &str = "detection";
/// Simulation: how well a model's per-token predictions from the concept follow the neuron's
/// activations (Pearson r).
pub const SIMULATION: &str = "simulation";
/// Seeds: how far the concept's seed words in a text go with the neuron's activations.
pub const SEEDS: &str = "seeds";
/// The scorers a review shows, in order, scored or not.
pub const SCORERS: [&str; 3] = [DETECTION, SIMULATION, SEEDS];

/// A score about to be stored (the store sets the time). Exactly one of `score` and `failure` is
/// set.
#[derive(Debug, Clone, PartialEq)]
pub struct NewScore {
    pub neuron: NeuronId,
    pub concept: String,
    /// The source of the label scored.
    pub source: String,
    /// Who scored it: `detection`, `simulation`, `seeds`.
    pub scorer: String,
    /// A finite number; None when the scorer could not score.
    pub score: Option<f64>,
    /// Why there is no score.
    pub failure: Option<String>,
    /// How many contexts (corpus excerpts) the score rests on.
    pub contexts: u32,
    /// JSON: the scorer's inputs and raw answers, so that nothing it received is lost.
    pub detail: String,
}

/// A stored score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Score {
    pub neuron: NeuronId,
    pub concept: String,
    pub source: String,
    pub scorer: String,
    pub score: Option<f64>,
    pub failure: Option<String>,
    pub contexts: u32,
    pub detail: String,
    /// When it was stored, UTC, ISO 8601.
    pub time: String,
}

impl Score {
    /// `0.81`, `failed (why)`: a score as a line of text shows it.
    pub fn describe(&self) -> String {
        match (self.score, &self.failure) {
            (Some(score), _) => format!("{score:.2}"),
            (None, Some(why)) => format!("failed ({why})"),
            (None, None) => "failed".into(),
        }
    }
}

/// Every known scorer in order, then any other that scored, each with its score of the label
/// among `scores` (all of one label): what a view lists, so that a missing score reads "not
/// scored" rather than vanishing.
pub fn by_scorer<'a>(scores: &[&'a Score]) -> Vec<(String, Option<&'a Score>)> {
    let others = scores.iter().map(|s| s.scorer.as_str()).filter(|s| !SCORERS.contains(s));
    SCORERS
        .into_iter()
        .chain(others)
        .map(|scorer| (scorer.to_string(), scores.iter().copied().find(|s| s.scorer == scorer)))
        .collect()
}
