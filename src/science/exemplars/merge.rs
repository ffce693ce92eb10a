//! The union of a sharded build: shard i of n holds documents i, i + n, …; merged, they give the
//! file one unsharded build writes, byte for byte.
use std::path::{Path, PathBuf};

use super::error::{ExemplarError, Result};
use super::file::{self, ExemplarFile, ShardOf, FILE_NAME};

/// The file shard `shard` writes in a build's directory.
pub fn shard_file(shard: ShardOf) -> String {
    format!("shard-{}-of-{}.safetensors", shard.index, shard.count)
}

/// Merges the finished shards in `dir` into `dir/exemplars.safetensors`.
pub fn merge(dir: &Path) -> Result<PathBuf> {
    let mut shards: Vec<(ShardOf, PathBuf)> = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| ExemplarError::io(dir, e))?;
    for entry in entries {
        let path = entry.map_err(|e| ExemplarError::io(dir, e))?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if let Some(shard) = parse_shard_file(name) {
            shards.push((shard, path));
        }
    }
    let Some(&(first, _)) = shards.first() else {
        return Err(ExemplarError::bad_file(dir, "holds no shard files (shard-I-of-N.safetensors)"));
    };
    let count = first.count;
    if let Some((other, path)) = shards.iter().find(|(s, _)| s.count != count) {
        return Err(ExemplarError::bad_file(path, format!("is a shard of {}, the others of {count}", other.count)));
    }
    shards.sort_by_key(|(s, _)| s.index);
    let missing: Vec<String> =
        (0..count).filter(|i| !shards.iter().any(|(s, _)| s.index == *i)).map(|i| format!("{i}/{count}")).collect();
    if !missing.is_empty() {
        return Err(ExemplarError::bad_file(dir, format!("lacks shard {} of this build", missing.join(", "))));
    }
    let files: Vec<ExemplarFile> = shards.iter().map(|(_, p)| ExemplarFile::open(p)).collect::<Result<_>>()?;
    let base = files[0].header().clone();
    for f in &files {
        let h = f.header();
        if !h.complete {
            return Err(ExemplarError::bad_file(f.path(), "is not finished: run its shard again to finish it"));
        }
        let same = h.model == base.model
            && h.corpus == base.corpus
            && h.settings == base.settings
            && h.concepts == base.concepts
            && h.calibration_tokens == base.calibration_tokens;
        if !same {
            return Err(ExemplarError::bad_file(
                f.path(),
                format!("is of another build than {}", files[0].path().display()),
            ));
        }
    }
    let (documents, mut state) = files[0].load()?;
    for f in &files[1..] {
        let (theirs, other) = f.load()?;
        if theirs != documents || other.scales != state.scales {
            return Err(ExemplarError::bad_file(f.path(), "holds other documents or scales than shard 0"));
        }
        state.merge(&other);
    }
    let header = file::Header { shard: ShardOf { index: 0, count: 1 }, positions: state.positions, ..base };
    let out = dir.join(FILE_NAME);
    file::write(&out, &header, &documents, &state)?;
    Ok(out)
}

fn parse_shard_file(name: &str) -> Option<ShardOf> {
    let rest = name.strip_prefix("shard-")?.strip_suffix(".safetensors")?;
    let (i, n) = rest.split_once("-of-")?;
    let (index, count) = (i.parse().ok()?, n.parse().ok()?);
    (index < count).then_some(ShardOf { index, count })
}
