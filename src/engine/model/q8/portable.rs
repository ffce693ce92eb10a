//! Portable kernels, over decoded weights (see `decode`): what runs without AVX2, and the
//! reference the AVX2 kernels are tested against. Both compute the same integer sum per block;
//! only the f32 combination of the blocks differs in order.
use super::decode::Decoded;
use super::layout::{Format32, KScales};
use super::quantize::{Panel32, PanelK, QK8_0, QK_K};

/// Σ qᵢ·x_qᵢ over one block of decoded quants: unsigned, or Q8_0's signed bytes.
pub fn isum_32(format: Format32, q: &[u8], x: &[i8; QK8_0]) -> i32 {
    let weight = |q: u8| if format == Format32::Q8_0 { i32::from(q as i8) } else { i32::from(q) };
    q.iter().zip(x).map(|(&q, &x)| weight(q) * i32::from(x)).sum()
}

/// `(Σₖ sc[k]·Σ_{i∈k} qᵢ·x_qᵢ, Σₖ off[k]·bsums[k])` for one k-quant block's decoded quants `q`
/// and scales (see [`KScales`]).
pub fn isums_k(q: &[u8], scales: &KScales, x: &[i8; QK_K], bsums: &[i16; QK_K / 16]) -> (i32, i32) {
    let sub_blocks = q.chunks_exact(16).zip(x.chunks_exact(16)).zip(scales.sc);
    let dot = sub_blocks
        .map(|((q, x), sc)| i32::from(sc) * q.iter().zip(x).map(|(&q, &x)| i32::from(q) * i32::from(x)).sum::<i32>())
        .sum();
    let off = scales.off.iter().zip(bsums).map(|(&o, &s)| i32::from(o) * i32::from(s)).sum();
    (dot, off)
}

/// Row `c` of a panel's block of words, in element order.
pub fn gather<const W: usize, const C: usize, const N: usize>(block: &[[[i8; 4]; C]; W], c: usize) -> [i8; N] {
    std::array::from_fn(|e| block[e / 4][c][e % 4])
}

/// Row `c` of a panel's block sums.
pub fn gather_sums<const C: usize>(bsums: &[[[i16; 2]; C]; QK_K / 32], c: usize) -> [i16; QK_K / 16] {
    std::array::from_fn(|k| bsums[k / 2][c][k % 2])
}

/// `out[r][c]` = decoded row `r` of `strip` · activation row `c` of the panel.
pub fn tile_32<const R: usize, const C: usize>(
    format: Format32,
    strip: &Decoded,
    p: Panel32<'_, C>,
    out: &mut [[f32; C]; R],
) {
    let blocks = p.d.len();
    for (r, out) in out.iter_mut().enumerate() {
        *out = [0.0; C];
        let mut offsets = [0f32; C];
        let scales = &strip.scales_32[r * blocks..(r + 1) * blocks];
        for (b, (q, &(d, o))) in strip.row(r).chunks_exact(QK8_0).zip(scales).enumerate() {
            for c in 0..C {
                out[c] += d * p.d[b][c] * isum_32(format, q, &gather(&p.qs[b], c)) as f32;
                offsets[c] += o * p.s[b][c];
            }
        }
        for (y, o) in out.iter_mut().zip(offsets) {
            *y += o;
        }
    }
}

/// `out[r][c]` = decoded row `r` of `strip` · activation row `c` of the panel.
pub fn tile_k<const R: usize, const C: usize>(strip: &Decoded, p: PanelK<'_, C>, out: &mut [[f32; C]; R]) {
    let blocks = p.d.len();
    for (r, out) in out.iter_mut().enumerate() {
        *out = [0.0; C];
        let scales = &strip.scales_k[r * blocks..(r + 1) * blocks];
        for (b, (q, s)) in strip.row(r).chunks_exact(QK_K).zip(scales).enumerate() {
            for (c, y) in out.iter_mut().enumerate() {
                let (dot, off) = isums_k(q, s, &gather(&p.qs[b], c), &gather_sums(&p.bsums[b], c));
                *y += p.d[b][c] * (s.d * dot as f32 - s.dmin * off as f32);
            }
        }
    }
}
