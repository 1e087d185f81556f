//! A layer's currents from its integer sums: the per-channel scale and bias, then the synapse.
//!
//! Nengo filters the weighted input `x` and adds the bias `b` after: `J = y + b` with
//! `y += g (x - y)`. The engine keeps `z = y + b` instead (`z += g ((x + b) - z)`, the same
//! difference, so the same rounding), which makes `z` the current itself, and a layer's current
//! always one slice: the filter when there is one, the sums otherwise.

use crate::fixed_point::{mul_gain, mul_small_gain, scale};
use crate::runs::{runs, runs_mut};

/// Where a layer's input current comes from this step.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// The first layer: `sums` holds the static current (the filter's target if filtered).
    Static,
    /// `sums` holds this step's integer sums.
    Events,
    /// No input events arrived: the drive is zero (`sums` holds last step's currents).
    Silent,
}

/// Pack a channel's multiplier and shift into one state word.
pub(crate) const fn pack_scale(multiplier: u16, shift: u8) -> i32 {
    (multiplier as u32 | (shift as u32) << 16) as i32
}

/// The multiplier and (signed) shift of a packed scale word.
#[inline(always)]
pub(crate) const fn unpack_scale(word: i32) -> (u16, i8) {
    (word as u32 as u16, ((word as u32) >> 16) as u8 as i8)
}

/// The currents of an unfiltered layer, in place in `sums`: `bias + scale(sum)`.
pub(crate) fn unfiltered_currents(
    sums: &mut [i32],
    scales: &[i32],
    biases: &[i32],
    source: Source,
    channels: usize,
) {
    for sums in runs_mut(sums, channels) {
        match source {
            // The static current is already complete.
            Source::Static => return,
            Source::Events => {
                for (sum, (&packed, &bias)) in sums.iter_mut().zip(scales.iter().zip(biases)) {
                    *sum = scaled_sum(*sum, packed).saturating_add(bias);
                }
            }
            Source::Silent => {
                for (sum, &bias) in sums.iter_mut().zip(biases) {
                    *sum = bias;
                }
            }
        }
    }
}

/// The currents of a filtered layer, in place in `filter`: `z += g * (target - z)` with the
/// target `bias + scale(sum)` (see the module docs). The product by the gain is chosen
/// once per layer: [`mul_small_gain`] (one `SMMULR` on Cortex-M4) for every gain below
/// [`SMALL_GAIN_LIMIT`](crate::fixed_point::SMALL_GAIN_LIMIT), [`mul_gain`] above; both give
/// the same bits.
pub(crate) fn filter_currents(
    sums: &[i32],
    filter: &mut [i32],
    scales: &[i32],
    biases: &[i32],
    gain: i32,
    source: Source,
    channels: usize,
) {
    // Cores without a long multiply have one product for every gain.
    #[cfg(picospike_long_multiply)]
    if gain < crate::fixed_point::SMALL_GAIN_LIMIT {
        return filter_with::<true>(sums, filter, scales, biases, gain, source, channels);
    }
    filter_with::<false>(sums, filter, scales, biases, gain, source, channels);
}

/// [`filter_currents`] with the product [`mul_small_gain`] (`SMALL`) or [`mul_gain`].
#[inline(always)]
fn filter_with<const SMALL: bool>(
    sums: &[i32],
    filter: &mut [i32],
    scales: &[i32],
    biases: &[i32],
    gain: i32,
    source: Source,
    channels: usize,
) {
    let lowpass = |z: &mut i32, target: i32| *z = lowpass_with::<SMALL>(*z, target, gain);
    let run = |sums: &[i32], filter: &mut [i32]| match source {
        Source::Static => {
            for (z, &target) in filter.iter_mut().zip(sums) {
                lowpass(z, target);
            }
        }
        Source::Events => {
            for ((z, &sum), (&packed, &bias)) in
                filter.iter_mut().zip(sums).zip(scales.iter().zip(biases))
            {
                lowpass(z, scaled_sum(sum, packed).saturating_add(bias));
            }
        }
        Source::Silent => {
            for (z, &bias) in filter.iter_mut().zip(biases) {
                lowpass(z, bias);
            }
        }
    };
    if sums.len() == channels {
        // A vector: one run, without the runs' iterators.
        run(sums, filter);
    } else {
        for (sums, filter) in runs(sums, channels).zip(runs_mut(filter, channels)) {
            run(sums, filter);
        }
    }
}

/// One step of one neuron's filter, `z += g * (target - z)`, with the product
/// [`filter_currents`] picks for `gain` (for the layer-major order's one neuron at a time).
#[inline(always)]
pub(crate) fn lowpass(z: i32, target: i32, gain: i32) -> i32 {
    #[cfg(picospike_long_multiply)]
    if gain < crate::fixed_point::SMALL_GAIN_LIMIT {
        return lowpass_with::<true>(z, target, gain);
    }
    lowpass_with::<false>(z, target, gain)
}

/// One filter step with the product [`mul_small_gain`] (`SMALL`) or [`mul_gain`].
#[inline(always)]
fn lowpass_with<const SMALL: bool>(z: i32, target: i32, gain: i32) -> i32 {
    let difference = target.saturating_sub(z);
    let step = if SMALL {
        mul_small_gain(difference, gain)
    } else {
        mul_gain(difference, gain)
    };
    z.saturating_add(step)
}

/// A step's integer sum as a Q16.16 drive.
#[inline(always)]
pub(crate) fn scaled_sum(sum: i32, packed: i32) -> i32 {
    if sum == 0 {
        0
    } else {
        let (multiplier, shift) = unpack_scale(packed);
        scale(sum, multiplier, shift)
    }
}
