//! Quantized weights kept in the blocks their file stores, and single-row products over them.
//!
//! Decoding one token multiplies one row by every weight of the model, so its speed is the speed
//! of reading the weights. Reading SmolLM2's Q4_1 blocks (5 bits a weight) instead of their f32
//! expansion (32 bits) makes that 6× less memory traffic, and the result is the same sum: each
//! block contributes `d·Σ qᵢxᵢ + m·Σ xᵢ`, which is `Σ (d·qᵢ + m)·xᵢ` reassociated.
use half::f16;
use rayon::prelude::*;

/// The block formats read in place. Each block holds 32 consecutive elements of a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockFormat {
    /// `{ f16 d; u8 qs[16] }`: x = d·(q − 8), q a nibble.
    Q4_0,
    /// `{ f16 d; f16 m; u8 qs[16] }`: x = d·q + m, q a nibble.
    Q4_1,
    /// `{ f16 d; i8 qs[32] }`: x = d·q.
    Q8_0,
}

const BLOCK: usize = 32;

/// Rows handed to one parallel task: enough work to amortise scheduling.
const ROWS_PER_TASK: usize = 32;

impl BlockFormat {
    pub fn block_bytes(self) -> usize {
        match self {
            BlockFormat::Q4_0 => 2 + 16,
            BlockFormat::Q4_1 => 2 + 2 + 16,
            BlockFormat::Q8_0 => 2 + 32,
        }
    }
}

/// A `[rows, cols]` matrix as its file's blocks, row-major (row r is blocks `r·cols/32..`).
#[derive(Debug, Clone)]
pub struct PackedRows {
    pub format: BlockFormat,
    pub rows: usize,
    pub cols: usize,
    bytes: Vec<u8>,
}

impl PackedRows {
    /// Takes `bytes` as `rows × cols` elements of `format`; `None` when the sizes do not fit.
    pub fn new(format: BlockFormat, rows: usize, cols: usize, bytes: Vec<u8>) -> Option<Self> {
        let fits = cols.is_multiple_of(BLOCK) && bytes.len() == rows * cols / BLOCK * format.block_bytes();
        fits.then_some(PackedRows { format, rows, cols, bytes })
    }

    /// The blocks as stored: `rows × cols / 32` of them.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// y = W·x for `x: [cols]`, giving `[rows]`; rows are computed in parallel.
    pub fn matvec(&self, x: &[f32]) -> Vec<f32> {
        assert_eq!(x.len(), self.cols, "input width");
        let row_bytes = self.cols / BLOCK * self.format.block_bytes();
        // Σ x over each block, shared by every row (the offset term of Q4_0 and Q4_1).
        let block_sums: Vec<f32> = x.chunks_exact(BLOCK).map(|b| b.iter().sum()).collect();
        let kernel = Kernel::new(self.format, x);
        let mut y = vec![0f32; self.rows];
        y.par_chunks_mut(ROWS_PER_TASK).enumerate().for_each(|(task, ys)| {
            for (i, out) in ys.iter_mut().enumerate() {
                let r = task * ROWS_PER_TASK + i;
                *out = kernel.row_dot(self.format, &self.bytes[r * row_bytes..(r + 1) * row_bytes], &block_sums);
            }
        });
        y
    }
}

/// The fastest row kernel this processor runs, with the input laid out as that kernel reads it.
enum Kernel<'a> {
    #[cfg(target_arch = "x86_64")]
    Simd(Vec<f32>),
    Scalar(&'a [f32]),
}

impl<'a> Kernel<'a> {
    fn new(format: BlockFormat, x: &'a [f32]) -> Self {
        #[cfg(target_arch = "x86_64")]
        if simd::available() {
            return Kernel::Simd(simd::permute(format, x));
        }
        Kernel::Scalar(x)
    }

    fn row_dot(&self, format: BlockFormat, row: &[u8], block_sums: &[f32]) -> f32 {
        match self {
            // SAFETY: `Simd` is only made when the processor has AVX2, FMA and F16C.
            #[cfg(target_arch = "x86_64")]
            Kernel::Simd(xp) => unsafe { simd::row_dot(format, row, xp, block_sums) },
            Kernel::Scalar(x) => scalar_row_dot(format, row, x, block_sums),
        }
    }
}

fn scale(block: &[u8], at: usize) -> f32 {
    f16::from_le_bytes([block[at], block[at + 1]]).to_f32()
}

/// The portable kernel, and the reference the SIMD one is tested against.
fn scalar_row_dot(format: BlockFormat, row: &[u8], x: &[f32], block_sums: &[f32]) -> f32 {
    let mut total = 0f32;
    for ((block, xs), &sum) in row.chunks_exact(format.block_bytes()).zip(x.chunks_exact(BLOCK)).zip(block_sums) {
        let d = scale(block, 0);
        total += match format {
            BlockFormat::Q4_0 => d * (nibble_dot(&block[2..], xs) - 8.0 * sum),
            BlockFormat::Q4_1 => d * nibble_dot(&block[4..], xs) + scale(block, 2) * sum,
            BlockFormat::Q8_0 => d * block[2..].iter().zip(xs).map(|(&q, &x)| q as i8 as f32 * x).sum::<f32>(),
        };
    }
    total
}

/// Σ qᵢxᵢ over a block of nibbles: byte j holds element j (low nibble) and j + 16 (high).
fn nibble_dot(qs: &[u8], xs: &[f32]) -> f32 {
    qs.iter().enumerate().map(|(j, &q)| (q & 0x0F) as f32 * xs[j] + (q >> 4) as f32 * xs[j + 16]).sum()
}

/// AVX2 kernels. Widening bytes to 32-bit lanes in element order takes a cross-lane shuffle per 8
/// values, and those shuffles share one execution port: they, not memory, bounded the first
/// kernel. Here each block's bytes are read as 32-bit words and every lane extracts its value with
/// shifts, so lane l of group g holds some element π(g, l); the input is permuted by π once per
/// product (it is shared by every row), and the dot product is unchanged.
#[cfg(target_arch = "x86_64")]
mod simd {
    use std::arch::x86_64::*;
    use std::sync::OnceLock;

    use super::{BlockFormat, BLOCK};

    pub fn available() -> bool {
        static AVAILABLE: OnceLock<bool> = OnceLock::new();
        *AVAILABLE.get_or_init(|| {
            is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") && is_x86_feature_detected!("f16c")
        })
    }

    /// The element of a block that lane `l` of group `g` (both 0-based, 4 groups of 8) holds.
    fn source(format: BlockFormat, g: usize, l: usize) -> usize {
        match format {
            // The 16 nibble bytes are words w0..w3, repeated in both halves of the register; lane
            // l shifts word l % 4 right by 4·(2g + l / 4) bits. Nibble k of a word is byte k / 2
            // of it, low (element j) or high (element j + 16) half.
            BlockFormat::Q4_0 | BlockFormat::Q4_1 => {
                let nibble = 2 * g + l / 4;
                4 * (l % 4) + nibble / 2 + 16 * (nibble % 2)
            }
            // The 32 bytes are words w0..w7; group g takes byte g of word l.
            BlockFormat::Q8_0 => 4 * l + g,
        }
    }

    /// `x` reordered block by block so that position 8g + l holds element `source(g, l)`.
    pub fn permute(format: BlockFormat, x: &[f32]) -> Vec<f32> {
        let mut out = vec![0f32; x.len()];
        for (dst, src) in out.chunks_exact_mut(BLOCK).zip(x.chunks_exact(BLOCK)) {
            for (i, v) in dst.iter_mut().enumerate() {
                *v = src[source(format, i / 8, i % 8)];
            }
        }
        out
    }

    #[inline(always)]
    unsafe fn half(p: *const u8) -> f32 {
        let bits = u16::from_le_bytes([*p, *p.add(1)]);
        _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(bits as i32)))
    }

    /// Four groups of 8 quantized values as f32, in `permute`'s order.
    #[inline(always)]
    unsafe fn values(format: BlockFormat, block: *const u8) -> [__m256; 4] {
        match format {
            BlockFormat::Q4_0 | BlockFormat::Q4_1 => {
                let at = if format == BlockFormat::Q4_0 { 2 } else { 4 };
                let words = _mm256_broadcastsi128_si256(_mm_loadu_si128(block.add(at) as *const __m128i));
                let mask = _mm256_set1_epi32(0x0F);
                let nibble = |g: i32| {
                    let (a, b) = (8 * g, 8 * g + 4);
                    let shifts = _mm256_setr_epi32(a, a, a, a, b, b, b, b);
                    _mm256_cvtepi32_ps(_mm256_and_si256(_mm256_srlv_epi32(words, shifts), mask))
                };
                [nibble(0), nibble(1), nibble(2), nibble(3)]
            }
            BlockFormat::Q8_0 => {
                let w = _mm256_loadu_si256(block.add(2) as *const __m256i);
                // Byte g of each word, sign-extended: shift it to the top, then arithmetically down.
                [
                    _mm256_cvtepi32_ps(_mm256_srai_epi32(_mm256_slli_epi32(w, 24), 24)),
                    _mm256_cvtepi32_ps(_mm256_srai_epi32(_mm256_slli_epi32(w, 16), 24)),
                    _mm256_cvtepi32_ps(_mm256_srai_epi32(_mm256_slli_epi32(w, 8), 24)),
                    _mm256_cvtepi32_ps(_mm256_srai_epi32(w, 24)),
                ]
            }
        }
    }

    /// # Safety
    /// AVX2, FMA and F16C must be available; `row` holds `xp.len() / 32` blocks of `format`, and
    /// `xp` is the input as [`permute`] returns it.
    #[target_feature(enable = "avx2,fma,f16c")]
    pub unsafe fn row_dot(format: BlockFormat, row: &[u8], xp: &[f32], block_sums: &[f32]) -> f32 {
        // One loop per format, so none of them branches on it.
        match format {
            BlockFormat::Q4_0 => row_dot_of(BlockFormat::Q4_0, row, xp, block_sums),
            BlockFormat::Q4_1 => row_dot_of(BlockFormat::Q4_1, row, xp, block_sums),
            BlockFormat::Q8_0 => row_dot_of(BlockFormat::Q8_0, row, xp, block_sums),
        }
    }

    /// Block `p`'s d (broadcast), Σ qᵢxᵢ as 8 partial sums, and its offset term m·Σ xᵢ, for the
    /// permuted input `xs` of the block and the block's Σ xᵢ.
    #[inline(always)]
    unsafe fn block_terms(format: BlockFormat, p: *const u8, xs: *const f32, sum: f32) -> (__m256, __m256, f32) {
        let q = values(format, p);
        let mut s = _mm256_mul_ps(q[0], _mm256_loadu_ps(xs));
        s = _mm256_fmadd_ps(q[1], _mm256_loadu_ps(xs.add(8)), s);
        s = _mm256_fmadd_ps(q[2], _mm256_loadu_ps(xs.add(16)), s);
        s = _mm256_fmadd_ps(q[3], _mm256_loadu_ps(xs.add(24)), s);
        let d = half(p);
        let offset = match format {
            BlockFormat::Q4_0 => -8.0 * d * sum,
            BlockFormat::Q4_1 => half(p.add(2)) * sum,
            BlockFormat::Q8_0 => 0.0,
        };
        (_mm256_set1_ps(d), s, offset)
    }

    #[inline(always)]
    unsafe fn row_dot_of(format: BlockFormat, row: &[u8], xp: &[f32], block_sums: &[f32]) -> f32 {
        let (n, size) = (xp.len() / BLOCK, format.block_bytes());
        // Two accumulators, so consecutive blocks do not wait on each other's addition. (No
        // closures here: they do not inherit the target features, so intrinsics stop inlining.)
        let (mut even, mut odd) = (_mm256_setzero_ps(), _mm256_setzero_ps());
        let mut offsets = 0f32;
        let mut b = 0;
        while b + 1 < n {
            let (d0, s0, o0) =
                block_terms(format, row.as_ptr().add(b * size), xp.as_ptr().add(b * BLOCK), block_sums[b]);
            let (d1, s1, o1) = block_terms(
                format,
                row.as_ptr().add((b + 1) * size),
                xp.as_ptr().add((b + 1) * BLOCK),
                block_sums[b + 1],
            );
            even = _mm256_fmadd_ps(d0, s0, even);
            odd = _mm256_fmadd_ps(d1, s1, odd);
            offsets += o0 + o1;
            b += 2;
        }
        if b < n {
            let (d0, s0, o0) =
                block_terms(format, row.as_ptr().add(b * size), xp.as_ptr().add(b * BLOCK), block_sums[b]);
            even = _mm256_fmadd_ps(d0, s0, even);
            offsets += o0;
        }
        let mut lanes = [0f32; 8];
        _mm256_storeu_ps(lanes.as_mut_ptr(), _mm256_add_ps(even, odd));
        lanes.iter().sum::<f32>() + offsets
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::weights::gguf::GgmlType;
    use crate::engine::weights::quant::dequantize;

    /// Deterministic pseudo-random bytes, with every block's scales set to sane f16 values.
    fn blocks(format: BlockFormat, rows: usize, cols: usize, seed: u32) -> Vec<u8> {
        let mut state = seed;
        let mut next = move || {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state >> 24) as u8
        };
        let mut bytes: Vec<u8> = (0..rows * cols / BLOCK * format.block_bytes()).map(|_| next()).collect();
        for (i, block) in bytes.chunks_exact_mut(format.block_bytes()).enumerate() {
            block[..2].copy_from_slice(&f16::from_f32(0.01 + (i % 7) as f32 * 0.003).to_le_bytes());
            if format == BlockFormat::Q4_1 {
                block[2..4].copy_from_slice(&f16::from_f32(-0.05 + (i % 5) as f32 * 0.02).to_le_bytes());
            }
        }
        bytes
    }

    fn ggml(format: BlockFormat) -> GgmlType {
        match format {
            BlockFormat::Q4_0 => GgmlType::Q4_0,
            BlockFormat::Q4_1 => GgmlType::Q4_1,
            BlockFormat::Q8_0 => GgmlType::Q8_0,
        }
    }

    /// Against ggml's own dequantization followed by a plain f64 dot product, for every format,
    /// with the SIMD kernel (where the processor has it) and the portable one.
    #[test]
    fn matvec_equals_dequantize_then_multiply() {
        let (rows, cols) = (70, 96);
        let x: Vec<f32> = (0..cols).map(|i| ((i * 37) % 23) as f32 * 0.1 - 1.1).collect();
        for format in [BlockFormat::Q4_0, BlockFormat::Q4_1, BlockFormat::Q8_0] {
            let bytes = blocks(format, rows, cols, 7);
            let mut dense = vec![0f32; rows * cols];
            dequantize(ggml(format), &bytes, rows * cols, &mut dense).unwrap();
            let expected: Vec<f64> = dense
                .chunks_exact(cols)
                .map(|row| row.iter().zip(&x).map(|(&w, &x)| w as f64 * x as f64).sum())
                .collect();
            let packed = PackedRows::new(format, rows, cols, bytes).unwrap();
            let block_sums: Vec<f32> = x.chunks_exact(BLOCK).map(|b| b.iter().sum()).collect();
            let row_bytes = cols / BLOCK * format.block_bytes();
            let ours = packed.matvec(&x);
            for r in 0..rows {
                let scalar = scalar_row_dot(format, &packed.bytes[r * row_bytes..(r + 1) * row_bytes], &x, &block_sums);
                for (what, value) in [("dispatched", ours[r]), ("scalar", scalar)] {
                    let err = (value as f64 - expected[r]).abs();
                    assert!(
                        err < 1e-5 * (1.0 + expected[r].abs()),
                        "{format:?} {what} row {r}: {value} vs {}",
                        expected[r]
                    );
                }
            }
        }
    }

    #[test]
    fn sizes_that_do_not_fit_are_refused() {
        assert!(PackedRows::new(BlockFormat::Q8_0, 2, 32, vec![0; 68]).is_some());
        assert!(PackedRows::new(BlockFormat::Q8_0, 2, 32, vec![0; 67]).is_none());
        assert!(PackedRows::new(BlockFormat::Q4_1, 1, 40, vec![0; 40]).is_none());
    }
}
