//! Neurons by what they fire on: those whose top exemplars sit on a given token, ranked by their
//! activation there in units of the layer's scale.
use serde::Serialize;

use super::file::ExemplarFile;
use super::Record;
use crate::engine::neuron::NeuronId;

/// A neuron whose top exemplars fire on the token searched for.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Activates {
    pub neuron: NeuronId,
    /// Its top exemplars on the token, of `of`.
    pub matches: usize,
    pub of: usize,
    /// The highest of those m, over the layer's scale.
    pub normalised: f32,
    /// That exemplar.
    pub best: Record,
}

/// Neurons whose top-m exemplars sit on a token `is_token` accepts, best first (ties: by
/// neuron). `is_token` gets token ids.
pub fn activates(file: &ExemplarFile, is_token: &dyn Fn(u32) -> bool) -> Vec<Activates> {
    let h = file.header();
    let (layers, d_ff) = (h.model.layers, h.model.d_ff);
    let scales = file.layer_scales();
    let documents = file.documents();
    let kept = file.all_top();
    let mut found = Vec::new();
    for layer in 0..layers {
        for index in 0..d_ff {
            let neuron = NeuronId { layer: layer as u32, index: index as u32 };
            let top = &kept[layer * d_ff + index];
            let on: Vec<&Record> =
                top.iter().filter(|r| is_token(documents.get(r.doc as usize)[r.pos as usize])).collect();
            if let Some(best) = on.iter().max_by(|a, b| a.m.total_cmp(&b.m)) {
                found.push(Activates {
                    neuron,
                    matches: on.len(),
                    of: top.len(),
                    normalised: best.m / scales[layer],
                    best: **best,
                });
            }
        }
    }
    found.sort_by(|a, b| b.normalised.total_cmp(&a.normalised).then(a.neuron.cmp(&b.neuron)));
    found
}
