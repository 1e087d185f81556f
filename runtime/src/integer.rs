//! Integer helpers of the per-step path: normalisation, a reciprocal, a base-2 logarithm and
//! division by a small constant, each without a division instruction or an `i64`.

use crate::fixed_point::{mul_gain, ONE};

/// The left shift that brings `x` (in `1..2^31`) into `[2^30, 2^31)`.
#[inline(always)]
pub(crate) fn normalising_shift(x: u32) -> u32 {
    #[cfg(any(picospike_long_multiply, not(target_arch = "arm")))]
    {
        // CLZ on ARMv7-M and the host.
        x.leading_zeros().saturating_sub(1)
    }
    #[cfg(not(any(picospike_long_multiply, not(target_arch = "arm"))))]
    {
        normalising_shift_soft(x)
    }
}

/// [`normalising_shift`] by binary search, for cores without `CLZ` (Cortex-M0).
// Used on Cortex-M0 only; compiled everywhere so that the host tests check it.
#[cfg_attr(
    any(picospike_long_multiply, not(target_arch = "arm")),
    allow(dead_code)
)]
#[inline(always)]
fn normalising_shift_soft(mut x: u32) -> u32 {
    // Written out: at opt-level "s" a loop over the step sizes stays a loop over an array on
    // the stack (about 100 instructions per spike on Cortex-M0; this is about 20).
    let mut shift = 0;
    if x < 1 << 15 {
        x <<= 16;
        shift += 16;
    }
    if x < 1 << 23 {
        x <<= 8;
        shift += 8;
    }
    if x < 1 << 27 {
        x <<= 4;
        shift += 4;
    }
    if x < 1 << 29 {
        x <<= 2;
        shift += 2;
    }
    if x < 1 << 30 {
        shift += 1;
    }
    shift
}

/// `2^15 / (x / 2^31)` for `x` in `[2^30, 2^31)`: between `2^15` and `2^16`, within half a
/// unit (relative error below `2^-15`).
#[inline(always)]
pub(crate) fn reciprocal_normalised(x: u32) -> i32 {
    // Seed from the 6 bits after the leading one, relative error |e| < 2^-7, then one step of
    // the cubically convergent r := r (1 + e + e^2), e = 1 - x r: error below 2^-20.
    let seed = i32::from(RECIPROCALS[((x >> 24) & 63) as usize]);
    let product = mul_gain(x as i32, seed); // 2^30 (1 - e)
    let e = (1 << 30) - product; // Q0.30, |e| < 2^23
    let e_squared = ((e >> 8) * (e >> 8)) >> 14; // Q0.30
    let correction = (mul_gain(e + e_squared, seed) + (1 << 13)) >> 14;
    (seed + correction).min(ONE)
}

/// `2^15 / x` at the midpoints of 64 equal intervals of `x` in `[0.5, 1)`.
static RECIPROCALS: [u16; 64] = {
    let mut table = [0u16; 64];
    let mut i = 0;
    while i < 64 {
        // 2^15 / ((64 + i + 0.5) / 128), rounded.
        let denominator = 129 + 2 * i as u32;
        table[i] = (((1u32 << 23) + denominator / 2) / denominator) as u16;
        i += 1;
    }
    table
};

/// `log2(x / 2^16)` in Q5.26 (to within 3e-6) for a Q16.16 `x > 0`.
///
/// The exponent comes from the leading-zero count, the fraction from linear interpolation in
/// [`LOG2_TABLE`] with the 16 bits that follow the table index.
#[cfg(test)]
pub(crate) fn log2(x: u32) -> i32 {
    let x = x.max(1);
    log2_shifted(x, leading_zeros(x))
}

/// The leading-zero count of `x > 0` (`normalising_shift` brings `x < 2^31` into `[2^30, 2^31)`;
/// `CLZ` where there is one, a binary search on Cortex-M0).
#[inline(always)]
pub(crate) fn leading_zeros(x: u32) -> u32 {
    if x >> 31 != 0 {
        0
    } else {
        normalising_shift(x) + 1
    }
}

/// [`log2`] of `x > 0` whose leading-zero count `shift` is known.
#[inline(always)]
pub(crate) fn log2_shifted(x: u32, shift: u32) -> i32 {
    let fraction = (x << (shift & 31)) << 1; // Q0.32, the leading one dropped
    let index = (fraction >> 24) as usize;
    let within = ((fraction >> 8) & 0xFFFF) as i32;
    let (low, high) = match (LOG2_TABLE.get(index), LOG2_TABLE.get(index + 1)) {
        (Some(&low), Some(&high)) => (low as i32, high as i32),
        _ => (0, 0),
    };
    // The step between entries is below 2^23 (at most log2(1 + 1/256) in Q2.30): its top 16
    // bits times the 16 bits of `within` fit a `u32`, and the 7 bits dropped cost below 2^-22.
    let rise = (((high - low) as u32 >> 7) * within as u32) >> 9;
    // Q2.30; x in [2^(31 - shift), 2^(32 - shift)): log2(x / 2^16) = 15 - shift + fraction.
    let fraction = low + rise as i32;
    ((15 - shift as i32) << 26) + ((fraction + 8) >> 4)
}

/// `log2(1 + i / 256)` in Q2.30 for `i` in `0..=256`, rounded.
static LOG2_TABLE: [u32; 257] = {
    let mut table = [0u32; 257];
    let mut i = 0;
    while i < 257 {
        // ln(1 + x) = 2 atanh(z), z = x / (2 + x) <= 1/3: the series is below 1e-17 after
        // 20 terms.
        let x = i as f64 / 256.0;
        let z = x / (2.0 + x);
        let (mut term, mut sum, mut k) = (z, 0.0f64, 1.0f64);
        while k < 40.0 {
            sum += term / k;
            term *= z * z;
            k += 2.0;
        }
        let log2 = 2.0 * sum / core::f64::consts::LN_2;
        table[i] = (log2 * (1u64 << 30) as f64 + 0.5) as u32;
        i += 1;
    }
    table
};

/// Fixed-point reciprocal for [`divide_small`]: `ceil(2^22 / divisor)`.
pub(crate) const fn divisor_reciprocal(divisor: u8) -> u32 {
    let d = if divisor == 0 { 1 } else { divisor as u32 };
    (1u32 << 22).div_ceil(d)
}

/// `value / divisor` for `value < 1024` and `divisor <= 255`, exact, without a division.
///
/// With `r = ceil(2^22 / d) = (2^22 + e) / d`, `e < d`, the error term `value * e / (d * 2^22)`
/// stays below `1 / d` for `value * e < 2^22`, which `1024 * 255` is; so the floor is exact.
#[inline(always)]
pub(crate) const fn divide_small(value: u32, reciprocal: u32) -> u32 {
    (value.wrapping_mul(reciprocal)) >> 22
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reciprocal_and_normalisation_are_accurate() {
        for bit in 0..31 {
            for x in [1u32 << bit, (1u32 << bit) | ((1u32 << bit) - 1)] {
                let shift = normalising_shift_soft(x);
                assert_eq!(shift, x.leading_zeros() - 1, "{x}");
                assert_eq!(normalising_shift(x), shift);
                assert!((1u32 << 30..1u32 << 31).contains(&(x << shift)));
            }
        }
        let mut x = 1u32 << 30;
        while x < 1u32 << 31 {
            let exact = 2f64.powi(46) / f64::from(x);
            let got = f64::from(reciprocal_normalised(x));
            assert!((got - exact).abs() <= 0.6, "{x}: {got} vs {exact}");
            x += 65_521;
        }
    }

    #[test]
    fn log2_is_accurate_over_the_whole_range() {
        let mut worst = 0f64;
        let mut x = 1u32;
        while x < u32::MAX / 2 {
            let exact = (f64::from(x) / 65_536.0).log2();
            let got = f64::from(log2(x)) / f64::from(1 << 26);
            worst = worst.max((got - exact).abs());
            x = x + x / 997 + 1;
        }
        for x in [u32::MAX, 1 << 31, (1 << 31) - 1, 1 << 16, 1, 2, 3] {
            let exact = (f64::from(x) / 65_536.0).log2();
            let got = f64::from(log2(x)) / f64::from(1 << 26);
            worst = worst.max((got - exact).abs());
        }
        assert!(worst < 3e-6, "{worst}");
    }

    #[test]
    fn small_division_is_exact_over_its_range() {
        for divisor in 1..=255u8 {
            let r = divisor_reciprocal(divisor);
            for value in 0..1024u32 {
                assert_eq!(divide_small(value, r), value / u32::from(divisor));
            }
        }
    }
}
