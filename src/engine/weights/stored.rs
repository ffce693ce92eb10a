//! A tensor as its file stores it, for reading in place: nothing is copied or decoded.
use std::ops::Range;
use std::sync::Arc;

use memmap2::Mmap;

use super::gguf::GgmlType;

/// A tensor's encoding, shape and bytes within its file's memory map, which it shares with the
/// reader (and with every other tensor of the file) so that it outlives the reader.
pub struct StoredTensor {
    /// How the elements are encoded: a GGML type (safetensors' F32, F16 and BF16 are the same
    /// little-endian bytes as GGML's types of those names).
    pub format: GgmlType,
    /// PyTorch order (outermost first): a linear layer's weight is `[out, in]`, row-major.
    pub shape: Vec<usize>,
    /// The whole mapped file.
    pub map: Arc<Mmap>,
    /// The tensor's bytes within `map`, checked against the file when it was opened.
    pub range: Range<usize>,
}
