//! Reading an exemplar file: mapped, checked once when opened, one neuron's rows copied out.
use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use memmap2::Mmap;
use safetensors::tensor::{Dtype, SafeTensors};
use serde::Serialize;

use super::{Documents, Header, EMPTY, FORMAT};
use crate::engine::neuron::NeuronId;
use crate::science::exemplars::collect::{neuron_salt, sample_key, Collector, FIXED};
use crate::science::exemplars::error::{ExemplarError, Result};
use crate::science::exemplars::{Record, BINS, SAMPLES_PER_BIN};

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
    /// Each tensor's bytes in the map, from the safetensors header read once when opened.
    spans: HashMap<String, Range<usize>>,
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
        let (header_len, metadata) =
            SafeTensors::read_metadata(&map).map_err(|e| bad(format!("not a safetensors file: {e}")))?;
        // The data follows the 8-byte header length and the header.
        let data = 8 + header_len;
        let spans = metadata
            .tensors()
            .into_iter()
            .map(|(name, info)| (name, data + info.data_offsets.0..data + info.data_offsets.1))
            .collect();
        let json = metadata
            .metadata()
            .as_ref()
            .and_then(|m| m.get("neuronav"))
            .ok_or_else(|| bad("not an exemplar file (no neuronav header)".into()))?;
        let header: Header = serde_json::from_str(json).map_err(|e| bad(format!("its header does not read: {e}")))?;
        if header.format != FORMAT {
            return Err(bad(format!("exemplar format {} (this neuronav reads {FORMAT}); rebuild it", header.format)));
        }
        let this = ExemplarFile { path: path.to_path_buf(), map, header, spans };
        this.check_shapes()?;
        Ok(this)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn header(&self) -> &Header {
        &self.header
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
        // Every kept position lies in its document, so that reading its context cannot go out
        // of bounds.
        let u32s = |name: &str| {
            t.tensor(name)
                .expect("checked")
                .data()
                .chunks_exact(4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        };
        for list in ["top", "bottom", "bins"] {
            for (doc, pos) in u32s(&format!("{list}.doc")).zip(u32s(&format!("{list}.pos"))) {
                let inside = |doc: usize| offsets.get(doc + 1).is_some_and(|end| (pos as u64) < end - offsets[doc]);
                if doc != EMPTY && !inside(doc as usize) {
                    return Err(ExemplarError::bad_file(
                        &self.path,
                        format!("an exemplar in {list} at document {doc} position {pos} lies outside the corpus ({d} documents)"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// `count` values of tensor `name` from element `start`.
    fn read<T: bytemuck::Pod>(&self, name: &str, start: usize, count: usize) -> Vec<T> {
        let size = std::mem::size_of::<T>();
        bytemuck::pod_collect_to_vec(&self.bytes(name)[start * size..(start + count) * size])
    }

    fn all<T: bytemuck::Pod>(&self, name: &str) -> Vec<T> {
        bytemuck::pod_collect_to_vec(self.bytes(name))
    }

    /// Tensor `name`'s bytes: every tensor read is one `check_shapes` checked.
    fn bytes(&self, name: &str) -> &[u8] {
        &self.map[self.spans[name].clone()]
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::science::exemplars::file::{write, CorpusInfo, ModelIdentity, ShardOf};
    use crate::science::exemplars::Settings;

    /// A one-layer, two-neuron file over one document of 3 tokens whose neuron 1 keeps `kept`.
    fn file_keeping(dir: &Path, kept: Record) -> PathBuf {
        let mut state = Collector::new(vec![1.0], 2, 4, 1, 0);
        state.neurons[1].top = vec![kept];
        state.positions = 3;
        let header = Header {
            format: FORMAT,
            model: ModelIdentity { name: "m".into(), fingerprint: "f".into(), layers: 1, d_ff: 2 },
            corpus: CorpusInfo { sources: vec![], field: None, hash: "h".into(), documents: 1, tokens: 3, skipped: 0 },
            settings: Settings { top: 4, max_tokens: None, window: 8, top_k: 1 },
            concepts: vec![],
            calibration_tokens: 3,
            shard: ShardOf { index: 0, count: 1 },
            next_document: 1,
            next_window: 0,
            positions: 3,
            complete: true,
        };
        let documents = Documents { tokens: vec![5, 6, 7], offsets: vec![0, 3], origins: vec![(0, 1)] };
        let path = dir.join("e.safetensors");
        write(&path, &header, &documents, &state).unwrap();
        path
    }

    #[test]
    fn a_kept_position_outside_the_corpus_is_refused_when_opened() {
        let dir = tempfile::tempdir().unwrap();
        let inside = file_keeping(dir.path(), Record { doc: 0, pos: 2, m: 1.0 });
        let file = ExemplarFile::open(&inside).unwrap();
        assert_eq!(file.neuron(NeuronId { layer: 0, index: 1 }).unwrap().top, [Record { doc: 0, pos: 2, m: 1.0 }]);
        for outside in [Record { doc: 0, pos: 3, m: 1.0 }, Record { doc: 1, pos: 0, m: 1.0 }] {
            let path = file_keeping(dir.path(), outside);
            let message = ExemplarFile::open(&path).err().expect("refused").to_string();
            assert!(message.contains("e.safetensors") && message.contains("lies outside the corpus"), "{message}");
        }
    }
}
