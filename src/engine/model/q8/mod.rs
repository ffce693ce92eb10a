//! Products of quantized weights with activations quantized to 8 bits: the "fast" prefill path.
//!
//! The exact path multiplies f32 activations by dequantized weights (~150 GFLOP/s on 2 cores).
//! Here each activation row is quantized once per product, in blocks matching the weights'
//! (32 elements for Q4_0, Q4_1, Q8_0; 256 with block sums for the k-quants, see `quantize`), and
//! each weight block meets each activation block as one integer dot product scaled once:
//!
//! ```text
//! Q4_0:  d·d_x·Σ qᵢx_qᵢ − 8·d·s_x               (s_x = d_x·Σ x_qᵢ)
//! Q4_1:  d·d_x·Σ qᵢx_qᵢ + m·s_x
//! Q8_0:  d·d_x·Σ qᵢx_qᵢ
//! Q4_K, Q5_K:  d_x·(d·Σ_g sc_g·Σ_{i∈g} qᵢx_qᵢ − dmin·Σ_g m_g·Σ_{i∈g} x_qᵢ)
//! Q6_K:  d_x·d·(Σ_k sc_k·Σ_{i∈k} qᵢx_qᵢ − 32·Σ_k sc_k·Σ_{i∈k} x_qᵢ)
//! ```
//!
//! with the weights' quants `q` as stored (layouts in `layout`). This is exactly the dot product
//! of the dequantized weights with the dequantized activations `d_x·x_q`; the only error against
//! the exact path is the activations' rounding (~0.5% of a product, see the tests).
//!
//! A product of many rows runs in parallel tasks of [`TASK_ROWS`] weight rows × a group of
//! panels of [`PANEL_ROWS`] activation rows, small enough to stay in a core's L2 cache. A task
//! decodes its weight rows [`PANEL_TILE_ROWS`] at a time to a byte per weight (`decode`) and
//! multiplies each such strip with each of its panels (`avx2::panels`), so every weight is read
//! from memory once per task and the kernels are bound by the integer multiplies rather than by
//! memory. A product of fewer rows than a panel (a single row when decoding) takes them one at a
//! time, reading the blocks as stored (`avx2::rows`). The AVX2 kernels are chosen at run time
//! where the processor has them; the portable ones compute the same integer sums.
mod decode;
mod layout;
mod portable;
mod quantize;

#[cfg(target_arch = "x86_64")]
mod avx2;

#[cfg(all(test, target_os = "linux", target_arch = "x86_64"))]
mod bench;
#[cfg(test)]
mod tests;

use rayon::prelude::*;

use decode::Decoded;
use layout::{Format32, FormatK};
use quantize::{Q8_0Rows, Q8_KRows, PANEL_ROWS};

use crate::engine::error::{EngineError, Result};
use crate::engine::weights::gguf::GgmlType;
use crate::engine::weights::quant::block_size;

/// Weight rows of a tile with a panel of activation rows: each activation word loaded serves
/// three rows (two were ~10% slower on the reference machine, four no faster).
const PANEL_TILE_ROWS: usize = 3;
/// Weight rows of a tile with one activation row: four independent sums keep the multiply-add
/// units busy while each waits for the one before, and each activation block loaded serves four.
const ROW_TILE_ROWS: usize = 4;
/// Weight rows of a parallel task: whole tiles of three and of four.
const TASK_ROWS: usize = 48;
/// Quantized activation bytes of a parallel task: with its weights, within a core's L2 cache.
const TASK_ACTIVATION_BYTES: usize = 256 * 1024;

/// The instruction set the kernels use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isa {
    Portable,
    #[cfg(target_arch = "x86_64")]
    Avx2,
}

impl Isa {
    /// The fastest this processor runs.
    pub fn best() -> Isa {
        #[cfg(target_arch = "x86_64")]
        if avx2::available() {
            return Isa::Avx2;
        }
        Isa::Portable
    }
}

/// Whether weights of `format` have integer products here (the quantized formats above; not
/// F16, BF16 or F32).
pub fn has_kernels(format: GgmlType) -> bool {
    Family::of(format).is_some()
}

/// `out = x·Wᵀ` for `x: [n, cols]` and `W: [rows, cols]` given as `weights`, the blocks of
/// `format` as the file stores them (row-major, row `r` at `r·cols/block` blocks); `out` is
/// `[n, rows]`. `format` is one of Q4_0, Q4_1, Q8_0, Q4_K, Q5_K, Q6_K.
pub fn matmul_q8(format: GgmlType, weights: &[u8], rows: usize, cols: usize, x: &[f32], out: &mut [f32]) -> Result<()> {
    matmul_with(Isa::best(), format, weights, rows, cols, x, out)
}

/// `out = W·x` for one activation row `x: [cols]`, giving `out: [rows]`; as [`matmul_q8`].
pub fn matvec_q8(format: GgmlType, weights: &[u8], rows: usize, cols: usize, x: &[f32], out: &mut [f32]) -> Result<()> {
    if x.len() != cols {
        return Err(EngineError::Argument(format!(
            "{format} product: input holds {} values, expected {cols}",
            x.len()
        )));
    }
    matmul_with(Isa::best(), format, weights, rows, cols, x, out)
}

/// [`matmul_q8`] with the kernels of `isa`.
fn matmul_with(
    isa: Isa,
    format: GgmlType,
    weights: &[u8],
    rows: usize,
    cols: usize,
    x: &[f32],
    out: &mut [f32],
) -> Result<()> {
    let family =
        Family::of(format).ok_or_else(|| EngineError::Argument(format!("{format} weights have no integer product")))?;
    let n = check(format, weights.len(), rows, cols, x.len(), out.len())?;
    let product = Product { isa, weights, rows, cols, n };
    // Fewer rows than a panel holds one at a time, so that no tile computes padding rows.
    if n < PANEL_ROWS {
        product.run::<ROW_TILE_ROWS, 1>(family, x, out);
    } else {
        product.run::<PANEL_TILE_ROWS, PANEL_ROWS>(family, x, out);
    }
    Ok(())
}

/// The weight formats by activation block size.
#[derive(Debug, Clone, Copy)]
enum Family {
    Blocks32(Format32),
    BlocksK(FormatK),
}

impl Family {
    fn of(ty: GgmlType) -> Option<Family> {
        Some(match ty {
            GgmlType::Q4_0 => Family::Blocks32(Format32::Q4_0),
            GgmlType::Q4_1 => Family::Blocks32(Format32::Q4_1),
            GgmlType::Q8_0 => Family::Blocks32(Format32::Q8_0),
            GgmlType::Q4_K => Family::BlocksK(FormatK::Q4_K),
            GgmlType::Q5_K => Family::BlocksK(FormatK::Q5_K),
            GgmlType::Q6_K => Family::BlocksK(FormatK::Q6_K),
            GgmlType::F32 | GgmlType::F16 | GgmlType::BF16 => return None,
        })
    }
}

/// Checks the sizes of a product; returns the number of activation rows.
fn check(
    format: GgmlType,
    weight_bytes: usize,
    rows: usize,
    cols: usize,
    x_len: usize,
    out_len: usize,
) -> Result<usize> {
    let invalid =
        |problem: String| Err(EngineError::Argument(format!("{format} product over [{rows}, {cols}]: {problem}")));
    let (block, block_bytes) = block_size(format);
    if cols == 0 || !cols.is_multiple_of(block) {
        return invalid(format!("{cols} columns are not a positive number of blocks of {block}"));
    }
    match rows.checked_mul(cols / block).and_then(|blocks| blocks.checked_mul(block_bytes)) {
        Some(expected) if expected == weight_bytes => {}
        Some(expected) => return invalid(format!("the weights take {weight_bytes} bytes, expected {expected}")),
        None => return invalid("the weights' size overflows".to_string()),
    }
    if !x_len.is_multiple_of(cols) {
        return invalid(format!("{x_len} input values are not whole rows"));
    }
    let n = x_len / cols;
    if Some(out_len) != n.checked_mul(rows) {
        return invalid(format!("the output holds {out_len} values, expected {n}×{rows}"));
    }
    Ok(n)
}

/// One checked product.
struct Product<'a> {
    isa: Isa,
    weights: &'a [u8],
    rows: usize,
    cols: usize,
    n: usize,
}

impl Product<'_> {
    /// Runs the product in tiles of `R` weight rows × panels of `C` activation rows.
    fn run<const R: usize, const C: usize>(&self, format: Family, x: &[f32], out: &mut [f32])
    where
        for<'a> Tiles32<'a, C>: Tile<C>,
        for<'a> TilesK<'a, C>: Tile<C>,
    {
        match format {
            Family::Blocks32(format) => {
                let acts = Q8_0Rows::<C>::quantize(self.isa, x, self.cols);
                let kernel = Tiles32 { isa: self.isa, format, acts: &acts };
                self.tiles::<R, C, _>(&kernel, acts.panels, format.block_bytes(), out);
            }
            Family::BlocksK(format) => {
                let acts = Q8_KRows::<C>::quantize(self.isa, x, self.cols);
                let kernel = TilesK { isa: self.isa, format, acts: &acts };
                self.tiles::<R, C, _>(&kernel, acts.panels, format.block_bytes(), out);
            }
        }
    }

    /// Runs every tile, in parallel tasks of [`TASK_ROWS`] weight rows × a group of panels.
    fn tiles<const R: usize, const C: usize, T: Tile<C> + Sync>(
        &self,
        kernel: &T,
        panels: usize,
        block_bytes: usize,
        out: &mut [f32],
    ) {
        let row_bytes = self.cols / T::BLOCK * block_bytes;
        let group = (TASK_ACTIVATION_BYTES / (C * self.cols)).clamp(1, panels.max(1));
        let groups = panels.div_ceil(group);
        let out = Cells { ptr: out.as_mut_ptr(), len: out.len() };
        let row = |r: usize| &self.weights[r * row_bytes..(r + 1) * row_bytes];
        // Task t takes row chunk t / groups and panel group t % groups: rayon hands each thread
        // a contiguous range of tasks, which share their weight rows.
        (0..self.rows.div_ceil(TASK_ROWS) * groups).into_par_iter().for_each(|task| {
            let rows = task / groups * TASK_ROWS..((task / groups + 1) * TASK_ROWS).min(self.rows);
            let panels = task % groups * group..((task % groups + 1) * group).min(panels);
            let mut strip = Decoded::default();
            let mut r = rows.start;
            while r + R <= rows.end {
                let w: [&[u8]; R] = std::array::from_fn(|i| row(r + i));
                kernel.strip(&w, self.cols, &mut strip);
                for p in panels.clone() {
                    let mut y = [[0f32; C]; R];
                    kernel.tile(&w, &strip, p, &mut y);
                    self.store(&out, r, p, &y);
                }
                r += R;
            }
            for r in r..rows.end {
                kernel.strip(&[row(r)], self.cols, &mut strip);
                for p in panels.clone() {
                    let mut y = [[0f32; C]; 1];
                    kernel.tile(&[row(r)], &strip, p, &mut y);
                    self.store(&out, r, p, &y);
                }
            }
        });
    }

    /// Writes a tile's results, `y[i][c]` = out[p·C + c][r + i], leaving out padding rows.
    fn store<const R: usize, const C: usize>(&self, out: &Cells, r: usize, p: usize, y: &[[f32; C]; R]) {
        for (i, y) in y.iter().enumerate() {
            for (c, &v) in y.iter().enumerate().take(self.n.saturating_sub(p * C)) {
                // SAFETY: tasks own disjoint (weight row, activation row) cells.
                unsafe { out.write((p * C + c) * self.rows + r + i, v) };
            }
        }
    }
}

/// The output `[n, rows]`, written by parallel tasks that each own a disjoint set of cells.
struct Cells {
    ptr: *mut f32,
    len: usize,
}

// SAFETY: `Cells` is only written through `write`, whose callers own disjoint cells.
unsafe impl Sync for Cells {}

impl Cells {
    /// # Safety
    /// No other thread may access cell `i` at the same time.
    unsafe fn write(&self, i: usize, v: f32) {
        assert!(i < self.len, "output cell {i} of {}", self.len);
        *self.ptr.add(i) = v;
    }
}

/// A tile kernel over one activation format: `y[r][c]` = weight row `r` · activation row `c` of
/// panel `p`, for the strip of weight rows `w`.
trait Tile<const C: usize> {
    /// Elements of a weight block.
    const BLOCK: usize;
    /// Prepares the strip `w` for `tile`: decodes it into `strip` where the kernel reads decoded
    /// weights.
    fn strip(&self, w: &[&[u8]], cols: usize, strip: &mut Decoded);
    fn tile<const R: usize>(&self, w: &[&[u8]; R], strip: &Decoded, p: usize, y: &mut [[f32; C]; R]);
}

struct Tiles32<'a, const C: usize> {
    isa: Isa,
    format: Format32,
    acts: &'a Q8_0Rows<C>,
}

struct TilesK<'a, const C: usize> {
    isa: Isa,
    format: FormatK,
    acts: &'a Q8_KRows<C>,
}

// SAFETY (every AVX2 call below): `Isa::Avx2` is only chosen when the processor has the
// features; the weight rows, the decoded strips and the panels were all sized from the same
// checked column count, and a strip is decoded from the rows of the tiles that read it.

impl Tile<1> for Tiles32<'_, 1> {
    const BLOCK: usize = quantize::QK8_0;

    fn strip(&self, w: &[&[u8]], cols: usize, strip: &mut Decoded) {
        // The AVX2 single-row kernels read the blocks as stored.
        if self.isa == Isa::Portable {
            strip.decode_32(self.format, w, cols);
        }
    }

    fn tile<const R: usize>(&self, w: &[&[u8]; R], strip: &Decoded, p: usize, y: &mut [[f32; 1]; R]) {
        let panel = self.acts.panel(p);
        match self.isa {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => unsafe { avx2::rows::tile_32(self.format, w, panel, y) },
            Isa::Portable => portable::tile_32(self.format, strip, panel, y),
        }
    }
}

impl Tile<PANEL_ROWS> for Tiles32<'_, PANEL_ROWS> {
    const BLOCK: usize = quantize::QK8_0;

    fn strip(&self, w: &[&[u8]], cols: usize, strip: &mut Decoded) {
        match self.isa {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => unsafe { avx2::decode_32(strip, self.format, w, cols) },
            Isa::Portable => strip.decode_32(self.format, w, cols),
        }
    }

    fn tile<const R: usize>(&self, _: &[&[u8]; R], strip: &Decoded, p: usize, y: &mut [[f32; PANEL_ROWS]; R]) {
        let panel = self.acts.panel(p);
        match self.isa {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => unsafe { avx2::panels::tile_32(self.format, strip, panel, y) },
            Isa::Portable => portable::tile_32(self.format, strip, panel, y),
        }
    }
}

impl Tile<1> for TilesK<'_, 1> {
    const BLOCK: usize = quantize::QK_K;

    fn strip(&self, w: &[&[u8]], cols: usize, strip: &mut Decoded) {
        // The AVX2 single-row kernels read the blocks as stored.
        if self.isa == Isa::Portable {
            strip.decode_k(self.format, w, cols);
        }
    }

    fn tile<const R: usize>(&self, w: &[&[u8]; R], strip: &Decoded, p: usize, y: &mut [[f32; 1]; R]) {
        let panel = self.acts.panel(p);
        match self.isa {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => unsafe { avx2::rows::tile_k(self.format, w, panel, y) },
            Isa::Portable => portable::tile_k(strip, panel, y),
        }
    }
}

impl Tile<PANEL_ROWS> for TilesK<'_, PANEL_ROWS> {
    const BLOCK: usize = quantize::QK_K;

    fn strip(&self, w: &[&[u8]], cols: usize, strip: &mut Decoded) {
        match self.isa {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => unsafe { avx2::decode_k(strip, self.format, w, cols) },
            Isa::Portable => strip.decode_k(self.format, w, cols),
        }
    }

    fn tile<const R: usize>(&self, _: &[&[u8]; R], strip: &Decoded, p: usize, y: &mut [[f32; PANEL_ROWS]; R]) {
        let panel = self.acts.panel(p);
        match self.isa {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => unsafe { avx2::panels::tile_k(self.format, strip, panel, y) },
            Isa::Portable => portable::tile_k(strip, panel, y),
        }
    }
}
