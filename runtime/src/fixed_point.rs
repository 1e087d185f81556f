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

/// Largest right shift of [`scale_right`] that can leave a non-zero result, and the largest a
/// model may store.
pub const MAX_SHIFT: i8 = 47;

/// Largest left shift (most negative shift) of a layer's per-channel scaling.
pub const MIN_SHIFT: i8 = -16;

/// Scale an integer sum by `multiplier * 2^-shift` for a signed `shift`, rounding half up and
/// saturating: [`scale_right`] for `shift >= 0`; for a left shift (`shift < 0`, down to
/// [`MIN_SHIFT`]) exactly `saturate_i32(sum * multiplier * 2^-shift)`, where nothing rounds.
///
/// A layer whose weights need a scale of more than one Q16.16 unit per integer unit (large
/// weights after few, strong spikes) stores a negative shift.
///
/// ```
/// use picospike_runtime::fixed_point::scale;
/// assert_eq!(scale(100, 3, 1), 150);
/// assert_eq!(scale(3, 5, -2), 60); // a left shift: 3 * 5 * 4
/// assert_eq!(scale(-40_000, 1, -16), i32::MIN); // saturates
/// ```
#[inline]
pub fn scale(sum: i32, multiplier: u16, shift: i8) -> i32 {
    if shift >= 0 {
        scale_right(sum, multiplier, shift as u8)
    } else {
        // saturate(x) << k saturates exactly as saturate(x << k) does.
        let x = scale_right(sum, multiplier, 0);
        let k = u32::from(shift.max(MIN_SHIFT).unsigned_abs());
        let limit = i32::MAX >> k;
        if x > limit {
            i32::MAX
        } else if x < -limit - 1 {
            i32::MIN
        } else {
            x << k
        }
    }
}

/// Scale an integer sum by `multiplier * 2^-shift`, rounding half up and saturating:
/// `saturate_i32((sum * multiplier + half) >> shift)` in exact arithmetic, with
/// `half = 2^(shift - 1)` for `shift > 0` and 0 for `shift == 0`.
///
/// Every `shift` is defined: above [`MAX_SHIFT`] (47) the exact result is 0, because
/// `|sum * multiplier| < 2^47`. Two implementations give the same bits for every input (tested
/// on the host over edge and random inputs): [`scale_wide`] with one `i64` multiply, used on
/// the ARMv7-M/ARMv8-M mainline cores (Cortex-M3/M4/M7/M33, which have `SMULL`), and
/// [`scale_narrow`] with two 32x32->32 multiplies and no `i64` at all, used everywhere else
/// (Cortex-M0/M0+ have a 32-bit multiplier only and no divider; the host).
///
/// ```
/// use picospike_runtime::fixed_point::scale_right;
/// assert_eq!(scale_right(100, 3, 1), 150); // 100 * 3 / 2
/// assert_eq!(scale_right(1, 1, 1), 1); // 0.5 rounds half up
/// assert_eq!(scale_right(-1, 1, 1), 0); // -0.5 rounds half up too
/// assert_eq!(scale_right(-3, 1, 1), -1); // -1.5 rounds half up to -1
/// assert_eq!(scale_right(i32::MAX, u16::MAX, 0), i32::MAX); // saturates
/// assert_eq!(scale_right(i32::MIN, u16::MAX, 16), -2_147_450_880); // exact: -2^31 * 65535 / 2^16
/// assert_eq!(scale_right(i32::MAX, u16::MAX, 200), 0);
/// ```
#[inline]
pub fn scale_right(sum: i32, multiplier: u16, shift: u8) -> i32 {
    #[cfg(picospike_long_multiply)]
    {
        scale_wide(sum, multiplier, shift)
    }
    #[cfg(not(picospike_long_multiply))]
    {
        scale_narrow(sum, multiplier, shift)
    }
}

/// [`scale_right`] with one 32x32->64 multiply (`SMULL` on Cortex-M3/M4/M7).
///
/// ```
/// use picospike_runtime::fixed_point::{scale_narrow, scale_wide};
/// assert_eq!(scale_wide(-77_777, 40_000, 20), scale_narrow(-77_777, 40_000, 20));
/// ```
#[inline]
pub fn scale_wide(sum: i32, multiplier: u16, shift: u8) -> i32 {
    if shift > MAX_SHIFT as u8 {
        return 0;
    }
    let product = i64::from(sum) * i64::from(multiplier);
    // |product| < 2^47 and half <= 2^46: the sum cannot overflow.
    let half = (1i64 << shift) >> 1;
    saturate((product + half) >> shift)
}

/// [`scale_right`] with 32-bit integer operations only: two 32x32->32 multiplies, no `i64`, no
/// division (the Cortex-M0 path).
///
/// The 48-bit product `P = sum * multiplier` is kept as `P = high * 2^16 + low` with `high`
/// an `i32` and `low` in `0..2^16`. For `shift <= 16` the rounding half is added to `low`, the
/// carry moved into `high`, and the result `high * 2^(16 - shift) + (low >> shift)` checked
/// for `i32` range; for `shift > 16` the discarded `low` cannot change the rounded quotient,
/// which is `high` shifted right by `shift - 16` with round half up.
///
/// ```
/// use picospike_runtime::fixed_point::scale_narrow;
/// assert_eq!(scale_narrow(100, 3, 1), 150);
/// assert_eq!(scale_narrow(-5, 1, 1), -2); // -2.5 rounds half up
/// ```
#[inline]
pub fn scale_narrow(sum: i32, multiplier: u16, shift: u8) -> i32 {
    let m = u32::from(multiplier);
    // |sum >> 16| <= 2^15 and m < 2^16: |high| < 2^31. low < 2^32.
    let high = (sum >> 16).wrapping_mul(m as i32);
    let low = ((sum as u32) & 0xFFFF).wrapping_mul(m);
    // Renormalise so that low < 2^16; high stays below 2^31 - 2^15.
    let high = high.wrapping_add((low >> 16) as i32);
    let low = low & 0xFFFF;
    if shift <= 16 {
        let shift = u32::from(shift);
        let low = low + ((1 << shift) >> 1);
        let high = high.wrapping_add((low >> 16) as i32);
        let low = low & 0xFFFF;
        // The result high * 2^(16 - shift) + (low >> shift) fits an i32 exactly when high
        // does in 15 + shift bits.
        let top = high >> (15 + shift);
        if top == 0 || top == -1 {
            (high << (16 - shift)) | (low >> shift) as i32
        } else if high < 0 {
            i32::MIN
        } else {
            i32::MAX
        }
    } else if shift <= MAX_SHIFT as u8 {
        let j = u32::from(shift) - 16;
        (high >> j) + ((high >> (j - 1)) & 1)
    } else {
        0
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
        for f in [scale_right, scale_narrow, scale_wide] {
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
        }
    }

    /// The exact value by the definition, in i128 (no saturation shortcuts).
    fn scale_exact(sum: i32, multiplier: u16, shift: u8) -> i32 {
        let product = i128::from(sum) * i128::from(multiplier);
        let shift = shift.min(100);
        let half = if shift > 0 { 1i128 << (shift - 1) } else { 0 };
        let value = (product + half) >> shift;
        value.clamp(i128::from(i32::MIN), i128::from(i32::MAX)) as i32
    }

    #[test]
    fn both_scale_kernels_are_exact_on_edge_inputs_for_every_shift() {
        let sums = [
            i32::MIN,
            i32::MIN + 1,
            -(1 << 30),
            -65_537,
            -65_536,
            -65_535,
            -32_769,
            -32_768,
            -2,
            -1,
            0,
            1,
            2,
            32_767,
            32_768,
            65_535,
            65_536,
            1 << 30,
            i32::MAX - 1,
            i32::MAX,
        ];
        let multipliers = [0u16, 1, 2, 3, 255, 256, 32_767, 32_768, 65_534, 65_535];
        for shift in 0..=u8::MAX {
            for &sum in &sums {
                for &m in &multipliers {
                    let exact = scale_exact(sum, m, shift);
                    assert_eq!(
                        scale_narrow(sum, m, shift),
                        exact,
                        "narrow {sum} {m} {shift}"
                    );
                    assert_eq!(scale_wide(sum, m, shift), exact, "wide {sum} {m} {shift}");
                }
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn scale_kernels_agree_on_random_inputs(sum: i32, m: u16, shift in 0u8..=50) {
            let exact = scale_exact(sum, m, shift);
            proptest::prop_assert_eq!(scale_narrow(sum, m, shift), exact);
            proptest::prop_assert_eq!(scale_wide(sum, m, shift), exact);
        }

        #[test]
        fn scale_kernels_agree_near_half_way(high in -32_768i32..32_768, m: u16, shift in 0u8..=47) {
            // Sums whose product lands within a few units of a rounding boundary.
            let sum = high.wrapping_shl(16) | i32::from(m & 0xFF);
            proptest::prop_assert_eq!(scale_narrow(sum, m, shift), scale_wide(sum, m, shift));
        }

        #[test]
        fn mul_gain_is_mul_q16_for_unit_gains(value: i32, gain in 0i32..=ONE) {
            proptest::prop_assert_eq!(mul_gain(value, gain), mul_q16(value, gain));
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
}
