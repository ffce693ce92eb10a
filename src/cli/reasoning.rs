//! Choosing the reasoning neurons from the label store, shared by `compare`, `intervene` and
//! `analyze`.
use std::path::PathBuf;

use clap::Args;
use color_eyre::eyre::Result;

use crate::paths::Paths;
use crate::science::analysis::counting::{ReasoningNeurons, ReasoningSelection};
use crate::science::labels::store::LabelStore;

#[derive(Debug, Args, Clone)]
pub struct ReasoningArgs {
    /// Concepts whose neurons count (repeat for several) [default: the method's seven]
    #[arg(long = "concept", value_name = "KEY")]
    pub concepts: Vec<String>,
    /// Label sources whose applying labels count (repeat for several) [default: every source]
    #[arg(long = "source", value_name = "SOURCE")]
    pub sources: Vec<String>,
    /// The label database [default: labels.sqlite3 in the data directory]
    #[arg(long, value_name = "PATH")]
    pub db: Option<PathBuf>,
}

impl ReasoningArgs {
    /// The concepts and sources chosen: none named means the method's concepts from every source,
    /// as [`ReasoningSelection`] reads an empty list.
    pub fn selection(&self) -> ReasoningSelection {
        ReasoningSelection { concepts: self.concepts.clone(), sources: self.sources.clone() }
    }

    /// The neurons with applying labels of the chosen concepts and sources for the model
    /// `fingerprint`.
    pub fn load(&self, fingerprint: &str, paths: &Paths) -> Result<ReasoningNeurons> {
        let path = self.db.clone().unwrap_or_else(|| LabelStore::default_path(&paths.data));
        let store = LabelStore::open(&path, fingerprint)?;
        let neurons = ReasoningNeurons::from_labels(&store.labels_by_neuron()?, &self.selection());
        if neurons.is_empty() {
            eprintln!(
                "note: {} holds no applying labels of these concepts for this model; \
                 run `neuronav label lexical` to make some",
                path.display()
            );
        }
        Ok(neurons)
    }
}
