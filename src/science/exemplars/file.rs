//! Exemplars on disk: one safetensors file per model, corpus and settings (a shard writes a file
//! of its own), holding the corpus's tokens once and every neuron's state. Reading a neuron maps
//! the file and copies only that neuron's rows.
//!
//! Tensors (L layers, F neurons a layer, N kept positions, B bins of S samples, C concepts,
//! D documents, T tokens); an unused slot has document `u32::MAX`:
//! - `documents.tokens` u32 `[T]`, `documents.offsets` u64 `[D + 1]`, `documents.origin` u32
//!   `[D, 2]` (source file, line);
//! - `layer.scale` f32 `[L]`: the bins' unit;
//! - `top.{m,doc,pos}` and `bottom.{m,doc,pos}` `[L, F, N]`; `bins.{m,doc,pos}` `[L, F, B, S]`;
//! - `stats.sum` i64, `stats.sum_sq_hi` i64 and `stats.sum_sq_lo` u64 (fixed point, see
//!   [`FIXED`]), `stats.max`, `stats.min` f32, `stats.in_top_k` u64, all `[L, F]`;
//! - `seeds.sum` i64 `[C, L, F]`, `seeds.positions` u64 `[C]`.
//!
//! The header's one metadata entry, `neuronav`, is the [`Header`] as JSON.
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use memmap2::Mmap;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde::{Deserialize, Serialize};

use super::collect::{neuron_salt, sample_key, Collector, NeuronState, FIXED};
use super::error::{ExemplarError, Result};
use super::{Record, Settings, BINS, SAMPLES_PER_BIN};
use crate::engine::neuron::NeuronId;

/// Bumped when the layout changes; older files are refused with a message to rebuild.
pub const FORMAT: u32 = 1;
/// The finished file of a build, in its directory.
pub const FILE_NAME: &str = "exemplars.safetensors";
const EMPTY: u32 = u32::MAX;

/// What a file is of and how it was made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    pub format: u32,
    pub model: ModelIdentity,
    pub corpus: CorpusInfo,
    pub settings: Settings,
    /// The concepts whose seed words were counted, in `seeds.*` order.
    pub concepts: Vec<ConceptSeeds>,
    /// Tokens the bins' scale was taken from: the corpus's first ones.
    pub calibration_tokens: usize,
    /// Documents `index + k·count` are this file's.
    pub shard: ShardOf,
    /// Documents before this one are done (all of them in a finished file).
    pub next_document: usize,
    /// Windows of document `next_document` done (a partial file stops between windows).
    pub next_window: usize,
    /// Positions counted so far: the corpus's tokens less each document's BOS.
    pub positions: u64,
    pub complete: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelIdentity {
    pub name: String,
    pub fingerprint: String,
    pub layers: usize,
    pub d_ff: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorpusInfo {
    pub sources: Vec<String>,
    /// The JSONL field read, when any file is JSONL.
    pub field: Option<String>,
    /// SHA-256 of the documents' texts (see [`super::corpus::Corpus::hash`]).
    pub hash: String,
    pub documents: usize,
    pub tokens: usize,
    /// Lines of the files that held no document.
    pub skipped: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConceptSeeds {
    pub key: String,
    pub seeds: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardOf {
    pub index: usize,
    pub count: usize,
}

/// The corpus's tokens, stored once.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Documents {
    pub tokens: Vec<u32>,
    /// `[D + 1]`: document d is `tokens[offsets[d]..offsets[d + 1]]`.
    pub offsets: Vec<u64>,
    /// `(source, line)` per document.
    pub origins: Vec<(u32, u32)>,
}

impl Documents {
    pub fn len(&self) -> usize {
        self.origins.len()
    }

    pub fn is_empty(&self) -> bool {
        self.origins.is_empty()
    }

    pub fn get(&self, doc: usize) -> &[u32] {
        &self.tokens[self.offsets[doc] as usize..self.offsets[doc + 1] as usize]
    }
}

/// Writes a file atomically: a crash leaves the previous file or the new one, never half of one.
pub fn write(path: &Path, header: &Header, documents: &Documents, state: &Collector) -> Result<()> {
    let (layers, d_ff, n) = (state.layers(), state.d_ff, state.top);
    let cells = layers * d_ff;
    let mut f32s: Vec<(String, Vec<usize>, Vec<f32>)> = Vec::new();
    let mut u32s: Vec<(String, Vec<usize>, Vec<u32>)> = Vec::new();
    let kept = |pick: fn(&NeuronState) -> &Vec<Record>| {
        let mut m = vec![f32::NAN; cells * n];
        let mut doc = vec![EMPTY; cells * n];
        let mut pos = vec![EMPTY; cells * n];
        for (i, s) in state.neurons.iter().enumerate() {
            for (k, r) in pick(s).iter().enumerate() {
                (m[i * n + k], doc[i * n + k], pos[i * n + k]) = (r.m, r.doc, r.pos);
            }
        }
        (m, doc, pos)
    };
    for (name, pick) in [("top", (|s| &s.top) as fn(&NeuronState) -> &Vec<Record>), ("bottom", |s| &s.bottom)] {
        let (m, doc, pos) = kept(pick);
        let shape = vec![layers, d_ff, n];
        f32s.push((format!("{name}.m"), shape.clone(), m));
        u32s.push((format!("{name}.doc"), shape.clone(), doc));
        u32s.push((format!("{name}.pos"), shape, pos));
    }
    let slots = BINS * SAMPLES_PER_BIN;
    let (mut m, mut doc, mut pos) =
        (vec![f32::NAN; cells * slots], vec![EMPTY; cells * slots], vec![EMPTY; cells * slots]);
    for (i, s) in state.neurons.iter().enumerate() {
        for (b, bin) in s.bins.iter().enumerate() {
            for (k, (_, r)) in bin.iter().enumerate() {
                let at = i * slots + b * SAMPLES_PER_BIN + k;
                (m[at], doc[at], pos[at]) = (r.m, r.doc, r.pos);
            }
        }
    }
    let bin_shape = vec![layers, d_ff, BINS, SAMPLES_PER_BIN];
    f32s.push(("bins.m".into(), bin_shape.clone(), m));
    u32s.push(("bins.doc".into(), bin_shape.clone(), doc));
    u32s.push(("bins.pos".into(), bin_shape, pos));
    let grid = vec![layers, d_ff];
    f32s.push(("stats.max".into(), grid.clone(), state.neurons.iter().map(|s| s.max).collect()));
    f32s.push(("stats.min".into(), grid.clone(), state.neurons.iter().map(|s| s.min).collect()));
    f32s.push(("layer.scale".into(), vec![layers], state.scales.clone()));
    u32s.push(("documents.tokens".into(), vec![documents.tokens.len()], documents.tokens.clone()));
    let origins: Vec<u32> = documents.origins.iter().flat_map(|&(s, l)| [s, l]).collect();
    u32s.push(("documents.origin".into(), vec![documents.len(), 2], origins));
    let concepts = header.concepts.len();
    let mut seed_sums = Vec::with_capacity(concepts * cells);
    for c in 0..concepts {
        seed_sums.extend(state.neurons.iter().map(|s| s.seed_sums[c]));
    }
    let i64s: Vec<(&str, Vec<usize>, Vec<i64>)> = vec![
        ("stats.sum", grid.clone(), state.neurons.iter().map(|s| s.sum).collect()),
        ("stats.sum_sq_hi", grid.clone(), state.neurons.iter().map(|s| (s.sum_sq >> 64) as i64).collect()),
        ("seeds.sum", vec![concepts, layers, d_ff], seed_sums),
    ];
    let u64s: Vec<(&str, Vec<usize>, Vec<u64>)> = vec![
        ("stats.sum_sq_lo", grid.clone(), state.neurons.iter().map(|s| s.sum_sq as u64).collect()),
        ("stats.in_top_k", grid, state.neurons.iter().map(|s| s.in_top_k).collect()),
        ("seeds.positions", vec![concepts], state.seed_positions.clone()),
        ("documents.offsets", vec![documents.offsets.len()], documents.offsets.clone()),
    ];
    let mut views: Vec<(String, TensorView)> = Vec::new();
    for (name, shape, data) in &f32s {
        views.push((name.to_string(), bytes(Dtype::F32, shape, bytemuck::cast_slice(data))));
    }
    for (name, shape, data) in &u32s {
        views.push((name.to_string(), bytes(Dtype::U32, shape, bytemuck::cast_slice(data))));
    }
    for (name, shape, data) in &i64s {
        views.push((name.to_string(), bytes(Dtype::I64, shape, bytemuck::cast_slice(data))));
    }
    for (name, shape, data) in &u64s {
        views.push((name.to_string(), bytes(Dtype::U64, shape, bytemuck::cast_slice(data))));
    }
    let json = serde_json::to_string(header).expect("a header serializes");
    let metadata = HashMap::from([("neuronav".to_string(), json)]);
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| ExemplarError::io(dir, e))?;
    let temp = tempfile::NamedTempFile::new_in(dir).map_err(|e| ExemplarError::io(dir, e))?;
    safetensors::serialize_to_file(views, Some(metadata), temp.path())
        .map_err(|e| ExemplarError::bad_file(temp.path(), e.to_string()))?;
    temp.persist(path).map_err(|e| ExemplarError::io(path, e.error))?;
    Ok(())
}

fn bytes<'a>(dtype: Dtype, shape: &[usize], data: &'a [u8]) -> TensorView<'a> {
    TensorView::new(dtype, shape.to_vec(), data).expect("shape matches data")
}

/// A neuron's sums, in units of 1/[`FIXED`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sums {
    pub sum: i64,
    pub sum_sq: i128,
}

/// A mapped exemplar file.
pub struct ExemplarFile {
    path: PathBuf,
    map: Mmap,
    header: Header,
}

/// One neuron's exemplars and statistics.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NeuronExemplars {
    pub neuron: NeuronId,
    pub top: Vec<Record>,
    pub bottom: Vec<Record>,
    /// Per bin, its samples.
    pub bins: Vec<Vec<Record>>,
    pub stats: NeuronStats,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct NeuronStats {
    pub positions: u64,
    pub mean: f64,
    pub std: f64,
    pub max: f32,
    pub min: f32,
    /// The share of positions where the neuron is among its layer's top K by score.
    pub top_k_fraction: f64,
    /// The largest |m| in the corpus: what the neuron's activations are shown relative to.
    pub scale: f32,
    /// The bins' unit, the layer's.
    pub layer_scale: f32,
}

impl ExemplarFile {
    pub fn open(path: &Path) -> Result<ExemplarFile> {
        let file = std::fs::File::open(path).map_err(|e| ExemplarError::io(path, e))?;
        // SAFETY: the map is read only; files are replaced by renaming, never written in place.
        let map = unsafe { Mmap::map(&file) }.map_err(|e| ExemplarError::io(path, e))?;
        let bad = |problem: String| ExemplarError::bad_file(path, problem);
        let (_, metadata) =
            SafeTensors::read_metadata(&map).map_err(|e| bad(format!("not a safetensors file: {e}")))?;
        let json = metadata
            .metadata()
            .as_ref()
            .and_then(|m| m.get("neuronav"))
            .ok_or_else(|| bad("not an exemplar file (no neuronav header)".into()))?;
        let header: Header = serde_json::from_str(json).map_err(|e| bad(format!("its header does not read: {e}")))?;
        if header.format != FORMAT {
            return Err(bad(format!("exemplar format {} (this neuronav reads {FORMAT}); rebuild it", header.format)));
        }
        let this = ExemplarFile { path: path.to_path_buf(), map, header };
        this.check_shapes()?;
        Ok(this)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    fn tensors(&self) -> SafeTensors<'_> {
        SafeTensors::deserialize(&self.map).expect("checked when opened")
    }

    fn check_shapes(&self) -> Result<()> {
        let t = SafeTensors::deserialize(&self.map).map_err(|e| ExemplarError::bad_file(&self.path, e.to_string()))?;
        let (l, f, n) = (self.header.model.layers, self.header.model.d_ff, self.header.settings.top);
        let (d, c) = (self.header.corpus.documents, self.header.concepts.len());
        let tokens = t.tensor("documents.tokens").map(|v| v.shape().to_vec()).unwrap_or_default();
        // Every tensor a reader slices, so that no read of an opened file goes out of bounds.
        let want: [(&str, Dtype, Vec<usize>); 21] = [
            ("top.m", Dtype::F32, vec![l, f, n]),
            ("top.doc", Dtype::U32, vec![l, f, n]),
            ("top.pos", Dtype::U32, vec![l, f, n]),
            ("bottom.m", Dtype::F32, vec![l, f, n]),
            ("bottom.doc", Dtype::U32, vec![l, f, n]),
            ("bottom.pos", Dtype::U32, vec![l, f, n]),
            ("bins.m", Dtype::F32, vec![l, f, BINS, SAMPLES_PER_BIN]),
            ("bins.doc", Dtype::U32, vec![l, f, BINS, SAMPLES_PER_BIN]),
            ("bins.pos", Dtype::U32, vec![l, f, BINS, SAMPLES_PER_BIN]),
            ("stats.sum", Dtype::I64, vec![l, f]),
            ("stats.sum_sq_hi", Dtype::I64, vec![l, f]),
            ("stats.sum_sq_lo", Dtype::U64, vec![l, f]),
            ("stats.max", Dtype::F32, vec![l, f]),
            ("stats.min", Dtype::F32, vec![l, f]),
            ("stats.in_top_k", Dtype::U64, vec![l, f]),
            ("layer.scale", Dtype::F32, vec![l]),
            // Any length, in one dimension.
            ("documents.tokens", Dtype::U32, if tokens.len() == 1 { tokens } else { vec![0] }),
            ("documents.offsets", Dtype::U64, vec![d + 1]),
            ("documents.origin", Dtype::U32, vec![d, 2]),
            ("seeds.sum", Dtype::I64, vec![c, l, f]),
            ("seeds.positions", Dtype::U64, vec![c]),
        ];
        for (name, dtype, shape) in want {
            let view = t.tensor(name).map_err(|_| ExemplarError::bad_file(&self.path, format!("no tensor {name}")))?;
            if view.dtype() != dtype || view.shape() != shape {
                return Err(ExemplarError::bad_file(
                    &self.path,
                    format!("{name} is {:?} {:?}, not {dtype:?} {shape:?}", view.dtype(), view.shape()),
                ));
            }
        }
        let offsets: Vec<u64> = bytemuck::pod_collect_to_vec(t.tensor("documents.offsets").expect("checked").data());
        let tokens = t.tensor("documents.tokens").expect("checked").shape()[0] as u64;
        if offsets.first() != Some(&0) || offsets.windows(2).any(|w| w[0] > w[1]) || offsets.last() != Some(&tokens) {
            return Err(ExemplarError::bad_file(
                &self.path,
                "documents.offsets do not cut documents.tokens into documents",
            ));
        }
        Ok(())
    }

    /// `count` values of tensor `name` from element `start`.
    fn read<T: bytemuck::Pod>(&self, name: &str, start: usize, count: usize) -> Vec<T> {
        let tensors = self.tensors();
        let view = tensors.tensor(name).expect("every tensor is written");
        let size = std::mem::size_of::<T>();
        bytemuck::pod_collect_to_vec(&view.data()[start * size..(start + count) * size])
    }

    fn all<T: bytemuck::Pod>(&self, name: &str) -> Vec<T> {
        let tensors = self.tensors();
        bytemuck::pod_collect_to_vec(tensors.tensor(name).expect("every tensor is written").data())
    }

    /// Tokens of document `doc`.
    pub fn document(&self, doc: u32) -> Vec<u32> {
        let offsets: Vec<u64> = self.read("documents.offsets", doc as usize, 2);
        self.read("documents.tokens", offsets[0] as usize, (offsets[1] - offsets[0]) as usize)
    }

    /// `(source file, line)` of document `doc`.
    pub fn origin(&self, doc: u32) -> (String, u32) {
        let origin: Vec<u32> = self.read("documents.origin", doc as usize * 2, 2);
        let source = self.header.corpus.sources.get(origin[0] as usize).cloned().unwrap_or_default();
        (source, origin[1])
    }

    pub fn layer_scales(&self) -> Vec<f32> {
        self.all("layer.scale")
    }

    /// One neuron's exemplars, or `None` outside the model.
    pub fn neuron(&self, id: NeuronId) -> Option<NeuronExemplars> {
        let n = self.header.settings.top;
        let cell = self.cell(id)?;
        let records = |prefix: &str, start: usize, count: usize| -> Vec<Record> {
            let m: Vec<f32> = self.read(&format!("{prefix}.m"), start, count);
            let doc: Vec<u32> = self.read(&format!("{prefix}.doc"), start, count);
            let pos: Vec<u32> = self.read(&format!("{prefix}.pos"), start, count);
            (0..count).filter(|&k| doc[k] != EMPTY).map(|k| Record { doc: doc[k], pos: pos[k], m: m[k] }).collect()
        };
        let slots = BINS * SAMPLES_PER_BIN;
        let bins = (0..BINS).map(|b| records("bins", cell * slots + b * SAMPLES_PER_BIN, SAMPLES_PER_BIN)).collect();
        let sums = self.sums(id)?;
        let positions = self.positions();
        let count = positions.max(1) as f64;
        let mean = sums.sum as f64 / FIXED / count;
        let sum_sq = sums.sum_sq as f64 / FIXED;
        let in_top_k: u64 = self.read("stats.in_top_k", cell, 1)[0];
        let (max, min): (f32, f32) = (self.read("stats.max", cell, 1)[0], self.read("stats.min", cell, 1)[0]);
        let stats = NeuronStats {
            positions,
            mean,
            std: (sum_sq / count - mean * mean).max(0.0).sqrt(),
            max,
            min,
            top_k_fraction: in_top_k as f64 / count,
            scale: max.abs().max(min.abs()),
            layer_scale: self.read::<f32>("layer.scale", id.layer as usize, 1)[0],
        };
        Some(NeuronExemplars {
            neuron: id,
            top: records("top", cell * n, n),
            bottom: records("bottom", cell * n, n),
            bins,
            stats,
        })
    }

    fn cell(&self, id: NeuronId) -> Option<usize> {
        let (layers, d_ff) = (self.header.model.layers, self.header.model.d_ff);
        (id.layer < layers as u32 && (id.index as usize) < d_ff).then(|| id.layer as usize * d_ff + id.index as usize)
    }

    /// Σ m and Σ m² of a neuron, in units of 1/[`FIXED`].
    pub fn sums(&self, id: NeuronId) -> Option<Sums> {
        let cell = self.cell(id)?;
        let hi: i64 = self.read("stats.sum_sq_hi", cell, 1)[0];
        let lo: u64 = self.read("stats.sum_sq_lo", cell, 1)[0];
        Some(Sums { sum: self.read::<i64>("stats.sum", cell, 1)[0], sum_sq: ((hi as i128) << 64) | lo as i128 })
    }

    /// Σ m over the positions where concept number `concept`'s seed words are (in units of
    /// 1/[`FIXED`]), and how many positions those are.
    pub fn seed_sum(&self, concept: usize, id: NeuronId) -> Option<(i64, u64)> {
        let cell = self.cell(id)?;
        let cells = self.header.model.layers * self.header.model.d_ff;
        let positions: u64 = *self.read::<u64>("seeds.positions", concept, 1).first()?;
        Some((self.read::<i64>("seeds.sum", concept * cells + cell, 1)[0], positions))
    }

    /// Positions counted.
    pub fn positions(&self) -> u64 {
        self.header.positions
    }

    /// Every document's tokens.
    pub fn documents(&self) -> Documents {
        Documents {
            tokens: self.all("documents.tokens"),
            offsets: self.all("documents.offsets"),
            origins: self.all::<u32>("documents.origin").chunks_exact(2).map(|p| (p[0], p[1])).collect(),
        }
    }

    /// Every neuron's top exemplars, `[layers × d_ff]`.
    pub fn all_top(&self) -> Vec<Vec<Record>> {
        self.kept("top")
    }

    fn kept(&self, prefix: &str) -> Vec<Vec<Record>> {
        let (cells, n) = (self.header.model.layers * self.header.model.d_ff, self.header.settings.top);
        let m: Vec<f32> = self.all(&format!("{prefix}.m"));
        let doc: Vec<u32> = self.all(&format!("{prefix}.doc"));
        let pos: Vec<u32> = self.all(&format!("{prefix}.pos"));
        (0..cells)
            .map(|i| {
                (i * n..(i + 1) * n)
                    .filter(|&k| doc[k] != EMPTY)
                    .map(|k| Record { doc: doc[k], pos: pos[k], m: m[k] })
                    .collect()
            })
            .collect()
    }

    /// The whole state, for resuming and merging.
    pub fn load(&self) -> Result<(Documents, Collector)> {
        let h = &self.header;
        let (layers, d_ff, n) = (h.model.layers, h.model.d_ff, h.settings.top);
        let mut state = Collector::new(self.layer_scales(), d_ff, n, h.settings.top_k, h.concepts.len());
        let (top, bottom) = (self.kept("top"), self.kept("bottom"));
        let (bm, bd, bp): (Vec<f32>, Vec<u32>, Vec<u32>) =
            (self.all("bins.m"), self.all("bins.doc"), self.all("bins.pos"));
        let sum: Vec<i64> = self.all("stats.sum");
        let hi: Vec<i64> = self.all("stats.sum_sq_hi");
        let lo: Vec<u64> = self.all("stats.sum_sq_lo");
        let max: Vec<f32> = self.all("stats.max");
        let min: Vec<f32> = self.all("stats.min");
        let in_top_k: Vec<u64> = self.all("stats.in_top_k");
        let seed_sums: Vec<i64> = self.all("seeds.sum");
        let cells = layers * d_ff;
        for (i, s) in state.neurons.iter_mut().enumerate() {
            s.top = top[i].clone();
            s.bottom = bottom[i].clone();
            let salt = neuron_salt(i as u64);
            for (b, bin) in s.bins.iter_mut().enumerate() {
                for k in 0..SAMPLES_PER_BIN {
                    let at = (i * BINS + b) * SAMPLES_PER_BIN + k;
                    if bd[at] != EMPTY {
                        bin.push((sample_key(salt, bd[at], bp[at]), Record { doc: bd[at], pos: bp[at], m: bm[at] }));
                    }
                }
            }
            s.sum = sum[i];
            s.sum_sq = ((hi[i] as i128) << 64) | lo[i] as i128;
            (s.max, s.min, s.in_top_k) = (max[i], min[i], in_top_k[i]);
            s.seed_sums = (0..h.concepts.len()).map(|c| seed_sums[c * cells + i]).collect();
        }
        state.seed_positions = self.all("seeds.positions");
        state.positions = h.positions;
        Ok((self.documents(), state))
    }
}
