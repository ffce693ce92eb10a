//! What the engine worker hands the UI: plain CPU data, owned, never a tensor or a borrow of the
//! session. Each result carries the `generation` of the session state it was computed from, so the
//! UI drops answers that a later run or step has made stale.
use std::sync::Arc;

use serde::Serialize;

use crate::engine::model::ComputePath;
use crate::engine::neuron::{NeuronHit, NeuronId};
use crate::engine::session::SessionSettings;

/// The loaded model, for display and export.
#[derive(Debug, Clone, Serialize)]
pub struct ModelInfo {
    pub name: String,
    pub path: String,
    /// Device and element type, e.g. `cpu f32`.
    pub device: String,
    /// The products' path (exact or fast).
    pub compute: ComputePath,
    pub layers: usize,
    pub d_model: usize,
    pub d_ff: usize,
    pub vocab: usize,
    pub eos: Option<u32>,
    /// Identity of the weights: labels are stored under it.
    pub fingerprint: String,
}

/// A token as shown: id and readable text (`␣`, `\n` escapes).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TokenView {
    pub id: u32,
    pub text: String,
}

/// A next-token candidate with its probability.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TokenProbView {
    pub token: TokenView,
    pub prob: f32,
}

/// The session after a run or a step.
#[derive(Debug, Clone, Serialize)]
pub struct Snapshot {
    pub generation: u64,
    pub tokens: Vec<TokenView>,
    pub prompt_len: usize,
    /// Top-K neurons by score per position and layer: `[positions][layers][K]`.
    pub top: Vec<Vec<Vec<NeuronHit>>>,
    /// Next-token top-5 after the last position.
    pub next: Vec<TokenProbView>,
    #[serde(skip)]
    pub settings: SessionSettings,
    /// The last token is the model's end of sequence.
    pub at_eos: bool,
}

impl Snapshot {
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// Tokens generated after the prompt.
    pub fn generated(&self) -> usize {
        self.tokens.len().saturating_sub(self.prompt_len)
    }
}

/// A token and its logit under a value vector.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TokenLogitView {
    pub token: TokenView,
    pub logit: f32,
}

/// The tokens a neuron's value vector promotes (descending) and suppresses (ascending).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProjectionView {
    pub neuron: NeuronId,
    pub top: Vec<TokenLogitView>,
    pub bottom: Vec<TokenLogitView>,
}

/// One neuron across the whole text.
#[derive(Debug, Clone)]
pub struct NeuronDetail {
    pub generation: u64,
    pub neuron: NeuronId,
    pub projection: Arc<ProjectionView>,
    /// ‖v‖ of the neuron.
    pub value_norm: f32,
    /// m at every position: `[positions]`.
    pub m: Vec<f32>,
    /// 1-based rank by score among all neurons of its layer, at every position: `[positions]`.
    pub rank: Vec<u32>,
}

/// The logit lens at one position: what each layer's residual stream would predict.
#[derive(Debug, Clone, Serialize)]
pub struct LensView {
    pub generation: u64,
    pub position: usize,
    /// The model's top next token at this position, whose logit the contributions explain.
    pub predicted: TokenView,
    /// Per layer: top tokens of resid_mid (before the FFN) and resid_post (after it).
    pub layers: Vec<LensLayer>,
    /// Top neurons of every layer by their contribution m·(W_U·v)[predicted], largest first.
    pub contributions: Vec<Contribution>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LensLayer {
    pub before: Vec<TokenProbView>,
    pub after: Vec<TokenProbView>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Contribution {
    pub neuron: NeuronId,
    pub m: f32,
    /// m · (W_U·v)[predicted]: how much this neuron raises the predicted token's logit.
    pub logit: f32,
}

/// The next-token candidates after one position.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NextView {
    pub generation: u64,
    pub position: usize,
    pub tokens: Vec<TokenProbView>,
}
