//! The research methods on top of the engine.
pub mod analysis;
pub mod exemplars;
pub mod heuristics;
pub mod labels;
pub mod projection;
pub mod prompts;
pub mod vocab_index;
