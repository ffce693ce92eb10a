//! `neuronav heuristics importance`: the neurons with the largest direct effect on the grid's
//! answers, per layer.
use clap::Args;
use color_eyre::eyre::Result;

use super::grid_args::GridArgs;
use crate::cli::ModelArgs;
use crate::paths::Paths;
use crate::science::heuristics::importance::{rank_layer, Importance};

#[derive(Debug, Args)]
pub struct ImportanceArgs {
    #[command(flatten)]
    pub grid: GridArgs,
    /// Neurons listed per layer
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,
}

pub fn run(model_args: &ModelArgs, paths: &Paths, args: ImportanceArgs) -> Result<()> {
    let loaded = model_args.load(paths)?;
    let maps = args.grid.maps(&loaded, paths)?;
    let ranked: Vec<(usize, Vec<Importance>)> = maps
        .settings
        .layers
        .iter()
        .map(|&l| (l, rank_layer(&maps, l).expect("kept layer").into_iter().take(args.top).collect()))
        .collect();
    if args.json {
        let all: Vec<&Importance> = ranked.iter().flat_map(|(_, r)| r).collect();
        println!("{}", serde_json::to_string_pretty(&all)?);
        return Ok(());
    }
    println!(
        "direct effect only: m × centred logit of the correct next token at \"=\", over {} correct prompts",
        maps.correct_cells().len()
    );
    for (layer, rows) in ranked {
        let cells: Vec<String> = rows.iter().map(|r| format!("{} {:.2}±{:.2}", r.neuron, r.mean, r.std)).collect();
        println!("L{layer:<3} {}", cells.join("  "));
    }
    Ok(())
}
