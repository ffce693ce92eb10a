//! Where exemplar files live: a directory per model and build in the cache directory,
//! `exemplars/<model fingerprint>-<build key>/`, so that the explorer and the commands find the
//! model's exemplars without being told.
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::error::ExemplarError;
use super::file::{ExemplarFile, FILE_NAME};

/// The directory of a build: `key` is what identifies the build apart from the model (the corpus
/// files' names, field, settings and concepts), hashed.
pub fn build_dir(cache: &Path, fingerprint: &str, key: &str) -> PathBuf {
    let digest: String = Sha256::digest(key.as_bytes()).iter().take(6).map(|b| format!("{b:02x}")).collect();
    cache.join("exemplars").join(format!("{}-{digest}", short(fingerprint)))
}

fn short(fingerprint: &str) -> &str {
    &fingerprint[..fingerprint.len().min(16)]
}

/// The most recently finished exemplar file of the model `fingerprint`, if any.
pub fn latest(cache: &Path, fingerprint: &str) -> Option<PathBuf> {
    finished(cache, fingerprint)
        .filter(|p| ExemplarFile::open(p).is_ok_and(|f| f.header().model.fingerprint == fingerprint))
        .max_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
}

/// Why each finished file in the model's directories does not open: what [`latest`] passes over.
pub fn broken(cache: &Path, fingerprint: &str) -> Vec<ExemplarError> {
    finished(cache, fingerprint).filter_map(|p| ExemplarFile::open(&p).err()).collect()
}

/// The finished files in the directories named for the model `fingerprint`.
fn finished(cache: &Path, fingerprint: &str) -> impl Iterator<Item = PathBuf> {
    let prefix = format!("{}-", short(fingerprint));
    let entries = std::fs::read_dir(cache.join("exemplars")).into_iter().flatten().flatten();
    entries
        .filter(move |e| e.file_name().to_string_lossy().starts_with(&prefix))
        .map(|e| e.path().join(FILE_NAME))
        .filter(|p| p.is_file())
}
