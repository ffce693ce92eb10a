//! neuronav: explore the feed-forward neurons of Llama-architecture language models.
pub mod cli;
pub mod engine;
pub mod paths;
pub mod science;
pub mod tui;
