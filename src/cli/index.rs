//! `neuronav index build` and `neuronav search --promotes TOKEN`: the whole-model vocabulary
//! index; `neuronav search --activates TOKEN`: neurons by their corpus exemplars.
use std::path::PathBuf;
use std::time::Instant;

use clap::{Args, Subcommand};
use color_eyre::eyre::{bail, Result};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use super::exemplar_view::{ExemplarText, ExemplarsArg, NONE};
use super::neuron::ProjectionArgs;
use super::output::{print_csv, print_json, Format, TableJson, TableJsonCsv};
use super::ModelArgs;
use crate::engine::loader;
use crate::engine::session::Control;
use crate::engine::tokenizer::Tokenizer;
use crate::paths::Paths;
use crate::science::exemplars::search;
use crate::science::vocab_index::VocabIndex;

#[derive(Debug, Subcommand)]
pub enum IndexCommand {
    /// Project every neuron to the vocabulary and cache the result
    Build {
        #[command(flatten)]
        projection: ProjectionArgs,
        /// Rebuild even when a cached index exists
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        output: TableJson,
    },
}

#[derive(Debug, Args)]
#[group(id = "query", required = true, multiple = false, args = ["promotes", "activates"])]
pub struct SearchArgs {
    /// Find neurons whose promoted tokens include this token (or the token(s) this text is)
    #[arg(long)]
    pub promotes: Option<String>,
    /// Find neurons whose top corpus exemplars fire on this token, ranked by their activation
    /// there over the layer's scale (needs `neuronav exemplars build`)
    #[arg(long)]
    pub activates: Option<String>,
    #[command(flatten)]
    pub exemplars: ExemplarsArg,
    /// Neurons listed
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    #[command(flatten)]
    pub projection: ProjectionArgs,
    #[command(flatten)]
    pub output: TableJsonCsv,
}

/// What `index build` prints (docs/cli-json.md).
#[derive(Serialize)]
struct BuildReport {
    path: PathBuf,
    built: bool,
    seconds: f64,
    neurons: usize,
    tokens_per_end: usize,
    norm_gain: bool,
}

pub fn run_index(model_args: &ModelArgs, paths: &Paths, command: IndexCommand) -> Result<()> {
    let IndexCommand::Build { projection, force, output } = command;
    let settings = projection.settings();
    let cache = &paths.cache;
    let loaded = model_args.load(paths)?;
    let path = VocabIndex::cache_path(cache, &loaded.fingerprint, settings);
    if force {
        let _ = std::fs::remove_file(&path);
    }
    let bar = ProgressBar::new(loaded.config.num_neurons() as u64).with_style(
        ProgressStyle::with_template("{msg} {bar:40} {pos}/{len} neurons, {eta} left").expect("valid template"),
    );
    bar.set_message("projecting");
    let progress = |done: usize, _total: usize| bar.set_position(done as u64);
    let started = Instant::now();
    let control = Control { cancel: None, progress: Some(&progress) };
    let (_, built) = VocabIndex::load_or_build(loaded.model.as_ref(), cache, &loaded.fingerprint, settings, control)?;
    bar.finish_and_clear();
    let report = BuildReport {
        built,
        seconds: started.elapsed().as_secs_f64(),
        neurons: loaded.config.num_neurons(),
        tokens_per_end: settings.n,
        norm_gain: settings.norm_gain,
        path,
    };
    if output.json() {
        return print_json(&report);
    }
    let verb = if built { "built" } else { "already cached" };
    println!("index of {} neurons {verb} in {:.2} s: {}", report.neurons, report.seconds, report.path.display());
    Ok(())
}

pub fn run_search(model_args: &ModelArgs, paths: &Paths, args: SearchArgs) -> Result<()> {
    let promotes = match (&args.promotes, &args.activates) {
        (Some(text), _) => text.clone(),
        (None, Some(text)) => return run_activates(model_args, paths, &args, text),
        (None, None) => unreachable!("clap requires one of them"),
    };
    let settings = args.projection.settings();
    let cache = &paths.cache;
    let path = model_args.resolve_path(paths)?;
    let fingerprint = crate::engine::fingerprint::fingerprint(&path)?;
    let (_, _, tokenizer) = loader::open(&path)?;
    let index_path = VocabIndex::cache_path(cache, &fingerprint, settings);
    let index = match VocabIndex::load(&index_path) {
        Ok(index) => index,
        // No index yet: build it (this needs the weights) and keep it for next time.
        Err(_) => {
            let loaded = model_args.load(paths)?;
            eprintln!("building the vocabulary index once for this model...");
            VocabIndex::load_or_build(loaded.model.as_ref(), cache, &fingerprint, settings, Control::default())?.0
        }
    };
    let tokens = search_tokens(&tokenizer, &promotes)?;
    let started = Instant::now();
    let hits = index.promoting(&tokens);
    let elapsed = started.elapsed();
    let shown: Vec<_> = hits.iter().take(args.limit).collect();
    match args.output.format() {
        Format::Json => return print_json(&shown),
        Format::Csv => {
            let rows = shown.iter().map(|h| {
                [
                    h.neuron.to_string(),
                    h.logit.to_string(),
                    (h.rank + 1).to_string(),
                    h.token.to_string(),
                    tokenizer.token_display(h.token),
                ]
            });
            return print_csv(&["neuron", "logit", "rank", "token_id", "token"], rows);
        }
        Format::Table => {}
    }
    let names: Vec<String> = tokens.iter().map(|&t| format!("{} ({t})", tokenizer.token_display(t))).collect();
    println!(
        "{} neurons promote {} among their top {} tokens ({:.1} ms)",
        hits.len(),
        names.join(" or "),
        index.settings.n,
        elapsed.as_secs_f64() * 1e3
    );
    for h in shown {
        println!(
            "{:<10} {:>7.2}  rank {:>2}  {}",
            h.neuron.to_string(),
            h.logit,
            h.rank + 1,
            tokenizer.token_display(h.token)
        );
    }
    Ok(())
}

/// A neuron `search --activates` lists (docs/cli-json.md).
#[derive(Serialize)]
struct ActivatesRow {
    neuron: String,
    /// Its top exemplars on the token, of `of`.
    matches: usize,
    of: usize,
    /// The highest m there over the layer's scale.
    normalised: f32,
    best: ExemplarText,
}

fn run_activates(model_args: &ModelArgs, paths: &Paths, args: &SearchArgs, text: &str) -> Result<()> {
    let path = model_args.resolve_path(paths)?;
    let fingerprint = crate::engine::fingerprint::fingerprint(&path)?;
    let (_, _, tokenizer) = loader::open(&path)?;
    let Some(file) = args.exemplars.open(paths, &fingerprint)? else { bail!("{NONE}") };
    let tokens = search_tokens(&tokenizer, text)?;
    let started = Instant::now();
    let found = search::activates(&file, &|t| tokens.contains(&t));
    let elapsed = started.elapsed();
    let rows: Vec<ActivatesRow> = found
        .iter()
        .take(args.limit)
        .map(|a| ActivatesRow {
            neuron: a.neuron.to_string(),
            matches: a.matches,
            of: a.of,
            normalised: a.normalised,
            best: ExemplarText::new(&file, &tokenizer, a.best),
        })
        .collect();
    match args.output.format() {
        Format::Json => return print_json(&rows),
        Format::Csv => {
            let csv = rows.iter().map(|r| {
                [r.neuron.clone(), r.matches.to_string(), r.of.to_string(), r.normalised.to_string(), r.best.line()]
            });
            return print_csv(&["neuron", "matches", "of", "normalised", "best"], csv);
        }
        Format::Table => {}
    }
    let names: Vec<String> = tokens.iter().map(|&t| format!("{} ({t})", tokenizer.token_display(t))).collect();
    println!(
        "{} neurons have top exemplars on {} ({:.1} ms, {})",
        found.len(),
        names.join(" or "),
        elapsed.as_secs_f64() * 1e3,
        file.path().display()
    );
    for r in &rows {
        println!("{:<10} {:>6.2}  {:>2}/{:<2}  {}", r.neuron, r.normalised, r.matches, r.of, r.best.line());
    }
    Ok(())
}

/// The vocabulary entries `text` stands for: the exact entry, and the single token it (or it after
/// a space, as it appears mid-sentence) encodes to.
pub fn search_tokens(tokenizer: &Tokenizer, text: &str) -> Result<Vec<u32>> {
    let mut ids: Vec<u32> = tokenizer.id_of(text).into_iter().collect();
    for variant in [text.to_string(), format!(" {text}")] {
        let encoded: Vec<u32> =
            tokenizer.encode(&variant)?.into_iter().filter(|&t| Some(t) != tokenizer.bos_id()).collect();
        if let [one] = encoded[..] {
            ids.push(one);
        }
    }
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        bail!("'{text}' is not a single token of this model's vocabulary");
    }
    Ok(ids)
}
