//! The fixed-point number formats and the few operations the per-step path needs.
//!
//! | quantity                                  | format            | range            | resolution |
//! |-------------------------------------------|-------------------|------------------|------------|
//! | currents, voltages, filter states, outputs | Q16.16 ([`Q16`])  | ±32768           | 1.5e-5     |
//! | decay gains `1 - exp(-dt/tau)`            | Q0.16 ([`mul_gain`]) | [0, 1]        | 1.5e-5     |
//! | LIF decay gain (see [`crate::neuron`])    | 16-bit mantissa, 2^-k | (0, 1]       | 1e-5 relative |
//! | refractory time left                      | Q16.16 time steps | 0 .. 32768 steps | 1.5e-5 step |
//! | weights                                   | i8                | -128 ..= 127     | per-output scale |
//! | weighted spike sums                       | i32 (exact)       | see below        | 1          |
//!
//! A weighted sum adds at most `u16::MAX` terms of `|spikes * weight| <= 255 * 128`, so its
//! magnitude is below `65535 * 255 * 128 = 2_139_095_040 < i32::MAX`: the integer sums cannot
//! overflow. Everything that can leave the Q16.16 range (scaling a sum, adding a bias) saturates
//! back to `i32`, so a huge input clips instead of wrapping. Each rounding step is round-half-up
//! on the last bit, an error of at most 2^-17 per operation.
//!
//! The per-step operations ([`scale`], [`mul_gain`]) use 32-bit integer operations only on
//! every target without a 32x32->64 multiplier (Cortex-M0/M0+, and the host, where the tests
//! run), and at most one `i64` multiply on Cortex-M3/M4/M7; both paths are tested bit-identical
//! on the host. Nothing in the per-step path divides.
//!
//! Float math ([`micromath`]) is used only while loading a model, to turn its time constants into
//! these constants; the per-step path is integer-only, so every target computes the same bits.

use fixed::types::I16F16;

/// The Q16.16 signed fixed-point type used for currents, voltages and filter states.
pub type Q16 = I16F16;

/// Number of fractional bits of [`Q16`].
pub const FRAC_BITS: u32 = 16;

/// `1.0` in [`Q16`] raw bits.
pub const ONE: i32 = 1 << FRAC_BITS;

/// Saturate an `i64` into the `i32` range.
///
/// ```
/// use picospike_runtime::fixed_point::saturate;
/// assert_eq!(saturate(1 << 40), i32::MAX);
/// assert_eq!(saturate(-(1 << 40)), i32::MIN);
/// assert_eq!(saturate(-7), -7);
/// ```
#[inline]
pub fn saturate(value: i64) -> i32 {
    if value > i64::from(i32::MAX) {
        i32::MAX
    } else if value < i64::from(i32::MIN) {
        i32::MIN
    } else {
        value as i32
    }
}

/// Multiply two Q16.16 raw values, rounding half up and saturating.
///
/// This is the general product (any `b`), computed with one `i64` multiply; the per-step path
/// uses [`mul_gain`], which needs 32-bit operations only and gives the same bits for gains in
/// `0..=ONE`.
///
/// ```
/// use picospike_runtime::fixed_point::{mul_q16, ONE};
/// assert_eq!(mul_q16(3 * ONE / 2, ONE / 2), 3 * ONE / 4); // 1.5 * 0.5
/// assert_eq!(mul_q16(1, ONE / 2), 1); // 2^-17 rounds half up to 2^-16
/// assert_eq!(mul_q16(i32::MAX, 4 * ONE), i32::MAX); // saturates instead of wrapping
/// ```
#[inline]
pub fn mul_q16(a: i32, b: i32) -> i32 {
    let product = i64::from(a) * i64::from(b);
    saturate((product + (1 << (FRAC_BITS - 1))) >> FRAC_BITS)
}

/// Multiply `value` by a gain `gain / 2^16` with `gain` in `0..=ONE`, rounding half up, using
/// 32-bit integer operations only (two 32x32->32 multiplies).
///
/// For gains in `0..=ONE` the result is exactly [`mul_q16`]`(value, gain)`: it cannot overflow,
/// because `|value * gain / 2^16| <= |value|`. `value` may be in any Q format; the result has
/// the same one. This is the product of every neuron update and filter step (decay gains
/// `1 - exp(-dt/tau)`), and the building block of the spike-time arithmetic in
/// [`crate::neuron`]. A gain outside `0..=ONE` gives an unspecified value (never a panic).
///
/// Why it is exact: with `value = high * 2^16 + low` (`high` signed, `low` in `0..2^16`),
/// `value * gain + 2^15 = high * gain * 2^16 + (low * gain + 2^15)`, where
/// `|high * gain| <= 2^31` and `low * gain + 2^15 < 2^32`, so the floor of the quotient by
/// `2^16` is `high * gain + ((low * gain + 2^15) >> 16)` with no intermediate overflow.
///
/// ```
/// use picospike_runtime::fixed_point::{mul_gain, mul_q16, ONE};
/// assert_eq!(mul_gain(3 * ONE, ONE / 4), 3 * ONE / 4);
/// assert_eq!(mul_gain(-1, ONE / 2), 0); // -0.5 ulp rounds half up
/// assert_eq!(mul_gain(i32::MIN, ONE), i32::MIN);
/// assert_eq!(mul_gain(-123_456_789, 3_196), mul_q16(-123_456_789, 3_196));
/// ```
#[inline(always)]
pub fn mul_gain(value: i32, gain: i32) -> i32 {
    let high = (value >> FRAC_BITS).wrapping_mul(gain);
    let low = ((value as u32) & 0xFFFF)
        .wrapping_mul(gain as u32)
        .wrapping_add(1 << (FRAC_BITS - 1))
        >> FRAC_BITS;
    high.wrapping_add(low as i32)
}

/// Largest gain [`mul_small_gain`] takes (exclusive): `2^15`, a decay `1 - exp(-dt/tau)` below
/// one half, i.e. `tau` above ~1.44 steps (every synapse a trained model has).
pub const SMALL_GAIN_LIMIT: i32 = 1 << 15;

/// [`mul_gain`] for gains in `0..SMALL_GAIN_LIMIT`, the same bits: one `SMMULR` on the cores with
/// a long multiply ([`mul_small_gain_wide`]), [`mul_gain`] elsewhere.
///
/// A gain of `2^15` or more gives an unspecified value (never a panic).
///
/// ```
/// use picospike_runtime::fixed_point::{mul_gain, mul_small_gain};
/// assert_eq!(mul_small_gain(-123_456_789, 11_878), mul_gain(-123_456_789, 11_878));
/// ```
#[inline(always)]
pub fn mul_small_gain(value: i32, gain: i32) -> i32 {
    #[cfg(picospike_long_multiply)]
    {
        mul_small_gain_wide(value, gain)
    }
    #[cfg(not(picospike_long_multiply))]
    {
        mul_gain(value, gain)
    }
}

/// [`mul_small_gain`] with one 32x32->64 multiply: with `gain < 2^15`, `gain << 16` is a
/// positive `i32`, and the rounded high word of `value * (gain << 16)` is
/// `floor((value * gain + 2^15) / 2^16)`, [`mul_gain`]'s result (one `SMMULR`).
///
/// ```
/// use picospike_runtime::fixed_point::{mul_gain, mul_small_gain_wide};
/// assert_eq!(mul_small_gain_wide(i32::MIN, 32_767), mul_gain(i32::MIN, 32_767));
/// assert_eq!(mul_small_gain_wide(-2, 1 << 14), 0); // -0.5 ulp rounds half up
/// ```
#[inline(always)]
pub fn mul_small_gain_wide(value: i32, gain: i32) -> i32 {
    let fraction = i64::from(gain.wrapping_shl(16));
    ((i64::from(value) * fraction + (1 << 31)) >> 32) as i32
}

/// Largest right shift of [`scale`] that can leave a non-zero result, and the largest a model
/// may store.
pub const MAX_SHIFT: i8 = 47;

/// Largest left shift (most negative shift) of a layer's per-channel scaling.
pub const MIN_SHIFT: i8 = -16;

/// Scale an integer sum by `multiplier * 2^-shift` for a signed `shift`, rounding half up and
/// saturating: `saturate_i32((sum * multiplier + half) >> shift)` in exact arithmetic, with
/// `half = 2^(shift - 1)` for `shift > 0` and 0 otherwise; a negative shift (a left shift, where
/// nothing rounds) counts from [`MIN_SHIFT`] (-16) on, so `-20` scales like `-16`.
///
/// Every `shift` is defined: above [`MAX_SHIFT`] (47) the exact result is 0, because
/// `|sum * multiplier| < 2^47`. This runs once per neuron per step in every spike-driven layer,
/// so it splits the work by shift range once and then uses the target's widest multiply:
/// [`scale_wide`] with one 32x32->64 multiply on the ARMv7-M/ARMv8-M mainline cores
/// (Cortex-M3/M4/M7/M33, `SMULL`), [`scale_narrow`] with 32x32->32 multiplies only everywhere
/// else (Cortex-M0/M0+ have no long multiply and no divider; the host). Both give the same bits
/// for every input (tested on the host against the definition in 128-bit arithmetic).
///
/// A layer whose weights need a scale of more than one Q16.16 unit per integer unit (large
/// weights after few, strong spikes) stores a negative shift.
///
/// ```
/// use picospike_runtime::fixed_point::scale;
/// assert_eq!(scale(100, 3, 1), 150);
/// assert_eq!(scale(1, 1, 1), 1); // 0.5 rounds half up
/// assert_eq!(scale(-1, 1, 1), 0); // -0.5 rounds half up too
/// assert_eq!(scale(-3, 1, 1), -1); // -1.5 rounds half up to -1
/// assert_eq!(scale(3, 5, -2), 60); // a left shift: 3 * 5 * 4
/// assert_eq!(scale(-40_000, 1, -16), i32::MIN); // saturates
/// assert_eq!(scale(i32::MAX, u16::MAX, 0), i32::MAX); // saturates
/// assert_eq!(scale(i32::MIN, u16::MAX, 16), -2_147_450_880); // exact: -2^31 * 65535 / 2^16
/// assert_eq!(scale(i32::MAX, u16::MAX, 47), 1);
/// assert_eq!(scale(i32::MAX, u16::MAX, 48), 0);
/// ```
#[inline]
pub fn scale(sum: i32, multiplier: u16, shift: i8) -> i32 {
    #[cfg(picospike_long_multiply)]
    {
        scale_wide(sum, multiplier, shift)
    }
    #[cfg(not(picospike_long_multiply))]
    {
        scale_narrow(sum, multiplier, shift)
    }
}

/// [`scale`] for a right shift given as a `u8` (any value: above [`MAX_SHIFT`] the result is 0).
///
/// ```
/// use picospike_runtime::fixed_point::scale_right;
/// assert_eq!(scale_right(100, 3, 1), 150); // 100 * 3 / 2
/// assert_eq!(scale_right(i32::MAX, u16::MAX, 200), 0);
/// ```
#[inline]
pub fn scale_right(sum: i32, multiplier: u16, shift: u8) -> i32 {
    if shift > MAX_SHIFT as u8 {
        0
    } else {
        scale(sum, multiplier, shift as i8)
    }
}

/// The saturated value of an out-of-range result whose sign is the sign of `sign`.
#[inline(always)]
const fn saturated(sign: i32) -> i32 {
    (sign >> 31) ^ i32::MAX
}

/// [`scale`] with one 32x32->64 multiply (`SMULL`, Cortex-M3/M4/M7/M33) on every path.
///
/// The multiplier is pre-shifted so that the bits the result needs land at a fixed place in
/// the 64-bit product: for a right shift `s` in `1..=16` the product `sum * (m << (16 - s))`
/// (the shifted multiplier stays below 2^31, so the signed multiply is exact) has its rounding
/// bit at bit 15, the result is bits 16..48 and it fits an `i32` exactly when the high word
/// fits an `i16`; for `s` in `17..=32` the result is the high word of `sum * (m << (32 - s))`
/// plus the rounding bit 31 of the low word, and nothing can saturate (`|sum * m| < 2^47`).
/// About a dozen instructions on the common path (`s` in `1..=16`).
///
/// ```
/// use picospike_runtime::fixed_point::{scale_narrow, scale_wide};
/// assert_eq!(scale_wide(-77_777, 40_000, 20), scale_narrow(-77_777, 40_000, 20));
/// assert_eq!(scale_wide(-77_777, 40_000, -3), scale_narrow(-77_777, 40_000, -3));
/// ```
#[inline]
pub fn scale_wide(sum: i32, multiplier: u16, shift: i8) -> i32 {
    let m = u32::from(multiplier);
    let to_16 = 16u32.wrapping_sub(shift as i32 as u32);
    if to_16 < 16 {
        // shift in 1..=16: m << to_16 < 2^31.
        let product = i64::from(sum) * i64::from((m << to_16) as i32) + (1 << 15);
        let high = (product >> 32) as i32;
        if high == i32::from(high as i16) {
            (product >> 16) as i32
        } else {
            saturated(high)
        }
    } else if shift > 16 {
        if shift <= 32 {
            // m << (32 - shift) < 2^31; the result is the high word rounded by bit 31.
            let product = i64::from(sum) * i64::from((m << (32 - shift as u32)) as i32);
            ((product >> 32) as i32).wrapping_add(((product as u32) >> 31) as i32)
        } else if shift <= MAX_SHIFT {
            // floor(P / 2^(shift - 1)), then halved rounding up; |high| < 2^15.
            let high = ((i64::from(sum) * i64::from(m)) >> 32) as i32;
            ((high >> (shift as u32 - 33)) + 1) >> 1
        } else {
            0
        }
    } else {
        // A left shift (or none): the 48-bit product must fit 32 - k bits.
        let k = u32::from(shift.max(MIN_SHIFT).unsigned_abs());
        let product = i64::from(sum) * i64::from(m);
        let (high, low) = ((product >> 32) as i32, product as i32);
        let shifted = low << k;
        if high == low >> 31 && shifted >> k == low {
            shifted
        } else {
            saturated(high)
        }
    }
}

/// [`scale`] with 32-bit integer operations only: 32x32->32 multiplies, no `i64`, no division
/// (the Cortex-M0 path).
///
/// For a right shift `s` in `0..=16` and `|sum| < 2^15` (every spike-driven layer whose fan-in
/// times 128 stays below 2^15, such as a readout behind 256 LIF neurons) the product fits an
/// `i32` and one multiply, an add and a shift give the result. Otherwise the 48-bit product
/// `P = sum * m` is kept as `P = high * 2^16 + low` with `high` an `i32` and `low` in
/// `0..2^32` (two multiplies); for `s <= 16` the rounding half is added to `low` (no carry out:
/// `low < 2^32 - 2^17`), the carry moved into `high`, and the result
/// `high * 2^(16 - s) + (low mod 2^16 >> s)` checked for `i32` range; for `s > 16` the
/// discarded `low` cannot change the rounded quotient, which is `high` shifted right by
/// `s - 16` with round half up.
///
/// ```
/// use picospike_runtime::fixed_point::scale_narrow;
/// assert_eq!(scale_narrow(100, 3, 1), 150);
/// assert_eq!(scale_narrow(-5, 1, 1), -2); // -2.5 rounds half up
/// assert_eq!(scale_narrow(-50_000, 65_535, 1), -1_638_375_000); // -50000 * 65535 / 2
/// assert_eq!(scale_narrow(-100_000, 65_535, 1), i32::MIN); // saturates
/// ```
#[inline]
pub fn scale_narrow(sum: i32, multiplier: u16, shift: i8) -> i32 {
    let m = u32::from(multiplier);
    let s = shift as i32 as u32;
    if s <= 16 {
        if sum == i32::from(sum as i16) {
            // |sum * m| <= 2^15 * (2^16 - 1) and the half <= 2^15: no overflow.
            let product = sum.wrapping_mul(m as i32);
            return product.wrapping_add((1 << s) >> 1) >> s;
        }
        let to_16 = 16 - s;
        // |sum >> 16| <= 2^15 and m < 2^16: |high| < 2^31. low + half < 2^32.
        let high = (sum >> 16).wrapping_mul(m as i32);
        let low = ((sum as u32) & 0xFFFF) * m + (0x8000 >> to_16);
        // Renormalised, high stays below 2^31 - 2^15 in magnitude.
        let high = high.wrapping_add((low >> 16) as i32);
        // The result high * 2^(16 - s) + ((low mod 2^16) >> s) fits an i32 exactly when
        // high * 2^(16 - s) does.
        let shifted = high << to_16;
        if shifted >> to_16 == high {
            shifted | ((low & 0xFFFF) >> s) as i32
        } else {
            saturated(high)
        }
    } else if shift > 0 {
        if shift <= MAX_SHIFT {
            let high = (sum >> 16).wrapping_mul(m as i32);
            let low = ((sum as u32) & 0xFFFF) * m;
            let high = high.wrapping_add((low >> 16) as i32);
            // floor(P / 2^(s - 1)) = high >> (s - 17), then halved rounding up.
            (high >> (s - 17)).wrapping_add(1) >> 1
        } else {
            0
        }
    } else {
        // A left shift: saturate P to an i32 first, then shift; saturating before the shift
        // gives the same result as after it.
        let k = u32::from(shift.max(MIN_SHIFT).unsigned_abs());
        let high = (sum >> 16).wrapping_mul(m as i32);
        let low = ((sum as u32) & 0xFFFF) * m;
        let high = high.wrapping_add((low >> 16) as i32);
        if high != i32::from(high as i16) {
            return saturated(high);
        }
        let product = (high << 16) | (low & 0xFFFF) as i32;
        let shifted = product << k;
        if shifted >> k == product {
            shifted
        } else {
            saturated(product)
        }
    }
}

/// `1 - exp(-x)` for `x >= 0`, accurate to a few ulp of `f32` even for tiny `x`.
///
/// `micromath`'s `exp` is fast but only accurate to about 1e-4 relative, which would bias LIF
/// rates by a few tenths of a percent; a short Taylor series is exact to `f32` precision here
/// and the result is only used at load time.
///
/// ```
/// use picospike_runtime::fixed_point::one_minus_exp_neg;
/// // dt = 1 ms, tau = 20 ms: the LIF decay gain.
/// assert!((one_minus_exp_neg(0.05) - (1.0 - (-0.05f32).exp())).abs() < 1e-7);
/// assert!((one_minus_exp_neg(1e-6) - 1e-6).abs() < 1e-12); // no cancellation for tiny x
/// assert_eq!(one_minus_exp_neg(f32::NAN), 0.0);
/// ```
pub fn one_minus_exp_neg(x: f32) -> f32 {
    if x.is_nan() || x <= 0.0 {
        return 0.0;
    }
    if x < 0.5 {
        // x - x^2/2 + x^3/6 - ... ; eight terms bring the truncation error below 1e-9.
        let mut term = x;
        let mut sum = 0.0f32;
        let mut k = 1.0f32;
        while k <= 8.0 {
            sum += term;
            k += 1.0;
            term *= -x / k;
        }
        sum
    } else {
        1.0 - micromath::F32Ext::exp(-x)
    }
}

/// Convert an `f32` to [`Q16`], rounding to nearest; `None` if it is not finite or out of range.
///
/// ```
/// use picospike_runtime::fixed_point::{q16_from_f32, ONE};
/// assert_eq!(q16_from_f32(0.5).map(|q| q.to_bits()), Some(ONE / 2));
/// assert_eq!(q16_from_f32(-1.0).map(|q| q.to_bits()), Some(-ONE));
/// assert_eq!(q16_from_f32(40_000.0), None); // beyond ±32768
/// assert_eq!(q16_from_f32(f32::INFINITY), None);
/// ```
pub fn q16_from_f32(value: f32) -> Option<Q16> {
    let scaled = value * ONE as f32;
    // 2^31 is exactly representable; anything at or beyond it does not fit.
    if scaled.is_finite() && scaled.abs() < 2_147_483_648.0 {
        Some(Q16::from_bits(micromath::F32Ext::round(scaled) as i32))
    } else {
        None
    }
}

/// `e^x` in `f32` to within a few ulp, for `x` up to 88 (micromath's `exp` is good to 1e-4
/// only): `2^k e^r` with `|r| <= ln 2 / 2` and a degree-8 Taylor polynomial.
pub(crate) fn exp(x: f32) -> f32 {
    if x.is_nan() || x <= -87.0 {
        return 0.0;
    }
    let x = x.min(88.0);
    let k = micromath::F32Ext::round(x * core::f32::consts::LOG2_E);
    // ln 2 in two parts, so that k ln 2 is subtracted without rounding.
    let r = (x - k * 0.693_145_75) - k * 1.428_606_8e-6;
    let mut sum = 1.0f32;
    let mut term = 1.0f32;
    let mut n = 1.0f32;
    while n <= 8.0 {
        term *= r / n;
        sum += term;
        n += 1.0;
    }
    sum * f32::from_bits(((k as i32 + 127) as u32) << 23)
}

/// `1 - e^-x` for `x >= 0`, without cancellation for small `x`.
pub(crate) fn one_minus_exp(x: f32) -> f32 {
    if x < 0.5 {
        one_minus_exp_neg(x)
    } else {
        1.0 - exp(-x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_minus_exp_matches_f64_for_small_and_large_arguments() {
        for &x in &[1e-6f32, 1e-3, 0.05, 0.2, 0.49, 0.5, 1.0, 3.0, 10.0] {
            let exact = -(-f64::from(x)).exp_m1();
            let got = f64::from(one_minus_exp_neg(x));
            let tolerance = if x < 0.5 { 1e-6 } else { 2e-3 };
            assert!(
                (got - exact).abs() / exact < tolerance,
                "x={x}: got {got}, expected {exact}"
            );
        }
        assert_eq!(one_minus_exp_neg(0.0), 0.0);
        assert_eq!(one_minus_exp_neg(f32::NAN), 0.0);
    }

    #[test]
    fn mul_rounds_and_saturates() {
        assert_eq!(mul_q16(ONE, ONE), ONE);
        assert_eq!(mul_q16(3 * ONE / 2, ONE / 2), 3 * ONE / 4);
        assert_eq!(mul_q16(i32::MAX, i32::MAX), i32::MAX);
        assert_eq!(mul_q16(i32::MIN, i32::MAX), i32::MIN);
        // 1 ulp * 0.5 rounds half up to 1 ulp.
        assert_eq!(mul_q16(1, ONE / 2), 1);
    }

    #[test]
    fn scale_is_a_rounded_fixed_point_multiply() {
        for f in [scale, scale_narrow, scale_wide] {
            assert_eq!(f(100, 3, 1), 150);
            assert_eq!(f(-3, 1, 1), -1); // -1.5 rounds half up to -1
            assert_eq!(f(i32::MAX, u16::MAX, 1), i32::MAX);
            assert_eq!(f(i32::MIN, u16::MAX, 1), i32::MIN);
            assert_eq!(f(i32::MIN, u16::MAX, 0), i32::MIN);
            assert_eq!(f(7, 0, 0), 0);
            assert_eq!(f(-7, 1, 0), -7);
            // The 48-bit product survives the shift: (2^31 - 1) * 65535 / 2^47 rounds to 1.
            assert_eq!(f(i32::MAX, u16::MAX, 47), 1);
            assert_eq!(f(i32::MIN, u16::MAX, 47), -1);
            assert_eq!(f(i32::MAX, u16::MAX, 48), 0);
            assert_eq!(f(i32::MAX, u16::MAX, i8::MAX), 0);
            // Left shifts: exact until they saturate; below MIN_SHIFT they shift by 16.
            assert_eq!(f(3, 5, -2), 60);
            assert_eq!(f(-1, 1, -16), -65_536);
            assert_eq!(f(-1, 1, i8::MIN), -65_536);
            assert_eq!(f(1, 32_768, -16), i32::MAX);
            assert_eq!(f(-1, 32_768, -16), i32::MIN);
            assert_eq!(f(0, u16::MAX, -16), 0);
        }
        assert_eq!(scale_right(100, 3, 1), 150);
        assert_eq!(scale_right(i32::MIN, u16::MAX, 0), i32::MIN);
        assert_eq!(scale_right(i32::MAX, u16::MAX, 47), 1);
        for shift in 48..=u8::MAX {
            assert_eq!(scale_right(i32::MIN, u16::MAX, shift), 0);
        }
    }

    /// The exact value by the definition, in i128 (no saturation shortcuts): a right shift for
    /// `shift >= 0`, a left shift by `min(-shift, 16)` otherwise.
    fn scale_exact(sum: i32, multiplier: u16, shift: i32) -> i32 {
        let product = i128::from(sum) * i128::from(multiplier);
        let value = if shift >= 0 {
            let shift = shift.min(100);
            let half = if shift > 0 { 1i128 << (shift - 1) } else { 0 };
            (product + half) >> shift
        } else {
            product << (-shift).min(-i32::from(MIN_SHIFT))
        };
        value.clamp(i128::from(i32::MIN), i128::from(i32::MAX)) as i32
    }

    /// Check every kernel against [`scale_exact`] for one input.
    fn assert_exact(sum: i32, m: u16, shift: i8) {
        let exact = scale_exact(sum, m, i32::from(shift));
        assert_eq!(
            scale_narrow(sum, m, shift),
            exact,
            "narrow {sum} {m} {shift}"
        );
        assert_eq!(scale_wide(sum, m, shift), exact, "wide {sum} {m} {shift}");
        assert_eq!(scale(sum, m, shift), exact, "scale {sum} {m} {shift}");
    }

    #[test]
    fn both_scale_kernels_are_exact_on_edge_inputs_for_every_shift() {
        let sums = [
            i32::MIN,
            i32::MIN + 1,
            -(1 << 30),
            -1_000_000,
            -65_537,
            -65_536,
            -65_535,
            -46_341,
            -32_770,
            -32_769,
            -32_768,
            -32_767,
            -16_384,
            -12_700,
            -2,
            -1,
            0,
            1,
            2,
            12_700,
            16_383,
            32_766,
            32_767,
            32_768,
            32_769,
            46_341,
            65_535,
            65_536,
            1_000_000,
            1 << 30,
            i32::MAX - 1,
            i32::MAX,
        ];
        let multipliers = [
            0u16, 1, 2, 3, 255, 256, 12_345, 32_767, 32_768, 32_769, 40_000, 65_534, 65_535,
        ];
        for shift in i8::MIN..=i8::MAX {
            for &sum in &sums {
                for &m in &multipliers {
                    assert_exact(sum, m, shift);
                }
            }
        }
        for shift in 0..=u8::MAX {
            for &sum in &sums {
                for &m in &multipliers {
                    let exact = scale_exact(sum, m, i32::from(shift));
                    assert_eq!(scale_right(sum, m, shift), exact, "{sum} {m} {shift}");
                }
            }
        }
    }

    /// Every sum of the narrow kernel's one-multiply range (`|sum| < 2^15`) and the first
    /// sums past it, for every shift that can saturate or round.
    #[test]
    fn scale_kernels_are_exact_over_every_i16_sum() {
        for m in [1u16, 3, 32_768, 40_961, 65_535] {
            for shift in MIN_SHIFT..=17 {
                for sum in -32_770..=32_770 {
                    assert_exact(sum, m, shift);
                }
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn scale_kernels_agree_on_random_inputs(sum: i32, m: u16, shift in -20i8..=50) {
            let exact = scale_exact(sum, m, i32::from(shift));
            proptest::prop_assert_eq!(scale_narrow(sum, m, shift), exact);
            proptest::prop_assert_eq!(scale_wide(sum, m, shift), exact);
        }

        #[test]
        fn scale_kernels_agree_on_small_sums(sum in -40_000i32..40_000, m: u16, shift: i8) {
            let exact = scale_exact(sum, m, i32::from(shift));
            proptest::prop_assert_eq!(scale_narrow(sum, m, shift), exact);
            proptest::prop_assert_eq!(scale_wide(sum, m, shift), exact);
        }

        #[test]
        fn scale_kernels_agree_near_half_way(high in -32_768i32..32_768, m: u16, shift in -16i8..=47) {
            // Sums whose product lands within a few units of a rounding boundary.
            let sum = high.wrapping_shl(16) | i32::from(m & 0xFF);
            let exact = scale_exact(sum, m, i32::from(shift));
            proptest::prop_assert_eq!(scale_narrow(sum, m, shift), exact);
            proptest::prop_assert_eq!(scale_wide(sum, m, shift), exact);
        }

        #[test]
        fn mul_gain_is_mul_q16_for_unit_gains(value: i32, gain in 0i32..=ONE) {
            proptest::prop_assert_eq!(mul_gain(value, gain), mul_q16(value, gain));
        }

        #[test]
        fn mul_small_gain_is_mul_gain(value: i32, gain in 0i32..SMALL_GAIN_LIMIT) {
            proptest::prop_assert_eq!(mul_small_gain_wide(value, gain), mul_gain(value, gain));
            proptest::prop_assert_eq!(mul_small_gain(value, gain), mul_gain(value, gain));
        }
    }

    #[test]
    fn mul_gain_is_mul_q16_on_edges() {
        let values = [
            i32::MIN,
            i32::MIN + 1,
            -65_536,
            -32_768,
            -1,
            0,
            1,
            32_768,
            65_535,
            i32::MAX,
        ];
        for gain in [0, 1, 2, 3_196, 32_767, 32_768, 65_535, ONE] {
            for &value in &values {
                assert_eq!(
                    mul_gain(value, gain),
                    mul_q16(value, gain),
                    "{value} {gain}"
                );
            }
        }
    }

    #[test]
    fn q16_conversion_rejects_non_finite_and_out_of_range() {
        assert_eq!(q16_from_f32(1.0).map(Q16::to_bits), Some(ONE));
        assert_eq!(q16_from_f32(-0.5).map(Q16::to_bits), Some(-ONE / 2));
        assert!(q16_from_f32(f32::NAN).is_none());
        assert!(q16_from_f32(f32::INFINITY).is_none());
        assert!(q16_from_f32(40_000.0).is_none());
    }

    #[test]
    fn exp_is_accurate() {
        for i in -800..=120 {
            let x = i as f32 / 10.0;
            let exact = f64::from(x).exp();
            let got = f64::from(exp(x));
            assert!(
                ((got - exact) / exact).abs() < 4e-7,
                "{x}: {got} vs {exact}"
            );
        }
    }
}
