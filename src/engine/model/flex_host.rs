//! Moving activations between burn-flex tensors and host vectors, for the CPU kernels.
use burn::backend::flex::FlexTensor;
use burn::backend::Flex;
use burn::prelude::*;
use burn::tensor::{DType, TensorPrimitive};

/// The backing storage of a float tensor.
pub fn primitive<const D: usize>(x: Tensor<Flex, D>) -> FlexTensor {
    match x.into_primitive() {
        TensorPrimitive::Float(t) => t,
        TensorPrimitive::QFloat(_) => unreachable!("the engine never makes quantized burn tensors"),
    }
}

/// The elements of a 2-D tensor as an f32 vector in row-major order.
pub fn host_f32(x: Tensor<Flex, 2>) -> Vec<f32> {
    let x = if x.dtype() == DType::F32 { x } else { x.cast(DType::F32) };
    let p = primitive(x);
    match p.as_slice::<f32>() {
        Some(s) => s.to_vec(),
        None => p.into_data().into_vec::<f32>().expect("f32 tensor"),
    }
}

/// A `[rows, cols]` tensor of `dtype` from row-major f32 values.
pub fn from_host(values: Vec<f32>, shape: [usize; 2], dtype: DType) -> Tensor<Flex, 2> {
    let out = Tensor::<Flex, 2>::from_data(TensorData::new(values, shape), &Default::default());
    if dtype == DType::F32 {
        out
    } else {
        out.cast(dtype)
    }
}
