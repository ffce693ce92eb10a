//! `neuronav inspect`: run a prompt, optionally generate, and print the top neurons.
use std::io::Write;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use color_eyre::eyre::Result;
use serde::Serialize;

use super::exit::{read_input, usage};
use super::output::{print_csv, print_json, write_stdout, Format, TableJsonCsv};
use super::ModelArgs;
use crate::engine::loader::LoadedModel;
use crate::engine::model::ComputePath;
use crate::engine::neuron::NeuronId;
use crate::engine::sampling::Sampling;
use crate::engine::session::{Control, Session, TokenProb};
use crate::paths::Paths;

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The prompt text
    #[arg(long, conflicts_with = "prompt_file", required_unless_present = "prompt_file")]
    pub prompt: Option<String>,
    /// Read the prompt from a file
    #[arg(long, value_name = "FILE")]
    pub prompt_file: Option<PathBuf>,
    /// Number of tokens to generate after the prompt
    #[arg(long, default_value_t = 0)]
    pub generate: usize,
    /// Neurons shown per layer and position, ranked by score s = |m|·‖v‖
    #[arg(long, default_value_t = 20)]
    pub top_k: usize,
    /// Which positions to report
    #[arg(long, value_enum, default_value_t = Positions::Last)]
    pub positions: Positions,
    #[command(flatten)]
    pub output: TableJsonCsv,
    /// Sampling temperature; 0 means greedy decoding
    #[arg(long, default_value_t = 0.0)]
    pub temperature: f32,
    /// Nucleus sampling: keep the most likely tokens up to this probability mass
    #[arg(long, default_value_t = 1.0)]
    pub top_p: f32,
    /// Seed of the sampler
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Positions {
    /// The last prompt token and every generated token
    Last,
    /// Every position
    All,
    /// Generated tokens only
    Generated,
}

impl InspectArgs {
    fn sampling(&self) -> Sampling {
        if self.temperature > 0.0 {
            Sampling::Random { temperature: self.temperature, top_p: self.top_p, seed: self.seed }
        } else {
            Sampling::Greedy
        }
    }
}

/// The JSON document `inspect --format json` prints (schema in docs/inspect-json.md).
#[derive(Serialize)]
struct Report {
    model: ModelInfo,
    settings: Settings,
    prompt: String,
    prompt_tokens: usize,
    tokens: Vec<TokenInfo>,
    generated_text: String,
    positions: Vec<PositionReport>,
}

#[derive(Serialize)]
struct ModelInfo {
    name: String,
    path: String,
    device: String,
    compute: ComputePath,
    layers: usize,
    d_model: usize,
    d_ff: usize,
    vocab: usize,
}

#[derive(Serialize)]
struct Settings {
    top_k: usize,
    sampling: Sampling,
}

#[derive(Serialize)]
struct TokenInfo {
    position: usize,
    id: u32,
    text: String,
}

#[derive(Serialize)]
struct PositionReport {
    position: usize,
    token: TokenInfo,
    generated: bool,
    layers: Vec<LayerReport>,
    next_tokens: Vec<NextToken>,
}

#[derive(Serialize)]
struct LayerReport {
    layer: usize,
    neurons: Vec<NeuronReport>,
}

#[derive(Serialize)]
struct NeuronReport {
    id: String,
    m: f32,
    s: f32,
}

#[derive(Serialize)]
struct NextToken {
    id: u32,
    text: String,
    logit: f32,
    prob: f32,
}

pub fn run(model_args: &ModelArgs, paths: &Paths, args: InspectArgs) -> Result<()> {
    let prompt = match (&args.prompt, &args.prompt_file) {
        (Some(p), _) => p.clone(),
        (None, Some(f)) => read_input(f)?,
        (None, None) => return Err(usage("give --prompt or --prompt-file")),
    };
    let loaded = model_args.load(paths)?;
    let settings = model_args.settings(args.top_k, args.sampling());
    let mut session =
        Session::new(loaded.model.clone(), loaded.tokenizer.clone(), settings).spill_to(paths.trace_spill());
    session.run_prompt(&prompt, Control::default())?;
    let eos = loaded.tokenizer.eos_id();
    for _ in 0..args.generate {
        let token = session.step(Control::default())?;
        if Some(token) == eos {
            break;
        }
    }
    let report = build_report(&loaded, &session, prompt, args.positions)?;
    match args.output.format() {
        Format::Json => print_json(&report),
        Format::Csv => print_csv(
            &["position", "token_id", "token", "generated", "layer", "rank", "neuron", "m", "s"],
            csv_rows(&report),
        ),
        Format::Table => {
            let mut out = Vec::new();
            write_table(&mut out, &report)?;
            write_stdout(&out)
        }
    }
}

/// One row per position, layer and neuron, in rank order.
fn csv_rows(r: &Report) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for p in &r.positions {
        for layer in &p.layers {
            for (rank, n) in layer.neurons.iter().enumerate() {
                rows.push(vec![
                    p.position.to_string(),
                    p.token.id.to_string(),
                    p.token.text.clone(),
                    p.generated.to_string(),
                    layer.layer.to_string(),
                    (rank + 1).to_string(),
                    n.id.clone(),
                    n.m.to_string(),
                    n.s.to_string(),
                ]);
            }
        }
    }
    rows
}

fn build_report(loaded: &LoadedModel, session: &Session, prompt: String, which: Positions) -> Result<Report> {
    let tok = &loaded.tokenizer;
    let n = session.len();
    let prompt_len = session.prompt_len();
    let positions: Vec<usize> = match which {
        Positions::All => (0..n).collect(),
        Positions::Last => (prompt_len - 1..n).collect(),
        Positions::Generated => (prompt_len..n).collect(),
    };
    let token_info = |p: usize| {
        let id = session.trace().position(p).token();
        TokenInfo { position: p, id, text: tok.token_display(id) }
    };
    let next = session.next_tokens(&positions, 5)?;
    let config = &loaded.config;
    let reports = positions
        .iter()
        .zip(next)
        .map(|(&p, next)| PositionReport {
            position: p,
            token: token_info(p),
            generated: p >= prompt_len,
            layers: session
                .trace()
                .position(p)
                .top()
                .iter()
                .enumerate()
                .map(|(l, hits)| LayerReport {
                    layer: l,
                    neurons: hits
                        .iter()
                        .map(|h| NeuronReport {
                            id: NeuronId { layer: l as u32, index: h.index }.to_string(),
                            m: h.m,
                            s: h.s,
                        })
                        .collect(),
                })
                .collect(),
            next_tokens: next
                .into_iter()
                .map(|TokenProb { id, logit, prob }| NextToken { id, text: tok.token_display(id), logit, prob })
                .collect(),
        })
        .collect();
    Ok(Report {
        model: ModelInfo {
            name: loaded.name.clone(),
            path: loaded.path.display().to_string(),
            device: loaded.model.describe(),
            compute: loaded.model.compute_path(),
            layers: config.num_layers,
            d_model: config.hidden_size,
            d_ff: config.intermediate_size,
            vocab: config.vocab_size,
        },
        settings: Settings { top_k: session.settings().top_k, sampling: session.settings().sampling },
        prompt,
        prompt_tokens: prompt_len,
        tokens: (0..n).map(token_info).collect(),
        generated_text: session.generated_text(),
        positions: reports,
    })
}

fn write_table(out: &mut impl Write, r: &Report) -> std::io::Result<()> {
    let m = &r.model;
    let products = m.compute.name();
    writeln!(out, "model {} ({}, {products} products), {} layers × {} neurons", m.name, m.device, m.layers, m.d_ff)?;
    writeln!(out, "prompt: {} tokens; generated: {:?}", r.prompt_tokens, r.generated_text)?;
    for p in &r.positions {
        let kind = if p.generated { "generated" } else { "prompt" };
        writeln!(out, "\nposition {} ({kind}) token {} {:?}", p.position, p.token.id, p.token.text)?;
        let next: Vec<String> = p.next_tokens.iter().map(|t| format!("{:?} {:.3}", t.text, t.prob)).collect();
        writeln!(out, "  next: {}", next.join("  "))?;
        for layer in &p.layers {
            let cells: Vec<String> =
                layer.neurons.iter().map(|n| format!("{} {:+.2} s{:.2}", n.id, n.m, n.s)).collect();
            writeln!(out, "  L{:<3} {}", layer.layer, cells.join(" | "))?;
        }
    }
    Ok(())
}
