//! The weight blocks the integer kernels read, as ggml lays them out (`ggml-common.h`, decoded
//! bit for bit by `weights::quant`), and their scales in the form both kernels use.
//!
//! 32-element formats, element `j` of a block:
//! - Q4_0 `{ f16 d; u8 qs[16] }`: `x = d·(q − 8)`, `q` the low nibble of `qs[j]` for `j < 16`, the
//!   high nibble of `qs[j − 16]` after.
//! - Q4_1 `{ f16 d; f16 m; u8 qs[16] }`: `x = d·q + m`, nibbles as Q4_0.
//! - Q8_0 `{ f16 d; i8 qs[32] }`: `x = d·q`.
//!
//! 256-element formats (the k-quants), element `32g + l` of a block (group `g` of 32):
//! - Q4_K `{ f16 d; f16 dmin; u8 scales[12]; u8 qs[128] }`: `x = d·sc_g·q − dmin·m_g`, with 6-bit
//!   `sc_g`, `m_g` packed in `scales`; `q` is the low nibble of `qs[32·(g/2) + l]` for even `g`,
//!   the high nibble for odd `g`.
//! - Q5_K `{ f16 d; f16 dmin; u8 scales[12]; u8 qh[32]; u8 qs[128] }`: Q4_K with bit `g` of
//!   `qh[l]` as the fifth bit of `q`.
//! - Q6_K `{ u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d }`: `x = d·sc_k·(q − 32)` with a signed
//!   scale per 16 elements (`k = 2g + l/16`). For `g = 4h + i`, the low 4 bits of `q` are the low
//!   (`i < 2`) or high nibble of `ql[64h + 32·(i % 2) + l]`, the top 2 bits are bits `2i, 2i+1` of
//!   `qh[32h + l]`.
/// The formats whose blocks hold 32 elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format32 {
    Q4_0,
    Q4_1,
    Q8_0,
}

/// The k-quants: 256 elements a block. (ggml's names.)
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormatK {
    Q4_K,
    Q5_K,
    Q6_K,
}

impl Format32 {
    pub const fn block_bytes(self) -> usize {
        match self {
            Format32::Q4_0 => 18,
            Format32::Q4_1 => 20,
            Format32::Q8_0 => 34,
        }
    }

    /// Where the quants start in a block.
    pub const fn quants_at(self) -> usize {
        match self {
            Format32::Q4_0 | Format32::Q8_0 => 2,
            Format32::Q4_1 => 4,
        }
    }

    /// `(d, o)` of a block: its dot product with an activation block is `d·d_x·Σ qᵢ·x_qᵢ + o·s_x`
    /// (`q` as stored, `s_x = d_x·Σ x_qᵢ`). Q4_0 folds its −8 into `o = −8·d`; Q4_1's `o` is `m`.
    #[inline(always)]
    pub fn scales(self, block: &[u8]) -> (f32, f32) {
        let d = half_at(block, 0);
        match self {
            Format32::Q4_0 => (d, -8.0 * d),
            Format32::Q4_1 => (d, half_at(block, 2)),
            Format32::Q8_0 => (d, 0.0),
        }
    }
}

impl FormatK {
    pub const fn block_bytes(self) -> usize {
        match self {
            FormatK::Q4_K => 144,
            FormatK::Q5_K => 176,
            FormatK::Q6_K => 210,
        }
    }
}

/// The scales of a k-quant block per 16 elements, so that its dot product with a Q8_K block
/// `(d_x, x_q, bsums)` is `d_x·(d·Σₖ sc[k]·Σ_{i∈k} qᵢ·x_qᵢ − dmin·Σₖ off[k]·bsums[k])` with `q`
/// unsigned as stored. Q4_K/Q5_K repeat each 32-element group's scale and minimum twice; Q6_K
/// folds its −32 into `off = sc`, `dmin = 32·d`.
#[derive(Debug, Clone, Copy)]
pub struct KScales {
    pub d: f32,
    pub dmin: f32,
    pub sc: [i16; 16],
    pub off: [i16; 16],
}

impl KScales {
    #[inline(always)]
    pub fn of(format: FormatK, block: &[u8]) -> KScales {
        match format {
            FormatK::Q4_K | FormatK::Q5_K => {
                let (sc, m) = unpack_k4_scales(&std::array::from_fn(|i| block[4 + i]));
                KScales {
                    d: half_at(block, 0),
                    dmin: half_at(block, 2),
                    sc: std::array::from_fn(|k| i16::from(sc[k / 2])),
                    off: std::array::from_fn(|k| i16::from(m[k / 2])),
                }
            }
            FormatK::Q6_K => {
                let d = half_at(block, 208);
                let sc = std::array::from_fn(|k| i16::from(block[192 + k] as i8));
                KScales { d, dmin: 32.0 * d, sc, off: sc }
            }
        }
    }
}

/// The eight 6-bit scales and minimums of a Q4_K/Q5_K block (ggml's `get_scale_min_k4`): groups
/// 0..4 in the low 6 bits of bytes 0..4 (scales) and 4..8 (minimums); groups 4..8 in the nibbles
/// of bytes 8..12, with their top 2 bits in the top bits of bytes 0..8.
#[inline(always)]
pub fn unpack_k4_scales(q: &[u8; 12]) -> ([u8; 8], [u8; 8]) {
    let mut sc = [0; 8];
    let mut m = [0; 8];
    for j in 0..4 {
        sc[j] = q[j] & 63;
        m[j] = q[j + 4] & 63;
        sc[j + 4] = (q[j + 8] & 0x0F) | ((q[j] >> 6) << 4);
        m[j + 4] = (q[j + 8] >> 4) | ((q[j + 4] >> 6) << 4);
    }
    (sc, m)
}

/// The little-endian f16 at `at`, widened.
#[inline(always)]
pub fn half_at(block: &[u8], at: usize) -> f32 {
    widen(u16::from_le_bytes([block[at], block[at + 1]]))
}

/// An f16 (as bits) widened to f32, the same value as `f16::to_f32` gives, in a few instructions that
/// vectorize and need no processor check: exponent and mantissa moved into an f32's places are
/// the value times 2⁻¹¹², subnormals included, so one multiplication by 2¹¹² restores it;
/// infinities and NaNs keep an all-ones exponent.
#[inline(always)]
pub fn widen(bits: u16) -> f32 {
    const TWO_POW_112: f32 = f32::from_bits((127 + 112) << 23);
    let magnitude = u32::from(bits & 0x7FFF) << 13;
    let widened = if magnitude >= 0x7C00 << 13 {
        f32::from_bits(0x7F80_0000 | magnitude)
    } else {
        f32::from_bits(magnitude) * TWO_POW_112
    };
    f32::from_bits(widened.to_bits() | (u32::from(bits & 0x8000) << 16))
}
