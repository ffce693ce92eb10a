//! `neuronav` with no subcommand, `compare --tui` and `intervene --tui`: the explorer's options,
//! and opening it.
use std::path::PathBuf;

use clap::Args;
use color_eyre::eyre::Result;

use super::method_data::MethodDataArgs;
use super::ModelArgs;
use crate::paths::Paths;
use crate::tui::{CompareStart, ModelSpec, Options};

/// Options of the explorer (`neuronav` with no subcommand).
#[derive(Debug, Args)]
pub struct ExplorerArgs {
    /// Open with the prompt in this file
    #[arg(long, value_name = "FILE")]
    pub open: Option<PathBuf>,
    /// dark, light, basic (16 colours) or plain; NO_COLOR selects plain
    #[arg(long)]
    pub theme: Option<String>,
    /// Neurons kept per layer and position
    #[arg(long, default_value_t = 20)]
    pub top_k: usize,
    // The prompt variants the picker offers and `:variant` builds.
    #[command(flatten)]
    pub method: MethodDataArgs,
    /// Do not build the lexical labels in the background when the label store holds none for
    /// the model (A builds them on demand)
    #[arg(long)]
    pub no_auto_labels: bool,
}

/// Opens the explorer on `model`, in compare mode when `start` says how.
pub fn open(model: &ModelArgs, paths: &Paths, args: ExplorerArgs, start: Option<CompareStart>) -> Result<()> {
    let spec = ModelSpec {
        path: model.model.clone(),
        device: model.device,
        dtype: model.dtype,
        trace_memory: model.trace_memory,
        compute: model.compute,
    };
    let options = Options {
        open: args.open,
        theme: args.theme,
        top_k: args.top_k,
        method: args.method.data(0),
        auto_labels: !args.no_auto_labels,
    };
    crate::tui::run(spec, paths.clone(), options, start)
}
