//! Which GGML type each tensor of a random model file gets, following llama.cpp's
//! `llama_tensor_get_type` (src/llama-quant.cpp) for the llama architecture without an
//! importance matrix.
use crate::engine::config::ModelConfig;
use crate::engine::weights::checkpoint::Weight;
use crate::engine::weights::gguf::GgmlType;
use crate::engine::weights::quant::block_size;

/// A file's weight format, named as llama.cpp names its file types.
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum WeightScheme {
    /// Q4_0 matrices, the output matrix Q6_K
    #[value(name = "q4_0")]
    Q4_0,
    /// Q4_K matrices; Q6_K for the output matrix and for attn_v and ffn_down in the first and last
    /// eighth of the layers and every third layer between
    #[value(name = "q4_k_m")]
    Q4_K_M,
    /// Q8_0 matrices
    #[value(name = "q8_0")]
    Q8_0,
    /// F16 matrices
    #[value(name = "f16")]
    F16,
}

impl WeightScheme {
    pub fn name(self) -> &'static str {
        match self {
            WeightScheme::Q4_0 => "q4_0",
            WeightScheme::Q4_K_M => "q4_k_m",
            WeightScheme::Q8_0 => "q8_0",
            WeightScheme::F16 => "f16",
        }
    }

    /// llama.cpp's `llama_ftype`, stored as `general.file_type`.
    pub fn file_type(self) -> u32 {
        match self {
            WeightScheme::F16 => 1,
            WeightScheme::Q4_0 => 2,
            WeightScheme::Q8_0 => 7,
            WeightScheme::Q4_K_M => 15,
        }
    }

    pub fn is_quantized(self) -> bool {
        self != WeightScheme::F16
    }

    /// The type of `weight` in a file of this scheme. Norm gains (one dimension) stay F32, as
    /// llama.cpp never quantizes them. Among matrices, llama.cpp's rules give:
    ///
    /// - the output matrix (or the embedding, when the two are tied) Q6_K in Q4_0 and Q4_K_M;
    /// - in Q4_K_M, attn_v and ffn_down of layer `i` of `n` Q6_K when `i < n/8`, `i >= 7n/8` or
    ///   `(i - n/8) % 3 == 2` (its `use_more_bits`), every other matrix Q4_K.
    ///
    /// A k-quant needs rows of a multiple of 256 values. Where a row is shorter, Q6_K falls back
    /// to Q8_0 as in llama.cpp, and Q4_K to Q4_1 (llama.cpp uses Q5_0, which neuronav does not
    /// read; Q4_1 is the nearest in size and, like Q4_K, stores a minimum). A row that is not a
    /// multiple of 32 takes F16, llama.cpp's last resort.
    pub fn tensor_type(self, weight: Weight, config: &ModelConfig) -> GgmlType {
        let shape = weight.expected_shape(config);
        if shape.len() < 2 {
            return GgmlType::F32;
        }
        let output_like = weight == Weight::LmHead || (weight == Weight::Embed && config.tie_word_embeddings);
        let more_bits = |layer: usize| {
            let (i, n) = (layer as i64, config.num_layers as i64);
            i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2
        };
        let wanted = match self {
            WeightScheme::F16 => GgmlType::F16,
            WeightScheme::Q8_0 => GgmlType::Q8_0,
            WeightScheme::Q4_0 if output_like => GgmlType::Q6_K,
            WeightScheme::Q4_0 => GgmlType::Q4_0,
            WeightScheme::Q4_K_M => match weight {
                _ if output_like => GgmlType::Q6_K,
                Weight::VProj(l) | Weight::DownProj(l) if more_bits(l) => GgmlType::Q6_K,
                _ => GgmlType::Q4_K,
            },
        };
        fitting(wanted, shape[1])
    }
}

/// `ty`, or its fallback when rows of `cols` values are not whole blocks of it.
fn fitting(ty: GgmlType, cols: usize) -> GgmlType {
    let fits = |t: GgmlType| cols.is_multiple_of(block_size(t).0);
    let fallback = match ty {
        GgmlType::Q4_K => GgmlType::Q4_1,
        GgmlType::Q6_K => GgmlType::Q8_0,
        other => other,
    };
    [ty, fallback].into_iter().find(|&t| fits(t)).unwrap_or(GgmlType::F16)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::config::Preset;

    /// The tensors of each type in a Llama-2-7B Q4_K_M file, as llama.cpp's quantizer reports
    /// them for that model: 32 layers, Q6_K attn_v and ffn_down in layers 0-3, 6, 9, …, 27
    /// and 28-31 (16 each), and the output.
    #[test]
    fn llama2_7b_q4_k_m_mix() {
        let config = Preset::Llama2_7b.config();
        let q6: Vec<usize> = (0..32)
            .filter(|&l| WeightScheme::Q4_K_M.tensor_type(Weight::VProj(l), &config) == GgmlType::Q6_K)
            .collect();
        assert_eq!(q6, [0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31]);
        for l in 0..32 {
            let s = WeightScheme::Q4_K_M;
            assert_eq!(s.tensor_type(Weight::DownProj(l), &config), s.tensor_type(Weight::VProj(l), &config));
            for w in [Weight::QProj(l), Weight::KProj(l), Weight::OProj(l), Weight::GateProj(l), Weight::UpProj(l)] {
                assert_eq!(s.tensor_type(w, &config), GgmlType::Q4_K, "{w:?}");
            }
            assert_eq!(s.tensor_type(Weight::AttnNorm(l), &config), GgmlType::F32);
        }
        assert_eq!(WeightScheme::Q4_K_M.tensor_type(Weight::LmHead, &config), GgmlType::Q6_K);
        assert_eq!(WeightScheme::Q4_K_M.tensor_type(Weight::Embed, &config), GgmlType::Q4_K);
        assert_eq!(WeightScheme::Q4_0.tensor_type(Weight::LmHead, &config), GgmlType::Q6_K);
        assert_eq!(WeightScheme::Q4_0.tensor_type(Weight::Embed, &config), GgmlType::Q4_0);
        assert_eq!(WeightScheme::Q8_0.tensor_type(Weight::LmHead, &config), GgmlType::Q8_0);
        assert_eq!(WeightScheme::F16.tensor_type(Weight::DownProj(3), &config), GgmlType::F16);
        assert_eq!(WeightScheme::F16.tensor_type(Weight::FinalNorm, &config), GgmlType::F32);
    }

    /// SmolLM2's rows of 576 are not whole k-quant blocks: its Q4_K_M falls back, and its tied
    /// embedding is the output matrix.
    #[test]
    fn fallbacks_for_short_rows() {
        let config = Preset::Smollm2_135m.config();
        let s = WeightScheme::Q4_K_M;
        assert_eq!(s.tensor_type(Weight::QProj(5), &config), GgmlType::Q4_1);
        assert_eq!(s.tensor_type(Weight::VProj(0), &config), GgmlType::Q8_0);
        assert_eq!(s.tensor_type(Weight::DownProj(4), &config), GgmlType::Q4_K, "rows of 1536 fit");
        assert_eq!(s.tensor_type(Weight::DownProj(0), &config), GgmlType::Q6_K);
        assert_eq!(s.tensor_type(Weight::Embed, &config), GgmlType::Q8_0);
        assert_eq!(WeightScheme::Q4_0.tensor_type(Weight::Embed, &config), GgmlType::Q8_0);
        assert_eq!(fitting(GgmlType::Q4_0, 48), GgmlType::F16);
    }
}
