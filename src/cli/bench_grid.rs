//! `neuronav bench --grid`: the standard operand grid (`+`, operands 0..50, every layer) built in
//! memory, the cost a first heatmap or `heuristics grid` pays before the cache has it.
use std::time::Instant;

use color_eyre::eyre::{eyre, Result};
use serde::Serialize;

use crate::engine::session::{Control, Session};
use crate::science::heuristics::grid::{GridSpec, Operator};
use crate::science::heuristics::maps::{GridMaps, MapSettings};
use crate::science::heuristics::prompts::{default_prefix, GridPrompts};

#[derive(Serialize)]
pub struct GridReport {
    prompts: usize,
    /// Tokens run: the prefix once, then every prompt with its answer.
    tokens: usize,
    seconds: f64,
    tokens_per_second: f64,
    accuracy: f64,
}

impl GridReport {
    pub fn line(&self) -> String {
        format!(
            "grid 0..50 +     {} prompts, {} tokens in {:.2} s = {:.0} tok/s (accuracy {:.1}%)",
            self.prompts,
            self.tokens,
            self.seconds,
            self.tokens_per_second,
            100.0 * self.accuracy
        )
    }
}

pub fn bench_grid(session: &Session) -> Result<GridReport> {
    let tokenizer = session.tokenizer().ok_or_else(|| eyre!("--grid needs a model with a tokenizer"))?;
    let model = session.model();
    let spec = GridSpec::square(Operator::Add, 50);
    let prefix = default_prefix(spec.operator).to_string();
    let prompts = GridPrompts::new(&spec, &prefix, tokenizer)?;
    let tokens = prompts.prefix.len() + prompts.cells.iter().flatten().map(|c| c.tokens.len()).sum::<usize>();
    let settings = MapSettings { spec, prefix, slots: 1, layers: (0..model.config().num_layers).collect() };
    let t = Instant::now();
    let maps = GridMaps::build(model.as_ref(), tokenizer, settings, Control::default())?;
    let seconds = t.elapsed().as_secs_f64();
    Ok(GridReport {
        prompts: maps.outcomes.iter().flatten().count(),
        tokens,
        seconds,
        tokens_per_second: tokens as f64 / seconds,
        accuracy: maps.accuracy(),
    })
}
