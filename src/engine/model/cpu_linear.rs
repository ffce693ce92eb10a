//! Linear layers on the CPU backend.
//!
//! burn-flex's matmul reaches ~60 GFLOP/s on this project's 2-core reference machine; the `gemm`
//! crate it is built from reaches ~160 when called directly on the weight's storage, with the
//! transposition expressed as strides. A single row (decoding) is bound by reading the weights,
//! so it reads the file's quantized blocks where there are some (see `packed`).
use burn::backend::Flex;
use burn::prelude::*;
use burn::tensor::DType;

use super::flex_host::{from_host, host_f32, primitive};
use super::linear::Linear;

/// x·Wᵀ for `x: [t, in]` and `w.weight: [out, in]`; returns `[t, out]`.
pub fn linear(x: Tensor<Flex, 2>, w: &Linear<Flex>) -> Tensor<Flex, 2> {
    let [t, inp] = x.dims();
    let [out, _] = w.weight.dims();
    let dtype = x.dtype();
    if let (1, Some(packed)) = (t, &w.packed) {
        return from_host(packed.matvec(&host_f32(x)), [1, out], dtype);
    }
    let weight = primitive(w.weight.clone());
    let (DType::F32, Some(weight)) = (dtype, weight.as_slice::<f32>()) else {
        // f16/bf16 activations: burn's own kernels handle the element types.
        return x.matmul(w.weight.clone().transpose());
    };
    let x = host_f32(x);
    let mut y = vec![0f32; t * out];
    let threads = if t == 1 { gemm::Parallelism::None } else { gemm::Parallelism::Rayon(rayon::current_num_threads()) };
    // SAFETY: dst is [t, out] row-major, lhs x is [t, inp] row-major, and rhs Wᵀ is [inp, out]
    // read from W [out, inp] row-major (row stride 1, column stride inp): all within the buffers.
    unsafe {
        gemm::gemm(
            t,
            out,
            inp,
            y.as_mut_ptr(),
            1,
            out as isize,
            false,
            x.as_ptr(),
            1,
            inp as isize,
            weight.as_ptr(),
            inp as isize,
            1,
            0.0,
            1.0,
            false,
            false,
            false,
            threads,
        );
    }
    from_host(y, [t, out], DType::F32)
}
