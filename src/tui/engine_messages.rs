//! What the UI and an engine worker say to each other: commands in, messages out, all plain data
//! (or shared, immutable handles) so neither side waits on the other.
use std::path::PathBuf;
use std::sync::Arc;

use super::exemplars::{Found, Shading};
use super::grid::LoadedGrid;
use super::knockout_job::KnockoutResult;
use super::label_build::LabelBuildMsg;
use super::snapshot::{LensView, ModelInfo, NeuronDetail, NextView, ProjectionView, Snapshot};
use crate::engine::intervention::Interventions;
use crate::engine::loader::DeviceChoice;
use crate::engine::model::{ComputeChoice, WeightDType};
use crate::engine::neuron::NeuronId;
use crate::engine::runtime::Model;
use crate::engine::sampling::Sampling;
use crate::engine::session::SessionSettings;
use crate::engine::tokenizer::Tokenizer;
use crate::science::exemplars::context::Context;
use crate::science::heuristics::maps::MapSettings;

/// A loaded model for a second session over the same weights: compare mode's side B runs on a
/// worker of its own without loading the model twice.
#[derive(Clone)]
pub struct SharedModel {
    pub model: Arc<dyn Model>,
    pub tokenizer: Arc<Tokenizer>,
    pub info: Arc<ModelInfo>,
}

impl std::fmt::Debug for SharedModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SharedModel({})", self.info.name)
    }
}

/// The same weights, not equal weights.
impl PartialEq for SharedModel {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.model, &other.model)
    }
}

/// What the UI asks of the engine.
#[derive(Debug, Clone, PartialEq)]
pub enum EngineCmd {
    /// Open a model (the default model, fetched when missing, if `model` is None).
    Load {
        model: Option<PathBuf>,
        device: DeviceChoice,
        dtype: WeightDType,
        compute: ComputeChoice,
        settings: SessionSettings,
    },
    /// Start a session over a model another worker loaded.
    Adopt {
        model: SharedModel,
        settings: SessionSettings,
    },
    /// Forget the text and run `text` as the prompt (prefill).
    RunPrompt {
        text: String,
    },
    /// Generate `n` tokens, one forward pass each; stop early at EOS when asked to.
    Step {
        n: usize,
        stop_at_eos: bool,
    },
    /// Take back the last generated token.
    StepBack,
    /// Project these neurons' value vectors to the vocabulary. Latest wins: a new request replaces
    /// what is still queued of an older one.
    Project {
        neurons: Vec<NeuronId>,
    },
    /// One neuron over the whole text. Latest wins.
    Detail {
        neuron: NeuronId,
    },
    /// `neuron`'s m at every token of these exemplar contexts, recomputed with the model, to shade
    /// them. Latest wins: a newer request stops this one at its next layer (see `Engine::send`).
    Shade {
        request: u64,
        neuron: NeuronId,
        contexts: Vec<Context>,
    },
    /// The logit lens at a position. Latest wins.
    Lens {
        position: usize,
    },
    /// The next-token candidates after a position. Latest wins.
    NextTokens {
        position: usize,
    },
    SetTopK(usize),
    SetSampling(Sampling),
    /// An operand grid's maps for the model with `fingerprint`: from the cache, or built and cached.
    Grid {
        fingerprint: String,
        settings: MapSettings,
    },
    /// Zero, one heuristic at a time, the grid's neurons implementing these heuristics (those
    /// `neuron` matches) and measure the grid's accuracy; see `knockout_job`.
    Knockout {
        grid: Arc<LoadedGrid>,
        neuron: NeuronId,
        heuristics: Vec<String>,
    },
    /// Change neurons in the forward passes from the next run on.
    SetInterventions(Interventions),
    /// Build the vocabulary index and the lexical labels of the model with `fingerprint` in the
    /// background, between other commands (see `label_build`).
    BuildLabels {
        fingerprint: String,
    },
    /// Stop the background label build.
    StopLabels,
}

/// What kind of long job a progress report is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    Loading,
    Prefill,
    Generating,
    /// Building an operand grid's maps (progress in prompts).
    Grid,
    /// A knockout by heuristic (progress in prompts of the heuristic being tested).
    Knockout,
}

/// What the engine tells the UI.
#[derive(Debug, Clone)]
pub enum EngineMsg {
    Status(String),
    Loaded(Arc<ModelInfo>),
    /// The model just loaded, for a second worker to adopt.
    Shared(SharedModel),
    Progress {
        job: Job,
        done: usize,
        total: usize,
    },
    Snapshot(Arc<Snapshot>),
    Projection(Arc<ProjectionView>),
    Detail(Arc<NeuronDetail>),
    /// The loaded model's exemplar file, looked for after every load.
    Exemplars(Found),
    /// Part of the answer to a `Shade` request, sent as each document's contexts are computed.
    Shading(Arc<Shading>),
    Lens(Arc<LensView>),
    Grid(Arc<LoadedGrid>),
    Knockout(Arc<KnockoutResult>),
    NextTokens(Arc<NextView>),
    /// The background label build.
    LabelBuild(LabelBuildMsg),
    /// A run, step or load ended (finished, failed or cancelled).
    Idle,
    Error(String),
}
