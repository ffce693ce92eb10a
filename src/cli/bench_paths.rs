//! `neuronav bench --compare-paths`: the model file run on both compute paths over the same
//! tokens, and how far the fast path's coefficients and top-K sets are from the exact path's.
use std::path::Path;

use color_eyre::eyre::{Result, WrapErr};
use serde::Serialize;

use super::ModelArgs;
use crate::engine::agreement::{self, Agreement};
use crate::engine::loader;
use crate::engine::model::ComputeChoice;
use crate::engine::sampling::Sampling;
use crate::engine::session::{Control, Session, SessionSettings};
use crate::paths::Paths;

#[derive(Serialize)]
pub struct PathsReport {
    positions: usize,
    layers: usize,
    /// The fast path's m and top-K sets against the exact path's.
    fast_against_exact: Agreement,
}

impl PathsReport {
    pub fn line(&self) -> String {
        let a = &self.fast_against_exact;
        format!(
            "fast vs exact    {} positions × {} layers: m off by {:.2}% on average (at most {:.2}%); \
             the top-{} set differs at {:.1}% of (layer, position), {:.1}% of it shared on average",
            self.positions,
            self.layers,
            100.0 * a.mean_relative_error,
            100.0 * a.max_relative_error,
            a.top_k,
            100.0 * a.top_k_differ_fraction(),
            100.0 * a.mean_top_k_shared,
        )
    }
}

/// Loads `path` on each path in turn and runs `ids` through both; the two sessions are alive
/// together, so this takes twice a run's memory.
pub fn bench_paths(model_args: &ModelArgs, paths: &Paths, path: &Path, ids: &[u32]) -> Result<PathsReport> {
    let run = |compute: ComputeChoice| -> Result<Session> {
        let loaded = loader::load_with(path, model_args.device, model_args.dtype, compute, &|_, _| {})
            .wrap_err_with(|| format!("loading the model from {}", path.display()))?;
        let settings = model_args.settings(SessionSettings::default().top_k, Sampling::Greedy);
        let mut session = Session::new(loaded.model, loaded.tokenizer, settings).spill_to(paths.trace_spill());
        session.run_ids(ids.to_vec(), Control::default())?;
        Ok(session)
    };
    let exact = run(ComputeChoice::Exact)?;
    let fast = run(ComputeChoice::Fast)?;
    Ok(PathsReport {
        positions: exact.len(),
        layers: exact.model().config().num_layers,
        fast_against_exact: agreement::compare(exact.trace(), fast.trace())?,
    })
}
