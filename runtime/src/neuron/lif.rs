//! The LIF neuron (Nengo `LIF`): its constants and its fixed-point step.
//!
//! Input currents reach a neuron as Q16.16 numbers (see [`crate::fixed_point`]). The dynamics
//! follow Nengo's reference simulator; the LIF update reproduces Nengo's exact integration
//! (exponential partial step after the refractory period, spike at the exact threshold
//! crossing) in integer arithmetic, with no division on any target, no `i64` on Cortex-M0 and
//! the host, and one 32x32->64 multiply per neuron-step on Cortex-M3/M4/M7:
//!
//! * **Full step** (the fast path, every neuron every step): `v += (J - v) * gain` with
//!   `gain = 1 - exp(-dt/tau_rc)` as a 16-bit mantissa and a power-of-two exponent: two 32-bit
//!   multiplies, or one `SMMLAR` on Cortex-M4 (same bits).
//! * **Partial step** of length `f` after the refractory period: `1 - exp(-f*dt/tau_rc)`. When
//!   `tau_ref` is a whole number of steps this is exactly the spike's `q` (below), kept in the
//!   voltage word through the period; otherwise a cubic in `f` fitted at load time (exact at
//!   `f = 0` and `f = 1`), three [`mul_gain`].
//! * **Spike time**: the time from the crossing to the end of the step is
//!   `-tau_rc * ln(1 - q)` with `q = (v - 1) / (J - 1)`. `1 / (J - 1)` is computed by
//!   normalisation (leading-zero count), a 64-entry reciprocal table and one Newton step, and
//!   the logarithm as a quartic in `q / gain` fitted at load time.
//!
//! The remaining deviations from Nengo are the roundings (of the gain, the Q16.16 voltage and
//! the refractory time) and the two polynomial approximations, each bounded in `SEMANTICS.md`
//! and measured against the closed-form rate curve by the tests (60 s of constant current:
//! rates within 0.02%).
//!
//! A first LIF layer without a synapse does not step these dynamics while an input is presented
//! from rest: its current is constant, and the spike clocks ([`super::clock`]) place its
//! spikes at the exact crossing times in closed form.

use crate::fixed_point::{self, mul_gain, ONE};
use crate::integer::{normalising_shift, reciprocal_normalised};

/// Longest refractory period the Q16.16 counter holds, in time steps.
const MAX_REFRACTORY_STEPS: f32 = 30_000.0;

/// Constants of the LIF update, decoded once at load time (15 words, 60 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LifConstants {
    /// The decay gain `1 - exp(-dt/tau_rc)` is `gain / 2^(16 + gain_shift)`: a 16-bit
    /// mantissa (`2^15..2^16` unless `tau_rc` is below 1.5 steps or above 32,768 steps), so
    /// that its rounding changes the rate by at most ~1e-5 (a Q0.16 gain: up to 4e-4).
    pub(crate) gain: i32,
    /// `0..=14`.
    pub(crate) gain_shift: u32,
    /// `2^(gain_shift - 1)`, or 0 when `gain_shift` is 0: the rounding half of the update.
    pub(crate) gain_half: i32,
    /// `tau_ref / dt`, in Q16.16 time steps.
    pub(crate) refractory: i32,
    /// Lower bound of the voltage, Q16.16.
    pub(crate) min_voltage: i32,
    /// `1 - exp(-f*dt/tau_rc) ~= f * (p[0] + f * (p[1] + f * p[2]))` for `f` in `[0, 1]`,
    /// coefficients in Q2.30; exact at `f = 1` up to rounding.
    pub(crate) partial: [i32; 3],
    /// Time from the crossing to the end of the step, in steps, as a function of
    /// `y = q / gain` in `[0, 1]`: `y * (t[0] + y * (t[1] + y * (t[2] + y * t[3])))`, Q2.30.
    pub(crate) timing: [i32; 4],
    /// `1 / gain = inverse_gain * 2^inverse_gain_shift / 2^16`, mantissa in `2^15..=2^16`.
    pub(crate) inverse_gain: i32,
    /// Exponent of [`LifConstants::inverse_gain`], `0..=17`.
    pub(crate) inverse_gain_shift: u32,
    /// Whether the gain of the step in which a refractory period ends is the spike's `q` (see
    /// [`lif_refractory_end`]): `tau_ref` is a whole number of steps, at least one, and the
    /// spike time comes from the logarithm (not the fallback for `tau_rc` below 1.44 steps,
    /// whose `q` is not kept).
    pub(crate) partial_gain_is_q: bool,
}

impl LifConstants {
    /// Derive the constants for decay gain `b = 1 - exp(-dt/tau_rc)` (in `(0, 1]`),
    /// refractory period `refractory` (Q16.16 steps) and voltage floor `min_voltage` (Q16.16).
    ///
    /// The polynomial coefficients are derived from the *rounded* gain, so the spike time is
    /// consistent with the integration the neuron actually performs. Float math only here.
    pub(crate) fn new(b: f32, refractory: i32, min_voltage: i32) -> Self {
        let b = if b.is_finite() {
            b.clamp(0.0, 1.0)
        } else {
            1.0
        };
        // The gain in Q0.30, then the largest exponent (fewest bits dropped) that keeps the
        // rounded mantissa within 16 bits. Integer loops: this runs on the device at load.
        let b30 = (micromath::F32Ext::round(b * (1u32 << 30) as f32) as i32).max(1 << 13);
        let rounded = |drop: u32| (b30 + ((1 << drop) >> 1)) >> drop;
        let mut drop = 0;
        while drop < 14 && rounded(drop) > 0xFFFF {
            drop += 1;
        }
        let gain = rounded(drop).min(ONE);
        let gain_shift = 14 - drop;
        let b = gain as f32 / (1u32 << (16 + gain_shift)) as f32;
        let (partial, timing) = if b <= 0.5 {
            // a = -ln(1 - b) = 2 atanh(z), z = b / (2 - b) <= 1/3: the series converges fast
            // and stays accurate in f32 (micromath's ln is good to ~1e-4 only).
            let z = b / (2.0 - b);
            let (mut term, mut sum) = (z, 0.0f32);
            // z^2 <= 1/9: nine terms leave less than 1e-9.
            for k in [1.0f32, 3.0, 5.0, 7.0, 9.0, 11.0, 13.0, 15.0, 17.0] {
                sum += term / k;
                term *= z * z;
            }
            let a = 2.0 * sum;
            // 1 - exp(-f a) = a f - a^2 f^2 / 2 + ..., the cubic term absorbing the rest so
            // that f = 1 gives b.
            let (p1, p2) = (a, -a * a / 2.0);
            let p3 = b - p1 - p2;
            // -ln(1 - b y) / a = (b y + (b y)^2 / 2 + (b y)^3 / 3 + ...) / a, the quartic term
            // absorbing the rest so that y = 1 gives exactly one step.
            let t1 = b / a;
            let t2 = t1 * b / 2.0;
            let t3 = t1 * b * b / 3.0;
            let t4 = 1.0 - t1 - t2 - t3;
            ([p1, p2, p3].map(q30), [t1, t2, t3, t4].map(q30))
        } else {
            // tau_rc < 1.44 dt: the series above would converge slowly; fall back to linear
            // partial integration, and to a first-order climb time for the spike (see
            // `spike_refractory`): timing holds 1 (the marker, as t1 = b/a < 1 otherwise) and
            // 1/a = tau_rc/dt in Q2.30, 0 when the voltage reaches the current at once.
            // micromath's ln is only good to ~1e-4 (enough here) and not defined at 0.
            let inverse_a = if b >= 1.0 {
                0.0
            } else {
                -1.0 / micromath::F32Ext::ln(1.0 - b)
            };
            ([q30(b), 0, 0], [q30(1.0), q30(inverse_a.min(1.99)), 0, 0])
        };
        // The smallest shift that brings 2^16 / (b * 2^shift) down to 2^16 or below:
        // gain * 2^shift >= 2^(16 + gain_shift).
        let mut inverse_gain_shift = 0;
        while inverse_gain_shift < 17 && (gain << inverse_gain_shift) < 1 << (16 + gain_shift) {
            inverse_gain_shift += 1;
        }
        let scaled = b * (1u32 << inverse_gain_shift) as f32;
        let inverse_gain = micromath::F32Ext::round(65_536.0 / scaled) as i32;
        LifConstants {
            gain,
            gain_shift,
            gain_half: (1 << gain_shift) >> 1,
            refractory,
            min_voltage,
            partial,
            timing,
            inverse_gain: inverse_gain.clamp(1 << 15, ONE),
            inverse_gain_shift,
            partial_gain_is_q: refractory >= ONE
                && refractory & (ONE - 1) == 0
                && timing[0] != 1 << 30,
        }
    }

    /// `difference * gain / 2^(16 + gain_shift)`, rounded half up (down when `gain_shift` is
    /// 0, i.e. `tau_rc` below 1.44 steps): [`LifConstants::decay_wide`] (one `SMMULR`) on
    /// Cortex-M3/M4/M7, [`LifConstants::decay_narrow`] (two 32-bit multiplies) elsewhere; both
    /// give the same bits (tested on the host). The result lies between 0 and `difference`.
    #[inline(always)]
    pub(crate) fn decay(&self, difference: i32, gain: i32) -> i32 {
        #[cfg(picospike_long_multiply)]
        {
            self.decay_wide(difference, gain)
        }
        #[cfg(not(picospike_long_multiply))]
        {
            self.decay_narrow(difference, gain)
        }
    }

    /// [`LifConstants::decay`] in 32-bit operations: with `difference = high * 2^16 + low`,
    /// `(high * gain + ((low * gain) >> 16) + half) >> gain_shift`, exact by the argument of
    /// [`fixed_point::scale_narrow`]; `|high * gain| <= 2^31 - 2^16` (`gain < 2^16` unless
    /// `gain_shift` is 0), so nothing overflows.
    // Not used where `decay_wide` is; the tests check the two against each other.
    #[cfg_attr(all(not(test), picospike_long_multiply), allow(dead_code))]
    #[inline(always)]
    fn decay_narrow(&self, difference: i32, gain: i32) -> i32 {
        let high = (difference >> 16).wrapping_mul(gain);
        let low = ((difference as u32) & 0xFFFF).wrapping_mul(gain as u32) >> 16;
        high.wrapping_add(low as i32).wrapping_add(self.gain_half) >> self.gain_shift
    }

    /// [`LifConstants::decay`] with one 32x32->64 multiply: the gain as a Q0.32 fraction
    /// `gain << (16 - gain_shift)` (below 2^31 when `gain_shift >= 1`), the high word rounded
    /// (one `SMMLAR` together with the voltage update); for `gain_shift == 0` (`tau_rc` below
    /// 1.44 steps) the floored 48-bit product.
    // Cortex-M3/M4/M7 only; the tests check it against `decay_narrow` on the host.
    #[cfg_attr(not(any(test, picospike_long_multiply)), allow(dead_code))]
    #[inline(always)]
    fn decay_wide(&self, difference: i32, gain: i32) -> i32 {
        let difference = i64::from(difference);
        if self.gain_shift == 0 {
            ((difference * i64::from(gain)) >> 16) as i32
        } else {
            let fraction = i64::from(gain.wrapping_shl(16 - self.gain_shift));
            ((difference * fraction + (1 << 31)) >> 32) as i32
        }
    }
}

/// `x` in Q2.30, rounded to nearest (`x` is within `(-2, 2)` for every caller).
#[inline(never)] // load time only: one copy of the soft-float rounding on Cortex-M0
fn q30(x: f32) -> i32 {
    micromath::F32Ext::round(x * (1u32 << 30) as f32) as i32
}

/// Check a LIF layer's parameters (Nengo's `tau_rc`, `tau_ref` and `min_voltage`) and derive
/// its constants for time step `dt` seconds; the error names the parameter out of range.
#[cfg(test)]
pub(crate) fn constants(
    tau_rc: f32,
    tau_ref: f32,
    min_voltage: f32,
    dt: f32,
) -> Result<LifConstants, &'static str> {
    let (gain, refractory, min_voltage) = checked(tau_rc, tau_ref, min_voltage, dt)?;
    Ok(LifConstants::new(gain, refractory, min_voltage))
}

/// The checks of [`constants`] and the arguments of [`LifConstants::new`]: the decay gain
/// `1 - exp(-dt/tau_rc)`, the refractory period (Q16.16 steps) and the voltage floor (Q16.16).
/// Apart from `new`, so that the loader builds the constants in their place.
pub(crate) fn checked(
    tau_rc: f32,
    tau_ref: f32,
    min_voltage: f32,
    dt: f32,
) -> Result<(f32, i32, i32), &'static str> {
    if !(tau_rc.is_finite() && tau_rc > 0.0) {
        return Err("tau_rc");
    }
    let gain = fixed_point::one_minus_exp_neg(dt / tau_rc);
    // Gains that round to 0 in Q0.16 (tau_rc above ~131,000 steps) would barely move the
    // voltage.
    if gain.is_nan() || gain < 0.5 / ONE as f32 {
        return Err("tau_rc");
    }
    let steps = tau_ref / dt;
    if !(steps.is_finite() && (0.0..=MAX_REFRACTORY_STEPS).contains(&steps)) {
        return Err("tau_ref");
    }
    let refractory = fixed_point::q16_from_f32(steps).ok_or("tau_ref")?.to_bits();
    if !(min_voltage.is_finite() && (-1000.0..=0.0).contains(&min_voltage)) {
        return Err("min_voltage");
    }
    let min_voltage = fixed_point::q16_from_f32(min_voltage)
        .ok_or("min_voltage")?
        .to_bits();
    Ok((gain, refractory, min_voltage))
}

/// Advance one LIF neuron by one step under input current `current`; returns its spike count.
///
/// `voltage` and `refractory` (time steps left, 0 when the neuron is not refractory) are
/// Q16.16 raw values. Nengo's step, in integers: after the refractory period the neuron
/// integrates for the part `f` of the step left, `v += (J - v) * (1 - exp(-f*dt/tau_rc))`; if
/// `v > 1` it spikes, `v := 0`, and the refractory period runs `tau_ref` from the exact
/// crossing, `tau_rc * ln((J - 1) / (J - v))` before the end of the step. The fast path (not
/// refractory, no spike) is one [`mul_gain`] and a few adds and compares.
///
/// The engine runs it in two passes ([`lif_common_steps`], then [`lif_finish_noted`] for the
/// few noted neurons), which leave the same state (tested); this one-neuron form is their
/// specification.
// The specification the engine's two passes are tested against; the step order runs those,
// the layer-major order (one neuron at a time) this.
#[inline(always)]
pub(crate) fn lif_step(
    voltage: &mut i32,
    refractory: &mut i32,
    current: i32,
    constants: &LifConstants,
) -> i32 {
    match lif_common_step(voltage, refractory, current, constants) {
        CommonStep::Done => 0,
        CommonStep::RefractoryEnds { left } => {
            lif_refractory_end(voltage, refractory, left, current, constants)
        }
        CommonStep::Crosses { before, after } => {
            lif_spike(voltage, refractory, current, before, after, ONE, constants)
        }
    }
}

/// What [`lif_common_step`] left to do.
pub(crate) enum CommonStep {
    /// The step is complete (integrated below threshold, or still refractory).
    Done,
    /// The refractory period ends `left` (Q16.16, below one step) before this step's end.
    RefractoryEnds { left: i32 },
    /// A whole-step integration from `before` reaches `after`, past the threshold.
    Crosses { before: i32, after: i32 },
}

/// The common case of a LIF step, shared by [`lif_step`] and [`lif_common_steps`]: a neuron
/// whose refractory period goes on past this step counts down, one that integrates to at most
/// the threshold stores its new voltage; anything else is returned untouched.
#[inline(always)]
pub(crate) fn lif_common_step(
    voltage: &mut i32,
    refractory: &mut i32,
    current: i32,
    constants: &LifConstants,
) -> CommonStep {
    if *refractory != 0 {
        if *refractory == AT_REST {
            // At rest under a static current: the step changes nothing (see `mark_at_rest`).
            return CommonStep::Done;
        }
        // Count the period down; a step that is refractory throughout leaves the voltage (0).
        let left = refractory.saturating_sub(ONE);
        if left >= ONE {
            *refractory = left;
            return CommonStep::Done;
        }
        if constants.partial_gain_is_q
            && left > 0
            && charge_after_period(voltage, current, constants)
        {
            *refractory = 0;
            return CommonStep::Done;
        }
        return CommonStep::RefractoryEnds { left };
    }
    let before = *voltage;
    // No overflow: the rise lies between 0 and the saturated difference, so `after` lies
    // between `before` and `current` (see `LifConstants::decay`).
    let after =
        before.wrapping_add(constants.decay(current.saturating_sub(before), constants.gain));
    if after > ONE {
        return CommonStep::Crosses { before, after };
    }
    *voltage = after.max(constants.min_voltage);
    CommonStep::Done
}

/// The common case of [`lif_refractory_end`] with a kept `q` (`partial_gain_is_q`): the
/// integration from 0 after the period, with `q` as the gain, when it stays below the
/// threshold. Stores the new voltage and returns true then; returns false (state untouched) if
/// the neuron spikes in this step. Out of line, so that the loop of [`lif_common_steps`] keeps
/// its values in registers.
#[inline(never)]
fn charge_after_period(voltage: &mut i32, current: i32, constants: &LifConstants) -> bool {
    let after = constants.decay(current, q30_to_gain(*voltage, constants));
    if after > ONE {
        return false;
    }
    *voltage = after.max(constants.min_voltage);
    true
}

/// The spike of a neuron whose voltage went from `before` to `after` (past 1) over the last
/// `active` of the step: reset, and the refractory time from the crossing.
pub(crate) fn lif_spike(
    voltage: &mut i32,
    refractory: &mut i32,
    current: i32,
    before: i32,
    after: i32,
    active: i32,
    constants: &LifConstants,
) -> i32 {
    let (period, q) = spike_refractory(current, before, after, active, constants);
    *refractory = period;
    // The voltage is 0 until the period ends and nothing reads it before: it keeps `q` for
    // the step in which the period ends (see `lif_refractory_end`).
    *voltage = if constants.partial_gain_is_q { q } else { 0 };
    1
}

/// The refractory word of a neuron at rest under a static current (see [`mark_at_rest`]).
///
/// Refractory times are never negative, so the mark cannot be mistaken for one.
pub(crate) const AT_REST: i32 = i32::MIN;

/// Integrate for the last `active` (Q0.16) of the step with decay gain `gain` (in the format
/// of [`LifConstants::gain`]), then spike if the voltage passed 1.
#[inline(always)]
fn lif_integrate(
    voltage: &mut i32,
    refractory: &mut i32,
    current: i32,
    gain: i32,
    active: i32,
    constants: &LifConstants,
) -> i32 {
    let before = *voltage;
    // No overflow: the rise lies between 0 and the saturated difference, so `after` lies
    // between `before` and `current` (see `LifConstants::decay`).
    let after = before.wrapping_add(constants.decay(current.saturating_sub(before), gain));
    if after > ONE {
        lif_spike(
            voltage, refractory, current, before, after, active, constants,
        )
    } else {
        *voltage = after.max(constants.min_voltage);
        0
    }
}

/// The step in which a refractory period ends, `left` (below one step) before its end; kept
/// out of line, as it runs once per spike. The neuron integrates from 0 for the part of the
/// step after the period, with the gain `1 - exp(-part*dt/tau_rc)`.
///
/// When `tau_ref` is a whole number of steps, `part` is the time from the spike's threshold
/// crossing to the end of its step, `-tau_rc * ln(1 - q)` (see [`spike_refractory`]), so the
/// gain is exactly `q`: the voltage word kept it through the period ([`lif_spike`]). Otherwise
/// the load-time cubic in `part` gives the gain ([`partial_gain`]).
#[inline(never)]
pub(crate) fn lif_refractory_end(
    voltage: &mut i32,
    refractory: &mut i32,
    left: i32,
    current: i32,
    constants: &LifConstants,
) -> i32 {
    *refractory = 0;
    // The voltage was reset to 0 by the spike; the word held `q` since.
    let q = core::mem::take(voltage);
    if left <= 0 {
        return lif_integrate(voltage, refractory, current, constants.gain, ONE, constants);
    }
    let part = ONE - left;
    let gain = if constants.partial_gain_is_q {
        q30_to_gain(q, constants)
    } else {
        partial_gain(part, constants)
    };
    lif_integrate(voltage, refractory, current, gain, part, constants)
}

/// A Q0.30 fraction in the format of [`LifConstants::gain`], rounded, within `0..=gain`.
#[inline(always)]
fn q30_to_gain(x: i32, constants: &LifConstants) -> i32 {
    // gain_shift <= 14.
    let shift = 14 - constants.gain_shift;
    ((x + ((1 << shift) >> 1)) >> shift)
        .min(constants.gain)
        .max(0)
}

/// `1 - exp(-part*dt/tau_rc)` for `part` in `(0, ONE)` (Q0.16), in the format of
/// [`LifConstants::gain`]: the load-time cubic, three [`mul_gain`].
#[inline(always)]
fn partial_gain(part: i32, constants: &LifConstants) -> i32 {
    let [p1, p2, p3] = constants.partial;
    let poly = mul_gain(p1 + mul_gain(p2 + mul_gain(p3, part), part), part);
    q30_to_gain(poly, constants)
}

/// The refractory time to store after a spike: `tau_ref` plus the part of this step before the
/// threshold crossing, in Q16.16 steps; and `q = (v - 1) / (J - 1)` in Q0.30, the fraction of
/// the way from the threshold to the current that the voltage overshot (0 on the fallback path
/// for `tau_rc` below 1.44 steps).
///
/// `current > after > ONE` (the update moves the voltage towards the current, and the neuron
/// only spikes when the new voltage passes 1), so `0 < after - 1 <= current - 1`.
#[inline(never)]
fn spike_refractory(
    current: i32,
    before: i32,
    after: i32,
    active: i32,
    constants: &LifConstants,
) -> (i32, i32) {
    let excess = current.wrapping_sub(ONE).max(1) as u32;
    let overshoot = (after.wrapping_sub(ONE).max(0) as u32).min(excess);
    // q = overshoot / excess in Q0.30, both normalised into [2^30, 2^31) by the same shift.
    let shift = normalising_shift(excess);
    let inverse_excess = reciprocal_normalised(excess << shift);
    if constants.timing[0] == 1 << 30 {
        // tau_rc below 1.44 steps: the voltage all but reaches the current within the step, so
        // the crossing is the climb from `before` to 1 after the active part starts, to first
        // order `(1 - before) / (J - 1) * tau_rc/dt`; exact as tau_rc -> 0, and monotone in J.
        let climb = (ONE.wrapping_sub(before).max(0) as u32).min(excess);
        let r = mul_gain((climb << shift) as i32, inverse_excess);
        let r = ((r + (1 << 13)) >> 14).clamp(0, ONE);
        let inverse_a = (constants.timing[1] + (1 << 13)) >> 14;
        // `min`/`max`, not `clamp`: `clamp` asserts its bounds are ordered, a panic path.
        let since = active
            .saturating_sub(mul_gain(inverse_a, r))
            .min(active)
            .max(0);
        return (refractory_after(since, constants), 0);
    }
    let q = mul_gain((overshoot << shift) as i32, inverse_excess);
    // y = q / gain in Q0.16 (y <= 1 up to rounding: the crossing lies inside this step).
    let k = constants.inverse_gain_shift;
    let y = mul_gain(q, constants.inverse_gain).min((1 << 30) >> k) << k;
    let y = ((y + (1 << 13)) >> 14).min(ONE);
    let [t1, t2, t3, t4] = constants.timing;
    let since = mul_gain(t1 + mul_gain(t2 + mul_gain(t3 + mul_gain(t4, y), y), y), y);
    let since = ((since + (1 << 13)) >> 14).min(active).max(0);
    // Same bookkeeping as Nengo: the period runs `tau_ref` from the crossing, and the next
    // step starts by removing one step from it.
    (refractory_after(since, constants), q)
}

/// `tau_ref + ONE - since` (Q16.16 steps): no overflow, as `tau_ref` is at most 30,000 steps
/// and `since` in `0..=ONE`.
#[inline(always)]
fn refractory_after(since: i32, constants: &LifConstants) -> i32 {
    constants.refractory.wrapping_add(ONE.wrapping_sub(since))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    const DT: f32 = 0.001;

    /// The constants of a LIF neuron at dt = 1 ms (min voltage 0, amplitude 1).
    pub(crate) fn lif(tau_rc: f32, tau_ref: f32) -> LifConstants {
        constants(tau_rc, tau_ref, 0.0, DT).expect("valid LIF parameters")
    }

    fn q16(x: f64) -> i32 {
        (x * f64::from(ONE)).round() as i32
    }

    /// The membrane voltage of a LIF neuron from its state words: 0 while it is refractory
    /// (the voltage word then holds the spike's `q`, see [`lif_spike`]).
    fn lif_voltage(voltage: i32, refractory: i32) -> i32 {
        if refractory > 0 {
            0
        } else {
            voltage
        }
    }

    /// Q16.16 raw value of the current the fixed-point neuron receives, and that value as f64.
    fn current(j: f64) -> (i32, f64) {
        let raw = q16(j);
        (raw, f64::from(raw) / f64::from(ONE))
    }

    #[test]
    fn lif_voltage_follows_the_exact_exponential_below_threshold() {
        let c = lif(0.02, 0.002);
        let (mut v, mut r) = (0, 0);
        let j = 0.9;
        for step in 1..=60 {
            assert_eq!(lif_step(&mut v, &mut r, q16(j), &c), 0);
            let exact = j * (1.0 - (-(step as f64) * 0.001 / 0.02).exp());
            assert!(
                (f64::from(v) / f64::from(ONE) - exact).abs() < 1e-4,
                "step {step}: {v} vs {exact}"
            );
        }
        // Decay towards a negative current stops at min_voltage = 0.
        assert_eq!(lif_step(&mut v, &mut r, q16(-5.0), &c), 0);
        assert!(v > 0);
        for _ in 0..20 {
            lif_step(&mut v, &mut r, q16(-5.0), &c);
        }
        assert_eq!(v, 0);
    }

    #[test]
    fn lif_refractory_bookkeeping_follows_the_exact_crossing_times() {
        let (tau_rc, tau_ref) = (0.02f64, 0.002f64);
        let c = lif(tau_rc as f32, tau_ref as f32);
        assert_eq!(c.refractory, 2 * ONE);
        let (raw, j) = current(20.0);
        // The membrane time constant the rounded gain implements (within 1e-5 of tau_rc).
        let gain = f64::from(c.gain) / f64::from(1u32 << (16 + c.gain_shift));
        let tau_rc = -0.001 / (1.0 - gain).ln();
        // From v = 0 the voltage reaches 1 after t1 = tau_rc ln(J / (J - 1)) (1.026 steps);
        // refractory periods end tau_ref after each crossing, then the neuron charges again.
        // Tolerance: 2 ulp plus 1 ulp (1.5e-5 steps) of drift per spike, from the roundings of
        // the voltage and the spike time.
        let charge = tau_rc * (j / (j - 1.0)).ln() / 0.001;
        let period = tau_ref / 0.001 + charge;
        let steps = |t: f64| f64::from(ONE) * t;
        let (mut v, mut r) = (0, 0);
        let mut crossing = charge;
        let mut spikes = 0;
        for step in 1..=40 {
            let end = f64::from(step);
            let spiked = lif_step(&mut v, &mut r, raw, &c);
            if end - 1.0 < crossing && crossing <= end {
                assert_eq!(spiked, 1, "step {step}: crossing at {crossing} steps");
                spikes += 1;
                assert_eq!(lif_voltage(v, r), 0);
                // Nengo stores tau_ref plus the part of this step before the crossing.
                let expected = steps(tau_ref / 0.001 + 1.0 - (end - crossing));
                assert!(
                    (f64::from(r) - expected).abs() <= 2.0 + f64::from(spikes),
                    "step {step}: refractory {r} vs {expected}"
                );
                crossing += period;
            } else {
                assert_eq!(spiked, 0, "step {step}");
                let refractory_end = crossing - charge;
                if refractory_end >= end {
                    // Still refractory for the whole step: no integration.
                    assert_eq!(lif_voltage(v, r), 0, "step {step}");
                    // Stored as time left plus one step (the next step subtracts it first).
                    let expected = steps(refractory_end - end + 1.0);
                    let tolerance = 2.0 + f64::from(spikes);
                    assert!(
                        (f64::from(r) - expected).abs() <= tolerance,
                        "step {step}: {r}"
                    );
                } else {
                    // Integrating since the end of the refractory period.
                    let integrated = end - refractory_end;
                    let expected = j * (1.0 - (-integrated * 0.001 / tau_rc).exp());
                    assert_eq!(r, 0, "step {step}");
                    assert!(
                        (f64::from(v) / f64::from(ONE) - expected).abs() < 2e-4,
                        "step {step}: voltage {v} vs {expected}"
                    );
                }
            }
        }
        assert_eq!(spikes, 13);
    }

    #[test]
    fn lif_spike_time_is_the_exact_crossing_of_the_integrated_voltage() {
        // Over many (J, v) pairs that cross inside one step, the stored refractory time matches
        // Nengo's formula evaluated on the fixed-point voltage the step produced.
        let mut worst: f64 = 0.0;
        for &(tau_rc, tau_ref) in &[
            (0.02, 0.002),
            (0.05, 0.001),
            (0.01, 0.004),
            (0.005, 0.0),
            (1.0, 0.002),
            (100.0, 0.002),
        ] {
            let c = lif(tau_rc as f32, tau_ref as f32);
            for i in 0..400 {
                let j = 1.0 + 1e-4 * (3e5f64).powf(f64::from(i) / 399.0);
                let (raw, j) = current(j);
                for k in 1..=16 {
                    let before = ONE - (ONE >> k.min(15)) * (k % 5 + 1) / 6;
                    let after = before + c.decay(raw - before, c.gain);
                    if after <= ONE {
                        continue;
                    }
                    let (mut v, mut r) = (before, 0);
                    assert_eq!(lif_step(&mut v, &mut r, raw, &c), 1);
                    let q = (f64::from(after) / f64::from(ONE) - 1.0) / (j - 1.0);
                    let since = -tau_rc * (1.0 - q).ln() / 0.001;
                    let expected = tau_ref / 0.001 + 1.0 - since.min(1.0);
                    let error = (f64::from(r) / f64::from(ONE) - expected).abs();
                    // Q0.30 keeps fewer bits of q when the gain is tiny (tau_rc > 1000 steps).
                    let tolerance = if tau_rc > 1.0 { 3e-4 } else { 6e-5 };
                    assert!(
                        error < tolerance,
                        "J={j} v={before} tau_rc={tau_rc}: {error}"
                    );
                    if tau_rc <= 1.0 {
                        worst = worst.max(error);
                    }
                }
            }
        }
        std::println!("worst spike-time error (tau_rc <= 1000 steps): {worst:.2e} steps");
    }

    #[test]
    fn lif_partial_step_gain_is_the_exact_exponential() {
        for &tau_rc in &[0.002f32, 0.005, 0.01, 0.02, 0.05, 1.0] {
            let c = lif(tau_rc, 0.0);
            let unit = f64::from(1u32 << (16 + c.gain_shift));
            let decay = 1.0 - f64::from(c.gain) / unit;
            let a = -decay.ln();
            // The documented bound of the cubic, plus rounding.
            let bound = 1.0 + 0.0045 * a.powi(4) * unit;
            for part in (1..ONE).step_by(997) {
                let gain = partial_gain(part, &c);
                let exact = 1.0 - decay.powf(f64::from(part) / f64::from(ONE));
                let error = (f64::from(gain) - exact * unit).abs();
                assert!(
                    error <= bound,
                    "tau_rc={tau_rc} part={part}: {gain} vs {exact}"
                );
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn both_decay_kernels_agree(difference: i32, tau_rc in 0.0002f32..60.0, part in 0..=ONE) {
            let c = lif(tau_rc, 0.002);
            // The full gain and a partial one, as the step uses them.
            for gain in [c.gain, partial_gain(part.max(1), &c)] {
                let narrow = c.decay_narrow(difference, gain);
                proptest::prop_assert_eq!(narrow, c.decay_wide(difference, gain));
                // Between 0 and the difference: the voltage moves towards the current.
                proptest::prop_assert!(narrow.min(0) >= difference.min(0));
                proptest::prop_assert!(narrow.max(0) <= difference.max(0));
            }
        }
    }

    #[test]
    fn lif_constants_stay_small() {
        assert_eq!(core::mem::size_of::<LifConstants>(), 60);
    }

    #[test]
    fn both_decay_kernels_agree_on_edges() {
        for tau_rc in [0.0001f32, 0.001, 0.00144, 0.0015, 0.02, 0.05, 65.0] {
            let c = lif(tau_rc, 0.0);
            for gain in [0, 1, c.gain / 2, c.gain] {
                for d in [i32::MIN, i32::MIN + 1, -65_537, -1, 0, 1, 65_535, i32::MAX] {
                    assert_eq!(
                        c.decay_narrow(d, gain),
                        c.decay_wide(d, gain),
                        "{tau_rc} {d}"
                    );
                }
            }
        }
    }

    /// Spike count of one neuron under constant current over `steps` steps.
    fn lif_count(c: &LifConstants, j: i32, steps: u32) -> u32 {
        let (mut v, mut r) = (0, 0);
        (0..steps)
            .map(|_| lif_step(&mut v, &mut r, j, c) as u32)
            .sum()
    }

    /// The rate criterion: 60 s of constant current, J from 1.05 to 20, against
    /// Nengo's exact LIF, whose spikes are the closed-form crossings: the first after
    /// `tau_rc ln(J / (J - 1))`, then one every `tau_ref + tau_rc ln(J / (J - 1))`.
    ///
    /// Checked: the spike count against the exact count (within 0.1%, or at most one spike
    /// when 0.1% is less than one spike: below 1000 spikes a rate error of 1e-4 still flips a
    /// count whose exact value is within 0.1 spike of an integer), and the rate measured from
    /// the crossing times the neuron stores against the closed form (within 0.1%).
    #[test]
    fn lif_counts_over_60_s_match_the_closed_form_within_0_1_percent() {
        let steps = 60_000u32;
        let seconds = f64::from(steps) * f64::from(DT);
        for &(tau_rc, tau_ref) in &[(0.02f64, 0.002f64), (0.05, 0.001), (0.01, 0.004)] {
            let c = lif(tau_rc as f32, tau_ref as f32);
            let (mut worst_count, mut worst_j, mut worst_counts) = (0.0f64, 0.0, (0, 0.0));
            let (mut worst_rate, mut flips) = (0.0f64, 0);
            for i in 0..=48 {
                // Geometric in J - 1 from 0.05 to 19.
                let (raw, j) = current(1.0 + 0.05 * 380f64.powf(f64::from(i) / 48.0));
                let charge = tau_rc * (j / (j - 1.0)).ln();
                let exact = (seconds - charge) / (tau_ref + charge) + 1.0;
                let expected = exact.floor();
                let (mut v, mut r, mut count) = (0, 0, 0u32);
                let (mut first, mut last) = (0.0, 0.0);
                for step in 1..=steps {
                    if lif_step(&mut v, &mut r, raw, &c) == 1 {
                        // The crossing, `tau_ref + 1 - r` steps before the end of this step.
                        let since = f64::from(c.refractory + ONE - r) / f64::from(ONE);
                        last = (f64::from(step) - since) * f64::from(DT);
                        if count == 0 {
                            first = last;
                        }
                        count += 1;
                    }
                }
                let error = (f64::from(count) - expected) / expected;
                let rate = f64::from(count - 1) / (last - first);
                let rate_error = rate * (tau_ref + charge) - 1.0;
                assert!(
                    error.abs() <= 0.001 || (f64::from(count) - expected).abs() <= 1.0,
                    "tau_rc={tau_rc} tau_ref={tau_ref} J={j}: {count} spikes, exact {exact:.3}"
                );
                if f64::from(count) != expected {
                    flips += 1;
                }
                if error.abs() > worst_count.abs() {
                    (worst_count, worst_j, worst_counts) = (error, j, (count, exact));
                }
                worst_rate = worst_rate.max(rate_error.abs());
            }
            std::println!(
                "tau_rc={tau_rc} tau_ref={tau_ref}: worst 60 s count error {:+.4}% at J={worst_j:.4} ({} spikes, exact {:.3}); {flips} of 49 counts off by one; worst rate error {:.4}%",
                worst_count * 100.0,
                worst_counts.0,
                worst_counts.1,
                worst_rate * 100.0,
            );
            assert!(
                worst_rate <= 0.001,
                "tau_rc={tau_rc} tau_ref={tau_ref}: {worst_rate}"
            );
        }
    }

    #[test]
    fn lif_below_threshold_never_spikes() {
        let c = lif(0.02, 0.002);
        assert_eq!(lif_count(&c, ONE, 5000), 0);
        assert_eq!(lif_count(&c, -3 * ONE, 5000), 0);
        assert_eq!(lif_count(&c, i32::MIN, 5000), 0);
        // Huge currents cross right at the start of the step after the refractory period:
        // one spike every tau_ref, without overflow.
        assert_eq!(lif_count(&c, i32::MAX, 3000), 1500);
    }
}
