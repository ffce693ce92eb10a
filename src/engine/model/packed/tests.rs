//! Every format against gguf-py's dequantization (the fixtures) and against ggml-exact
//! dequantization of random blocks: products with one row (both kernels), with many rows (panel
//! by panel, against one `gemm` over the whole dequantized matrix), rows and column norms.
use std::path::Path;
use std::sync::Arc;

use half::{bf16, f16};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;
use crate::engine::weights::gguf::GgufFile;
use crate::engine::weights::quant::dequantize;

/// Byte offsets of the f16 scale fields inside one block.
fn scale_fields(format: GgmlType) -> &'static [usize] {
    match format {
        GgmlType::Q4_0 | GgmlType::Q8_0 => &[0],
        GgmlType::Q4_1 | GgmlType::Q4_K | GgmlType::Q5_K => &[0, 2],
        GgmlType::Q6_K => &[208],
        GgmlType::F32 | GgmlType::F16 | GgmlType::BF16 => &[],
    }
}

/// A `[rows, cols]` matrix of random but valid blocks: random quant bytes, f16 scales of either
/// sign and a magnitude that keeps weights near 1; plain numbers uniform in [-1, 1).
pub(super) fn random_matrix(format: GgmlType, rows: usize, cols: usize, seed: u64) -> Vec<u8> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n = rows * cols;
    match format {
        GgmlType::F32 => (0..n).flat_map(|_| rng.random_range(-1f32..1.0).to_le_bytes()).collect(),
        GgmlType::F16 => (0..n).flat_map(|_| f16::from_f32(rng.random_range(-1f32..1.0)).to_le_bytes()).collect(),
        GgmlType::BF16 => (0..n).flat_map(|_| bf16::from_f32(rng.random_range(-1f32..1.0)).to_le_bytes()).collect(),
        _ => {
            let (block_elements, block_bytes) = block_size(format);
            let mut bytes = vec![0u8; n / block_elements * block_bytes];
            rng.fill(&mut bytes[..]);
            let magnitude = if block_elements == 32 { 0.1 } else { 0.003 };
            for block in bytes.chunks_exact_mut(block_bytes) {
                for &at in scale_fields(format) {
                    let scale = f16::from_f32(rng.random_range(-magnitude..magnitude));
                    block[at..at + 2].copy_from_slice(&scale.to_le_bytes());
                }
            }
            bytes
        }
    }
}

/// The matrix dequantized whole, `[rows, cols]`.
fn dense(packed: &PackedRows) -> Vec<f32> {
    let mut out = vec![0f32; packed.rows * packed.cols];
    dequantize(packed.format, packed.bytes(), out.len(), &mut out).unwrap();
    out
}

/// X·Wᵀ in f64, with the scale of each element (Σ|xᵢwᵢ|) that rounding errors are measured by.
fn reference(w: &[f32], cols: usize, x: &[f32]) -> Vec<(f64, f64)> {
    x.chunks_exact(cols)
        .flat_map(|x| {
            w.chunks_exact(cols).map(move |w| {
                w.iter().zip(x).fold((0.0, 0.0), |(sum, scale), (&w, &x)| {
                    let p = f64::from(w) * f64::from(x);
                    (sum + p, scale + p.abs())
                })
            })
        })
        .collect()
}

/// One `gemm` call over the whole dequantized matrix, as dense weights are multiplied.
fn whole_gemm(w: &[f32], rows: usize, cols: usize, x: &[f32], n: usize) -> Vec<f32> {
    let mut y = vec![0f32; n * rows];
    // SAFETY: as in `matmul`, with the whole matrix as the only panel.
    unsafe {
        gemm::gemm(
            n,
            rows,
            cols,
            y.as_mut_ptr(),
            1,
            rows as isize,
            false,
            x.as_ptr(),
            1,
            cols as isize,
            w.as_ptr(),
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
    y
}

fn input(len: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..len).map(|_| rng.random_range(-2f32..2.0)).collect()
}

#[track_caller]
fn assert_close(what: &str, got: &[f32], want: &[(f64, f64)], tolerance: f64) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (&g, &(sum, scale))) in got.iter().zip(want).enumerate() {
        let err = (f64::from(g) - sum).abs();
        assert!(err <= tolerance * scale + 1e-30, "{what}[{i}]: {g} vs {sum} (scale {scale})");
    }
}

/// Products with one row, by the dispatched kernel and the portable one, and with `n` rows in
/// panels of `panel_rows`, against the f64 product with the exact dequantized matrix; the panels'
/// product also against one `gemm` over the whole dequantized matrix.
fn check_products(packed: &PackedRows, w: &[f32], n: usize, panel_rows: usize, what: &str) {
    let (rows, cols) = (packed.rows, packed.cols);
    let x = input(cols, 1);
    let want = reference(w, cols, &x);
    assert_close(&format!("{what} matvec"), &packed.matvec(&x), &want, 1e-5);
    assert_close(&format!("{what} portable"), &packed.matvec_with(&RowKernel::Portable, &x), &want, 1e-5);

    let xs = input(n * cols, 2);
    let ours = packed.matmul_in_panels(&xs, n, panel_rows);
    assert_close(&format!("{what} matmul n={n}"), &ours, &reference(w, cols, &xs), 1e-5);
    // gemm splits the sum over k by k alone, so a panel's products are bit for bit the whole
    // matrix's.
    let whole = whole_gemm(w, rows, cols, &xs, n);
    for (i, (a, b)) in ours.iter().zip(&whole).enumerate() {
        assert_eq!(a.to_bits(), b.to_bits(), "{what} matmul n={n} [{i}]: {a} vs whole-matrix gemm {b}");
    }
}

/// Every type of the fixture file, decoded by gguf-py: rows bit for bit, products and column
/// norms against f64 sums over those exact values.
#[test]
fn matches_gguf_py_fixtures() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/quant");
    let gguf = GgufFile::open(&dir.join("quant-types.gguf")).unwrap();
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    let cases = expected["tensors"].as_array().unwrap();
    assert_eq!(cases.len(), GgmlType::ALL.len());
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let info = gguf.tensor_info(name).unwrap();
        let [rows, cols] = info.shape[..] else { panic!("{name}: shape {:?}", info.shape) };
        let values: Vec<f32> = case["values"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
        let packed = PackedRows::new(info.ty, rows, cols, gguf.tensor_bytes(name).unwrap().to_vec()).unwrap();
        for (r, want) in values.chunks_exact(cols).enumerate() {
            let got = packed.row(r).unwrap();
            assert!(got.iter().zip(want).all(|(a, b)| a.to_bits() == b.to_bits()), "{name} row {r}");
        }
        assert_eq!(packed.row(rows), None);
        check_products(&packed, &values, 3, 1, name);
        let norms = packed.column_norms();
        for (c, norm) in norms.iter().enumerate() {
            let want = values.iter().skip(c).step_by(cols).map(|&w| f64::from(w).powi(2)).sum::<f64>().sqrt();
            assert!((f64::from(*norm) - want).abs() <= 1e-6 * want, "{name} norm {c}: {norm} vs {want}");
        }
    }
}

/// Random blocks of every format: odd row counts, widths of one and several blocks (and, for
/// plain numbers, widths that leave a tail after the last 8 or 32), n = 1 and n not a multiple of any tile, panels that
/// do and do not divide the rows.
#[test]
fn random_shapes_match_dequantize_then_multiply() {
    for format in GgmlType::ALL {
        let block_elements = block_size(format).0;
        // The widest as wide as Llama-2-7B's rows and more.
        let widths: Vec<usize> = match block_elements {
            1 => vec![7, 96, 301, 4133],
            32 => vec![32, 96, 544, 4192],
            _ => vec![256, 768, 4352],
        };
        for (seed, cols) in widths.into_iter().enumerate() {
            for (rows, n, panel_rows) in [(1, 1, 64), (7, 5, 3), (70, 67, 16), (133, 1, 64), (33, 19, 200)] {
                let packed =
                    PackedRows::new(format, rows, cols, random_matrix(format, rows, cols, seed as u64)).unwrap();
                let w = dense(&packed);
                let what = format!("{format} [{rows}, {cols}] panels of {panel_rows}");
                check_products(&packed, &w, n, panel_rows, &what);
                let third = packed.row(rows / 3).unwrap();
                assert_eq!(third, w[rows / 3 * cols..(rows / 3 + 1) * cols], "{what} row");
            }
        }
    }
}

/// Column norms over several tasks and panels, against f64 sums over the dequantized matrix.
#[test]
fn column_norms_cover_every_row() {
    let (rows, cols) = (600, 512);
    for format in [GgmlType::Q4_K, GgmlType::Q8_0, GgmlType::BF16] {
        let packed = PackedRows::new(format, rows, cols, random_matrix(format, rows, cols, 9)).unwrap();
        let w = dense(&packed);
        for (c, norm) in packed.column_norms().iter().enumerate() {
            let want = w.iter().skip(c).step_by(cols).map(|&v| f64::from(v).powi(2)).sum::<f64>().sqrt();
            assert!((f64::from(*norm) - want).abs() <= 1e-6 * want, "{format} column {c}: {norm} vs {want}");
        }
    }
}

#[test]
fn panels_are_bounded_and_shared_out() {
    let threads = rayon::current_num_threads();
    for (rows, cols) in [(4096, 4096), (11008, 4096), (4096, 11008), (32000, 4096), (576, 576), (3, 64)] {
        let p = PackedRows::new(GgmlType::F16, rows, cols, vec![0; rows * cols * 2]).unwrap().panel_rows();
        assert!((1..=256).contains(&p), "[{rows}, {cols}]: {p} rows");
        assert!(p * cols <= 1024 * 1024 || p <= 64, "[{rows}, {cols}]: {p} rows");
        assert!(rows.div_ceil(p) >= (2 * threads).min(rows), "[{rows}, {cols}]: {p} rows");
    }
}

#[test]
fn empty_inputs_and_matrices() {
    let packed = PackedRows::new(GgmlType::Q4_0, 3, 64, random_matrix(GgmlType::Q4_0, 3, 64, 3)).unwrap();
    assert!(packed.matmul(&[], 0).is_empty());
    let empty = PackedRows::new(GgmlType::Q8_0, 0, 64, Vec::new()).unwrap();
    assert!(empty.matvec(&[0.0; 64]).is_empty());
    assert!(empty.matmul(&[0.0; 128], 2).is_empty());
    assert_eq!(empty.column_norms(), vec![0.0; 64]);
    assert_eq!(empty.row(0), None);
    let no_columns = PackedRows::new(GgmlType::F32, 3, 0, Vec::new()).unwrap();
    assert_eq!(no_columns.matvec(&[]), vec![0.0; 3]);
    assert_eq!(no_columns.matmul(&[], 2), vec![0.0; 6]);
    assert_eq!(no_columns.row(2), Some(Vec::new()));
    assert!(no_columns.column_norms().is_empty());
}

#[test]
fn sizes_that_do_not_fit_are_refused() {
    assert!(PackedRows::new(GgmlType::Q8_0, 2, 32, vec![0; 68]).is_ok());
    let err = PackedRows::new(GgmlType::Q8_0, 2, 32, vec![0; 67]).unwrap_err();
    assert_eq!(err, "a [2, 32] Q8_0 matrix does not take 67 bytes");
    let err = PackedRows::new(GgmlType::Q4_1, 1, 40, vec![0; 40]).unwrap_err();
    assert_eq!(err, "rows of 40 elements are not whole Q4_1 blocks of 32");
    assert!(PackedRows::new(GgmlType::Q6_K, 1, 512, vec![0; 210]).is_err());
    assert!(PackedRows::new(GgmlType::Q4_K, usize::MAX, 256, vec![0; 144]).is_err());
    assert!(PackedRows::new(GgmlType::F16, 3, 5, vec![0; 29]).is_err());
    let source: SharedBytes = Arc::new(vec![0u8; 100]);
    assert!(Storage::shared(source.clone(), 40, 60).is_some());
    assert!(Storage::shared(source.clone(), 41, 60).is_none());
    assert!(Storage::shared(source, usize::MAX, 2).is_none());
}

/// A matrix read in place from a memory-mapped file, at an offset with no particular alignment.
#[test]
fn reads_a_range_of_a_memory_map() {
    let (rows, cols) = (5, 512);
    let bytes = random_matrix(GgmlType::Q5_K, rows, cols, 5);
    let mut file = tempfile::tempfile().unwrap();
    let prefix = [7u8; 13];
    std::io::Write::write_all(&mut file, &[&prefix[..], &bytes, &[1, 2, 3]].concat()).unwrap();
    // SAFETY: the temporary file is private to this test and not modified while mapped.
    let map: SharedBytes = Arc::new(unsafe { memmap2::Mmap::map(&file) }.unwrap());
    let storage = Storage::shared(map, prefix.len(), bytes.len()).unwrap();
    let mapped = PackedRows::new(GgmlType::Q5_K, rows, cols, storage).unwrap();
    let owned = PackedRows::new(GgmlType::Q5_K, rows, cols, bytes).unwrap();
    assert_eq!(mapped.bytes(), owned.bytes());
    let x = input(cols, 6);
    assert_eq!(mapped.matvec(&x), owned.matvec(&x));
    assert_eq!(mapped.row(4), owned.row(4));
}
