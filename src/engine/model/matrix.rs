//! A weight matrix `[rows, cols]` in checkpoint layout (a linear layer's `[out, in]`, the
//! embedding's `[vocab, d_model]`) where the backend keeps it: a burn tensor on a GPU, or host
//! memory in its file's encoding on the CPU. Everything the model reads from a matrix goes
//! through here, so the model's code is the same for both.
use burn::prelude::*;
use burn::tensor::{DType, Int};

use super::compute::ComputePath;
use super::host_reads;
use super::packed::PackedRows;
use super::q8;

pub enum Matrix<B: Backend> {
    /// On the device, in the model's element type (GPU backends).
    Dense(Tensor<B, 2>),
    /// In host memory as its file stores it (the CPU backend): GGML blocks, f16, bf16 or f32,
    /// usually a range of the file's memory map. Read in place; products accumulate in f32, on
    /// the compute path given.
    Host(PackedRows, ComputePath),
}

impl<B: Backend> Matrix<B> {
    /// Bytes read to multiply one row by this matrix: all of it, as it is kept.
    pub fn bytes_per_row_product(&self) -> usize {
        match self {
            Matrix::Dense(w) => w.shape().num_elements() * w.dtype().size(),
            Matrix::Host(w, _) => w.bytes().len(),
        }
    }

    /// Bytes read to look up one row.
    pub fn bytes_per_row(&self) -> usize {
        match self {
            Matrix::Dense(w) => w.dims()[1] * w.dtype().size(),
            Matrix::Host(w, _) => w.row_bytes(),
        }
    }

    /// x·Wᵀ for `x: [t, cols]`, giving `[t, rows]`: one row at a time reads the matrix once
    /// (decoding), several go through panels of it (a prompt); both accumulate in f32.
    pub fn forward(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        match self {
            Matrix::Dense(w) => x.matmul(w.clone().transpose()),
            Matrix::Host(w, path) => {
                let [t, _] = x.dims();
                let (device, dtype) = (x.device(), x.dtype());
                let y = host_product(w, *path, &to_host(x), t);
                from_host(y, [t, w.rows], &device, dtype)
            }
        }
    }

    /// Whether this matrix's products are integer ones (see [`ComputePath::Fast`]).
    pub fn integer_products(&self) -> bool {
        matches!(self, Matrix::Host(w, path) if path.integer_products(w.format))
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
            Matrix::Host(w, _) => {
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
            Matrix::Host(w, _) => from_host(host_reads::columns(w, start, count), [count, w.rows], device, dtype),
        }
    }

    /// x·W for `x: [n, rows]`, giving `[n, cols]`: the product from the other side, which reads
    /// columns as vectors (x·W_down is every value vector dotted with each row of x).
    pub fn left_product(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        match self {
            Matrix::Dense(w) => x.matmul(w.clone()),
            // No integer kernel reads columns: this product is exact on either path.
            Matrix::Host(w, _) => {
                let [n, _] = x.dims();
                let (device, dtype) = (x.device(), x.dtype());
                from_host(host_reads::left_product(w, &to_host(x), n), [n, w.cols], &device, dtype)
            }
        }
    }
}

/// `x·Wᵀ` for `x: [t, cols]` on `path`, giving `[t, rows]`.
fn host_product(w: &PackedRows, path: ComputePath, x: &[f32], t: usize) -> Vec<f32> {
    if !path.integer_products(w.format) {
        return if t == 1 { w.matvec(x) } else { w.matmul(x, t) };
    }
    let mut y = vec![0f32; t * w.rows];
    let product = if t == 1 { q8::matvec_q8 } else { q8::matmul_q8 };
    product(w.format, w.bytes(), w.rows, w.cols, x, &mut y).expect("sizes checked by PackedRows::new");
    y
}

/// One device-to-host transfer, widened to f32.
pub fn to_host<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
    t.into_data().convert::<f32>().into_vec::<f32>().expect("converted to f32")
}

/// A `[rows, cols]` tensor of `dtype` on `device` from row-major f32 values.
pub fn from_host<B: Backend>(values: Vec<f32>, shape: [usize; 2], device: &B::Device, dtype: DType) -> Tensor<B, 2> {
    Tensor::from_data(TensorData::new(values, shape), (device, dtype))
}

#[cfg(test)]
mod tests {
    use burn::backend::Flex;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use rand_distr::{Distribution, Normal};

    use super::*;
    use crate::engine::weights::gguf::GgmlType;
    use crate::engine::weights::quantize::quantize_to_vec;

    const FORMATS: [GgmlType; 9] = [
        GgmlType::Q4_0,
        GgmlType::Q4_1,
        GgmlType::Q8_0,
        GgmlType::Q4_K,
        GgmlType::Q5_K,
        GgmlType::Q6_K,
        GgmlType::F16,
        GgmlType::BF16,
        GgmlType::F32,
    ];

    fn random_activations(n: usize, seed: u64) -> Vec<f32> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let normal = Normal::new(0.0f32, 1.0).expect("a valid distribution");
        (0..n).map(|_| normal.sample(&mut rng)).collect()
    }

    /// `x·Wᵀ` for `x: [t, 512]` and `[40, 512]` weights in `format`, on `path`: `[t, 40]`.
    fn product(format: GgmlType, path: ComputePath, t: usize) -> Vec<f32> {
        let (rows, cols) = (40, 512);
        let bytes = quantize_to_vec(format, &random_activations(rows * cols, 3)).unwrap();
        let w = Matrix::<Flex>::Host(PackedRows::new(format, rows, cols, bytes).unwrap(), path);
        let x = from_host::<Flex>(random_activations(t * cols, 4), [t, cols], &Default::default(), DType::F32);
        to_host(w.forward(x))
    }

    /// One row (decoding) and 11 (a panel of 8 and a part): the fast path's rows are within 2%
    /// of the exact ones for the quantized formats, as the activations' rounding allows, and
    /// equal for the float ones, which it leaves exact.
    #[test]
    fn fast_products_are_near_the_exact_ones_in_every_format() {
        for format in FORMATS {
            for t in [1, 11] {
                let (exact, fast) = (product(format, ComputePath::Exact, t), product(format, ComputePath::Fast, t));
                if !super::q8::has_kernels(format) {
                    assert_eq!(exact, fast, "{format}");
                    continue;
                }
                for (e, f) in exact.chunks(40).zip(fast.chunks(40)) {
                    let diff = e.iter().zip(f).map(|(a, b)| (a - b).powi(2)).sum::<f32>().sqrt();
                    let norm = e.iter().map(|a| a * a).sum::<f32>().sqrt();
                    assert!(diff > 0.0 && diff <= 0.02 * norm, "{format} t={t}: {diff} of {norm}");
                }
            }
        }
    }
}
