//! Hugging Face safetensors checkpoints: one `model.safetensors` or shards listed by
//! `model.safetensors.index.json`. Files are memory-mapped; the headers are validated by the
//! `safetensors` crate (offsets contiguous, sizes equal to shape × dtype, buffer fully covered).
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use half::{bf16, f16};
use safetensors::tensor::{Dtype, Metadata, SafeTensorError, SafeTensors, TensorInfo};
use serde::Deserialize;

use super::gguf::GgmlType;
use super::host::{HostData, HostTensor};
use super::mapped::MappedFile;
use super::stored::StoredTensor;
use crate::engine::error::{EngineError, Result};

/// One memory-mapped safetensors file with its validated header.
struct Shard {
    path: PathBuf,
    mmap: Arc<MappedFile>,
    metadata: Metadata,
    /// Byte offset of the data section (8-byte length + JSON header).
    data_start: usize,
}

/// All shards of a checkpoint, with the shard that holds each tensor.
pub struct SafetensorsDir {
    shards: Vec<Shard>,
    by_name: HashMap<String, usize>,
}

#[derive(Deserialize)]
struct ShardIndex {
    weight_map: BTreeMap<String, String>,
}

impl SafetensorsDir {
    /// Opens the checkpoint in a Hugging Face model directory.
    pub fn open(dir: &Path) -> Result<Self> {
        let index = dir.join("model.safetensors.index.json");
        let single = dir.join("model.safetensors");
        let files: Vec<PathBuf> = if index.is_file() {
            let text = std::fs::read_to_string(&index).map_err(|e| EngineError::io(&index, e))?;
            let parsed: ShardIndex = serde_json::from_str(&text)
                .map_err(|e| EngineError::bad_file(&index, format!("not a shard index: {e}")))?;
            let mut names: Vec<&String> = parsed.weight_map.values().collect();
            names.sort();
            names.dedup();
            names.into_iter().map(|n| dir.join(n)).collect()
        } else if single.is_file() {
            vec![single]
        } else {
            return Err(EngineError::bad_file(
                dir,
                "no model.safetensors or model.safetensors.index.json in this directory",
            ));
        };
        let mut shards = Vec::with_capacity(files.len());
        let mut by_name = HashMap::new();
        for path in files {
            let shard = Shard::open(&path)?;
            for name in shard.metadata.tensors().keys() {
                if by_name.insert(name.clone(), shards.len()).is_some() {
                    return Err(EngineError::bad_file(&path, format!("tensor '{name}' appears in two shards")));
                }
            }
            shards.push(shard);
        }
        Ok(SafetensorsDir { shards, by_name })
    }

    pub fn contains(&self, name: &str) -> bool {
        self.by_name.contains_key(name)
    }

    /// Shape of a tensor (PyTorch order), without reading it.
    pub fn shape(&self, name: &str) -> Option<Vec<usize>> {
        let shard = &self.shards[*self.by_name.get(name)?];
        shard.metadata.info(name).map(|i| i.shape.clone())
    }

    /// Copies a tensor out of the map, keeping f16/bf16 as they are.
    pub fn load(&self, name: &str) -> Result<HostTensor> {
        self.shard(name)?.load(name)
    }

    /// A tensor as stored, for reading in place: its element type, shape and bytes in the
    /// shard's shared map.
    pub fn stored(&self, name: &str) -> Result<StoredTensor> {
        let shard = self.shard(name)?;
        let (info, range) = shard.locate(name)?;
        let format = match info.dtype {
            // The same bytes as GGML's types of these names: little-endian, row-major.
            Dtype::F32 => GgmlType::F32,
            Dtype::F16 => GgmlType::F16,
            Dtype::BF16 => GgmlType::BF16,
            other => unreachable!("dtype {other:?} was rejected when the file was opened"),
        };
        Ok(StoredTensor { format, shape: info.shape.clone(), map: shard.mmap.clone(), range })
    }

    /// The mapped shards, which [`StoredTensor`]s share.
    pub fn mapped(&self) -> Vec<Arc<MappedFile>> {
        self.shards.iter().map(|s| s.mmap.clone()).collect()
    }

    fn shard(&self, name: &str) -> Result<&Shard> {
        let &shard_ix = self
            .by_name
            .get(name)
            .ok_or_else(|| EngineError::bad_file(&self.shards[0].path, format!("tensor '{name}' is missing")))?;
        Ok(&self.shards[shard_ix])
    }

    /// The first shard's path, to name the checkpoint in messages.
    pub fn path(&self) -> &Path {
        &self.shards[0].path
    }
}

impl Shard {
    fn open(path: &Path) -> Result<Self> {
        let mmap = MappedFile::open(path)?;
        let (header_len, metadata) =
            SafeTensors::read_metadata(&mmap).map_err(|e| EngineError::bad_file(path, describe(&e, mmap.len())))?;
        for (name, info) in metadata.tensors() {
            if !matches!(info.dtype, Dtype::F32 | Dtype::F16 | Dtype::BF16) {
                return Err(EngineError::bad_file(
                    path,
                    format!("tensor '{name}' has dtype {:?}; only F32, F16 and BF16 are supported", info.dtype),
                ));
            }
        }
        Ok(Shard { path: path.to_path_buf(), mmap: Arc::new(mmap), metadata, data_start: 8 + header_len })
    }

    /// A tensor's header entry and the range of its bytes in the map.
    fn locate(&self, name: &str) -> Result<(&TensorInfo, std::ops::Range<usize>)> {
        let info = self
            .metadata
            .info(name)
            .ok_or_else(|| EngineError::bad_file(&self.path, format!("tensor '{name}' is missing")))?;
        let (start, end) = info.data_offsets;
        // read_metadata checked that the offsets tile the data section exactly.
        Ok((info, self.data_start + start..self.data_start + end))
    }

    fn load(&self, name: &str) -> Result<HostTensor> {
        let (info, range) = self.locate(name)?;
        let bytes = &self.mmap[range];
        let shape = info.shape.clone();
        let data = match info.dtype {
            Dtype::F32 => HostData::F32(cast_le(bytes, f32::from_le_bytes)),
            Dtype::F16 => HostData::F16(cast_le(bytes, |b| f16::from_bits(u16::from_le_bytes(b)))),
            Dtype::BF16 => HostData::BF16(cast_le(bytes, |b| bf16::from_bits(u16::from_le_bytes(b)))),
            other => unreachable!("dtype {other:?} was rejected when the file was opened"),
        };
        Ok(HostTensor { shape, data })
    }
}

/// Decodes little-endian elements; the data section need not be aligned for the type.
fn cast_le<T: Send, const N: usize>(bytes: &[u8], decode: impl Fn([u8; N]) -> T + Sync) -> Vec<T> {
    bytes.chunks_exact(N).map(|c| decode(c.try_into().expect("chunk of N bytes"))).collect()
}

fn describe(err: &SafeTensorError, file_len: usize) -> String {
    match err {
        SafeTensorError::HeaderTooSmall => format!("truncated: {file_len} bytes is too short for a safetensors header"),
        SafeTensorError::InvalidHeaderLength => {
            "truncated or corrupt: the header length points past the end of the file".into()
        }
        SafeTensorError::HeaderTooLarge => "the header length is implausibly large".into(),
        SafeTensorError::MetadataIncompleteBuffer => {
            "the header's tensor sizes do not add up to the file's size (truncated or lying header)".into()
        }
        SafeTensorError::TensorInvalidInfo => "a tensor's byte range does not match its shape and dtype".into(),
        SafeTensorError::InvalidOffset(name) => format!("tensor '{name}' has offsets that overlap or leave gaps"),
        other => format!("invalid safetensors header: {other}"),
    }
}
