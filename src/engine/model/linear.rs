//! A linear layer's weight, used as x·Wᵀ.
use burn::prelude::*;

use super::packed::PackedRows;
use super::EngineBackend;

pub struct Linear<B: Backend> {
    /// `[out, in]`, the checkpoint layout (used through a transposed view, never copied).
    pub weight: Tensor<B, 2>,
    /// The same weight in its file's quantized blocks, for backends that read those when a
    /// single row is multiplied (see [`super::EngineBackend::READS_PACKED`]).
    pub packed: Option<PackedRows>,
}

impl<B: EngineBackend> Linear<B> {
    pub fn dense(weight: Tensor<B, 2>) -> Self {
        Linear { weight, packed: None }
    }

    /// Bytes read to multiply one row by this weight.
    pub fn bytes_per_row_product(&self) -> usize {
        match &self.packed {
            Some(p) if B::READS_PACKED => p.bytes().len(),
            _ => self.weight.shape().num_elements() * self.weight.dtype().size(),
        }
    }
}
