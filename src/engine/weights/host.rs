//! Tensors as loaded from disk, before they reach a burn device.

/// Element storage of a host tensor, in the narrowest type the file offers that the engine uses.
#[derive(Debug, Clone)]
pub enum HostData {
    F32(Vec<f32>),
    F16(Vec<half::f16>),
    BF16(Vec<half::bf16>),
}

/// A dense row-major tensor in host memory. `shape` is in PyTorch order (outermost first): a
/// linear layer's weight is `[out_features, in_features]`.
#[derive(Debug, Clone)]
pub struct HostTensor {
    pub shape: Vec<usize>,
    pub data: HostData,
}

impl HostTensor {
    pub fn f32(shape: Vec<usize>, data: Vec<f32>) -> Self {
        debug_assert_eq!(shape.iter().product::<usize>(), data.len());
        HostTensor { shape, data: HostData::F32(data) }
    }

    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The first `n` rows of a `[rows, cols]` matrix.
    pub fn first_rows(mut self, n: usize) -> HostTensor {
        let cols = self.shape[1];
        assert!(n <= self.shape[0], "{n} of {} rows", self.shape[0]);
        match &mut self.data {
            HostData::F32(v) => v.truncate(n * cols),
            HostData::F16(v) => v.truncate(n * cols),
            HostData::BF16(v) => v.truncate(n * cols),
        }
        HostTensor { shape: vec![n, cols], data: self.data }
    }

    /// The elements widened to f32.
    pub fn to_f32(&self) -> Vec<f32> {
        match &self.data {
            HostData::F32(v) => v.clone(),
            HostData::F16(v) => v.iter().map(|x| x.to_f32()).collect(),
            HostData::BF16(v) => v.iter().map(|x| x.to_f32()).collect(),
        }
    }

    /// The elements as f32, consuming the tensor (no copy when already f32).
    pub fn into_f32(self) -> Vec<f32> {
        match self.data {
            HostData::F32(v) => v,
            other => HostTensor { shape: self.shape, data: other }.to_f32(),
        }
    }
}
