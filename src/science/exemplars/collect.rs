//! The state a pass over the corpus fills in, neuron by neuron, and how two such states merge.
//!
//! Everything here is independent of the order positions arrive in, so that shards merged give
//! the same state as one pass: the kept positions are the best under a total order (ties broken
//! by document and position), bin samples are the positions with the smallest hash of (neuron,
//! document, position), and sums are kept in fixed point, whose addition is associative.
use rayon::prelude::*;

use super::{bin_of, Record, BINS, SAMPLES_PER_BIN};
use crate::engine::neuron::top_k;

/// Units per 1.0 of the fixed-point sums: each window's sum is rounded to 2⁻¹⁶.
pub const FIXED: f64 = 65536.0;

/// One neuron's share of the state.
#[derive(Debug, Clone, PartialEq)]
pub struct NeuronState {
    /// The largest m, best first (at most `top`).
    pub top: Vec<Record>,
    /// The smallest m, most negative first.
    pub bottom: Vec<Record>,
    /// Per bin, the samples with the smallest keys, by key: `(key, record)`.
    pub bins: [Vec<(u64, Record)>; BINS],
    /// Σ m and Σ m², in units of 1/[`FIXED`].
    pub sum: i64,
    pub sum_sq: i128,
    pub max: f32,
    pub min: f32,
    /// Positions where the neuron is among its layer's top K by score.
    pub in_top_k: u64,
    /// Per concept, Σ m over the positions where the concept's seed words are.
    pub seed_sums: Vec<i64>,
}

impl NeuronState {
    fn new(concepts: usize) -> Self {
        NeuronState {
            top: Vec::new(),
            bottom: Vec::new(),
            bins: Default::default(),
            sum: 0,
            sum_sq: 0,
            max: f32::NEG_INFINITY,
            min: f32::INFINITY,
            in_top_k: 0,
            seed_sums: vec![0; concepts],
        }
    }

    /// The largest |m| seen: the scale the neuron's activations are shown in.
    pub fn scale(&self) -> f32 {
        self.max.abs().max(self.min.abs())
    }

    fn merge(&mut self, other: &NeuronState, top: usize, key_of: impl Fn(&Record) -> u64) {
        for r in &other.top {
            keep(&mut self.top, *r, top, higher);
        }
        for r in &other.bottom {
            keep(&mut self.bottom, *r, top, lower);
        }
        for (mine, theirs) in self.bins.iter_mut().zip(&other.bins) {
            for (_, r) in theirs {
                sample(mine, key_of(r), *r);
            }
        }
        self.sum += other.sum;
        self.sum_sq += other.sum_sq;
        self.max = self.max.max(other.max);
        self.min = self.min.min(other.min);
        self.in_top_k += other.in_top_k;
        for (a, b) in self.seed_sums.iter_mut().zip(&other.seed_sums) {
            *a += b;
        }
    }
}

/// `a` ranks before `b` among the largest m.
fn higher(a: &Record, b: &Record) -> bool {
    a.m > b.m || (a.m == b.m && (a.doc, a.pos) < (b.doc, b.pos))
}

/// `a` ranks before `b` among the smallest m.
fn lower(a: &Record, b: &Record) -> bool {
    a.m < b.m || (a.m == b.m && (a.doc, a.pos) < (b.doc, b.pos))
}

/// Inserts `r` into `list` (ordered by `before`, at most `cap` long) if it belongs there.
fn keep(list: &mut Vec<Record>, r: Record, cap: usize, before: fn(&Record, &Record) -> bool) {
    if list.len() == cap && list.last().is_none_or(|last| !before(&r, last)) {
        return;
    }
    let at = list.partition_point(|x| before(x, &r));
    list.insert(at, r);
    list.truncate(cap);
}

/// Inserts a sample into a bin if its key is among the smallest.
fn sample(bin: &mut Vec<(u64, Record)>, key: u64, r: Record) {
    let order = |x: &(u64, Record)| (x.0, x.1.doc, x.1.pos);
    let new = (key, r.doc, r.pos);
    if bin.len() == SAMPLES_PER_BIN && bin.last().is_some_and(|last| order(last) <= new) {
        return;
    }
    let at = bin.partition_point(|x| order(x) < new);
    bin.insert(at, (key, r));
    bin.truncate(SAMPLES_PER_BIN);
}

/// splitmix64's finalizer: a cheap, well-mixed 64-bit hash step.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d049bb133111eb);
    x ^ (x >> 31)
}

/// The per-position part of [`sample_key`], computed once per position for all neurons.
fn position_key(doc: u32, pos: u32) -> u64 {
    mix((doc as u64) << 32 | pos as u64)
}

/// The sampling key of a neuron's position: a hash, so that which positions a bin keeps does
/// not depend on the order they came in. One multiply per neuron and position on top of
/// [`position_key`]: cheap enough for every position of every neuron.
fn key(position_key: u64, neuron_salt: u64) -> u64 {
    (position_key ^ neuron_salt).wrapping_mul(0x9e3779b97f4a7c15)
}

pub fn sample_key(neuron_salt: u64, doc: u32, pos: u32) -> u64 {
    key(position_key(doc, pos), neuron_salt)
}

/// The per-neuron part of [`sample_key`], for the neuron numbered `global` (layer·d_ff + index).
pub fn neuron_salt(global: u64) -> u64 {
    mix(global.wrapping_add(0x9e3779b97f4a7c15))
}

/// One layer's positions to add: `m` is `[rows, d_ff]`; row r is position `first_pos + r` of
/// document `doc`; rows in `counted` count, except those `skip` marks (the BOS token, whose
/// activations are the same in every document). `skip` and `seeds` hold one entry per counted row.
pub struct LayerRows<'a> {
    pub layer: usize,
    pub m: &'a [f32],
    pub doc: u32,
    pub first_pos: u32,
    pub counted: std::ops::Range<usize>,
    pub skip: &'a [bool],
    /// Per row, a bit per concept whose seed words are at that position.
    pub seeds: &'a [u64],
    /// ‖v_j‖ of the layer, which ranks neurons by score for the top-K count.
    pub value_norms: &'a [f32],
}

/// The whole model's state.
#[derive(Debug, Clone, PartialEq)]
pub struct Collector {
    pub d_ff: usize,
    /// Positions kept per neuron by m and by −m.
    pub top: usize,
    /// K of the top-K count.
    pub top_k: usize,
    /// The bins' unit, per layer.
    pub scales: Vec<f32>,
    /// `[layers × d_ff]`, layer-major.
    pub neurons: Vec<NeuronState>,
    /// Positions counted.
    pub positions: u64,
    /// Per concept, positions counted where its seed words are.
    pub seed_positions: Vec<u64>,
}

impl Collector {
    pub fn new(scales: Vec<f32>, d_ff: usize, top: usize, top_k: usize, concepts: usize) -> Self {
        let neurons = vec![NeuronState::new(concepts); scales.len() * d_ff];
        Collector { d_ff, top, top_k, scales, neurons, positions: 0, seed_positions: vec![0; concepts] }
    }

    pub fn layers(&self) -> usize {
        self.scales.len()
    }

    pub fn neuron(&self, layer: usize, index: usize) -> &NeuronState {
        &self.neurons[layer * self.d_ff + index]
    }

    /// Counts positions once, whatever the layers: call once per window with its counted rows.
    pub fn count_positions(&mut self, skip: &[bool], seeds: &[u64]) {
        for (row, &skipped) in skip.iter().enumerate() {
            if skipped {
                continue;
            }
            self.positions += 1;
            for (c, n) in self.seed_positions.iter_mut().enumerate() {
                *n += (seeds[row] >> c) & 1;
            }
        }
    }

    /// Adds one layer's rows (see [`LayerRows`]).
    pub fn add(&mut self, rows: &LayerRows) {
        let d_ff = self.d_ff;
        let (top, layer) = (self.top, rows.layer);
        let inv_scale = 1.0 / self.scales[layer];
        let states = &mut self.neurons[layer * d_ff..(layer + 1) * d_ff];
        let counted: Vec<usize> = rows.counted.clone().filter(|&r| !rows.skip[r - rows.counted.start]).collect();
        // The layer's top K of each counted row, ranked as the explorer ranks.
        let members: Vec<Vec<u32>> = counted
            .par_iter()
            .map(|&r| {
                top_k(&rows.m[r * d_ff..(r + 1) * d_ff], rows.value_norms, self.top_k).iter().map(|h| h.index).collect()
            })
            .collect();
        for hits in &members {
            for &j in hits {
                states[j as usize].in_top_k += 1;
            }
        }
        let keys: Vec<u64> = counted.iter().map(|&r| position_key(rows.doc, rows.first_pos + r as u32)).collect();
        let start = rows.counted.start;
        const CHUNK: usize = 64;
        states.par_chunks_mut(CHUNK).enumerate().for_each(|(c, chunk)| {
            for (i, state) in chunk.iter_mut().enumerate() {
                let j = c * CHUNK + i;
                let salt = neuron_salt((layer * d_ff + j) as u64);
                // The window's sums in f64, added to the fixed-point totals once: windows are
                // the same however the documents are sharded, so the totals are too.
                let (mut sum, mut sum_sq) = (0.0f64, 0.0f64);
                for (&r, &position) in counted.iter().zip(&keys) {
                    let m = rows.m[r * d_ff + j];
                    sum += m as f64;
                    sum_sq += m as f64 * m as f64;
                    state.max = state.max.max(m);
                    state.min = state.min.min(m);
                    let record = || Record { doc: rows.doc, pos: rows.first_pos + r as u32, m };
                    if state.top.len() < top || m >= state.top[top - 1].m {
                        keep(&mut state.top, record(), top, higher);
                    }
                    if state.bottom.len() < top || m <= state.bottom[top - 1].m {
                        keep(&mut state.bottom, record(), top, lower);
                    }
                    let bin = &mut state.bins[bin_of(m * inv_scale)];
                    let k = key(position, salt);
                    if bin.len() < SAMPLES_PER_BIN || k <= bin[SAMPLES_PER_BIN - 1].0 {
                        sample(bin, k, record());
                    }
                    let mut concepts = rows.seeds[r - start];
                    while concepts != 0 {
                        state.seed_sums[concepts.trailing_zeros() as usize] += (m as f64 * FIXED).round() as i64;
                        concepts &= concepts - 1;
                    }
                }
                state.sum += (sum * FIXED).round() as i64;
                state.sum_sq += (sum_sq * FIXED).round() as i128;
            }
        });
    }

    /// Adds another state of the same model and settings over other documents.
    pub fn merge(&mut self, other: &Collector) {
        let top = self.top;
        self.neurons.par_iter_mut().zip(&other.neurons).enumerate().for_each(|(g, (mine, theirs))| {
            let salt = neuron_salt(g as u64);
            mine.merge(theirs, top, |r| sample_key(salt, r.doc, r.pos));
        });
        self.positions += other.positions;
        for (a, b) in self.seed_positions.iter_mut().zip(&other.seed_positions) {
            *a += b;
        }
    }
}

/// A layer's scale for the bins: a high quantile of |m| over all its neurons and the positions
/// seen, read off a histogram with 16 equal steps an octave, so that it is low by less than 6.25%.
#[derive(Debug, Clone)]
pub struct Calibration {
    /// `[layers][4096]`: counts by the top 12 bits of |m|'s f32 encoding (exponent, 4 mantissa bits).
    counts: Vec<Vec<u64>>,
}

impl Calibration {
    pub const QUANTILE: f64 = 0.999;

    pub fn new(layers: usize) -> Self {
        Calibration { counts: vec![vec![0; 1 << 12]; layers] }
    }

    pub fn add(&mut self, layer: usize, m: &[f32]) {
        let counts = &mut self.counts[layer];
        for &x in m {
            counts[((x.abs().to_bits() >> 19) & 0xfff) as usize] += 1;
        }
    }

    /// Each layer's scale: the lower edge of the histogram step holding the quantile (1.0 for a
    /// layer whose values are all zero).
    pub fn scales(&self) -> Vec<f32> {
        self.counts
            .iter()
            .map(|counts| {
                let total: u64 = counts.iter().sum();
                let want = (total as f64 * Self::QUANTILE).ceil() as u64;
                let mut seen = 0;
                let step = counts.iter().position(|&n| {
                    seen += n;
                    seen >= want.max(1)
                });
                let scale = step.map_or(0.0, |s| f32::from_bits((s as u32) << 19));
                if scale > 0.0 && scale.is_finite() {
                    scale
                } else {
                    1.0
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(doc: u32, pos: u32, m: f32) -> Record {
        Record { doc, pos, m }
    }

    #[test]
    fn kept_lists_are_the_best_under_a_total_order() {
        let mut list = Vec::new();
        for r in [rec(0, 0, 1.0), rec(0, 1, 3.0), rec(0, 2, 2.0), rec(1, 0, 3.0), rec(0, 3, 0.5)] {
            keep(&mut list, r, 3, higher);
        }
        assert_eq!(list, [rec(0, 1, 3.0), rec(1, 0, 3.0), rec(0, 2, 2.0)]);
        // A tie with the last kept goes to the earlier position, whatever the arrival order.
        keep(&mut list, rec(0, 0, 2.0), 3, higher);
        assert_eq!(list[2], rec(0, 0, 2.0));
    }

    #[test]
    fn bins_keep_the_smallest_keys_in_any_order() {
        let records: Vec<(u64, Record)> = (0..20).map(|i| (sample_key(7, 0, i), rec(0, i, 0.0))).collect();
        let mut forward = Vec::new();
        let mut backward = Vec::new();
        for (k, r) in &records {
            sample(&mut forward, *k, *r);
        }
        for (k, r) in records.iter().rev() {
            sample(&mut backward, *k, *r);
        }
        assert_eq!(forward, backward);
        let mut keys: Vec<u64> = records.iter().map(|r| r.0).collect();
        keys.sort();
        assert_eq!(forward.iter().map(|s| s.0).collect::<Vec<_>>(), keys[..SAMPLES_PER_BIN]);
    }

    #[test]
    fn the_scale_is_the_quantile_to_a_sixteenth_octave() {
        let mut c = Calibration::new(2);
        let values: Vec<f32> = (1..=10_000).map(|i| i as f32 / 1000.0).collect();
        c.add(0, &values);
        c.add(1, &[0.0; 10]);
        let scales = c.scales();
        // The 99.9% quantile of 0.001..10 is 9.99.
        assert!(scales[0] <= 9.99 && scales[0] > 9.99 / 1.0625, "{}", scales[0]);
        assert_eq!(scales[1], 1.0);
    }
}
