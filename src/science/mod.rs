//! The research methods on top of the engine.
pub mod projection;
pub mod prompts;
pub mod vocab_index;
