//! `neuronav heuristics classify`: heuristic labels for a grid's neurons, with coverage and the
//! most common heuristics, stored in the label database (source `heuristic-match`).
use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Args;
use color_eyre::eyre::Result;
use serde::Serialize;

use super::classify_args::ClassifyArgs;
use super::grid_args::GridArgs;
use crate::cli::output::{print_csv, print_json, Format, TableJsonCsv};
use crate::cli::ModelArgs;
use crate::engine::neuron::NeuronId;
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
    #[command(flatten)]
    pub output: TableJsonCsv,
}

/// What `heuristics classify --format json` prints (docs/cli-json.md).
#[derive(Serialize)]
struct Report {
    coverage: Coverage,
    /// The same over the upper half of the layers.
    upper_half: Coverage,
    heuristics: Vec<Common>,
    /// The labels that apply (all of them with --dry-run, else none).
    labels: Vec<LabelLine>,
    /// What was stored; None with --dry-run.
    stored: Option<Stored>,
}

#[derive(Serialize)]
struct Coverage {
    layers: std::ops::Range<usize>,
    /// Classified neurons with at least one heuristic.
    with_heuristic: usize,
    classified: usize,
}

/// A heuristic and its member neurons.
#[derive(Serialize)]
struct Common {
    heuristic: String,
    meaning: String,
    neurons: usize,
    mean_score: f32,
}

#[derive(Serialize)]
struct LabelLine {
    neuron: NeuronId,
    concept: String,
    evidence: String,
}

#[derive(Serialize)]
struct Stored {
    db: PathBuf,
    labels: usize,
    new: usize,
    changed: usize,
    withdrawn: usize,
}

pub fn run(model_args: &ModelArgs, paths: &Paths, args: ClassifyCommand) -> Result<()> {
    let loaded = model_args.load(paths)?;
    let n_layers = loaded.config.num_layers;
    let maps = args.grid.maps(&loaded, paths)?;
    let neurons = args.classify.classify(&maps, n_layers)?;
    let coverage = |layers: std::ops::Range<usize>| {
        let (with_heuristic, classified) = coverage_in(&neurons, layers.clone());
        Coverage { layers, with_heuristic, classified }
    };
    let grid = format!("grid {}", maps.settings.spec);
    let db = match &args.db {
        Some(p) => p.clone(),
        None => LabelStore::default_path(&paths.data),
    };
    let mut store = LabelStore::open(&db, &loaded.fingerprint)?;
    let earlier = store.labels(&LabelFilter { source: Some(labelling::SOURCE.into()), ..LabelFilter::default() })?;
    let labels = labelling::labels(maps.settings.spec.operator, &grid, &neurons, &earlier);
    let (lines, stored) = if args.dry_run {
        let lines = labels
            .iter()
            .filter(|l| l.applies)
            .map(|l| LabelLine { neuron: l.neuron, concept: l.concept.clone(), evidence: l.evidence[0].clone() })
            .collect();
        (lines, None)
    } else {
        let results = store.upsert_labels(&labels)?;
        let count = |u: Upsert| results.iter().filter(|&&r| r == u).count();
        let withdrawn = labels.iter().filter(|l| !l.applies).count();
        let stored = Stored {
            db,
            labels: labels.len() - withdrawn,
            new: count(Upsert::Inserted),
            changed: count(Upsert::Updated),
            withdrawn,
        };
        (Vec::new(), Some(stored))
    };
    let report = Report {
        coverage: coverage(0..n_layers),
        upper_half: coverage(n_layers / 2..n_layers),
        heuristics: common(&neurons, args.top),
        labels: lines,
        stored,
    };
    match args.output.format() {
        Format::Json => print_json(&report),
        Format::Csv => {
            let rows = report
                .heuristics
                .iter()
                .map(|h| [h.heuristic.clone(), h.meaning.clone(), h.neurons.to_string(), h.mean_score.to_string()]);
            print_csv(&["heuristic", "meaning", "neurons", "mean_score"], rows)
        }
        Format::Table => {
            print_table(&report);
            Ok(())
        }
    }
}

fn print_table(r: &Report) {
    let pct = |c: &Coverage| 100.0 * c.with_heuristic as f64 / c.classified.max(1) as f64;
    let (all, upper) = (&r.coverage, &r.upper_half);
    println!(
        "coverage: {} of {} classified neurons ({:.1}%) have at least one heuristic",
        all.with_heuristic,
        all.classified,
        pct(all)
    );
    println!(
        "  upper half (layers {}..{}): {} of {} ({:.1}%)",
        upper.layers.start,
        upper.layers.end,
        upper.with_heuristic,
        upper.classified,
        pct(upper)
    );
    println!("| heuristic | meaning | neurons | mean score |");
    println!("|---|---|---|---|");
    for h in &r.heuristics {
        println!("| {} | {} | {} | {:.2} |", h.heuristic, h.meaning, h.neurons, h.mean_score);
    }
    for l in &r.labels {
        println!("{} {} ({})", l.neuron, l.concept, l.evidence);
    }
    if let Some(s) = &r.stored {
        println!(
            "stored {} heuristic labels in {} ({} new, {} changed, {} withdrawn)",
            s.labels,
            s.db.display(),
            s.new,
            s.changed,
            s.withdrawn
        );
    }
}

/// The heuristics with the most member neurons, with their mean score.
fn common(neurons: &[NeuronMatches], top: usize) -> Vec<Common> {
    let mut by: BTreeMap<String, (String, Vec<f32>)> = BTreeMap::new();
    for m in neurons.iter().flat_map(|n| &n.matches) {
        by.entry(m.heuristic.name()).or_insert_with(|| (m.heuristic.describe(), Vec::new())).1.push(m.score);
    }
    let mut rows: Vec<(String, String, Vec<f32>)> = by.into_iter().map(|(k, (d, s))| (k, d, s)).collect();
    rows.sort_by(|a, b| b.2.len().cmp(&a.2.len()).then(a.0.cmp(&b.0)));
    rows.into_iter()
        .take(top)
        .map(|(heuristic, meaning, scores)| Common {
            neurons: scores.len(),
            mean_score: scores.iter().sum::<f32>() / scores.len() as f32,
            heuristic,
            meaning,
        })
        .collect()
}
