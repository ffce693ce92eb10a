//! The bytes of a packed matrix: owned, or a range of a buffer shared with others (a GGUF file's
//! memory map), so that a loader can hand over a tensor without copying it.
use std::fmt;
use std::ops::Range;
use std::sync::Arc;

/// A read-only byte buffer that outlives every matrix pointing into it (`memmap2::Mmap`,
/// `Vec<u8>`, ...).
pub type SharedBytes = Arc<dyn AsRef<[u8]> + Send + Sync>;

#[derive(Clone)]
pub enum Storage {
    Owned(Vec<u8>),
    /// `range` of `source`, checked to lie within it by [`Storage::shared`].
    Shared {
        source: SharedBytes,
        range: Range<usize>,
    },
}

impl Storage {
    /// `len` bytes of `source` from `offset`; `None` when they do not lie within it.
    pub fn shared(source: SharedBytes, offset: usize, len: usize) -> Option<Storage> {
        let end = offset.checked_add(len)?;
        let range = offset..end;
        (end <= (*source).as_ref().len()).then_some(Storage::Shared { source, range })
    }

    pub fn as_slice(&self) -> &[u8] {
        match self {
            Storage::Owned(bytes) => bytes,
            Storage::Shared { source, range } => &(**source).as_ref()[range.clone()],
        }
    }
}

impl From<Vec<u8>> for Storage {
    fn from(bytes: Vec<u8>) -> Storage {
        Storage::Owned(bytes)
    }
}

impl fmt::Debug for Storage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Storage::Owned(bytes) => write!(f, "Owned({} bytes)", bytes.len()),
            Storage::Shared { range, .. } => write!(f, "Shared({range:?})"),
        }
    }
}
