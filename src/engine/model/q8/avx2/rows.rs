//! Products with one activation row at a time, for products of fewer rows than a panel (a
//! single row when decoding, which is bound by reading the weights): each vector holds 32
//! elements of one weight row, unpacked from the blocks as stored, and of the activation row,
//! summed into 8 lanes that are added up at the end. Tiles are `R` weight rows × the row.
use std::arch::x86_64::*;
use std::sync::OnceLock;

#[cfg(test)]
use super::hsum_i32;
use super::{half, hsum_ps};
use crate::engine::model::prefetch::prefetch;
use crate::engine::model::q8::layout::{widen, Format32, FormatK};
use crate::engine::model::q8::quantize::{Panel32, PanelK, QK_K};

/// A weight block of a 32-element format, unpacked.
#[derive(Clone, Copy)]
struct Unpacked32 {
    /// The unsigned operand: the nibbles (Q4_0, Q4_1) or the magnitudes (Q8_0).
    q: __m256i,
    /// Q8_0: the weights, whose signs move to the activations.
    signs: __m256i,
}

/// The block's quants at `quants`, in element order.
#[inline(always)]
unsafe fn unpack_32(format: Format32, quants: *const u8) -> Unpacked32 {
    match format {
        Format32::Q4_0 | Format32::Q4_1 => {
            // The 16 bytes in both halves; shifting the upper half by 4 brings the high
            // nibbles (elements 16..32) down.
            let both = _mm256_broadcastsi128_si256(_mm_loadu_si128(quants as *const __m128i));
            let shifted = _mm256_srlv_epi64(both, _mm256_setr_epi64x(0, 0, 4, 4));
            let q = _mm256_and_si256(shifted, _mm256_set1_epi8(0x0F));
            Unpacked32 { q, signs: q }
        }
        Format32::Q8_0 => {
            let w = _mm256_loadu_si256(quants as *const __m256i);
            Unpacked32 { q: _mm256_abs_epi8(w), signs: w }
        }
    }
}

/// Σ qᵢ·xᵢ over one block as 8 partial sums.
#[inline(always)]
unsafe fn isum_32(format: Format32, w: Unpacked32, x: __m256i) -> __m256i {
    let pairs = match format {
        Format32::Q8_0 => _mm256_maddubs_epi16(w.q, _mm256_sign_epi8(x, w.signs)),
        Format32::Q4_0 | Format32::Q4_1 => _mm256_maddubs_epi16(w.q, x),
    };
    _mm256_madd_epi16(pairs, _mm256_set1_epi16(1))
}

/// `out[r]` = row `w[r]` · the activation row.
///
/// # Safety
/// AVX2, FMA and F16C must be available; every row of `w` holds `p.d.len()` blocks of `format`,
/// and the panel's slices have that many entries each.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn tile_32<const R: usize>(format: Format32, w: &[&[u8]; R], p: Panel32<'_, 1>, out: &mut [[f32; 1]; R]) {
    // One loop per format, so none of them branches on it.
    match format {
        Format32::Q4_0 => tile_32_of(Format32::Q4_0, w, p, out),
        Format32::Q4_1 => tile_32_of(Format32::Q4_1, w, p, out),
        Format32::Q8_0 => tile_32_of(Format32::Q8_0, w, p, out),
    }
}

// No closures in the kernels: they do not inherit the target features, so intrinsics inside
// them stop inlining.
//
// Decoding is bound by reading the weights, so a block costs as few instructions as it can: its
// scale is widened by a table lookup that the load unit broadcasts, and Q4_0's −8 is taken off
// the integer sums (Σ (q − 8)·x = Σ q·x − Σ 8·x, lane by lane, the second shared by the rows).
#[inline(always)]
unsafe fn tile_32_of<const R: usize>(format: Format32, w: &[&[u8]; R], p: Panel32<'_, 1>, out: &mut [[f32; 1]; R]) {
    let size = format.block_bytes();
    let widened = f16_table();
    let mut acc = [_mm256_setzero_ps(); R];
    let mut minimums = [0f32; R];
    for b in 0..p.d.len() {
        let x = _mm256_loadu_si256(p.qs.as_ptr().add(b) as *const __m256i);
        let dx = _mm256_set1_ps(p.d.get_unchecked(b)[0]);
        let eights = match format {
            Format32::Q4_0 => _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(8), x), _mm256_set1_epi16(1)),
            Format32::Q4_1 | Format32::Q8_0 => _mm256_setzero_si256(),
        };
        for r in 0..R {
            let block = w[r].as_ptr().add(b * size);
            // The same place in the next tile: a tile's rows lie one after another, so this
            // streams through the matrix one tile ahead of the kernel.
            prefetch(block.wrapping_add(R * w[r].len()), size);
            let q = unpack_32(format, block.add(format.quants_at()));
            let sums = match format {
                Format32::Q4_0 => _mm256_sub_epi32(isum_32(format, q, x), eights),
                Format32::Q4_1 | Format32::Q8_0 => isum_32(format, q, x),
            };
            let d = _mm256_set1_ps(*widened.get_unchecked(usize::from(u16::from_le_bytes([*block, *block.add(1)]))));
            acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums), _mm256_mul_ps(d, dx), acc[r]);
            // Q4_1's minimum m contributes m·s_x (see `Format32::scales`).
            if format == Format32::Q4_1 {
                minimums[r] += half(block.add(2)) * p.s.get_unchecked(b)[0];
            }
        }
    }
    for r in 0..R {
        out[r][0] = hsum_ps(acc[r]) + minimums[r];
    }
}

/// Every f16 widened to f32, indexed by its bits (256 KiB; the scales of a model's blocks take
/// few distinct values, so the entries read stay in the nearest cache).
fn f16_table() -> &'static [f32; 1 << 16] {
    static TABLE: OnceLock<Box<[f32; 1 << 16]>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table = Box::new([0f32; 1 << 16]);
        for (bits, v) in table.iter_mut().enumerate() {
            *v = widen(bits as u16);
        }
        table
    })
}

/// A k-quant block's scales as vectors (see `layout::KScales`).
#[derive(Clone, Copy)]
struct KVectors {
    d: f32,
    dmin: f32,
    /// The scales of sub-blocks 0..8 (as i16) in both 128-bit halves.
    sc_low: __m256i,
    /// Those of sub-blocks 8..16.
    sc_high: __m256i,
    /// The coefficients of the 16 block sums.
    off: __m256i,
}

/// The scales of the k-quant block at `block`: the values `layout::KScales` holds, read into vectors
/// without going through its arrays, which a decoding step would do for every block of every row.
#[inline(always)]
unsafe fn k_vectors(format: FormatK, block: *const u8) -> KVectors {
    match format {
        FormatK::Q4_K | FormatK::Q5_K => {
            // ggml's `get_scale_min_k4` four bytes at a time over the 12 bytes at 4: groups 0..4
            // in the low 6 bits of words 0 (scales) and 1 (minimums), groups 4..8 in the nibbles
            // of word 2 with their top 2 bits in the top bits of words 0 and 1.
            const LOW6: u32 = 0x3F3F_3F3F;
            const LOW4: u32 = 0x0F0F_0F0F;
            const LOW2: u32 = 0x0303_0303;
            let words = std::ptr::read_unaligned(block.add(4) as *const [u32; 3]).map(u32::from_le);
            let [w0, w1, w2] = words;
            let scales = [w0 & LOW6, (w2 & LOW4) | (((w0 >> 6) & LOW2) << 4)];
            let minimums = [w1 & LOW6, ((w2 >> 4) & LOW4) | (((w1 >> 6) & LOW2) << 4)];
            let sc = _mm_cvtepu8_epi16(_mm_set_epi32(0, 0, scales[1] as i32, scales[0] as i32));
            let m = _mm_cvtepu8_epi16(_mm_set_epi32(0, 0, minimums[1] as i32, minimums[0] as i32));
            // Sub-block k (16 elements) takes group k/2's scale and minimum.
            KVectors {
                d: half(block),
                dmin: half(block.add(2)),
                sc_low: _mm256_broadcastsi128_si256(_mm_unpacklo_epi16(sc, sc)),
                sc_high: _mm256_broadcastsi128_si256(_mm_unpackhi_epi16(sc, sc)),
                off: _mm256_set_m128i(_mm_unpackhi_epi16(m, m), _mm_unpacklo_epi16(m, m)),
            }
        }
        FormatK::Q6_K => {
            let sc = _mm256_cvtepi8_epi16(_mm_loadu_si128(block.add(192) as *const __m128i));
            let d = half(block.add(208));
            KVectors {
                d,
                dmin: 32.0 * d,
                sc_low: _mm256_permute2x128_si256::<0x00>(sc, sc),
                sc_high: _mm256_permute2x128_si256::<0x11>(sc, sc),
                off: sc,
            }
        }
    }
}

/// The 16-bit factors for group `g` (32 elements): sub-block 2g's scale in the lower half (the
/// pair sums of bytes 0..16), 2g+1's in the upper.
#[inline(always)]
unsafe fn group_scales(v: &KVectors, g: usize) -> __m256i {
    let half = if g < 4 { v.sc_low } else { v.sc_high };
    // Bytes 4k, 4k+1 of a half are sub-block 2k's i16, bytes 4k+2, 4k+3 sub-block 2k+1's.
    let k = (g % 4) as i16;
    let low = (4 * k) | ((4 * k + 1) << 8);
    let high = (4 * k + 2) | ((4 * k + 3) << 8);
    _mm256_shuffle_epi8(half, _mm256_set_m128i(_mm_set1_epi16(high), _mm_set1_epi16(low)))
}

/// The 32 nibbles at `bytes`: the low ones, or the high ones.
#[inline(always)]
unsafe fn nibbles(bytes: *const u8, high: bool) -> __m256i {
    let v = _mm256_loadu_si256(bytes as *const __m256i);
    _mm256_and_si256(if high { _mm256_srli_epi16::<4>(v) } else { v }, _mm256_set1_epi8(0x0F))
}

/// Bits `shift..` of each of the 32 bytes at `bytes`, masked by `mask`, moved up to bit 4.
#[inline(always)]
unsafe fn high_bits(bytes: *const u8, shift: usize, mask: i8) -> __m256i {
    let v = _mm256_srl_epi16(_mm256_loadu_si256(bytes as *const __m256i), _mm_cvtsi32_si128(shift as i32));
    _mm256_slli_epi16::<4>(_mm256_and_si256(v, _mm256_set1_epi8(mask)))
}

/// The 32 quants of group `g` of the block at `block`, unsigned as stored (see `layout`).
#[inline(always)]
unsafe fn k_group(format: FormatK, block: *const u8, g: usize) -> __m256i {
    match format {
        FormatK::Q4_K => nibbles(block.add(16 + 32 * (g / 2)), g % 2 == 1),
        FormatK::Q5_K => {
            _mm256_or_si256(nibbles(block.add(48 + 32 * (g / 2)), g % 2 == 1), high_bits(block.add(16), g, 1))
        }
        FormatK::Q6_K => {
            let (h, i) = (g / 4, g % 4);
            let low = nibbles(block.add(64 * h + 32 * (i % 2)), i >= 2);
            _mm256_or_si256(low, high_bits(block.add(128 + 32 * h), 2 * i, 3))
        }
    }
}

/// `out[r]` = row `w[r]` · the activation row.
///
/// # Safety
/// AVX2, FMA and F16C must be available; every row of `w` holds `p.d.len()` blocks of `format`,
/// and the panel's slices have that many entries each.
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn tile_k<const R: usize>(format: FormatK, w: &[&[u8]; R], p: PanelK<'_, 1>, out: &mut [[f32; 1]; R]) {
    match format {
        FormatK::Q4_K => tile_k_of(FormatK::Q4_K, w, p, out),
        FormatK::Q5_K => tile_k_of(FormatK::Q5_K, w, p, out),
        FormatK::Q6_K => tile_k_of(FormatK::Q6_K, w, p, out),
    }
}

#[inline(always)]
unsafe fn tile_k_of<const R: usize>(format: FormatK, w: &[&[u8]; R], p: PanelK<'_, 1>, out: &mut [[f32; 1]; R]) {
    let size = format.block_bytes();
    let mut acc = [_mm256_setzero_ps(); R];
    for b in 0..p.d.len() {
        let x = p.qs.as_ptr().add(b) as *const __m256i;
        let bsums = _mm256_loadu_si256(p.bsums.as_ptr().add(b) as *const __m256i);
        let dx = p.d.get_unchecked(b)[0];
        for r in 0..R {
            let block = w[r].as_ptr().add(b * size);
            // The same place in the next tile: a tile's rows lie one after another, so this
            // streams through the matrix one tile ahead of the kernel.
            prefetch(block.wrapping_add(R * w[r].len()), size);
            let scales = k_vectors(format, block);
            let mut dot = _mm256_setzero_si256();
            for g in 0..QK_K / 32 {
                let pairs = _mm256_maddubs_epi16(k_group(format, block, g), _mm256_loadu_si256(x.add(g)));
                dot = _mm256_add_epi32(dot, _mm256_madd_epi16(pairs, group_scales(&scales, g)));
            }
            let off = _mm256_cvtepi32_ps(_mm256_madd_epi16(bsums, scales.off));
            acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_set1_ps(scales.d * dx), acc[r]);
            acc[r] = _mm256_fnmadd_ps(off, _mm256_set1_ps(scales.dmin * dx), acc[r]);
        }
    }
    for r in 0..R {
        out[r][0] = hsum_ps(acc[r]);
    }
}

/// The integer sums of [`tile_32`], per block, for one row and one activation row: what the
/// portable kernel must reproduce exactly.
///
/// # Safety
/// As [`tile_32`].
#[cfg(test)]
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn block_isums_32(format: Format32, row: &[u8], p: Panel32<'_, 1>) -> Vec<i32> {
    let size = format.block_bytes();
    let mut sums = Vec::new();
    for b in 0..p.d.len() {
        let q = unpack_32(format, row.as_ptr().add(b * size + format.quants_at()));
        sums.push(hsum_i32(isum_32(format, q, _mm256_loadu_si256(p.qs.as_ptr().add(b) as *const __m256i))));
    }
    sums
}

/// The integer sums of [`tile_k`], per block, for one row and one activation row: `(dot, off)`
/// as `portable::isums_k` defines them.
///
/// # Safety
/// As [`tile_k`].
#[cfg(test)]
#[target_feature(enable = "avx2,fma,f16c")]
pub unsafe fn block_isums_k(format: FormatK, row: &[u8], p: PanelK<'_, 1>) -> Vec<(i32, i32)> {
    let size = format.block_bytes();
    let mut sums = Vec::new();
    for b in 0..p.d.len() {
        let block = row.as_ptr().add(b * size);
        let scales = k_vectors(format, block);
        let mut dot = _mm256_setzero_si256();
        for g in 0..QK_K / 32 {
            let x = _mm256_loadu_si256((p.qs.as_ptr().add(b) as *const __m256i).add(g));
            let pairs = _mm256_maddubs_epi16(k_group(format, block, g), x);
            dot = _mm256_add_epi32(dot, _mm256_madd_epi16(pairs, group_scales(&scales, g)));
        }
        let bs = _mm256_loadu_si256(p.bsums.as_ptr().add(b) as *const __m256i);
        sums.push((hsum_i32(dot), hsum_i32(_mm256_madd_epi16(bs, scales.off))));
    }
    sums
}
