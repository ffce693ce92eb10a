//! The research methods on top of the engine.
pub mod prompts;
