//! The instrumented model: loading, tokenizing, forward passes with neuron capture.
//! Knows nothing of terminals or databases.
pub mod agreement;
pub mod config;
pub mod default_model;
pub mod error;
pub mod fingerprint;
#[cfg(any(feature = "cuda", feature = "wgpu"))]
pub mod gpu;
pub mod hook;
pub mod intervention;
pub mod loader;
pub mod memory;
pub mod model;
pub mod neuron;
pub mod random_model;
pub mod runtime;
pub mod sampling;
pub mod session;
pub mod tokenizer;
pub mod trace;
pub mod weights;

pub use error::{EngineError, Result};
