//! The pass over the corpus: every document run whole (in windows when longer than one pass),
//! every neuron's state filled in, checkpointed as it goes so that a stopped build resumes at the
//! window after the last checkpoint.
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rayon::prelude::*;

use super::collect::{Calibration, Collector, LayerRows};
use super::corpus::Corpus;
use super::error::{ExemplarError, Result};
use super::file::{self, ConceptSeeds, CorpusInfo, Documents, ExemplarFile, Header, ModelIdentity, ShardOf};
use super::seeds;
use super::windows::windows;
use super::Settings;
use crate::engine::hook::Hook;
use crate::engine::intervention::Interventions;
use crate::engine::runtime::Model;
use crate::engine::session::Control;
use crate::engine::tokenizer::Tokenizer;
use crate::science::labels::lexical;

/// The bins' scale comes from the corpus's first 1% of tokens, and at least this many.
const MIN_CALIBRATION_TOKENS: usize = 2048;
/// Time between checkpoints.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(60);

/// What to build.
pub struct Plan<'a> {
    pub corpus: &'a Corpus,
    /// The JSONL field read, for the record.
    pub field: Option<String>,
    pub settings: Settings,
    pub shard: ShardOf,
    pub concepts: Vec<ConceptSeeds>,
    /// The finished file; a partial one sits beside it until then.
    pub out: PathBuf,
    /// Start over even if a partial file is there.
    pub restart: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Built {
        path: PathBuf,
        positions: u64,
    },
    /// The same build was already finished.
    AlreadyBuilt(PathBuf),
    /// Stopped when asked; the partial file holds what was done (none when it stopped before
    /// the bins' scale was fixed).
    Stopped {
        partial: Option<PathBuf>,
    },
}

/// The partial file of a build whose finished file is `out`.
pub fn partial_path(out: &Path) -> PathBuf {
    out.with_extension("partial.safetensors")
}

/// The corpus tokenized and cut to `max_tokens`, and each document's first token id.
fn tokenize(corpus: &Corpus, tokenizer: &Tokenizer, max_tokens: Option<usize>) -> Result<Documents> {
    // Documents are tokenized a batch at a time, in parallel, and no further than the cut.
    const BATCH: usize = 256;
    let mut docs = Documents { tokens: Vec::new(), offsets: vec![0], origins: Vec::new() };
    let budget = max_tokens.unwrap_or(usize::MAX);
    for (b, batch) in corpus.documents.chunks(BATCH).enumerate() {
        if docs.tokens.len() >= budget {
            break;
        }
        let encoded: Vec<Vec<u32>> = batch
            .par_iter()
            .enumerate()
            .map(|(i, d)| {
                let origin = || corpus.origin(b * BATCH + i);
                tokenizer.encode(&d.text).map_err(|e| ExemplarError::Invalid(format!("{}: {e}", origin())))
            })
            .collect::<Result<_>>()?;
        for (tokens, d) in encoded.iter().zip(batch) {
            let room = budget - docs.tokens.len();
            if room == 0 {
                return Ok(docs);
            }
            docs.tokens.extend_from_slice(&tokens[..tokens.len().min(room)]);
            docs.offsets.push(docs.tokens.len() as u64);
            docs.origins.push((d.source as u32, d.line as u32));
        }
    }
    Ok(docs)
}

/// Runs the build `plan` describes (see the module's documentation). `progress` gets (positions
/// done, positions of this shard) and a phase; `control.cancel` stops it at the next window.
pub fn build(
    model: &dyn Model,
    tokenizer: &Tokenizer,
    identity: ModelIdentity,
    plan: &Plan,
    control: Control,
    progress: &dyn Fn(Phase, u64, u64),
) -> Result<Outcome> {
    let config = model.config();
    let mut settings = plan.settings;
    settings.window = settings.window.min(config.context_length).max(2);
    let documents = tokenize(plan.corpus, tokenizer, settings.max_tokens)?;
    let bos = tokenizer.bos_id();
    let positions_of = |d: usize| documents.get(d).iter().filter(|&&t| Some(t) != bos).count() as u64;
    let mine = |d: usize| d % plan.shard.count == plan.shard.index;
    let total: u64 = (0..documents.len()).filter(|&d| mine(d)).map(positions_of).sum();
    let calibration_tokens = (documents.tokens.len() / 100).max(MIN_CALIBRATION_TOKENS).min(documents.tokens.len());
    let header = Header {
        format: file::FORMAT,
        model: identity,
        corpus: CorpusInfo {
            sources: plan.corpus.sources.clone(),
            field: plan.field.clone(),
            hash: plan.corpus.hash(),
            documents: documents.len(),
            tokens: documents.tokens.len(),
            skipped: plan.corpus.skipped.len(),
        },
        settings,
        concepts: plan.concepts.clone(),
        calibration_tokens,
        shard: plan.shard,
        next_document: 0,
        next_window: 0,
        positions: 0,
        complete: false,
    };
    let partial = partial_path(&plan.out);
    if let Some(outcome) = finished_already(&plan.out, &header, plan.restart)? {
        return Ok(outcome);
    }
    let texts = lexical::token_texts(tokenizer, config.vocab_size.min(tokenizer.vocab_size()));
    let token_masks = seeds::token_masks(&texts, &plan.concepts);
    let runner = Runner { model, settings, bos, token_masks, control };

    let (mut header, mut state, mut next_window) = match resume(&partial, &header, plan.restart)? {
        Some(resumed) => resumed,
        None => {
            progress(Phase::Calibrating, 0, calibration_tokens as u64);
            let scales = runner.calibrate(&documents, calibration_tokens)?;
            if control.cancelled() {
                return Ok(Outcome::Stopped { partial: None });
            }
            let state =
                Collector::new(scales, config.intermediate_size, settings.top, settings.top_k, plan.concepts.len());
            (header, state, 0)
        }
    };
    let mut done: u64 = (0..header.next_document).filter(|&d| mine(d)).map(positions_of).sum::<u64>();
    let mut last_checkpoint = Instant::now();
    progress(Phase::Collecting, done, total);
    while header.next_document < documents.len() {
        let d = header.next_document;
        if !mine(d) {
            header.next_document += 1;
            continue;
        }
        let tokens = documents.get(d);
        let ws = windows(tokens.len(), settings.window);
        let seed_masks = seeds::position_masks(tokens, &runner.token_masks);
        while next_window < ws.len() {
            if control.cancelled() {
                let at = Header { positions: state.positions, next_window, ..header.clone() };
                file::write(&partial, &at, &documents, &state)?;
                return Ok(Outcome::Stopped { partial: Some(partial) });
            }
            let before = state.positions;
            runner.collect(&mut state, d as u32, tokens, &seed_masks, ws[next_window])?;
            done += state.positions - before;
            next_window += 1;
            progress(Phase::Collecting, done, total);
        }
        header.next_document += 1;
        next_window = 0;
        if last_checkpoint.elapsed() >= CHECKPOINT_EVERY {
            header.positions = state.positions;
            file::write(&partial, &header, &documents, &state)?;
            last_checkpoint = Instant::now();
        }
    }
    header.positions = state.positions;
    header.complete = true;
    file::write(&plan.out, &header, &documents, &state)?;
    let _ = std::fs::remove_file(&partial);
    Ok(Outcome::Built { path: plan.out.clone(), positions: state.positions })
}

/// What a build is doing, for progress reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Running the corpus's first tokens to fix the bins' scale.
    Calibrating,
    Collecting,
}

/// The outcome when `out` already holds this build; an error when it holds the same build of a
/// different corpus.
fn finished_already(out: &Path, want: &Header, restart: bool) -> Result<Option<Outcome>> {
    if restart || !out.is_file() {
        return Ok(None);
    }
    let existing = ExemplarFile::open(out)?;
    let have = existing.header();
    if have.corpus.hash != want.corpus.hash {
        return Err(changed(out, have, want));
    }
    Ok(same_build(have, want).then(|| Outcome::AlreadyBuilt(out.to_path_buf())))
}

fn changed(path: &Path, have: &Header, want: &Header) -> ExemplarError {
    ExemplarError::bad_file(
        path,
        format!(
            "was built from a corpus that has since changed ({} then, {} now; documents {} then, {} now); \
             pass --restart to build it again",
            &have.corpus.hash[..12],
            &want.corpus.hash[..12],
            have.corpus.documents,
            want.corpus.documents
        ),
    )
}

/// Whether two headers describe the same build (whatever its progress).
fn same_build(a: &Header, b: &Header) -> bool {
    a.model == b.model
        && a.corpus == b.corpus
        && a.settings == b.settings
        && a.concepts == b.concepts
        && a.shard == b.shard
        && a.calibration_tokens == b.calibration_tokens
}

/// The state of a partial build to go on with, if there is one.
fn resume(partial: &Path, want: &Header, restart: bool) -> Result<Option<(Header, Collector, usize)>> {
    if restart || !partial.is_file() {
        return Ok(None);
    }
    let file = ExemplarFile::open(partial)?;
    let have = file.header().clone();
    if have.corpus.hash != want.corpus.hash {
        return Err(changed(partial, &have, want));
    }
    if !same_build(&have, want) {
        return Err(ExemplarError::bad_file(
            partial,
            "is a partial build with other settings or another model; pass --restart to start over",
        ));
    }
    let (_, state) = file.load()?;
    let window = have.next_window;
    let mut header = have;
    header.next_window = 0;
    Ok(Some((header, state, window)))
}

struct Runner<'a> {
    model: &'a dyn Model,
    settings: Settings,
    bos: Option<u32>,
    token_masks: Vec<u64>,
    control: Control<'a>,
}

impl Runner<'_> {
    /// Runs `tokens[window]` and hands each layer's m to `each(layer, m [rows, d_ff])`.
    fn run(&self, tokens: &[u32], window: super::windows::Window, each: &mut dyn FnMut(usize, &[f32])) -> Result<()> {
        let mut cache = self.model.new_cache();
        let mut sink = |layer: usize, captures: crate::engine::hook::Captures<Vec<f32>>| {
            each(layer, &captures.take(Hook::MlpM));
            Ok(())
        };
        // A window runs to its end: stopping between layers would leave the state half-updated.
        self.model.forward_layers(
            &tokens[window.tokens()],
            cache.as_mut(),
            &Interventions::default(),
            &|| true,
            &mut sink,
        )?;
        Ok(())
    }

    fn skip(&self, tokens: &[u32]) -> Vec<bool> {
        tokens.iter().map(|&t| Some(t) == self.bos).collect()
    }

    /// The layers' scales from the corpus's first `count` tokens.
    fn calibrate(&self, documents: &Documents, count: usize) -> Result<Vec<f32>> {
        let config = self.model.config();
        let d_ff = config.intermediate_size;
        let mut calibration = Calibration::new(config.num_layers);
        let mut seen = 0;
        for d in 0..documents.len() {
            if seen >= count || self.control.cancelled() {
                break;
            }
            let tokens = documents.get(d);
            for w in windows(tokens.len(), self.settings.window) {
                let skip = self.skip(&tokens[w.counted()]);
                let rows = w.counted_from - w.start..w.end - w.start;
                self.run(tokens, w, &mut |layer, m| {
                    for (r, &skipped) in rows.clone().zip(&skip) {
                        if !skipped {
                            calibration.add(layer, &m[r * d_ff..(r + 1) * d_ff]);
                        }
                    }
                })?;
                seen += w.end - w.counted_from;
            }
        }
        Ok(calibration.scales())
    }

    /// Adds the counted positions of one window of document `doc` to `state`; `seed_masks` is
    /// the document's [`seeds::position_masks`].
    fn collect(
        &self,
        state: &mut Collector,
        doc: u32,
        tokens: &[u32],
        seed_masks: &[u64],
        w: super::windows::Window,
    ) -> Result<()> {
        let seeds = &seed_masks[w.counted()];
        let skip = self.skip(&tokens[w.counted()]);
        let norms = self.model.value_norms();
        self.run(tokens, w, &mut |layer, m| {
            state.add(&LayerRows {
                layer,
                m,
                doc,
                first_pos: w.start as u32,
                counted: w.counted_from - w.start..w.end - w.start,
                skip: &skip,
                seeds,
                value_norms: &norms[layer],
            })
        })?;
        state.count_positions(&skip, seeds);
        Ok(())
    }
}
