//! `neuronav neuron L21N7027`: what a neuron promotes and suppresses.
use std::path::PathBuf;

use clap::Args;
use color_eyre::eyre::Result;
use serde::Serialize;

use super::exit::usage;
use super::output::{print_json, TableJson};
use super::ModelArgs;
use crate::engine::neuron::NeuronId;
use crate::paths::Paths;
use crate::science::labels::label::{Label, Verdict};
use crate::science::labels::score::{by_scorer, Score};
use crate::science::labels::store::LabelStore;
use crate::science::projection::{self, ProjectionSettings};

#[derive(Debug, Args)]
pub struct NeuronArgs {
    /// The neuron, as L{layer}N{index} (both 0-based)
    pub neuron: NeuronId,
    #[command(flatten)]
    pub projection: ProjectionArgs,
    #[command(flatten)]
    pub output: TableJson,
    /// The label database [default: labels.sqlite3 in the data directory]
    #[arg(long, value_name = "PATH")]
    pub db: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ProjectionArgs {
    /// Tokens shown at each end of the projection
    #[arg(long, default_value_t = 20)]
    pub tokens: usize,
    /// Apply the final norm's gain to the value vector before the unembedding (the method's
    /// reference projects it raw)
    #[arg(long)]
    pub norm_gain: bool,
}

impl ProjectionArgs {
    pub fn settings(&self) -> ProjectionSettings {
        ProjectionSettings { n: self.tokens, norm_gain: self.norm_gain }
    }
}

#[derive(Serialize)]
struct NeuronReport {
    neuron: String,
    norm_gain: bool,
    promotes: Vec<TokenReport>,
    suppresses: Vec<TokenReport>,
    labels: Vec<Label>,
    verdicts: Vec<Verdict>,
    scores: Vec<Score>,
}

#[derive(Serialize)]
struct TokenReport {
    id: u32,
    text: String,
    logit: f32,
}

fn scores_label(s: &Score, l: &Label) -> bool {
    s.concept == l.concept && s.source == l.source
}

/// `detection 0.81 (20 contexts) · simulation not scored · seeds not scored`.
fn label_scores(scores: &[Score], label: &Label) -> String {
    let mine: Vec<&Score> = scores.iter().filter(|s| scores_label(s, label)).collect();
    let shown: Vec<String> = by_scorer(&mine)
        .into_iter()
        .map(|(scorer, score)| match score {
            Some(s) => format!("{scorer} {} ({} contexts)", s.describe(), s.contexts),
            None => format!("{scorer} not scored"),
        })
        .collect();
    shown.join(" · ")
}

pub fn run(model_args: &ModelArgs, paths: &Paths, args: NeuronArgs) -> Result<()> {
    let loaded = model_args.load(paths)?;
    let c = &loaded.config;
    let NeuronId { layer, index } = args.neuron;
    if layer as usize >= c.num_layers || index as usize >= c.intermediate_size {
        return Err(usage(format!(
            "{} is outside this model: it has layers 0..{} with neurons 0..{}",
            args.neuron, c.num_layers, c.intermediate_size
        )));
    }
    let p = projection::project(loaded.model.as_ref(), args.neuron, args.projection.settings());
    let tok = &loaded.tokenizer;
    let tokens = |v: &[projection::TokenLogit]| -> Vec<TokenReport> {
        v.iter().map(|t| TokenReport { id: t.token, text: tok.token_display(t.token), logit: t.logit }).collect()
    };
    let db = match &args.db {
        Some(p) => p.clone(),
        None => LabelStore::default_path(&paths.data),
    };
    // Looking at a neuron creates no database; with none there are no labels to show.
    let (labels, verdicts, scores) = if db.is_file() {
        let store = LabelStore::open(&db, &loaded.fingerprint)?;
        (store.labels_for(args.neuron)?, store.verdicts_for(args.neuron)?, store.scores_for(args.neuron)?)
    } else {
        (Vec::new(), Vec::new(), Vec::new())
    };
    let report = NeuronReport {
        neuron: args.neuron.to_string(),
        norm_gain: args.projection.norm_gain,
        promotes: tokens(&p.top),
        suppresses: tokens(&p.bottom),
        labels,
        verdicts,
        scores,
    };
    if args.output.json() {
        return print_json(&report);
    }
    println!("{} of {}", report.neuron, loaded.name);
    let line =
        |v: &[TokenReport]| v.iter().map(|t| format!("{} {:+.2}", t.text, t.logit)).collect::<Vec<_>>().join("  ");
    println!("promotes:   {}", line(&report.promotes));
    println!("suppresses: {}", line(&report.suppresses));
    for l in &report.labels {
        let said = if l.applies { "yes" } else { "no" };
        let answer = if l.answer.is_empty() { String::new() } else { format!(": {}", l.answer.replace('\n', " ")) };
        println!("label:      {} ({}, {said}){answer}", l.concept, l.source);
        println!("  scores:   {}", label_scores(&report.scores, l));
    }
    let orphans = report.scores.iter().filter(|s| !report.labels.iter().any(|l| scores_label(s, l)));
    for s in orphans {
        println!("score:      {} ({}, {}) {}", s.concept, s.source, s.scorer, s.describe());
    }
    for v in &report.verdicts {
        let corrected = v.corrected.as_deref().map_or(String::new(), |c| format!(", is {c}"));
        let note = v.note.as_deref().map_or(String::new(), |n| format!(": {n}"));
        println!("verdict:    {} {}{corrected} ({}){note}", v.concept, v.verdict, v.time);
    }
    Ok(())
}
