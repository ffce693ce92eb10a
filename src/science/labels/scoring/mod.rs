//! Scoring a label: how well its concept explains where the neuron fires on corpus excerpts.
pub mod math;
