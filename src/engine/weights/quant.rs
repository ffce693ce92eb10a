//! Dequantization of GGML block formats to f32, bit-for-bit as ggml's `dequantize_row_*` and
//! gguf-py's `gguf.quants` compute it: every product and sum is one rounded f32 operation in the
//! same order, so results are identical rather than close.
//!
//! A quantized tensor is a sequence of fixed-size blocks, each holding the elements of one run of
//! a row (ggml requires rows to be whole blocks). Blocks are independent, so they are decoded in
//! parallel.
use half::f16;
use half::slice::{HalfBitsSliceExt, HalfFloatSliceExt};
use rayon::prelude::*;

use super::gguf::GgmlType;

/// Elements per block of the k-quants.
const QK_K: usize = 256;

/// Elements decoded by one rayon task: large enough to amortise scheduling, small enough to
/// balance a 2-core machine on small tensors.
const ELEMENTS_PER_TASK: usize = 16 * 1024;

/// `(elements per block, bytes per block)` of a type, as in ggml's type traits.
pub fn block_size(ty: GgmlType) -> (usize, usize) {
    match ty {
        GgmlType::F32 => (1, 4),
        GgmlType::F16 | GgmlType::BF16 => (1, 2),
        GgmlType::Q4_0 => (32, 2 + 16),
        GgmlType::Q4_1 => (32, 2 + 2 + 16),
        GgmlType::Q8_0 => (32, 2 + 32),
        GgmlType::Q4_K => (QK_K, 2 + 2 + 12 + QK_K / 2),
        GgmlType::Q5_K => (QK_K, 2 + 2 + 12 + QK_K / 8 + QK_K / 2),
        GgmlType::Q6_K => (QK_K, QK_K / 2 + QK_K / 4 + QK_K / 16 + 2),
    }
}

/// Decodes `n_elements` values of type `ty` from `bytes` into `out`.
///
/// `bytes` must hold exactly `n_elements / block elements` blocks and `out` exactly
/// `n_elements` values; anything else is reported rather than guessed at.
pub fn dequantize(ty: GgmlType, bytes: &[u8], n_elements: usize, out: &mut [f32]) -> Result<(), String> {
    check_sizes(ty, bytes, n_elements, out)?;
    decode(ty, bytes, out, true);
    Ok(())
}

/// [`dequantize`] on the calling thread only, for callers that already run one task per core.
pub fn dequantize_serial(ty: GgmlType, bytes: &[u8], n_elements: usize, out: &mut [f32]) -> Result<(), String> {
    check_sizes(ty, bytes, n_elements, out)?;
    decode(ty, bytes, out, false);
    Ok(())
}

fn check_sizes(ty: GgmlType, bytes: &[u8], n_elements: usize, out: &[f32]) -> Result<(), String> {
    let (block_elements, block_bytes) = block_size(ty);
    if !n_elements.is_multiple_of(block_elements) {
        return Err(format!("{n_elements} elements are not a whole number of {ty} blocks of {block_elements}"));
    }
    let expected_bytes = n_elements / block_elements * block_bytes;
    if bytes.len() != expected_bytes {
        return Err(format!("{n_elements} {ty} elements take {expected_bytes} bytes, got {}", bytes.len()));
    }
    if out.len() != n_elements {
        return Err(format!("output holds {} values, expected {n_elements}", out.len()));
    }
    Ok(())
}

fn decode(ty: GgmlType, bytes: &[u8], out: &mut [f32], parallel: bool) {
    match ty {
        GgmlType::F32 => run_blocks(bytes, out, f32_block, parallel),
        GgmlType::F16 => run_tasks(bytes, out, (1, 2), parallel, f16_values),
        GgmlType::BF16 => run_blocks(bytes, out, bf16_block, parallel),
        GgmlType::Q4_0 => run_blocks(bytes, out, q4_0_block, parallel),
        GgmlType::Q4_1 => run_blocks(bytes, out, q4_1_block, parallel),
        GgmlType::Q8_0 => run_blocks(bytes, out, q8_0_block, parallel),
        GgmlType::Q4_K => run_blocks(bytes, out, q4_k_block, parallel),
        GgmlType::Q5_K => run_blocks(bytes, out, q5_k_block, parallel),
        GgmlType::Q6_K => run_blocks(bytes, out, q6_k_block, parallel),
    }
}

/// Applies a block decoder to every block. Fixed-size arrays let the compiler drop bounds checks
/// and vectorise the decoders, and a generic decoder (not a function pointer) lets it inline
/// them. The caller has checked that `bytes` holds exactly `out.len() / E` blocks of `B` bytes.
fn run_blocks<const E: usize, const B: usize>(
    bytes: &[u8],
    out: &mut [f32],
    decode: impl Fn(&[u8; B], &mut [f32; E]) + Sync,
    parallel: bool,
) {
    run_tasks(bytes, out, (E, B), parallel, |out, bytes| {
        let (out_blocks, _) = out.as_chunks_mut::<E>();
        let (byte_blocks, _) = bytes.as_chunks::<B>();
        for (o, b) in out_blocks.iter_mut().zip(byte_blocks) {
            decode(b, o);
        }
    });
}

/// Splits `bytes` and `out` into tasks of whole `(elements, bytes)` blocks and decodes each with
/// `task`, in parallel when asked.
fn run_tasks(
    bytes: &[u8],
    out: &mut [f32],
    (block_elements, block_bytes): (usize, usize),
    parallel: bool,
    task: impl Fn(&mut [f32], &[u8]) + Sync,
) {
    if !parallel {
        return task(out, bytes);
    }
    let blocks_per_task = (ELEMENTS_PER_TASK / block_elements).max(1);
    out.par_chunks_mut(blocks_per_task * block_elements)
        .zip(bytes.par_chunks(blocks_per_task * block_bytes))
        .for_each(|(out, bytes)| task(out, bytes));
}

/// f16 values widened a run at a time: `half`'s slice conversion uses F16C on eight values at
/// once where the processor has it, which it checks once per call; one value at a time costs a
/// check and a call each.
fn f16_values(out: &mut [f32], bytes: &[u8]) {
    const RUN: usize = 256;
    let mut bits = [0u16; RUN];
    for (out, bytes) in out.chunks_mut(RUN).zip(bytes.chunks(2 * RUN)) {
        let bits = &mut bits[..out.len()];
        for (b, pair) in bits.iter_mut().zip(bytes.chunks_exact(2)) {
            *b = u16::from_le_bytes([pair[0], pair[1]]);
        }
        bits.reinterpret_cast::<f16>().convert_to_f32_slice(out);
    }
}

/// A little-endian f16 at `at`, widened.
#[inline(always)]
fn f16_at(bytes: &[u8], at: usize) -> f32 {
    f16::from_bits(u16::from_le_bytes([bytes[at], bytes[at + 1]])).to_f32()
}

#[inline(always)]
fn f32_block(b: &[u8; 4], out: &mut [f32; 1]) {
    out[0] = f32::from_le_bytes(*b);
}

#[inline(always)]
fn bf16_block(b: &[u8; 2], out: &mut [f32; 1]) {
    out[0] = f32::from_bits(u32::from(u16::from_le_bytes(*b)) << 16);
}

/// `d: f16, qs: [u8; 16]`; element `j` is the low nibble of `qs[j]`, element `j + 16` the high
/// nibble, both offset by -8: `x = (q - 8) · d`.
#[inline(always)]
fn q4_0_block(b: &[u8; 18], out: &mut [f32; 32]) {
    let d = f16_at(b, 0);
    let qs = &b[2..18];
    for j in 0..16 {
        out[j] = (i32::from(qs[j] & 0x0F) - 8) as f32 * d;
        out[j + 16] = (i32::from(qs[j] >> 4) - 8) as f32 * d;
    }
}

/// `d: f16, m: f16, qs: [u8; 16]`, nibbles as in Q4_0: `x = q · d + m`.
#[inline(always)]
fn q4_1_block(b: &[u8; 20], out: &mut [f32; 32]) {
    let d = f16_at(b, 0);
    let m = f16_at(b, 2);
    let qs = &b[4..20];
    for j in 0..16 {
        out[j] = f32::from(qs[j] & 0x0F) * d + m;
        out[j + 16] = f32::from(qs[j] >> 4) * d + m;
    }
}

/// `d: f16, qs: [i8; 32]`: `x = q · d`.
#[inline(always)]
fn q8_0_block(b: &[u8; 34], out: &mut [f32; 32]) {
    let d = f16_at(b, 0);
    for j in 0..32 {
        out[j] = f32::from(b[2 + j] as i8) * d;
    }
}

/// Scale and min of sub-block `j` (0..8) of a Q4_K/Q5_K block, packed as 6-bit values in 12
/// bytes: sub-blocks 0..4 in the low 6 bits of bytes 0..4 (scales) and 4..8 (mins); sub-blocks
/// 4..8 in the nibbles of bytes 8..12 plus the top 2 bits of bytes 0..8. ggml's
/// `get_scale_min_k4`.
#[inline(always)]
fn scale_min_k4(j: usize, q: &[u8]) -> (f32, f32) {
    let (sc, m) = if j < 4 {
        (q[j] & 63, q[j + 4] & 63)
    } else {
        ((q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4))
    };
    (f32::from(sc), f32::from(m))
}

/// `d: f16, dmin: f16, scales: [u8; 12], qs: [u8; 128]`. Eight sub-blocks of 32 elements, each
/// with its own 6-bit scale and min; 64 elements share 32 bytes of `qs`, the first 32 in the low
/// nibbles: `x = (d · sc) · q - dmin · m`.
#[inline(always)]
fn q4_k_block(b: &[u8; 144], out: &mut [f32; 256]) {
    let d = f16_at(b, 0);
    let dmin = f16_at(b, 2);
    let scales = &b[4..16];
    let qs = &b[16..144];
    for pair in 0..4 {
        let (d1, m1) = sub_block_affine(2 * pair, scales, d, dmin);
        let (d2, m2) = sub_block_affine(2 * pair + 1, scales, d, dmin);
        let q = &qs[32 * pair..32 * pair + 32];
        let y = &mut out[64 * pair..64 * pair + 64];
        for l in 0..32 {
            y[l] = d1 * f32::from(q[l] & 0x0F) - m1;
            y[l + 32] = d2 * f32::from(q[l] >> 4) - m2;
        }
    }
}

/// `d: f16, dmin: f16, scales: [u8; 12], qh: [u8; 32], qs: [u8; 128]`: Q4_K with a fifth bit per
/// element from `qh`, bit `2·pair` for the low-nibble half and `2·pair + 1` for the high half.
#[inline(always)]
fn q5_k_block(b: &[u8; 176], out: &mut [f32; 256]) {
    let d = f16_at(b, 0);
    let dmin = f16_at(b, 2);
    let scales = &b[4..16];
    let qh = &b[16..48];
    let qs = &b[48..176];
    for pair in 0..4 {
        let (d1, m1) = sub_block_affine(2 * pair, scales, d, dmin);
        let (d2, m2) = sub_block_affine(2 * pair + 1, scales, d, dmin);
        let q = &qs[32 * pair..32 * pair + 32];
        let y = &mut out[64 * pair..64 * pair + 64];
        for l in 0..32 {
            let hi1 = (qh[l] >> (2 * pair)) & 1;
            let hi2 = (qh[l] >> (2 * pair + 1)) & 1;
            y[l] = d1 * f32::from((q[l] & 0x0F) | (hi1 << 4)) - m1;
            y[l + 32] = d2 * f32::from((q[l] >> 4) | (hi2 << 4)) - m2;
        }
    }
}

/// The multiplier `d · sc` and offset `dmin · m` of one Q4_K/Q5_K sub-block.
#[inline(always)]
fn sub_block_affine(j: usize, scales: &[u8], d: f32, dmin: f32) -> (f32, f32) {
    let (sc, m) = scale_min_k4(j, scales);
    (d * sc, dmin * m)
}

/// `ql: [u8; 128], qh: [u8; 64], scales: [i8; 16], d: f16`. Each half of 128 elements uses 64
/// bytes of `ql` (low 4 bits) and 32 of `qh` (2 high bits); sixteen sub-blocks of 16 elements have
/// signed 8-bit scales: `x = (d · sc) · (q - 32)`.
#[inline(always)]
fn q6_k_block(b: &[u8; 210], out: &mut [f32; 256]) {
    let d = f16_at(b, 208);
    for half in 0..2 {
        let ql = &b[64 * half..64 * half + 64];
        let qh = &b[128 + 32 * half..128 + 32 * half + 32];
        let sc = &b[192 + 8 * half..192 + 8 * half + 8];
        let y = &mut out[128 * half..128 * half + 128];
        for l in 0..32 {
            let is = l / 16;
            let q1 = i32::from((ql[l] & 0x0F) | ((qh[l] & 3) << 4)) - 32;
            let q2 = i32::from((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32;
            let q3 = i32::from((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
            let q4 = i32::from((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
            y[l] = d * f32::from(sc[is] as i8) * q1 as f32;
            y[l + 32] = d * f32::from(sc[is + 2] as i8) * q2 as f32;
            y[l + 64] = d * f32::from(sc[is + 4] as i8) * q3 as f32;
            y[l + 96] = d * f32::from(sc[is + 6] as i8) * q4 as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::weights::gguf::GgufFile;

    const F16_ONE_HALF: [u8; 2] = [0x00, 0x38];
    const F16_MINUS_TWO: [u8; 2] = [0x00, 0xC0];

    fn decode(ty: GgmlType, bytes: &[u8]) -> Vec<f32> {
        let (e, b) = block_size(ty);
        let n = bytes.len() / b * e;
        let mut out = vec![f32::NAN; n];
        dequantize(ty, bytes, n, &mut out).unwrap();
        out
    }

    /// Sizes as listed in gguf-py's `GGML_QUANT_SIZES`.
    #[test]
    fn block_sizes_match_ggml() {
        let expected = [
            (GgmlType::F32, (1, 4)),
            (GgmlType::F16, (1, 2)),
            (GgmlType::BF16, (1, 2)),
            (GgmlType::Q4_0, (32, 18)),
            (GgmlType::Q4_1, (32, 20)),
            (GgmlType::Q8_0, (32, 34)),
            (GgmlType::Q4_K, (256, 144)),
            (GgmlType::Q5_K, (256, 176)),
            (GgmlType::Q6_K, (256, 210)),
        ];
        for (ty, size) in expected {
            assert_eq!(block_size(ty), size, "{ty}");
        }
    }

    #[test]
    fn q4_0_block_by_hand() {
        let mut b = F16_ONE_HALF.to_vec();
        b.extend((0..16u8).map(|j| j | ((15 - j) << 4)));
        let out = decode(GgmlType::Q4_0, &b);
        for j in 0..16 {
            assert_eq!(out[j], (j as f32 - 8.0) * 0.5);
            assert_eq!(out[j + 16], (7.0 - j as f32) * 0.5);
        }
    }

    #[test]
    fn q4_1_block_by_hand() {
        let mut b = F16_ONE_HALF.to_vec();
        b.extend(F16_MINUS_TWO);
        b.extend((0..16u8).map(|j| j | ((15 - j) << 4)));
        let out = decode(GgmlType::Q4_1, &b);
        for j in 0..16 {
            assert_eq!(out[j], j as f32 * 0.5 - 2.0);
            assert_eq!(out[j + 16], (15 - j) as f32 * 0.5 - 2.0);
        }
    }

    #[test]
    fn q8_0_block_by_hand() {
        let mut b = F16_MINUS_TWO.to_vec();
        b.extend((0..32i8).map(|j| (j * 4 - 64) as u8));
        let out = decode(GgmlType::Q8_0, &b);
        for (j, x) in out.iter().enumerate() {
            assert_eq!(*x, (j as f32 * 4.0 - 64.0) * -2.0);
        }
    }

    /// Scales 1..=8 and mins 0..8 packed by hand: sub-block `j` has scale `j + 1`, min `j`, and
    /// every quant is 3, so element `i` of sub-block `j` is `0.5 · (j + 1) · 3 - (-2) · j`.
    #[test]
    fn q4_k_scale_packing_by_hand() {
        let (sc, m): ([u8; 8], [u8; 8]) = ([1, 2, 3, 4, 5, 6, 7, 8], [0, 1, 2, 3, 4, 5, 6, 7]);
        let mut scales = [0u8; 12];
        for j in 0..4 {
            scales[j] = sc[j];
            scales[j + 4] = m[j];
            scales[j + 8] = (sc[j + 4] & 0x0F) | ((m[j + 4] & 0x0F) << 4);
        }
        let mut b = F16_ONE_HALF.to_vec();
        b.extend(F16_MINUS_TWO);
        b.extend(scales);
        b.extend([0x33u8; 128]);
        let out = decode(GgmlType::Q4_K, &b);
        for (i, x) in out.iter().enumerate() {
            let j = i / 32;
            assert_eq!(*x, 0.5 * (j + 1) as f32 * 3.0 + 2.0 * j as f32, "element {i}");
        }
    }

    #[test]
    fn bf16_and_f16_widen_exactly() {
        let out = decode(GgmlType::BF16, &[0x80, 0x3F, 0x20, 0xC1]);
        assert_eq!(out, [1.0, -10.0]);
        let out = decode(GgmlType::F16, &[F16_ONE_HALF, F16_MINUS_TWO].concat());
        assert_eq!(out, [0.5, -2.0]);
    }

    #[test]
    fn many_blocks_decode_in_order() {
        let n_blocks = 3 * ELEMENTS_PER_TASK / 32 + 5;
        let mut bytes = Vec::new();
        for i in 0..n_blocks {
            bytes.extend(f16::from_f32(i as f32).to_le_bytes());
            bytes.extend([0u8; 2]);
            bytes.extend([0x11u8; 16]);
        }
        let out = decode(GgmlType::Q4_1, &bytes);
        for (i, chunk) in out.chunks(32).enumerate() {
            assert!(chunk.iter().all(|&x| x == i as f32), "block {i}");
        }
    }

    /// Every element of one random tensor per type, as gguf-py's `gguf.quants.dequantize` decodes
    /// it (fixtures written by `scripts/make_quant_fixtures.py`), bit for bit.
    #[test]
    fn matches_gguf_py_on_fixtures() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/quant");
        let gguf = GgufFile::open(&dir.join("quant-types.gguf")).unwrap();
        let expected: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
        let cases = expected["tensors"].as_array().unwrap();
        assert_eq!(cases.len(), GgmlType::ALL.len());
        for case in cases {
            let name = case["name"].as_str().unwrap();
            let info = gguf.tensor_info(name).unwrap();
            assert_eq!(info.ty.name(), case["type"].as_str().unwrap());
            let shape: Vec<usize> =
                case["shape"].as_array().unwrap().iter().map(|d| d.as_u64().unwrap() as usize).collect();
            let tensor = gguf.load_f32(name).unwrap();
            assert_eq!(tensor.shape, shape, "{name}");
            let values = tensor.into_f32();
            let want = case["values"].as_array().unwrap();
            assert_eq!(values.len(), want.len(), "{name}");
            for (i, (got, want)) in values.iter().zip(want).enumerate() {
                let want = want.as_f64().unwrap() as f32;
                assert_eq!(got.to_bits(), want.to_bits(), "{name}[{i}]: {got} != {want}");
            }
        }
    }

    #[test]
    fn mismatched_lengths_are_errors() {
        let mut out = vec![0.0; 64];
        let err = dequantize(GgmlType::Q4_1, &[0; 40], 48, &mut out[..48]).unwrap_err();
        assert!(err.contains("not a whole number of Q4_1 blocks"), "{err}");
        let err = dequantize(GgmlType::Q4_1, &[0; 39], 64, &mut out).unwrap_err();
        assert!(err.contains("take 40 bytes, got 39"), "{err}");
        let err = dequantize(GgmlType::Q4_1, &[0; 40], 64, &mut out[..32]).unwrap_err();
        assert!(err.contains("output holds 32"), "{err}");
    }
}
