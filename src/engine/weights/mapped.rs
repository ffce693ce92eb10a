//! A model file mapped into memory, kept open so that it can be checked before it is read.
//!
//! The CPU reads weights in place from the map. Should another program truncate the file while
//! it is mapped (rewriting it in place, a copy or download over it), reading a page past the new
//! end raises SIGBUS on Linux and macOS, which ends the process: the bytes are gone, and Rust
//! offers no way to turn the signal into an error. A handler that maps zero pages over the hole
//! could keep the process alive, but it would have to chain with std's own SIGBUS handler, stay
//! async-signal-safe while any of rayon's threads faults, and still leave every product computed
//! from zeros to be found and discarded; that is fragile. Instead the file is kept open and its
//! size read with `fstat` (about a microsecond) before each forward pass and each request that
//! reads weights: a file that shrank since it was opened is reported as an error naming it,
//! before any of its pages is touched. Only a truncation during a pass remains fatal. Replacing a
//! file by renaming a new one over it is safe: the map keeps the old file's data.
use std::fs::File;
use std::path::{Path, PathBuf};

use memmap2::Mmap;

use crate::engine::error::{EngineError, Result};

/// A file's read-only memory map, with the open file and its size when mapped.
pub struct MappedFile {
    pub path: PathBuf,
    file: File,
    map: Mmap,
}

impl MappedFile {
    pub fn open(path: &Path) -> Result<MappedFile> {
        let file = File::open(path).map_err(|e| EngineError::io(path, e))?;
        // SAFETY: the map is read-only and every slice taken from it is bounds-checked against
        // the length it had when mapped. A file truncated later is caught by `check` before a
        // pass reads it (see the module's note on what cannot be caught).
        let map = unsafe { Mmap::map(&file) }.map_err(|e| EngineError::io(path, e))?;
        Ok(MappedFile { path: path.to_path_buf(), file, map })
    }

    /// An error naming the file if it is now shorter than when it was mapped, so that reading
    /// its last pages would fault.
    pub fn check(&self) -> Result<()> {
        let now = self.file.metadata().map_err(|e| EngineError::io(&self.path, e))?.len();
        if now < self.map.len() as u64 {
            return Err(EngineError::bad_file(
                &self.path,
                format!(
                    "the file shrank from {} to {now} bytes after it was opened (truncated or being \
                     rewritten in place), so its weights can no longer be read; open the model again. \
                     To replace a model file while neuronav runs, write the new one beside it and rename \
                     it over the old",
                    self.map.len()
                ),
            ));
        }
        Ok(())
    }
}

impl std::ops::Deref for MappedFile {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.map
    }
}

impl AsRef<[u8]> for MappedFile {
    fn as_ref(&self) -> &[u8] {
        &self.map
    }
}
