//! An exemplar as a person reads it: the tokens around the position (32 before, 8 after, within
//! its document), and the neuron's m at each of them, recomputed on demand by running the
//! document's window again up to the context's end and stopping after the neuron's layer.
use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;

use super::file::ExemplarFile;
use super::windows::window_of;
use super::Record;
use crate::engine::error::EngineError;
use crate::engine::hook::{Captures, Hook};
use crate::engine::intervention::Interventions;
use crate::engine::neuron::NeuronId;
use crate::engine::runtime::Model;

/// Tokens shown before an exemplar's position.
pub const BEFORE: usize = 32;
/// Tokens shown after it.
pub const AFTER: usize = 8;

/// The tokens around one exemplar.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Context {
    pub record: Record,
    /// The document's tokens `start..start + tokens.len()`.
    pub tokens: Vec<u32>,
    pub start: usize,
    /// Index in `tokens` of the exemplar's position.
    pub focus: usize,
}

/// The context of `record`, read from the file alone (no model needed).
pub fn context(file: &ExemplarFile, record: Record) -> Context {
    let doc = file.document(record.doc);
    let pos = record.pos as usize;
    let start = pos.saturating_sub(BEFORE);
    let end = (pos + AFTER + 1).min(doc.len());
    Context { record, tokens: doc[start..end].to_vec(), start, focus: pos - start }
}

/// `neuron`'s m at every token of each context, `[contexts][tokens]`, computed as the build
/// computed it: in the window of the document that counted the exemplar. Contexts of one
/// document and window share a pass. Stops with `Cancelled` when `cancel` is set.
pub fn recompute(
    model: &dyn Model,
    file: &ExemplarFile,
    neuron: NeuronId,
    contexts: &[Context],
    cancel: &AtomicBool,
) -> Result<Vec<Vec<f32>>, EngineError> {
    let window = file.header().settings.window;
    let (layer, d_ff) = (neuron.layer as usize, model.config().intermediate_size);
    let mut out: Vec<Vec<f32>> = contexts.iter().map(|c| vec![f32::NAN; c.tokens.len()]).collect();
    let mut done = vec![false; contexts.len()];
    for i in 0..contexts.len() {
        if done[i] {
            continue;
        }
        let doc = file.document(contexts[i].record.doc);
        let w = window_of(doc.len(), window, contexts[i].record.pos as usize);
        let group: Vec<usize> = (i..contexts.len())
            .filter(|&j| {
                contexts[j].record.doc == contexts[i].record.doc
                    && window_of(doc.len(), window, contexts[j].record.pos as usize) == w
            })
            .collect();
        let end =
            group.iter().map(|&j| contexts[j].start + contexts[j].tokens.len()).max().unwrap_or(w.start).min(w.end);
        let m = RefCell::new(Vec::new());
        let got = Cell::new(false);
        let mut sink = |l: usize, captures: Captures<Vec<f32>>| {
            if l == layer {
                *m.borrow_mut() = captures.take(Hook::MlpM);
                got.set(true);
            }
            Ok(())
        };
        let keep_going = || !got.get() && !cancel.load(Ordering::Relaxed);
        let mut cache = model.new_cache();
        match model.forward_layers(
            &doc[w.start..end],
            cache.as_mut(),
            &Interventions::default(),
            &keep_going,
            &mut sink,
        ) {
            Ok(_) => {}
            Err(EngineError::Cancelled) if got.get() => {}
            Err(e) => return Err(e),
        }
        let m = m.into_inner();
        for &j in &group {
            let c = &contexts[j];
            for (k, value) in out[j].iter_mut().enumerate() {
                let p = c.start + k;
                if (w.start..end).contains(&p) {
                    *value = m[(p - w.start) * d_ff + neuron.index as usize];
                }
            }
            done[j] = true;
        }
    }
    Ok(out)
}
