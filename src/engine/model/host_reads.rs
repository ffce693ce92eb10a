//! What the model reads from a host matrix besides its products with activations (those are
//! `packed`'s): columns (down_proj's value vectors), products from the left, and the mean row
//! (W_U's, for centred logits). Each decodes whole blocks of the stored rows into small
//! per-task buffers, the values a full dequantization would give; no full-precision copy of
//! the matrix exists.
use std::ops::Range;

use rayon::prelude::*;

use super::packed::PackedRows;
use crate::engine::weights::quant::{block_size, dequantize_serial};

/// Columns one task of a left product decodes: a `[rows, 256]` panel. A multiple of every block
/// size (32 and 256 elements), so tasks split rows at block boundaries.
const COLUMNS_PER_TASK: usize = 256;

/// Rows one task decodes for [`columns`] and [`mean_row`]; fixed, so that the mean's f64 sums
/// are added in the same order on any number of threads.
const ROWS_PER_TASK: usize = 256;

/// Decodes `rows × cols` of `w` into `out: [rows.len(), cols.len()]`; `cols` starts and ends on
/// block boundaries (or at the width, itself a whole number of blocks).
fn decode(w: &PackedRows, rows: Range<usize>, cols: Range<usize>, out: &mut [f32]) {
    let (block_elements, block_bytes) = block_size(w.format);
    let (from, to) = (cols.start / block_elements * block_bytes, cols.end.div_ceil(block_elements) * block_bytes);
    let width = cols.len();
    let bytes = w.bytes();
    for (r, row) in rows.zip(out.chunks_exact_mut(width)) {
        let at = r * w.row_bytes();
        dequantize_serial(w.format, &bytes[at + from..at + to], width, row).expect("whole blocks of a checked matrix");
    }
}

/// Columns `start..start + count` of `w` as rows: `[count, w.rows]`.
pub fn columns(w: &PackedRows, start: usize, count: usize) -> Vec<f32> {
    assert!(start + count <= w.cols, "columns {start}..{} of a matrix {} wide", start + count, w.cols);
    let (block_elements, _) = block_size(w.format);
    // The whole blocks that hold the columns, decoded band by band: `[rows, width]`.
    let first = start / block_elements * block_elements;
    let width = (start + count).div_ceil(block_elements) * block_elements - first;
    let mut panel = vec![0f32; w.rows * width];
    panel.par_chunks_mut(ROWS_PER_TASK * width).enumerate().for_each(|(task, band)| {
        let rows = task * ROWS_PER_TASK..task * ROWS_PER_TASK + band.len() / width;
        decode(w, rows, first..first + width, band);
    });
    let offset = start - first;
    let mut out = vec![0f32; count * w.rows];
    for (r, row) in panel.chunks_exact(width).enumerate() {
        for (j, &v) in row[offset..offset + count].iter().enumerate() {
            out[j * w.rows + r] = v;
        }
    }
    out
}

/// X·W for `x: [n, w.rows]`, giving `[n, w.cols]`: each task decodes a panel of columns of
/// every row and multiplies it with the `gemm` crate.
pub fn left_product(w: &PackedRows, x: &[f32], n: usize) -> Vec<f32> {
    let (rows, cols) = (w.rows, w.cols);
    assert_eq!(x.len(), n * rows, "input size");
    if n == 0 {
        return Vec::new();
    }
    let parts: Vec<(usize, Vec<f32>)> = (0..cols.div_ceil(COLUMNS_PER_TASK))
        .into_par_iter()
        .map(|task| {
            let first = task * COLUMNS_PER_TASK;
            let width = COLUMNS_PER_TASK.min(cols - first);
            let mut panel = vec![0f32; rows * width];
            decode(w, 0..rows, first..first + width, &mut panel);
            let mut y = vec![0f32; n * width];
            // SAFETY: dst y is [n, width] row-major; lhs x is [n, rows] row-major; rhs is the
            // panel [rows, width] row-major. All strides stay within their buffers.
            unsafe {
                gemm::gemm(
                    n,
                    width,
                    rows,
                    y.as_mut_ptr(),
                    1,
                    width as isize,
                    false,
                    x.as_ptr(),
                    1,
                    rows as isize,
                    panel.as_ptr(),
                    1,
                    width as isize,
                    0.0,
                    1.0,
                    false,
                    false,
                    false,
                    gemm::Parallelism::None,
                );
            }
            (first, y)
        })
        .collect();
    let mut out = vec![0f32; n * cols];
    for (first, y) in parts {
        let width = y.len() / n;
        for (dst, src) in out.chunks_exact_mut(cols).zip(y.chunks_exact(width)) {
            dst[first..first + width].copy_from_slice(src);
        }
    }
    out
}

/// The mean of the rows, `[cols]`, from sums in f64.
pub fn mean_row(w: &PackedRows) -> Vec<f32> {
    let cols = w.cols;
    let partial_sums: Vec<Vec<f64>> = (0..w.rows.div_ceil(ROWS_PER_TASK))
        .into_par_iter()
        .map(|task| {
            let rows = task * ROWS_PER_TASK..w.rows.min((task + 1) * ROWS_PER_TASK);
            let mut band = vec![0f32; rows.len() * cols];
            decode(w, rows, 0..cols, &mut band);
            let mut sums = vec![0f64; cols];
            for row in band.chunks_exact(cols) {
                sums.iter_mut().zip(row).for_each(|(s, &v)| *s += f64::from(v));
            }
            sums
        })
        .collect();
    let mut total = vec![0f64; cols];
    for sums in partial_sums {
        total.iter_mut().zip(sums).for_each(|(t, s)| *t += s);
    }
    total.into_iter().map(|s| (s / w.rows as f64) as f32).collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::engine::weights::gguf::{GgmlType, GgufFile};
    use crate::engine::weights::quant::dequantize;

    /// gguf-py's blocks of every format (one `[2, 512]` tensor each), and an f32 matrix of 300
    /// rows and 600 columns: more rows than one task decodes, columns not a whole number of
    /// tasks.
    fn matrices() -> Vec<PackedRows> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/quant/quant-types.gguf");
        let file = GgufFile::open(&path).unwrap();
        let mut all: Vec<PackedRows> = file
            .tensors()
            .iter()
            .map(|info| {
                let [rows, cols] = info.shape[..] else { panic!("{} is not a matrix", info.name) };
                PackedRows::new(info.ty, rows, cols, file.tensor_bytes(&info.name).unwrap().to_vec()).unwrap()
            })
            .collect();
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let bytes = (0..300 * 600).flat_map(|_| rng.random_range(-1f32..1.0).to_le_bytes()).collect::<Vec<u8>>();
        all.push(PackedRows::new(GgmlType::F32, 300, 600, bytes).unwrap());
        assert!(all.len() > 9, "every format and the f32 matrix");
        all
    }

    /// The matrix dequantized whole, `[rows, cols]`.
    fn dense(w: &PackedRows) -> Vec<f32> {
        let mut out = vec![0f32; w.rows * w.cols];
        dequantize(w.format, w.bytes(), out.len(), &mut out).unwrap();
        out
    }

    #[test]
    fn columns_are_the_dequantized_matrix_columns() {
        for w in matrices() {
            let d = dense(&w);
            // Inside one block, across a 32- and a 256-element boundary, one column, the last.
            for (start, count) in [(3, 5), (20, 30), (250, 20), (100, 1), (w.cols - 1, 1), (0, w.cols)] {
                let got = columns(&w, start, count);
                for j in 0..count {
                    for r in 0..w.rows {
                        assert_eq!(got[j * w.rows + r], d[r * w.cols + start + j], "{} col {}", w.format, start + j);
                    }
                }
            }
        }
    }

    #[test]
    fn left_product_and_mean_row_equal_the_dense_ones() {
        for w in matrices() {
            let d = dense(&w);
            let n = 3;
            let x: Vec<f32> = (0..n * w.rows).map(|i| ((i * 37) % 23) as f32 * 0.1 - 1.1).collect();
            let got = left_product(&w, &x, n);
            for i in 0..n {
                for c in 0..w.cols {
                    let (sum, scale) = (0..w.rows).fold((0f64, 0f64), |(s, a), r| {
                        let p = f64::from(x[i * w.rows + r]) * f64::from(d[r * w.cols + c]);
                        (s + p, a + p.abs())
                    });
                    let err = (f64::from(got[i * w.cols + c]) - sum).abs();
                    assert!(
                        err <= 1e-5 * scale.max(1e-30),
                        "{} ({i}, {c}): {} vs {sum}",
                        w.format,
                        got[i * w.cols + c]
                    );
                }
            }
            let mean = mean_row(&w);
            for c in 0..w.cols {
                let expected = (0..w.rows).map(|r| f64::from(d[r * w.cols + c])).sum::<f64>() / w.rows as f64;
                assert!(
                    (f64::from(mean[c]) - expected).abs() <= 1e-6 * (1.0 + expected.abs()),
                    "{} mean {c}",
                    w.format
                );
            }
        }
        assert!(left_product(&matrices()[0], &[], 0).is_empty());
    }
}
