//! Labels on the first run: when the label store holds no labels for the loaded model, the
//! explorer builds the vocabulary index and the lexical labels (`neuronav index build` and
//! `neuronav label lexical`, with their defaults) in the background, and shows them.
//!
//! The build runs on the engine worker, one slice at a time (a block of 256 neurons projected, a
//! piece of the vocabulary decoded, the seed-word filter), and only while the worker has nothing
//! else to do: every command the user sends goes first, so a prompt's run waits for at most the
//! slice in progress (~0.15 s on SmolLM2-135M). A thread of its own over the shared model (the
//! model is `Send + Sync`, as compare mode's second worker shows) would have kept building during
//! the user's runs, but both would then draw on the same rayon pool and cores, which has no
//! priorities: a prefill would take about twice as long for the build's half minute. Compare
//! mode's run B has a worker of its own, whose runs do share the cores with the build's slices.
use std::sync::Arc;

use crate::engine::runtime::Model;
use crate::engine::tokenizer::Tokenizer;
use crate::paths::Paths;
use crate::science::labels::concepts::Concepts;
use crate::science::labels::label::NewLabel;
use crate::science::labels::lexical::{self, LexicalSettings};
use crate::science::projection::ProjectionSettings;
use crate::science::vocab_index::{IndexBuilder, VocabIndex};

/// Tokens decoded per slice: SmolLM2's 49152 in six slices.
const TEXT_CHUNK: u32 = 8192;

/// What the build is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Projecting every neuron to the vocabulary (or reading the cached index).
    Index,
    /// Decoding the vocabulary, as the seed words are compared with it.
    Texts,
    /// The seed-word filter over every neuron.
    Lexicon,
}

impl Stage {
    pub fn name(self) -> &'static str {
        match self {
            Stage::Index => "index",
            Stage::Texts => "vocabulary",
            Stage::Lexicon => "lexicon",
        }
    }
}

/// How far the build is: `done` of `total` in its stage (neurons, tokens; 0 of 1 for the filter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub stage: Stage,
    pub done: usize,
    pub total: usize,
}

/// What the worker says about the build.
#[derive(Debug, Clone)]
pub enum LabelBuildMsg {
    Progress(Progress),
    /// The lexical labels of every neuron, for the label thread to store.
    Built(Arc<Vec<NewLabel>>),
    Failed(String),
}

/// What the explorer knows of the build, shown in the status bar and compare mode's summary.
#[derive(Debug, Clone, PartialEq)]
pub enum BuildState {
    /// The store has not said yet whether it holds labels.
    Unknown,
    /// The store held labels: nothing to build.
    NotNeeded,
    /// The store holds none and the build is off (by the setting, or stopped by the user).
    Off {
        stopped: bool,
    },
    /// Running; `None` until its first report.
    Running(Option<Progress>),
    /// Built; the label thread is storing this many labels.
    Saving {
        labels: usize,
    },
    /// Stored this many labels.
    Done {
        labels: usize,
    },
    Failed(String),
}

impl BuildState {
    pub fn is_running(&self) -> bool {
        matches!(self, BuildState::Running(_) | BuildState::Saving { .. })
    }

    /// The status bar's words for a build in progress.
    pub fn describe(&self) -> Option<String> {
        match self {
            BuildState::Running(None) => Some("labels: starting".into()),
            // The index is most of the work: its stage goes without a name.
            BuildState::Running(Some(p)) if p.stage == Stage::Index => {
                Some(format!("labels {}%", 100 * p.done / p.total.max(1)))
            }
            BuildState::Running(Some(p)) if p.total > 1 => {
                Some(format!("labels: {} {}%", p.stage.name(), 100 * p.done / p.total))
            }
            BuildState::Running(Some(p)) => Some(format!("labels: {}", p.stage.name())),
            BuildState::Saving { labels } => Some(format!("labels: saving {labels}")),
            _ => None,
        }
    }
}

/// The worker's side: the build's state between slices.
pub struct LabelBuild {
    fingerprint: String,
    stage: Work,
}

enum Work {
    Start,
    Index { concepts: Concepts, builder: Box<IndexBuilder> },
    Texts { concepts: Concepts, index: VocabIndex, texts: Vec<String> },
    Lexicon { concepts: Concepts, index: VocabIndex, texts: Vec<String> },
    Finished,
}

/// What one slice came to.
pub enum Outcome {
    Progress(Progress),
    Built(Vec<NewLabel>),
}

impl LabelBuild {
    /// A build for the model with `fingerprint` (which keys the cached index).
    pub fn new(fingerprint: String) -> LabelBuild {
        LabelBuild { fingerprint, stage: Work::Start }
    }

    /// Does one slice of the build for `model`. Errors say what failed, naming the file.
    pub fn step(&mut self, model: &dyn Model, tokenizer: &Tokenizer, paths: &Paths) -> Result<Outcome, String> {
        let settings = ProjectionSettings::default();
        let vocab = model.config().vocab_size;
        let (next, outcome) = match std::mem::replace(&mut self.stage, Work::Finished) {
            Work::Start => {
                let concepts = Concepts::load(&paths.config.join("concepts.toml")).map_err(|e| e.to_string())?;
                match VocabIndex::cached(model, &paths.cache, &self.fingerprint, settings) {
                    Some(index) => texts_stage(concepts, index, vocab),
                    None => {
                        let builder = Box::new(IndexBuilder::new(model, settings));
                        let progress = Progress { stage: Stage::Index, done: 0, total: builder.total() };
                        (Work::Index { concepts, builder }, Outcome::Progress(progress))
                    }
                }
            }
            Work::Index { concepts, mut builder } => {
                let done = builder.step(model).map_err(|e| e.to_string())?;
                if builder.is_done() {
                    let index = builder.finish().expect("every block is projected");
                    let path = VocabIndex::cache_path(&paths.cache, &self.fingerprint, settings);
                    // Kept for `neuronav search` and the next start.
                    index.save(&path).map_err(|e| e.to_string())?;
                    texts_stage(concepts, index, vocab)
                } else {
                    let progress = Progress { stage: Stage::Index, done, total: builder.total() };
                    (Work::Index { concepts, builder }, Outcome::Progress(progress))
                }
            }
            Work::Texts { concepts, index, mut texts } => {
                let start = texts.len() as u32;
                let end = (start + TEXT_CHUNK).min(vocab as u32);
                texts.extend(lexical::token_texts_in(tokenizer, start..end));
                let progress = Progress { stage: Stage::Texts, done: texts.len(), total: vocab };
                if texts.len() < vocab {
                    (Work::Texts { concepts, index, texts }, Outcome::Progress(progress))
                } else {
                    let progress = Progress { stage: Stage::Lexicon, done: 0, total: 1 };
                    (Work::Lexicon { concepts, index, texts }, Outcome::Progress(progress))
                }
            }
            Work::Lexicon { concepts, index, texts } => {
                let labels = lexical::prefilter(&index, &texts, &concepts, LexicalSettings::default());
                (Work::Finished, Outcome::Built(labels))
            }
            Work::Finished => return Err("the label build already finished".into()),
        };
        self.stage = next;
        Ok(outcome)
    }
}

fn texts_stage(concepts: Concepts, index: VocabIndex, vocab: usize) -> (Work, Outcome) {
    let progress = Progress { stage: Stage::Texts, done: 0, total: vocab };
    (Work::Texts { concepts, index, texts: Vec::with_capacity(vocab) }, Outcome::Progress(progress))
}
