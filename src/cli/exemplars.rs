//! `neuronav exemplars build|merge`: each neuron's top-activating corpus positions, binned
//! samples and statistics, in a file per model and corpus (resumable, shardable like `analyze`).
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use clap::{Args, Subcommand};
use color_eyre::eyre::Result;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use super::exit::usage;
use super::label::concepts;
use super::output::{print_json, TableJson};
use super::ModelArgs;
use crate::engine::session::Control;
use crate::paths::Paths;
use crate::science::analysis::plan::Shard;
use crate::science::exemplars::build::{self, Outcome, Phase, Plan};
use crate::science::exemplars::corpus::{Corpus, Skipped};
use crate::science::exemplars::file::{ConceptSeeds, ExemplarFile, ModelIdentity, ShardOf, FILE_NAME};
use crate::science::exemplars::{location, merge, Settings};

#[derive(Debug, Subcommand)]
pub enum ExemplarsCommand {
    /// Run the model over a corpus and keep, for every neuron, its top positions by m and by −m,
    /// samples from ten activation bins and its statistics
    Build(BuildArgs),
    /// Merge the finished shards in --out into one file, the same as an unsharded build's
    Merge {
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        #[command(flatten)]
        output: TableJson,
    },
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Corpus files: `*.jsonl` holds a document per line (see --field), any other file a document
    /// per blank-line-separated block [default: the method's GSM8K questions with their answers]
    #[arg(long, value_name = "FILE", num_args = 1..)]
    pub corpus: Vec<PathBuf>,
    /// The JSONL field holding a document's text
    #[arg(long, default_value = "text")]
    pub field: String,
    /// Stop after this many corpus tokens (the last document counted is cut short)
    #[arg(long, value_name = "N")]
    pub max_tokens: Option<usize>,
    /// Positions kept per neuron by m and by −m
    #[arg(long, default_value_t = 20)]
    pub top: usize,
    /// Tokens per forward pass (at most the model's context); longer documents run in windows
    /// overlapping by a quarter, each position counted once
    #[arg(long, default_value_t = 1024)]
    pub window: usize,
    /// K of the statistic "share of positions where the neuron is in its layer's top K"
    #[arg(long, default_value_t = 20)]
    pub top_k: usize,
    /// The build's directory [default: exemplars/<model>-<build> in the cache directory]
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Run only documents index, index + count, …: index/count, e.g. 0/4; `exemplars merge`
    /// joins the shards
    #[arg(long, value_name = "I/N", default_value = "0/1")]
    pub shard: Shard,
    /// Start over instead of resuming a partial build, or replace a finished one
    #[arg(long)]
    pub restart: bool,
    #[command(flatten)]
    pub output: TableJson,
}

#[derive(Serialize)]
struct BuildReport {
    path: PathBuf,
    /// `built`, `already built` or `stopped`.
    outcome: &'static str,
    /// Positions the file counts.
    positions: u64,
    /// Of them, those this run counted (fewer when it resumed a partial build).
    this_run: u64,
    seconds: f64,
    bytes: u64,
    skipped: Vec<Skipped>,
}

pub fn run(model_args: &ModelArgs, paths: &Paths, command: ExemplarsCommand) -> Result<()> {
    match command {
        ExemplarsCommand::Build(args) => run_build(model_args, paths, args),
        ExemplarsCommand::Merge { out, output } => {
            let path = merge::merge(&out)?;
            let bytes = std::fs::metadata(&path).map_or(0, |m| m.len());
            match output.json() {
                true => print_json(&serde_json::json!({ "path": path, "bytes": bytes })),
                false => {
                    println!("merged into {} ({:.1} MB)", path.display(), bytes as f64 / 1e6);
                    Ok(())
                }
            }
        }
    }
}

/// Positions the exemplar file at `path` counts (0 when it cannot be read).
fn counted(path: &std::path::Path) -> u64 {
    ExemplarFile::open(path).map_or(0, |f| f.positions())
}

fn run_build(model_args: &ModelArgs, paths: &Paths, args: BuildArgs) -> Result<()> {
    if args.top == 0 || args.window < 2 {
        return Err(usage("--top must be at least 1 and --window at least 2"));
    }
    if args.max_tokens == Some(0) {
        return Err(usage("--max-tokens must be at least 1"));
    }
    let corpus = match args.corpus.is_empty() {
        true => Corpus::gsm8k(),
        false => Corpus::read(&args.corpus, &args.field)?,
    };
    for s in corpus.skipped.iter().take(5) {
        eprintln!("skipped {}:{}: {}", s.source, s.line, s.why);
    }
    if corpus.skipped.len() > 5 {
        eprintln!("skipped {} lines in all", corpus.skipped.len());
    }
    let loaded = model_args.load(paths)?;
    let concepts: Vec<ConceptSeeds> =
        concepts(paths)?.iter().map(|c| ConceptSeeds { key: c.key.clone(), seeds: c.seeds.clone() }).collect();
    if concepts.len() > 64 {
        return Err(usage("exemplar builds count at most 64 concepts' seed words"));
    }
    let field = args.corpus.iter().any(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("jsonl")));
    let settings = Settings { top: args.top, max_tokens: args.max_tokens, window: args.window, top_k: args.top_k };
    let shard = ShardOf { index: args.shard.index, count: args.shard.count };
    let dir = match &args.out {
        Some(dir) => dir.clone(),
        None => {
            let sources: Vec<String> = args
                .corpus
                .iter()
                .map(|p| std::fs::canonicalize(p).unwrap_or_else(|_| p.clone()).display().to_string())
                .collect();
            let key = serde_json::json!({ "corpus": sources, "field": args.field, "settings": settings, "concepts": concepts });
            location::build_dir(&paths.cache, &loaded.fingerprint, &key.to_string())
        }
    };
    let out = match shard.count {
        1 => dir.join(FILE_NAME),
        _ => dir.join(merge::shard_file(shard)),
    };
    let plan = Plan {
        corpus: &corpus,
        field: field.then(|| args.field.clone()),
        settings,
        shard,
        concepts,
        out,
        restart: args.restart,
    };
    let identity = ModelIdentity {
        name: loaded.name.clone(),
        fingerprint: loaded.fingerprint.clone(),
        layers: loaded.config.num_layers,
        d_ff: loaded.config.intermediate_size,
    };
    // The first Ctrl-C asks the build to stop at the next window and keep what it did; a second
    // one ends the process at once.
    let stop = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register_conditional_shutdown(signal_hook::consts::SIGINT, 1, stop.clone())?;
    signal_hook::flag::register(signal_hook::consts::SIGINT, stop.clone())?;
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template("{msg} {bar:40} {pos}/{len} tokens, {eta} left").expect("valid template"),
    );
    // The rate counts this run's positions only, from where collecting began (or resumed).
    let collecting_from = std::cell::Cell::new(None::<(u64, Instant)>);
    let last = std::cell::Cell::new(0);
    let progress = |phase: Phase, done: u64, total: u64| {
        let message = match phase {
            Phase::Calibrating => "fixing the bins' scale".to_string(),
            Phase::Collecting => {
                let (from, at) = collecting_from.get().unwrap_or((done, Instant::now()));
                collecting_from.set(Some((from, at)));
                let rate = (done - from) as f64 / at.elapsed().as_secs_f64().max(1e-9);
                format!("exemplars, {rate:.0} tokens/s")
            }
        };
        bar.set_message(message);
        last.set(done);
        bar.set_length(total);
        bar.set_position(done);
    };
    let started = Instant::now();
    let control = Control { cancel: Some(&stop), progress: None };
    let outcome = build::build(loaded.model.as_ref(), &loaded.tokenizer, identity, &plan, control, &progress)?;
    bar.finish_and_clear();
    let (path, outcome, positions) = match outcome {
        Outcome::Built { path, positions } => (path, "built", positions),
        Outcome::AlreadyBuilt(path) => (path.clone(), "already built", counted(&path)),
        Outcome::Stopped { partial: Some(path) } => (path.clone(), "stopped", counted(&path)),
        Outcome::Stopped { partial: None } => (dir, "stopped", 0),
    };
    let report = BuildReport {
        bytes: std::fs::metadata(&path).map_or(0, |m| m.len()),
        path,
        outcome,
        positions,
        this_run: collecting_from.get().map_or(0, |(from, _)| last.get() - from),
        seconds: started.elapsed().as_secs_f64(),
        skipped: corpus.skipped.clone(),
    };
    if args.output.json() {
        return print_json(&report);
    }
    match report.outcome {
        "built" => println!(
            "built {}: {} positions, {} of them in this run's {:.1} s ({:.0} tokens/s), {:.1} MB",
            report.path.display(),
            report.positions,
            report.this_run,
            report.seconds,
            report.this_run as f64 / report.seconds.max(1e-9),
            report.bytes as f64 / 1e6
        ),
        "already built" => println!("already built: {}", report.path.display()),
        _ => println!("stopped; run the same command again to go on from {}", report.path.display()),
    }
    Ok(())
}
