//! Super-blocks of 256 elements with per-sub-block scales: Q4_K, Q5_K (eight sub-blocks of 32,
//! 6-bit scales and mins) and Q6_K (sixteen sub-blocks of 16, signed 8-bit scales). Every run of
//! 32 elements becomes 32 bytes of quants in element order, read by `dot_i8`/`dot_u4`.
use std::arch::x86_64::*;

use super::{dot_i8, dot_u4, half, hsum, RUN};

const QK_K: usize = 256;

/// Sub-block scales and mins of a Q4_K/Q5_K super-block, each `[8]`, from the 12 bytes at `p`:
/// sub-blocks 0..4 in the low 6 bits of bytes 0..4 (scales) and 4..8 (mins), sub-blocks 4..8 in
/// the nibbles of bytes 8..12 plus the top 2 bits of bytes 0..8. Unpacked a word (4 sub-blocks)
/// at a time.
#[inline(always)]
unsafe fn scales_mins(p: *const u8) -> (__m256, __m256) {
    let [w0, w1, w2] =
        [0, 4, 8].map(|at| u32::from_le_bytes([*p.add(at), *p.add(at + 1), *p.add(at + 2), *p.add(at + 3)]));
    let (low6, low4, top2) = (0x3F3F_3F3Fu32, 0x0F0F_0F0Fu32, 0x0303_0303u32);
    let scales = (w0 & low6, (w2 & low4) | (((w0 >> 6) & top2) << 4));
    let mins = (w1 & low6, ((w2 >> 4) & low4) | (((w1 >> 6) & top2) << 4));
    (widen(scales), widen(mins))
}

/// Eight bytes, given as two little-endian words, as f32 lanes.
#[inline(always)]
unsafe fn widen((lo, hi): (u32, u32)) -> __m256 {
    _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_setr_epi32(lo as i32, hi as i32, 0, 0)))
}

/// `{ d: f16, dmin: f16, scales: [u8; 12], qs: [u8; 128] }`: x = (d·scⱼ)·q − dmin·mⱼ in
/// sub-block j; 32 bytes of `qs` hold sub-block 2p (low nibbles) and 2p + 1 (high).
///
/// # Safety
/// As [`super::row_dot`]; `sums` holds Σ x of each 32-element run.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn q4_k(row: &[u8], xp: &[f32], sums: &[f32]) -> f32 {
    let (mut low, mut high, mut offsets) = (_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps());
    let mut multipliers = [0f32; 8];
    for b in 0..xp.len() / QK_K {
        let p = row.as_ptr().add(b * 144);
        let x = xp.as_ptr().add(b * QK_K);
        let (scales, mins) = scales_mins(p.add(4));
        _mm256_storeu_ps(multipliers.as_mut_ptr(), _mm256_mul_ps(_mm256_set1_ps(half(p)), scales));
        let dmin = _mm256_mul_ps(_mm256_set1_ps(half(p.add(2))), mins);
        offsets = _mm256_fmadd_ps(dmin, _mm256_loadu_ps(sums.as_ptr().add(b * QK_K / RUN)), offsets);
        for pair in 0..4 {
            let q = _mm256_loadu_si256(p.add(16 + 32 * pair) as *const __m256i);
            let lo = dot_u4(q, x.add(64 * pair));
            let hi = dot_u4(_mm256_srli_epi32(q, 4), x.add(64 * pair + RUN));
            low = _mm256_fmadd_ps(_mm256_set1_ps(multipliers[2 * pair]), lo, low);
            high = _mm256_fmadd_ps(_mm256_set1_ps(multipliers[2 * pair + 1]), hi, high);
        }
    }
    hsum(_mm256_add_ps(low, high)) - hsum(offsets)
}

/// `{ d, dmin, scales: [u8; 12], qh: [u8; 32], qs: [u8; 128] }`: Q4_K with a fifth bit per
/// element, bit 2p of `qh[l]` for element l of sub-block 2p and bit 2p + 1 for sub-block 2p + 1.
///
/// # Safety
/// As [`q4_k`].
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn q5_k(row: &[u8], xp: &[f32], sums: &[f32]) -> f32 {
    let (mut low, mut high, mut offsets) = (_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps());
    let (nibble, fifth) = (_mm256_set1_epi8(0x0F), _mm256_set1_epi8(0x10));
    let mut multipliers = [0f32; 8];
    for b in 0..xp.len() / QK_K {
        let p = row.as_ptr().add(b * 176);
        let x = xp.as_ptr().add(b * QK_K);
        let (scales, mins) = scales_mins(p.add(4));
        _mm256_storeu_ps(multipliers.as_mut_ptr(), _mm256_mul_ps(_mm256_set1_ps(half(p)), scales));
        let dmin = _mm256_mul_ps(_mm256_set1_ps(half(p.add(2))), mins);
        offsets = _mm256_fmadd_ps(dmin, _mm256_loadu_ps(sums.as_ptr().add(b * QK_K / RUN)), offsets);
        // Shifted right by 2 after each pair, so bits 0 and 1 of every byte are the pair's.
        let mut qh = _mm256_loadu_si256(p.add(16) as *const __m256i);
        for pair in 0..4 {
            let q = _mm256_loadu_si256(p.add(48 + 32 * pair) as *const __m256i);
            // 16-bit shifts move bits across bytes; the masks keep only each byte's own.
            let q_lo = _mm256_or_si256(_mm256_and_si256(q, nibble), _mm256_and_si256(_mm256_slli_epi16(qh, 4), fifth));
            let q_hi = _mm256_or_si256(
                _mm256_and_si256(_mm256_srli_epi16(q, 4), nibble),
                _mm256_and_si256(_mm256_slli_epi16(qh, 3), fifth),
            );
            let lo = dot_i8(q_lo, x.add(64 * pair));
            let hi = dot_i8(q_hi, x.add(64 * pair + RUN));
            low = _mm256_fmadd_ps(_mm256_set1_ps(multipliers[2 * pair]), lo, low);
            high = _mm256_fmadd_ps(_mm256_set1_ps(multipliers[2 * pair + 1]), hi, high);
            qh = _mm256_srli_epi16(qh, 2);
        }
    }
    hsum(_mm256_add_ps(low, high)) - hsum(offsets)
}

/// `{ ql: [u8; 128], qh: [u8; 64], scales: [i8; 16], d: f16 }`: x = (d·scₛ)·(q − 32) in
/// sub-block s of 16 elements. Each half of 128 elements takes 64 bytes of `ql` (low 4 bits:
/// elements l and l + 32 in the low nibbles of bytes l and l + 32, l + 64 and l + 96 in the high
/// ones) and 32 bytes of `qh` (2 high bits each, in bit pairs 0-1, 2-3, 4-5, 6-7 for the four
/// runs).
///
/// # Safety
/// As [`super::row_dot`].
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn q6_k(row: &[u8], xp: &[f32]) -> f32 {
    let (mut even, mut odd) = (_mm256_setzero_ps(), _mm256_setzero_ps());
    let (nibble, top, bias) = (_mm256_set1_epi8(0x0F), _mm256_set1_epi8(0x30), _mm256_set1_epi8(32));
    // Lanes 0-3 of a run hold its elements 0..16 (see `dot_i8`): sub-block 2k for run k, lanes
    // 4-7 sub-block 2k + 1.
    let picks = [
        _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1),
        _mm256_setr_epi32(2, 2, 2, 2, 3, 3, 3, 3),
        _mm256_setr_epi32(4, 4, 4, 4, 5, 5, 5, 5),
        _mm256_setr_epi32(6, 6, 6, 6, 7, 7, 7, 7),
    ];
    for b in 0..xp.len() / QK_K {
        let p = row.as_ptr().add(b * 210);
        let d = _mm256_set1_ps(half(p.add(208)));
        for h in 0..2 {
            let x = xp.as_ptr().add(b * QK_K + 128 * h);
            let ql_a = _mm256_loadu_si256(p.add(64 * h) as *const __m256i);
            let ql_b = _mm256_loadu_si256(p.add(64 * h + 32) as *const __m256i);
            let qh = _mm256_loadu_si256(p.add(128 + 32 * h) as *const __m256i);
            let sc = _mm_loadl_epi64(p.add(192 + 8 * h) as *const __m128i);
            let scales = _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(sc)));
            // Each run's 6-bit quants, less 32, as signed bytes; the high bits moved to bits 4-5.
            let runs = [
                (_mm256_and_si256(ql_a, nibble), _mm256_slli_epi16(qh, 4)),
                (_mm256_and_si256(ql_b, nibble), _mm256_slli_epi16(qh, 2)),
                (_mm256_and_si256(_mm256_srli_epi16(ql_a, 4), nibble), qh),
                (_mm256_and_si256(_mm256_srli_epi16(ql_b, 4), nibble), _mm256_srli_epi16(qh, 2)),
            ];
            for (k, (low4, high2)) in runs.into_iter().enumerate() {
                let q = _mm256_sub_epi8(_mm256_or_si256(low4, _mm256_and_si256(high2, top)), bias);
                let scale = _mm256_permutevar8x32_ps(scales, picks[k]);
                let s = dot_i8(q, x.add(RUN * k));
                if k % 2 == 0 {
                    even = _mm256_fmadd_ps(scale, s, even);
                } else {
                    odd = _mm256_fmadd_ps(scale, s, odd);
                }
            }
        }
    }
    hsum(_mm256_add_ps(even, odd))
}
