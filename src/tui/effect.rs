//! What the reducer asks the outside world to do. The main loop does it, and hands what comes
//! back (a file's text, an export's result) to the app.
use std::path::PathBuf;
use std::sync::Arc;

use super::compare::Side;
use super::engine_messages::EngineCmd;
use super::exemplars::ExemplarSource;
use super::label_worker::LabelCmd;
use crate::engine::neuron::NeuronId;

#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// A request to a side's engine worker (B: compare mode's run B).
    Engine(Side, EngineCmd),
    /// A request to the label thread.
    Labels(LabelCmd),
    /// Stop the job a side's engine worker is running.
    Cancel(Side),
    Quit,
    /// Write `contents` to `path` (atomically).
    Export {
        path: PathBuf,
        contents: String,
    },
    /// Read a side's prompt from a file and hand it to [`super::app::App::on_prompt_file`].
    ReadPrompt(Side, PathBuf),
    /// Read a neuron's exemplars from the model's exemplar file and hand them to
    /// [`super::app::App::on_exemplars`]: a few rows of a mapped file, read between two frames.
    ReadExemplars(Arc<ExemplarSource>, NeuronId),
    /// Build the method's prompt of `variant` for `question` of the data set (None: the default
    /// question) and hand it to [`super::app::App::on_prompt_for`].
    VariantPrompt {
        side: Side,
        variant: String,
        question: Option<usize>,
    },
}
