//! A run of the model over one text: the prompt, the tokens generated so far, the KV cache and the
//! trace of every computed position. The TUI, the CLI and the tests all drive this API.
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::error::{EngineError, Result};
use super::intervention::Interventions;
use super::memory;
use super::neuron::NeuronHit;
use super::runtime::{Cache, Model};
use super::sampling::{top_tokens, Sampling};
use super::tokenizer::Tokenizer;
use super::trace::{self, Trace};

/// Prompts are run in chunks of this many positions: progress is reported per chunk, and memory
/// for the chunk's intermediates stays bounded. Chunks this large keep the matrix products
/// efficient (128-row chunks made a 912-token prefill ~1.5× slower). Cancellation is honoured
/// between layers.
const PREFILL_CHUNK: usize = 512;

/// How a long computation is observed and stopped.
#[derive(Default, Clone, Copy)]
pub struct Control<'a> {
    /// Set by another thread to stop the computation at the next layer.
    pub cancel: Option<&'a AtomicBool>,
    /// Called with (positions done, positions in total).
    pub progress: Option<&'a (dyn Fn(usize, usize) + Sync)>,
}

impl Control<'_> {
    /// Whether another thread asked to stop.
    pub fn cancelled(&self) -> bool {
        self.cancel.is_some_and(|c| c.load(Ordering::Relaxed))
    }
    /// Reports progress to the observer, if there is one.
    pub fn report(&self, done: usize, total: usize) {
        if let Some(p) = self.progress {
            p(done, total)
        }
    }
}

/// Settings of a session.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SessionSettings {
    /// Neurons kept per layer and position, ranked by score.
    pub top_k: usize,
    pub sampling: Sampling,
    /// Bytes the trace keeps in memory; its full vectors past them go to a file (see [`Trace`]).
    pub trace_memory: u64,
}

impl Default for SessionSettings {
    fn default() -> Self {
        SessionSettings { top_k: 20, sampling: Sampling::Greedy, trace_memory: trace::DEFAULT_BUDGET }
    }
}

/// A next-token candidate.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TokenProb {
    pub id: u32,
    pub logit: f32,
    pub prob: f32,
}

pub struct Session {
    model: Arc<dyn Model>,
    /// Absent for sessions driven by token ids alone (benchmarks on random weights).
    tokenizer: Option<Arc<Tokenizer>>,
    cache: Box<dyn Cache>,
    settings: SessionSettings,
    trace: Trace,
    prompt_len: usize,
    /// Applied to every forward pass from the next one on.
    interventions: Interventions,
}

impl Session {
    pub fn new(model: Arc<dyn Model>, tokenizer: Arc<Tokenizer>, settings: SessionSettings) -> Self {
        Self::with_tokenizer(model, Some(tokenizer), settings)
    }

    /// A session that runs token ids only.
    pub fn untokenized(model: Arc<dyn Model>, settings: SessionSettings) -> Self {
        Self::with_tokenizer(model, None, settings)
    }

    fn with_tokenizer(model: Arc<dyn Model>, tokenizer: Option<Arc<Tokenizer>>, settings: SessionSettings) -> Self {
        let cache = model.new_cache();
        let trace = Trace::new(model.config(), settings.trace_memory, std::env::temp_dir());
        Session { model, tokenizer, cache, settings, trace, prompt_len: 0, interventions: Interventions::default() }
    }

    /// Puts the trace's vectors past its budget in a file in `dir` (the system's temporary
    /// directory unless told; the CLI and the explorer use the cache directory, since a
    /// temporary directory may be held in memory).
    pub fn spill_to(mut self, dir: PathBuf) -> Self {
        self.trace = Trace::new(self.model.config(), self.settings.trace_memory, dir);
        self
    }

    pub fn model(&self) -> &Arc<dyn Model> {
        &self.model
    }

    pub fn tokenizer(&self) -> Option<&Arc<Tokenizer>> {
        self.tokenizer.as_ref()
    }

    pub fn settings(&self) -> SessionSettings {
        self.settings
    }

    /// Changes the sampling used by later steps.
    pub fn set_sampling(&mut self, sampling: Sampling) {
        self.settings.sampling = sampling;
    }

    /// Changes chosen neurons in later forward passes (ablation); positions already computed
    /// keep what they computed, so run the prompt again to see the effect on all of them.
    pub fn set_interventions(&mut self, interventions: Interventions) {
        self.interventions = interventions;
    }

    pub fn interventions(&self) -> &Interventions {
        &self.interventions
    }

    /// Changes K and re-ranks every position already computed (no forward pass needed). When
    /// the trace's spill file cannot be read, K and the lists stay as they were.
    pub fn set_top_k(&mut self, k: usize) -> Result<()> {
        self.trace.rerank(self.model.value_norms(), k)?;
        self.settings.top_k = k;
        Ok(())
    }

    /// Tokenizes `prompt` (adding BOS when the model's tokenizer does) and runs it.
    pub fn run_prompt(&mut self, prompt: &str, control: Control) -> Result<()> {
        let tokenizer =
            self.tokenizer.as_ref().ok_or_else(|| EngineError::NoTokenizer("this session has no tokenizer".into()))?;
        let ids = tokenizer.encode(prompt)?;
        self.run_ids(ids, control)
    }

    /// Forgets everything and runs `ids` as the prompt. On error or cancellation the session is
    /// left empty.
    pub fn run_ids(&mut self, ids: Vec<u32>, control: Control) -> Result<()> {
        self.reset();
        let context = self.model.config().context_length;
        if ids.is_empty() {
            return Err(EngineError::Argument("the prompt is empty".into()));
        }
        if ids.len() > context {
            return Err(EngineError::ContextOverflow { tokens: ids.len(), context });
        }
        self.check_memory(ids.len())?;
        let result = self.run_chunks(&ids, control);
        if result.is_err() {
            self.reset();
        }
        result?;
        self.prompt_len = ids.len();
        Ok(())
    }

    fn run_chunks(&mut self, ids: &[u32], control: Control) -> Result<()> {
        control.report(0, ids.len());
        for chunk in ids.chunks(PREFILL_CHUNK) {
            self.run(chunk, control)?;
            control.report(self.trace.len(), ids.len());
        }
        Ok(())
    }

    /// Runs `tokens` after the current positions and records their traces, layer by layer as
    /// the model computes them; on error or cancellation the trace and the cache stay as they
    /// were.
    fn run(&mut self, tokens: &[u32], control: Control) -> Result<()> {
        let keep_going = || !control.cancelled();
        let mut recording = self.trace.record(tokens.to_vec(), self.model.value_norms(), self.settings.top_k);
        let mut sink = |layer, captures| recording.layer(layer, captures);
        let logits =
            self.model.forward_layers(tokens, self.cache.as_mut(), &self.interventions, &keep_going, &mut sink)?;
        recording.finish(logits);
        Ok(())
    }

    /// Samples the next token from the last position's logits, runs it, and returns it.
    pub fn step(&mut self, control: Control) -> Result<u32> {
        let position = self.trace.len();
        let context = self.model.config().context_length;
        if position == 0 {
            return Err(EngineError::NotReady("run a prompt before stepping".into()));
        }
        if position >= context {
            return Err(EngineError::ContextOverflow { tokens: position + 1, context });
        }
        self.check_memory(1)?;
        let logits = self.trace.position(position - 1).logits().expect("the last position keeps its logits");
        let token = self.settings.sampling.choose(logits, position - 1);
        self.run(&[token], control)?;
        Ok(token)
    }

    /// Refuses to run `positions` more positions when the machine has too little memory left for
    /// them (see [`Session::memory_needed`]).
    fn check_memory(&self, positions: usize) -> Result<()> {
        let hint = format!(
            "the trace keeps up to {:.0} MiB in memory (--trace-memory) and the rest on disk; \
             a smaller --trace-memory or a shorter text needs less",
            self.trace.budget() as f64 / (1 << 20) as f64
        );
        memory::check(|| format!("running {positions} positions"), self.memory_needed(positions), &hint)
    }

    /// Host bytes that running `positions` more positions takes (see [`Model::run_memory`]): the
    /// trace's top-K lists and logits, its vectors as far as its budget keeps them in memory
    /// (the rest go to disk), the key/value cache and a pass's working memory.
    pub fn memory_needed(&self, positions: usize) -> u64 {
        let c = self.model.config();
        let pass = positions.min(PREFILL_CHUNK);
        let run = self.model.run_memory(positions, pass);
        let top = (positions * c.num_layers * self.settings.top_k * std::mem::size_of::<NeuronHit>()) as u64;
        let always = run.logits + top;
        let room = self.trace.budget().saturating_sub(self.trace.resident_bytes() + always);
        run.working + always + run.captures.min(room)
    }

    /// Takes back the last generated token. Returns false when there is none (the prompt stays).
    pub fn step_back(&mut self) -> bool {
        if self.trace.len() <= self.prompt_len {
            return false;
        }
        // Generated tokens are run one per forward pass, so this pops exactly one position.
        self.trace.pop();
        self.cache.truncate(self.trace.len());
        true
    }

    fn reset(&mut self) {
        self.trace.clear();
        self.cache.truncate(0);
        self.prompt_len = 0;
    }

    /// Token ids of all computed positions (prompt, then generated).
    pub fn tokens(&self) -> Vec<u32> {
        self.trace.tokens()
    }

    pub fn prompt_len(&self) -> usize {
        self.prompt_len
    }

    pub fn len(&self) -> usize {
        self.trace.len()
    }

    pub fn is_empty(&self) -> bool {
        self.trace.is_empty()
    }

    pub fn trace(&self) -> &Trace {
        &self.trace
    }

    /// The generated tokens decoded to text (empty without a tokenizer).
    pub fn generated_text(&self) -> String {
        self.tokenizer.as_ref().map_or_else(String::new, |t| t.decode(&self.tokens()[self.prompt_len..]))
    }

    /// The `n` most likely tokens to follow each of `positions`, from the stored logits or, where
    /// none were kept, from the last layer's residual stream (final norm and unembedding). An
    /// error only when the trace's spill file cannot be read.
    pub fn next_tokens(&self, positions: &[usize], n: usize) -> Result<Vec<Vec<TokenProb>>> {
        let last_layer = self.model.config().num_layers - 1;
        let missing: Vec<usize> =
            positions.iter().copied().filter(|&p| self.trace.position(p).logits().is_none()).collect();
        let mut resid = Vec::with_capacity(missing.len() * self.model.config().hidden_size);
        for &p in &missing {
            resid.extend_from_slice(&self.trace.position(p).resid_post(last_layer)?);
        }
        let lens = if missing.is_empty() { Vec::new() } else { self.model.logit_lens(&resid) };
        let vocab = self.model.config().vocab_size;
        let to_probs = |logits: &[f32]| {
            top_tokens(logits, n).into_iter().map(|(id, logit, prob)| TokenProb { id, logit, prob }).collect()
        };
        Ok(positions
            .iter()
            .map(|&p| match self.trace.position(p).logits() {
                Some(l) => to_probs(l),
                None => {
                    let i = missing.iter().position(|&q| q == p).expect("collected above");
                    to_probs(&lens[i * vocab..(i + 1) * vocab])
                }
            })
            .collect())
    }
}
