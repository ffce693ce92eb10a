//! Activation rows quantized to 8 bits, in the two block sizes the weight formats need.
//!
//! Every block of `B` values becomes `x ≈ d·q` with `d = amax/127` and `q = round(x·127/amax)`
//! (ties to even) in −127..=127: `q` never takes −128, so a product of two quants fits the 16-bit
//! pair sums of the integer kernels.
//!
//! - [`Q8_0Rows`]: 32-element blocks, for Q4_0, Q4_1 and Q8_0 weights (ggml's `block_q8_0`, with an
//!   f32 scale). Each block also keeps `Σq` and `s = d·Σq`, as ggml's `block_q8_1` does: the offset
//!   terms of Q4_0 (−8) and Q4_1 (the block minimum) are `offset·s`, or Q4_0's `−8·Σq` in integers.
//! - [`Q8_KRows`]: 256-element blocks, for the k-quants (ggml's `block_q8_K`: f32 `d`, `qs[256]`,
//!   `bsums[16]` the sums of each 16 quants, which the minimum and the −32 offset terms use).
//!   ggml's `quantize_row_q8_K_ref` divides by the signed maximum (`d` may be negative) for its
//!   IQ formats' sake; here both block sizes use the same positive scale.
//!
//! Rows are stored in panels of `C` rows, block by block, and within a block interleaved by
//! 4-byte words: word `k` of the block holds elements `4k..4k+4` of each of the `C` rows, so one
//! 32-byte load gives a kernel the same 4 elements of 8 rows. Block sums are interleaved by
//! pairs the same way. A panel of one row is the plain row.
//!
//! Activations must be finite: an infinite or NaN value gives a meaningless block (never undefined
//! behaviour).
use rayon::prelude::*;

use super::Isa;

/// Elements of a Q8_0 block.
pub const QK8_0: usize = 32;
/// Elements of a Q8_K block (and of a k-quant weight block).
pub const QK_K: usize = 256;
/// Rows of a panel in products of many rows: the lanes of a vector of 32-bit words.
pub const PANEL_ROWS: usize = 8;

/// `n` rows of `[blocks · 32]` activations as Q8_0 blocks, `C` rows per panel; rows past `n` in
/// the last panel are zeros.
pub struct Q8_0Rows<const C: usize> {
    pub panels: usize,
    /// Blocks per row.
    pub blocks: usize,
    /// `[panel, block]` → `[word k][row c]` → elements `4k..4k+4` of row `c`.
    pub qs: Vec<[[[i8; 4]; C]; QK8_0 / 4]>,
    /// `[panel, block]` → the scales `d`.
    pub d: Vec<[f32; C]>,
    /// `[panel, block]` → `d·Σq`.
    pub s: Vec<[f32; C]>,
    /// `[panel, block]` → `Σq`.
    pub sums: Vec<[i32; C]>,
}

/// `n` rows of `[blocks · 256]` activations as Q8_K blocks, `C` rows per panel; rows past `n` in
/// the last panel are zeros.
#[allow(non_camel_case_types)]
pub struct Q8_KRows<const C: usize> {
    pub panels: usize,
    /// Blocks per row.
    pub blocks: usize,
    /// `[panel, block]` → `[word k][row c]` → elements `4k..4k+4` of row `c`.
    pub qs: Vec<[[[i8; 4]; C]; QK_K / 4]>,
    /// `[panel, block]` → the scales `d`.
    pub d: Vec<[f32; C]>,
    /// `[panel, block]` → `[pair j][row c]` → sums `2j, 2j+1` of each 16 quants of row `c`.
    pub bsums: Vec<[[[i16; 2]; C]; QK_K / 32]>,
}

/// One panel of [`Q8_0Rows`]: `[block]` slices.
#[derive(Clone, Copy)]
pub struct Panel32<'a, const C: usize> {
    pub qs: &'a [[[[i8; 4]; C]; QK8_0 / 4]],
    pub d: &'a [[f32; C]],
    pub s: &'a [[f32; C]],
    pub sums: &'a [[i32; C]],
}

/// One panel of [`Q8_KRows`]: `[block]` slices.
#[derive(Clone, Copy)]
pub struct PanelK<'a, const C: usize> {
    pub qs: &'a [[[[i8; 4]; C]; QK_K / 4]],
    pub d: &'a [[f32; C]],
    pub bsums: &'a [[[[i16; 2]; C]; QK_K / 32]],
}

impl<const C: usize> Q8_0Rows<C> {
    /// Quantizes `x: [n, cols]`; `cols` must be a multiple of 32 and `x` whole rows (checked by
    /// the caller). Panels are quantized in parallel.
    pub fn quantize(isa: Isa, x: &[f32], cols: usize) -> Self {
        let blocks = cols / QK8_0;
        let panels = (x.len() / cols).div_ceil(C);
        let mut rows = Q8_0Rows {
            panels,
            blocks,
            qs: vec![[[[0; 4]; C]; QK8_0 / 4]; panels * blocks],
            d: vec![[0.0; C]; panels * blocks],
            s: vec![[0.0; C]; panels * blocks],
            sums: vec![[0; C]; panels * blocks],
        };
        let panel_x = x.par_chunks(C * cols);
        let panel_out = rows.qs.par_chunks_mut(blocks).zip(rows.d.par_chunks_mut(blocks));
        let panel_out = panel_out.zip(rows.s.par_chunks_mut(blocks)).zip(rows.sums.par_chunks_mut(blocks));
        panel_x.zip(panel_out).for_each(|(x, (((qs, d), s), sums))| {
            for (c, row) in x.chunks_exact(cols).enumerate() {
                let (row, _) = row.as_chunks::<QK8_0>();
                for (b, block) in row.iter().enumerate() {
                    let mut q = [0; QK8_0];
                    let (scale, sum) = q8_0_block(isa, block, &mut q);
                    interleave(&q, &mut qs[b], c);
                    d[b][c] = scale;
                    s[b][c] = scale * sum as f32;
                    sums[b][c] = sum;
                }
            }
        });
        rows
    }

    pub fn panel(&self, p: usize) -> Panel32<'_, C> {
        let at = p * self.blocks..(p + 1) * self.blocks;
        Panel32 { qs: &self.qs[at.clone()], d: &self.d[at.clone()], s: &self.s[at.clone()], sums: &self.sums[at] }
    }
}

impl<const C: usize> Q8_KRows<C> {
    /// Quantizes `x: [n, cols]`; `cols` must be a multiple of 256 and `x` whole rows (checked by
    /// the caller). Panels are quantized in parallel.
    pub fn quantize(isa: Isa, x: &[f32], cols: usize) -> Self {
        let blocks = cols / QK_K;
        let panels = (x.len() / cols).div_ceil(C);
        let mut rows = Q8_KRows {
            panels,
            blocks,
            qs: vec![[[[0; 4]; C]; QK_K / 4]; panels * blocks],
            d: vec![[0.0; C]; panels * blocks],
            bsums: vec![[[[0; 2]; C]; QK_K / 32]; panels * blocks],
        };
        let panel_x = x.par_chunks(C * cols);
        let panel_out =
            rows.qs.par_chunks_mut(blocks).zip(rows.d.par_chunks_mut(blocks)).zip(rows.bsums.par_chunks_mut(blocks));
        panel_x.zip(panel_out).for_each(|(x, ((qs, d), bsums))| {
            for (c, row) in x.chunks_exact(cols).enumerate() {
                let (row, _) = row.as_chunks::<QK_K>();
                for (b, block) in row.iter().enumerate() {
                    let (mut q, mut sums) = ([0; QK_K], [0; QK_K / 16]);
                    d[b][c] = q8_k_block(isa, block, &mut q, &mut sums);
                    interleave(&q, &mut qs[b], c);
                    interleave(&sums, &mut bsums[b], c);
                }
            }
        });
        rows
    }

    pub fn panel(&self, p: usize) -> PanelK<'_, C> {
        let at = p * self.blocks..(p + 1) * self.blocks;
        PanelK { qs: &self.qs[at.clone()], d: &self.d[at.clone()], bsums: &self.bsums[at] }
    }
}

/// Writes a row's block `values` as row `c` of a panel's block `out`, `W` values a word.
fn interleave<T: Copy, const W: usize, const C: usize>(values: &[T], out: &mut [[[T; W]; C]], c: usize) {
    for (word, values) in out.iter_mut().zip(values.chunks_exact(W)) {
        word[c].copy_from_slice(values);
    }
}

/// Quantizes one 32-element block into `qs`; returns `(d, Σq)`.
pub fn q8_0_block(isa: Isa, x: &[f32; QK8_0], qs: &mut [i8; QK8_0]) -> (f32, i32) {
    match isa {
        // SAFETY: `Isa::Avx2` is only chosen when the processor has the features.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { super::avx2::q8_0_block(x, qs) },
        Isa::Portable => q8_0_block_portable(x, qs),
    }
}

/// Quantizes one 256-element block into `qs` and the sums of each 16 quants into `bsums`;
/// returns `d`.
pub fn q8_k_block(isa: Isa, x: &[f32; QK_K], qs: &mut [i8; QK_K], bsums: &mut [i16; QK_K / 16]) -> f32 {
    match isa {
        // SAFETY: `Isa::Avx2` is only chosen when the processor has the features.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { super::avx2::q8_k_block(x, qs, bsums) },
        Isa::Portable => q8_k_block_portable(x, qs, bsums),
    }
}

/// `(d, 1/d)` for a block whose largest magnitude is `amax`; a block of zeros has both zero.
#[inline(always)]
pub fn scales(amax: f32) -> (f32, f32) {
    let inverse = if amax == 0.0 { 0.0 } else { 127.0 / amax };
    (amax / 127.0, inverse)
}

fn q8_0_block_portable(x: &[f32; QK8_0], qs: &mut [i8; QK8_0]) -> (f32, i32) {
    let amax = x.iter().fold(0f32, |m, v| m.max(v.abs()));
    let (d, inverse) = scales(amax);
    round_into(x, inverse, qs);
    (d, qs.iter().map(|&q| i32::from(q)).sum())
}

fn q8_k_block_portable(x: &[f32; QK_K], qs: &mut [i8; QK_K], bsums: &mut [i16; QK_K / 16]) -> f32 {
    let amax = x.iter().fold(0f32, |m, v| m.max(v.abs()));
    let (d, inverse) = scales(amax);
    round_into(x, inverse, qs);
    for (sum, group) in bsums.iter_mut().zip(qs.chunks_exact(16)) {
        // At most 16·127 in magnitude.
        *sum = group.iter().map(|&q| i16::from(q)).sum();
    }
    d
}

/// `q = round(x·inverse)`, ties to even as the AVX2 rounding instruction does.
fn round_into(x: &[f32], inverse: f32, qs: &mut [i8]) {
    for (q, &v) in qs.iter_mut().zip(x) {
        *q = (v * inverse).round_ties_even().clamp(-127.0, 127.0) as i8;
    }
}
