//! Running one prompt the method's way: greedy decoding of N tokens (no stop at end of text),
//! then counting reasoning-neuron activations at the last prompt token and each generated one.
use serde::{Deserialize, Serialize};

use super::answer;
use super::counting::{method_positions, Activations, ReasoningNeurons};
use super::error::Result;
use crate::engine::session::{Control, Session};

/// What a run of one prompt gave.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    pub prompt_tokens: usize,
    pub generated_text: String,
    pub activations: Activations,
}

/// Runs `prompt` on `session` (with whatever interventions it holds) and generates `generate`
/// tokens greedily. The session keeps the trace for further inspection.
pub fn run(session: &mut Session, prompt: &str, generate: usize, neurons: &ReasoningNeurons) -> Result<Run> {
    session.run_prompt(prompt, Control::default())?;
    for _ in 0..generate {
        session.step(Control::default())?;
    }
    let positions = method_positions(session.prompt_len(), generate);
    Ok(Run {
        prompt_tokens: session.prompt_len(),
        generated_text: session.generated_text(),
        activations: Activations::of_trace(session.trace(), positions, neurons),
    })
}

/// One (condition, variant, question) result of an analysis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleResult {
    pub condition: String,
    pub variant: String,
    pub question: usize,
    pub gold: Option<f64>,
    pub prediction: Option<f64>,
    pub correct: bool,
    pub run: Run,
}

impl SampleResult {
    /// Scores `run` against the GSM8K `solution`, reading the `occurrence`-th answer marker.
    pub fn score(condition: &str, variant: &str, question: usize, solution: &str, occurrence: usize, run: Run) -> Self {
        let gold = answer::gold(solution);
        let prediction = answer::prediction(&run.generated_text, occurrence);
        SampleResult {
            condition: condition.to_string(),
            variant: variant.to_string(),
            question,
            gold,
            prediction,
            correct: answer::is_correct(prediction, gold),
            run,
        }
    }
}
