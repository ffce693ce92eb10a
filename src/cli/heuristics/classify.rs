//! `neuronav heuristics classify`: heuristic labels for a grid's neurons, with coverage and the
//! most common heuristics, stored in the label database (source `heuristic-match`).
use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Args;
use color_eyre::eyre::Result;

use super::classify_args::ClassifyArgs;
use super::grid_args::GridArgs;
use crate::cli::ModelArgs;
use crate::paths::Paths;
use crate::science::heuristics::labelling::{self, coverage_in, NeuronMatches};
use crate::science::labels::store::{LabelFilter, LabelStore, Upsert};

#[derive(Debug, Args)]
pub struct ClassifyCommand {
    #[command(flatten)]
    pub grid: GridArgs,
    #[command(flatten)]
    pub classify: ClassifyArgs,
    /// Heuristics listed, by number of member neurons
    #[arg(long, default_value_t = 15)]
    pub top: usize,
    /// Print the labels without storing them
    #[arg(long)]
    pub dry_run: bool,
    /// The label database [default: labels.sqlite3 in the data directory]
    #[arg(long, value_name = "PATH")]
    pub db: Option<PathBuf>,
}

pub fn run(model_args: &ModelArgs, paths: &Paths, args: ClassifyCommand) -> Result<()> {
    let loaded = model_args.load(paths)?;
    let n_layers = loaded.config.num_layers;
    let maps = args.grid.maps(&loaded, paths)?;
    let neurons = args.classify.classify(&maps, n_layers)?;
    let (hit, all) = coverage_in(&neurons, 0..n_layers);
    println!("coverage: {hit} of {all} classified neurons ({:.1}%) have at least one heuristic", pct(hit, all));
    let (hit, all) = coverage_in(&neurons, n_layers / 2..n_layers);
    println!("  upper half (layers {}..{n_layers}): {hit} of {all} ({:.1}%)", n_layers / 2, pct(hit, all));
    print_common(&neurons, args.top);
    let grid = format!("grid {}", maps.settings.spec);
    let db = match &args.db {
        Some(p) => p.clone(),
        None => LabelStore::default_path(&paths.data),
    };
    let mut store = LabelStore::open(&db, &loaded.fingerprint)?;
    let earlier = store.labels(&LabelFilter { source: Some(labelling::SOURCE.into()), ..LabelFilter::default() })?;
    let labels = labelling::labels(maps.settings.spec.operator, &grid, &neurons, &earlier);
    if args.dry_run {
        labels.iter().filter(|l| l.applies).for_each(|l| println!("{} {} ({})", l.neuron, l.concept, l.evidence[0]));
        return Ok(());
    }
    let results = store.upsert_labels(&labels)?;
    let count = |u: Upsert| results.iter().filter(|&&r| r == u).count();
    let withdrawn = labels.iter().filter(|l| !l.applies).count();
    println!(
        "stored {} heuristic labels in {} ({} new, {} changed, {withdrawn} withdrawn)",
        labels.len() - withdrawn,
        db.display(),
        count(Upsert::Inserted),
        count(Upsert::Updated)
    );
    Ok(())
}

fn pct(a: usize, b: usize) -> f64 {
    100.0 * a as f64 / b.max(1) as f64
}

/// The heuristics with the most member neurons, with their mean score.
fn print_common(neurons: &[NeuronMatches], top: usize) {
    let mut by: BTreeMap<String, (String, Vec<f32>)> = BTreeMap::new();
    for m in neurons.iter().flat_map(|n| &n.matches) {
        by.entry(m.heuristic.name()).or_insert_with(|| (m.heuristic.describe(), Vec::new())).1.push(m.score);
    }
    let mut rows: Vec<(String, String, Vec<f32>)> = by.into_iter().map(|(k, (d, s))| (k, d, s)).collect();
    rows.sort_by(|a, b| b.2.len().cmp(&a.2.len()).then(a.0.cmp(&b.0)));
    println!("| heuristic | meaning | neurons | mean score |");
    println!("|---|---|---|---|");
    for (name, describe, scores) in rows.iter().take(top) {
        let mean = scores.iter().sum::<f32>() / scores.len() as f32;
        println!("| {name} | {describe} | {} | {mean:.2} |", scores.len());
    }
}
