//! The labels the explorer shows, as plain data. The label store fills this map; the explorer only
//! reads it, so panes, filters and exports work the same with or without a store behind it.
use std::collections::HashMap;

use serde::Serialize;

use crate::engine::neuron::NeuronId;

/// A concept label of a neuron and who gave it (`lexical`, a model name, `user`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LabelView {
    pub concept: String,
    pub source: String,
}

/// Labels of the current model's neurons.
#[derive(Debug, Clone, Default)]
pub struct Labels {
    by_neuron: HashMap<NeuronId, Vec<LabelView>>,
}

impl Labels {
    pub fn new(by_neuron: HashMap<NeuronId, Vec<LabelView>>) -> Labels {
        Labels { by_neuron }
    }

    pub fn of(&self, neuron: NeuronId) -> &[LabelView] {
        self.by_neuron.get(&neuron).map_or(&[], |v| v.as_slice())
    }

    /// The labels' concepts joined for a narrow column: `add, sum`.
    pub fn short(&self, neuron: NeuronId) -> String {
        self.of(neuron).iter().map(|l| l.concept.as_str()).collect::<Vec<_>>().join(", ")
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
