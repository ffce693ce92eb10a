//! Counting activations of reasoning neurons over a trace (docs/method.md §5): a reasoning neuron
//! is activated at a position iff it is in its layer's top-K there.
use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use crate::engine::neuron::{NeuronHit, NeuronId};
use crate::engine::trace::Trace;
use crate::science::labels::concepts::Concepts;
use crate::science::labels::label::Label;

/// The neurons counted, each with the concepts it carries (a neuron may carry several).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReasoningNeurons {
    concepts: BTreeMap<NeuronId, BTreeSet<String>>,
}

/// Which applying labels make a neuron a reasoning neuron: labels of the chosen concepts from the
/// chosen sources, as `neuronav compare --concept K --source S` and the explorer's compare mode
/// choose them.
///
/// An empty list of concepts means the method's seven ([`Concepts::built_in`]), not every
/// concept; an empty list of sources means every source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReasoningSelection {
    /// Concept keys; the method's seven when empty.
    pub concepts: Vec<String>,
    /// Label sources; every source when empty.
    pub sources: Vec<String>,
}

impl ReasoningSelection {
    /// The method's seven concepts, from every source.
    pub fn method_concepts() -> ReasoningSelection {
        ReasoningSelection::default()
    }

    /// The concepts counted, in the order they are reported.
    pub fn concept_keys(&self) -> Vec<String> {
        Concepts::chosen_or_built_in(&self.concepts)
    }

    /// `the method's concepts from every source`, `add,formula from lexicon`.
    pub fn describe(&self) -> String {
        let concepts =
            if self.concepts.is_empty() { "the method's concepts".to_string() } else { self.concepts.join(",") };
        let sources = if self.sources.is_empty() { "every source".to_string() } else { self.sources.join(",") };
        format!("{concepts} from {sources}")
    }
}

impl ReasoningNeurons {
    /// The neurons with an applying label that `selection` accepts.
    pub fn from_labels(labels: &HashMap<NeuronId, Vec<Label>>, selection: &ReasoningSelection) -> ReasoningNeurons {
        let keys = selection.concept_keys();
        let sources = &selection.sources;
        let accepts =
            |l: &Label| l.applies && keys.contains(&l.concept) && (sources.is_empty() || sources.contains(&l.source));
        let mut concepts: BTreeMap<NeuronId, BTreeSet<String>> = BTreeMap::new();
        for (&id, labels) in labels {
            for label in labels.iter().filter(|l| accepts(l)) {
                concepts.entry(id).or_default().insert(label.concept.clone());
            }
        }
        ReasoningNeurons { concepts }
    }

    pub fn from_pairs(pairs: impl IntoIterator<Item = (NeuronId, String)>) -> ReasoningNeurons {
        let mut concepts: BTreeMap<NeuronId, BTreeSet<String>> = BTreeMap::new();
        pairs.into_iter().for_each(|(id, c)| {
            concepts.entry(id).or_default().insert(c);
        });
        ReasoningNeurons { concepts }
    }

    pub fn len(&self) -> usize {
        self.concepts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.concepts.is_empty()
    }

    pub fn ids(&self) -> Vec<NeuronId> {
        self.concepts.keys().copied().collect()
    }

    /// The concepts of `id`, none when it is not a reasoning neuron.
    pub fn concepts_of(&self, id: NeuronId) -> Option<&BTreeSet<String>> {
        self.concepts.get(&id)
    }

    /// Every concept carried by some neuron, sorted.
    pub fn concept_keys(&self) -> BTreeSet<String> {
        self.concepts.values().flatten().cloned().collect()
    }
}

/// Hits and the sum of their scores.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Tally {
    pub hits: u64,
    /// Σ s over the hits (f64: sums over many samples stay exact enough to compare runs).
    pub sum_s: f64,
}

impl Tally {
    fn add_hit(&mut self, s: f32) {
        self.hits += 1;
        self.sum_s += s as f64;
    }

    pub fn add(&mut self, other: &Tally) {
        self.hits += other.hits;
        self.sum_s += other.sum_s;
    }

    /// The average coefficient: mean s over the hits (0 without hits).
    pub fn mean_s(&self) -> f64 {
        if self.hits == 0 {
            0.0
        } else {
            self.sum_s / self.hits as f64
        }
    }
}

/// Activations of reasoning neurons over some positions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Activations {
    /// Positions counted.
    pub positions: u64,
    /// Each (position, neuron) hit once.
    pub overall: Tally,
    /// A hit counts for every concept its neuron carries.
    pub per_concept: BTreeMap<String, Tally>,
    /// Hits by layer.
    pub per_layer: BTreeMap<u32, Tally>,
    /// Hits by neuron, kept under the neuron's name (`L21N7027`) in files.
    #[serde(with = "by_name")]
    pub per_neuron: BTreeMap<NeuronId, Tally>,
}

/// A map keyed by neuron, as a JSON object keyed by the neuron's name.
mod by_name {
    use std::collections::BTreeMap;

    use serde::{de::Error, Deserialize, Deserializer, Serialize, Serializer};

    use super::Tally;
    use crate::engine::neuron::NeuronId;

    pub fn serialize<S: Serializer>(map: &BTreeMap<NeuronId, Tally>, s: S) -> Result<S::Ok, S::Error> {
        let named: BTreeMap<String, &Tally> = map.iter().map(|(id, t)| (id.to_string(), t)).collect();
        named.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<NeuronId, Tally>, D::Error> {
        let named = BTreeMap::<String, Tally>::deserialize(d)?;
        named.into_iter().map(|(k, t)| Ok((k.parse::<NeuronId>().map_err(D::Error::custom)?, t))).collect()
    }
}

impl Activations {
    /// Counts the hits in the top-K lists `tops` (one `[n_layers][K]` per position).
    pub fn count<'a>(tops: impl IntoIterator<Item = &'a [Vec<NeuronHit>]>, neurons: &ReasoningNeurons) -> Activations {
        let mut a = Activations::default();
        for top in tops {
            a.positions += 1;
            for (layer, hits) in top.iter().enumerate() {
                for hit in hits {
                    let id = NeuronId { layer: layer as u32, index: hit.index };
                    let Some(concepts) = neurons.concepts_of(id) else { continue };
                    a.overall.add_hit(hit.s);
                    a.per_layer.entry(id.layer).or_default().add_hit(hit.s);
                    a.per_neuron.entry(id).or_default().add_hit(hit.s);
                    concepts.iter().for_each(|c| a.per_concept.entry(c.clone()).or_default().add_hit(hit.s));
                }
            }
        }
        a
    }

    /// Counts over `positions` of `trace`.
    pub fn of_trace(trace: &Trace, positions: std::ops::Range<usize>, neurons: &ReasoningNeurons) -> Activations {
        Activations::count(positions.map(|p| trace.position(p).top()), neurons)
    }

    /// Adds another count (of another sample).
    pub fn add(&mut self, other: &Activations) {
        self.positions += other.positions;
        self.overall.add(&other.overall);
        for (k, t) in &other.per_concept {
            self.per_concept.entry(k.clone()).or_default().add(t);
        }
        for (k, t) in &other.per_layer {
            self.per_layer.entry(*k).or_default().add(t);
        }
        for (k, t) in &other.per_neuron {
            self.per_neuron.entry(*k).or_default().add(t);
        }
    }

    /// Hits in layer `layer` (0 when none).
    pub fn layer_hits(&self, layer: u32) -> u64 {
        self.per_layer.get(&layer).map_or(0, |t| t.hits)
    }

    /// The neurons hit here and never in `other`.
    pub fn only_here(&self, other: &Activations) -> Vec<NeuronId> {
        self.per_neuron.keys().filter(|id| !other.per_neuron.contains_key(id)).copied().collect()
    }

    /// The tally of `concept` (zero when none of its neurons fired).
    pub fn concept(&self, concept: &str) -> Tally {
        self.per_concept.get(concept).copied().unwrap_or_default()
    }
}

/// The method's positions: the last prompt token and the `generated` tokens after it (the trace
/// must hold them). With 150 generated tokens and the last one never run, that is 149 positions.
pub fn method_positions(prompt_len: usize, generated: usize) -> std::ops::Range<usize> {
    prompt_len - 1..prompt_len + generated
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(index: u32, s: f32) -> NeuronHit {
        NeuronHit { index, m: -s, s }
    }

    #[test]
    fn counts_hits_of_reasoning_neurons_only_and_per_concept() {
        let id = |layer, index| NeuronId { layer, index };
        let neurons = ReasoningNeurons::from_pairs([
            (id(0, 1), "add".to_string()),
            (id(1, 2), "add".to_string()),
            (id(1, 2), "formula".to_string()),
        ]);
        // Two positions, two layers; neuron 1 of layer 1 and neuron 2 of layer 0 are not labelled.
        let p0 = [vec![hit(1, 2.0), hit(2, 9.0)], vec![hit(2, 1.0), hit(1, 5.0)]];
        let p1 = [vec![hit(3, 1.0)], vec![hit(2, 3.0)]];
        let a = Activations::count([&p0[..], &p1[..]], &neurons);
        assert_eq!(a.positions, 2);
        assert_eq!(a.overall, Tally { hits: 3, sum_s: 6.0 });
        assert_eq!(a.concept("add"), Tally { hits: 3, sum_s: 6.0 });
        assert_eq!(a.concept("formula"), Tally { hits: 2, sum_s: 4.0 });
        assert_eq!(a.concept("division"), Tally::default());
        assert_eq!(a.per_layer[&1], Tally { hits: 2, sum_s: 4.0 });
        assert_eq!(a.per_neuron[&id(0, 1)].hits, 1);
        assert_eq!(a.overall.mean_s(), 2.0);
        assert_eq!((a.layer_hits(0), a.layer_hits(1), a.layer_hits(2)), (1, 2, 0));
        let first = Activations::count([&p0[..]], &neurons);
        assert_eq!(first.only_here(&a), Vec::<NeuronId>::new());
        let second = Activations::count([&p1[..]], &neurons);
        assert_eq!(first.only_here(&second), vec![id(0, 1)]);
        let mut twice = a.clone();
        twice.add(&a);
        assert_eq!(twice.overall, Tally { hits: 6, sum_s: 12.0 });
        assert_eq!(twice.concept("formula").hits, 4);
        assert_eq!(twice.positions, 4);
    }

    #[test]
    fn an_empty_selection_means_the_methods_concepts_from_every_source() {
        let label = |neuron: &str, concept: &str, source: &str| Label {
            neuron: neuron.parse().unwrap(),
            concept: concept.into(),
            source: source.into(),
            applies: true,
            evidence: Vec::new(),
            answer: String::new(),
            time: String::new(),
        };
        let labels = HashMap::from([
            ("L0N1".parse().unwrap(), vec![label("L0N1", "add", "lexicon")]),
            ("L0N2".parse().unwrap(), vec![label("L0N2", "colour", "lexicon")]),
            ("L1N3".parse().unwrap(), vec![label("L1N3", "formula", "gpt")]),
        ]);
        let method = ReasoningSelection::method_concepts();
        assert_eq!(method.concept_keys(), Concepts::chosen_or_built_in(&[]));
        assert_eq!(method.describe(), "the method's concepts from every source");
        let ids = |s: &ReasoningSelection| ReasoningNeurons::from_labels(&labels, s).ids();
        let n = |s: &str| s.parse::<NeuronId>().unwrap();
        assert_eq!(ids(&method), [n("L0N1"), n("L1N3")], "colour is none of the method's concepts");
        let lexicon = ReasoningSelection { concepts: Vec::new(), sources: vec!["lexicon".into()] };
        assert_eq!(lexicon.concept_keys().len(), Concepts::built_in().keys().len());
        assert!(lexicon.describe().contains("from lexicon"));
        assert_eq!(ids(&lexicon), [n("L0N1")]);
        let colour = ReasoningSelection { concepts: vec!["colour".into()], sources: Vec::new() };
        assert_eq!(ids(&colour), [n("L0N2")]);
    }

    #[test]
    fn the_method_counts_the_last_prompt_token_and_each_generated_one() {
        assert_eq!(method_positions(10, 148), 9..158);
        assert_eq!(method_positions(10, 148).len(), 149);
    }
}
