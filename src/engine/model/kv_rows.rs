//! Keys or values of one layer in host memory: f32 rows `[len, kv_heads · head_dim]` (the exact
//! path), or f16 per key/value head, `[kv_heads][len, head_dim]` (the fast path).
//!
//! A decoding step reads the whole cache: at 912 positions Llama-2-7B's is 0.96 GB in f32, a
//! quarter of what its Q4_0 weights take. In f16 it is half that, and with each head's rows
//! contiguous a head reads whole pages instead of 256 bytes of one every 8 KiB (a page-table walk
//! per key).
use half::f16;
use half::slice::HalfFloatSliceExt;
use rayon::prelude::*;

use super::backend::Heads;

pub enum KvRows {
    /// `[len, kv_heads · head_dim]`
    F32(Vec<f32>),
    /// `[kv_heads][len · head_dim]`
    F16(Vec<Vec<f16>>),
}

/// One head's rows `0..keys` as f32, `stride` apart.
pub struct HeadRows<'a> {
    pub values: &'a [f32],
    pub stride: usize,
}

impl KvRows {
    pub fn new(half: bool) -> Self {
        if half {
            KvRows::F16(Vec::new())
        } else {
            KvRows::F32(Vec::new())
        }
    }

    /// Appends `rows: [t, kv_heads · head_dim]`.
    pub fn extend(&mut self, rows: &[f32], heads: Heads) {
        match self {
            KvRows::F32(v) => v.extend_from_slice(rows),
            KvRows::F16(per_head) => {
                let d = heads.head_dim;
                per_head.resize_with(heads.n_kv_heads, Vec::new);
                for (g, stored) in per_head.iter_mut().enumerate() {
                    for row in rows.chunks_exact(heads.n_kv_heads * d) {
                        let at = stored.len();
                        stored.resize(at + d, f16::ZERO);
                        stored[at..].convert_from_f32_slice(&row[g * d..(g + 1) * d]);
                    }
                }
            }
        }
    }

    /// Keeps the first `len` positions.
    pub fn truncate(&mut self, len: usize, heads: Heads) {
        match self {
            KvRows::F32(v) => v.truncate(len * heads.n_kv_heads * heads.head_dim),
            KvRows::F16(per_head) => per_head.iter_mut().for_each(|v| v.truncate(len * heads.head_dim)),
        }
    }

    /// Rows `0..keys` of key/value head `g` as f32: in place, or widened into `scratch`.
    pub fn head<'a>(&'a self, g: usize, keys: usize, heads: Heads, scratch: &'a mut Vec<f32>) -> HeadRows<'a> {
        let d = heads.head_dim;
        match self {
            KvRows::F32(v) => HeadRows { values: &v[g * d..], stride: heads.n_kv_heads * d },
            KvRows::F16(per_head) => {
                scratch.resize(keys * d, 0.0);
                per_head[g][..keys * d].convert_to_f32_slice(scratch);
                HeadRows { values: scratch, stride: d }
            }
        }
    }
}

/// softmax(q·kᵀ·scale)·v for one query row over f16 keys and values `[kv_heads][keys, head_dim]`:
/// the decoding step of the fast path, reading each head's rows once as they are stored.
/// `q: [n_heads · head_dim]`; returns `[n_heads · head_dim]`.
pub fn attend_one(q: &[f32], k: &[Vec<f16>], v: &[Vec<f16>], keys: usize, heads: Heads) -> Vec<f32> {
    let Heads { n_heads, n_kv_heads, head_dim: d } = heads;
    let group = n_heads / n_kv_heads;
    let scale = 1.0 / (d as f32).sqrt();
    let mut out = vec![0f32; n_heads * d];
    out.par_chunks_mut(d).enumerate().for_each(|(h, out)| {
        let (k, v) = (&k[h / group][..keys * d], &v[h / group][..keys * d]);
        let mut scores = vec![0f32; keys];
        dots(&q[h * d..(h + 1) * d], k, &mut scores);
        scores.iter_mut().for_each(|s| *s *= scale);
        super::cpu_attention::softmax_causal(&mut scores, keys);
        weighted_sum(&scores, v, out);
    });
    out
}

/// `scores[j]` = q · row j of `k: [keys, d]`.
fn dots(q: &[f32], k: &[f16], scores: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if avx2::usable(q.len()) {
        // SAFETY: the processor has the features and the width suits the kernel (`usable`).
        return unsafe { avx2::dots(q, k, scores) };
    }
    for (s, row) in scores.iter_mut().zip(k.chunks_exact(q.len())) {
        *s = row.iter().zip(q).map(|(k, q)| k.to_f32() * q).sum();
    }
}

/// `out` = Σ_j p[j]·row j of `v: [keys, d]`.
fn weighted_sum(p: &[f32], v: &[f16], out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if avx2::usable(out.len()) {
        // SAFETY: as in `dots`.
        return unsafe { avx2::weighted_sum(p, v, out) };
    }
    out.fill(0.0);
    for (&p, row) in p.iter().zip(v.chunks_exact(out.len())) {
        out.iter_mut().zip(row).for_each(|(o, v)| *o += p * v.to_f32());
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use half::f16;

    /// Output columns summed at once: eight vectors, one cache line of f16 per row.
    const COLUMNS: usize = 64;

    /// Whether the kernels run here for heads of width `d`.
    pub fn usable(d: usize) -> bool {
        d.is_multiple_of(COLUMNS)
            && is_x86_feature_detected!("avx2")
            && is_x86_feature_detected!("fma")
            && is_x86_feature_detected!("f16c")
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    pub unsafe fn dots(q: &[f32], k: &[f16], scores: &mut [f32]) {
        let d = q.len();
        for (j, s) in scores.iter_mut().enumerate() {
            let row = k.as_ptr().add(j * d) as *const __m128i;
            let (mut a, mut b) = (_mm256_setzero_ps(), _mm256_setzero_ps());
            for c in (0..d / 8).step_by(2) {
                a = _mm256_fmadd_ps(
                    _mm256_loadu_ps(q.as_ptr().add(8 * c)),
                    _mm256_cvtph_ps(_mm_loadu_si128(row.add(c))),
                    a,
                );
                let (x, y) = (_mm256_loadu_ps(q.as_ptr().add(8 * c + 8)), _mm_loadu_si128(row.add(c + 1)));
                b = _mm256_fmadd_ps(x, _mm256_cvtph_ps(y), b);
            }
            let v = _mm256_add_ps(a, b);
            let v = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
            let v = _mm_add_ps(v, _mm_movehl_ps(v, v));
            *s = _mm_cvtss_f32(_mm_add_ss(v, _mm_movehdup_ps(v)));
        }
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    pub unsafe fn weighted_sum(p: &[f32], v: &[f16], out: &mut [f32]) {
        let d = out.len();
        for c0 in (0..d).step_by(COLUMNS) {
            let mut acc = [_mm256_setzero_ps(); COLUMNS / 8];
            for (j, &pj) in p.iter().enumerate() {
                let (pj, row) = (_mm256_set1_ps(pj), v.as_ptr().add(j * d + c0) as *const __m128i);
                for (c, acc) in acc.iter_mut().enumerate() {
                    *acc = _mm256_fmadd_ps(pj, _mm256_cvtph_ps(_mm_loadu_si128(row.add(c))), *acc);
                }
            }
            for (c, acc) in acc.iter().enumerate() {
                _mm256_storeu_ps(out.as_mut_ptr().add(c0 + 8 * c), *acc);
            }
        }
    }
}
