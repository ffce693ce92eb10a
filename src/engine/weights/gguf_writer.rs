//! Writing GGUF v3 files, laid out as gguf-py's `GGUFWriter` lays them out: the header, the
//! metadata, the tensor infos, padding to `general.alignment` (32 unless the metadata sets it),
//! then each tensor's data padded to the alignment.
//!
//! Every tensor's name, shape and type are declared up front (the tensor table precedes the
//! data), then the data is streamed in table order, in pieces of any size, so a file of many
//! gigabytes is written without holding it in memory. The file is written beside its final path
//! under a temporary name and renamed into place only when complete, so a reader never sees a
//! partial file under the final name, and an abandoned writer leaves nothing behind.
use std::collections::HashSet;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use super::gguf::{GgmlType, MetaValue};
use super::quantize::quantized_len;
use crate::engine::error::{EngineError, Result};

/// Alignment when the metadata does not set `general.alignment`.
const DEFAULT_ALIGNMENT: usize = 32;
/// ggml's `GGML_MAX_NAME`: a tensor name and its terminating zero must fit in 64 bytes.
const MAX_NAME_BYTES: usize = 63;
/// ggml's `GGML_MAX_DIMS`.
const MAX_DIMS: usize = 4;
/// Bytes buffered between writes to the file.
const BUFFER_BYTES: usize = 8 << 20;

/// A tensor to be written: its name, its shape in PyTorch order (outermost first; the file
/// stores the reverse) and its element type.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorEntry {
    pub name: String,
    pub shape: Vec<usize>,
    pub ty: GgmlType,
}

impl TensorEntry {
    pub fn new(name: impl Into<String>, shape: Vec<usize>, ty: GgmlType) -> Self {
        TensorEntry { name: name.into(), shape, ty }
    }

    /// The size of the data, after checking what ggml requires of a tensor: a name that fits,
    /// one to four non-zero dimensions, rows of whole blocks.
    pub fn n_bytes(&self) -> std::result::Result<usize, String> {
        let name = &self.name;
        if name.len() > MAX_NAME_BYTES {
            return Err(format!("tensor name '{name}' is {} bytes long (at most {MAX_NAME_BYTES})", name.len()));
        }
        if self.shape.is_empty() || self.shape.len() > MAX_DIMS || self.shape.contains(&0) {
            return Err(format!("tensor '{name}' has shape {:?}: 1 to {MAX_DIMS} non-zero dimensions", self.shape));
        }
        let (block_elements, _) = super::quant::block_size(self.ty);
        let row = self.shape[self.shape.len() - 1];
        if !row.is_multiple_of(block_elements) {
            return Err(format!(
                "tensor '{name}' has rows of {row} elements, not a multiple of the {} block size ({block_elements})",
                self.ty
            ));
        }
        let n_elements = self.shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
        n_elements
            .and_then(|n| quantized_len(self.ty, n))
            .ok_or_else(|| format!("tensor '{name}' shape {:?} has too many elements", self.shape))
    }
}

/// A GGUF file being written. Create it with the metadata and the tensor table, feed the tensors'
/// data in table order with [`GgufWriter::write_data`], then [`GgufWriter::finish`].
pub struct GgufWriter {
    path: PathBuf,
    out: BufWriter<NamedTempFile>,
    alignment: usize,
    /// Name and data size of each tensor, in table order.
    tensors: Vec<(String, usize)>,
    /// The tensor whose data comes next (no tensor is empty), and how many of its bytes were
    /// written.
    current: usize,
    written: usize,
}

impl GgufWriter {
    /// Starts a file that will appear at `path` when finished: writes the header, metadata and
    /// tensor table to a temporary file in the same directory.
    pub fn create(path: &Path, metadata: &[(String, MetaValue)], tensors: &[TensorEntry]) -> Result<GgufWriter> {
        let invalid = |problem: String| EngineError::Write { path: path.to_path_buf(), problem };
        let alignment = alignment(metadata).map_err(invalid)?;
        let mut head = b"GGUF".to_vec();
        head.extend(3u32.to_le_bytes());
        head.extend((tensors.len() as u64).to_le_bytes());
        head.extend((metadata.len() as u64).to_le_bytes());
        let mut keys = HashSet::new();
        for (key, value) in metadata {
            if !keys.insert(key.as_str()) {
                return Err(invalid(format!("metadata key '{key}' appears twice")));
            }
            put_string(&mut head, key);
            head.extend(value_type(value).to_le_bytes());
            put_value(&mut head, value).map_err(|e| invalid(format!("metadata '{key}': {e}")))?;
        }
        let mut names = HashSet::new();
        let mut sizes = Vec::with_capacity(tensors.len());
        let mut offset = 0u64;
        for t in tensors {
            let n_bytes = t.n_bytes().map_err(invalid)?;
            if !names.insert(t.name.as_str()) {
                return Err(invalid(format!("tensor '{}' appears twice", t.name)));
            }
            put_string(&mut head, &t.name);
            head.extend((t.shape.len() as u32).to_le_bytes());
            for &d in t.shape.iter().rev() {
                head.extend((d as u64).to_le_bytes());
            }
            head.extend(t.ty.id().to_le_bytes());
            head.extend(offset.to_le_bytes());
            offset += n_bytes.next_multiple_of(alignment) as u64;
            sizes.push((t.name.clone(), n_bytes));
        }
        head.resize(head.len().next_multiple_of(alignment), 0);

        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        std::fs::create_dir_all(dir).map_err(|e| EngineError::io(dir, e))?;
        let file = tempfile::Builder::new()
            .prefix(".partial-")
            .suffix(".gguf")
            .tempfile_in(dir)
            .map_err(|e| EngineError::io(dir, e))?;
        let mut out = BufWriter::with_capacity(BUFFER_BYTES, file);
        out.write_all(&head).map_err(|e| EngineError::io(path, e))?;
        Ok(GgufWriter { path: path.to_path_buf(), out, alignment, tensors: sizes, current: 0, written: 0 })
    }

    /// The final path of the file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends the next `bytes` of the tensors' data. A piece may not run past the end of the
    /// tensor it continues; when a tensor is complete its padding is written and the next one
    /// begins.
    pub fn write_data(&mut self, bytes: &[u8]) -> Result<()> {
        let Some((name, n_bytes)) = self.tensors.get(self.current) else {
            return Err(self.misuse(format!("{} bytes of data after the last tensor", bytes.len())));
        };
        let left = n_bytes - self.written;
        if bytes.len() > left {
            return Err(self.misuse(format!(
                "{} bytes for tensor '{name}', which has only {left} bytes left of {n_bytes}",
                bytes.len()
            )));
        }
        let io = |e| EngineError::io(&self.path, e);
        self.out.write_all(bytes).map_err(io)?;
        self.written += bytes.len();
        if self.written == *n_bytes {
            let padding = n_bytes.next_multiple_of(self.alignment) - n_bytes;
            self.out.write_all(&vec![0; padding]).map_err(io)?;
            self.current += 1;
            self.written = 0;
        }
        Ok(())
    }

    /// Checks that every tensor was written, flushes the file to disk and renames it into place.
    pub fn finish(self) -> Result<PathBuf> {
        if let Some((name, n_bytes)) = self.tensors.get(self.current) {
            return Err(self.misuse(format!(
                "finished with tensor '{name}' incomplete ({} of {n_bytes} bytes written)",
                self.written
            )));
        }
        let GgufWriter { path, out, .. } = self;
        let file = out.into_inner().map_err(|e| EngineError::io(&path, e.into_error()))?;
        file.as_file().sync_all().map_err(|e| EngineError::io(&path, e))?;
        file.persist(&path).map_err(|e| EngineError::io(&path, e.error))?;
        Ok(path)
    }

    fn misuse(&self, problem: String) -> EngineError {
        EngineError::Write { path: self.path.clone(), problem }
    }
}

/// `general.alignment` from the metadata: a power of two held in a u32, as the reader requires.
fn alignment(metadata: &[(String, MetaValue)]) -> std::result::Result<usize, String> {
    match metadata.iter().find(|(k, _)| k == "general.alignment") {
        None => Ok(DEFAULT_ALIGNMENT),
        Some((_, MetaValue::U32(a))) if a.is_power_of_two() => Ok(*a as usize),
        Some((_, v)) => Err(format!("general.alignment is {v:?}, not a power of two as a u32")),
    }
}

fn put_string(out: &mut Vec<u8>, s: &str) {
    out.extend((s.len() as u64).to_le_bytes());
    out.extend(s.as_bytes());
}

/// The type id GGUF stores for a value.
fn value_type(v: &MetaValue) -> u32 {
    match v {
        MetaValue::U8(_) => 0,
        MetaValue::I8(_) => 1,
        MetaValue::U16(_) => 2,
        MetaValue::I16(_) => 3,
        MetaValue::U32(_) => 4,
        MetaValue::I32(_) => 5,
        MetaValue::F32(_) => 6,
        MetaValue::Bool(_) => 7,
        MetaValue::String(_) => 8,
        MetaValue::Array(_) => 9,
        MetaValue::U64(_) => 10,
        MetaValue::I64(_) => 11,
        MetaValue::F64(_) => 12,
    }
}

/// A value's bytes after its type id. An array stores its element type and count, then its
/// elements, which must all be of one type; an empty array is stored as one of u8.
fn put_value(out: &mut Vec<u8>, v: &MetaValue) -> std::result::Result<(), String> {
    match v {
        MetaValue::U8(x) => out.extend(x.to_le_bytes()),
        MetaValue::I8(x) => out.extend(x.to_le_bytes()),
        MetaValue::U16(x) => out.extend(x.to_le_bytes()),
        MetaValue::I16(x) => out.extend(x.to_le_bytes()),
        MetaValue::U32(x) => out.extend(x.to_le_bytes()),
        MetaValue::I32(x) => out.extend(x.to_le_bytes()),
        MetaValue::F32(x) => out.extend(x.to_le_bytes()),
        MetaValue::Bool(x) => out.push(u8::from(*x)),
        MetaValue::String(s) => put_string(out, s),
        MetaValue::U64(x) => out.extend(x.to_le_bytes()),
        MetaValue::I64(x) => out.extend(x.to_le_bytes()),
        MetaValue::F64(x) => out.extend(x.to_le_bytes()),
        MetaValue::Array(items) => {
            let elem_ty = items.first().map_or(0, value_type);
            if let Some(i) = items.iter().position(|item| value_type(item) != elem_ty) {
                return Err(format!(
                    "array element {i} is of type {}, element 0 of type {elem_ty}",
                    value_type(&items[i])
                ));
            }
            out.extend(elem_ty.to_le_bytes());
            out.extend((items.len() as u64).to_le_bytes());
            for item in items {
                put_value(out, item)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
