//! The whole-model vocabulary index: every neuron's most promoted and suppressed tokens, built once
//! per model (one matrix product per block of neurons, on the model's device) and cached on disk as
//! safetensors, keyed by the model's fingerprint. It answers "which neurons promote token X".
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use safetensors::tensor::{Dtype, TensorView};

use super::projection::{extremes, ProjectionSettings, TokenLogit};
use crate::engine::error::{EngineError, Result};
use crate::engine::neuron::NeuronId;
use crate::engine::runtime::Model;
use crate::engine::session::Control;

/// Neurons projected per matrix product: `[BLOCK, d_model]·[d_model, vocab]` keeps the product
/// large enough to run at full speed and its result (BLOCK × vocab floats) modest.
const BLOCK: usize = 256;

/// Top and bottom `n` tokens of every neuron, `[n_layers, d_ff, n]` each, flattened.
pub struct VocabIndex {
    pub settings: ProjectionSettings,
    pub n_layers: usize,
    pub d_ff: usize,
    top_ids: Vec<u32>,
    top_logits: Vec<f32>,
    bottom_ids: Vec<u32>,
    bottom_logits: Vec<f32>,
}

/// A neuron that promotes a searched token.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Promoter {
    pub neuron: NeuronId,
    pub token: u32,
    pub logit: f32,
    /// 0-based rank of the token among the neuron's promoted tokens.
    pub rank: usize,
}

impl VocabIndex {
    /// Projects every neuron of `model`. `control` reports neurons done and can cancel.
    pub fn build(model: &dyn Model, settings: ProjectionSettings, control: Control) -> Result<Self> {
        let mut builder = IndexBuilder::new(model, settings);
        while !builder.is_done() {
            if control.cancelled() {
                return Err(EngineError::Cancelled);
            }
            let done = builder.step(model)?;
            control.report(done, builder.total());
        }
        Ok(builder.finish().expect("every block is projected"))
    }

    /// Where the index of a model with `fingerprint` is cached.
    pub fn cache_path(cache_dir: &Path, fingerprint: &str, settings: ProjectionSettings) -> PathBuf {
        let kind = if settings.norm_gain { "gain" } else { "raw" };
        cache_dir.join("vocab-index").join(format!("{fingerprint}-{kind}-top{}.safetensors", settings.n))
    }

    /// The cached index when there is one, else a new one, saved for next time.
    /// Returns the index and whether it was built.
    pub fn load_or_build(
        model: &dyn Model,
        cache_dir: &Path,
        fingerprint: &str,
        settings: ProjectionSettings,
        control: Control,
    ) -> Result<(Self, bool)> {
        if let Some(index) = Self::cached(model, cache_dir, fingerprint, settings) {
            return Ok((index, false));
        }
        let index = Self::build(model, settings, control)?;
        index.save(&Self::cache_path(cache_dir, fingerprint, settings))?;
        Ok((index, true))
    }

    /// The cached index of `model` with `settings`, when there is a readable one of its shape.
    pub fn cached(
        model: &dyn Model,
        cache_dir: &Path,
        fingerprint: &str,
        settings: ProjectionSettings,
    ) -> Option<Self> {
        let path = Self::cache_path(cache_dir, fingerprint, settings);
        let index = Self::load(&path).ok()?;
        let c = model.config();
        // An index of the same file made when padding rows of the embedding were still projected
        // may name ids that are not tokens; one naming any is made again.
        let tokens = |ids: &[u32]| ids.iter().all(|&id| (id as usize) < c.vocab_size);
        (index.n_layers == c.num_layers
            && index.d_ff == c.intermediate_size
            && index.settings == settings
            && tokens(&index.top_ids)
            && tokens(&index.bottom_ids))
        .then_some(index)
    }

    /// The promoted tokens of `neuron`, best first.
    pub fn top(&self, neuron: NeuronId) -> Vec<TokenLogit> {
        let at = self.offset(neuron);
        zip_tokens(&self.top_ids[at..at + self.settings.n], &self.top_logits[at..at + self.settings.n])
    }

    /// The suppressed tokens of `neuron`, most negative first.
    pub fn bottom(&self, neuron: NeuronId) -> Vec<TokenLogit> {
        let at = self.offset(neuron);
        zip_tokens(&self.bottom_ids[at..at + self.settings.n], &self.bottom_logits[at..at + self.settings.n])
    }

    fn offset(&self, neuron: NeuronId) -> usize {
        assert!(
            (neuron.layer as usize) < self.n_layers && (neuron.index as usize) < self.d_ff,
            "{neuron} out of range"
        );
        (neuron.layer as usize * self.d_ff + neuron.index as usize) * self.settings.n
    }

    /// Neurons with any of `tokens` among their promoted tokens, by descending logit; a neuron
    /// promoting several of them is listed once, with its best.
    pub fn promoting(&self, tokens: &[u32]) -> Vec<Promoter> {
        let n = self.settings.n;
        let mut hits: Vec<Promoter> = self
            .top_ids
            .par_chunks(n)
            .enumerate()
            .flat_map_iter(|(i, ids)| {
                let neuron = NeuronId { layer: (i / self.d_ff) as u32, index: (i % self.d_ff) as u32 };
                // Promoted tokens are in descending order: the first match is the neuron's best.
                ids.iter().position(|id| tokens.contains(id)).map(|rank| Promoter {
                    neuron,
                    token: ids[rank],
                    logit: self.top_logits[i * n + rank],
                    rank,
                })
            })
            .collect();
        hits.sort_by(|a, b| b.logit.total_cmp(&a.logit).then(a.neuron.cmp(&b.neuron)));
        hits
    }

    /// Writes the index atomically (a temporary file renamed into place).
    pub fn save(&self, path: &Path) -> Result<()> {
        let dir = path.parent().expect("index path has a parent");
        std::fs::create_dir_all(dir).map_err(|e| EngineError::io(dir, e))?;
        let shape = vec![self.n_layers, self.d_ff, self.settings.n];
        let bytes = |v: &[u32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
        let fbytes = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
        let buffers =
            [bytes(&self.top_ids), fbytes(&self.top_logits), bytes(&self.bottom_ids), fbytes(&self.bottom_logits)];
        let names = ["top_ids", "top_logits", "bottom_ids", "bottom_logits"];
        let dtypes = [Dtype::U32, Dtype::F32, Dtype::U32, Dtype::F32];
        let views: Vec<(&str, TensorView)> = names
            .iter()
            .zip(&buffers)
            .zip(dtypes)
            .map(|((name, buf), dtype)| (*name, TensorView::new(dtype, shape.clone(), buf).expect("sizes match")))
            .collect();
        let metadata: HashMap<String, String> = [("norm_gain".to_string(), self.settings.norm_gain.to_string())].into();
        let tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| EngineError::io(dir, e))?;
        safetensors::serialize_to_file(views, Some(metadata), tmp.path())
            .map_err(|e| EngineError::bad_file(tmp.path(), e.to_string()))?;
        tmp.persist(path).map_err(|e| EngineError::io(path, e.error))?;
        Ok(())
    }

    /// Reads an index written by [`VocabIndex::save`], checking every tensor's type and shape.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| EngineError::io(path, e))?;
        let bad = |what: String| EngineError::bad_file(path, what);
        let (_, metadata) =
            safetensors::SafeTensors::read_metadata(&bytes).map_err(|e| bad(format!("not an index: {e}")))?;
        let st = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| bad(format!("not an index: {e}")))?;
        let norm_gain = metadata.metadata().as_ref().and_then(|m| m.get("norm_gain")).map(|v| v == "true");
        let norm_gain = norm_gain.ok_or_else(|| bad("no norm_gain in the metadata".into()))?;
        let tensor = |name: &str, dtype: Dtype| -> Result<(Vec<usize>, Vec<[u8; 4]>)> {
            let view = st.tensor(name).map_err(|_| bad(format!("no tensor '{name}'")))?;
            if view.dtype() != dtype || view.shape().len() != 3 {
                return Err(bad(format!("tensor '{name}' is not a 3-D {dtype:?} tensor")));
            }
            let words = view.data().chunks_exact(4).map(|c| c.try_into().expect("4 bytes")).collect();
            Ok((view.shape().to_vec(), words))
        };
        let (shape, top_ids) = tensor("top_ids", Dtype::U32)?;
        let parts = [
            tensor("top_logits", Dtype::F32)?,
            tensor("bottom_ids", Dtype::U32)?,
            tensor("bottom_logits", Dtype::F32)?,
        ];
        if parts.iter().any(|(s, _)| *s != shape) {
            return Err(bad("the index's tensors differ in shape".into()));
        }
        let [(_, top_logits), (_, bottom_ids), (_, bottom_logits)] = parts;
        let ints = |v: Vec<[u8; 4]>| v.into_iter().map(u32::from_le_bytes).collect();
        let floats = |v: Vec<[u8; 4]>| v.into_iter().map(f32::from_le_bytes).collect();
        Ok(VocabIndex {
            settings: ProjectionSettings { n: shape[2], norm_gain },
            n_layers: shape[0],
            d_ff: shape[1],
            top_ids: ints(top_ids),
            top_logits: floats(top_logits),
            bottom_ids: ints(bottom_ids),
            bottom_logits: floats(bottom_logits),
        })
    }
}

/// An index built one block of neurons at a time, so that its caller can do other work between
/// blocks (the explorer answers the user's commands first).
pub struct IndexBuilder {
    index: VocabIndex,
    /// The next block: its layer and first neuron.
    layer: usize,
    start: usize,
}

impl IndexBuilder {
    pub fn new(model: &dyn Model, settings: ProjectionSettings) -> IndexBuilder {
        let config = model.config();
        let (n_layers, d_ff, n) = (config.num_layers, config.intermediate_size, settings.n.min(config.vocab_size));
        let total = n_layers * d_ff * n;
        let index = VocabIndex {
            settings: ProjectionSettings { n, ..settings },
            n_layers,
            d_ff,
            top_ids: Vec::with_capacity(total),
            top_logits: Vec::with_capacity(total),
            bottom_ids: Vec::with_capacity(total),
            bottom_logits: Vec::with_capacity(total),
        };
        IndexBuilder { index, layer: 0, start: 0 }
    }

    /// Neurons of the whole model.
    pub fn total(&self) -> usize {
        self.index.n_layers * self.index.d_ff
    }

    pub fn is_done(&self) -> bool {
        self.layer >= self.index.n_layers || self.index.d_ff == 0
    }

    /// Projects the next block of up to `BLOCK` neurons of `model` (the model the builder was
    /// made for). Returns the neurons done so far, or an error when the model's file changed.
    pub fn step(&mut self, model: &dyn Model) -> Result<usize> {
        let (d_ff, n) = (self.index.d_ff, self.index.settings.n);
        if !self.is_done() {
            if self.start == 0 {
                model.check_files()?;
            }
            let vocab = model.config().vocab_size;
            let count = BLOCK.min(d_ff - self.start);
            let logits = model.project_value_vectors(self.layer, self.start, count, self.index.settings.norm_gain);
            let rows: Vec<_> = logits.par_chunks(vocab).map(|row| extremes(row, n)).collect();
            let index = &mut self.index;
            for p in rows {
                index.top_ids.extend(p.top.iter().map(|t| t.token));
                index.top_logits.extend(p.top.iter().map(|t| t.logit));
                index.bottom_ids.extend(p.bottom.iter().map(|t| t.token));
                index.bottom_logits.extend(p.bottom.iter().map(|t| t.logit));
            }
            self.start += count;
            if self.start == d_ff {
                (self.layer, self.start) = (self.layer + 1, 0);
            }
        }
        Ok(self.done())
    }

    fn done(&self) -> usize {
        (self.layer * self.index.d_ff + self.start).min(self.total())
    }

    /// The index, once every block is projected.
    pub fn finish(self) -> Option<VocabIndex> {
        self.is_done().then_some(self.index)
    }
}

fn zip_tokens(ids: &[u32], logits: &[f32]) -> Vec<TokenLogit> {
    ids.iter().zip(logits).map(|(&token, &logit)| TokenLogit { token, logit }).collect()
}
