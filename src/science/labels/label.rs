//! What the store holds: labels (claims that a neuron carries a concept, by a source) and human
//! verdicts on those claims.
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::engine::neuron::NeuronId;

/// The source the lexical pre-filter writes.
pub const LEXICON: &str = "lexicon";

/// A source's answer to "does `neuron` carry `concept`?".
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Label {
    pub neuron: NeuronId,
    /// A concept key (`add`).
    pub concept: String,
    /// Who says so: `lexicon`, an LLM's model name (`gpt-4-turbo`), an imported file's source.
    pub source: String,
    /// Whether the source says yes. An LLM that answered No leaves a label with `applies` false,
    /// so that a rerun does not ask again and the answer can be compared with other sources.
    pub applies: bool,
    /// The tokens the source was shown: the neuron's promoted tokens, stripped.
    pub evidence: Vec<String>,
    /// The source's raw answer text; empty for the lexicon.
    pub answer: String,
    /// When it was stored, UTC, ISO 8601.
    pub time: String,
}

/// A label about to be stored (the store sets the time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLabel {
    pub neuron: NeuronId,
    pub concept: String,
    pub source: String,
    pub applies: bool,
    pub evidence: Vec<String>,
    pub answer: String,
}

/// The method's reading of an answer: a label iff "yes" (any case) comes before the first comma.
pub fn says_yes(answer: &str) -> bool {
    answer.split(',').next().unwrap_or("").to_lowercase().contains("yes")
}

/// A person's judgement of the claim "`neuron` carries `concept`".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum VerdictKind {
    /// It does.
    Agree,
    /// It does not.
    Disagree,
    Unsure,
}

impl VerdictKind {
    pub fn as_str(self) -> &'static str {
        match self {
            VerdictKind::Agree => "agree",
            VerdictKind::Disagree => "disagree",
            VerdictKind::Unsure => "unsure",
        }
    }
}

impl fmt::Display for VerdictKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for VerdictKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "agree" | "a" | "yes" => Ok(VerdictKind::Agree),
            "disagree" | "d" | "no" => Ok(VerdictKind::Disagree),
            "unsure" | "u" | "?" => Ok(VerdictKind::Unsure),
            _ => Err(format!("'{s}' is not a verdict: agree, disagree or unsure")),
        }
    }
}

/// A verdict to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewVerdict {
    pub neuron: NeuronId,
    pub concept: String,
    pub verdict: VerdictKind,
    pub note: Option<String>,
    /// The concept the neuron carries instead, when the person says so.
    pub corrected: Option<String>,
}

/// A recorded verdict. Verdicts are never overwritten: the latest one about a pair is current.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// Increasing in the order verdicts were committed.
    pub id: i64,
    pub neuron: NeuronId,
    pub concept: String,
    pub verdict: VerdictKind,
    pub note: Option<String>,
    pub corrected: Option<String>,
    pub time: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yes_counts_only_before_the_first_comma() {
        assert!(says_yes("Yes, these tokens are about addition."));
        assert!(says_yes("YES. The neuron promotes plus, sum and add"));
        assert!(!says_yes("No, these tokens are not about addition, yes."));
        assert!(!says_yes("The answer is no, yes it could be"));
        // "yes" anywhere before the comma counts, not only as the first word.
        assert!(says_yes("The answer is yes, it promotes addition"));
        assert!(!says_yes(""));
        assert!(!says_yes("Nope"));
    }
}
