//! The worker's grid job: a grid's maps reloaded from the cache, or built (every grid prompt through
//! the model, with progress and cancellation) and saved there for the next time; then the grid's
//! heuristic catalog.
use std::path::Path;
use std::sync::Arc;

use super::grid::LoadedGrid;
use crate::engine::error::Result;
use crate::engine::session::{Control, Session};
use crate::engine::EngineError;
use crate::science::heuristics::cache;
use crate::science::heuristics::maps::MapSettings;

/// The maps of `settings` for the session's model, whose weights have `fingerprint`.
pub fn load_or_build(
    session: &Session,
    cache_dir: &Path,
    fingerprint: &str,
    settings: MapSettings,
    control: Control,
) -> Result<LoadedGrid> {
    let tokenizer = session
        .tokenizer()
        .ok_or_else(|| EngineError::NoTokenizer("grid prompts need the model's tokenizer".into()))?;
    let (maps, _) =
        cache::load_or_build(session.model().as_ref(), tokenizer, cache_dir, fingerprint, settings, control)?;
    let token_texts = maps.target_tokens.iter().map(|&t| tokenizer.token_display(t)).collect();
    Ok(LoadedGrid::new(Arc::new(maps), token_texts))
}
