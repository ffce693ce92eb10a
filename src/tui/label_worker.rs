//! The label thread: the one owner of the label store. The UI sends it commands and receives
//! plain data; it never waits on SQLite, and no query runs while a frame is drawn.
//!
//! Verdicts: `Record` commits the verdict in its own transaction (a full sync) before `Saved` is
//! sent, so what the UI shows as saved is on disk. [`LabelWorker::finish`] lets the thread work
//! off every command already sent before it returns, so quitting loses no verdict.
use std::path::PathBuf;
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};

use std::sync::Arc;

use super::labels::Labels;
use crate::science::analysis::counting::{ReasoningNeurons, ReasoningSelection};
use crate::science::labels::label::{NewLabel, NewVerdict, Verdict};
use crate::science::labels::store::{Answers, LabelFilter, LabelStore, QueueItem};

#[derive(Debug, Clone, PartialEq)]
pub enum LabelCmd {
    /// Open the store for the model with this fingerprint and load its labels and verdicts.
    Open { fingerprint: String },
    /// The review queue: labels whose source gave one of `answers`, from one source and/or of one
    /// concept, unchecked first.
    Queue { source: Option<String>, concept: Option<String>, answers: Answers },
    /// Commit a verdict.
    Record(NewVerdict),
    /// Store labels (the background build's), then load the model's labels anew.
    Add(Arc<Vec<NewLabel>>),
    /// The reasoning neurons: applying labels of these concepts from these sources (every source
    /// when empty), as `neuronav compare` chooses them.
    Reasoning { concepts: Vec<String>, sources: Vec<String> },
}

#[derive(Debug, Clone)]
pub enum LabelMsg {
    /// The model's labels, from the store at `path`.
    Loaded {
        path: PathBuf,
        labels: Labels,
    },
    Queue {
        source: Option<String>,
        concept: Option<String>,
        answers: Answers,
        items: Vec<QueueItem>,
    },
    /// `added` labels are stored; `labels` are the model's labels now.
    Added {
        added: usize,
        labels: Labels,
    },
    /// The labels could not be stored.
    NotAdded {
        error: String,
    },
    /// The verdict is committed.
    Saved(Verdict),
    /// The verdict could not be committed.
    NotSaved {
        verdict: NewVerdict,
        error: String,
    },
    Reasoning {
        concepts: Vec<String>,
        sources: Vec<String>,
        neurons: Arc<ReasoningNeurons>,
    },
    Error(String),
}

/// The UI's handle on the label thread.
pub struct LabelWorker {
    tx: Option<Sender<LabelCmd>>,
    pub rx: Receiver<LabelMsg>,
    thread: Option<JoinHandle<()>>,
}

impl LabelWorker {
    /// Starts the thread over the store file at `path` (opened on `Open`).
    pub fn spawn(path: PathBuf) -> LabelWorker {
        let (tx, cmd_rx) = crossbeam_channel::unbounded();
        let (msg_tx, rx) = crossbeam_channel::unbounded();
        let thread = std::thread::Builder::new()
            .name("labels".into())
            .spawn(move || run(path, cmd_rx, msg_tx))
            .expect("spawning the label thread");
        LabelWorker { tx: Some(tx), rx, thread: Some(thread) }
    }

    pub fn send(&self, cmd: LabelCmd) {
        if let Some(tx) = &self.tx {
            // A closed channel means the thread is gone; its last message said why.
            let _ = tx.send(cmd);
        }
    }

    /// Waits until every command sent so far is done (every verdict committed or refused).
    pub fn finish(&mut self) {
        self.tx = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for LabelWorker {
    fn drop(&mut self) {
        self.finish();
    }
}

fn run(path: PathBuf, rx: Receiver<LabelCmd>, tx: Sender<LabelMsg>) {
    let mut store: Option<LabelStore> = None;
    let say = |msg| {
        let _ = tx.send(msg);
    };
    // Ends once the UI hung up and every queued command is done.
    for cmd in rx {
        match cmd {
            LabelCmd::Open { fingerprint } => match open(&path, &fingerprint) {
                Ok((s, labels)) => {
                    store = Some(s);
                    say(LabelMsg::Loaded { path: path.clone(), labels });
                }
                Err(e) => say(LabelMsg::Error(format!("labels: {e}"))),
            },
            LabelCmd::Queue { source, concept, answers } => match &store {
                Some(s) => match s.review_queue(source.as_deref(), concept.as_deref(), answers) {
                    Ok(items) => say(LabelMsg::Queue { source, concept, answers, items }),
                    Err(e) => say(LabelMsg::Error(format!("review queue: {e}"))),
                },
                None => say(LabelMsg::Error(format!("the label store {} is not open", path.display()))),
            },
            LabelCmd::Reasoning { concepts, sources } => match &store {
                Some(s) => {
                    let selection = ReasoningSelection { concepts: concepts.clone(), sources: sources.clone() };
                    match s.labels_by_neuron() {
                        Ok(labels) => {
                            let neurons = Arc::new(ReasoningNeurons::from_labels(&labels, &selection));
                            say(LabelMsg::Reasoning { concepts, sources, neurons });
                        }
                        Err(e) => say(LabelMsg::Error(format!("reasoning neurons: {e}"))),
                    }
                }
                None => say(LabelMsg::Error(format!("the label store {} is not open", path.display()))),
            },
            LabelCmd::Add(new) => {
                let result = match &mut store {
                    Some(s) => s.upsert_labels(&new).and_then(|_| loaded(s)).map_err(|e| e.to_string()),
                    None => Err(format!("the label store {} is not open", path.display())),
                };
                say(match result {
                    Ok(labels) => LabelMsg::Added { added: new.len(), labels },
                    Err(error) => LabelMsg::NotAdded { error },
                });
            }
            LabelCmd::Record(verdict) => {
                let result = match &mut store {
                    Some(s) => s.record_verdict(&verdict).map_err(|e| e.to_string()),
                    None => Err(format!("the label store {} is not open", path.display())),
                };
                say(match result {
                    Ok(saved) => LabelMsg::Saved(saved),
                    Err(error) => LabelMsg::NotSaved { verdict, error },
                });
            }
        }
    }
}

fn open(path: &std::path::Path, fingerprint: &str) -> crate::science::labels::error::Result<(LabelStore, Labels)> {
    let store = LabelStore::open(path, fingerprint)?;
    let labels = loaded(&store)?;
    Ok((store, labels))
}

fn loaded(store: &LabelStore) -> crate::science::labels::error::Result<Labels> {
    Ok(Labels::from_store(store.labels(&LabelFilter::default())?, store.verdicts()?))
}
