//! Writing an exemplar file, atomically.
use std::collections::HashMap;
use std::path::Path;

use safetensors::tensor::{Dtype, TensorView};

use super::{Documents, Header, EMPTY};
use crate::science::exemplars::collect::{Collector, NeuronState};
use crate::science::exemplars::error::{ExemplarError, Result};
use crate::science::exemplars::{Record, BINS, SAMPLES_PER_BIN};

/// Writes a file atomically: a crash leaves the previous file or the new one, never half of one.
pub fn write(path: &Path, header: &Header, documents: &Documents, state: &Collector) -> Result<()> {
    let (layers, d_ff, n) = (state.layers(), state.d_ff, state.top);
    let cells = layers * d_ff;
    let mut f32s: Vec<(String, Vec<usize>, Vec<f32>)> = Vec::new();
    let mut u32s: Vec<(String, Vec<usize>, Vec<u32>)> = Vec::new();
    let kept = |pick: fn(&NeuronState) -> &Vec<Record>| {
        let mut m = vec![f32::NAN; cells * n];
        let mut doc = vec![EMPTY; cells * n];
        let mut pos = vec![EMPTY; cells * n];
        for (i, s) in state.neurons.iter().enumerate() {
            for (k, r) in pick(s).iter().enumerate() {
                (m[i * n + k], doc[i * n + k], pos[i * n + k]) = (r.m, r.doc, r.pos);
            }
        }
        (m, doc, pos)
    };
    for (name, pick) in [("top", (|s| &s.top) as fn(&NeuronState) -> &Vec<Record>), ("bottom", |s| &s.bottom)] {
        let (m, doc, pos) = kept(pick);
        let shape = vec![layers, d_ff, n];
        f32s.push((format!("{name}.m"), shape.clone(), m));
        u32s.push((format!("{name}.doc"), shape.clone(), doc));
        u32s.push((format!("{name}.pos"), shape, pos));
    }
    let slots = BINS * SAMPLES_PER_BIN;
    let (mut m, mut doc, mut pos) =
        (vec![f32::NAN; cells * slots], vec![EMPTY; cells * slots], vec![EMPTY; cells * slots]);
    for (i, s) in state.neurons.iter().enumerate() {
        for (b, bin) in s.bins.iter().enumerate() {
            for (k, (_, r)) in bin.iter().enumerate() {
                let at = i * slots + b * SAMPLES_PER_BIN + k;
                (m[at], doc[at], pos[at]) = (r.m, r.doc, r.pos);
            }
        }
    }
    let bin_shape = vec![layers, d_ff, BINS, SAMPLES_PER_BIN];
    f32s.push(("bins.m".into(), bin_shape.clone(), m));
    u32s.push(("bins.doc".into(), bin_shape.clone(), doc));
    u32s.push(("bins.pos".into(), bin_shape, pos));
    let grid = vec![layers, d_ff];
    f32s.push(("stats.max".into(), grid.clone(), state.neurons.iter().map(|s| s.max).collect()));
    f32s.push(("stats.min".into(), grid.clone(), state.neurons.iter().map(|s| s.min).collect()));
    f32s.push(("layer.scale".into(), vec![layers], state.scales.clone()));
    u32s.push(("documents.tokens".into(), vec![documents.tokens.len()], documents.tokens.clone()));
    let origins: Vec<u32> = documents.origins.iter().flat_map(|&(s, l)| [s, l]).collect();
    u32s.push(("documents.origin".into(), vec![documents.len(), 2], origins));
    let concepts = header.concepts.len();
    let mut seed_sums = Vec::with_capacity(concepts * cells);
    for c in 0..concepts {
        seed_sums.extend(state.neurons.iter().map(|s| s.seed_sums[c]));
    }
    let i64s: Vec<(&str, Vec<usize>, Vec<i64>)> = vec![
        ("stats.sum", grid.clone(), state.neurons.iter().map(|s| s.sum).collect()),
        ("stats.sum_sq_hi", grid.clone(), state.neurons.iter().map(|s| (s.sum_sq >> 64) as i64).collect()),
        ("seeds.sum", vec![concepts, layers, d_ff], seed_sums),
    ];
    let u64s: Vec<(&str, Vec<usize>, Vec<u64>)> = vec![
        ("stats.sum_sq_lo", grid.clone(), state.neurons.iter().map(|s| s.sum_sq as u64).collect()),
        ("stats.in_top_k", grid, state.neurons.iter().map(|s| s.in_top_k).collect()),
        ("seeds.positions", vec![concepts], state.seed_positions.clone()),
        ("documents.offsets", vec![documents.offsets.len()], documents.offsets.clone()),
    ];
    let mut views: Vec<(String, TensorView)> = Vec::new();
    for (name, shape, data) in &f32s {
        views.push((name.to_string(), bytes(Dtype::F32, shape, bytemuck::cast_slice(data))));
    }
    for (name, shape, data) in &u32s {
        views.push((name.to_string(), bytes(Dtype::U32, shape, bytemuck::cast_slice(data))));
    }
    for (name, shape, data) in &i64s {
        views.push((name.to_string(), bytes(Dtype::I64, shape, bytemuck::cast_slice(data))));
    }
    for (name, shape, data) in &u64s {
        views.push((name.to_string(), bytes(Dtype::U64, shape, bytemuck::cast_slice(data))));
    }
    let json = serde_json::to_string(header).expect("a header serializes");
    let metadata = HashMap::from([("neuronav".to_string(), json)]);
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| ExemplarError::io(dir, e))?;
    let temp = tempfile::NamedTempFile::new_in(dir).map_err(|e| ExemplarError::io(dir, e))?;
    safetensors::serialize_to_file(views, Some(metadata), temp.path())
        .map_err(|e| ExemplarError::bad_file(temp.path(), e.to_string()))?;
    temp.persist(path).map_err(|e| ExemplarError::io(path, e.error))?;
    Ok(())
}

fn bytes<'a>(dtype: Dtype, shape: &[usize], data: &'a [u8]) -> TensorView<'a> {
    TensorView::new(dtype, shape.to_vec(), data).expect("shape matches data")
}
