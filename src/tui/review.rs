//! Review mode: spot-checking labels one at a time from a queue (one source and/or one concept,
//! unchecked first). Plain state; the reducer in `app/review.rs` drives it and the label thread
//! commits.
use std::collections::HashMap;

use crate::engine::neuron::NeuronId;
use crate::science::labels::agreement::{human_agreement, HumanAgreement};
use crate::science::labels::label::{Label, NewVerdict, Verdict, VerdictKind};
use crate::science::labels::score::Score;
use crate::science::labels::store::{Answers, QueueItem};

/// One label of the queue and what became of it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReviewItem {
    pub label: Label,
    /// The current verdict on its (neuron, concept) pair, as committed.
    pub verdict: Option<Verdict>,
    /// A verdict sent to the store and not yet acknowledged.
    pub saving: Option<VerdictKind>,
    /// The label's scores, by scorer.
    pub scores: Vec<Score>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Review {
    pub source: Option<String>,
    pub concept: Option<String>,
    /// Which of the source's answers the queue holds.
    pub answers: Answers,
    /// None until the store answers.
    pub items: Option<Vec<ReviewItem>>,
    pub at: usize,
    /// A note typed for the current item, sent with its next verdict.
    pub note: Option<String>,
    /// Agreement of the queue's labels with their current verdicts.
    pub agreement: HumanAgreement,
}

impl Review {
    pub fn new(source: Option<String>, concept: Option<String>, answers: Answers) -> Review {
        Review { source, concept, answers, items: None, at: 0, note: None, agreement: HumanAgreement::default() }
    }

    /// What the queue is over, for titles: `source gpt-4 · concept add · said yes`.
    pub fn describe(&self) -> String {
        let said = match self.answers {
            Answers::Both => "said yes or no",
            Answers::Yes => "said yes",
            Answers::No => "said no",
        };
        format!(
            "source {} · concept {} · {said}",
            self.source.as_deref().unwrap_or("any"),
            self.concept.as_deref().unwrap_or("any")
        )
    }

    pub fn fill(&mut self, items: Vec<QueueItem>) {
        self.items = Some(
            items
                .into_iter()
                .map(|q| ReviewItem { label: q.label, verdict: q.verdict, saving: None, scores: q.scores })
                .collect(),
        );
        self.at = 0;
        self.note = None;
        self.recount();
    }

    pub fn current(&self) -> Option<&ReviewItem> {
        self.items.as_ref()?.get(self.at)
    }

    pub fn len(&self) -> usize {
        self.items.as_ref().map_or(0, Vec::len)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn unchecked(&self) -> usize {
        self.items.iter().flatten().filter(|i| i.verdict.is_none()).count()
    }

    /// Moves by `by` items, dropping the note typed for the item left.
    pub fn step(&mut self, by: isize) {
        let last = self.len().saturating_sub(1) as isize;
        let at = (self.at as isize + by).clamp(0, last) as usize;
        if at != self.at {
            self.note = None;
        }
        self.at = at;
    }

    /// The verdict `kind` (and correction) on the current item, with its note; marks it as being
    /// saved and moves to the next item. None when the queue is empty.
    pub fn judge(&mut self, kind: VerdictKind, corrected: Option<String>) -> Option<NewVerdict> {
        let at = self.at;
        let note = self.note.take();
        let item = self.items.as_mut()?.get_mut(at)?;
        item.saving = Some(kind);
        let verdict = NewVerdict {
            neuron: item.label.neuron,
            concept: item.label.concept.clone(),
            verdict: kind,
            note,
            corrected,
        };
        self.step(1);
        Some(verdict)
    }

    /// The store committed `verdict`: every item of its pair shows it, and the counts follow.
    pub fn saved(&mut self, verdict: &Verdict) {
        for item in self.items.iter_mut().flatten().filter(|i| same_pair(i, verdict.neuron, &verdict.concept)) {
            item.verdict = Some(verdict.clone());
            item.saving = None;
        }
        self.recount();
    }

    /// The store refused `verdict`: its items are no longer shown as saving.
    pub fn not_saved(&mut self, verdict: &NewVerdict) {
        for item in self.items.iter_mut().flatten().filter(|i| same_pair(i, verdict.neuron, &verdict.concept)) {
            item.saving = None;
        }
    }

    fn recount(&mut self) {
        let items = self.items.as_deref().unwrap_or(&[]);
        let labels: Vec<Label> = items.iter().map(|i| i.label.clone()).collect();
        let current: HashMap<(NeuronId, String), Verdict> = items
            .iter()
            .filter_map(|i| i.verdict.clone().map(|v| ((i.label.neuron, i.label.concept.clone()), v)))
            .collect();
        self.agreement = human_agreement(&labels, &current);
    }
}

fn same_pair(item: &ReviewItem, neuron: NeuronId, concept: &str) -> bool {
    item.label.neuron == neuron && item.label.concept == concept
}
