//! `neuronav neuron L21N7027`: what a neuron promotes and suppresses.
use std::path::PathBuf;

use clap::Args;
use color_eyre::eyre::Result;
use serde::Serialize;

use super::exemplar_view::{ExemplarText, ExemplarsArg, NONE};
use super::exit::usage;
use super::output::{print_json, TableJson};
use super::ModelArgs;
use crate::engine::neuron::NeuronId;
use crate::paths::Paths;
use crate::science::exemplars::file::NeuronStats;
use crate::science::exemplars::{BINS, BIN_EDGES};
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
    #[command(flatten)]
    pub exemplars: ExemplarsArg,
    /// Exemplars printed from each end (all of them are in the JSON)
    #[arg(long, default_value_t = 5)]
    pub show: usize,
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
    /// `None` when the model has no exemplar file (`exemplars_missing` says so).
    exemplars: Option<ExemplarsReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exemplars_missing: Option<&'static str>,
}

#[derive(Serialize)]
struct ExemplarsReport {
    file: PathBuf,
    stats: NeuronStats,
    /// K of `stats.top_k_fraction`.
    top_k: usize,
    top: Vec<ExemplarText>,
    bottom: Vec<ExemplarText>,
    bins: Vec<BinReport>,
}

#[derive(Serialize)]
struct BinReport {
    /// The bin's edges in units of the layer's scale; `None` is unbounded.
    from: Option<f32>,
    to: Option<f32>,
    samples: Vec<ExemplarText>,
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
    let exemplars = args.exemplars.open(paths, &loaded.fingerprint)?.and_then(|file| {
        let e = file.neuron(args.neuron)?;
        let text = |records: &[crate::science::exemplars::Record]| -> Vec<ExemplarText> {
            records.iter().map(|&r| ExemplarText::new(&file, tok, r)).collect()
        };
        let bins = (0..BINS)
            .map(|b| BinReport {
                from: b.checked_sub(1).map(|i| BIN_EDGES[i]),
                to: BIN_EDGES.get(b).copied(),
                samples: text(&e.bins[b]),
            })
            .collect();
        Some(ExemplarsReport {
            file: file.path().to_path_buf(),
            stats: e.stats,
            top_k: file.header().settings.top_k,
            top: text(&e.top),
            bottom: text(&e.bottom),
            bins,
        })
    });
    let report = NeuronReport {
        neuron: args.neuron.to_string(),
        norm_gain: args.projection.norm_gain,
        promotes: tokens(&p.top),
        suppresses: tokens(&p.bottom),
        labels,
        verdicts,
        scores,
        exemplars_missing: exemplars.is_none().then_some(NONE),
        exemplars,
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
    let Some(e) = &report.exemplars else {
        println!("exemplars:  {NONE}");
        return Ok(());
    };
    let st = &e.stats;
    println!(
        "activation: mean {:+.3}, std {:.3}, max {:+.3}, min {:+.3}, in its layer's top {} at {:.2}% of {} positions ({})",
        st.mean,
        st.std,
        st.max,
        st.min,
        e.top_k,
        100.0 * st.top_k_fraction,
        st.positions,
        e.file.display()
    );
    for (name, list) in [("fires most on", &e.top), ("most negative on", &e.bottom)] {
        println!("{name}:");
        for x in list.iter().take(args.show) {
            println!("  {:+8.3}  {}  ({})", x.m, x.line(), x.origin);
        }
    }
    Ok(())
}
