//! Naming and ranking feed-forward neurons.
use std::fmt;
use std::str::FromStr;

/// Neuron `index` of layer `layer`, both 0-based, written `L{layer}N{index}`, in JSON as well.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NeuronId {
    pub layer: u32,
    pub index: u32,
}

impl serde::Serialize for NeuronId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Read from the name, or from `{"layer": 21, "index": 7027}`, as files of earlier versions hold it.
impl<'de> serde::Deserialize<'de> for NeuronId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Written {
            Name(String),
            Fields { layer: u32, index: u32 },
        }
        match Written::deserialize(d)? {
            Written::Name(name) => name.parse().map_err(serde::de::Error::custom),
            Written::Fields { layer, index } => Ok(NeuronId { layer, index }),
        }
    }
}

impl fmt::Display for NeuronId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "L{}N{}", self.layer, self.index)
    }
}

impl FromStr for NeuronId {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("'{s}' is not a neuron id like L21N7027");
        let rest = s.trim().strip_prefix(['L', 'l']).ok_or_else(bad)?;
        let (layer, index) = rest.split_once(['N', 'n']).ok_or_else(bad)?;
        Ok(NeuronId { layer: layer.parse().map_err(|_| bad())?, index: index.parse().map_err(|_| bad())? })
    }
}

/// A neuron's activity at one position: its coefficient m and score s = |m|·‖v‖.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct NeuronHit {
    pub index: u32,
    pub m: f32,
    pub s: f32,
}

/// The `k` neurons with the largest score s = |m_j|·‖v_j‖, best first (ties: lower index first).
/// `m: [d_ff]`, `value_norms: [d_ff]`.
pub fn top_k(m: &[f32], value_norms: &[f32], k: usize) -> Vec<NeuronHit> {
    let mut hits: Vec<NeuronHit> = m
        .iter()
        .zip(value_norms)
        .enumerate()
        .map(|(j, (&m, &norm))| NeuronHit { index: j as u32, m, s: m.abs() * norm })
        .collect();
    let order = |a: &NeuronHit, b: &NeuronHit| b.s.total_cmp(&a.s).then(a.index.cmp(&b.index));
    let k = k.min(hits.len());
    if k < hits.len() && k > 0 {
        hits.select_nth_unstable_by(k - 1, order);
    }
    hits.truncate(k);
    // Kept per position and layer: hold K entries, not d_ff.
    hits.shrink_to_fit();
    hits.sort_unstable_by(order);
    hits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_reject_garbage() {
        let id: NeuronId = "L21N7027".parse().unwrap();
        assert_eq!(id, NeuronId { layer: 21, index: 7027 });
        assert_eq!(id.to_string(), "L21N7027");
        assert_eq!("l3n4".parse::<NeuronId>().unwrap(), NeuronId { layer: 3, index: 4 });
        for bad in ["", "L21", "N3", "L-1N2", "L1N", "X1N2", "L1N2x"] {
            assert!(bad.parse::<NeuronId>().is_err(), "{bad} parsed");
        }
    }

    #[test]
    fn json_holds_the_name_and_earlier_files_fields_still_read() {
        let id = NeuronId { layer: 21, index: 7027 };
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"L21N7027\"");
        assert_eq!(serde_json::from_str::<NeuronId>("\"L21N7027\"").unwrap(), id);
        assert_eq!(serde_json::from_str::<NeuronId>(r#"{"layer": 21, "index": 7027}"#).unwrap(), id);
        assert!(serde_json::from_str::<NeuronId>("\"L21\"").is_err());
    }

    #[test]
    fn top_k_ranks_by_score_not_coefficient() {
        // m = [3, -5, 1, 4], norms = [1, 0.5, 10, 1] => s = [3, 2.5, 10, 4]
        let hits = top_k(&[3.0, -5.0, 1.0, 4.0], &[1.0, 0.5, 10.0, 1.0], 3);
        let order: Vec<u32> = hits.iter().map(|h| h.index).collect();
        assert_eq!(order, vec![2, 3, 0]);
        assert_eq!(hits[0].m, 1.0);
        assert_eq!(hits[0].s, 10.0);
        assert_eq!(top_k(&[1.0], &[1.0], 5).len(), 1);
        assert!(top_k(&[1.0, 2.0], &[1.0, 1.0], 0).is_empty());
    }
}
