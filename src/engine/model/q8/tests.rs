use half::f16;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

use super::decode::Decoded;
use super::layout::{Format32, FormatK};
use super::quantize::{q8_0_block, q8_k_block, Q8_0Rows, Q8_KRows, PANEL_ROWS, QK8_0, QK_K};
use super::*;
use crate::engine::weights::gguf::GgufFile;
use crate::engine::weights::quant::dequantize;

pub const FORMATS: [GgmlType; 6] =
    [GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q8_0, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K];

/// The instruction sets this machine runs.
fn isas() -> Vec<Isa> {
    let mut isas = vec![Isa::Portable];
    if Isa::best() != Isa::Portable {
        isas.push(Isa::best());
    }
    isas
}

/// Byte offsets of the f16 scales in a block of each format.
fn scale_fields(ty: GgmlType) -> &'static [usize] {
    match ty {
        GgmlType::Q4_0 | GgmlType::Q8_0 => &[0],
        GgmlType::Q4_1 | GgmlType::Q4_K | GgmlType::Q5_K => &[0, 2],
        GgmlType::Q6_K => &[208],
        GgmlType::F32 | GgmlType::F16 | GgmlType::BF16 => &[],
    }
}

/// `[rows, cols]` weights of random quants, with f16 scales of either sign and typical size.
pub fn random_weights(ty: GgmlType, rows: usize, cols: usize, seed: u64) -> Vec<u8> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (block, block_bytes) = block_size(ty);
    let mut bytes: Vec<u8> = (0..rows * cols / block * block_bytes).map(|_| rng.random()).collect();
    for b in bytes.chunks_exact_mut(block_bytes) {
        for &at in scale_fields(ty) {
            b[at..at + 2].copy_from_slice(&f16::from_f32(rng.random_range(-0.05..0.05)).to_le_bytes());
        }
    }
    bytes
}

pub fn random_activations(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let normal = Normal::new(0.0f32, 1.0).expect("a valid distribution");
    (0..n).map(|_| normal.sample(&mut rng)).collect()
}

fn dense(ty: GgmlType, weights: &[u8], rows: usize, cols: usize) -> Vec<f32> {
    let mut w = vec![0f32; rows * cols];
    dequantize(ty, weights, rows * cols, &mut w).unwrap();
    w
}

/// The activations as the kernels see them: each value replaced by `d·q`.
fn dequantized_activations(ty: GgmlType, x: &[f32], cols: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(x.len());
    if block_size(ty).0 == QK8_0 {
        let rows = Q8_0Rows::<1>::quantize(Isa::Portable, x, cols);
        for p in 0..rows.panels {
            let panel = rows.panel(p);
            for b in 0..rows.blocks {
                out.extend(panel.qs[b].iter().flat_map(|word| word[0]).map(|q| panel.d[b][0] * f32::from(q)));
            }
        }
    } else {
        let rows = Q8_KRows::<1>::quantize(Isa::Portable, x, cols);
        for p in 0..rows.panels {
            let panel = rows.panel(p);
            for b in 0..rows.blocks {
                out.extend(panel.qs[b].iter().flat_map(|word| word[0]).map(|q| panel.d[b][0] * f32::from(q)));
            }
        }
    }
    out
}

/// `x·Wᵀ` in f64, and Σ|xᵢ·wᵢ| per output (the scale rounding errors are relative to).
fn reference(w: &[f32], x: &[f32], rows: usize, cols: usize) -> (Vec<f64>, Vec<f64>) {
    let mut exact = Vec::new();
    let mut magnitude = Vec::new();
    for xr in x.chunks_exact(cols) {
        for wr in w.chunks_exact(cols).take(rows) {
            let terms = wr.iter().zip(xr).map(|(&w, &x)| f64::from(w) * f64::from(x));
            exact.push(terms.clone().sum());
            magnitude.push(terms.map(f64::abs).sum());
        }
    }
    (exact, magnitude)
}

fn product(isa: Isa, ty: GgmlType, weights: &[u8], rows: usize, cols: usize, x: &[f32]) -> Vec<f32> {
    let mut out = vec![f32::NAN; x.len() / cols * rows];
    matmul_with(isa, ty, weights, rows, cols, x, &mut out).unwrap();
    out
}

/// Blocks with zeros, equal values, and values that scale to exact halves (ties).
fn awkward_blocks(len: usize) -> Vec<Vec<f32>> {
    let mut blocks = vec![vec![0.0; len], vec![-3.5; len], vec![1e-30; len]];
    // amax 127 makes the scale 1: every k + 0.5 is a tie.
    blocks.push((0..len).map(|i| if i == 0 { 127.0 } else { (i as f32 % 40.0) - 20.5 }).collect());
    blocks.push(random_activations(len, 3).iter().map(|v| v * 1e4).collect());
    blocks.push(random_activations(len, 4));
    blocks
}

#[test]
fn quantizers_agree_across_isas() {
    for isa in isas() {
        for x in awkward_blocks(QK8_0) {
            let x: &[f32; QK8_0] = x.as_slice().try_into().unwrap();
            let (mut a, mut b) = ([0i8; QK8_0], [0i8; QK8_0]);
            assert_eq!(q8_0_block(isa, x, &mut a), q8_0_block(Isa::Portable, x, &mut b), "{isa:?} {x:?}");
            assert_eq!(a, b, "{isa:?} {x:?}");
        }
        for x in awkward_blocks(QK_K) {
            let x: &[f32; QK_K] = x.as_slice().try_into().unwrap();
            let (mut a, mut b) = ([0i8; QK_K], [0i8; QK_K]);
            let (mut sa, mut sb) = ([0i16; 16], [0i16; 16]);
            assert_eq!(q8_k_block(isa, x, &mut a, &mut sa), q8_k_block(Isa::Portable, x, &mut b, &mut sb));
            assert_eq!((a, sa), (b, sb), "{isa:?}");
        }
    }
}

#[test]
fn quantization_rounds_to_the_nearest_step() {
    for x in awkward_blocks(QK_K) {
        let x: &[f32; QK_K] = x.as_slice().try_into().unwrap();
        let (mut q, mut bsums) = ([0i8; QK_K], [0i16; 16]);
        let d = q8_k_block(Isa::Portable, x, &mut q, &mut bsums);
        let amax = x.iter().fold(0f32, |m, v| m.max(v.abs()));
        assert_eq!(d, amax / 127.0);
        for (&v, &q) in x.iter().zip(&q) {
            assert!((v - d * f32::from(q)).abs() <= d * 0.5001, "{v} → {q}·{d}");
        }
        for (k, &sum) in bsums.iter().enumerate() {
            assert_eq!(i32::from(sum), q[16 * k..16 * k + 16].iter().map(|&q| i32::from(q)).sum::<i32>());
        }
        let (mut q32, x32) = ([0i8; QK8_0], x[..QK8_0].try_into().unwrap());
        let (d, sum) = q8_0_block(Isa::Portable, x32, &mut q32);
        assert_eq!(sum, q32.iter().map(|&q| i32::from(q)).sum::<i32>());
        assert!(q32.iter().all(|&q| q != i8::MIN) && (d == 0.0 || q32.iter().any(|&q| q.abs() == 127)));
    }
}

/// The AVX2 kernels' integer sums per block, one activation row at a time (from the blocks as
/// stored) or a panel at a time (from decoded rows), equal the portable ones exactly, for every
/// format.
#[cfg(target_arch = "x86_64")]
#[test]
fn integer_sums_agree_across_isas() {
    if !avx2::available() {
        return;
    }
    let cols = 4 * QK_K;
    let x = random_activations(PANEL_ROWS * cols, 11);
    for ty in FORMATS {
        let w = random_weights(ty, 1, cols, 12);
        let mut strip = Decoded::default();
        match Family::of(ty).unwrap() {
            Family::Blocks32(format) => {
                strip.decode_32(format, &[&w], cols);
                let one = Q8_0Rows::<1>::quantize(Isa::Portable, &x[..cols], cols);
                let panel = Q8_0Rows::<PANEL_ROWS>::quantize(Isa::Portable, &x, cols);
                let (one, panel) = (one.panel(0), panel.panel(0));
                // SAFETY: AVX2 is available; the row, the strip and the panels hold `cols / 32`
                // blocks.
                let (by_row, by_panel) = unsafe {
                    (avx2::rows::block_isums_32(format, &w, one), avx2::panels::block_isums_32(format, &strip, panel))
                };
                for (b, q) in strip.row(0).chunks_exact(QK8_0).enumerate() {
                    assert_eq!(by_row[b], portable::isum_32(format, q, &portable::gather(&one.qs[b], 0)), "{ty}");
                    for (c, &got) in by_panel[b].iter().enumerate() {
                        let want = portable::isum_32(format, q, &portable::gather(&panel.qs[b], c));
                        assert_eq!(got, want, "{ty} block {b} row {c}");
                    }
                }
            }
            Family::BlocksK(format) => {
                strip.decode_k(format, &[&w], cols);
                let one = Q8_KRows::<1>::quantize(Isa::Portable, &x[..cols], cols);
                let panel = Q8_KRows::<PANEL_ROWS>::quantize(Isa::Portable, &x, cols);
                let (one, panel) = (one.panel(0), panel.panel(0));
                // SAFETY: as above, with `cols / 256` blocks.
                let (by_row, by_panel) = unsafe {
                    (avx2::rows::block_isums_k(format, &w, one), avx2::panels::block_isums_k(format, &strip, panel))
                };
                for (b, q) in strip.row(0).chunks_exact(QK_K).enumerate() {
                    let scales = &strip.scales_k[b];
                    let (x, bsums) = (portable::gather(&one.qs[b], 0), portable::gather_sums(&one.bsums[b], 0));
                    assert_eq!(by_row[b], portable::isums_k(q, scales, &x, &bsums), "{ty}");
                    for (c, &got) in by_panel[b].iter().enumerate() {
                        let (x, bsums) = (portable::gather(&panel.qs[b], c), portable::gather_sums(&panel.bsums[b], c));
                        assert_eq!(got, portable::isums_k(q, scales, &x, &bsums), "{ty} block {b} row {c}");
                    }
                }
            }
        }
    }
}

/// Decoded quants and scales reproduce ggml's dequantization, for every format (`decode`
/// compiled plainly, and with AVX2 where the processor has it).
#[test]
fn decoding_matches_dequantize() {
    let (rows, cols) = (3, 2 * QK_K);
    for ty in FORMATS {
        let w = random_weights(ty, rows, cols, 5);
        let expected = dense(ty, &w, rows, cols);
        let w: Vec<&[u8]> = w.chunks_exact(w.len() / rows).collect();
        let family = Family::of(ty).unwrap();
        for isa in isas() {
            let mut strip = Decoded::default();
            match (family, isa) {
                // SAFETY: the processor has AVX2.
                #[cfg(target_arch = "x86_64")]
                (Family::Blocks32(f), Isa::Avx2) => unsafe { avx2::decode_32(&mut strip, f, &w, cols) },
                // SAFETY: as above.
                #[cfg(target_arch = "x86_64")]
                (Family::BlocksK(f), Isa::Avx2) => unsafe { avx2::decode_k(&mut strip, f, &w, cols) },
                (Family::Blocks32(f), _) => strip.decode_32(f, &w, cols),
                (Family::BlocksK(f), _) => strip.decode_k(f, &w, cols),
            }
            for (i, &want) in expected.iter().enumerate() {
                let (r, e) = (i / cols, i % cols);
                let q = strip.row(r)[e];
                let got = match family {
                    Family::Blocks32(format) => {
                        // d·(q − 8), d·q + m or d·q.
                        let (d, o) = strip.scales_32[(r * cols + e) / QK8_0];
                        match format {
                            Format32::Q8_0 => d * f32::from(q as i8),
                            Format32::Q4_0 | Format32::Q4_1 => d * f32::from(q) + o,
                        }
                    }
                    Family::BlocksK(_) => {
                        let s = &strip.scales_k[(r * cols + e) / QK_K];
                        let k = e % QK_K / 16;
                        s.d * f32::from(s.sc[k]) * f32::from(q) - s.dmin * f32::from(s.off[k])
                    }
                };
                assert!((got - want).abs() <= 1e-6 * (1.0 + want.abs()), "{ty} {isa:?} [{r}, {e}]: {got} vs {want}");
            }
        }
    }
}

/// The product is the dot product of the dequantized weights with the dequantized activations:
/// 7 weight rows (a pair tile short); 6 activation rows (one at a time) or 11 (a panel and a
/// part-filled one).
#[test]
fn equals_the_product_of_the_dequantized_operands() {
    for (ty, n) in FORMATS.into_iter().flat_map(|ty| [(ty, 6), (ty, 11)]) {
        let (rows, cols) = (7, 2 * QK_K);
        let x = random_activations(n * cols, 1);
        let weights = random_weights(ty, rows, cols, 2);
        let xq = dequantized_activations(ty, &x, cols);
        let (exact, magnitude) = reference(&dense(ty, &weights, rows, cols), &xq, rows, cols);
        for isa in isas() {
            let ours = product(isa, ty, &weights, rows, cols, &x);
            for (i, ((&y, want), m)) in ours.iter().zip(&exact).zip(&magnitude).enumerate() {
                assert!((f64::from(y) - want).abs() <= 1e-5 * m, "{ty} {isa:?} n {n} output {i}: {y} vs {want}");
            }
        }
    }
}

/// Products large enough to split into tasks: 100 weight rows (chunks of 48, 48 and 4, the last
/// a tile of three and a single row) × 3 panels of activation rows, each wide enough to be a task
/// of its own; every output is written, once, with its own value.
#[test]
fn tasks_cover_every_output() {
    let (rows, cols, n) = (100, TASK_ACTIVATION_BYTES / PANEL_ROWS, 3 * PANEL_ROWS);
    assert!(rows > 2 * TASK_ROWS && !(rows % TASK_ROWS).is_multiple_of(PANEL_TILE_ROWS));
    let x = random_activations(n * cols, 14);
    for ty in [GgmlType::Q4_0, GgmlType::Q4_K] {
        let weights = random_weights(ty, rows, cols, 15);
        let xq = dequantized_activations(ty, &x, cols);
        let (exact, magnitude) = reference(&dense(ty, &weights, rows, cols), &xq, rows, cols);
        let ours = product(Isa::best(), ty, &weights, rows, cols, &x);
        for (i, ((&y, want), m)) in ours.iter().zip(&exact).zip(&magnitude).enumerate() {
            assert!((f64::from(y) - want).abs() <= 1e-5 * m, "{ty} output {i}: {y} vs {want}");
        }
    }
}

/// The largest sums the kernels add in 16 bits: every quant at its maximum (all bits set) or at
/// Q8_0's −128 (bytes 0x80), times activations of ±127 everywhere, in panels and one row at a
/// time. A kernel adding one more word before widening would overflow here.
#[test]
fn extreme_quants_do_not_overflow() {
    let (rows, cols) = (3, QK_K);
    for (ty, byte) in FORMATS.into_iter().flat_map(|ty| [(ty, 0xFF), (ty, 0x80)]) {
        let (block, block_bytes) = block_size(ty);
        let mut weights = vec![byte; rows * cols / block * block_bytes];
        for b in weights.chunks_exact_mut(block_bytes) {
            for &at in scale_fields(ty) {
                b[at..at + 2].copy_from_slice(&f16::from_f32(0.01).to_le_bytes());
            }
        }
        let w = dense(ty, &weights, rows, cols);
        for (sign, n) in [(1.0, 1), (-1.0, 1), (1.0, PANEL_ROWS), (-1.0, PANEL_ROWS)] {
            let x = vec![sign; n * cols];
            let (exact, magnitude) = reference(&w, &dequantized_activations(ty, &x, cols), rows, cols);
            for isa in isas() {
                let ours = product(isa, ty, &weights, rows, cols, &x);
                for (i, ((&y, want), m)) in ours.iter().zip(&exact).zip(&magnitude).enumerate() {
                    assert!(
                        (f64::from(y) - want).abs() <= 1e-5 * m,
                        "{ty} {byte:#x} {isa:?} n {n}: [{i}] {y} vs {want}"
                    );
                }
            }
        }
    }
}

/// Against the exact product (unquantized activations), the activations' rounding costs well
/// under 1% of a product on random data.
#[test]
fn error_against_unquantized_activations_is_small() {
    let (rows, cols, n) = (64, 8 * QK_K, 8);
    let x = random_activations(n * cols, 7);
    for ty in FORMATS {
        let weights = random_weights(ty, rows, cols, 8);
        let (exact, _) = reference(&dense(ty, &weights, rows, cols), &x, rows, cols);
        let ours = product(Isa::best(), ty, &weights, rows, cols, &x);
        let error: f64 = ours.iter().zip(&exact).map(|(&y, e)| (f64::from(y) - e).abs()).sum();
        let size: f64 = exact.iter().map(|e| e.abs()).sum();
        let relative = error / size;
        eprintln!("{ty}: mean relative error {:.3}%", 100.0 * relative);
        assert!(relative < 0.01, "{ty}: {relative}");
    }
}

/// Each output depends only on its own rows: a row computed alone is the same row inside a
/// product, bit for bit where both take one row at a time (5 rows), to rounding where the
/// product takes panels (9 rows).
#[test]
fn a_single_row_equals_its_row_in_a_product() {
    for (ty, n) in FORMATS.into_iter().flat_map(|ty| [(ty, 5), (ty, 9)]) {
        let (rows, cols) = (5, QK_K);
        let x = random_activations(n * cols, 9);
        let weights = random_weights(ty, rows, cols, 10);
        let (_, magnitude) = reference(&dense(ty, &weights, rows, cols), &x, rows, cols);
        let all = product(Isa::best(), ty, &weights, rows, cols, &x);
        for (i, xr) in x.chunks_exact(cols).enumerate() {
            let mut y = vec![0f32; rows];
            matvec_q8(ty, &weights, rows, cols, xr, &mut y).unwrap();
            let want = &all[i * rows..(i + 1) * rows];
            if n < PANEL_ROWS {
                assert_eq!(y, want, "{ty}");
            }
            for r in 0..rows {
                let m = magnitude[i * rows + r];
                assert!(f64::from((y[r] - want[r]).abs()) <= 1e-5 * m, "{ty} n {n}: {} vs {}", y[r], want[r]);
            }
        }
    }
}

/// The gguf-py fixtures (random blocks with zero, subnormal and negative scales) as weights.
#[test]
fn fixture_blocks_multiply_as_they_dequantize() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/quant");
    let gguf = GgufFile::open(&dir.join("quant-types.gguf")).unwrap();
    let mut seen = 0;
    for info in gguf.tensors().iter().filter(|t| FORMATS.contains(&t.ty)) {
        let (ty, name) = (info.ty, info.name.as_str());
        let [rows, cols] = [info.shape[0], info.shape[1]];
        let w = gguf.load_f32(name).unwrap();
        assert_eq!(w.shape, [rows, cols], "{name}");
        let w = w.into_f32();
        for (isa, n) in isas().into_iter().flat_map(|isa| [(isa, 3), (isa, 10)]) {
            let x = random_activations(n * cols, 13);
            let (exact, magnitude) = reference(&w, &dequantized_activations(ty, &x, cols), rows, cols);
            let ours = product(isa, ty, gguf.tensor_bytes(name).unwrap(), rows, cols, &x);
            for (i, ((&y, want), m)) in ours.iter().zip(&exact).zip(&magnitude).enumerate() {
                assert!((f64::from(y) - want).abs() <= 1e-5 * m, "{name} {isa:?} n {n} output {i}: {y} vs {want}");
            }
        }
        seen += 1;
    }
    assert_eq!(seen, FORMATS.len());
}

/// The f16 widening of the scales is `half`'s, bit for bit, for every f16.
#[test]
fn f16_widening_is_exact() {
    for bits in 0..=u16::MAX {
        let (ours, theirs) = (super::layout::widen(bits), f16::from_bits(bits).to_f32());
        assert!(
            ours.to_bits() == theirs.to_bits() || (ours.is_nan() && theirs.is_nan()),
            "{bits:#06x}: {ours} vs {theirs}"
        );
    }
}

#[test]
fn bad_sizes_are_errors() {
    let w = random_weights(GgmlType::Q4_0, 2, 64, 1);
    let error =
        |ty, w: &[u8], cols, x: &[f32], out: &mut [f32]| matmul_q8(ty, w, 2, cols, x, out).unwrap_err().to_string();
    let (x, mut out) = (vec![0.0; 128], vec![0.0; 4]);
    assert!(error(GgmlType::Q4_0, &w, 48, &x[..96], &mut out).contains("48 columns are not"));
    assert!(error(GgmlType::Q4_0, &w[1..], 64, &x, &mut out).contains("take 71 bytes, expected 72"));
    assert!(error(GgmlType::Q4_0, &w, 64, &x[..100], &mut out).contains("100 input values"));
    assert!(error(GgmlType::Q4_0, &w, 64, &x, &mut out[..3]).contains("holds 3 values, expected 2×2"));
    assert!(error(GgmlType::F16, &w, 64, &x, &mut out).contains("F16 weights have no integer product"));
    let err = matvec_q8(GgmlType::Q4_0, &w, 2, 64, &x, &mut out).unwrap_err().to_string();
    assert!(err.contains("input holds 128 values, expected 64"), "{err}");
    assert!(matmul_q8(GgmlType::Q4_0, &w, 2, 64, &x, &mut out).is_ok());
}

/// Formats line up with the byte sizes `weights::quant` knows.
#[test]
fn block_sizes_match_the_dequantizer() {
    for format in [Format32::Q4_0, Format32::Q4_1, Format32::Q8_0] {
        let ty = FORMATS.into_iter().find(|&t| matches!(Family::of(t), Some(Family::Blocks32(f)) if f == format));
        assert_eq!(block_size(ty.unwrap()), (QK8_0, format.block_bytes()));
    }
    for format in [FormatK::Q4_K, FormatK::Q5_K, FormatK::Q6_K] {
        let ty = FORMATS.into_iter().find(|&t| matches!(Family::of(t), Some(Family::BlocksK(f)) if f == format));
        assert_eq!(block_size(ty.unwrap()), (QK_K, format.block_bytes()));
    }
}
