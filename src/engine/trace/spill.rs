//! The file a trace's full vectors go to past its memory budget. It is written and read with
//! positional reads and writes (never memory-mapped, which would count the pages read back as
//! the process's memory again), belongs to one trace, and has no name: it is unlinked as it is
//! created, so that it disappears when the trace drops it or the process ends, crash included,
//! and two traces (compare mode's runs, two processes) can never share one.
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use crate::engine::error::{EngineError, Result};

/// Bytes of one stored value (the trace keeps f32).
const VALUE: u64 = std::mem::size_of::<f32>() as u64;

pub struct SpillFile {
    /// Where the file is made: the cache directory's `trace/` for the CLI and the explorer.
    dir: PathBuf,
    /// Made on the first write.
    file: Option<File>,
    /// Bytes in use; the next write goes here. Bytes past it are left from rolled-back passes.
    len: u64,
}

impl SpillFile {
    pub fn new(dir: PathBuf) -> Self {
        SpillFile { dir, file: None, len: 0 }
    }

    /// Bytes in use.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Appends `parts` one after another; returns the byte offset of the first.
    pub fn append(&mut self, parts: &[&[f32]]) -> Result<u64> {
        let at = self.len;
        let file = match &mut self.file {
            Some(file) => file,
            none => none.insert(create(&self.dir).map_err(|e| spill_error(&self.dir, "making", e))?),
        };
        let mut end = at;
        for part in parts {
            write_all_at(file, bytemuck::cast_slice(part), end).map_err(|e| spill_error(&self.dir, "writing", e))?;
            end += part.len() as u64 * VALUE;
        }
        self.len = end;
        Ok(at)
    }

    /// Fills `out` with the values at byte `offset`, which an [`append`](Self::append) returned
    /// (or a later value of the same write).
    pub fn read(&self, offset: u64, out: &mut [f32]) -> Result<()> {
        let end = offset + out.len() as u64 * VALUE;
        let file = self.file.as_ref().filter(|_| end <= self.len).ok_or_else(|| {
            let missing = io::Error::new(io::ErrorKind::UnexpectedEof, "bytes past what was written");
            self.error("reading", missing)
        })?;
        read_exact_at(file, bytemuck::cast_slice_mut(out), offset).map_err(|e| self.error("reading", e))
    }

    /// Forgets the bytes from `offset` on (a pass rolled back or taken back) and gives their disk
    /// space back. Later writes overwrite them, so a failure to shrink the file loses nothing.
    pub fn truncate(&mut self, offset: u64) {
        if offset < self.len {
            self.len = offset;
            if let Some(file) = &self.file {
                let _ = file.set_len(offset);
            }
        }
    }

    /// Deletes the file (its name is gone already; closing it frees the disk).
    pub fn clear(&mut self) {
        self.file = None;
        self.len = 0;
    }

    fn error(&self, action: &'static str, source: io::Error) -> EngineError {
        spill_error(&self.dir, action, source)
    }
}

fn spill_error(dir: &Path, action: &'static str, source: io::Error) -> EngineError {
    EngineError::Spill { dir: dir.to_path_buf(), action, source }
}

/// A file in `dir` (made when missing) that has no name.
fn create(dir: &Path) -> io::Result<File> {
    std::fs::create_dir_all(dir)?;
    tempfile::tempfile_in(dir)
}

#[cfg(unix)]
fn write_all_at(file: &File, bytes: &[u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(file, bytes, offset)
}

#[cfg(unix)]
fn read_exact_at(file: &File, bytes: &mut [u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, bytes, offset)
}

#[cfg(windows)]
fn write_all_at(file: &File, mut bytes: &[u8], mut offset: u64) -> io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !bytes.is_empty() {
        match file.seek_write(bytes, offset)? {
            0 => return Err(io::ErrorKind::WriteZero.into()),
            n => (bytes, offset) = (&bytes[n..], offset + n as u64),
        }
    }
    Ok(())
}

#[cfg(windows)]
fn read_exact_at(file: &File, mut bytes: &mut [u8], mut offset: u64) -> io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !bytes.is_empty() {
        match file.seek_read(bytes, offset)? {
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            n => (bytes, offset) = (&mut bytes[n..], offset + n as u64),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_come_back_as_written_and_truncation_forgets_them() {
        let home = tempfile::tempdir().unwrap();
        let dir = home.path().join("made/on/demand");
        let mut spill = SpillFile::new(dir.clone());
        assert_eq!(spill.len(), 0);
        let a = spill.append(&[&[1.0, 2.0], &[f32::MIN_POSITIVE, -0.0]]).unwrap();
        let b = spill.append(&[&[3.5]]).unwrap();
        assert_eq!((a, b, spill.len()), (0, 16, 20));
        let mut out = [0.0; 3];
        spill.read(4, &mut out).unwrap();
        assert_eq!(out.map(f32::to_bits), [2.0, f32::MIN_POSITIVE, -0.0].map(f32::to_bits));
        // The file has no name: the directory stays empty.
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
        spill.truncate(b);
        assert!(spill.read(b, &mut [0.0]).is_err(), "truncated values are gone");
        assert_eq!(spill.append(&[&[4.0]]).unwrap(), b);
        spill.clear();
        let err = spill.read(0, &mut [0.0]).unwrap_err();
        assert!(err.to_string().starts_with("reading the trace's spill file in "), "{err}");
    }

    #[test]
    fn a_directory_that_cannot_be_made_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a file");
        std::fs::write(&file, b"").unwrap();
        let mut spill = SpillFile::new(file.join("trace"));
        let err = spill.append(&[&[1.0]]).unwrap_err();
        let EngineError::Spill { dir: named, action, .. } = &err else { panic!("{err}") };
        assert_eq!((named, *action), (&file.join("trace"), "making"));
        assert_eq!(spill.len(), 0);
    }
}
