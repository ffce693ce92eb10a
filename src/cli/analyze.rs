//! `neuronav analyze`: the method's analysis over prompt variants and GSM8K questions — accuracy
//! and reasoning-neuron activations per variant, optionally under ablation — resumable and
//! shardable (docs/analyze.md). `neuronav analyze merge` summarizes the shards' results.
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::{Args, Subcommand};
use color_eyre::eyre::{bail, Result};
use serde::Serialize;

use super::exit::{asked_for, usage};
use super::method_data::MethodDataArgs;
use super::output::{print_json, write_stdout, Format, TableJsonCsv};

use super::reasoning::ReasoningArgs;
use super::ModelArgs;
use crate::engine::sampling::Sampling;
use crate::engine::session::Session;
use crate::paths::Paths;
use crate::science::analysis::ablation::{self, AblationMode};
use crate::science::analysis::answer::IN_GENERATED_TEXT;
use crate::science::analysis::plan::{self, Condition, RunSpec, Shard, BASELINE};
use crate::science::analysis::sample::{self, SampleResult};
use crate::science::analysis::summary::{self, Row};
use crate::science::analysis::{dataset, results};

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AnalyzeArgs {
    #[command(subcommand)]
    pub command: Option<AnalyzeCommand>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Subcommand)]
pub enum AnalyzeCommand {
    /// Summarize the results in --out once every shard has finished
    Merge {
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        #[command(flatten)]
        output: TableJsonCsv,
    },
}

#[derive(Debug, Args)]
pub struct RunArgs {
    // Every variant is run, on questions drawn from the questions.
    #[command(flatten)]
    pub method: MethodDataArgs,
    /// Questions drawn
    #[arg(long, default_value_t = 20)]
    pub samples: usize,
    /// Seed of the question draw, the random control neurons and the value-vector noise
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Count activations only on questions this variant answers correctly (accuracy still uses all)
    #[arg(long, value_name = "VARIANT")]
    pub only_correct: Option<String>,
    /// Tokens generated greedily per sample (the method: 150)
    #[arg(long, default_value_t = 150)]
    pub generate: usize,
    /// Neurons per layer and position that count as activated
    #[arg(long, default_value_t = 20)]
    pub top_k: usize,
    /// Where results, run.json and the summary go; give an earlier run's directory to resume it
    /// [default: a new directory analyze/run-N in the data directory]
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Run only this part of the samples: index/count, e.g. 0/4
    #[arg(long, value_name = "I/N", default_value = "0/1")]
    pub shard: Shard,
    /// Also run the ablation experiment: `reasoning` (every reasoning neuron), `random:N` (N of
    /// them drawn with --seed), a list like L21N7027,L3N5, or a file of ids; adds the conditions
    /// `ablated` and `random` (as many other neurons of the same layers)
    #[arg(long, value_name = "SPEC")]
    pub ablate: Option<String>,
    /// How ablated neurons are removed
    #[arg(long, value_enum, default_value_t)]
    pub ablation: AblationMode,
    /// Which "The answer is " holds the prediction: 1 in generated text (9 if it included the
    /// 8-exemplar prompt)
    #[arg(long, default_value_t = IN_GENERATED_TEXT)]
    pub answer_occurrence: usize,
    #[command(flatten)]
    pub reasoning: ReasoningArgs,
    #[command(flatten)]
    pub output: TableJsonCsv,
}

/// What `analyze` prints as JSON (docs/cli-json.md).
#[derive(Serialize)]
struct RunReport<'a> {
    out: &'a Path,
    samples_run: usize,
    already_done: usize,
    /// None for one shard of several: `analyze merge` summarizes them.
    summary: Option<Summary<'a>>,
}

/// What `analyze merge` prints as JSON, and the summary of a whole run.
#[derive(Serialize)]
struct Summary<'a> {
    out: &'a Path,
    concepts: &'a [String],
    rows: &'a [Row],
}

pub fn run(model_args: &ModelArgs, paths: &Paths, args: AnalyzeArgs) -> Result<()> {
    match args.command {
        Some(AnalyzeCommand::Merge { out, output }) => {
            let spec = RunSpec::load(&out)?;
            let rows = summary::write_summary(&out)?;
            let summary = Summary { out: &out, concepts: &spec.concepts, rows: &rows };
            match output.format() {
                Format::Json => print_json(&summary)?,
                format => print_summary(&summary, format)?,
            }
            eprintln!("wrote {} and {}", out.join("summary.md").display(), out.join("summary.csv").display());
            Ok(())
        }
        None => run_analysis(model_args, paths, args.run),
    }
}

fn run_analysis(model_args: &ModelArgs, paths: &Paths, args: RunArgs) -> Result<()> {
    let method = args.method.data(0);
    let all_variants = method.variants()?;
    let problems = method.problems()?;
    if let Some(v) = &args.only_correct {
        if !all_variants.iter().any(|x| &x.name == v) {
            return Err(usage(format!("--only-correct {v}: no such variant in {}", method.variants_name())));
        }
    }
    let questions = dataset::sample(problems.len(), args.samples, args.seed).map_err(asked_for)?;
    let loaded = model_args.load(paths)?;
    let neurons = args.reasoning.load(&loaded.fingerprint, paths)?;
    let (n_layers, d_ff) = (loaded.config.num_layers, loaded.config.intermediate_size);
    let mut conditions = vec![Condition { name: BASELINE.into(), mode: args.ablation, neurons: vec![] }];
    if let Some(spec) = &args.ablate {
        let reasoning = neurons.ids();
        let ablated = if spec == "reasoning" {
            reasoning.clone()
        } else if let Some(n) = spec.strip_prefix("random:") {
            let n: usize = n.parse().map_err(|_| usage(format!("--ablate {spec}: N must be a number")))?;
            ablation::draw(&reasoning, n, args.seed).map_err(asked_for)?
        } else {
            ablation::parse_ids(spec).map_err(asked_for)?
        };
        if ablated.is_empty() {
            bail!("--ablate {spec}: no neurons to ablate (no reasoning neurons labelled?)");
        }
        ablation::check_ids(&ablated, n_layers, d_ff).map_err(asked_for)?;
        let control = ablation::matched_random(&ablated, &reasoning, d_ff, args.seed)?;
        conditions.push(Condition { name: "ablated".into(), mode: args.ablation, neurons: ablated });
        conditions.push(Condition { name: "random".into(), mode: args.ablation, neurons: control });
    }
    let spec = RunSpec {
        model: loaded.fingerprint.clone(),
        data: method.questions_name(),
        questions,
        seed: args.seed,
        generate: args.generate,
        top_k: args.top_k,
        answer_occurrence: args.answer_occurrence,
        variants: all_variants.iter().map(|v| v.name.clone()).collect(),
        concepts: args.reasoning.selection().concept_keys(),
        neurons: neurons
            .ids()
            .into_iter()
            .map(|id| (id, neurons.concepts_of(id).unwrap().iter().cloned().collect()))
            .collect(),
        only_correct: args.only_correct.clone(),
        conditions,
    };
    let out = match &args.out {
        Some(out) => out.clone(),
        None => plan::fresh_run_dir(&paths.data.join("analyze"))?,
    };
    let out = out.as_path();
    spec.claim(out)?;
    eprintln!("results go to {} (to resume an interrupted run, give it as --out)", out.display());
    let items = spec.shard_items(args.shard);
    let started = Instant::now();
    let (mut done, mut skipped) = (0, 0);
    let settings = model_args.settings(args.top_k, Sampling::Greedy);
    for (k, item) in items.iter().enumerate() {
        let path = spec.result_path(out, item);
        if results::read(&path)?.is_some() {
            skipped += 1;
            continue;
        }
        let condition = &spec.conditions[item.condition];
        let variant = &all_variants[item.variant];
        let problem = &problems[item.question];
        let mut session =
            Session::new(loaded.model.clone(), loaded.tokenizer.clone(), settings).spill_to(paths.trace_spill());
        session.set_interventions(condition.mode.interventions(
            &condition.neurons,
            args.seed,
            loaded.config.hidden_size,
        ));
        let t = Instant::now();
        let run = sample::run(&mut session, &variant.prompt(&problem.question), args.generate, &neurons)?;
        let result = SampleResult::score(
            &condition.name,
            &variant.name,
            item.question,
            &problem.answer,
            spec.answer_occurrence,
            run,
        );
        results::write(&path, &result)?;
        done += 1;
        eprintln!(
            "[{}/{}] {} {} q{}: {} activations, {} ({:.1}s)",
            k + 1,
            items.len(),
            condition.name,
            variant.name,
            item.question,
            result.run.activations.overall.hits,
            if result.correct { "correct" } else { "wrong" },
            t.elapsed().as_secs_f64()
        );
    }
    eprintln!("{done} samples run, {skipped} already done, in {:.1}s", started.elapsed().as_secs_f64());
    let rows = if args.shard.count == 1 {
        let rows = summary::write_summary(out)?;
        eprintln!("wrote {} and {}", out.join("summary.md").display(), out.join("summary.csv").display());
        Some(rows)
    } else {
        eprintln!(
            "shard {}/{} done; when all are, run `neuronav analyze merge --out {}`",
            args.shard.index,
            args.shard.count,
            out.display()
        );
        None
    };
    let summary = rows.as_deref().map(|rows| Summary { out, concepts: &spec.concepts, rows });
    match (args.output.format(), summary) {
        (Format::Json, summary) => print_json(&RunReport { out, samples_run: done, already_done: skipped, summary }),
        (format, Some(summary)) => print_summary(&summary, format),
        (_, None) => Ok(()),
    }
}

/// The summary as a markdown table or as CSV (what summary.md and summary.csv hold).
fn print_summary(s: &Summary, format: Format) -> Result<()> {
    let text = match format {
        Format::Csv => summary::to_csv(s.rows, s.concepts),
        _ => summary::to_markdown(s.rows, s.concepts),
    };
    write_stdout(text.as_bytes())
}
