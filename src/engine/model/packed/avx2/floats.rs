//! Rows of plain numbers: f32, f16 (widened by F16C) and bf16 (the top half of an f32). These
//! are bound by memory alone; four accumulators keep the additions out of the way.
use std::arch::x86_64::*;

use half::{bf16, f16};

use super::hsum;

/// # Safety
/// As [`super::row_dot`].
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn f32(row: &[u8], xp: &[f32]) -> f32 {
    row_dot_of::<F32>(row, xp)
}

/// # Safety
/// As [`super::row_dot`].
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn f16(row: &[u8], xp: &[f32]) -> f32 {
    row_dot_of::<F16>(row, xp)
}

/// # Safety
/// As [`super::row_dot`].
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn bf16(row: &[u8], xp: &[f32]) -> f32 {
    row_dot_of::<Bf16>(row, xp)
}

/// A stored number type.
trait Number {
    const BYTES: usize;
    /// Eight numbers at `p`, widened.
    unsafe fn load8(p: *const u8) -> __m256;
    /// One number.
    fn one(bytes: &[u8]) -> f32;
}

struct F32;
struct F16;
struct Bf16;

impl Number for F32 {
    const BYTES: usize = 4;
    #[inline(always)]
    unsafe fn load8(p: *const u8) -> __m256 {
        _mm256_loadu_ps(p as *const f32)
    }
    fn one(b: &[u8]) -> f32 {
        f32::from_le_bytes([b[0], b[1], b[2], b[3]])
    }
}

impl Number for F16 {
    const BYTES: usize = 2;
    #[inline(always)]
    unsafe fn load8(p: *const u8) -> __m256 {
        _mm256_cvtph_ps(_mm_loadu_si128(p as *const __m128i))
    }
    fn one(b: &[u8]) -> f32 {
        f16::from_le_bytes([b[0], b[1]]).to_f32()
    }
}

impl Number for Bf16 {
    const BYTES: usize = 2;
    #[inline(always)]
    unsafe fn load8(p: *const u8) -> __m256 {
        _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128(p as *const __m128i)), 16))
    }
    fn one(b: &[u8]) -> f32 {
        bf16::from_le_bytes([b[0], b[1]]).to_f32()
    }
}

#[inline(always)]
unsafe fn row_dot_of<N: Number>(row: &[u8], x: &[f32]) -> f32 {
    let (p, n) = (row.as_ptr(), x.len());
    let mut acc = [_mm256_setzero_ps(); 4];
    let mut i = 0;
    while i + 32 <= n {
        for (k, a) in acc.iter_mut().enumerate() {
            let at = i + 8 * k;
            *a = _mm256_fmadd_ps(N::load8(p.add(at * N::BYTES)), _mm256_loadu_ps(x.as_ptr().add(at)), *a);
        }
        i += 32;
    }
    while i + 8 <= n {
        acc[0] = _mm256_fmadd_ps(N::load8(p.add(i * N::BYTES)), _mm256_loadu_ps(x.as_ptr().add(i)), acc[0]);
        i += 8;
    }
    let tail: f32 = (i..n).map(|j| N::one(&row[j * N::BYTES..(j + 1) * N::BYTES]) * x[j]).sum();
    hsum(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]))) + tail
}
