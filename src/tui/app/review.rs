//! Review mode's part of the reducer: opening a review queue, verdicts and the notes and
//! corrections that go with them, and the label thread's answers.
use tui_textarea::{CursorMove, TextArea};

use super::App;
use crate::science::labels::label::VerdictKind;
use crate::science::labels::store::Answers;
use crate::tui::effect::Effect;
use crate::tui::label_worker::{LabelCmd, LabelMsg};
use crate::tui::modes::{LineKind, Overlay};
use crate::tui::review::Review;

impl App {
    /// Opens review mode over the labels from `source` of `concept` (None: any) whose source gave
    /// one of `answers`.
    pub(super) fn open_review(
        &mut self,
        source: Option<String>,
        concept: Option<String>,
        answers: Answers,
    ) -> Vec<Effect> {
        if self.model.is_none() {
            self.error("the model is still loading (labels are stored per model)");
            return Vec::new();
        }
        if matches!(self.modes.overlay, Some(Overlay::Help { .. })) {
            self.modes.overlay = None;
        }
        self.modes.open_review(Review::new(source.clone(), concept.clone(), answers));
        vec![Effect::Labels(LabelCmd::Queue { source, concept, answers })]
    }

    /// The same queue over the next choice of the source's answers: yes, no, both.
    pub(super) fn cycle_review_answers(&mut self) -> Vec<Effect> {
        let Some(review) = self.modes.review() else {
            self.error("the answers reviewed are chosen in review mode (R or :review)");
            return Vec::new();
        };
        let (source, concept, answers) = (review.source.clone(), review.concept.clone(), review.answers.next());
        self.say(format!("reviewing the labels the source said {answers} to…"));
        self.open_review(source, concept, answers)
    }

    /// A verdict on the label under review: sent to the store, shown as saving until it answers.
    pub(super) fn judge(&mut self, kind: VerdictKind, corrected: Option<String>) -> Vec<Effect> {
        let Some(review) = self.modes.review_mut() else {
            self.error("verdicts are given in review mode (R or :review)");
            return Vec::new();
        };
        match review.judge(kind, corrected) {
            Some(verdict) => {
                self.say(format!("saving {} {} {kind}…", verdict.neuron, verdict.concept));
                vec![Effect::Labels(LabelCmd::Record(verdict))]
            }
            None => {
                self.error("no label to review");
                Vec::new()
            }
        }
    }

    /// The line for the note of the next verdict (`kind` Note, holding the note so far) or the
    /// concept the reviewed neuron carries instead (Correct, holding the label's concept).
    pub(super) fn open_review_line(&mut self, kind: LineKind) {
        let Some(review) = self.modes.review() else {
            self.error("no label to review");
            return;
        };
        let Some(item) = review.current() else {
            self.error("no label to review");
            return;
        };
        let text = match kind {
            LineKind::Note => review.note.clone().unwrap_or_default(),
            _ => item.label.concept.clone(),
        };
        let mut line = TextArea::from([text]);
        line.move_cursor(CursorMove::End);
        self.modes.overlay = Some(Overlay::Line(kind, Box::new(line)));
    }

    /// Keeps `note` for the next verdict (an empty one clears it).
    pub(super) fn keep_note(&mut self, note: &str) {
        if let Some(review) = self.modes.review_mut() {
            review.note = (!note.is_empty()).then(|| note.to_string());
        }
        self.say(if note.is_empty() { "note cleared" } else { "note kept for the next verdict" });
    }

    /// An answer of the label thread.
    pub fn on_labels(&mut self, msg: LabelMsg) -> Vec<Effect> {
        let mut effects = Vec::new();
        match msg {
            LabelMsg::Loaded { labels, .. } => effects = self.on_store_labels(labels),
            LabelMsg::Added { added, labels } => effects = self.on_labels_added(added, labels),
            LabelMsg::NotAdded { error } => self.labels_not_added(error),
            LabelMsg::Queue { source, concept, answers, items } => {
                let review = self
                    .modes
                    .review_mut()
                    .filter(|r| r.source == source && r.concept == concept && r.answers == answers);
                if let Some(review) = review {
                    review.fill(items);
                    let (n, unchecked) = (review.len(), review.unchecked());
                    if n == 0 {
                        let what = review.describe();
                        self.error(format!("no labels to review ({what})"));
                    } else {
                        self.say(format!("{n} labels to review, {unchecked} unchecked"));
                    }
                }
            }
            LabelMsg::Saved(verdict) => {
                if let Some(review) = self.modes.review_mut() {
                    review.saved(&verdict);
                }
                self.say(format!("saved {} {} {}", verdict.neuron, verdict.concept, verdict.verdict));
                self.labels.add_verdict(verdict);
            }
            LabelMsg::NotSaved { verdict, error } => {
                if let Some(review) = self.modes.review_mut() {
                    review.not_saved(&verdict);
                }
                self.error(format!("not saved: {} {} {}: {error}", verdict.neuron, verdict.concept, verdict.verdict));
            }
            LabelMsg::Reasoning { concepts, sources, neurons } => self.on_reasoning(concepts, sources, neurons),
            LabelMsg::Error(e) => self.error(e),
        }
        effects.extend(self.refresh());
        effects
    }
}
