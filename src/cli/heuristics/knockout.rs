//! `neuronav heuristics knockout --by heuristic|prompt`: zero the neurons implementing heuristics
//! and measure accuracy on correctly answered grid prompts against controls.
use std::collections::BTreeMap;
use std::time::Instant;

use clap::{Args, ValueEnum};
use color_eyre::eyre::Result;
use indicatif::{ProgressBar, ProgressStyle};

use super::classify_args::ClassifyArgs;
use super::grid_args::GridArgs;
use crate::cli::output::{print_csv, print_json, Format, TableJsonCsv};
use crate::cli::ModelArgs;
use crate::engine::session::Control;
use crate::paths::Paths;
use crate::science::heuristics::knockout::{by_heuristic, by_prompt, ByHeuristicSettings, ByPromptSettings};
use crate::science::heuristics::labelling::groups;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum By {
    /// All member neurons of one heuristic at a time: associated vs other correct prompts
    Heuristic,
    /// Each prompt's own heuristic neurons, top N per layer, vs as many random neurons
    Prompt,
}

#[derive(Debug, Args)]
pub struct KnockoutArgs {
    /// Which experiment
    #[arg(long, value_enum)]
    pub by: By,
    #[command(flatten)]
    pub grid: GridArgs,
    #[command(flatten)]
    pub classify: ClassifyArgs,
    /// --by heuristic: heuristics tested (most member neurons first)
    #[arg(long, default_value_t = 10)]
    pub limit: usize,
    /// --by heuristic: prompts per side, at most
    #[arg(long, default_value_t = 100)]
    pub max_prompts: usize,
    /// --by heuristic: skip heuristics with fewer associated correct prompts
    #[arg(long, default_value_t = 20)]
    pub min_prompts: usize,
    /// --by heuristic: stop at heuristics with fewer member neurons
    #[arg(long, default_value_t = 3)]
    pub min_neurons: usize,
    /// --by prompt: correct prompts tested
    #[arg(long, default_value_t = 30)]
    pub prompts: usize,
    /// --by prompt: neurons zeroed per layer, as a list
    #[arg(long, value_delimiter = ',', default_value = "0,5,10,25,50")]
    pub per_layer: Vec<usize>,
    /// Seed of the prompt samples and the random controls
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[command(flatten)]
    pub output: TableJsonCsv,
}

pub fn run(model_args: &ModelArgs, paths: &Paths, args: KnockoutArgs) -> Result<()> {
    let loaded = model_args.load(paths)?;
    let maps = args.grid.maps(&loaded, paths)?;
    let neurons = args.classify.classify(&maps, loaded.config.num_layers)?;
    let groups = groups(&maps, &neurons);
    let bar =
        ProgressBar::new(0).with_style(ProgressStyle::with_template("{msg} {bar:40} {pos}/{len}").expect("valid"));
    let progress = |done: usize, total: usize| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    };
    let control = Control { cancel: None, progress: Some(&progress) };
    let started = Instant::now();
    let correct = maps.correct_cells().len();
    match args.by {
        By::Heuristic => {
            bar.set_message("knockout by heuristic");
            let settings = ByHeuristicSettings {
                max_prompts: args.max_prompts,
                min_prompts: args.min_prompts,
                min_neurons: args.min_neurons,
                limit: args.limit,
                seed: args.seed,
            };
            let rows = by_heuristic(loaded.model.as_ref(), &loaded.tokenizer, &maps, &groups, settings, control)?;
            bar.finish_and_clear();
            match args.output.format() {
                Format::Json => return print_json(&rows),
                Format::Csv => {
                    let cells = rows.iter().map(|r| {
                        [
                            r.heuristic.clone(),
                            r.neurons.to_string(),
                            r.prompts.to_string(),
                            r.associated_accuracy.to_string(),
                            r.control_accuracy.to_string(),
                        ]
                    });
                    let header = ["heuristic", "neurons", "prompts", "associated_accuracy", "control_accuracy"];
                    return print_csv(&header, cells);
                }
                Format::Table => {}
            }
            println!(
                "knockout by heuristic on {correct} correct prompts (accuracy 1.0 before), {:.1} s",
                started.elapsed().as_secs_f64()
            );
            println!("| heuristic | neurons | prompts per side | associated accuracy | other accuracy |");
            println!("|---|---|---|---|---|");
            for r in &rows {
                println!(
                    "| {} | {} | {} | {:.2} | {:.2} |",
                    r.heuristic, r.neurons, r.prompts, r.associated_accuracy, r.control_accuracy
                );
            }
        }
        By::Prompt => {
            bar.set_message("knockout by prompt");
            let mut candidates: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
            neurons.iter().for_each(|n| candidates.entry(n.neuron.layer).or_default().push(n.neuron.index));
            let settings = ByPromptSettings { per_layer: &args.per_layer, prompts: args.prompts, seed: args.seed };
            let rows =
                by_prompt(loaded.model.as_ref(), &loaded.tokenizer, &maps, &groups, &candidates, settings, control)?;
            bar.finish_and_clear();
            match args.output.format() {
                Format::Json => return print_json(&rows),
                Format::Csv => {
                    let cells = rows.iter().map(|r| {
                        [
                            r.per_layer.to_string(),
                            r.prompts.to_string(),
                            r.ablated_accuracy.to_string(),
                            r.control_accuracy.to_string(),
                        ]
                    });
                    return print_csv(&["per_layer", "prompts", "ablated_accuracy", "control_accuracy"], cells);
                }
                Format::Table => {}
            }
            println!("knockout by prompt, {:.1} s", started.elapsed().as_secs_f64());
            println!(
                "| neurons zeroed per layer | prompts | accuracy, own heuristics' neurons | accuracy, random neurons |"
            );
            println!("|---|---|---|---|");
            for r in &rows {
                println!("| {} | {} | {:.2} | {:.2} |", r.per_layer, r.prompts, r.ablated_accuracy, r.control_accuracy);
            }
        }
    }
    Ok(())
}
