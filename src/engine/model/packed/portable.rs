//! The row kernel for processors without AVX2: each run of up to 256 elements is dequantized
//! into a stack buffer (exactly as the whole matrix would be) and multiplied with the input.
use crate::engine::weights::gguf::GgmlType;
use crate::engine::weights::quant::{block_size, dequantize_serial};

/// Elements decoded at a time: one k-quant super-block, eight 32-element blocks.
const RUN: usize = 256;

/// Σ wᵢxᵢ over one stored row of `format` and the input `x: [cols]`.
pub fn row_dot(format: GgmlType, row: &[u8], x: &[f32]) -> f32 {
    let (block_elements, block_bytes) = block_size(format);
    let run_bytes = RUN / block_elements * block_bytes;
    let mut buffer = [0f32; RUN];
    let mut total = 0f32;
    for (bytes, xs) in row.chunks(run_bytes).zip(x.chunks(RUN)) {
        let w = &mut buffer[..xs.len()];
        dequantize_serial(format, bytes, xs.len(), w).expect("whole blocks, sizes checked by PackedRows::new");
        total += dot(w, xs);
    }
    total
}

/// Σ aᵢbᵢ in eight interleaved partial sums, which the compiler turns into vector operations.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    let (a8, a_rest) = a.as_chunks::<8>();
    let (b8, b_rest) = b.as_chunks::<8>();
    for (a, b) in a8.iter().zip(b8) {
        for l in 0..8 {
            lanes[l] += a[l] * b[l];
        }
    }
    let tail: f32 = a_rest.iter().zip(b_rest).map(|(a, b)| a * b).sum();
    lanes.iter().sum::<f32>() + tail
}
