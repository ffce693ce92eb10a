//! Products with a panel of eight activation rows: lane `c` of every vector belongs to
//! activation row `c`. A 32-byte load of a panel gives 4 consecutive elements of each of its 8
//! rows (see `quantize`); the matching 4 weights of one weight row are broadcast to all lanes, so
//! one `maddubs` makes 32 multiply-adds for 8 different outputs and nothing is ever summed across
//! lanes. Products are added up in 16 bits as far as they cannot overflow, widened to 32 bits by
//! `madd` (with a k-quant sub-block's scale as the factor) once per block or sub-block, and
//! scaled in f32 once per weight row and block for all 8 outputs.
//!
//! On the reference machine (Zen 4) `maddubs`, `madd`, `sign` and the f32 multiplies share two
//! pipes, while the bit operations, 16-bit additions and conversions run on others: this leaves
//! about one instruction on the multiplying pipes per 32 multiply-adds, where a kernel that sums
//! each block's products across lanes needs four.
use std::arch::x86_64::*;

use super::half;
use crate::engine::model::q8::layout::{Format32, FormatK, KScales};
use crate::engine::model::q8::quantize::{Panel32, PanelK, PANEL_ROWS, QK_K};

/// The 4 bytes at `p` in every 32-bit lane.
#[inline(always)]
unsafe fn broadcast_word(p: *const u8) -> __m256i {
    _mm256_set1_epi32((p as *const i32).read_unaligned())
}

#[inline(always)]
unsafe fn nibbles(v: __m256i, high: bool) -> __m256i {
    _mm256_and_si256(if high { _mm256_srli_epi16::<4>(v) } else { v }, _mm256_set1_epi8(0x0F))
}

/// The bits of each byte of `v` selected by `mask << from`, moved to bit `to`. With constant
/// `from` and `to` (the callers' loops are unrolled) this is one shift and one mask.
#[inline(always)]
unsafe fn move_bits(v: __m256i, from: usize, to: usize, mask: i8) -> __m256i {
    // 16-bit shifts move bits across bytes too; the mask keeps only each byte's own.
    let v = if from < to {
        _mm256_sll_epi16(v, _mm_cvtsi32_si128((to - from) as i32))
    } else {
        _mm256_srl_epi16(v, _mm_cvtsi32_si128((from - to) as i32))
    };
    _mm256_and_si256(v, _mm256_set1_epi8(mask << to))
}

/// Runs `$body` once for each value of `$i`, bound as a plain `usize`: the compiler sees a
/// constant in each copy.
macro_rules! unrolled {
    ($i:ident in [$($v:literal),*] => $body:block) => {
        $({
            let $i: usize = $v;
            $body
        })*
    };
}

/// The 32-bit integer dot products of block `b` of `R` weight rows (`quants[r]`: where the
/// row's quants start) with the panel's block at `x`: lane `c` of `[r]` is Σ qᵢ·x_qᵢ for
/// activation row `c`.
#[inline(always)]
unsafe fn dots_32<const R: usize>(format: Format32, quants: &[*const u8; R], x: *const __m256i) -> [__m256i; R] {
    let ones = _mm256_set1_epi16(1);
    let mut dots = [_mm256_setzero_si256(); R];
    match format {
        Format32::Q4_0 | Format32::Q4_1 => {
            // Word k < 4 holds the low nibbles of bytes 4k..4k+4, word k + 4 their high nibbles.
            // A pair sum is at most 2·15·127 in magnitude: the block's eight fit 16 bits.
            let mut sums = [_mm256_setzero_si256(); R];
            for k in 0..4 {
                let (low, high) = (_mm256_loadu_si256(x.add(k)), _mm256_loadu_si256(x.add(k + 4)));
                for r in 0..R {
                    let v = broadcast_word(quants[r].add(4 * k));
                    let pairs = _mm256_add_epi16(
                        _mm256_maddubs_epi16(nibbles(v, false), low),
                        _mm256_maddubs_epi16(nibbles(v, true), high),
                    );
                    sums[r] = _mm256_add_epi16(sums[r], pairs);
                }
            }
            for r in 0..R {
                dots[r] = _mm256_madd_epi16(sums[r], ones);
            }
        }
        Format32::Q8_0 => {
            // Pair sums reach 2·128·127: each is widened at once.
            for k in 0..8 {
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

/// `out[r][c]` = row `w[r]` · activation row `c` of the panel.
///
/// # Safety
/// AVX2, FMA and F16C must be available; every row of `w` holds `p.d.len()` blocks of `format`,
/// and the panel's slices have that many entries each.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn tile_32<const R: usize>(
    format: Format32,
    w: &[&[u8]; R],
    p: Panel32<'_, PANEL_ROWS>,
    out: &mut [[f32; PANEL_ROWS]; R],
) {
    // One loop per format, so none of them branches on it.
    match format {
        Format32::Q4_0 => tile_32_of(Format32::Q4_0, w, p, out),
        Format32::Q4_1 => tile_32_of(Format32::Q4_1, w, p, out),
        Format32::Q8_0 => tile_32_of(Format32::Q8_0, w, p, out),
    }
}

// No closures in the kernels: they do not inherit the target features, so intrinsics inside
// them stop inlining.
#[inline(always)]
unsafe fn tile_32_of<const R: usize>(
    format: Format32,
    w: &[&[u8]; R],
    p: Panel32<'_, PANEL_ROWS>,
    out: &mut [[f32; PANEL_ROWS]; R],
) {
    let size = format.block_bytes();
    let mut acc = [_mm256_setzero_ps(); R];
    for b in 0..p.d.len() {
        let mut blocks = [std::ptr::null(); R];
        let mut quants = [std::ptr::null(); R];
        for r in 0..R {
            blocks[r] = w[r].as_ptr().add(b * size);
            quants[r] = blocks[r].add(format.quants_at());
        }
        let dots = dots_32(format, &quants, p.qs.as_ptr().add(b) as *const __m256i);
        let dx = _mm256_loadu_ps(p.d.as_ptr().add(b) as *const f32);
        let sx = _mm256_loadu_ps(p.s.as_ptr().add(b) as *const f32);
        for r in 0..R {
            let d = half(blocks[r]);
            acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dots[r]), _mm256_mul_ps(_mm256_set1_ps(d), dx), acc[r]);
            // Q4_0's offset is −8·d, Q4_1's the block minimum m (see `Format32::scales`).
            match format {
                Format32::Q4_0 => acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(-8.0 * d), sx, acc[r]),
                Format32::Q4_1 => acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(half(blocks[r].add(2))), sx, acc[r]),
                Format32::Q8_0 => {}
            }
        }
    }
    for r in 0..R {
        _mm256_storeu_ps(out[r].as_mut_ptr(), acc[r]);
    }
}

/// Word `i` (elements `4i..4i+4`) of group `g` (32 elements) of the quants of the k-quant block
/// at `block`, unsigned as stored (see `layout`), in every lane.
#[inline(always)]
unsafe fn k_word(format: FormatK, block: *const u8, g: usize, i: usize) -> __m256i {
    match format {
        FormatK::Q4_K => nibbles(broadcast_word(block.add(16 + 32 * (g / 2) + 4 * i)), g % 2 == 1),
        FormatK::Q5_K => {
            let low = nibbles(broadcast_word(block.add(48 + 32 * (g / 2) + 4 * i)), g % 2 == 1);
            _mm256_or_si256(low, move_bits(broadcast_word(block.add(16 + 4 * i)), g, 4, 1))
        }
        FormatK::Q6_K => {
            let (h, j) = (g / 4, g % 4);
            let low = nibbles(broadcast_word(block.add(64 * h + 32 * (j % 2) + 4 * i)), j >= 2);
            _mm256_or_si256(low, move_bits(broadcast_word(block.add(128 + 32 * h + 4 * i)), 2 * j, 4, 3))
        }
    }
}

/// The integer sums of a k-quant block for `R` weight rows and the panel's block (`x`: its 64
/// words, `bsums`: its 8 pairs of block sums): lane `c` of `[r]` is `(dot, off)` of
/// `portable::isums_k` for activation row `c`.
#[inline(always)]
unsafe fn dots_k<const R: usize>(
    format: FormatK,
    blocks: &[*const u8; R],
    scales: &[KScales; R],
    x: *const __m256i,
    bsums: *const __m256i,
) -> ([__m256i; R], [__m256i; R]) {
    // Words added in 16 bits before widening: pair sums reach 2·15·127 (Q4_K, whose whole group
    // shares a scale), 2·31·127 (Q5_K) or 2·63·127 (Q6_K) in magnitude.
    let words = match format {
        FormatK::Q4_K => 8,
        FormatK::Q5_K => 4,
        FormatK::Q6_K => 2,
    };
    let mut dots = [_mm256_setzero_si256(); R];
    unrolled!(g in [0, 1, 2, 3, 4, 5, 6, 7] => {
        for part in 0..8 / words {
            let mut sums = [_mm256_setzero_si256(); R];
            for i in words * part..words * (part + 1) {
                let xk = _mm256_loadu_si256(x.add(8 * g + i));
                for r in 0..R {
                    sums[r] = _mm256_add_epi16(sums[r], _mm256_maddubs_epi16(k_word(format, blocks[r], g, i), xk));
                }
            }
            // The 16-element sub-block of the first word.
            let sub = 2 * g + words * part / 4;
            for r in 0..R {
                let scale = _mm256_set1_epi16(scales[r].sc[sub]);
                dots[r] = _mm256_add_epi32(dots[r], _mm256_madd_epi16(sums[r], scale));
            }
        }
    });
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

/// `out[r][c]` = row `w[r]` · activation row `c` of the panel.
///
/// # Safety
/// AVX2, FMA and F16C must be available; every row of `w` holds `p.d.len()` blocks of `format`,
/// and the panel's slices have that many entries each.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn tile_k<const R: usize>(
    format: FormatK,
    w: &[&[u8]; R],
    p: PanelK<'_, PANEL_ROWS>,
    out: &mut [[f32; PANEL_ROWS]; R],
) {
    match format {
        FormatK::Q4_K => tile_k_of(FormatK::Q4_K, w, p, out),
        FormatK::Q5_K => tile_k_of(FormatK::Q5_K, w, p, out),
        FormatK::Q6_K => tile_k_of(FormatK::Q6_K, w, p, out),
    }
}

#[inline(always)]
unsafe fn tile_k_of<const R: usize>(
    format: FormatK,
    w: &[&[u8]; R],
    p: PanelK<'_, PANEL_ROWS>,
    out: &mut [[f32; PANEL_ROWS]; R],
) {
    let size = format.block_bytes();
    let mut acc = [_mm256_setzero_ps(); R];
    let none = KScales { d: 0.0, dmin: 0.0, sc: [0; 16], off: [0; 16] };
    for b in 0..p.d.len() {
        let mut blocks = [std::ptr::null(); R];
        let mut scales = [none; R];
        for r in 0..R {
            blocks[r] = w[r].as_ptr().add(b * size);
            scales[r] = KScales::of(format, std::slice::from_raw_parts(blocks[r], size));
        }
        let x = p.qs.as_ptr().add(b) as *const __m256i;
        let (dots, offs) = dots_k(format, &blocks, &scales, x, p.bsums.as_ptr().add(b) as *const __m256i);
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

/// The integer sums of [`tile_32`] per block for one weight row: `[block][activation row]`,
/// what the portable kernel must reproduce exactly.
///
/// # Safety
/// As [`tile_32`].
#[cfg(test)]
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn block_isums_32(format: Format32, row: &[u8], p: Panel32<'_, PANEL_ROWS>) -> Vec<[i32; PANEL_ROWS]> {
    let mut sums = Vec::new();
    for b in 0..p.d.len() {
        let quants = [row.as_ptr().add(b * format.block_bytes() + format.quants_at())];
        let [dots] = dots_32(format, &quants, p.qs.as_ptr().add(b) as *const __m256i);
        let mut lanes = [0i32; PANEL_ROWS];
        _mm256_storeu_si256(lanes.as_mut_ptr() as *mut __m256i, dots);
        sums.push(lanes);
    }
    sums
}

/// The integer sums of [`tile_k`] per block for one weight row: `[block][activation row]` →
/// `(dot, off)` as `portable::isums_k` defines them.
///
/// # Safety
/// As [`tile_k`].
#[cfg(test)]
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn block_isums_k(format: FormatK, row: &[u8], p: PanelK<'_, PANEL_ROWS>) -> Vec<[(i32, i32); PANEL_ROWS]> {
    let size = format.block_bytes();
    let mut sums = Vec::new();
    for b in 0..p.d.len() {
        let block = [row.as_ptr().add(b * size)];
        let scales = [KScales::of(format, &row[b * size..(b + 1) * size])];
        let x = p.qs.as_ptr().add(b) as *const __m256i;
        let ([dots], [offs]) = dots_k(format, &block, &scales, x, p.bsums.as_ptr().add(b) as *const __m256i);
        let (mut d, mut o) = ([0i32; PANEL_ROWS], [0i32; PANEL_ROWS]);
        _mm256_storeu_si256(d.as_mut_ptr() as *mut __m256i, dots);
        _mm256_storeu_si256(o.as_mut_ptr() as *mut __m256i, offs);
        sums.push(std::array::from_fn(|c| (d[c], o[c])));
    }
    sums
}
