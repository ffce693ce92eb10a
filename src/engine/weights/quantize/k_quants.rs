//! The k-quants' reference quantizers (ggml's `quantize_row_q{4,5,6}_K_ref`): a super-block of
//! 256 values in sub-blocks of 32 (Q4_K, Q5_K: a 6-bit scale and min each, fitted by a weighted
//! least-squares search) or 16 (Q6_K: a signed 8-bit scale each, searched around the
//! max-magnitude scale). The layouts are the ones `quant.rs` decodes.
use half::f16;

/// Elements of a super-block.
const QK_K: usize = 256;
/// Below this the largest magnitude of a group counts as zero (ggml's `GROUP_MAX_EPS`).
const GROUP_MAX_EPS: f32 = 1e-15;

/// ggml's `nearest_int`: rounds half to even through the float's bits, valid for |x| < 2^22.
/// Bit-twiddled rather than `round_ties_even` so results outside that range (never produced by
/// finite weights) also match.
pub(super) fn nearest_int(x: f32) -> i32 {
    let v = x + 12_582_912.0;
    (v.to_bits() & 0x007f_ffff) as i32 - 0x0040_0000
}

/// ggml's `make_qkx2_quants` without the absolute-error option: quants `l` in `0..=nmax` for
/// `x ≈ scale · l - min`, searching `nstep + 1` inverse scales around `nmax / (max - min)` and
/// refitting scale and min by weighted least squares for each. Returns `(scale, min)`, `min ≥ 0`.
fn make_qkx2_quants(
    nmax: i32,
    x: &[f32; 32],
    weights: &[f32; 32],
    l: &mut [u8],
    rmin: f32,
    rdelta: f32,
    nstep: i32,
) -> (f32, f32) {
    let (mut min, mut max) = (x[0], x[0]);
    let mut sum_w = weights[0];
    let mut sum_x = sum_w * x[0];
    for i in 1..32 {
        if x[i] < min {
            min = x[i];
        }
        if x[i] > max {
            max = x[i];
        }
        let w = weights[i];
        sum_w += w;
        sum_x += w * x[i];
    }
    if min > 0.0 {
        min = 0.0;
    }
    if max == min {
        l[..32].fill(0);
        return (0.0, -min);
    }
    let mut iscale = nmax as f32 / (max - min);
    let mut scale = 1.0 / iscale;
    let mut best_error = 0.0f32;
    for i in 0..32 {
        l[i] = nearest_int(iscale * (x[i] - min)).clamp(0, nmax) as u8;
        let diff = scale * f32::from(l[i]) + min - x[i];
        best_error += weights[i] * (diff * diff);
    }
    let mut laux = [0u8; 32];
    for is in 0..=nstep {
        iscale = (rmin + rdelta * is as f32 + nmax as f32) / (max - min);
        let (mut sum_l, mut sum_l2, mut sum_xl) = (0.0f32, 0.0f32, 0.0f32);
        for i in 0..32 {
            let q = nearest_int(iscale * (x[i] - min)).clamp(0, nmax);
            laux[i] = q as u8;
            let (w, q) = (weights[i], q as f32);
            sum_l += w * q;
            sum_l2 += w * q * q;
            sum_xl += w * q * x[i];
        }
        let d = sum_w * sum_l2 - sum_l * sum_l;
        if d > 0.0 {
            let mut this_scale = (sum_w * sum_xl - sum_x * sum_l) / d;
            let mut this_min = (sum_l2 * sum_x - sum_l * sum_xl) / d;
            if this_min > 0.0 {
                this_min = 0.0;
                this_scale = sum_xl / sum_l2;
            }
            let mut cur_error = 0.0f32;
            for i in 0..32 {
                let diff = this_scale * f32::from(laux[i]) + this_min - x[i];
                cur_error += weights[i] * (diff * diff);
            }
            if cur_error < best_error {
                l[..32].copy_from_slice(&laux);
                best_error = cur_error;
                scale = this_scale;
                min = this_min;
            }
        }
    }
    (scale, -min)
}

/// ggml's `make_qx_quants` with `rmse_type = 1` and no importance weights: quants `l` in
/// `0..2·nmax` (stored offset by `nmax`) for `x ≈ scale · (l - nmax)`, choosing among 19 scales
/// near `-nmax / max` the one with the best x²-weighted fit. Returns the scale.
fn make_qx_quants(nmax: i32, x: &[f32; 16], l: &mut [u8]) -> f32 {
    let (mut max, mut amax) = (0.0f32, 0.0f32);
    for &v in x {
        if v.abs() > amax {
            amax = v.abs();
            max = v;
        }
    }
    if amax < GROUP_MAX_EPS {
        l[..16].fill(0);
        return 0.0;
    }
    let quant = |iscale: f32, v: f32| nearest_int(iscale * v).clamp(-nmax, nmax - 1);
    let sums = |iscale: f32| {
        let (mut sumlx, mut suml2) = (0.0f32, 0.0f32);
        for &v in x {
            let q = quant(iscale, v) as f32;
            let w = v * v;
            sumlx += w * v * q;
            suml2 += w * q * q;
        }
        (sumlx, suml2)
    };
    let iscale = -(nmax as f32) / max;
    for (o, &v) in l.iter_mut().zip(x) {
        *o = (quant(iscale, v) + nmax) as u8;
    }
    let (sumlx, suml2) = sums(iscale);
    let mut scale = if suml2 != 0.0 { sumlx / suml2 } else { 0.0 };
    let mut best = scale * sumlx;
    for is in (-9..=9).filter(|&is| is != 0) {
        let iscale = -(nmax as f32 + 0.1 * is as f32) / max;
        let (sumlx, suml2) = sums(iscale);
        if suml2 > 0.0 && sumlx * sumlx > best * suml2 {
            for (o, &v) in l.iter_mut().zip(x) {
                *o = (quant(iscale, v) + nmax) as u8;
            }
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    scale
}

/// The eight sub-blocks' `(scale, min)` of a Q4_K/Q5_K super-block, fitted with weights
/// `rms(sub-block) + |x|`, then the 12 packed bytes of their 6-bit codes and the two f16
/// super-scales `d = max scale / 63`, `dmin = max min / 63`. `l` gets the fitted quants.
fn fit_scale_min(x: &[f32; QK_K], nmax: i32, rmin: f32, nstep: i32, l: &mut [u8; QK_K]) -> ([u8; 12], f16, f16) {
    let (mut scales, mut mins) = ([0.0f32; 8], [0.0f32; 8]);
    let (mut max_scale, mut max_min) = (0.0f32, 0.0f32);
    let (subs, _) = x.as_chunks::<32>();
    for (j, xs) in subs.iter().enumerate() {
        let mut sum_x2 = 0.0f32;
        for &v in xs {
            sum_x2 += v * v;
        }
        let av_x = (sum_x2 / 32.0).sqrt();
        let weights = xs.map(|v| av_x + v.abs());
        (scales[j], mins[j]) = make_qkx2_quants(nmax, xs, &weights, &mut l[32 * j..], rmin, 0.1, nstep);
        if scales[j] > max_scale {
            max_scale = scales[j];
        }
        if mins[j] > max_min {
            max_min = mins[j];
        }
    }
    let inv_scale = if max_scale > 0.0 { 63.0 / max_scale } else { 0.0 };
    let inv_min = if max_min > 0.0 { 63.0 / max_min } else { 0.0 };
    let mut packed = [0u8; 12];
    for j in 0..8 {
        // C stores nearest_int's result in a uint8_t before clamping.
        let ls = (nearest_int(inv_scale * scales[j]) as u8).min(63);
        let lm = (nearest_int(inv_min * mins[j]) as u8).min(63);
        if j < 4 {
            packed[j] = ls;
            packed[j + 4] = lm;
        } else {
            packed[j + 4] = (ls & 0x0F) | ((lm & 0x0F) << 4);
            packed[j - 4] |= (ls >> 4) << 6;
            packed[j] |= (lm >> 4) << 6;
        }
    }
    (packed, f16::from_f32(max_scale / 63.0), f16::from_f32(max_min / 63.0))
}

/// Requantizes every sub-block with its stored (rounded) scale and min, as decoding will see
/// them; sub-blocks whose scale rounded to zero keep the fitted quants.
fn requantize(x: &[f32; QK_K], packed: &[u8; 12], d: f16, dmin: f16, nmax: i32, l: &mut [u8; QK_K]) {
    for j in 0..8 {
        let (sc, m) = scale_min_k4(j, packed);
        let d = d.to_f32() * f32::from(sc);
        if d == 0.0 {
            continue;
        }
        let dm = dmin.to_f32() * f32::from(m);
        for i in 32 * j..32 * j + 32 {
            l[i] = nearest_int((x[i] + dm) / d).clamp(0, nmax) as u8;
        }
    }
}

/// ggml's `get_scale_min_k4`: the 6-bit scale and min of sub-block `j`.
fn scale_min_k4(j: usize, q: &[u8; 12]) -> (u8, u8) {
    if j < 4 {
        (q[j] & 63, q[j + 4] & 63)
    } else {
        ((q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4))
    }
}

/// `d, dmin, scales[12], qs[128]`: 64 values share 32 bytes of `qs`, the first 32 in the low
/// nibbles.
pub(super) fn q4_k_block(x: &[f32; QK_K], out: &mut [u8; 144]) {
    let mut l = [0u8; QK_K];
    let (packed, d, dmin) = fit_scale_min(x, 15, -1.0, 20, &mut l);
    requantize(x, &packed, d, dmin, 15, &mut l);
    out[0..2].copy_from_slice(&d.to_le_bytes());
    out[2..4].copy_from_slice(&dmin.to_le_bytes());
    out[4..16].copy_from_slice(&packed);
    for (pair, qs) in out[16..].chunks_exact_mut(32).enumerate() {
        for (i, q) in qs.iter_mut().enumerate() {
            *q = l[64 * pair + i] | (l[64 * pair + i + 32] << 4);
        }
    }
}

/// `d, dmin, scales[12], qh[32], qs[128]`: Q4_K's nibbles plus a fifth bit per value in `qh`,
/// bit `2·pair` for the low-nibble half of pair `pair`, `2·pair + 1` for the high half.
pub(super) fn q5_k_block(x: &[f32; QK_K], out: &mut [u8; 176]) {
    let mut l = [0u8; QK_K];
    let (packed, d, dmin) = fit_scale_min(x, 31, -0.5, 15, &mut l);
    requantize(x, &packed, d, dmin, 31, &mut l);
    out[0..2].copy_from_slice(&d.to_le_bytes());
    out[2..4].copy_from_slice(&dmin.to_le_bytes());
    out[4..16].copy_from_slice(&packed);
    let (qh, qs) = out[16..].split_at_mut(32);
    qh.fill(0);
    for (pair, qs) in qs.chunks_exact_mut(32).enumerate() {
        for (i, q) in qs.iter_mut().enumerate() {
            let (lo, hi) = (l[64 * pair + i], l[64 * pair + i + 32]);
            qh[i] |= ((lo >> 4) << (2 * pair)) | ((hi >> 4) << (2 * pair + 1));
            *q = (lo & 0x0F) | ((hi & 0x0F) << 4);
        }
    }
}

/// `ql[128], qh[64], scales[16], d`: sixteen sub-blocks of 16 with signed 8-bit scales relative
/// to `d`; each half of 128 values keeps its low 4 bits in 64 bytes of `ql` and its high 2 bits
/// in 32 bytes of `qh`.
pub(super) fn q6_k_block(x: &[f32; QK_K], out: &mut [u8; 210]) {
    let mut l = [0u8; QK_K];
    let mut scales = [0.0f32; 16];
    let (mut max_scale, mut max_abs_scale) = (0.0f32, 0.0f32);
    let (subs, _) = x.as_chunks::<16>();
    for (ib, (scale, xs)) in scales.iter_mut().zip(subs).enumerate() {
        *scale = make_qx_quants(32, xs, &mut l[16 * ib..]);
        if scale.abs() > max_abs_scale {
            max_abs_scale = scale.abs();
            max_scale = *scale;
        }
    }
    if max_abs_scale < GROUP_MAX_EPS {
        out.fill(0);
        return;
    }
    let iscale = -128.0 / max_scale;
    let d = f16::from_f32(1.0 / iscale);
    let sc = scales.map(|s| nearest_int(iscale * s).min(127) as i8);
    for (j, &s) in sc.iter().enumerate() {
        let d = d.to_f32() * f32::from(s);
        if d == 0.0 {
            continue;
        }
        for i in 16 * j..16 * j + 16 {
            l[i] = (nearest_int(x[i] / d).clamp(-32, 31) + 32) as u8;
        }
    }
    for half in 0..2 {
        let l = &l[128 * half..128 * half + 128];
        for i in 0..32 {
            out[64 * half + i] = (l[i] & 0x0F) | ((l[i + 64] & 0x0F) << 4);
            out[64 * half + i + 32] = (l[i + 32] & 0x0F) | ((l[i + 96] & 0x0F) << 4);
            out[128 + 32 * half + i] =
                (l[i] >> 4) | ((l[i + 32] >> 4) << 2) | ((l[i + 64] >> 4) << 4) | ((l[i + 96] >> 4) << 6);
        }
    }
    for (o, s) in out[192..208].iter_mut().zip(sc) {
        *o = s as u8;
    }
    out[208..210].copy_from_slice(&d.to_le_bytes());
}
