//! `neuronav` with no subcommand, `compare --tui` and `intervene --tui`: the explorer's options,
//! and opening it.
use std::path::PathBuf;

use clap::Args;
use color_eyre::eyre::Result;

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
    /// The method's data directory, whose prompts/*.txt variants the prompt picker offers
    #[arg(long, value_name = "DIR", default_value = "../shared/data/rai-yao-2024")]
    pub data: PathBuf,
}

/// Opens the explorer on `model`, in compare mode when `start` says how.
pub fn open(model: &ModelArgs, paths: &Paths, args: ExplorerArgs, start: Option<CompareStart>) -> Result<()> {
    let spec =
        ModelSpec { path: model.model.clone(), device: model.device, dtype: model.dtype, compute: model.compute };
    let options = Options { open: args.open, theme: args.theme, top_k: args.top_k, data: args.data };
    crate::tui::run(spec, paths.clone(), options, start)
}
