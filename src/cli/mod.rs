//! The headless command line: each subcommand is a thin view over the engine's session API.
mod analyze;
mod bench;
mod bench_grid;
mod bench_paths;
mod compare;
mod exemplar_view;
mod exemplars;
mod exit;
mod explore;
mod heuristics;
mod index;
mod inspect;
mod intervene;
mod label;
mod label_score;
mod method_data;
mod neuron;
mod output;
mod reasoning;
mod review;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use color_eyre::eyre::{Result, WrapErr};

use crate::engine::default_model;
use crate::engine::loader::{self, DeviceChoice, LoadedModel};
use crate::engine::model::{ComputeChoice, WeightDType};
use crate::engine::sampling::Sampling;
use crate::engine::session::SessionSettings;
use crate::paths::Paths;
pub use exit::code as exit_code;

#[derive(Debug, Parser)]
#[command(name = "neuronav", version, about = "Explore the feed-forward neurons of Llama-architecture language models")]
pub struct Cli {
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub explorer: explore::ExplorerArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Args)]
pub struct ModelArgs {
    /// A Hugging Face Llama directory or a GGUF file [default: SmolLM2-135M-Instruct, fetched on first use]
    #[arg(long, global = true, value_name = "PATH")]
    pub model: Option<PathBuf>,
    /// Where the model runs
    #[arg(long, global = true, value_enum, default_value_t)]
    pub device: DeviceChoice,
    /// Element type of activations between operations; on CUDA also of the weights. On the CPU
    /// the weights stay in their file's encoding and products accumulate in f32
    #[arg(long, global = true, value_enum, default_value_t)]
    pub dtype: WeightDType,
    /// Memory a run's trace keeps (K, M, G: KiB, MiB, GiB); past it, every layer's activations go
    /// to a file in the cache directory and are read back when needed
    #[arg(long, global = true, value_name = "BYTES", default_value = "1G", value_parser = parse_bytes)]
    pub trace_memory: u64,
    /// How the CPU multiplies activations by quantized weights: exact (f32 activations times the
    /// dequantized weights) or fast (activations quantized to 8 bits, integer products, ~0.5%
    /// error a product); auto is fast for models over 1B parameters. F16/BF16/F32 weights and
    /// CUDA are exact either way
    #[arg(long, global = true, value_enum, default_value_t)]
    pub compute: ComputeChoice,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a prompt and print the top neurons per layer and position
    Inspect(inspect::InspectArgs),
    /// Download the default model into the cache (done automatically on first use)
    FetchModel {
        #[command(flatten)]
        output: output::TableJson,
    },
    /// Measure load time, prefill and decode speed with full capture, and peak memory
    Bench(bench::BenchArgs),
    /// Show the tokens a neuron promotes and suppresses (e.g. `neuronav neuron L21N7027`)
    Neuron(neuron::NeuronArgs),
    /// The whole-model vocabulary index
    #[command(subcommand)]
    Index(index::IndexCommand),
    /// Find neurons by the tokens they promote
    Search(index::SearchArgs),
    /// Concept labels: the lexical pre-filter, the LLM step, import and export
    #[command(subcommand)]
    Label(label::LabelCommand),
    /// Checking labels by hand: verdicts, the review queue, agreement statistics
    #[command(subcommand)]
    Review(review::ReviewCommand),
    /// Each neuron's top-activating corpus positions, binned samples and statistics
    #[command(subcommand)]
    Exemplars(exemplars::ExemplarsCommand),
    /// Two prompts side by side: reasoning-neuron activations per concept and layer
    Compare(compare::CompareArgs),
    /// Ablate or scale neurons and regenerate beside the unmodified run
    Intervene(intervene::InterveneArgs),
    /// Accuracy and reasoning-neuron activations over prompt variants and GSM8K questions
    /// (resumable, shardable; `analyze merge` summarizes shards)
    Analyze(analyze::AnalyzeArgs),
    /// Arithmetic heuristic neurons: operand-grid maps, heuristic labels, importance, knockouts
    #[command(subcommand)]
    Heuristics(heuristics::HeuristicsCommand),
}

pub fn run(cli: Cli) -> Result<()> {
    let paths = Paths::resolve()?;
    let (model, paths) = (&cli.model, &paths);
    match cli.command {
        Some(Command::Inspect(args)) => inspect::run(model, paths, args),
        Some(Command::FetchModel { output }) => {
            let path = default_model::fetch(&paths.cache, &|msg| eprintln!("{msg}"))?;
            match output.json() {
                true => output::print_json(&serde_json::json!({ "path": path })),
                false => output::write_stdout(format!("{}\n", path.display()).as_bytes()),
            }
        }
        Some(Command::Bench(args)) => bench::run(model, paths, args),
        Some(Command::Neuron(args)) => neuron::run(model, paths, args),
        Some(Command::Index(command)) => index::run_index(model, paths, command),
        Some(Command::Search(args)) => index::run_search(model, paths, args),
        Some(Command::Label(command)) => label::run(model, paths, command),
        Some(Command::Review(command)) => review::run(model, paths, command),
        Some(Command::Exemplars(command)) => exemplars::run(model, paths, command),
        Some(Command::Compare(args)) => compare::run(model, paths, args, cli.explorer),
        Some(Command::Intervene(args)) => intervene::run(model, paths, args, cli.explorer),
        Some(Command::Analyze(args)) => analyze::run(model, paths, args),
        Some(Command::Heuristics(command)) => heuristics::run(model, paths, command),
        None => explore::open(model, paths, cli.explorer, None),
    }
}

impl ModelArgs {
    /// The model path: `--model`, or the default model (fetched into the cache when missing).
    pub fn resolve_path(&self, paths: &Paths) -> Result<PathBuf> {
        match &self.model {
            Some(p) => Ok(p.clone()),
            None => Ok(default_model::ensure(&paths.cache, &|msg| eprintln!("{msg}"))?),
        }
    }

    /// Settings of a session that keeps `top_k` neurons, samples with `sampling` and keeps its
    /// trace within `--trace-memory`.
    pub fn settings(&self, top_k: usize, sampling: Sampling) -> SessionSettings {
        SessionSettings { top_k, sampling, trace_memory: self.trace_memory }
    }

    pub fn load(&self, paths: &Paths) -> Result<LoadedModel> {
        let path = self.resolve_path(paths)?;
        let loaded = loader::load_with(&path, self.device, self.dtype, self.compute, &|_, _| {})
            .wrap_err_with(|| format!("loading the model from {}", path.display()))?;
        if let Some(note) = &loaded.note {
            eprintln!("{note}");
        }
        Ok(loaded)
    }
}

/// A byte count: a number with an optional unit K, M, G or T (powers of 1024; `B`, `iB` after it
/// and the case do not matter): `512M`, `1.5G`, `2GiB`, `1000000`.
fn parse_bytes(text: &str) -> std::result::Result<u64, String> {
    let bad = || format!("'{text}' is not a byte count like 512M or 2G");
    let lower = text.trim().to_ascii_lowercase();
    let number = lower.trim_end_matches("ib").trim_end_matches('b');
    let (digits, shift) = match number.char_indices().last() {
        Some((i, unit @ ('k' | 'm' | 'g' | 't'))) => (&number[..i], 10 * (1 + "kmgt".find(unit).unwrap_or(0) as i32)),
        _ => (number, 0),
    };
    let value: f64 = digits.trim().parse().map_err(|_| bad())?;
    let bytes = value * 2f64.powi(shift);
    if !(0.0..=u64::MAX as f64).contains(&bytes) {
        return Err(bad());
    }
    Ok(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::parse_bytes;

    #[test]
    fn byte_counts_read_with_binary_units() {
        assert_eq!(parse_bytes("1G"), Ok(1 << 30));
        assert_eq!(parse_bytes("512m"), Ok(512 << 20));
        assert_eq!(parse_bytes("2GiB"), Ok(2 << 30));
        assert_eq!(parse_bytes("1.5 GB"), Ok(3 << 29));
        assert_eq!(parse_bytes("64k"), Ok(64 << 10));
        assert_eq!(parse_bytes("1000"), Ok(1000));
        assert_eq!(parse_bytes("0"), Ok(0));
        for bad in ["", "G", "-1G", "lots", "1X", "nan", "1e30T"] {
            assert!(parse_bytes(bad).is_err(), "{bad}");
        }
    }
}
