//! Why one chain-of-thought prompt works better than another (docs/method.md §5): answer scoring,
//! prompts from variants, activation counting over traces, batch runs and ablations.
pub mod ablation;
pub mod answer;
pub mod changes;
pub mod counting;
pub mod dataset;
pub mod error;
pub mod method_data;
pub mod plan;
pub mod results;
pub mod sample;
pub mod shipped;
pub mod summary;
pub mod variants;
