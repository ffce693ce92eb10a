//! AVX2 row kernels (with FMA and F16C), one per format.
//!
//! Widening bytes to 32-bit lanes in element order takes a cross-lane shuffle per 8 values, and
//! those shuffles share one execution port: they, not memory, bounded a straightforward kernel.
//! Here quantized bytes are read as 32-bit words and every lane extracts its value with shifts,
//! so in each run of 32 elements, lane l of group g (4 groups of 8 lanes) holds some element
//! π(g, l). The input is permuted by π once per product (it is shared by every row), and the dot
//! product is unchanged.
use std::arch::x86_64::*;
use std::sync::OnceLock;

use crate::engine::weights::gguf::GgmlType;

mod blocks32;
mod floats;
mod k_quants;

/// Elements of one run of the permutation: 4 groups of 8 lanes.
const RUN: usize = 32;

pub fn available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") && is_x86_feature_detected!("f16c")
    })
}

/// The input of a product, laid out for one format's kernel.
pub struct Input {
    format: GgmlType,
    /// `[cols]`: x permuted run by run, position 8g + l holding element `source(g, l)`.
    xp: Vec<f32>,
    /// `[cols / 32]`: Σ x over each run, for the formats whose blocks have an offset term.
    sums: Vec<f32>,
}

impl Input {
    pub fn new(format: GgmlType, x: &[f32]) -> Input {
        let mut xp = x.to_vec();
        for (dst, src) in xp.chunks_exact_mut(RUN).zip(x.chunks_exact(RUN)) {
            for (i, v) in dst.iter_mut().enumerate() {
                *v = src[source(format, i / 8, i % 8)];
            }
        }
        let sums = x.chunks_exact(RUN).map(|run| run.iter().sum()).collect();
        Input { format, xp, sums }
    }
}

/// The element of a run that lane `l` of group `g` holds.
fn source(format: GgmlType, g: usize, l: usize) -> usize {
    match format {
        // A block's 16 nibble bytes are words w0..w3, repeated in both halves of the register;
        // lane l shifts word l % 4 right by 4·(2g + l / 4) bits. Nibble k of a word is byte k / 2
        // of it, low (element j) or high (element j + 16) half.
        GgmlType::Q4_0 | GgmlType::Q4_1 => {
            let nibble = 2 * g + l / 4;
            4 * (l % 4) + nibble / 2 + 16 * (nibble % 2)
        }
        // 32 bytes (or nibbles) of consecutive elements are words w0..w7; group g takes byte g of
        // word l (see `dot_i8`, `dot_u4`).
        GgmlType::Q8_0 | GgmlType::Q4_K | GgmlType::Q5_K | GgmlType::Q6_K => 4 * l + g,
        // Plain numbers are widened in order.
        GgmlType::F32 | GgmlType::F16 | GgmlType::BF16 => 8 * g + l,
    }
}

/// Σ wᵢxᵢ over one stored row.
///
/// # Safety
/// AVX2, FMA and F16C must be available, and `row` must hold one row of the format and width
/// `input` was made for.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn row_dot(input: &Input, row: &[u8]) -> f32 {
    let (xp, sums) = (&input.xp[..], &input.sums[..]);
    match input.format {
        GgmlType::Q4_0 => blocks32::q4_0(row, xp, sums),
        GgmlType::Q4_1 => blocks32::q4_1(row, xp, sums),
        GgmlType::Q8_0 => blocks32::q8_0(row, xp),
        GgmlType::Q4_K => k_quants::q4_k(row, xp, sums),
        GgmlType::Q5_K => k_quants::q5_k(row, xp, sums),
        GgmlType::Q6_K => k_quants::q6_k(row, xp),
        GgmlType::F32 => floats::f32(row, xp),
        GgmlType::F16 => floats::f16(row, xp),
        GgmlType::BF16 => floats::bf16(row, xp),
    }
}

// Helpers shared by the kernels. They are `inline(always)` rather than `target_feature`
// functions so that they inline into every kernel; closures would not inherit the features.

/// A little-endian f16 at `p`, widened.
#[inline(always)]
unsafe fn half(p: *const u8) -> f32 {
    let bits = u16::from_le_bytes([*p, *p.add(1)]);
    _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(bits as i32)))
}

/// The sum of a vector's lanes.
#[inline(always)]
unsafe fn hsum(v: __m256) -> f32 {
    let quad = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    let pair = _mm_add_ps(quad, _mm_movehl_ps(quad, quad));
    _mm_cvtss_f32(_mm_add_ss(pair, _mm_movehdup_ps(pair)))
}

/// Σ qᵢxᵢ over a run as 8 partial sums, for 4 groups of integer lanes and the permuted input.
#[inline(always)]
unsafe fn dot_groups(q: [__m256i; 4], xp: *const f32) -> __m256 {
    let mut s = _mm256_mul_ps(_mm256_cvtepi32_ps(q[0]), _mm256_loadu_ps(xp));
    s = _mm256_fmadd_ps(_mm256_cvtepi32_ps(q[1]), _mm256_loadu_ps(xp.add(8)), s);
    s = _mm256_fmadd_ps(_mm256_cvtepi32_ps(q[2]), _mm256_loadu_ps(xp.add(16)), s);
    _mm256_fmadd_ps(_mm256_cvtepi32_ps(q[3]), _mm256_loadu_ps(xp.add(24)), s)
}

/// [`dot_groups`] for 32 signed bytes, element i in byte i: group g takes byte g of each word,
/// sign-extended (shifted to the top, then arithmetically down).
#[inline(always)]
unsafe fn dot_i8(q: __m256i, xp: *const f32) -> __m256 {
    let groups = [
        _mm256_srai_epi32(_mm256_slli_epi32(q, 24), 24),
        _mm256_srai_epi32(_mm256_slli_epi32(q, 16), 24),
        _mm256_srai_epi32(_mm256_slli_epi32(q, 8), 24),
        _mm256_srai_epi32(q, 24),
    ];
    dot_groups(groups, xp)
}

/// [`dot_groups`] for the low nibbles of 32 bytes, element i in byte i.
#[inline(always)]
unsafe fn dot_u4(q: __m256i, xp: *const f32) -> __m256 {
    let mask = _mm256_set1_epi32(0x0F);
    let groups = [
        _mm256_and_si256(q, mask),
        _mm256_and_si256(_mm256_srli_epi32(q, 8), mask),
        _mm256_and_si256(_mm256_srli_epi32(q, 16), mask),
        _mm256_and_si256(_mm256_srli_epi32(q, 24), mask),
    ];
    dot_groups(groups, xp)
}
