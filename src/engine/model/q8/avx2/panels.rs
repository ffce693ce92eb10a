//! Products with a panel of eight activation rows: lane `c` of every vector belongs to
//! activation row `c`. A 32-byte load of a panel gives 4 consecutive elements of each of its 8
//! rows (see `quantize`); the matching 4 decoded weights of one weight row (see `decode`) are
//! broadcast to all lanes straight from memory, so one `maddubs` makes 32 multiply-adds for 8
//! different outputs and nothing is ever summed across lanes. Products are added up in 16 bits
//! as far as they cannot overflow, widened to 32 bits by `madd` (with a k-quant sub-block's scale
//! as the factor) once per block or sub-block, and scaled in f32 once per weight row and block for
//! all 8 outputs.
//!
//! On the reference machine (Zen 4) `maddubs`, `madd`, `sign` and the f32 multiplies share two
//! pipes, while loads, 16-bit additions and conversions go elsewhere: this leaves little more
//! than one instruction on the multiplying pipes per 32 multiply-adds, where a kernel that sums
//! each block's products across lanes needs four.
use std::arch::x86_64::*;

use crate::engine::model::q8::decode::Decoded;
use crate::engine::model::q8::layout::{Format32, FormatK, KScales};
use crate::engine::model::q8::quantize::{Panel32, PanelK, PANEL_ROWS, QK8_0, QK_K};

/// The 4 bytes at `p` in every 32-bit lane.
#[inline(always)]
unsafe fn broadcast_word(p: *const u8) -> __m256i {
    _mm256_set1_epi32((p as *const i32).read_unaligned())
}

/// The 32-bit integer dot products of one block of `R` decoded weight rows (`quants[r]`: the
/// block's 32 quants) with the panel's block at `x`: lane `c` of `[r]` is Σ qᵢ·x_qᵢ for
/// activation row `c`.
#[inline(always)]
unsafe fn dots_32<const R: usize>(format: Format32, quants: &[*const u8; R], x: *const __m256i) -> [__m256i; R] {
    let ones = _mm256_set1_epi16(1);
    let mut dots = [_mm256_setzero_si256(); R];
    match format {
        Format32::Q4_0 | Format32::Q4_1 => {
            // A pair sum is at most 2·15·127 in magnitude: the block's eight fit 16 bits.
            let mut sums = [_mm256_setzero_si256(); R];
            for k in 0..QK8_0 / 4 {
                let xk = _mm256_loadu_si256(x.add(k));
                for r in 0..R {
                    let pairs = _mm256_maddubs_epi16(broadcast_word(quants[r].add(4 * k)), xk);
                    sums[r] = _mm256_add_epi16(sums[r], pairs);
                }
            }
            for r in 0..R {
                dots[r] = _mm256_madd_epi16(sums[r], ones);
            }
        }
        Format32::Q8_0 => {
            // Signed weights: their magnitudes times the activations with the weights' signs.
            // Pair sums reach 2·128·127, so each is widened at once.
            for k in 0..QK8_0 / 4 {
                let xk = _mm256_loadu_si256(x.add(k));
                for r in 0..R {
                    let v = broadcast_word(quants[r].add(4 * k));
                    let pairs = _mm256_maddubs_epi16(_mm256_abs_epi8(v), _mm256_sign_epi8(xk, v));
                    dots[r] = _mm256_add_epi32(dots[r], _mm256_madd_epi16(pairs, ones));
                }
            }
        }
    }
    dots
}

/// `out[r][c]` = decoded row `r` of `strip` · activation row `c` of the panel.
///
/// # Safety
/// AVX2, FMA and F16C must be available; `strip` holds at least `R` rows of `format` decoded
/// (`decode_32`), of as many blocks as the panel.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn tile_32<const R: usize>(
    format: Format32,
    strip: &Decoded,
    p: Panel32<'_, PANEL_ROWS>,
    out: &mut [[f32; PANEL_ROWS]; R],
) {
    // One loop per format, so none of them branches on it.
    match format {
        Format32::Q4_0 => tile_32_of(Format32::Q4_0, strip, p, out),
        Format32::Q4_1 => tile_32_of(Format32::Q4_1, strip, p, out),
        Format32::Q8_0 => tile_32_of(Format32::Q8_0, strip, p, out),
    }
}

#[inline(always)]
unsafe fn tile_32_of<const R: usize>(
    format: Format32,
    strip: &Decoded,
    p: Panel32<'_, PANEL_ROWS>,
    out: &mut [[f32; PANEL_ROWS]; R],
) {
    let blocks = p.d.len();
    let mut acc = [_mm256_setzero_ps(); R];
    for b in 0..blocks {
        let mut quants = [std::ptr::null(); R];
        for (r, quants) in quants.iter_mut().enumerate() {
            *quants = strip.q.as_ptr().add(r * strip.cols + b * QK8_0);
        }
        let mut dots = dots_32(format, &quants, p.qs.as_ptr().add(b) as *const __m256i);
        if format == Format32::Q4_0 {
            // The −8 offset in integers: Σ(q − 8)·x = Σ q·x − 8·Σx, so that no f32 term remains.
            let sums = _mm256_slli_epi32::<3>(_mm256_loadu_si256(p.sums.as_ptr().add(b) as *const __m256i));
            for dot in &mut dots {
                *dot = _mm256_sub_epi32(*dot, sums);
            }
        }
        let dx = _mm256_loadu_ps(p.d.as_ptr().add(b) as *const f32);
        let sx = _mm256_loadu_ps(p.s.as_ptr().add(b) as *const f32);
        for r in 0..R {
            let (d, o) = *strip.scales_32.get_unchecked(r * blocks + b);
            acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dots[r]), _mm256_mul_ps(_mm256_set1_ps(d), dx), acc[r]);
            // Q4_1's minimum m (see `Format32::scales`).
            if format == Format32::Q4_1 {
                acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(o), sx, acc[r]);
            }
        }
    }
    for r in 0..R {
        _mm256_storeu_ps(out[r].as_mut_ptr(), acc[r]);
    }
}

/// The integer sums of one k-quant block of `R` decoded weight rows (`quants[r]`: the block's
/// 256 quants) with the panel's block (`x`: its 64 words, `bsums`: its 8 pairs of block sums):
/// lane `c` of `[r]` is `(dot, off)` of `portable::isums_k` for activation row `c`.
#[inline(always)]
unsafe fn dots_k<const R: usize>(
    format: FormatK,
    quants: &[*const u8; R],
    scales: &[&KScales; R],
    x: *const __m256i,
    bsums: *const __m256i,
) -> ([__m256i; R], [__m256i; R]) {
    // Words added in 16 bits before widening: pair sums reach 2·15·127 (Q4_K, whose 32-element
    // groups share a scale), 2·31·127 (Q5_K) or 2·63·127 (Q6_K) in magnitude.
    let words = match format {
        FormatK::Q4_K => 8,
        FormatK::Q5_K => 4,
        FormatK::Q6_K => 2,
    };
    let mut dots = [_mm256_setzero_si256(); R];
    for first in (0..QK_K / 4).step_by(words) {
        let mut sums = [_mm256_setzero_si256(); R];
        for k in first..first + words {
            let xk = _mm256_loadu_si256(x.add(k));
            for r in 0..R {
                let pairs = _mm256_maddubs_epi16(broadcast_word(quants[r].add(4 * k)), xk);
                sums[r] = _mm256_add_epi16(sums[r], pairs);
            }
        }
        for r in 0..R {
            // The scale of the 16-element sub-block of the first word.
            let scale = _mm256_set1_epi16(scales[r].sc[first / 4]);
            dots[r] = _mm256_add_epi32(dots[r], _mm256_madd_epi16(sums[r], scale));
        }
    }
    let mut offs = [_mm256_setzero_si256(); R];
    for j in 0..QK_K / 32 {
        let pair = _mm256_loadu_si256(bsums.add(j));
        for r in 0..R {
            let [a, b] = [scales[r].off[2 * j], scales[r].off[2 * j + 1]].map(|o| i32::from(o as u16));
            let factors = _mm256_set1_epi32(a | (b << 16));
            offs[r] = _mm256_add_epi32(offs[r], _mm256_madd_epi16(pair, factors));
        }
    }
    (dots, offs)
}

/// `out[r][c]` = decoded row `r` of `strip` · activation row `c` of the panel.
///
/// # Safety
/// AVX2, FMA and F16C must be available; `strip` holds at least `R` rows of `format` decoded
/// (`decode_k`), of as many blocks as the panel.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn tile_k<const R: usize>(
    format: FormatK,
    strip: &Decoded,
    p: PanelK<'_, PANEL_ROWS>,
    out: &mut [[f32; PANEL_ROWS]; R],
) {
    match format {
        FormatK::Q4_K => tile_k_of(FormatK::Q4_K, strip, p, out),
        FormatK::Q5_K => tile_k_of(FormatK::Q5_K, strip, p, out),
        FormatK::Q6_K => tile_k_of(FormatK::Q6_K, strip, p, out),
    }
}

#[inline(always)]
unsafe fn tile_k_of<const R: usize>(
    format: FormatK,
    strip: &Decoded,
    p: PanelK<'_, PANEL_ROWS>,
    out: &mut [[f32; PANEL_ROWS]; R],
) {
    let blocks = p.d.len();
    let mut acc = [_mm256_setzero_ps(); R];
    let none = &strip.scales_k[0];
    for b in 0..blocks {
        let mut quants = [std::ptr::null(); R];
        let mut scales = [none; R];
        for r in 0..R {
            quants[r] = strip.q.as_ptr().add(r * strip.cols + b * QK_K);
            scales[r] = strip.scales_k.get_unchecked(r * blocks + b);
        }
        let x = p.qs.as_ptr().add(b) as *const __m256i;
        let (dots, offs) = dots_k(format, &quants, &scales, x, p.bsums.as_ptr().add(b) as *const __m256i);
        let dx = _mm256_loadu_ps(p.d.as_ptr().add(b) as *const f32);
        for r in 0..R {
            let d = _mm256_mul_ps(_mm256_set1_ps(scales[r].d), dx);
            let dmin = _mm256_mul_ps(_mm256_set1_ps(scales[r].dmin), dx);
            acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dots[r]), d, acc[r]);
            acc[r] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(offs[r]), dmin, acc[r]);
        }
    }
    for r in 0..R {
        _mm256_storeu_ps(out[r].as_mut_ptr(), acc[r]);
    }
}

/// The integer sums of [`tile_32`] per block for one decoded weight row: `[block][activation
/// row]`, what the portable kernel must reproduce exactly.
///
/// # Safety
/// As [`tile_32`], with one row.
#[cfg(test)]
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn block_isums_32(format: Format32, strip: &Decoded, p: Panel32<'_, PANEL_ROWS>) -> Vec<[i32; PANEL_ROWS]> {
    let mut sums = Vec::new();
    for b in 0..p.d.len() {
        let [dots] = dots_32(format, &[strip.q.as_ptr().add(b * QK8_0)], p.qs.as_ptr().add(b) as *const __m256i);
        let mut lanes = [0i32; PANEL_ROWS];
        _mm256_storeu_si256(lanes.as_mut_ptr() as *mut __m256i, dots);
        sums.push(lanes);
    }
    sums
}

/// The integer sums of [`tile_k`] per block for one decoded weight row: `[block][activation
/// row]` → `(dot, off)` as `portable::isums_k` defines them.
///
/// # Safety
/// As [`tile_k`], with one row.
#[cfg(test)]
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn block_isums_k(
    format: FormatK,
    strip: &Decoded,
    p: PanelK<'_, PANEL_ROWS>,
) -> Vec<[(i32, i32); PANEL_ROWS]> {
    let mut sums = Vec::new();
    for b in 0..p.d.len() {
        let (quants, scales) = ([strip.q.as_ptr().add(b * QK_K)], [&strip.scales_k[b]]);
        let x = p.qs.as_ptr().add(b) as *const __m256i;
        let ([dots], [offs]) = dots_k(format, &quants, &scales, x, p.bsums.as_ptr().add(b) as *const __m256i);
        let (mut d, mut o) = ([0i32; PANEL_ROWS], [0i32; PANEL_ROWS]);
        _mm256_storeu_si256(d.as_mut_ptr() as *mut __m256i, dots);
        _mm256_storeu_si256(o.as_mut_ptr() as *mut __m256i, offs);
        sums.push(std::array::from_fn(|c| (d[c], o[c])));
    }
    sums
}
