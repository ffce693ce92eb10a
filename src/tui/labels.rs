//! The labels the explorer shows, as plain data. The label thread fills this from the store; the
//! explorer only reads it, so panes, filters and exports work the same with or without a store.
use std::collections::HashMap;

use serde::Serialize;

use crate::engine::neuron::NeuronId;
use crate::science::labels::label::{Label, Verdict};

/// A concept label of a neuron and who gave it (`lexicon`, a model name, an imported source).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LabelView {
    pub concept: String,
    pub source: String,
    /// The tokens the source was shown.
    pub evidence: Vec<String>,
    /// The source's raw answer; empty for the lexicon.
    pub answer: String,
}

impl From<Label> for LabelView {
    fn from(l: Label) -> LabelView {
        LabelView { concept: l.concept, source: l.source, evidence: l.evidence, answer: l.answer }
    }
}

/// Labels of the current model's neurons, and the verdicts people gave on them.
#[derive(Debug, Clone, Default)]
pub struct Labels {
    by_neuron: HashMap<NeuronId, Vec<LabelView>>,
    /// Oldest first, per neuron.
    verdicts: HashMap<NeuronId, Vec<Verdict>>,
}

impl Labels {
    pub fn new(by_neuron: HashMap<NeuronId, Vec<LabelView>>) -> Labels {
        Labels { by_neuron, verdicts: HashMap::new() }
    }

    /// What the store holds: only labels whose source said yes (a "No" answer is no label), and
    /// every verdict.
    pub fn from_store(labels: impl IntoIterator<Item = Label>, verdicts: impl IntoIterator<Item = Verdict>) -> Labels {
        let mut out = Labels::default();
        for label in labels.into_iter().filter(|l| l.applies) {
            out.by_neuron.entry(label.neuron).or_default().push(label.into());
        }
        for verdict in verdicts {
            out.add_verdict(verdict);
        }
        out
    }

    /// A verdict committed to the store.
    pub fn add_verdict(&mut self, verdict: Verdict) {
        let list = self.verdicts.entry(verdict.neuron).or_default();
        let at = list.partition_point(|v| v.id < verdict.id);
        list.insert(at, verdict);
    }

    pub fn of(&self, neuron: NeuronId) -> &[LabelView] {
        self.by_neuron.get(&neuron).map_or(&[], |v| v.as_slice())
    }

    pub fn verdicts_of(&self, neuron: NeuronId) -> &[Verdict] {
        self.verdicts.get(&neuron).map_or(&[], |v| v.as_slice())
    }

    /// Labelled neurons.
    pub fn len(&self) -> usize {
        self.by_neuron.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_neuron.is_empty()
    }

    /// Every source of a label, sorted.
    pub fn sources(&self) -> Vec<String> {
        let all: std::collections::BTreeSet<&str> =
            self.by_neuron.values().flatten().map(|l| l.source.as_str()).collect();
        all.into_iter().map(String::from).collect()
    }

    /// Every source of a label with how many labels it gave (one per neuron and concept), sorted
    /// by source.
    pub fn counts(&self) -> Vec<(String, usize)> {
        let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
        for l in self.by_neuron.values().flatten() {
            *counts.entry(l.source.as_str()).or_default() += 1;
        }
        counts.into_iter().map(|(s, n)| (s.to_string(), n)).collect()
    }

    /// The labels' concepts joined for a narrow column: `add, sum`.
    pub fn short(&self, neuron: NeuronId) -> String {
        self.of(neuron).iter().map(|l| l.concept.as_str()).collect::<Vec<_>>().join(", ")
    }

    /// Concepts with their sources for a wider column, each source named once after its concepts:
    /// `add (lexicon), add:result_8mod10, add:op1_3mod10 (heuristic-match)`. A source that labels a
    /// neuron with many concepts (one per matched heuristic) would otherwise push every concept but
    /// the first out of a narrow column.
    pub fn with_sources(&self, neuron: NeuronId) -> String {
        let mut sources: Vec<(&str, Vec<&str>)> = Vec::new();
        for l in self.of(neuron) {
            match sources.iter_mut().find(|(s, _)| *s == l.source) {
                Some((_, concepts)) => concepts.push(&l.concept),
                None => sources.push((&l.source, vec![&l.concept])),
            }
        }
        sources.iter().map(|(s, concepts)| format!("{} ({s})", concepts.join(", "))).collect::<Vec<_>>().join(", ")
    }
}

/// Which labelled neurons a pane shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelFilter {
    /// Only neurons with a label of this concept.
    pub concept: Option<String>,
    /// Only neurons with a label from this source.
    pub source: Option<String>,
}

impl LabelFilter {
    pub fn is_empty(&self) -> bool {
        self.concept.is_none() && self.source.is_none()
    }

    pub fn keeps(&self, labels: &Labels, neuron: NeuronId) -> bool {
        if self.is_empty() {
            return true;
        }
        labels.of(neuron).iter().any(|l| {
            self.concept.as_ref().is_none_or(|c| l.concept.eq_ignore_ascii_case(c))
                && self.source.as_ref().is_none_or(|s| l.source.eq_ignore_ascii_case(s))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(concept: &str, source: &str) -> LabelView {
        LabelView { concept: concept.into(), source: source.into(), ..LabelView::default() }
    }

    #[test]
    fn each_source_is_named_once_after_its_concepts() {
        let n = NeuronId { layer: 3, index: 7 };
        let labels = Labels::new(HashMap::from([(
            n,
            vec![
                view("add:result_8mod10", "heuristic-match"),
                view("add", "lexicon"),
                view("add:op1_3mod10", "heuristic-match"),
            ],
        )]));
        assert_eq!(labels.with_sources(n), "add:result_8mod10, add:op1_3mod10 (heuristic-match), add (lexicon)");
        assert_eq!(labels.short(n), "add:result_8mod10, add, add:op1_3mod10");
        assert_eq!(labels.with_sources(NeuronId { layer: 0, index: 0 }), "");
        assert_eq!(labels.counts(), [("heuristic-match".to_string(), 2), ("lexicon".to_string(), 1)]);
    }
}
