//! `neuronav label score`: each label's score from the neuron's corpus exemplars — offline from
//! the concept's seed words, or by an LLM detecting or simulating the neuron's activations —
//! stored with the label as each one is done.
use std::sync::atomic::AtomicBool;

use clap::{Args, ValueEnum};
use color_eyre::eyre::{bail, Result};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use serde_json::json;

use super::exemplar_view::{ExemplarsArg, NONE};
use super::label::{concepts, EndpointArgs, StoreArgs};
use super::output::{print_json, TableJson};
use super::ModelArgs;
use crate::engine::loader::LoadedModel;
use crate::engine::neuron::NeuronId;
use crate::paths::Paths;
use crate::science::exemplars::context::{context, recompute};
use crate::science::exemplars::file::{ExemplarFile, NeuronExemplars};
use crate::science::exemplars::{seeds, Record, QUIET_BINS};
use crate::science::labels::chat::Chat;
use crate::science::labels::excerpt::Excerpt;
use crate::science::labels::score::{NewScore, DETECTION, SEEDS, SIMULATION};
use crate::science::labels::scoring::{detection, simulation};
use crate::science::labels::store::{Answers, LabelFilter};

/// Top exemplars and quiet samples a detection shows; a simulation shows three and two.
const DETECTION_EACH: usize = 5;
const SIMULATION_TOP: usize = 3;
const SIMULATION_QUIET: usize = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scorer {
    /// Point-biserial r between "a seed word is here or next" and m over the corpus (no LLM)
    Seeds,
    /// An LLM tells top exemplars from quiet ones, given the label; balanced accuracy
    Detection,
    /// An LLM predicts each token's activation from the label; Pearson r, pooled
    Simulation,
}

#[derive(Debug, Args)]
pub struct ScoreArgs {
    #[arg(long, value_enum)]
    scorer: Scorer,
    /// Only labels from this source
    #[arg(long)]
    source: Option<String>,
    /// Only labels of this concept
    #[arg(long)]
    concept: Option<String>,
    /// Labels whose source said yes, no, or both
    #[arg(long, value_enum, default_value_t = Answers::Both)]
    answers: Answers,
    /// Score at most this many labels
    #[arg(long)]
    limit: Option<usize>,
    /// Score labels again that this scorer already scored
    #[arg(long)]
    rescore: bool,
    #[command(flatten)]
    exemplars: ExemplarsArg,
    #[command(flatten)]
    endpoint: EndpointArgs,
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    output: TableJson,
}

#[derive(Serialize)]
struct ScoreReport {
    scorer: &'static str,
    scored: usize,
    failed: usize,
    already_scored: usize,
    /// Mean of the scores given, `None` when there were none.
    mean: Option<f64>,
}

pub fn run(model_args: &ModelArgs, paths: &Paths, args: ScoreArgs) -> Result<()> {
    let concepts = concepts(paths)?;
    if let Some(c) = &args.concept {
        concepts.require(c)?;
    }
    let loaded = model_args.load(paths)?;
    let Some(file) = args.exemplars.open(paths, &loaded.fingerprint)? else { bail!("{NONE}") };
    let mut store = args.store.open(&loaded.fingerprint, paths)?;
    let scorer = match args.scorer {
        Scorer::Seeds => SEEDS,
        Scorer::Detection => DETECTION,
        Scorer::Simulation => SIMULATION,
    };
    let done: std::collections::HashSet<(NeuronId, String, String)> =
        store.scores()?.into_iter().filter(|s| s.scorer == scorer).map(|s| (s.neuron, s.concept, s.source)).collect();
    let filter = LabelFilter { source: args.source.clone(), concept: args.concept.clone(), applying: false };
    let wanted = |applies: bool| match args.answers {
        Answers::Yes => applies,
        Answers::No => !applies,
        Answers::Both => true,
    };
    let all: Vec<_> = store.labels(&filter)?.into_iter().filter(|l| wanted(l.applies)).collect();
    let already = all.iter().filter(|l| done.contains(&(l.neuron, l.concept.clone(), l.source.clone()))).count();
    let mut labels: Vec<_> = all
        .into_iter()
        .filter(|l| args.rescore || !done.contains(&(l.neuron, l.concept.clone(), l.source.clone())))
        .collect();
    if let Some(limit) = args.limit {
        labels.truncate(limit);
    }
    let chat = match args.scorer {
        Scorer::Seeds => None,
        _ => Some(Chat::new(&args.endpoint.resolve(paths)?)),
    };
    let bar = ProgressBar::new(labels.len() as u64)
        .with_style(ProgressStyle::with_template("{msg} {bar:40} {pos}/{len}, {eta} left").expect("valid template"));
    bar.set_message(scorer);
    let (mut scored, mut failed, mut sum) = (0, 0, 0.0);
    for label in &labels {
        let new = match (args.scorer, file.neuron(label.neuron)) {
            (_, None) => NewScore {
                neuron: label.neuron,
                concept: label.concept.clone(),
                source: label.source.clone(),
                scorer: scorer.into(),
                score: None,
                failure: Some(format!("{} is outside the exemplar file's model", label.neuron)),
                contexts: 0,
                detail: "{}".into(),
            },
            (Scorer::Seeds, Some(_)) => seed_score(&file, label.neuron, &label.concept, &label.source),
            (kind, Some(e)) => {
                let concept = concepts.require(&label.concept)?;
                let chat = chat.as_ref().expect("an LLM scorer has a chat");
                let outcome = match kind {
                    Scorer::Detection => {
                        let activating = excerpts(&loaded, &file, &e, &top(&e, DETECTION_EACH))?;
                        let quiet = excerpts(&loaded, &file, &e, &quiet(&e, DETECTION_EACH))?;
                        let seed = (label.neuron.layer as u64) << 32 | label.neuron.index as u64;
                        detection::score(chat, concept, &activating, &quiet, seed)
                    }
                    _ => {
                        let mut shown = top(&e, SIMULATION_TOP);
                        shown.extend(quiet(&e, SIMULATION_QUIET));
                        simulation::score(chat, concept, &excerpts(&loaded, &file, &e, &shown)?)
                    }
                };
                outcome.to_new_score(label.neuron, &label.concept, &label.source)
            }
        };
        let stored = store.record_score(&new)?;
        match stored.score {
            Some(s) => (scored, sum) = (scored + 1, sum + s),
            None => {
                failed += 1;
                bar.suspend(|| {
                    eprintln!("{} {} ({}): {}", label.neuron, label.concept, label.source, stored.describe())
                });
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    let report = ScoreReport {
        scorer,
        scored,
        failed,
        already_scored: if args.rescore { 0 } else { already },
        mean: (scored > 0).then(|| sum / scored as f64),
    };
    if args.output.json() {
        return print_json(&report);
    }
    let mean = report.mean.map_or("no scores".to_string(), |m| format!("mean {m:.3}"));
    println!(
        "{scorer}: {} labels scored ({mean}), {} could not be scored, {} scored before",
        report.scored, report.failed, report.already_scored
    );
    Ok(())
}

fn seed_score(file: &ExemplarFile, neuron: NeuronId, concept: &str, source: &str) -> NewScore {
    let base = NewScore {
        neuron,
        concept: concept.into(),
        source: source.into(),
        scorer: SEEDS.into(),
        score: None,
        failure: None,
        contexts: 0,
        detail: "{}".into(),
    };
    match seeds::score(file, neuron, concept) {
        None => NewScore {
            failure: Some(format!("the exemplar file did not count the seed words of '{concept}'; rebuild it")),
            ..base
        },
        Some(s) => NewScore {
            score: s.r,
            failure: s.r.is_none().then(|| match s.seed_positions {
                0 => "no position of the corpus has one of the concept's seed words".to_string(),
                n if n == s.positions => "every position has a seed word".to_string(),
                _ => "the neuron's m does not vary over the corpus".to_string(),
            }),
            contexts: s.positions.min(u32::MAX as u64) as u32,
            detail: json!({ "seed_positions": s.seed_positions, "positions": s.positions }).to_string(),
            ..base
        },
    }
}

fn top(e: &NeuronExemplars, n: usize) -> Vec<Record> {
    e.top.iter().take(n).copied().collect()
}

/// Samples from the bins where the neuron is quiet, alternating between them.
fn quiet(e: &NeuronExemplars, n: usize) -> Vec<Record> {
    let (a, b) = (&e.bins[QUIET_BINS[0]], &e.bins[QUIET_BINS[1]]);
    let mut out = Vec::new();
    for i in 0..a.len().max(b.len()) {
        out.extend(a.get(i).copied());
        out.extend(b.get(i).copied());
    }
    out.truncate(n);
    out
}

/// The records' contexts as a scorer shows them: token texts and m over the neuron's scale,
/// recomputed; tokens whose m the window did not compute are left out of the front.
fn excerpts(
    loaded: &LoadedModel,
    file: &ExemplarFile,
    e: &NeuronExemplars,
    records: &[Record],
) -> Result<Vec<Excerpt>> {
    let contexts: Vec<_> = records.iter().map(|&r| context(file, r)).collect();
    let m = recompute(loaded.model.as_ref(), file, e.neuron, &contexts, &AtomicBool::new(false))?;
    let scale = if e.stats.scale > 0.0 { e.stats.scale } else { 1.0 };
    Ok(contexts
        .iter()
        .zip(m)
        .map(|(c, m)| {
            let from = m.iter().position(|x| x.is_finite()).unwrap_or(0).min(c.focus);
            Excerpt {
                tokens: c.tokens[from..].iter().map(|&t| loaded.tokenizer.decode(&[t])).collect(),
                focus: c.focus - from,
                activations: m[from..].iter().map(|x| x / scale).collect(),
            }
        })
        .collect())
}
