//! Products with many rows and column norms, computed over panels of weight rows dequantized
//! into per-thread buffers. Each panel is dequantized exactly as the whole matrix would be, so a
//! product is the one over the dequantized matrix; only a panel per thread exists in f32.
use rayon::prelude::*;

use super::PackedRows;

/// f32 values a panel holds at most (4 MiB) unless that is fewer than `MIN_PANEL_ROWS` rows. The
/// input is packed again for every panel, a cost that must stay small against the panel's
/// product; beyond 256 rows, larger panels gained nothing measurable.
const PANEL_ELEMENTS: usize = 1024 * 1024;
const MIN_PANEL_ROWS: usize = 64;
const MAX_PANEL_ROWS: usize = 256;

/// Rows whose squared values one task sums for [`PackedRows::column_norms`]. Fixed, so that the
/// f64 sums are added in the same order on any number of threads.
const NORM_ROWS_PER_TASK: usize = 256;

/// The output of a product, written by several threads at disjoint columns.
struct Output(*mut f32);

// SAFETY: every task writes only the columns of its own panel (see `matmul`).
unsafe impl Sync for Output {}

impl Output {
    /// A method, so that closures capture the whole `Output` (which is `Sync`), not its field.
    fn ptr(&self) -> *mut f32 {
        self.0
    }
}

impl PackedRows {
    /// Rows in one panel of this matrix: as many as the size bounds allow, but at least two
    /// panels per thread, so that no thread waits long on another's last panel.
    pub(super) fn panel_rows(&self) -> usize {
        let by_size = (PANEL_ELEMENTS / self.cols.max(1)).clamp(MIN_PANEL_ROWS, MAX_PANEL_ROWS);
        let by_balance = self.rows.div_ceil(2 * rayon::current_num_threads()).max(1);
        by_size.min(by_balance)
    }

    /// X·Wᵀ for `x: [n, cols]`, giving `[n, rows]`: the product with the dequantized matrix,
    /// computed a panel of rows at a time, panels in parallel.
    pub fn matmul(&self, x: &[f32], n: usize) -> Vec<f32> {
        self.matmul_in_panels(x, n, self.panel_rows())
    }

    /// [`PackedRows::matmul`] with panels of `panel_rows` rows (fewer in the last).
    pub(super) fn matmul_in_panels(&self, x: &[f32], n: usize, panel_rows: usize) -> Vec<f32> {
        assert_eq!(x.len(), n * self.cols, "input size");
        let (rows, cols) = (self.rows, self.cols);
        let mut y = vec![0f32; n * rows];
        if n == 0 || rows == 0 || cols == 0 {
            return y;
        }
        let panel_rows = panel_rows.clamp(1, rows);
        let out = Output(y.as_mut_ptr());
        (0..rows.div_ceil(panel_rows)).into_par_iter().for_each_init(Vec::new, |panel: &mut Vec<f32>, p| {
            let first = p * panel_rows;
            let k = panel_rows.min(rows - first);
            panel.resize(k * cols, 0.0);
            self.dequantize_rows(first, k, panel);
            // SAFETY: dst is y[:, first..first + k] of y [n, rows] row-major (column stride 1,
            // row stride rows); lhs x is [n, cols] row-major; rhs Pᵀ is [cols, k] read from the
            // panel P [k, cols] row-major (row stride 1, column stride cols). All within their
            // buffers, and no other task writes these columns of y.
            unsafe {
                gemm::gemm(
                    n,
                    k,
                    cols,
                    out.ptr().add(first),
                    1,
                    rows as isize,
                    false,
                    x.as_ptr(),
                    1,
                    cols as isize,
                    panel.as_ptr(),
                    cols as isize,
                    1,
                    0.0,
                    1.0,
                    false,
                    false,
                    false,
                    gemm::Parallelism::None,
                );
            }
        });
        y
    }

    /// L2 norm of every column, `[cols]`, from squares summed in f64.
    pub fn column_norms(&self) -> Vec<f32> {
        let cols = self.cols;
        if cols == 0 {
            return Vec::new();
        }
        let partial_sums: Vec<Vec<f64>> = (0..self.rows.div_ceil(NORM_ROWS_PER_TASK))
            .into_par_iter()
            .map(|task| {
                let first = task * NORM_ROWS_PER_TASK;
                let end = self.rows.min(first + NORM_ROWS_PER_TASK);
                let mut sums = vec![0f64; cols];
                let mut panel = Vec::new();
                for start in (first..end).step_by(self.panel_rows()) {
                    let k = self.panel_rows().min(end - start);
                    panel.resize(k * cols, 0.0);
                    self.dequantize_rows(start, k, &mut panel);
                    for row in panel.chunks_exact(cols) {
                        for (s, &w) in sums.iter_mut().zip(row) {
                            *s += f64::from(w) * f64::from(w);
                        }
                    }
                }
                sums
            })
            .collect();
        let mut total = vec![0f64; cols];
        for sums in partial_sums {
            for (t, s) in total.iter_mut().zip(sums) {
                *t += s;
            }
        }
        total.into_iter().map(|s| s.sqrt() as f32).collect()
    }
}
