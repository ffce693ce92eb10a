//! f32 to GGML blocks, the inverse of [`super::quant`]: every format as ggml's reference quantizer
//! `quantize_row_*_ref` (ggml-quants.c) computes it, the same f32 operations in the same order, so
//! a file written here holds the blocks `llama-quantize` writes without an importance matrix
//! (checked bit for bit against gguf-py for F16, BF16, Q4_0, Q4_1 and Q8_0; gguf-py has no K-quant
//! quantizer, so those are checked by their round trip). A C compiler that fuses a multiply and an
//! add into one FMA can round the last bit of a K-quant scale differently; the blocks stay valid.
//!
//! Blocks are independent, so they are encoded in parallel.
mod k_quants;
#[cfg(test)]
mod tests;

use half::f16;
use rayon::prelude::*;

use super::gguf::GgmlType;
use super::quant::block_size;

/// Elements encoded by one rayon task, as in `quant.rs`.
const ELEMENTS_PER_TASK: usize = 16 * 1024;

/// Bytes that `n_elements` values of type `ty` take, or `None` when they are not whole blocks.
pub fn quantized_len(ty: GgmlType, n_elements: usize) -> Option<usize> {
    let (block_elements, block_bytes) = block_size(ty);
    n_elements.is_multiple_of(block_elements).then(|| n_elements / block_elements * block_bytes)
}

/// Encodes `values` as blocks of type `ty` into `out`, which must hold exactly
/// [`quantized_len`] bytes. Rows are not a concept here: a tensor's rows are whole blocks when
/// its row length is a multiple of the block size, which the caller checks.
pub fn quantize(ty: GgmlType, values: &[f32], out: &mut [u8]) -> Result<(), String> {
    let (block_elements, _) = block_size(ty);
    let expected = quantized_len(ty, values.len())
        .ok_or_else(|| format!("{} values are not a whole number of {ty} blocks of {block_elements}", values.len()))?;
    if out.len() != expected {
        return Err(format!("{} {ty} values take {expected} bytes, the output holds {}", values.len(), out.len()));
    }
    match ty {
        GgmlType::F32 => run_blocks(values, out, f32_block),
        GgmlType::F16 => run_blocks(values, out, f16_block),
        GgmlType::BF16 => run_blocks(values, out, bf16_block),
        GgmlType::Q4_0 => run_blocks(values, out, q4_0_block),
        GgmlType::Q4_1 => run_blocks(values, out, q4_1_block),
        GgmlType::Q8_0 => run_blocks(values, out, q8_0_block),
        GgmlType::Q4_K => run_blocks(values, out, k_quants::q4_k_block),
        GgmlType::Q5_K => run_blocks(values, out, k_quants::q5_k_block),
        GgmlType::Q6_K => run_blocks(values, out, k_quants::q6_k_block),
    }
    Ok(())
}

/// [`quantize`] into a new buffer.
pub fn quantize_to_vec(ty: GgmlType, values: &[f32]) -> Result<Vec<u8>, String> {
    let mut out = vec![0; quantized_len(ty, values.len()).unwrap_or(0)];
    quantize(ty, values, &mut out)?;
    Ok(out)
}

/// Applies a block encoder to every block, in parallel over groups of blocks. The caller has
/// checked that `values` holds exactly `out.len() / B` blocks of `E` elements.
fn run_blocks<const E: usize, const B: usize>(values: &[f32], out: &mut [u8], encode: fn(&[f32; E], &mut [u8; B])) {
    let blocks_per_task = (ELEMENTS_PER_TASK / E).max(1);
    out.par_chunks_mut(blocks_per_task * B).zip(values.par_chunks(blocks_per_task * E)).for_each(|(out, values)| {
        let (out_blocks, _) = out.as_chunks_mut::<B>();
        let (value_blocks, _) = values.as_chunks::<E>();
        for (o, x) in out_blocks.iter_mut().zip(value_blocks) {
            encode(x, o);
        }
    });
}

fn f32_block(x: &[f32; 1], out: &mut [u8; 4]) {
    *out = x[0].to_le_bytes();
}

/// Round to nearest even, as ggml's `GGML_FP32_TO_FP16`.
fn f16_block(x: &[f32; 1], out: &mut [u8; 2]) {
    *out = f16::from_f32(x[0]).to_le_bytes();
}

/// ggml's `ggml_compute_fp32_to_bf16`: round to nearest even; a NaN keeps its sign and top
/// mantissa bits and is made quiet.
fn bf16_block(x: &[f32; 1], out: &mut [u8; 2]) {
    let u = x[0].to_bits();
    let h = if u & 0x7fff_ffff > 0x7f80_0000 {
        (u >> 16) | 64
    } else {
        // Cannot overflow: the largest finite value rounds up into the infinity pattern.
        (u + (0x7fff + ((u >> 16) & 1))) >> 16
    };
    *out = (h as u16).to_le_bytes();
}

/// `d = max / -8` with `max` the value of largest magnitude (its sign kept, so that it maps to
/// -8 exactly); `q = min(15, trunc(x / d + 8.5))`, packed as `quant::q4_0_block` unpacks.
fn q4_0_block(x: &[f32; 32], out: &mut [u8; 18]) {
    let (mut amax, mut max) = (0.0f32, 0.0f32);
    for &v in x {
        if amax < v.abs() {
            amax = v.abs();
            max = v;
        }
    }
    let d = max / -8.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    out[..2].copy_from_slice(&f16::from_f32(d).to_le_bytes());
    for j in 0..16 {
        let lo = nibble(x[j] * id + 8.5);
        let hi = nibble(x[j + 16] * id + 8.5);
        out[2 + j] = lo | (hi << 4);
    }
}

/// `d = (max - min) / 15`, `m = min`; `q = min(15, trunc((x - min) / d + 0.5))`.
fn q4_1_block(x: &[f32; 32], out: &mut [u8; 20]) {
    let (mut min, mut max) = (f32::MAX, -f32::MAX);
    for &v in x {
        if v < min {
            min = v;
        }
        if v > max {
            max = v;
        }
    }
    let d = (max - min) / 15.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    out[..2].copy_from_slice(&f16::from_f32(d).to_le_bytes());
    out[2..4].copy_from_slice(&f16::from_f32(min).to_le_bytes());
    for j in 0..16 {
        let lo = nibble((x[j] - min) * id + 0.5);
        let hi = nibble((x[j + 16] - min) * id + 0.5);
        out[4 + j] = lo | (hi << 4);
    }
}

/// C's `MIN(15, (int8_t)v)` for the non-negative `v` the 4-bit quantizers produce.
fn nibble(v: f32) -> u8 {
    (v as i8).min(15) as u8
}

/// `d = max|x| / 127`; `q = round(x / d)`, halves away from zero as C's `roundf`.
fn q8_0_block(x: &[f32; 32], out: &mut [u8; 34]) {
    let amax = x.iter().fold(0.0f32, |a, &v| if a > v.abs() { a } else { v.abs() });
    let d = amax / 127.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    out[..2].copy_from_slice(&f16::from_f32(d).to_le_bytes());
    for (o, &v) in out[2..].iter_mut().zip(x) {
        *o = (v * id).round() as i8 as u8;
    }
}
