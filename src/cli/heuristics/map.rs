//! `neuronav heuristics map L20N5`: one neuron's activation map over the grid, as a summary or as
//! CSV (rows op1, columns op2, empty where illegal).
use std::fmt::Write as _;
use std::ops::Range;

use clap::Args;
use color_eyre::eyre::{eyre, Result};
use serde::Serialize;

use super::grid_args::GridArgs;
use crate::cli::output::{print_json, write_stdout, Format, TableJsonCsv};
use crate::cli::ModelArgs;
use crate::engine::neuron::NeuronId;
use crate::paths::Paths;

#[derive(Debug, Args)]
pub struct MapArgs {
    /// The neuron, as L{layer}N{index}
    pub neuron: NeuronId,
    #[command(flatten)]
    pub grid: GridArgs,
    /// The KV map (K times the centred logit of the correct token) instead of K
    #[arg(long)]
    pub kv: bool,
    /// Which read row: 0 = "=", s = after the answer's first s tokens
    #[arg(long, default_value_t = 0)]
    pub slot: usize,
    // The map's extremes as a table; the whole map as JSON or as CSV (rows op1, columns op2,
    // empty where the problem is not in the grid).
    #[command(flatten)]
    pub output: TableJsonCsv,
}

/// What `heuristics map --format json` prints (docs/cli-json.md).
#[derive(Serialize)]
struct MapReport<'a> {
    neuron: NeuronId,
    /// `K` or `KV`.
    map: &'a str,
    slot: usize,
    op1: Range<u32>,
    op2: Range<u32>,
    /// Rows op1, columns op2; null where the problem is not in the grid.
    values: Vec<Vec<Option<f32>>>,
}

pub fn run(model_args: &ModelArgs, paths: &Paths, args: MapArgs) -> Result<()> {
    let loaded = model_args.load(paths)?;
    let maps = args.grid.maps(&loaded, paths)?;
    let (layer, index) = (args.neuron.layer as usize, args.neuron.index as usize);
    let map = if args.kv { maps.kv_map(args.slot, layer, index) } else { maps.k_map(args.slot, layer, index) };
    let map = map.ok_or_else(|| {
        eyre!(
            "{} is not in the grid's maps (layers {:?}, {} slot(s), {} neurons per layer); choose them with --layers/--slots",
            args.neuron,
            maps.settings.layers,
            maps.settings.slots,
            maps.d_ff
        )
    })?;
    let spec = &maps.settings.spec;
    let kind = if args.kv { "KV" } else { "K" };
    match args.output.format() {
        Format::Json => {
            let values =
                map.chunks(spec.cols()).map(|row| row.iter().map(|v| v.is_finite().then_some(*v)).collect()).collect();
            let report = MapReport {
                neuron: args.neuron,
                map: kind,
                slot: args.slot,
                op1: spec.op1.clone(),
                op2: spec.op2.clone(),
                values,
            };
            return print_json(&report);
        }
        Format::Csv => {
            let mut text = String::new();
            let header: Vec<String> = spec.op2.clone().map(|b| b.to_string()).collect();
            writeln!(text, "op1\\op2,{}", header.join(","))?;
            for (r, row) in map.chunks(spec.cols()).enumerate() {
                let cells: Vec<String> =
                    row.iter().map(|v| if v.is_finite() { format!("{v:.4}") } else { String::new() }).collect();
                writeln!(text, "{},{}", spec.op1.start as usize + r, cells.join(","))?;
            }
            return write_stdout(text.as_bytes());
        }
        Format::Table => {}
    }
    let mut cells: Vec<(usize, f32)> = map.iter().copied().enumerate().filter(|(_, v)| v.is_finite()).collect();
    cells.sort_by(|a, b| b.1.total_cmp(&a.1));
    let show = |c: &(usize, f32)| {
        let p = spec.problem(c.0).expect("finite cells are legal");
        format!("{}{} {:.3}", spec.suffix(&p), p.result, c.1)
    };
    println!("{} {kind} map over {} (slot {})", args.neuron, spec, args.slot);
    println!("  highest: {}", cells.iter().take(8).map(show).collect::<Vec<_>>().join("  "));
    println!("  lowest:  {}", cells.iter().rev().take(8).map(show).collect::<Vec<_>>().join("  "));
    if let Some(logits) = maps.target_logits(layer, index) {
        let mut logits = logits;
        logits.sort_by(|a, b| b.1.total_cmp(&a.1));
        let shown: Vec<String> =
            logits.iter().map(|(t, l)| format!("{:?} {l:.2}", loaded.tokenizer.token_display(*t))).collect();
        println!("  centred logits of the answer tokens: {}", shown.join("  "));
    }
    Ok(())
}
