//! `neuronav heuristics importance`: the neurons with the largest direct effect on the grid's
//! answers, per layer.
use clap::Args;
use color_eyre::eyre::Result;

use super::grid_args::GridArgs;
use crate::cli::output::{print_csv, print_json, Format, TableJsonCsv};
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
    #[command(flatten)]
    pub output: TableJsonCsv,
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
    match args.output.format() {
        Format::Json => {
            let all: Vec<&Importance> = ranked.iter().flat_map(|(_, r)| r).collect();
            return print_json(&all);
        }
        Format::Csv => {
            let rows = ranked.iter().flat_map(|(layer, rows)| {
                rows.iter().enumerate().map(move |(rank, r)| {
                    [
                        layer.to_string(),
                        (rank + 1).to_string(),
                        r.neuron.to_string(),
                        r.mean.to_string(),
                        r.std.to_string(),
                    ]
                })
            });
            return print_csv(&["layer", "rank", "neuron", "mean", "std"], rows);
        }
        Format::Table => {}
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
