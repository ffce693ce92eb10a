//! Which neurons an ablation removes: a list or file of ids, or a seeded draw, and the control
//! set of the method's experiment (as many random neurons from the same layers).
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use rand::seq::{IndexedRandom, SliceRandom};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::error::{AnalysisError, Result};
use crate::engine::intervention::Interventions;
use crate::engine::neuron::NeuronId;

/// How a neuron is ablated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AblationMode {
    /// Zero the coefficient m
    #[default]
    Zero,
    /// Add seeded Gaussian noise (mean -1, sd 1) to the value vector, as the method does
    Noise,
}

impl AblationMode {
    /// The interventions that ablate `ids` this way.
    pub fn interventions(self, ids: &[NeuronId], seed: u64, d_model: usize) -> Interventions {
        let mut i = Interventions::default();
        match self {
            AblationMode::Zero => i.zero(ids),
            AblationMode::Noise => i.noise(ids, seed, d_model),
        };
        i
    }
}

/// Neuron ids from a comma- or whitespace-separated list (`L21N7027,L3N5`), or, when `spec`
/// names an existing file, from that file (`#` starts a comment).
pub fn parse_ids(spec: &str) -> Result<Vec<NeuronId>> {
    let path = Path::new(spec);
    let (text, origin) = if path.is_file() {
        (std::fs::read_to_string(path).map_err(|e| AnalysisError::io(path, e))?, path.display().to_string())
    } else {
        (spec.to_string(), "the neuron list".to_string())
    };
    // A file's problems are the file's; a list's are the argument's.
    let bad = |line: Option<usize>, what: String| match (path.is_file(), line) {
        (true, Some(line)) => AnalysisError::BadLine { path: path.to_path_buf(), line, what },
        (true, None) => AnalysisError::bad_file(path, what),
        (false, Some(line)) => AnalysisError::Invalid(format!("{origin}, line {line}: {what}")),
        (false, None) => AnalysisError::Invalid(format!("{origin}: {what}")),
    };
    let mut ids = BTreeSet::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("");
        for word in line.split([',', ' ', '\t']).filter(|w| !w.trim().is_empty()) {
            let id = word.parse::<NeuronId>().map_err(|e| bad(Some(i + 1), e))?;
            ids.insert(id);
        }
    }
    if ids.is_empty() {
        return Err(bad(None, "no neuron ids".into()));
    }
    Ok(ids.into_iter().collect())
}

/// One neuron's coefficient factor from `L21N7027=2.5`.
pub fn parse_scale(spec: &str) -> Result<(NeuronId, f32)> {
    let invalid = |why: String| AnalysisError::Invalid(format!("{spec}: {why}"));
    let (id, f) = spec.split_once('=').ok_or_else(|| invalid("expected ID=FACTOR, like L21N7027=2.5".into()))?;
    let id = id.trim().parse::<NeuronId>().map_err(|e| invalid(e.to_string()))?;
    let f: f32 = f
        .trim()
        .parse()
        .ok()
        .filter(|f: &f32| f.is_finite())
        .ok_or_else(|| invalid(format!("'{f}' is not a number")))?;
    Ok((id, f))
}

/// Checks that `ids` exist in a model of `n_layers` × `d_ff`.
pub fn check_ids(ids: &[NeuronId], n_layers: usize, d_ff: usize) -> Result<()> {
    match ids.iter().find(|id| id.layer as usize >= n_layers || id.index as usize >= d_ff) {
        Some(id) => {
            Err(AnalysisError::Invalid(format!("{id} is not in this model ({n_layers} layers × {d_ff} neurons)")))
        }
        None => Ok(()),
    }
}

/// `n` of `ids` drawn with `seed`, sorted.
pub fn draw(ids: &[NeuronId], n: usize, seed: u64) -> Result<Vec<NeuronId>> {
    if n > ids.len() {
        return Err(AnalysisError::Invalid(format!("cannot draw {n} of {} neurons", ids.len())));
    }
    let mut out: Vec<NeuronId> = ids.choose_multiple(&mut ChaCha8Rng::seed_from_u64(seed), n).copied().collect();
    out.sort();
    Ok(out)
}

/// The method's control: for each layer of `ids`, as many neurons of that layer drawn with `seed`
/// from those not in `exclude` (the reasoning neurons), sorted.
pub fn matched_random(ids: &[NeuronId], exclude: &[NeuronId], d_ff: usize, seed: u64) -> Result<Vec<NeuronId>> {
    let mut per_layer: BTreeMap<u32, usize> = BTreeMap::new();
    ids.iter().for_each(|id| *per_layer.entry(id.layer).or_default() += 1);
    let exclude: BTreeSet<NeuronId> = exclude.iter().chain(ids).copied().collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = Vec::new();
    for (&layer, &n) in &per_layer {
        let mut pool: Vec<NeuronId> =
            (0..d_ff as u32).map(|index| NeuronId { layer, index }).filter(|id| !exclude.contains(id)).collect();
        if pool.len() < n {
            return Err(AnalysisError::Invalid(format!(
                "layer {layer} has only {} other neurons to draw {n}",
                pool.len()
            )));
        }
        pool.shuffle(&mut rng);
        out.extend_from_slice(&pool[..n]);
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(layer: u32, index: u32) -> NeuronId {
        NeuronId { layer, index }
    }

    #[test]
    fn parses_lists_and_files_and_names_bad_entries() {
        assert_eq!(parse_ids("L21N7027,L3N5 L3N5").unwrap(), vec![id(3, 5), id(21, 7027)]);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("n.txt");
        std::fs::write(&file, "# reasoning\nL1N2\nL0N1, L1N3 # add\n").unwrap();
        assert_eq!(parse_ids(file.to_str().unwrap()).unwrap(), vec![id(0, 1), id(1, 2), id(1, 3)]);
        std::fs::write(&file, "L1N2\nbogus\n").unwrap();
        let err = parse_ids(file.to_str().unwrap()).unwrap_err().to_string();
        assert!(err.contains("n.txt, line 2") && err.contains("bogus"), "{err}");
        assert!(parse_ids(" , ").is_err());
        assert_eq!(parse_scale("L21N7027=2.5").unwrap(), (id(21, 7027), 2.5));
        assert!(parse_scale("L1N2").unwrap_err().to_string().contains("ID=FACTOR"));
        assert!(parse_scale("L1N2=x").unwrap_err().to_string().contains("'x'"));
        assert!(check_ids(&[id(2, 9)], 3, 10).is_ok());
        assert!(check_ids(&[id(3, 0)], 3, 10).is_err());
        assert!(check_ids(&[id(0, 10)], 3, 10).is_err());
    }

    #[test]
    fn the_control_matches_layers_and_avoids_the_ablated_neurons() {
        let ids = [id(1, 0), id(1, 1), id(2, 5)];
        let control = matched_random(&ids, &[id(1, 2)], 6, 9).unwrap();
        assert_eq!(control, matched_random(&ids, &[id(1, 2)], 6, 9).unwrap());
        assert_eq!(control.iter().filter(|c| c.layer == 1).count(), 2);
        assert_eq!(control.iter().filter(|c| c.layer == 2).count(), 1);
        // Layer 1 has four neurons, all ablated or excluded: none is left to draw.
        assert!(matched_random(&[id(1, 0), id(1, 1), id(1, 3)], &[id(1, 2)], 4, 9).is_err());
        assert!(control.iter().all(|c| !ids.contains(c) && *c != id(1, 2)));
        let drawn = draw(&ids, 2, 1).unwrap();
        assert_eq!(drawn.len(), 2);
        assert!(drawn.iter().all(|d| ids.contains(d)));
        assert!(draw(&ids, 4, 1).is_err());
    }
}
