//! Concept labels: which neurons carry which of the method's concepts, who says so, and what
//! people checking them said.
//!
//! - `concepts`: the concepts (built in, plus the user's), each with seed words and a question;
//! - `lexical`: the seed-word pre-filter over the whole-model index;
//! - `llm` and `endpoint`: the Yes/No question to an OpenAI-compatible chat endpoint;
//! - `chat`: one exchange with that endpoint, retries included, for the labeller and the scorers;
//! - `excerpt` and `scoring`: scoring a label by how well its concept predicts the neuron's
//!   activations on corpus excerpts (detection, simulation);
//! - `store`: labels, verdicts and scores in SQLite, keyed by model fingerprint;
//! - `score`: what is kept of a scorer's judgement of a label;
//! - `interchange`: JSON, JSONL and CSV label files in and out;
//! - `agreement`: agreement with verdicts, Cohen's kappa between sources, and how scores go with
//!   the verdicts.
pub mod agreement;
pub mod chat;
pub mod concepts;
pub mod endpoint;
pub mod error;
pub mod excerpt;
pub mod interchange;
pub mod label;
pub mod lexical;
mod lines;
pub mod llm;
pub mod score;
pub mod scoring;
pub mod store;
