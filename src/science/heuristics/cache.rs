//! Grid maps on disk: one safetensors file per model and settings under the cache directory, so a
//! grid is computed once and reloaded in a fraction of a second. A file that does not load (cut
//! short, another version) is rebuilt, never trusted.
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use half::f16;
use safetensors::tensor::{Dtype, TensorView};
use sha2::{Digest, Sha256};

use super::maps::{GridMaps, MapSettings, Outcome};
use crate::engine::error::{EngineError, Result};
use crate::engine::runtime::Model;
use crate::engine::session::Control;
use crate::engine::tokenizer::Tokenizer;

/// Where the maps of `settings` for the model with `fingerprint` are kept.
pub fn path(cache_dir: &Path, fingerprint: &str, settings: &MapSettings) -> PathBuf {
    let json = serde_json::to_string(settings).expect("settings serialize");
    let hash: String = Sha256::digest(json.as_bytes()).iter().take(8).map(|b| format!("{b:02x}")).collect();
    cache_dir.join("grids").join(format!("{fingerprint}-{hash}.safetensors"))
}

/// The cached maps, or new ones built and saved; says whether they were built.
pub fn load_or_build(
    model: &dyn Model,
    tokenizer: &Tokenizer,
    cache_dir: &Path,
    fingerprint: &str,
    settings: MapSettings,
    control: Control,
) -> Result<(GridMaps, bool)> {
    let file = path(cache_dir, fingerprint, &settings);
    if let Ok(maps) = load(&file) {
        if maps.settings == settings && maps.d_ff == model.config().intermediate_size {
            return Ok((maps, false));
        }
    }
    let maps = GridMaps::build(model, tokenizer, settings, control)?;
    save(&maps, &file)?;
    Ok((maps, true))
}

/// Writes atomically: a temporary file in the same directory, then a rename.
pub fn save(maps: &GridMaps, file: &Path) -> Result<()> {
    let dir = file.parent().expect("cache files have a parent");
    std::fs::create_dir_all(dir).map_err(|e| EngineError::io(dir, e))?;
    let s = &maps.settings;
    let m_shape = vec![s.slots, s.layers.len(), maps.d_ff, s.spec.len()];
    let m_bytes: &[u8] = bytemuck::cast_slice(&maps.m);
    let lc_shape = vec![s.layers.len(), maps.d_ff, maps.target_tokens.len()];
    let lc_bytes: Vec<u8> = maps.value_logits.iter().flat_map(|x| x.to_le_bytes()).collect();
    let views = vec![
        ("m", TensorView::new(Dtype::F16, m_shape, m_bytes).expect("sizes match")),
        ("value_logits", TensorView::new(Dtype::F32, lc_shape, &lc_bytes).expect("sizes match")),
    ];
    let metadata: HashMap<String, String> = [
        ("settings".to_string(), json(&maps.settings)),
        ("outcomes".to_string(), json(&maps.outcomes)),
        ("targets".to_string(), json(&maps.targets)),
        ("target_tokens".to_string(), json(&maps.target_tokens)),
    ]
    .into();
    let tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| EngineError::io(dir, e))?;
    safetensors::serialize_to_file(views, Some(metadata), tmp.path())
        .map_err(|e| EngineError::bad_file(tmp.path(), e.to_string()))?;
    tmp.persist(file).map_err(|e| EngineError::io(file, e.error))?;
    Ok(())
}

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("plain data serializes")
}

/// Reads maps saved by [`save`]; anything inconsistent is a [`EngineError::BadFile`].
pub fn load(file: &Path) -> Result<GridMaps> {
    let bytes = std::fs::read(file).map_err(|e| EngineError::io(file, e))?;
    let bad = |what: String| EngineError::bad_file(file, what);
    let (_, header) =
        safetensors::SafeTensors::read_metadata(&bytes).map_err(|e| bad(format!("not grid maps: {e}")))?;
    let st = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| bad(format!("not grid maps: {e}")))?;
    let meta = header.metadata().clone().unwrap_or_default();
    fn field<T: serde::de::DeserializeOwned>(meta: &HashMap<String, String>, key: &str) -> Option<T> {
        meta.get(key).and_then(|v| serde_json::from_str(v).ok())
    }
    let missing = |key: &str| bad(format!("no valid '{key}' in the metadata"));
    let settings: MapSettings = field(&meta, "settings").ok_or_else(|| missing("settings"))?;
    let outcomes: Vec<Option<Outcome>> = field(&meta, "outcomes").ok_or_else(|| missing("outcomes"))?;
    let targets: Vec<Option<u32>> = field(&meta, "targets").ok_or_else(|| missing("targets"))?;
    let target_tokens: Vec<u32> = field(&meta, "target_tokens").ok_or_else(|| missing("target_tokens"))?;
    let tensor = |name: &str, dtype: Dtype| {
        let view = st.tensor(name).map_err(|_| bad(format!("no tensor '{name}'")))?;
        if view.dtype() != dtype {
            return Err(bad(format!("tensor '{name}' is not {dtype:?}")));
        }
        Ok((view.shape().to_vec(), view.data()))
    };
    let (m_shape, m) = tensor("m", Dtype::F16)?;
    let (lc_shape, lc) = tensor("value_logits", Dtype::F32)?;
    let cells = settings.spec.len();
    let d_ff = m_shape.get(2).copied().unwrap_or(0);
    let consistent = m_shape == [settings.slots, settings.layers.len(), d_ff, cells]
        && lc_shape == [settings.layers.len(), d_ff, target_tokens.len()]
        && outcomes.len() == cells
        && targets.len() == settings.slots * cells;
    if !consistent {
        return Err(bad("shapes disagree with the settings".into()));
    }
    Ok(GridMaps {
        settings,
        d_ff,
        m: bytemuck::pod_collect_to_vec::<u8, f16>(m),
        outcomes,
        targets,
        target_tokens,
        value_logits: lc.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes"))).collect(),
    })
}
