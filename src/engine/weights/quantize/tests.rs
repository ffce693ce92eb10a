use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal, StudentT};

use super::*;
use crate::engine::weights::gguf::GgufFile;
use crate::engine::weights::quant::dequantize;

fn fixture() -> GgufFile {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/quant/quantize-ref.gguf");
    GgufFile::open(&path).unwrap()
}

fn round_trip(ty: GgmlType, x: &[f32]) -> Vec<f32> {
    let bytes = quantize_to_vec(ty, x).unwrap();
    let mut out = vec![f32::NAN; x.len()];
    dequantize(ty, &bytes, x.len(), &mut out).unwrap();
    out
}

/// `sqrt(Σ(x - y)² / Σx²)`.
fn relative_rms_error(x: &[f32], y: &[f32]) -> f64 {
    let err: f64 = x.iter().zip(y).map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2)).sum();
    let norm: f64 = x.iter().map(|&a| f64::from(a).powi(2)).sum();
    (err / norm).sqrt()
}

fn normal(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let dist = Normal::new(0.0f32, 0.02).unwrap();
    (0..n).map(|_| dist.sample(&mut rng)).collect()
}

/// Every byte as gguf-py's quantizers (ggml's reference, bit for bit) write it, on inputs made by
/// `scripts/make_quantize_fixtures.py`.
#[test]
fn matches_gguf_py_bit_for_bit() {
    let gguf = fixture();
    let cases = [
        ("input", "q4_0", GgmlType::Q4_0),
        ("input", "q4_1", GgmlType::Q4_1),
        ("input", "q8_0", GgmlType::Q8_0),
        ("floats", "f16", GgmlType::F16),
        ("floats", "bf16", GgmlType::BF16),
    ];
    for (input, name, ty) in cases {
        let x = gguf.load_f32(input).unwrap().into_f32();
        assert_eq!(gguf.tensor_info(name).unwrap().ty, ty);
        let want = gguf.tensor_bytes(name).unwrap();
        let got = quantize_to_vec(ty, &x).unwrap();
        assert_eq!(got.len(), want.len(), "{name}");
        let (block_elements, block_bytes) = block_size(ty);
        for (i, (g, w)) in got.chunks(block_bytes).zip(want.chunks(block_bytes)).enumerate() {
            let values = &x[i * block_elements..(i + 1) * block_elements];
            assert_eq!(g, w, "{name} block {i} of {values:?}");
        }
    }
}

/// Each format's round trip through `quant.rs` on N(0, 0.02²) weights lands within a bound a
/// few tens of percent above what the format achieves; a scrambled layout or a wrong scale
/// gives errors near 1.4.
#[test]
fn round_trip_error_per_format() {
    let x = normal(64 * 256, 1);
    let bounds = [
        (GgmlType::F32, 0.0),
        (GgmlType::F16, 3e-4),
        (GgmlType::BF16, 2.5e-3),
        (GgmlType::Q8_0, 7e-3),
        (GgmlType::Q6_K, 2.5e-2),
        (GgmlType::Q5_K, 5e-2),
        (GgmlType::Q4_K, 9e-2),
        (GgmlType::Q4_1, 1e-1),
        (GgmlType::Q4_0, 1.1e-1),
    ];
    assert_eq!(bounds.len(), GgmlType::ALL.len());
    for (ty, bound) in bounds {
        let error = relative_rms_error(&x, &round_trip(ty, &x));
        assert!(error <= bound, "{ty}: relative RMS error {error:.5} above {bound}");
    }
}

/// The k-quants fit each sub-block's own scale and min, so sub-blocks of magnitudes up to 8×
/// apart in one super-block, heavy tails, and one-signed sub-blocks (a min of zero) all
/// round-trip closely. (Sub-block scales are 6-bit fractions of the largest, so a sub-block far
/// smaller than its neighbours decodes as zeros: a limit of the format.)
#[test]
fn k_quants_fit_uneven_blocks() {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let t = StudentT::new(5.0f32).unwrap();
    let mut x: Vec<f32> = (0..16 * 256).map(|_| t.sample(&mut rng)).collect();
    for (i, v) in x.iter_mut().enumerate() {
        let sub_block = i / 32;
        *v *= [1.0, 0.3, 2.5, 0.6][sub_block % 4];
        if sub_block % 5 == 0 {
            *v = v.abs();
        }
    }
    for (ty, bound) in [(GgmlType::Q4_K, 0.15), (GgmlType::Q5_K, 0.11), (GgmlType::Q6_K, 0.05)] {
        let y = round_trip(ty, &x);
        assert!(y.iter().all(|v| v.is_finite()), "{ty}");
        for (j, (xs, ys)) in x.chunks(32).zip(y.chunks(32)).enumerate() {
            let error = relative_rms_error(xs, ys);
            assert!(error <= bound, "{ty} sub-block {j}: relative RMS error {error:.4} above {bound}");
        }
    }
}

/// Zero, constant and one-outlier blocks: the degenerate cases of every scale search.
#[test]
fn degenerate_blocks() {
    for ty in GgmlType::ALL {
        let (block_elements, _) = block_size(ty);
        let n = block_elements.max(256);
        assert!(round_trip(ty, &vec![0.0; n]).iter().all(|&v| v == 0.0), "{ty} zeros");
        let constant = round_trip(ty, &vec![0.75; n]);
        assert!(constant.iter().all(|&v| (v - 0.75).abs() < 0.75 / 14.0), "{ty} constant: {constant:?}");
        let mut outlier = vec![1e-3; n];
        outlier[5] = -50.0;
        let y = round_trip(ty, &outlier);
        assert!((y[5] + 50.0).abs() <= 50.0 / 14.0, "{ty} outlier decoded as {}", y[5]);
    }
}

#[test]
fn nearest_int_rounds_half_to_even() {
    use super::k_quants::nearest_int;
    let cases = [(2.5, 2), (3.5, 4), (-2.5, -2), (-3.5, -4), (0.49, 0), (-0.51, -1), (1e6 + 0.5, 1_000_000)];
    for (x, want) in cases {
        assert_eq!(nearest_int(x), want, "{x}");
    }
}

#[test]
fn lengths_are_checked() {
    let err = quantize(GgmlType::Q4_K, &[0.0; 128], &mut [0; 72]).unwrap_err();
    assert!(err.contains("128 values are not a whole number of Q4_K blocks of 256"), "{err}");
    let err = quantize(GgmlType::Q8_0, &[0.0; 64], &mut [0; 60]).unwrap_err();
    assert!(err.contains("64 Q8_0 values take 68 bytes, the output holds 60"), "{err}");
    assert_eq!(quantized_len(GgmlType::Q6_K, 512), Some(420));
    assert_eq!(quantized_len(GgmlType::Q4_0, 48), None);
}
