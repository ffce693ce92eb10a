//! `neuronav intervene`: ablate or scale chosen neurons, regenerate, and show the text and the
//! next-token distribution beside the unmodified run.
use std::io::Write;
use std::path::PathBuf;

use clap::{ArgGroup, Args};
use color_eyre::eyre::{Result, WrapErr};
use serde::Serialize;

use super::compare::QuestionArgs;
use super::exit::asked_for;
use super::explore::{self, ExplorerArgs};
use super::output::{print_json, write_stdout, TableJson};
use super::ModelArgs;
use crate::engine::intervention::Interventions;
use crate::engine::neuron::NeuronId;
use crate::engine::sampling::Sampling;
use crate::engine::session::{Control, Session, SessionSettings, TokenProb};
use crate::paths::Paths;
use crate::science::analysis::ablation::{self, AblationMode};
use crate::science::analysis::changes::Changes;
use crate::science::analysis::counting::ReasoningSelection;
use crate::tui::CompareStart;

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("source").required(true)), group(ArgGroup::new("change").required(true).multiple(true)))]
pub struct InterveneArgs {
    #[arg(long, group = "source", value_name = "TEXT")]
    pub prompt: Option<String>,
    #[arg(long, group = "source", value_name = "FILE")]
    pub prompt_file: Option<PathBuf>,
    /// A variant of the method's data with question --question-index
    #[arg(long, group = "source", value_name = "NAME")]
    pub variant: Option<String>,
    #[command(flatten)]
    pub question: QuestionArgs,
    /// Neurons to ablate: a list like L21N7027,L3N5 or a file of ids
    #[arg(long, group = "change", value_name = "IDS|FILE")]
    pub ablate: Option<String>,
    /// How --ablate removes them
    #[arg(long, value_enum, default_value_t)]
    pub ablation: AblationMode,
    /// Seed of the value-vector noise
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Multiply one neuron's coefficient: L21N7027=2.5 (repeat for several)
    #[arg(long, group = "change", value_name = "ID=FACTOR")]
    pub scale: Vec<String>,
    /// Tokens generated greedily by each run
    #[arg(long, default_value_t = 20)]
    pub generate: usize,
    /// Next-token candidates shown at the last prompt position
    #[arg(long, default_value_t = 10)]
    pub top_n: usize,
    #[command(flatten)]
    pub output: TableJson,
    /// Open the explorer in compare mode instead: A the unmodified run, B the intervened one
    #[arg(long)]
    pub tui: bool,
}

#[derive(Serialize)]
struct RunReport {
    generated_text: String,
    next_tokens: Vec<Candidate>,
}

#[derive(Serialize)]
struct Candidate {
    id: u32,
    text: String,
    prob: f32,
}

#[derive(Serialize)]
struct Report {
    ablated: Vec<NeuronId>,
    ablation: AblationMode,
    scaled: Vec<(NeuronId, f32)>,
    original: RunReport,
    intervened: RunReport,
}

pub fn run(model_args: &ModelArgs, paths: &Paths, args: InterveneArgs, explorer: ExplorerArgs) -> Result<()> {
    let prompt = args.question.prompt(&args.prompt, &args.prompt_file, &args.variant)?;
    let ablated = args.ablate.as_deref().map(ablation::parse_ids).transpose().map_err(asked_for)?.unwrap_or_default();
    let scaled = args
        .scale
        .iter()
        .map(|s| ablation::parse_scale(s).map_err(asked_for).wrap_err("--scale"))
        .collect::<Result<Vec<_>>>()?;
    if args.tui {
        let mut changes = Changes { seed: args.seed, ..Default::default() };
        changes.ablate(&ablated, args.ablation);
        scaled.iter().for_each(|&(id, f)| changes.scale(id, f));
        let start = CompareStart {
            a: prompt.clone(),
            b: prompt,
            generate: args.generate,
            top_k: explorer.top_k,
            reasoning: ReasoningSelection::method_concepts(),
            changes,
            db: None,
            method: args.question.method_data(&explorer.method),
        };
        return explore::open(model_args, paths, explorer, Some(start));
    }
    let loaded = model_args.load(paths)?;
    let c = &loaded.config;
    let all: Vec<NeuronId> = ablated.iter().copied().chain(scaled.iter().map(|s| s.0)).collect();
    ablation::check_ids(&all, c.num_layers, c.intermediate_size).map_err(asked_for)?;
    let mut interventions = args.ablation.interventions(&ablated, args.seed, c.hidden_size);
    scaled.iter().for_each(|&(id, f)| {
        interventions.scale(id, f);
    });
    let run_with = |i: Interventions| -> Result<RunReport> {
        let settings = model_args.settings(SessionSettings::default().top_k, Sampling::Greedy);
        let mut session =
            Session::new(loaded.model.clone(), loaded.tokenizer.clone(), settings).spill_to(paths.trace_spill());
        session.set_interventions(i);
        session.run_prompt(&prompt, Control::default()).wrap_err("running the prompt")?;
        let last = session.prompt_len() - 1;
        let next = session.next_tokens(&[last], args.top_n)?.remove(0);
        for _ in 0..args.generate {
            session.step(Control::default())?;
        }
        let text = |t: &TokenProb| loaded.tokenizer.decode(&[t.id]);
        Ok(RunReport {
            generated_text: session.generated_text(),
            next_tokens: next.iter().map(|t| Candidate { id: t.id, text: text(t), prob: t.prob }).collect(),
        })
    };
    let report = Report {
        original: run_with(Interventions::default())?,
        intervened: run_with(interventions)?,
        ablated,
        ablation: args.ablation,
        scaled,
    };
    if args.output.json() {
        return print_json(&report);
    }
    let mut out = Vec::new();
    writeln!(out, "original:   {:?}", report.original.generated_text)?;
    writeln!(out, "intervened: {:?}", report.intervened.generated_text)?;
    writeln!(out, "\nnext token after the prompt\n{:<24} {:>7}   {:<24} {:>7}", "original", "p", "intervened", "p")?;
    for (a, b) in report.original.next_tokens.iter().zip(&report.intervened.next_tokens) {
        writeln!(
            out,
            "{:<24} {:>7.4}   {:<24} {:>7.4}",
            format!("{:?}", a.text),
            a.prob,
            format!("{:?}", b.text),
            b.prob
        )?;
    }
    write_stdout(&out)
}
