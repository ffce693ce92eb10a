//! `neuronav heuristics ...`: operand-grid maps, heuristic labels, importance and knockouts
//! (the bag-of-heuristics method; docs/heuristics.md).
mod grid_args;

use clap::Subcommand;
use color_eyre::eyre::Result;

use super::ModelArgs;
use grid_args::GridArgs;

#[derive(Debug, Subcommand)]
pub enum HeuristicsCommand {
    /// Build (or reload) a grid's activation maps and report the model's accuracy on it
    Grid {
        #[command(flatten)]
        grid: GridArgs,
    },
}

pub fn run(model_args: &ModelArgs, command: HeuristicsCommand) -> Result<()> {
    match command {
        HeuristicsCommand::Grid { grid } => {
            let loaded = model_args.load()?;
            grid.maps(&loaded)?;
            Ok(())
        }
    }
}
