//! Activation maps over the operand grid: every selected neuron's coefficient m at the "=" token
//! (slot 0) and, optionally, at the teacher-forced answer tokens (slot s reads the row whose input
//! is the answer's token s), for every grid prompt; plus whether the model answers each prompt
//! correctly and the centred value logits that turn K maps into KV maps.
use half::f16;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::grid::GridSpec;
use super::prompts::GridPrompts;
pub use super::runner::Outcome;
use super::runner::{outcome, run_batches};
use crate::engine::error::{EngineError, Result};
use crate::engine::intervention::Interventions;
use crate::engine::runtime::Model;
use crate::engine::session::Control;
use crate::engine::tokenizer::Tokenizer;

/// What a set of maps is built from; with the model's fingerprint, it names the cached file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapSettings {
    pub spec: GridSpec,
    /// Text before every grid prompt (few-shot examples), computed once.
    pub prefix: String,
    /// Rows read per prompt: 1 reads "=" only; s > 0 adds the answer's first s tokens as inputs.
    pub slots: usize,
    /// Layers whose neurons are kept, ascending.
    pub layers: Vec<usize>,
}

/// The maps of one grid.
pub struct GridMaps {
    pub settings: MapSettings,
    pub d_ff: usize,
    /// m: `[slots, layers, d_ff, cells]`; NaN where a cell is illegal or has no such slot.
    pub(super) m: Vec<f16>,
    /// Per cell; `None` where illegal.
    pub outcomes: Vec<Option<Outcome>>,
    /// The token each slot's row should predict: `[slots, cells]`; `None` where there is none
    /// (illegal cells, and rows past the answer, which should predict its end).
    pub targets: Vec<Option<u32>>,
    /// Every token in `targets`, ascending.
    pub target_tokens: Vec<u32>,
    /// Centred value logits (see `Model::centred_value_logits`) for `target_tokens`:
    /// `[layers, d_ff, target_tokens]`.
    pub(super) value_logits: Vec<f32>,
}

impl GridMaps {
    /// Runs every legal grid prompt: the prefix once, then the prompts in batches of branches
    /// after it. Reports progress in prompts and stops when cancelled.
    pub fn build(
        model: &dyn Model,
        tokenizer: &Tokenizer,
        settings: MapSettings,
        control: Control,
    ) -> Result<GridMaps> {
        let config = model.config();
        if let Some(&bad) = settings.layers.iter().find(|&&l| l >= config.num_layers) {
            return Err(EngineError::Argument(format!("layer {bad} is past the model's {} layers", config.num_layers)));
        }
        if settings.slots == 0 {
            return Err(EngineError::Argument("at least one slot (the \"=\" token) is read".into()));
        }
        let prompts = GridPrompts::new(&settings.spec, &settings.prefix, tokenizer)?;
        let (cells, d_ff, n_layers) = (settings.spec.len(), config.intermediate_size, settings.layers.len());
        let mut maps = GridMaps {
            d_ff,
            m: vec![f16::NAN; settings.slots * n_layers * d_ff * cells],
            outcomes: vec![None; cells],
            targets: targets(&prompts, settings.slots),
            target_tokens: Vec::new(),
            value_logits: Vec::new(),
            settings,
        };
        let legal: Vec<usize> = (0..cells).filter(|&c| prompts.cells[c].is_some()).collect();
        let slots = maps.settings.slots;
        run_batches(model, &prompts, &legal, &Interventions::default(), control, |batch, out| {
            let mut slots_read = Vec::new();
            for (b, &c) in batch.iter().enumerate() {
                let row = out.first_read[b];
                maps.outcomes[c] = Some(outcome(out.answer(&prompts, c), &out.predicted[b], tokenizer));
                slots_read.extend((0..out.predicted[b].len().min(slots)).map(|s| (row + s, s, c)));
            }
            maps.store(&out.captured.m, out.reads, &slots_read, config.num_layers);
        })?;
        maps.target_tokens = maps.targets.iter().flatten().copied().collect();
        maps.target_tokens.sort_unstable();
        maps.target_tokens.dedup();
        maps.value_logits =
            maps.settings.layers.iter().flat_map(|&l| model.centred_value_logits(l, &maps.target_tokens)).collect();
        Ok(maps)
    }

    /// Copies m of the kept layers at the read rows `(row, slot, cell)` out of a batch's capture
    /// `[all layers, reads, d_ff]`.
    fn store(&mut self, m: &[f32], reads: usize, rows: &[(usize, usize, usize)], all_layers: usize) {
        debug_assert_eq!(m.len(), all_layers * reads * self.d_ff);
        let (d_ff, cells, n_layers) = (self.d_ff, self.settings.spec.len(), self.settings.layers.len());
        let layers = &self.settings.layers;
        // One chunk per (slot, layer): `[d_ff, cells]`, written in parallel.
        self.m.par_chunks_mut(d_ff * cells).enumerate().for_each(|(sl, chunk)| {
            let (slot, li) = (sl / n_layers, sl % n_layers);
            let layer = layers[li];
            for &(row, _, cell) in rows.iter().filter(|r| r.1 == slot) {
                let src = &m[(layer * reads + row) * d_ff..][..d_ff];
                for (j, &x) in src.iter().enumerate() {
                    chunk[j * cells + cell] = f16::from_f32(x);
                }
            }
        });
    }

    /// Position of `layer` among the kept layers.
    pub fn layer_position(&self, layer: usize) -> Option<usize> {
        self.settings.layers.iter().position(|&l| l == layer)
    }

    /// The K map of a neuron at a slot: m per cell, NaN where illegal. `None` when the layer or
    /// slot was not kept.
    pub fn k_map(&self, slot: usize, layer: usize, neuron: usize) -> Option<Vec<f32>> {
        let li = self.layer_position(layer)?;
        if slot >= self.settings.slots || neuron >= self.d_ff {
            return None;
        }
        let cells = self.settings.spec.len();
        let at = ((slot * self.settings.layers.len() + li) * self.d_ff + neuron) * cells;
        Some(self.m[at..at + cells].iter().map(|x| x.to_f32()).collect())
    }

    /// The KV map: K times the neuron's centred logit of the token each cell's row should
    /// predict; NaN where there is no such token.
    pub fn kv_map(&self, slot: usize, layer: usize, neuron: usize) -> Option<Vec<f32>> {
        let k = self.k_map(slot, layer, neuron)?;
        let logits = self.value_logit_row(layer, neuron)?;
        let cells = self.settings.spec.len();
        Some(
            k.iter()
                .zip(&self.targets[slot * cells..][..cells])
                .map(|(&m, t)| match t {
                    Some(t) => m * logits[self.target_tokens.binary_search(t).expect("targets are listed")],
                    None => f32::NAN,
                })
                .collect(),
        )
    }

    /// The centred logits of a neuron's value vector for the target tokens, as (token, logit).
    pub fn target_logits(&self, layer: usize, neuron: usize) -> Option<Vec<(u32, f32)>> {
        let logits = self.value_logit_row(layer, neuron)?;
        Some(self.target_tokens.iter().copied().zip(logits.iter().copied()).collect())
    }

    /// A neuron's centred value logits, one per target token: `[target_tokens]`.
    fn value_logit_row(&self, layer: usize, neuron: usize) -> Option<&[f32]> {
        let li = self.layer_position(layer)?;
        let n = self.target_tokens.len();
        (neuron < self.d_ff).then(|| &self.value_logits[(li * self.d_ff + neuron) * n..][..n])
    }

    /// Legal cells the model answers correctly.
    pub fn correct_cells(&self) -> Vec<usize> {
        (0..self.outcomes.len()).filter(|&c| self.outcomes[c].as_ref().is_some_and(|o| o.correct)).collect()
    }

    /// Share of legal cells answered correctly.
    pub fn accuracy(&self) -> f64 {
        let legal = self.outcomes.iter().flatten().count();
        self.correct_cells().len() as f64 / legal.max(1) as f64
    }
}

fn targets(prompts: &GridPrompts, slots: usize) -> Vec<Option<u32>> {
    (0..slots)
        .flat_map(|s| prompts.cells.iter().map(move |c| c.as_ref().and_then(|c| c.answer().get(s).copied())))
        .collect()
}
