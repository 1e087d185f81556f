//! The fixed-point number formats and the few operations the per-step path needs.
//!
//! | quantity                                  | format            | range            | resolution |
//! |-------------------------------------------|-------------------|------------------|------------|
//! | currents, voltages, filter states, outputs | Q16.16 ([`Q16`])  | ±32768           | 1.5e-5     |
//! | decay gains `1 - exp(-dt/tau)`            | Q16.16            | (0, 1]           | 1.5e-5     |
//! | refractory time left                      | Q16.16 time steps | 0 .. 32768 steps | 1.5e-5 step |
//! | weights                                   | i8                | -128 ..= 127     | per-output scale |
//! | weighted spike sums                       | i32 (exact)       | see below        | 1          |
//!
//! A weighted sum adds at most `u16::MAX` terms of `|spikes * weight| <= 255 * 128`, so its
//! magnitude is below `65535 * 255 * 128 = 2_139_095_040 < i32::MAX`: the integer sums cannot
//! overflow. Everything that can leave the Q16.16 range (scaling a sum, adding a bias, filtering)
//! is computed in `i64` and saturated back to `i32`, so a huge input clips instead of wrapping.
//! Each rounding step is round-half-up on the last bit, an error of at most 2^-17 per operation.
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

/// Largest right shift of a layer's per-channel scaling.
pub const MAX_SHIFT: i8 = 47;

/// Largest left shift (most negative shift) of a layer's per-channel scaling.
pub const MIN_SHIFT: i8 = -16;

/// Scale an integer sum by `multiplier * 2^-shift`, rounding half up and saturating.
///
/// Exactly `saturate((sum * multiplier + half) >> shift)` computed in wide arithmetic, with
/// `half = 2^(shift-1)` for a right shift and nothing to round for a left shift (`shift < 0`).
/// `shift` is within [`MIN_SHIFT`]`..=`[`MAX_SHIFT`] (checked when the model is loaded; values
/// outside act as the nearest limit).
///
/// ```
/// use picospike_runtime::fixed_point::scale;
/// assert_eq!(scale(100, 3, 1), 150); // 100 * 3 / 2
/// assert_eq!(scale(1, 1, 1), 1); // 0.5 rounds half up
/// assert_eq!(scale(-1, 1, 1), 0); // -0.5 rounds half up too
/// assert_eq!(scale(3, 5, -2), 60); // a left shift: 3 * 5 * 4
/// assert_eq!(scale(i32::MAX, u16::MAX, 0), i32::MAX);
/// assert_eq!(scale(-40_000, 1, -16), i32::MIN);
/// ```
#[inline]
pub fn scale(sum: i32, multiplier: u16, shift: i8) -> i32 {
    let shift = shift.clamp(MIN_SHIFT, MAX_SHIFT);
    if shift >= 0 {
        scale_right(sum, multiplier, shift as u32)
    } else {
        // saturate(x) << k saturates exactly as saturate(x << k) does.
        let x = scale_right(sum, multiplier, 0);
        let k = u32::from(shift.unsigned_abs());
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

/// [`scale`] for `shift` in `0..=47`.
#[inline]
fn scale_right(sum: i32, multiplier: u16, shift: u32) -> i32 {
    let product = i64::from(sum) * i64::from(multiplier);
    let half = if shift == 0 { 0 } else { 1i64 << (shift - 1) };
    saturate((product + half) >> shift)
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
        assert_eq!(scale(100, 3, 1), 150);
        assert_eq!(scale(-3, 1, 1), -1); // -1.5 rounds half up to -1
        assert_eq!(scale(i32::MAX, u16::MAX, 1), i32::MAX);
        assert_eq!(scale(i32::MIN, u16::MAX, 1), i32::MIN);
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
