//! Portable kernels: what runs without AVX2, and the reference the AVX2 kernels are tested
//! against. Both compute the same integer sum per block; only the f32 combination of the blocks
//! differs in order.
use super::layout::{Format32, FormatK, KScales};
use super::quantize::{Panel32, PanelK, QK8_0, QK_K};

/// Σ qᵢ·x_qᵢ over one weight block, `q` as stored: unsigned nibbles, or signed bytes for Q8_0.
pub fn isum_32(format: Format32, block: &[u8], x: &[i8; QK8_0]) -> i32 {
    let qs = &block[format.quants_at()..];
    match format {
        Format32::Q4_0 | Format32::Q4_1 => (0..16)
            .map(|j| i32::from(qs[j] & 0x0F) * i32::from(x[j]) + i32::from(qs[j] >> 4) * i32::from(x[j + 16]))
            .sum(),
        Format32::Q8_0 => (0..32).map(|j| i32::from(qs[j] as i8) * i32::from(x[j])).sum(),
    }
}

/// The 256 quants of a k-quant block, unsigned as stored (see `layout`).
pub fn k_quants(format: FormatK, block: &[u8]) -> [u8; QK_K] {
    let nibble = |byte: u8, high: bool| if high { byte >> 4 } else { byte & 0x0F };
    std::array::from_fn(|i| {
        let (g, l) = (i / 32, i % 32);
        match format {
            FormatK::Q4_K => nibble(block[16 + 32 * (g / 2) + l], g % 2 == 1),
            FormatK::Q5_K => nibble(block[48 + 32 * (g / 2) + l], g % 2 == 1) | (((block[16 + l] >> g) & 1) << 4),
            FormatK::Q6_K => {
                let (h, k) = (g / 4, g % 4);
                let low = nibble(block[64 * h + 32 * (k % 2) + l], k >= 2);
                low | (((block[128 + 32 * h + l] >> (2 * k)) & 3) << 4)
            }
        }
    })
}

/// `(Σₖ sc[k]·Σ_{i∈k} qᵢ·x_qᵢ, Σₖ off[k]·bsums[k])` for one k-quant block's quants `q` and
/// scales (see [`KScales`]).
pub fn isums_k(q: &[u8; QK_K], scales: &KScales, x: &[i8; QK_K], bsums: &[i16; 16]) -> (i32, i32) {
    let mut dot = 0;
    let mut off = 0;
    for k in 0..16 {
        let sum: i32 = (16 * k..16 * k + 16).map(|i| i32::from(q[i]) * i32::from(x[i])).sum();
        dot += i32::from(scales.sc[k]) * sum;
        off += i32::from(scales.off[k]) * i32::from(bsums[k]);
    }
    (dot, off)
}

/// `out[r][c]` = row `w[r]` · activation row `c` of the panel.
pub fn tile_32<const R: usize, const C: usize>(
    format: Format32,
    w: &[&[u8]; R],
    p: Panel32<'_, C>,
    out: &mut [[f32; C]; R],
) {
    for (row, out) in w.iter().zip(out.iter_mut()) {
        *out = [0.0; C];
        let mut offsets = [0f32; C];
        for (b, block) in row.chunks_exact(format.block_bytes()).enumerate() {
            let (d, o) = format.scales(block);
            for c in 0..C {
                let x: [i8; QK8_0] = std::array::from_fn(|e| p.qs[b][e / 4][c][e % 4]);
                out[c] += d * p.d[b][c] * isum_32(format, block, &x) as f32;
                offsets[c] += o * p.s[b][c];
            }
        }
        for (y, o) in out.iter_mut().zip(offsets) {
            *y += o;
        }
    }
}

/// `out[r][c]` = row `w[r]` · activation row `c` of the panel.
pub fn tile_k<const R: usize, const C: usize>(
    format: FormatK,
    w: &[&[u8]; R],
    p: PanelK<'_, C>,
    out: &mut [[f32; C]; R],
) {
    for (row, out) in w.iter().zip(out.iter_mut()) {
        *out = [0.0; C];
        for (b, block) in row.chunks_exact(format.block_bytes()).enumerate() {
            let scales = KScales::of(format, block);
            let q = k_quants(format, block);
            for c in 0..C {
                let x: [i8; QK_K] = std::array::from_fn(|e| p.qs[b][e / 4][c][e % 4]);
                let bsums: [i16; QK_K / 16] = std::array::from_fn(|k| p.bsums[b][k / 2][c][k % 2]);
                let (dot, off) = isums_k(&q, &scales, &x, &bsums);
                out[c] += p.d[b][c] * (scales.d * dot as f32 - scales.dmin * off as f32);
            }
        }
    }
}
