//! Bytes on disk to host tensors: safetensors (Hugging Face directories) and GGUF.
pub mod checkpoint;
pub mod gguf;
pub mod gguf_writer;
pub mod host;
pub mod mapped;
pub mod quant;
pub mod quantize;
pub mod safetensors;
pub mod stored;

pub use host::{HostData, HostTensor};
pub use mapped::MappedFile;
pub use stored::StoredTensor;
