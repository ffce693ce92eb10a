//! Where neuronav keeps its files: the platform's cache, data and config directories, or all three
//! under `$NEURONAV_HOME` when that is set (tests and CI use it to stay self-contained).
use std::path::PathBuf;

use directories::ProjectDirs;

#[derive(Debug, Clone)]
pub struct Paths {
    /// Downloaded models and rebuildable indexes.
    pub cache: PathBuf,
    /// Labels and verdicts: what the user made, never deleted by neuronav.
    pub data: PathBuf,
    /// Keymaps, themes, user concepts.
    pub config: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum PathsError {
    #[error("no home directory found; set NEURONAV_HOME to choose where neuronav keeps its files")]
    NoHome,
}

impl Paths {
    /// Where a run's trace puts the activations past its memory budget (in files that have no
    /// name and last as long as the run).
    pub fn trace_spill(&self) -> PathBuf {
        self.cache.join("trace")
    }

    pub fn resolve() -> Result<Paths, PathsError> {
        if let Some(home) = std::env::var_os("NEURONAV_HOME").filter(|h| !h.is_empty()) {
            let home = PathBuf::from(home);
            return Ok(Paths { cache: home.join("cache"), data: home.join("data"), config: home.join("config") });
        }
        let dirs = ProjectDirs::from("", "", "neuronav").ok_or(PathsError::NoHome)?;
        Ok(Paths {
            cache: dirs.cache_dir().to_path_buf(),
            data: dirs.data_dir().to_path_buf(),
            config: dirs.config_dir().to_path_buf(),
        })
    }
}
