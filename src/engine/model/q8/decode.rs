//! Weight rows decoded to one byte per weight, with each block's scales: what the panel kernels
//! and the portable kernels multiply.
//!
//! A panel kernel broadcasts 4 weights at a time to the 8 lanes of a vector; extracting them from
//! their nibbles and bit planes there would repeat that work for every lane, and for every panel.
//! Decoding a strip of rows once per task instead costs a few instructions per weight, shared by
//! all the panels the task multiplies it with. The decoding is plain code, written so that the
//! compiler vectorizes it (see `avx2::decode_32`).
use super::layout::{Format32, FormatK, KScales};
use super::quantize::{QK8_0, QK_K};

/// A strip of weight rows, decoded.
#[derive(Default)]
pub struct Decoded {
    /// Weights per row.
    pub cols: usize,
    /// `[row, cols]`: the quants, unsigned as stored (Q4_0/Q4_1 nibbles, the k-quants' 4 to 6
    /// bits) or Q8_0's signed bytes.
    pub q: Vec<u8>,
    /// 32-element formats: `[row, block]` → `(d, o)` (see [`Format32::scales`]).
    pub scales_32: Vec<(f32, f32)>,
    /// The k-quants: `[row, block]`.
    pub scales_k: Vec<KScales>,
}

impl Decoded {
    /// Row `r`'s quants.
    pub fn row(&self, r: usize) -> &[u8] {
        &self.q[r * self.cols..(r + 1) * self.cols]
    }

    /// Decodes `rows`, each `cols` weights of `format`.
    #[inline(always)]
    pub fn decode_32(&mut self, format: Format32, rows: &[&[u8]], cols: usize) {
        self.cols = cols;
        self.q.resize(rows.len() * cols, 0);
        self.scales_32.clear();
        for (row, q) in rows.iter().zip(self.q.chunks_exact_mut(cols)) {
            let (q, _) = q.as_chunks_mut::<QK8_0>();
            for (block, q) in row.chunks_exact(format.block_bytes()).zip(q) {
                quants_32(format, block, q);
                self.scales_32.push(format.scales(block));
            }
        }
    }

    /// Decodes `rows`, each `cols` weights of `format`.
    #[inline(always)]
    pub fn decode_k(&mut self, format: FormatK, rows: &[&[u8]], cols: usize) {
        self.cols = cols;
        self.q.resize(rows.len() * cols, 0);
        self.scales_k.clear();
        for (row, q) in rows.iter().zip(self.q.chunks_exact_mut(cols)) {
            let (q, _) = q.as_chunks_mut::<QK_K>();
            for (block, q) in row.chunks_exact(format.block_bytes()).zip(q) {
                quants_k(format, block, q);
                self.scales_k.push(KScales::of(format, block));
            }
        }
    }
}

/// The 32 quants of a block in element order, unsigned as stored (Q8_0: its signed bytes).
// Slices of fixed length throughout, so that the compiler checks bounds once and vectorizes.
#[inline(always)]
pub fn quants_32(format: Format32, block: &[u8], q: &mut [u8; QK8_0]) {
    let at = format.quants_at();
    match format {
        Format32::Q4_0 | Format32::Q4_1 => {
            let qs = &block[at..at + 16];
            for j in 0..16 {
                q[j] = qs[j] & 0x0F;
                q[j + 16] = qs[j] >> 4;
            }
        }
        Format32::Q8_0 => q.copy_from_slice(&block[at..at + QK8_0]),
    }
}

/// The 256 quants of a k-quant block in element order, unsigned as stored (see `layout`).
#[inline(always)]
pub fn quants_k(format: FormatK, block: &[u8], q: &mut [u8; QK_K]) {
    match format {
        FormatK::Q4_K => {
            for pair in 0..4 {
                let qs = &block[16 + 32 * pair..][..32];
                let (low, high) = q[64 * pair..][..64].split_at_mut(32);
                for l in 0..32 {
                    low[l] = qs[l] & 0x0F;
                    high[l] = qs[l] >> 4;
                }
            }
        }
        FormatK::Q5_K => {
            let qh = &block[16..48];
            for pair in 0..4 {
                let qs = &block[48 + 32 * pair..][..32];
                let (low, high) = q[64 * pair..][..64].split_at_mut(32);
                for l in 0..32 {
                    low[l] = (qs[l] & 0x0F) | (((qh[l] >> (2 * pair)) & 1) << 4);
                    high[l] = (qs[l] >> 4) | (((qh[l] >> (2 * pair + 1)) & 1) << 4);
                }
            }
        }
        FormatK::Q6_K => {
            for h in 0..2 {
                let (ql, qh) = (&block[64 * h..64 * h + 64], &block[128 + 32 * h..128 + 32 * h + 32]);
                let q = &mut q[128 * h..128 * h + 128];
                for l in 0..32 {
                    q[l] = (ql[l] & 0x0F) | ((qh[l] & 3) << 4);
                    q[l + 32] = (ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4);
                    q[l + 64] = (ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4);
                    q[l + 96] = (ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4);
                }
            }
        }
    }
}
