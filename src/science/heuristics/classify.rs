//! Which heuristics a neuron implements: for every candidate H with budget k, the share of the
//! neuron's top-k prompts that satisfy H (docs/heuristics.md §4), plus the patterns mined from its
//! top prompts. Operand heuristics read the K map, result heuristics the KV map.
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::catalog::Catalog;
use super::grid::Operator;
use super::heuristic::{Heuristic, Operand};
use super::patterns::{mine, multi_result};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClassifySettings {
    /// A neuron implements H when score(H) >= threshold (the method's t = 0.6).
    pub threshold: f32,
    /// Also score the lowest-valued prompts of K maps: SwiGLU coefficients are signed, so a neuron
    /// can implement H by going most negative on it. KV maps are read from the top only (promotion).
    pub both_signs_k: bool,
}

impl Default for ClassifySettings {
    fn default() -> Self {
        ClassifySettings { threshold: 0.6, both_signs_k: true }
    }
}

/// Which end of the map the heuristic's prompts are at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Sign {
    Positive,
    Negative,
}

/// A heuristic a neuron implements, with its score in [0, 1].
#[derive(Debug, Clone, PartialEq)]
pub struct Match {
    pub heuristic: Heuristic,
    pub score: f32,
    pub sign: Sign,
}

const UNRANKED: u32 = u32::MAX;

/// How far above its base rate a catalog heuristic's score must be, in standard deviations of
/// the share a random ranking puts in the top k.
pub const CHANCE_SDS: f32 = 3.0;

/// The legal, non-NaN cells of one map by descending value (ties by cell), and each cell's rank.
#[derive(Debug, Default)]
struct Ranking {
    keys: Vec<u64>,
    order: Vec<u32>,
    rank: Vec<u32>,
}

/// A key whose ascending order is the descending order of the values (the bits of f32::total_cmp, flipped).
fn descending(v: f32) -> u32 {
    let bits = v.to_bits();
    if bits >> 31 == 1 {
        bits
    } else {
        !(bits | 1 << 31)
    }
}

impl Ranking {
    /// Illegal cells are skipped whatever the map holds there.
    fn build(&mut self, catalog: &Catalog, map: &[f32]) {
        // Sorting (key, cell) packed in a u64 is one integer sort instead of float comparisons.
        self.keys.clear();
        self.keys.extend(
            map.iter()
                .enumerate()
                .filter(|&(cell, v)| !v.is_nan() && catalog.problem(cell).is_some())
                .map(|(cell, &v)| u64::from(descending(v)) << 32 | cell as u64),
        );
        self.keys.sort_unstable();
        self.order.clear();
        self.order.extend(self.keys.iter().map(|&key| key as u32));
        self.rank.clear();
        self.rank.resize(map.len(), UNRANKED);
        for (r, &cell) in self.order.iter().enumerate() {
            self.rank[cell as usize] = r as u32;
        }
    }

    /// The k highest (Positive) or lowest (Negative) cells, in no particular order.
    fn top(&self, k: usize, sign: Sign) -> &[u32] {
        let k = k.min(self.order.len());
        match sign {
            Sign::Positive => &self.order[..k],
            Sign::Negative => &self.order[self.order.len() - k..],
        }
    }

    /// How many members are among the top k and among the bottom k.
    fn count(&self, members: &[u32], k: usize, both: bool) -> (usize, usize) {
        let n = self.order.len() as u32;
        let k = k.min(n as usize) as u32;
        let low = n - k;
        let (mut top, mut bottom) = (0, 0);
        for &cell in members {
            let r = self.rank[cell as usize];
            top += usize::from(r < k);
            bottom += usize::from(both && r >= low && r < n);
        }
        (top, bottom)
    }
}

/// Buffers reused from neuron to neuron.
#[derive(Debug, Default)]
struct Scratch {
    k: Ranking,
    kv: Ranking,
    values: Vec<u32>,
}

impl Scratch {
    fn classify(
        &mut self,
        catalog: &Catalog,
        k_map: &[f32],
        kv_map: &[f32],
        settings: &ClassifySettings,
    ) -> Vec<Match> {
        let cells = catalog.grid().len();
        assert!(k_map.len() == cells && kv_map.len() == cells, "maps must cover the {cells} grid cells");
        self.k.build(catalog, k_map);
        self.kv.build(catalog, kv_map);
        let mut out = self.fixed(catalog, settings);
        self.mined(catalog, settings, &mut out);
        // Stable: equal scores keep the catalog's order.
        out.sort_by(|a, b| b.score.total_cmp(&a.score));
        out
    }

    /// The catalog's candidates above the threshold and above chance, each with its better sign.
    /// A ranking that knows nothing scores about the heuristic's base rate, and some heuristics
    /// hold on most prompts (on the `-` grid op1 in [25, 50) on 75%, on `*` an even result on
    /// 75%), so a score must also beat the base rate by [`CHANCE_SDS`] standard deviations of a
    /// random top-k sample.
    fn fixed(&self, catalog: &Catalog, settings: &ClassifySettings) -> Vec<Match> {
        let mut out = Vec::new();
        for c in catalog.candidates() {
            let both = settings.both_signs_k && !c.heuristic.reads_result();
            let ranking = if c.heuristic.reads_result() { &self.kv } else { &self.k };
            let (top, bottom) = ranking.count(c.members(), c.budget, both);
            let (count, sign) = if bottom > top { (bottom, Sign::Negative) } else { (top, Sign::Positive) };
            // From below, it is its complement from above: that one reports it.
            if sign == Sign::Negative && c.complement.is_some() {
                continue;
            }
            let score = count as f32 / c.budget as f32;
            if score >= settings.threshold && beats_chance(score, c.base_rate, c.budget) {
                out.push(Match { heuristic: c.heuristic.clone(), score, sign });
            }
        }
        out
    }

    /// Appends the patterns and values mined from the top prompts (operands from the K map, both
    /// ends; results from the top of the KV map), and for `/` the multi-result set.
    fn mined(&mut self, catalog: &Catalog, settings: &ClassifySettings, out: &mut Vec<Match>) {
        let t = settings.threshold;
        let mined_from = out.len();
        let budget = catalog.mined_budget();
        let signs: &[Sign] = if settings.both_signs_k { &[Sign::Positive, Sign::Negative] } else { &[Sign::Positive] };
        for op in Operand::ALL {
            for &sign in signs {
                self.values.clear();
                self.values.extend(
                    self.k.top(budget, sign).iter().filter_map(|&c| catalog.problem(c as usize)).map(|p| op.of(&p)),
                );
                for (pattern, score) in mine(&self.values, catalog.operand_width(), budget) {
                    if beats_chance(score, catalog.pattern_base_rate(Some(op), pattern), budget) {
                        add_mined(out, mined_from, Heuristic::from_pattern(Some(op), pattern), score, sign, t);
                    }
                }
            }
        }
        self.values.clear();
        self.values.extend(result_values(catalog, self.kv.top(budget, Sign::Positive)));
        let division = catalog.grid().operator == Operator::Div;
        for (pattern, score) in mine(&self.values, catalog.result_width(), budget) {
            // Exact division has too few distinct results for digit patterns; values still count.
            let real = beats_chance(score, catalog.pattern_base_rate(None, pattern), budget);
            if real && (!division || pattern.value().is_some()) {
                add_mined(out, mined_from, Heuristic::from_pattern(None, pattern), score, Sign::Positive, t);
            }
        }
        if division {
            self.values.clear();
            self.values.extend(result_values(catalog, self.kv.top(catalog.multi_budget(), Sign::Positive)));
            if let Some((values, score)) = multi_result(&self.values).filter(|&(_, score)| score >= t) {
                out.push(Match { heuristic: Heuristic::MultiResult { values }, score, sign: Sign::Positive });
            }
        }
    }
}

fn result_values<'a>(catalog: &'a Catalog, cells: &'a [u32]) -> impl Iterator<Item = u32> + 'a {
    cells.iter().filter_map(|&c| catalog.problem(c as usize)).map(|p| p.result)
}

/// Heuristics reading fewer top prompts are not scored: a handful of prompts cannot tell a
/// heuristic from chance (on the exact-division 0..50 grid patterns would read 4).
pub const MIN_BUDGET: usize = 10;

/// Whether `score`, the share of k top prompts satisfying a heuristic that holds on a share `p`
/// of all prompts, is above what a random ranking gives by [`CHANCE_SDS`] standard deviations.
fn beats_chance(score: f32, p: f32, k: usize) -> bool {
    k >= MIN_BUDGET && score > p + CHANCE_SDS * (p * (1.0 - p) / k.max(1) as f32).sqrt()
}

/// Adds a mined match above the threshold and chance; one mined from both ends of the K map keeps
/// its better sign. Mined matches are `out[mined_from..]`.
fn add_mined(out: &mut Vec<Match>, mined_from: usize, heuristic: Heuristic, score: f32, sign: Sign, t: f32) {
    if score < t {
        return;
    }
    match out[mined_from..].iter_mut().find(|m| m.heuristic == heuristic) {
        Some(m) if score > m.score => (m.score, m.sign) = (score, sign),
        Some(_) => {}
        None => out.push(Match { heuristic, score, sign }),
    }
}

/// The heuristics one neuron implements, best first. `k_map` and `kv_map` hold one value per grid
/// cell, row-major; illegal cells (NaN by convention) and NaN cells are ignored.
pub fn classify(catalog: &Catalog, k_map: &[f32], kv_map: &[f32], settings: &ClassifySettings) -> Vec<Match> {
    Scratch::default().classify(catalog, k_map, kv_map, settings)
}

/// [`classify`] for neurons `0..neurons` in parallel; `maps(i)` gives neuron i's (K, KV) maps, so
/// they can be borrowed from one big array or decoded on the fly.
pub fn classify_many<F, K, V>(
    catalog: &Catalog,
    neurons: usize,
    maps: F,
    settings: &ClassifySettings,
) -> Vec<Vec<Match>>
where
    F: Fn(usize) -> (K, V) + Sync,
    K: AsRef<[f32]>,
    V: AsRef<[f32]>,
{
    (0..neurons)
        .into_par_iter()
        .map_init(Scratch::default, |scratch, i| {
            let (k, kv) = maps(i);
            scratch.classify(catalog, k.as_ref(), kv.as_ref(), settings)
        })
        .collect()
}

/// The share of neurons with at least one match (the paper's 91% for Llama-3-8B); 0 for none.
pub fn coverage(labels: &[Vec<Match>]) -> f64 {
    if labels.is_empty() {
        return 0.0;
    }
    labels.iter().filter(|m| !m.is_empty()).count() as f64 / labels.len() as f64
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::science::heuristics::catalog::CatalogSettings;
    use crate::science::heuristics::grid::{GridSpec, Problem};

    fn catalog(operator: Operator) -> Catalog {
        Catalog::new(&GridSpec::square(operator, 50), &CatalogSettings::default())
    }

    /// `signal` (1 on the cells where `on` holds, 0 elsewhere) plus noise below 1e-3; illegal cells NaN.
    fn map(catalog: &Catalog, seed: u64, signal: impl Fn(&Problem) -> bool) -> Vec<f32> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..catalog.grid().len())
            .map(|cell| {
                let noise = rng.random::<f32>() * 1e-3;
                catalog.problem(cell).map_or(f32::NAN, |p| f32::from(u8::from(signal(&p))) + noise)
            })
            .collect()
    }

    fn noise(catalog: &Catalog, seed: u64) -> Vec<f32> {
        map(catalog, seed, |_| false)
    }

    fn names(matches: &[Match]) -> Vec<String> {
        matches.iter().map(|m| m.heuristic.name()).collect()
    }

    fn score_of(matches: &[Match], name: &str) -> Option<(f32, Sign)> {
        matches.iter().find(|m| m.heuristic.name() == name).map(|m| (m.score, m.sign))
    }

    fn op1_3mod7(p: &Problem) -> bool {
        p.op1 % 7 == 3
    }

    #[test]
    fn a_mod_neuron_gets_its_label_with_either_sign() {
        let c = catalog(Operator::Add);
        let k = map(&c, 1, op1_3mod7);
        let kv = noise(&c, 2);
        let found = classify(&c, &k, &kv, &ClassifySettings::default());
        assert_eq!(found[0], Match { heuristic: "op1_3mod7".parse().unwrap(), score: 1.0, sign: Sign::Positive });
        assert_eq!(names(&found), ["op1_3mod7"]);

        let negative: Vec<f32> = k.iter().map(|v| -v).collect();
        let found = classify(&c, &negative, &kv, &ClassifySettings::default());
        assert_eq!(score_of(&found, "op1_3mod7"), Some((1.0, Sign::Negative)));
        let top_only = ClassifySettings { both_signs_k: false, ..Default::default() };
        assert!(classify(&c, &negative, &kv, &top_only).is_empty());
    }

    #[test]
    fn a_result_range_neuron_is_found_on_its_kv_map() {
        let c = catalog(Operator::Add);
        // [21, 31) holds 22 + 23 + .. + 31 = 265 cells, which is also its budget.
        let kv = map(&c, 3, |p| (21..31).contains(&p.result));
        let found = classify(&c, &noise(&c, 4), &kv, &ClassifySettings::default());
        assert_eq!(
            found[0],
            Match { heuristic: "result_range_21_31".parse().unwrap(), score: 1.0, sign: Sign::Positive }
        );
        // Ranges starting every size/3 overlap, so neighbours that share most of their cells pass too
        // ([24, 34) reads 295 prompts, 196 of them in [21, 31)); nothing else does.
        assert_eq!(names(&found[1..]), ["result_range_24_34", "result_range_18_28", "result_range_12_32"]);
        assert!(found[1..].iter().all(|m| m.score < 1.0));
        // The same map read as a K map implements no operand heuristic.
        assert!(classify(&c, &kv, &noise(&c, 5), &ClassifySettings::default()).is_empty());
    }

    #[test]
    fn random_maps_get_no_label() {
        let c = catalog(Operator::Add);
        for seed in 0..5 {
            let found = classify(&c, &noise(&c, 10 + seed), &noise(&c, 20 + seed), &ClassifySettings::default());
            assert!(found.is_empty(), "seed {seed}: {:?}", names(&found));
        }
    }

    #[test]
    fn scores_at_the_base_rate_are_chance_so_random_maps_stay_unlabelled_on_every_grid() {
        // A ranking that knows nothing scores about the base rate: on `-` op1 in [25, 50) holds on
        // 950 of 1275 cells, on `*` an even result on 75% of them.
        for operator in [Operator::Sub, Operator::Mul, Operator::Div] {
            let c = catalog(operator);
            assert!(c.candidates().iter().any(|cand| cand.base_rate >= 0.6), "{operator} has a common heuristic");
            for seed in 0..5 {
                let found = classify(&c, &noise(&c, 30 + seed), &noise(&c, 40 + seed), &ClassifySettings::default());
                assert!(found.is_empty(), "{operator} seed {seed}: {:?}", names(&found));
            }
        }
        // A neuron that really fires on a common heuristic still gets it.
        let sub = catalog(Operator::Sub);
        let upper = |p: &Problem| p.op1 >= 25;
        let found = classify(&sub, &map(&sub, 3, upper), &noise(&sub, 4), &ClassifySettings::default());
        assert_eq!(score_of(&found, "op1_range_25_50"), Some((1.0, Sign::Positive)));
    }

    #[test]
    fn a_heuristic_matched_from_below_is_reported_as_its_complement_from_above() {
        let c = catalog(Operator::Add);
        let lower = |p: &Problem| p.op1 < 25;
        let found = classify(&c, &map(&c, 11, lower), &noise(&c, 12), &ClassifySettings::default());
        assert_eq!(score_of(&found, "op1_range_0_25"), Some((1.0, Sign::Positive)));
        assert_eq!(score_of(&found, "op1_range_25_50"), None, "the same fact is not listed twice: {:?}", names(&found));
        let negative: Vec<f32> = map(&c, 11, lower).iter().map(|v| -v).collect();
        let found = classify(&c, &negative, &noise(&c, 12), &ClassifySettings::default());
        assert_eq!(score_of(&found, "op1_range_25_50"), Some((1.0, Sign::Positive)));
        assert_eq!(score_of(&found, "op1_range_0_25"), None);
        // Heuristics without a complement are still found from below.
        let mod7: Vec<f32> = map(&c, 13, op1_3mod7).iter().map(|v| -v).collect();
        let found = classify(&c, &mod7, &noise(&c, 14), &ClassifySettings::default());
        assert_eq!(score_of(&found, "op1_3mod7"), Some((1.0, Sign::Negative)));
    }

    #[test]
    fn illegal_and_nan_cells_never_count() {
        // `-` grid: 175 of op1_3mod7's cells are legal and its budget is 178, so at best 175/178.
        let sub = catalog(Operator::Sub);
        let found = classify(&sub, &map(&sub, 6, op1_3mod7), &noise(&sub, 7), &ClassifySettings::default());
        assert_eq!(score_of(&found, "op1_3mod7"), Some((175.0 / 178.0, Sign::Positive)));
        // Same with 0 rather than NaN in the illegal cells: they are skipped by the grid, not the value.
        let zeros: Vec<f32> = map(&sub, 6, op1_3mod7).iter().map(|v| if v.is_nan() { 0.0 } else { *v }).collect();
        assert_eq!(
            score_of(&classify(&sub, &zeros, &noise(&sub, 7), &ClassifySettings::default()), "op1_3mod7"),
            Some((175.0 / 178.0, Sign::Positive))
        );

        // + grid: blank out half of the members (op2 >= 25). NaN sorts above +inf and -NaN below
        // -inf in total order, so counting them would give 1.0; skipped, they leave 175 of 350.
        let add = catalog(Operator::Add);
        let every = ClassifySettings { threshold: 0.0, ..Default::default() };
        let mut k = map(&add, 8, op1_3mod7);
        for op1 in (3..50).step_by(7) {
            for op2 in 25..50 {
                k[add.grid().index(op1, op2).unwrap()] = f32::NAN;
            }
        }
        let kv = noise(&add, 9);
        assert_eq!(score_of(&classify(&add, &k, &kv, &every), "op1_3mod7"), Some((0.5, Sign::Positive)));
        let negative: Vec<f32> = k.iter().map(|v| -v).collect();
        assert!(negative.iter().any(|v| v.is_nan() && v.is_sign_negative()));
        assert_eq!(score_of(&classify(&add, &negative, &kv, &every), "op1_3mod7"), Some((0.5, Sign::Negative)));
    }

    #[test]
    fn mined_patterns_and_values_are_labels_too() {
        let c = catalog(Operator::Add);
        // op2 ending in 5 (the 5 columns 05, 15, .., 45), read from the top 50 prompts.
        let found = classify(&c, &map(&c, 11, |p| p.op2 % 10 == 5), &noise(&c, 12), &ClassifySettings::default());
        assert_eq!(score_of(&found, "op2_pattern_.5"), Some((1.0, Sign::Positive)));
        assert_eq!(score_of(&found, "op2_5mod10"), Some((1.0, Sign::Positive)));
        // Row 7 fills the top 50 prompts: the value and its units-digit mask; `0.` is a range.
        let found = classify(&c, &map(&c, 13, |p| p.op1 == 7), &noise(&c, 14), &ClassifySettings::default());
        assert_eq!(names(&found), ["op1_value_07", "op1_pattern_.7"]);
        // The Fig. 1 kind of neuron, r ≡ 8 (mod 10), on KV: its mod label, its mask, and what they imply.
        let found = classify(&c, &noise(&c, 15), &map(&c, 16, |p| p.result % 10 == 8), &ClassifySettings::default());
        for name in ["result_8mod10", "result_3mod5", "result_pattern_.8"] {
            assert_eq!(score_of(&found, name), Some((1.0, Sign::Positive)), "{name}");
        }
        // `/`: results 1, 2, 3 have 49 + 24 + 16 cells, so the top 50 hold all three and nothing else.
        let div = catalog(Operator::Div);
        let found =
            classify(&div, &noise(&div, 17), &map(&div, 18, |p| (1..4).contains(&p.result)), &Default::default());
        assert_eq!(score_of(&found, "result_multi_value_3=[1, 2, 3]"), Some((1.0, Sign::Positive)));
    }

    #[test]
    fn parallel_classification_matches_one_by_one_and_coverage_counts_labelled_neurons() {
        let c = catalog(Operator::Add);
        let maps: Vec<(Vec<f32>, Vec<f32>)> = (0..6)
            .map(|i| {
                if i % 2 == 0 {
                    (map(&c, i, op1_3mod7), noise(&c, 100 + i))
                } else {
                    (noise(&c, i), noise(&c, 100 + i))
                }
            })
            .collect();
        let s = ClassifySettings::default();
        let labels = classify_many(&c, maps.len(), |i| (&maps[i].0, &maps[i].1), &s);
        let one_by_one: Vec<Vec<Match>> = maps.iter().map(|(k, kv)| classify(&c, k, kv, &s)).collect();
        assert_eq!(labels, one_by_one);
        assert_eq!(coverage(&labels), 0.5);
        assert_eq!(coverage(&[]), 0.0);
    }
}
