//! Blocks of 32 elements with one f16 scale: Q4_0 `{ d; qs[16] }` (x = d·(q − 8)), Q4_1
//! `{ d; m; qs[16] }` (x = d·q + m) and Q8_0 `{ d; i8 qs[32] }` (x = d·q). Nibble byte j holds
//! element j (low) and j + 16 (high).
use std::arch::x86_64::*;

use super::{dot_groups, dot_i8, half, hsum, RUN};
use crate::engine::weights::gguf::GgmlType;
use crate::engine::weights::quant::block_size;

/// # Safety
/// As [`super::row_dot`]; `sums` holds Σ x of each block.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn q4_0(row: &[u8], xp: &[f32], sums: &[f32]) -> f32 {
    row_dot_of(GgmlType::Q4_0, row, xp, sums)
}

/// # Safety
/// As [`q4_0`].
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn q4_1(row: &[u8], xp: &[f32], sums: &[f32]) -> f32 {
    row_dot_of(GgmlType::Q4_1, row, xp, sums)
}

/// # Safety
/// As [`super::row_dot`].
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn q8_0(row: &[u8], xp: &[f32]) -> f32 {
    row_dot_of(GgmlType::Q8_0, row, xp, &[])
}

/// Σ qᵢxᵢ of the block at `p` as 8 partial sums, for the block's permuted input `xs`.
#[inline(always)]
unsafe fn block_dot(format: GgmlType, (p, xs): (*const u8, *const f32)) -> __m256 {
    if format == GgmlType::Q8_0 {
        return dot_i8(_mm256_loadu_si256(p.add(2) as *const __m256i), xs);
    }
    // The 16 nibble bytes as words w0..w3 in both halves; lane l of group g takes nibble
    // 2g + l / 4 of word l % 4.
    let at = if format == GgmlType::Q4_0 { 2 } else { 4 };
    let words = _mm256_broadcastsi128_si256(_mm_loadu_si128(p.add(at) as *const __m128i));
    dot_groups([nibbles(words, 0), nibbles(words, 1), nibbles(words, 2), nibbles(words, 3)], xs)
}

/// Group `g` of a block's nibbles (see `block_dot`). A function, not a closure: closures do not
/// inherit the kernels' target features, and the intrinsics would stop inlining.
#[inline(always)]
unsafe fn nibbles(words: __m256i, g: i32) -> __m256i {
    let (a, b) = (8 * g, 8 * g + 4);
    let shifts = _mm256_setr_epi32(a, a, a, a, b, b, b, b);
    _mm256_and_si256(_mm256_srlv_epi32(words, shifts), _mm256_set1_epi32(0x0F))
}

/// Blocks taken together: their scales are widened by one instruction, and their sums reduced
/// to one vector that is scaled at once, instead of a conversion, a broadcast and an offset per
/// block.
const GROUP: usize = 8;

/// Σ wᵢxᵢ over a row of `format` blocks: groups of [`GROUP`] blocks, then the rest one by one.
/// (The offsets are loaded only for the formats that have them: `sums` is empty for Q8_0.)
#[inline(always)]
unsafe fn row_dot_of(format: GgmlType, row: &[u8], xp: &[f32], sums: &[f32]) -> f32 {
    let size = block_size(format).1;
    let n = xp.len() / RUN;
    let (mut acc, mut offsets) = (_mm256_setzero_ps(), _mm256_setzero_ps());
    let mut b = 0;
    while b + GROUP <= n {
        let (p, x) = (row.as_ptr().add(b * size), xp.as_ptr().add(b * RUN));
        let at = |j: usize| (p.add(j * size), x.add(j * RUN));
        let block_sums = lane_sums([
            block_dot(format, at(0)),
            block_dot(format, at(1)),
            block_dot(format, at(2)),
            block_dot(format, at(3)),
            block_dot(format, at(4)),
            block_dot(format, at(5)),
            block_dot(format, at(6)),
            block_dot(format, at(7)),
        ]);
        let d = scales(p, size);
        acc = _mm256_fmadd_ps(d, block_sums, acc);
        // Q4_0's offset is −8·d·Σx, Q4_1's m·Σx (−8 applied at the end).
        if format != GgmlType::Q8_0 {
            let x_sums = _mm256_loadu_ps(sums.as_ptr().add(b));
            let factor = if format == GgmlType::Q4_0 { d } else { scales(p.add(2), size) };
            offsets = _mm256_fmadd_ps(factor, x_sums, offsets);
        }
        b += GROUP;
    }
    let mut total = hsum(acc) + if format == GgmlType::Q4_0 { -8.0 } else { 1.0 } * hsum(offsets);
    while b < n {
        let p = row.as_ptr().add(b * size);
        let d = half(p);
        total += d * hsum(block_dot(format, (p, xp.as_ptr().add(b * RUN))));
        total += match format {
            GgmlType::Q4_0 => -8.0 * d * sums[b],
            GgmlType::Q4_1 => half(p.add(2)) * sums[b],
            _ => 0.0,
        };
        b += 1;
    }
    total
}

/// The f16 at `p` in each of 8 blocks of `size` bytes, widened.
#[inline(always)]
unsafe fn scales(p: *const u8, size: usize) -> __m256 {
    let h = |j: usize| (p.add(j * size) as *const i16).read_unaligned();
    _mm256_cvtph_ps(_mm_setr_epi16(h(0), h(1), h(2), h(3), h(4), h(5), h(6), h(7)))
}

/// `[Σ v₀, Σ v₁, …, Σ v₇]`: the lane sums of 8 vectors, by a tree of pairwise additions.
#[inline(always)]
unsafe fn lane_sums(v: [__m256; 8]) -> __m256 {
    // hadd(a, b) = [a0+a1, a2+a3, b0+b1, b2+b3 | a4+a5, a6+a7, b4+b5, b6+b7]: two rounds give
    // each vector's sum over each 128-bit half, four vectors per register.
    let first = _mm256_hadd_ps(_mm256_hadd_ps(v[0], v[1]), _mm256_hadd_ps(v[2], v[3]));
    let second = _mm256_hadd_ps(_mm256_hadd_ps(v[4], v[5]), _mm256_hadd_ps(v[6], v[7]));
    let low = _mm256_permute2f128_ps(first, second, 0x20);
    let high = _mm256_permute2f128_ps(first, second, 0x31);
    _mm256_add_ps(low, high)
}
