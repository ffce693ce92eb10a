//! `neuronav compare`: two prompts side by side — reasoning-neuron activations per concept and
//! per layer, and the neurons active on one side only.
use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;

use clap::{ArgGroup, Args};
use color_eyre::eyre::{Result, WrapErr};
use serde::Serialize;

use super::exit::{read_input, usage};
use super::explore::{self, ExplorerArgs};
use super::method_data::{variant_prompt, MethodDataArgs};
use super::output::{write_stdout, Format, TableJsonCsv};
use super::reasoning::ReasoningArgs;
use super::ModelArgs;
use crate::engine::neuron::NeuronId;
use crate::engine::sampling::Sampling;
use crate::engine::session::Session;
use crate::paths::Paths;
use crate::science::analysis::counting::{Activations, Tally};
use crate::science::analysis::method_data::MethodData;
use crate::science::analysis::sample;
use crate::tui::CompareStart;

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("a").required(true)), group(ArgGroup::new("b").required(true)))]
pub struct CompareArgs {
    /// Prompt A as text
    #[arg(long, group = "a", value_name = "TEXT")]
    pub prompt_a: Option<String>,
    /// Prompt A from a file
    #[arg(long, group = "a", value_name = "FILE")]
    pub prompt_file_a: Option<PathBuf>,
    /// Prompt A built from a variant of the method's data with question --question-index
    #[arg(long, group = "a", value_name = "NAME")]
    pub variant_a: Option<String>,
    /// Prompt B as text
    #[arg(long, group = "b", value_name = "TEXT")]
    pub prompt_b: Option<String>,
    #[arg(long, group = "b", value_name = "FILE")]
    pub prompt_file_b: Option<PathBuf>,
    #[arg(long, group = "b", value_name = "NAME")]
    pub variant_b: Option<String>,
    #[command(flatten)]
    pub question: QuestionArgs,
    /// Tokens generated greedily after each prompt; counted are the last prompt token and these
    #[arg(long, default_value_t = 0)]
    pub generate: usize,
    /// Neurons per layer and position that count as activated
    #[arg(long, default_value_t = 20)]
    pub top_k: usize,
    #[command(flatten)]
    pub output: TableJsonCsv,
    /// Open the explorer in compare mode on both prompts instead of printing
    #[arg(long)]
    pub tui: bool,
    #[command(flatten)]
    pub reasoning: ReasoningArgs,
}

/// Where variant prompts come from.
#[derive(Debug, Args, Clone)]
pub struct QuestionArgs {
    #[command(flatten)]
    pub method: MethodDataArgs,
    /// Which question a variant prompt asks (0-based line of the questions)
    #[arg(long, default_value_t = 0)]
    pub question_index: usize,
}

impl QuestionArgs {
    /// Where the explorer's `:variant` prompts come from: these flags, else the explorer's.
    pub fn method_data(&self, explorer: &MethodDataArgs) -> MethodData {
        self.method.or(explorer).data(self.question_index)
    }

    /// The prompt from text, a file or a variant, whichever was given.
    pub fn prompt(&self, text: &Option<String>, file: &Option<PathBuf>, variant: &Option<String>) -> Result<String> {
        match (text, file, variant) {
            (Some(t), _, _) => Ok(t.clone()),
            (_, Some(f), _) => Ok(read_input(f)?),
            (_, _, Some(v)) => variant_prompt(&self.method.data(self.question_index), v, self.question_index),
            _ => Err(usage("give a prompt as text, a file or a variant")),
        }
    }
}

#[derive(Serialize)]
struct Side {
    prompt: String,
    prompt_tokens: usize,
    generated_text: String,
    activations: Activations,
}

#[derive(Serialize)]
struct ConceptRow {
    concept: String,
    a: Tally,
    b: Tally,
}

#[derive(Serialize)]
struct Report {
    top_k: usize,
    generate: usize,
    reasoning_neurons: usize,
    a: Side,
    b: Side,
    concepts: Vec<ConceptRow>,
    /// `[layer, hits A, hits B]` for layers with any hit.
    layers: Vec<(u32, u64, u64)>,
    only_a: Vec<NeuronId>,
    only_b: Vec<NeuronId>,
}

pub fn run(model_args: &ModelArgs, paths: &Paths, args: CompareArgs, explorer: ExplorerArgs) -> Result<()> {
    let q = &args.question;
    let prompt_a = q.prompt(&args.prompt_a, &args.prompt_file_a, &args.variant_a).wrap_err("prompt A")?;
    let prompt_b = q.prompt(&args.prompt_b, &args.prompt_file_b, &args.variant_b).wrap_err("prompt B")?;
    if args.tui {
        let r = &args.reasoning;
        let start = CompareStart {
            a: prompt_a,
            b: prompt_b,
            generate: args.generate,
            top_k: args.top_k,
            reasoning: r.selection(),
            changes: Default::default(),
            db: r.db.clone(),
            method: q.method_data(&explorer.method),
        };
        return explore::open(model_args, paths, explorer, Some(start));
    }
    let loaded = model_args.load(paths)?;
    let neurons = args.reasoning.load(&loaded.fingerprint, paths)?;
    let settings = model_args.settings(args.top_k, Sampling::Greedy);
    let side = |prompt: &str| -> Result<Side> {
        let mut session =
            Session::new(loaded.model.clone(), loaded.tokenizer.clone(), settings).spill_to(paths.trace_spill());
        let r = sample::run(&mut session, prompt, args.generate, &neurons)?;
        Ok(Side {
            prompt: prompt.to_string(),
            prompt_tokens: r.prompt_tokens,
            generated_text: r.generated_text,
            activations: r.activations,
        })
    };
    let (a, b) = (side(&prompt_a)?, side(&prompt_b)?);
    let concepts = args
        .reasoning
        .selection()
        .concept_keys()
        .into_iter()
        .map(|c| ConceptRow { a: a.activations.concept(&c), b: b.activations.concept(&c), concept: c })
        .collect();
    let layers: BTreeSet<u32> = a.activations.per_layer.keys().chain(b.activations.per_layer.keys()).copied().collect();
    let layers = layers.into_iter().map(|l| (l, a.activations.layer_hits(l), b.activations.layer_hits(l))).collect();
    let report = Report {
        top_k: args.top_k,
        generate: args.generate,
        reasoning_neurons: neurons.len(),
        only_a: a.activations.only_here(&b.activations),
        only_b: b.activations.only_here(&a.activations),
        a,
        b,
        concepts,
        layers,
    };
    let mut out = Vec::new();
    match args.output.format() {
        Format::Json => writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?,
        Format::Csv => write_csv(&report, &mut out)?,
        Format::Table => write_table(&report, &mut out)?,
    }
    write_stdout(&out)
}

fn write_csv(r: &Report, out: &mut dyn Write) -> Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(["concept", "count_a", "count_b", "mean_s_a", "mean_s_b"])?;
    let overall = ConceptRow { concept: "all".into(), a: r.a.activations.overall, b: r.b.activations.overall };
    for c in std::iter::once(&overall).chain(&r.concepts) {
        w.write_record([
            c.concept.clone(),
            c.a.hits.to_string(),
            c.b.hits.to_string(),
            format!("{:.4}", c.a.mean_s()),
            format!("{:.4}", c.b.mean_s()),
        ])?;
    }
    w.flush()?;
    Ok(())
}

fn write_table(r: &Report, out: &mut dyn Write) -> Result<()> {
    let positions = r.a.activations.positions;
    writeln!(
        out,
        "{} reasoning neurons, top-{} per layer, {} positions per prompt (last prompt token + {} generated)",
        r.reasoning_neurons, r.top_k, positions, r.generate
    )?;
    writeln!(out, "A: {} prompt tokens; B: {} prompt tokens", r.a.prompt_tokens, r.b.prompt_tokens)?;
    if r.generate > 0 {
        writeln!(out, "A generated: {:?}", r.a.generated_text)?;
        writeln!(out, "B generated: {:?}", r.b.generated_text)?;
    }
    writeln!(out, "\n{:<14} {:>8} {:>8} {:>9} {:>9}", "concept", "count A", "count B", "mean s A", "mean s B")?;
    let overall = ConceptRow { concept: "all".into(), a: r.a.activations.overall, b: r.b.activations.overall };
    for c in std::iter::once(&overall).chain(&r.concepts) {
        writeln!(out, "{:<14} {:>8} {:>8} {:>9.3} {:>9.3}", c.concept, c.a.hits, c.b.hits, c.a.mean_s(), c.b.mean_s())?;
    }
    writeln!(out, "\n{:<6} {:>8} {:>8}", "layer", "count A", "count B")?;
    for (l, a, b) in &r.layers {
        writeln!(out, "{:<6} {a:>8} {b:>8}", format!("L{l}"))?;
    }
    let names = |ids: &[NeuronId]| ids.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(" ");
    writeln!(out, "\nactive in A only ({}): {}", r.only_a.len(), names(&r.only_a))?;
    writeln!(out, "active in B only ({}): {}", r.only_b.len(), names(&r.only_b))?;
    Ok(())
}
