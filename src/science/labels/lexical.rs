//! The method's lexical pre-filter: a neuron is a candidate for a concept when at least two of its
//! 20 promoted tokens, stripped and lower-cased, equal one of the concept's seed words. Run over
//! the whole-model index, it labels every neuron of a model in well under a second.
use std::collections::HashSet;
use std::ops::Range;

use rayon::prelude::*;

use super::concepts::Concepts;
use super::label::{NewLabel, LEXICON};
use crate::engine::neuron::NeuronId;
use crate::engine::tokenizer::Tokenizer;
use crate::science::vocab_index::VocabIndex;

/// Promoted tokens the method reads per neuron.
pub const TOKENS: usize = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LexicalSettings {
    /// Layers below this are skipped (the method skips 0-5).
    pub min_layer: usize,
    /// Promoted tokens that must equal a seed word; a token repeated after stripping (" so",
    /// "so") counts each time, as in the reference.
    pub min_matches: usize,
}

impl Default for LexicalSettings {
    fn default() -> Self {
        LexicalSettings { min_layer: 6, min_matches: 2 }
    }
}

/// Every token's text as the method compares it: decoded on its own (so SentencePiece's "▁" and
/// byte-level BPE's "Ġ" become the space they stand for), then stripped of surrounding whitespace.
/// `[vocab]`.
pub fn token_texts(tokenizer: &Tokenizer, vocab: usize) -> Vec<String> {
    token_texts_in(tokenizer, 0..vocab as u32)
}

/// [`token_texts`] of the tokens `ids`, for a caller that builds the list a piece at a time.
pub fn token_texts_in(tokenizer: &Tokenizer, ids: Range<u32>) -> Vec<String> {
    ids.into_par_iter().map(|id| tokenizer.decode(&[id]).trim().to_string()).collect()
}

/// The (neuron, concept) pairs that pass the pre-filter, by neuron then concept order, each with
/// the neuron's first `TOKENS` promoted tokens (stripped) as evidence. `texts` is
/// [`token_texts`] of the index's model.
pub fn prefilter(
    index: &VocabIndex,
    texts: &[String],
    concepts: &Concepts,
    settings: LexicalSettings,
) -> Vec<NewLabel> {
    // Per concept, the token ids whose text is a seed word: a set lookup per promoted token.
    let seed_ids: Vec<(&str, HashSet<u32>)> = concepts
        .iter()
        .map(|c| {
            let seeds: HashSet<String> = c.seeds.iter().map(|s| s.trim().to_lowercase()).collect();
            let ids = texts.iter().enumerate().filter(|(_, t)| seeds.contains(&t.to_lowercase()));
            (c.key.as_str(), ids.map(|(id, _)| id as u32).collect())
        })
        .collect();
    let neurons: Vec<NeuronId> = (settings.min_layer..index.n_layers)
        .flat_map(|layer| (0..index.d_ff).map(move |i| NeuronId { layer: layer as u32, index: i as u32 }))
        .collect();
    neurons
        .par_iter()
        .flat_map_iter(|&neuron| {
            let top: Vec<u32> = index.top(neuron).iter().take(TOKENS).map(|t| t.token).collect();
            let evidence = || top.iter().map(|&t| texts.get(t as usize).cloned().unwrap_or_default()).collect();
            seed_ids
                .iter()
                .filter(|(_, ids)| top.iter().filter(|t| ids.contains(t)).count() >= settings.min_matches)
                .map(|(key, _)| NewLabel {
                    neuron,
                    concept: key.to_string(),
                    source: LEXICON.into(),
                    applies: true,
                    evidence: evidence(),
                    answer: String::new(),
                })
                .collect::<Vec<_>>()
        })
        .collect()
}
