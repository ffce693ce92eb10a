//! `neuronav heuristics ...`: operand-grid maps, heuristic labels, importance and knockouts
//! (the bag-of-heuristics method; docs/heuristics.md).
mod classify;
mod classify_args;
mod grid_args;
mod importance;
mod knockout;
mod map;

use clap::Subcommand;
use color_eyre::eyre::Result;

use super::output::{print_json, TableJson};
use super::ModelArgs;
use crate::paths::Paths;
use grid_args::GridArgs;

#[derive(Debug, Subcommand)]
pub enum HeuristicsCommand {
    /// Build (or reload) a grid's activation maps and report the model's accuracy on it
    Grid {
        #[command(flatten)]
        grid: GridArgs,
        #[command(flatten)]
        output: TableJson,
    },
    /// One neuron's K or KV map: its extremes, or the whole map as CSV
    Map(map::MapArgs),
    /// Direct-logit importance per layer (direct effect only)
    Importance(importance::ImportanceArgs),
    /// Label every neuron with the heuristics its maps implement (stored as `heuristic-match`)
    Classify(classify::ClassifyCommand),
    /// Zero heuristic neurons and measure accuracy against controls
    Knockout(knockout::KnockoutArgs),
}

pub fn run(model_args: &ModelArgs, paths: &Paths, command: HeuristicsCommand) -> Result<()> {
    match command {
        HeuristicsCommand::Grid { grid, output } => {
            let loaded = model_args.load(paths)?;
            let (_, load) = grid.load(&loaded, paths)?;
            if output.json() {
                return print_json(&load);
            }
            println!("{}", load.line());
            Ok(())
        }
        HeuristicsCommand::Map(args) => map::run(model_args, paths, args),
        HeuristicsCommand::Importance(args) => importance::run(model_args, paths, args),
        HeuristicsCommand::Classify(args) => classify::run(model_args, paths, args),
        HeuristicsCommand::Knockout(args) => knockout::run(model_args, paths, args),
    }
}
