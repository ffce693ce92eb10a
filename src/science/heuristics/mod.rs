//! Arithmetic heuristic neurons (Nikankin et al., ICLR 2025; docs/heuristics.md of the method):
//! activation maps of neurons over a grid of `"op1+op2="` prompts, and the heuristics they implement.
pub mod cache;
pub mod catalog;
pub mod classify;
pub mod grid;
pub mod heuristic;
pub mod importance;
pub mod maps;
pub mod patterns;
pub mod prompts;
pub mod runner;
