//! A weight matrix `[rows, cols]` in checkpoint layout (a linear layer's `[out, in]`, the
//! embedding's `[vocab, d_model]`) where the backend keeps it: a burn tensor on a GPU, or host
//! memory in its file's encoding on the CPU. Everything the model reads from a matrix goes
//! through here, so the model's code is the same for both.
use burn::prelude::*;
use burn::tensor::{DType, Int};

use super::host_reads;
use super::packed::PackedRows;

pub enum Matrix<B: Backend> {
    /// On the device, in the model's element type (GPU backends).
    Dense(Tensor<B, 2>),
    /// In host memory as its file stores it (the CPU backend): GGML blocks, f16, bf16 or f32,
    /// usually a range of the file's memory map. Read in place; products accumulate in f32.
    Host(PackedRows),
}

impl<B: Backend> Matrix<B> {
    /// Bytes read to multiply one row by this matrix: all of it, as it is kept.
    pub fn bytes_per_row_product(&self) -> usize {
        match self {
            Matrix::Dense(w) => w.shape().num_elements() * w.dtype().size(),
            Matrix::Host(w) => w.bytes().len(),
        }
    }

    /// Bytes read to look up one row.
    pub fn bytes_per_row(&self) -> usize {
        match self {
            Matrix::Dense(w) => w.dims()[1] * w.dtype().size(),
            Matrix::Host(w) => w.row_bytes(),
        }
    }

    /// x·Wᵀ for `x: [t, cols]`, giving `[t, rows]`: one row at a time reads the matrix once
    /// (decoding), several go through panels of it (a prompt); both accumulate in f32.
    pub fn forward(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        match self {
            Matrix::Dense(w) => x.matmul(w.clone().transpose()),
            Matrix::Host(w) => {
                let [t, _] = x.dims();
                let (device, dtype) = (x.device(), x.dtype());
                let x = to_host(x);
                let y = if t == 1 { w.matvec(&x) } else { w.matmul(&x, t) };
                from_host(y, [t, w.rows], &device, dtype)
            }
        }
    }

    /// Rows `ids` (an embedding lookup), `[ids.len(), cols]` in `dtype` (a dense matrix's rows are
    /// in its own, the model's); host rows are decoded on lookup.
    pub fn rows(&self, ids: &[u32], device: &B::Device, dtype: DType) -> Tensor<B, 2> {
        match self {
            Matrix::Dense(w) => {
                let ids: Vec<i64> = ids.iter().map(|&id| id as i64).collect();
                let ids = Tensor::<B, 1, Int>::from_data(TensorData::new(ids.clone(), [ids.len()]), device);
                w.clone().select(0, ids)
            }
            Matrix::Host(w) => {
                let rows = ids.iter().flat_map(|&id| w.row(id as usize).expect("ids checked against the vocabulary"));
                from_host(rows.collect(), [ids.len(), w.cols], device, dtype)
            }
        }
    }

    /// Columns `start..start + count` as rows: `[count, rows]` (down_proj's value vectors), in
    /// `dtype` as [`Matrix::rows`].
    pub fn columns(&self, start: usize, count: usize, device: &B::Device, dtype: DType) -> Tensor<B, 2> {
        match self {
            Matrix::Dense(w) => w.clone().narrow(1, start, count).transpose(),
            Matrix::Host(w) => from_host(host_reads::columns(w, start, count), [count, w.rows], device, dtype),
        }
    }

    /// x·W for `x: [n, rows]`, giving `[n, cols]`: the product from the other side, which reads
    /// columns as vectors (x·W_down is every value vector dotted with each row of x).
    pub fn left_product(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        match self {
            Matrix::Dense(w) => x.matmul(w.clone()),
            Matrix::Host(w) => {
                let [n, _] = x.dims();
                let (device, dtype) = (x.device(), x.dtype());
                from_host(host_reads::left_product(w, &to_host(x), n), [n, w.cols], &device, dtype)
            }
        }
    }
}

/// One device-to-host transfer, widened to f32.
pub fn to_host<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
    t.into_data().convert::<f32>().into_vec::<f32>().expect("converted to f32")
}

/// A `[rows, cols]` tensor of `dtype` on `device` from row-major f32 values.
pub fn from_host<B: Backend>(values: Vec<f32>, shape: [usize; 2], device: &B::Device, dtype: DType) -> Tensor<B, 2> {
    Tensor::from_data(TensorData::new(values, shape), (device, dtype))
}
