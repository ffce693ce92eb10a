//! Weight matrices kept in the encoding their file stores (GGML blocks, f16, bf16 or f32) and
//! multiplied in place, so no full-precision copy of a quantized matrix ever exists.
//!
//! - Decoding one token multiplies one row by every weight of the model, so its speed is the
//!   speed of reading the weights: [`PackedRows::matvec`] reads the blocks directly (4.5-16 bits
//!   a weight instead of 32), with a sum that equals the one over the dequantized weights up to
//!   rounding: a Q4_1 block contributes `d·Σ qᵢxᵢ + m·Σ xᵢ`, which is `Σ (d·qᵢ + m)·xᵢ`
//!   reassociated.
//! - A prompt's rows are many: [`PackedRows::matmul`] dequantizes a few rows at a time into
//!   per-thread buffers, exactly as the whole matrix would be, and multiplies each panel with the
//!   `gemm` crate.
//! - [`PackedRows::row`] and [`PackedRows::column_norms`] serve embedding lookups and the value-vector
//!   norms of `down_proj`, again without expanding the matrix.
mod panels;
mod portable;
mod storage;

#[cfg(target_arch = "x86_64")]
mod avx2;

#[cfg(test)]
mod bench;
#[cfg(test)]
mod tests;

use rayon::prelude::*;

use super::prefetch::prefetch;
use crate::engine::weights::gguf::GgmlType;
use crate::engine::weights::quant::{block_size, dequantize_serial};
pub use storage::{SharedBytes, Storage};

/// Rows handed to one parallel task of a product with one row: enough work to amortise
/// scheduling.
const ROWS_PER_TASK: usize = 32;

/// A `[rows, cols]` matrix stored row-major in its file's encoding: row r is the
/// `cols / block elements` blocks that follow row r − 1's.
#[derive(Debug, Clone)]
pub struct PackedRows {
    pub format: GgmlType,
    pub rows: usize,
    pub cols: usize,
    storage: Storage,
}

impl PackedRows {
    /// Takes `bytes` (a `Vec<u8>` or a [`Storage`]) as `rows × cols` elements of `format`;
    /// refuses, saying why, when rows are not whole blocks or the byte count does not fit.
    pub fn new(format: GgmlType, rows: usize, cols: usize, bytes: impl Into<Storage>) -> Result<Self, String> {
        let storage = bytes.into();
        let (block_elements, block_bytes) = block_size(format);
        if !cols.is_multiple_of(block_elements) {
            return Err(format!("rows of {cols} elements are not whole {format} blocks of {block_elements}"));
        }
        let expected = rows.checked_mul(cols / block_elements).and_then(|blocks| blocks.checked_mul(block_bytes));
        let got = storage.as_slice().len();
        if expected != Some(got) {
            return Err(format!("a [{rows}, {cols}] {format} matrix does not take {got} bytes"));
        }
        Ok(PackedRows { format, rows, cols, storage })
    }

    /// The matrix as stored: `rows × row_bytes()` bytes.
    pub fn bytes(&self) -> &[u8] {
        self.storage.as_slice()
    }

    /// Bytes of one row.
    pub fn row_bytes(&self) -> usize {
        let (block_elements, block_bytes) = block_size(self.format);
        self.cols / block_elements * block_bytes
    }

    /// Row `r` dequantized, `[cols]`; `None` past the last row.
    pub fn row(&self, r: usize) -> Option<Vec<f32>> {
        (r < self.rows).then(|| {
            let mut out = vec![0f32; self.cols];
            self.dequantize_rows(r, 1, &mut out);
            out
        })
    }

    /// y = W·x for `x: [cols]`, giving `[rows]`; rows are computed in parallel, each with the
    /// fastest kernel this processor runs.
    pub fn matvec(&self, x: &[f32]) -> Vec<f32> {
        assert_eq!(x.len(), self.cols, "input width");
        self.matvec_with(&RowKernel::new(self.format, x), x)
    }

    /// [`PackedRows::matvec`] with a given kernel, made for `x`.
    fn matvec_with(&self, kernel: &RowKernel, x: &[f32]) -> Vec<f32> {
        let mut y = vec![0f32; self.rows];
        y.par_chunks_mut(ROWS_PER_TASK).enumerate().for_each(|(task, ys)| {
            self.rows_dot(kernel, x, task * ROWS_PER_TASK, ys);
        });
        y
    }

    /// `ys[i]` = row `first + i` · x, on this thread. Each row is read start to end: passing over
    /// the input a few thousand columns at a time for several rows (so that those inputs stay in
    /// L1) measured up to 1.5× slower on `[4096, 11008]`, the rows then being read as many
    /// interleaved streams.
    fn rows_dot(&self, kernel: &RowKernel, x: &[f32], first: usize, ys: &mut [f32]) {
        let (bytes, row_bytes) = (self.bytes(), self.row_bytes());
        for (i, y) in ys.iter_mut().enumerate() {
            let at = (first + i) * row_bytes;
            // At least a page ahead: without it the default model decoded at 20-21 tok/s, not 29.
            prefetch(bytes[at..].as_ptr().wrapping_add(row_bytes.max(4096)), row_bytes);
            *y = kernel.row_dot(self.format, &bytes[at..at + row_bytes], x);
        }
    }

    /// Dequantizes `k` rows from `first` into `out: [k, cols]`, on this thread.
    fn dequantize_rows(&self, first: usize, k: usize, out: &mut [f32]) {
        let at = first * self.row_bytes();
        let bytes = &self.bytes()[at..at + k * self.row_bytes()];
        dequantize_serial(self.format, bytes, out.len(), out).expect("whole rows, sizes checked by PackedRows::new");
    }
}

/// A row kernel: the AVX2 one, holding the input as it reads it, where the processor has AVX2,
/// FMA and F16C; the portable one elsewhere.
enum RowKernel {
    #[cfg(target_arch = "x86_64")]
    Avx2(avx2::Input),
    Portable,
}

impl RowKernel {
    fn new(format: GgmlType, x: &[f32]) -> Self {
        #[cfg(target_arch = "x86_64")]
        if avx2::available() {
            return RowKernel::Avx2(avx2::Input::new(format, x));
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = (format, x);
        RowKernel::Portable
    }

    /// Σ wᵢxᵢ over one stored row.
    fn row_dot(&self, format: GgmlType, row: &[u8], x: &[f32]) -> f32 {
        match self {
            // SAFETY: `Avx2` is only made when the processor has AVX2, FMA and F16C, and `Input`
            // was made for this format and width.
            #[cfg(target_arch = "x86_64")]
            RowKernel::Avx2(input) => unsafe { avx2::row_dot(input, row) },
            RowKernel::Portable => portable::row_dot(format, row, x),
        }
    }
}
