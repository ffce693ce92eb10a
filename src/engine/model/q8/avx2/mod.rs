//! AVX2 kernels: activation quantization here, products in `rows` (one activation row at a
//! time) and `panels` (eight at a time).
//!
//! The products are `_mm256_maddubs_epi16` (unsigned × signed bytes, adjacent pairs summed to
//! 16 bits) then `_mm256_madd_epi16` (pairs of those summed to 32 bits, times a 16-bit factor).
//! The unsigned operand is the weight: Q4_0/Q4_1 nibbles and k-quant quants are used as stored
//! (0..63 at most), their offsets (−8, the minimums, −32) applied once per block through the
//! activations' block sums rather than per element; Q8_0 weights are signed, so their magnitudes
//! multiply the activations with the weights' signs. No pair sum can saturate: activations are
//! within ±127 and the unsigned weights at most 63 (Q8_0: 128), and 2·128·127 < 2¹⁵.
pub mod panels;
pub mod rows;

use std::arch::x86_64::*;
use std::sync::OnceLock;

use super::decode::Decoded;
use super::layout::{Format32, FormatK};
use super::quantize::{scales, QK8_0, QK_K};

pub fn available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") && is_x86_feature_detected!("f16c")
    })
}

const ROUND: i32 = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;

/// The largest magnitude of `8·vectors` floats at `x`.
#[inline(always)]
unsafe fn amax(x: *const f32, vectors: usize) -> f32 {
    let sign = _mm256_set1_ps(-0.0);
    let mut m = _mm256_setzero_ps();
    for i in 0..vectors {
        m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(x.add(8 * i))));
    }
    let m = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps::<1>(m));
    let m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    _mm_cvtss_f32(_mm_max_ss(m, _mm_movehdup_ps(m)))
}

/// The 32 floats at `x` times `inverse`, rounded (ties to even) to bytes in element order.
#[inline(always)]
unsafe fn round_32(x: *const f32, inverse: __m256) -> __m256i {
    let i0 = _mm256_cvtps_epi32(_mm256_round_ps::<ROUND>(_mm256_mul_ps(_mm256_loadu_ps(x), inverse)));
    let i1 = _mm256_cvtps_epi32(_mm256_round_ps::<ROUND>(_mm256_mul_ps(_mm256_loadu_ps(x.add(8)), inverse)));
    let i2 = _mm256_cvtps_epi32(_mm256_round_ps::<ROUND>(_mm256_mul_ps(_mm256_loadu_ps(x.add(16)), inverse)));
    let i3 = _mm256_cvtps_epi32(_mm256_round_ps::<ROUND>(_mm256_mul_ps(_mm256_loadu_ps(x.add(24)), inverse)));
    // The packs work within 128-bit halves, leaving 4-byte groups in the order 0 2 4 6 1 3 5 7.
    let packed = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
    _mm256_permutevar8x32_epi32(packed, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7))
}

/// Sums of each 4 consecutive bytes: lanes 0..4 cover bytes 0..16, lanes 4..8 bytes 16..32.
#[inline(always)]
unsafe fn quad_sums(q: __m256i) -> __m256i {
    _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), q), _mm256_set1_epi16(1))
}

#[inline(always)]
unsafe fn hsum_i32(v: __m256i) -> i32 {
    let s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256::<1>(v));
    let s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
    _mm_cvtsi128_si32(_mm_add_epi32(s, _mm_shuffle_epi32::<0b01>(s)))
}

#[inline(always)]
unsafe fn hsum_ps(v: __m256) -> f32 {
    let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)))
}

/// The little-endian f16 at `p`, widened.
#[inline(always)]
unsafe fn half(p: *const u8) -> f32 {
    let bits = u16::from_le_bytes([*p, *p.add(1)]);
    _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(i32::from(bits))))
}

/// As `quantize::q8_0_block`, with identical results.
///
/// # Safety
/// AVX2, FMA and F16C must be available.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn q8_0_block(x: &[f32; QK8_0], qs: &mut [i8; QK8_0]) -> (f32, i32) {
    let (d, inverse) = scales(amax(x.as_ptr(), 4));
    let q = round_32(x.as_ptr(), _mm256_set1_ps(inverse));
    _mm256_storeu_si256(qs.as_mut_ptr() as *mut __m256i, q);
    (d, hsum_i32(quad_sums(q)))
}

/// As `quantize::q8_k_block`, with identical results.
///
/// # Safety
/// AVX2, FMA and F16C must be available.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn q8_k_block(x: &[f32; QK_K], qs: &mut [i8; QK_K], bsums: &mut [i16; QK_K / 16]) -> f32 {
    let (d, inverse) = scales(amax(x.as_ptr(), QK_K / 8));
    let inverse = _mm256_set1_ps(inverse);
    for g in 0..QK_K / 32 {
        let q = round_32(x.as_ptr().add(32 * g), inverse);
        _mm256_storeu_si256(qs.as_mut_ptr().add(32 * g) as *mut __m256i, q);
        let s = quad_sums(q);
        let s = _mm256_hadd_epi32(s, s);
        let s = _mm256_hadd_epi32(s, s);
        // At most 16·127 in magnitude.
        bsums[2 * g] = _mm256_extract_epi32::<0>(s) as i16;
        bsums[2 * g + 1] = _mm256_extract_epi32::<4>(s) as i16;
    }
    d
}

/// [`Decoded::decode_32`] compiled with AVX2, so that its loops are vectorized with it.
///
/// # Safety
/// AVX2, FMA and F16C must be available.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn decode_32(decoded: &mut Decoded, format: Format32, rows: &[&[u8]], cols: usize) {
    decoded.decode_32(format, rows, cols);
}

/// [`Decoded::decode_k`] compiled with AVX2, so that its loops are vectorized with it.
///
/// # Safety
/// AVX2, FMA and F16C must be available.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn decode_k(decoded: &mut Decoded, format: FormatK, rows: &[&[u8]], cols: usize) {
    decoded.decode_k(format, rows, cols);
}
