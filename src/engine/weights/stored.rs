//! A tensor as its file stores it, for reading in place: nothing is copied or decoded.
use std::ops::Range;
use std::sync::Arc;

use super::gguf::GgmlType;
use super::mapped::MappedFile;

/// A tensor's encoding, shape and bytes within its file's memory map, which it shares with the
/// reader (and with every other tensor of the file) so that it outlives the reader.
pub struct StoredTensor {
    /// How the elements are encoded: a GGML type (safetensors' F32, F16 and BF16 are the same
    /// little-endian bytes as GGML's types of those names).
    pub format: GgmlType,
    /// PyTorch order (outermost first): a linear layer's weight is `[out, in]`, row-major.
    pub shape: Vec<usize>,
    /// The whole mapped file.
    pub map: Arc<MappedFile>,
    /// The tensor's bytes within `map`, checked against the file when it was opened.
    pub range: Range<usize>,
}

impl StoredTensor {
    /// The first `n` rows of a `[rows, cols]` matrix: a shorter range of the same map, since
    /// rows are stored one after another and each in the same number of bytes (whole blocks).
    pub fn first_rows(self, n: usize) -> StoredTensor {
        let rows = self.shape[0];
        assert!(n <= rows && self.range.len().is_multiple_of(rows), "{n} of {rows} rows in {} bytes", self.range.len());
        let end = self.range.start + self.range.len() / rows * n;
        StoredTensor { shape: vec![n, self.shape[1]], range: self.range.start..end, ..self }
    }
}
