//! A linear layer's weight, used as x·Wᵀ.
use burn::prelude::*;

use super::packed::PackedRows;

pub struct Linear<B: Backend> {
    /// `[out, in]`, the checkpoint layout (used through a transposed view, never copied).
    pub weight: Tensor<B, 2>,
    /// The same weight in its file's quantized blocks, for backends that read those when a
    /// single row is multiplied (see [`super::EngineBackend::READS_PACKED`]).
    pub packed: Option<PackedRows>,
}

impl<B: Backend> Linear<B> {
    pub fn dense(weight: Tensor<B, 2>) -> Self {
        Linear { weight, packed: None }
    }
}
