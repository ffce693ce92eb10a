//! Running grid prompts: the prefix once, then the prompts in batches of branches after it, each
//! teacher-forced through its true answer so one pass shows whether the model gets it right.
use serde::{Deserialize, Serialize};

use super::prompts::GridPrompts;
use crate::engine::error::Result;
use crate::engine::intervention::Interventions;
use crate::engine::model::BranchCaptured;
use crate::engine::runtime::Model;
use crate::engine::session::Control;
use crate::engine::tokenizer::Tokenizer;

/// How the model answers one grid prompt, read from the teacher-forced pass.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// Every answer token is the argmax after the ones before it, and the next token is not a
    /// digit: what greedy decoding would write.
    pub correct: bool,
    /// The model's answer as far as the teacher-forced pass shows it: the true tokens up to the
    /// first wrong prediction, then that prediction, "…" where greedy decoding would go on.
    pub answer: String,
}

/// Prompts per batched forward pass: large enough for efficient matrix products.
pub const BATCH: usize = 64;

/// One batch's pass: what was captured and each prompt's argmax predictions.
pub(super) struct BatchOutput {
    pub captured: BranchCaptured,
    /// Rows read in all.
    pub reads: usize,
    /// Per prompt of the batch: the index of its first read row ("=").
    pub first_read: Vec<usize>,
    /// Per prompt: the argmax at each row from "=" on.
    pub predicted: Vec<Vec<u32>>,
}

impl BatchOutput {
    pub fn answer<'p>(&self, prompts: &'p GridPrompts, cell: usize) -> &'p [u32] {
        prompts.cells[cell].as_ref().expect("legal cells have prompts").answer()
    }
}

/// Runs the prompts of `cells` (legal ones) in batches of [`BATCH`] branches after the prefix,
/// which is computed once, under `interventions` everywhere; hands each batch to `each`.
/// Reports progress in prompts and stops when cancelled.
pub(super) fn run_batches(
    model: &dyn Model,
    prompts: &GridPrompts,
    cells: &[usize],
    interventions: &Interventions,
    control: Control,
    mut each: impl FnMut(&[usize], BatchOutput),
) -> Result<()> {
    let keep_going = || !control.cancelled();
    let mut cache = model.new_cache();
    if !prompts.prefix.is_empty() {
        model.forward(&prompts.prefix, cache.as_mut(), interventions, &keep_going)?;
    }
    for (done, batch) in cells.chunks(BATCH).enumerate() {
        control.report(done * BATCH, cells.len());
        let cell = |c: usize| prompts.cells[c].as_ref().expect("legal cells have prompts");
        let branches: Vec<Vec<u32>> = batch.iter().map(|&c| cell(c).tokens.clone()).collect();
        // Every row from "=" on: each predicts the next answer token, the last one the end.
        let reads: Vec<(usize, usize)> = batch
            .iter()
            .enumerate()
            .flat_map(|(b, &c)| (cell(c).equals..cell(c).tokens.len()).map(move |o| (b, o)))
            .collect();
        let captured = model.forward_branches(&branches, &reads, cache.as_mut(), interventions, &keep_going)?;
        let vocab = captured.logits.len() / reads.len();
        let (mut first_read, mut predicted, mut r) = (Vec::new(), Vec::new(), 0);
        for &c in batch {
            let rows = cell(c).tokens.len() - cell(c).equals;
            first_read.push(r);
            predicted.push((r..r + rows).map(|i| argmax(&captured.logits[i * vocab..][..vocab])).collect());
            r += rows;
        }
        each(batch, BatchOutput { captured, reads: reads.len(), first_read, predicted });
    }
    control.report(cells.len(), cells.len());
    Ok(())
}

/// How the model answers the prompts of `cells` under `interventions`, in the order given;
/// illegal cells are skipped. The prefix is recomputed under the interventions too.
pub fn outcomes(
    model: &dyn Model,
    tokenizer: &Tokenizer,
    prompts: &GridPrompts,
    cells: &[usize],
    interventions: &Interventions,
    control: Control,
) -> Result<Vec<(usize, Outcome)>> {
    let legal: Vec<usize> =
        cells.iter().copied().filter(|&c| prompts.cells.get(c).is_some_and(Option::is_some)).collect();
    let mut found = Vec::with_capacity(legal.len());
    run_batches(model, prompts, &legal, interventions, control, |batch, out| {
        for (b, &c) in batch.iter().enumerate() {
            found.push((c, outcome(out.answer(prompts, c), &out.predicted[b], tokenizer)));
        }
    })?;
    Ok(found)
}

fn argmax(row: &[f32]) -> u32 {
    row.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map_or(0, |(i, _)| i as u32)
}

/// Reads the teacher-forced predictions: `predicted[i]` follows the first i answer tokens, and
/// the last one follows the whole answer.
pub fn outcome(answer: &[u32], predicted: &[u32], tokenizer: &Tokenizer) -> Outcome {
    let continues = |id: u32| tokenizer.decode(&[id]).trim_start().starts_with(|c: char| c.is_ascii_digit());
    let wrong = answer.iter().zip(predicted).position(|(a, p)| a != p);
    let k = wrong.unwrap_or(answer.len());
    let last = predicted[k];
    if wrong.is_none() && !continues(last) {
        return Outcome { correct: true, answer: tokenizer.decode(answer) };
    }
    let mut ids = answer[..k].to_vec();
    ids.push(last);
    let more = if continues(last) { "…" } else { "" };
    Outcome { correct: false, answer: format!("{}{more}", tokenizer.decode(&ids).trim_end()) }
}
