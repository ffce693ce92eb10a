//! Result files of an analysis: one JSON file per sample, each written atomically (a temporary
//! file in the same directory, synced, then renamed), so an interrupted run keeps every sample it
//! finished and never leaves half a file under a result's name.
use std::io::Write;
use std::path::Path;

use super::error::{AnalysisError, Result};
use super::sample::SampleResult;

/// Replaces `path` with `bytes` in one step.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| AnalysisError::io(dir, e))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| AnalysisError::io(dir, e))?;
    tmp.write_all(bytes).and_then(|_| tmp.as_file().sync_all()).map_err(|e| AnalysisError::io(tmp.path(), e))?;
    tmp.persist(path).map_err(|e| AnalysisError::io(path, e.error))?;
    Ok(())
}

pub fn write(path: &Path, result: &SampleResult) -> Result<()> {
    let json = serde_json::to_string_pretty(result).expect("a result serializes");
    write_atomically(path, json.as_bytes())
}

/// The result at `path`; None when there is none yet. A file that does not parse is an error
/// naming it (results are written atomically, so this means it was edited or damaged).
pub fn read(path: &Path) -> Result<Option<SampleResult>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(AnalysisError::io(path, e)),
    };
    serde_json::from_str(&text).map(Some).map_err(|e| {
        AnalysisError::Invalid(format!(
            "{}: not a sample result ({e}); delete it to run the sample again",
            path.display()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::science::analysis::counting::Activations;
    use crate::science::analysis::sample::Run;

    #[test]
    fn results_round_trip_and_damage_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/q00001.json");
        assert_eq!(read(&path).unwrap(), None);
        let run =
            Run { prompt_tokens: 3, generated_text: "The answer is 5.".into(), activations: Activations::default() };
        let result = SampleResult::score("baseline", "cot", 1, "x\n#### 5", 1, run);
        assert!(result.correct);
        write(&path, &result).unwrap();
        assert_eq!(read(&path).unwrap(), Some(result));
        let leftovers = std::fs::read_dir(path.parent().unwrap()).unwrap().count();
        assert_eq!(leftovers, 1, "no temporary files stay behind");
        std::fs::write(&path, "{\"cond").unwrap();
        let err = read(&path).unwrap_err().to_string();
        assert!(err.contains("q00001.json: not a sample result"), "{err}");
    }
}
