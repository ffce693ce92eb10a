//! A short identity of a model's files, to key caches and labels to the exact weights.
//!
//! Hashing a 13 GB checkpoint whole would take longer than loading it, so each file contributes
//! its name, its size and its first 4 MiB and last 1 MiB (headers, metadata, tensor tables and the
//! start and end of the data): enough to tell apart two models or two quantizations of one.
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::error::{EngineError, Result};

const HEAD: u64 = 4 << 20;
const TAIL: u64 = 1 << 20;

/// 16 hex digits identifying the model at `path` (a GGUF file or a Hugging Face directory).
pub fn fingerprint(path: &Path) -> Result<String> {
    let mut hasher = Sha256::new();
    for file in model_files(path)? {
        hash_file(&file, &mut hasher)?;
    }
    Ok(hasher.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect())
}

fn model_files(path: &Path) -> Result<Vec<PathBuf>> {
    if !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let entries = std::fs::read_dir(path).map_err(|e| EngineError::io(path, e))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().unwrap_or_default().to_string_lossy();
            name.ends_with(".safetensors") || name == "config.json" || name == "tokenizer.json"
        })
        .collect();
    files.sort();
    Ok(files)
}

fn hash_file(path: &Path, hasher: &mut Sha256) -> Result<()> {
    let io = |e| EngineError::io(path, e);
    let mut file = File::open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    hasher.update(path.file_name().unwrap_or_default().to_string_lossy().as_bytes());
    hasher.update(size.to_le_bytes());
    let mut buf = Vec::new();
    (&mut file).take(HEAD).read_to_end(&mut buf).map_err(io)?;
    if size > HEAD {
        file.seek(SeekFrom::Start(size.saturating_sub(TAIL).max(HEAD))).map_err(io)?;
        file.read_to_end(&mut buf).map_err(io)?;
    }
    hasher.update(&buf);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_follow_content_not_location() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, bytes: &[u8]| {
            let p = dir.path().join(name);
            std::fs::write(&p, bytes).unwrap();
            p
        };
        let big: Vec<u8> = (0..(6u32 << 20)).map(|i| (i % 251) as u8).collect();
        let a = fingerprint(&write("m.gguf", &big)).unwrap();
        assert_eq!(a.len(), 16);
        let mut changed_tail = big.clone();
        *changed_tail.last_mut().unwrap() ^= 1;
        assert_ne!(a, fingerprint(&write("m.gguf", &changed_tail)).unwrap());
        let mut changed_head = big.clone();
        changed_head[10] ^= 1;
        assert_ne!(a, fingerprint(&write("m.gguf", &changed_head)).unwrap());
        assert_eq!(a, fingerprint(&write("m.gguf", &big)).unwrap());
    }
}
