//! Spike clocks: LIF neurons under a constant current, stepped by their exact spike times.
//!
//! Nengo's LIF step integrates the membrane exactly under a current held over the step and
//! places each spike at the exact threshold crossing, so under a constant current `J > 1` a
//! neuron that starts at rest fires at the closed-form times of the continuous model: first
//! after `t1 = tau_rc ln(J / (J - 1))`, then every `tau_ref + t1` (when `tau_ref` is at least one
//! step; a shorter period can lose time to Nengo's one-spike-per-step limit). A step emits the
//! neuron's spike if a crossing falls inside it, and a current of at most 1 never fires.
//!
//! The first layer's current is constant while an input is presented (it has no synapse), so
//! [`crate::Network::set_input`] computes each neuron's `t1` once, from two base-2 logarithms
//! (`crate::integer::log2_shifted`: leading-zero count and a 257-entry table), and puts every neuron that fires on a
//! timing wheel ([`Wheel`]): a list per step modulo 16, linked through the layer's `sums` words.
//! A step ([`step`]) visits only its own bucket, i.e. the neurons that spike in it (and those a
//! whole turn of the wheel later), so a silent neuron costs nothing per step. That replaces the
//! voltage update, the threshold test and the spike-time interpolation of [`super::lif`]'s
//! stepwise LIF, with no division and no `i64` anywhere.
//!
//! A clock starts only from rest (after [`crate::Network::reset`]). When the input changes
//! mid-run, the clocked state is converted back to voltages and refractory times ([`unwind`],
//! in `f32`, once per input change) and the layer goes on stepwise until the next reset.

use crate::event::{event, flat_index, positions};
use crate::fixed_point::{exp, mul_gain, one_minus_exp, ONE};
use crate::integer::{leading_zeros, log2_shifted};
use crate::shape::Shape;

use super::lif::LifConstants;

/// Longest period a clock holds, in steps: `17 ln 2 tau_rc/dt + tau_ref/dt` (the largest `t1`
/// a Q16.16 current can give, plus the refractory period) must stay below it, so that every
/// time the clock compares lies within 2^30 of its reading.
const MAX_PERIOD_STEPS: f32 = 16_384.0;

/// A layer's constants for its spike clock, derived once at load time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ClockConstants {
    /// `tau_rc / dt * ln 2 / 2^10 = time_scale / 2^16 * 2^exponent`, mantissa in
    /// `2^15..2^16`: the factor from a Q5.26 difference of base-2 logarithms to Q16.16 steps.
    time_scale: i32,
    /// The exponent of [`ClockConstants::time_scale`] when it is positive (a left shift), else 0.
    time_left: u32,
    /// Its magnitude when it is negative (a right shift, at most 30), else 0.
    time_right: u32,
    /// The rounding half of the right shift, `2^(time_right - 1)` (0 without one).
    time_half: i32,
    /// `tau_rc / dt` (`f32` bits), for [`unwind`].
    tau_steps: u32,
}

impl ClockConstants {
    /// The clock constants for `tau_rc / dt = tau_steps` and a refractory period of
    /// `refractory_steps`, or `None` when the layer cannot be clocked: a period shorter than
    /// one step, or crossing times beyond [`MAX_PERIOD_STEPS`].
    #[inline(never)] // load time only: one copy
    pub(crate) fn new(tau_steps: f32, refractory_steps: f32) -> Option<Self> {
        let scale = tau_steps * core::f32::consts::LN_2;
        let longest = 17.0 * scale + refractory_steps;
        if !(refractory_steps >= 1.0 && scale > 0.0 && longest < MAX_PERIOD_STEPS) {
            return None;
        }
        // scale / 2^10 = mantissa / 2^16 * 2^shift, i.e. mantissa = scale * 2^(6 - shift), the
        // smallest shift that keeps the rounded mantissa below 2^16.
        let mut time_shift = -40i32;
        let mut mantissa = scale * (1u64 << 46) as f32;
        while mantissa >= 65_535.5 {
            mantissa *= 0.5;
            time_shift += 1;
        }
        // A right shift beyond 30 leaves less than a ulp of the product (below 2^30): the
        // mantissa is then 0, and so is every time.
        let (time_scale, time_shift) = if time_shift < -30 {
            (0, 0)
        } else {
            (micromath::F32Ext::round(mantissa) as i32, time_shift)
        };
        let time_right = time_shift.min(0).unsigned_abs();
        Some(ClockConstants {
            time_scale,
            time_left: time_shift.max(0) as u32,
            time_right,
            time_half: (1 << time_right) >> 1,
            tau_steps: tau_steps.to_bits(),
        })
    }

    /// `tau_rc / dt * ln 2 * difference` in Q16.16 steps, for a Q5.26 `difference` in
    /// `0..=2^30` (below 2^30 after the shift, by the bound checked in `new`).
    #[inline(always)]
    fn time(&self, difference: i32) -> i32 {
        let product = mul_gain(difference, self.time_scale);
        // One of the two shifts is 0.
        ((product << (self.time_left & 31)) + self.time_half) >> (self.time_right & 31)
    }
}

/// Buckets of the timing wheel: one per step, modulo 16.
pub(crate) const WHEEL: usize = 16;

/// The end of a bucket's list.
const NONE: u32 = u32::MAX;

/// A clocked layer's clock and its timing wheel.
///
/// Each neuron that fires is in the list of the bucket of the step its next crossing falls
/// in, modulo [`WHEEL`]: a step visits only its own bucket, i.e. the neurons that spike in it
/// (and those whose crossing is a whole number of turns of the wheel later, which go back).
/// The lists are linked through the layer's `sums` words (a neuron's current is not needed
/// while its clock runs: [`unwind`] recovers it from the period) and name neurons by their
/// event positions, so that a spike's event needs no division for a feature map.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Wheel {
    /// The end of the last step, Q16.16 steps since the clocks started (wrapping).
    now: u32,
    /// Steps since the clocks started (saturating).
    elapsed: u32,
    /// The first position in each bucket's list, [`NONE`] for an empty bucket.
    heads: [u32; WHEEL],
}

/// The bucket of a crossing at `time` (Q16.16 steps): its step, modulo [`WHEEL`].
#[inline(always)]
fn bucket(time: u32) -> usize {
    (time >> 16) as usize & (WHEEL - 1)
}

/// Start the clocks of a layer at rest (voltage 0, not refractory) under `currents`, the
/// layer's clock at 0: each neuron whose current exceeds 1 first crosses after `t1`.
///
/// `state` holds two words per neuron, `[next crossing, period]`: the next crossing in Q16.16
/// steps on the layer's clock (wrapping), the period `tau_ref + t1` in Q16.16 steps, 0 for a
/// neuron whose current never makes it fire (its current stays in `currents`). The current
/// of a neuron that fires is replaced by its link in the wheel.
pub(crate) fn start(
    state: &mut [i32],
    currents: &mut [i32],
    shape: Shape,
    clock: &ClockConstants,
    lif: &LifConstants,
) -> Wheel {
    let mut wheel = Wheel {
        now: 0,
        elapsed: 0,
        heads: [NONE; WHEEL],
    };
    // A vector's positions are its indices: its loop goes without the walk.
    if shape.is_vector() {
        start_with(
            &mut wheel,
            state,
            currents,
            |index| index as u32,
            clock,
            lif,
        );
    } else {
        start_with(&mut wheel, state, currents, positions(shape), clock, lif);
    }
    wheel
}

/// [`start`] with the neurons' event positions from `position` (called in index order).
#[inline(always)]
fn start_with(
    wheel: &mut Wheel,
    state: &mut [i32],
    currents: &mut [i32],
    mut position: impl FnMut(usize) -> u32,
    clock: &ClockConstants,
    lif: &LifConstants,
) {
    let (pairs, _) = state.as_chunks_mut::<2>();
    for (index, ([next, period], current)) in pairs.iter_mut().zip(currents).enumerate() {
        let at = position(index);
        if *current > ONE {
            let t1 = first_crossing(*current, clock);
            (*next, *period) = (t1, lif.refractory.wrapping_add(t1));
            let head = &mut wheel.heads[bucket(t1 as u32)];
            *current = *head as i32;
            *head = at;
        } else {
            (*next, *period) = (0, 0);
        }
    }
}

/// `tau_rc ln(J / (J - 1))` in Q16.16 steps, for a Q16.16 current `J > 1`.
#[inline(always)]
pub(crate) fn first_crossing(current: i32, clock: &ClockConstants) -> i32 {
    let (j, excess) = (current as u32, current.wrapping_sub(ONE) as u32);
    let shift = leading_zeros(j);
    #[cfg(any(picospike_long_multiply, not(target_arch = "arm")))]
    let excess_shift = leading_zeros(excess.max(1));
    #[cfg(not(any(picospike_long_multiply, not(target_arch = "arm"))))]
    let excess_shift = excess_leading_zeros(j, shift);
    let difference = log2_shifted(j, shift) - log2_shifted(excess, excess_shift);
    clock.time(difference.max(0))
}

/// The leading-zero count of `J - 1` for a Q16.16 `J > 1` with `shift` leading zeros: for
/// `J >= 2`, that of `J` or one more, so that on Cortex-M0, whose normalisation is a binary
/// search, one search serves both logarithms (the same count as [`leading_zeros`], tested).
// Used on Cortex-M0 only; compiled everywhere so that the host tests check it.
#[cfg_attr(
    all(not(test), any(picospike_long_multiply, not(target_arch = "arm"))),
    allow(dead_code)
)]
#[inline(always)]
fn excess_leading_zeros(j: u32, shift: u32) -> u32 {
    let excess = j.wrapping_sub(ONE as u32).max(1);
    if j >= 2 * ONE as u32 {
        shift + u32::from(excess << shift >> 31 == 0)
    } else {
        leading_zeros(excess)
    }
}

/// One step of a clocked layer: the clock moves to the end of the step, and every neuron in
/// this step's bucket whose crossing has passed spikes and moves on by its period; each goes
/// back into the bucket of its next crossing. An event of one spike per neuron that spiked is
/// written to `spiked` (as many as it holds), in the order of the bucket's list; returns how
/// many.
///
/// A crossing exactly at the step's end belongs to the next step, as Nengo's voltage must
/// exceed the threshold. Costs a few instructions per step and about 25 per neuron visited (on
/// Cortex-M4), nothing for the others.
#[inline(never)]
pub(crate) fn step(
    wheel: &mut Wheel,
    state: &mut [i32],
    links: &mut [i32],
    shape: Shape,
    spiked: &mut [i32],
) -> usize {
    wheel.now = wheel.now.wrapping_add(ONE as u32);
    wheel.elapsed = wheel.elapsed.saturating_add(1);
    let now = wheel.now;
    // The crossings in [now - 1, now) are in the bucket of step now - 1.
    let this = bucket(now.wrapping_sub(ONE as u32));
    let mut position = core::mem::replace(&mut wheel.heads[this], NONE);
    let (pairs, _) = state.as_chunks_mut::<2>();
    let mut count = 0;
    // Each neuron is in one list: at most `links.len()` visits (a bound, not a need).
    for _ in 0..links.len() {
        if position == NONE {
            break;
        }
        let index = flat_index(position, shape);
        let (Some(link), Some([next, period])) = (links.get_mut(index), pairs.get_mut(index))
        else {
            break;
        };
        let following = *link as u32;
        if ((*next as u32).wrapping_sub(now) as i32) < 0 {
            *next = next.wrapping_add(*period);
            if let Some(slot) = spiked.get_mut(count) {
                *slot = event(position, 1) as i32;
                count += 1;
            }
        }
        let head = &mut wheel.heads[bucket(*next as u32)];
        *link = *head as i32;
        *head = position;
        position = following;
    }
    count
}

/// Convert a clocked layer back to the stepwise state of [`super::lif`] (`[voltage,
/// refractory]` per neuron), with the clock `wheel` that started at rest; `currents` are the
/// words [`start`] left: a link for a neuron that fires, the current for one that never does.
///
/// A neuron that fires has the current `J = 1 / (1 - exp(-t1 / tau))` of its `t1`; `T` before
/// its crossing it has the voltage `J - (J - 1) exp(T / tau)`, or, if `T` lies beyond `t1`, is
/// refractory for the difference (its voltage word then holds the gain of the step in which the
/// period ends when `partial_gain_is_q`, as a spike leaves it). One that never fires has relaxed
/// from 0 towards its current, `J (1 - exp(-elapsed / tau))`, down to the voltage floor. In
/// `f32`: it runs once per input change.
pub(crate) fn unwind(
    wheel: &Wheel,
    state: &mut [i32],
    currents: &[i32],
    clock: &ClockConstants,
    lif: &LifConstants,
) {
    let tau = f32::from_bits(clock.tau_steps);
    let steps = |q16: i32| q16 as f32 / ONE as f32;
    let q16 = |x: f32| micromath::F32Ext::round(x * ONE as f32) as i32;
    let (pairs, _) = state.as_chunks_mut::<2>();
    for (words, &current) in pairs.iter_mut().zip(currents) {
        let [next, period] = *words;
        *words = if wheel.elapsed == 0 {
            [0, 0]
        } else if period == 0 {
            let v = steps(current) * one_minus_exp(wheel.elapsed as f32 / tau);
            // `min`/`max`, not `clamp`: `clamp` asserts its bounds are ordered, a panic path.
            [q16(v).min(ONE).max(lif.min_voltage), 0]
        } else {
            let until = ((next as u32).wrapping_sub(wheel.now) as i32).max(0);
            let t1 = period.wrapping_sub(lif.refractory);
            if until > t1 {
                let left = until - t1;
                let within = left & (ONE - 1);
                let gain = if lif.partial_gain_is_q && within != 0 {
                    let part = steps(ONE - within);
                    micromath::F32Ext::round(one_minus_exp(part / tau) * (1u32 << 30) as f32) as i32
                } else {
                    0
                };
                [gain, left.saturating_add(ONE)]
            } else {
                let rise = one_minus_exp(steps(t1) / tau);
                let j = if rise > 0.0 {
                    (1.0 / rise).min(32_768.0)
                } else {
                    32_768.0
                };
                let v = j - (j - 1.0) * exp(steps(until) / tau);
                [q16(v).clamp(0, ONE), 0]
            }
        };
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use crate::neuron::lif::lif_step;
    use proptest::prelude::*;

    const DT: f32 = 0.001;

    fn lif(tau_rc: f32, tau_ref: f32) -> (LifConstants, ClockConstants) {
        let constants = crate::neuron::lif::tests::lif(tau_rc, tau_ref);
        let clock = ClockConstants::new(tau_rc / DT, tau_ref / DT).expect("clocked");
        (constants, clock)
    }

    /// One neuron started at rest under `current`, run for `steps` steps: its spike steps
    /// (1-based), its final state words and wheel, and its current word.
    fn clocked(
        current: i32,
        steps: u32,
        (lif, clock): &(LifConstants, ClockConstants),
    ) -> (std::vec::Vec<u32>, [i32; 2], Wheel, i32) {
        let mut state = [0i32; 2];
        let mut links = [current];
        let shape = Shape::vector(1);
        let mut wheel = start(&mut state, &mut links, shape, clock, lif);
        let mut spikes = std::vec::Vec::new();
        for n in 1..=steps {
            if step(&mut wheel, &mut state, &mut links, shape, &mut [0]) == 1 {
                spikes.push(n);
            }
        }
        (spikes, state, wheel, links[0])
    }

    /// The rate criterion for clocked neurons: 60 s of constant current, J from 1.05
    /// to 20, against Nengo's exact LIF (first crossing after `tau_rc ln(J / (J - 1))`, then
    /// one every `tau_ref` more): the count within one spike of the exact count (the clock
    /// places each crossing to a fraction of a ulp per period, so only a count whose exact
    /// value is within that of an integer can flip) and the clock's period within 0.01%.
    #[test]
    fn clocked_counts_over_60_s_match_the_closed_form() {
        let steps = 60_000u32;
        let seconds = f64::from(steps) * f64::from(DT);
        for &(tau_rc, tau_ref) in &[(0.02f64, 0.002f64), (0.05, 0.001), (0.01, 0.004)] {
            let constants = lif(tau_rc as f32, tau_ref as f32);
            let (mut worst_rate, mut flips) = (0.0f64, 0);
            for i in 0..=48 {
                let raw = ((1.0 + 0.05 * 380f64.powf(f64::from(i) / 48.0)) * 65_536.0).round();
                let j = raw / 65_536.0;
                let charge = tau_rc * (j / (j - 1.0)).ln();
                let exact = (seconds - charge) / (tau_ref + charge) + 1.0;
                let (spikes, [_, period], _, _) = clocked(raw as i32, steps, &constants);
                let count = spikes.len() as f64;
                assert!(
                    (count - exact.floor()).abs() <= 1.0,
                    "tau_rc={tau_rc} tau_ref={tau_ref} J={j}: {count} spikes, exact {exact:.3}"
                );
                if count != exact.floor() {
                    flips += 1;
                }
                let period = f64::from(period) / 65_536.0 * f64::from(DT);
                worst_rate = worst_rate.max((period / (tau_ref + charge) - 1.0).abs());
            }
            std::println!(
                "clocked tau_rc={tau_rc} tau_ref={tau_ref}: {flips} of 49 counts off by one; worst rate error {:.5}%",
                worst_rate * 100.0,
            );
            assert!(
                worst_rate <= 1e-4,
                "tau_rc={tau_rc} tau_ref={tau_ref}: {worst_rate}"
            );
        }
    }

    #[test]
    fn currents_up_to_the_threshold_never_fire() {
        let constants = lif(0.02, 0.002);
        for j in [i32::MIN, -ONE, 0, ONE / 2, ONE] {
            // Many turns of the wheel.
            assert!(clocked(j, 40_000, &constants).0.is_empty(), "{j}");
        }
        // The largest current: a crossing right away, then one every tau_ref.
        let spikes = clocked(i32::MAX, 3000, &constants).0;
        assert_eq!(spikes.len(), 1500);
        assert_eq!(spikes[..3], [1, 3, 5]);
    }

    proptest! {
        /// The wheel changes nothing: a layer of clocks, a vector or a feature map, spikes
        /// and unwinds as its neurons do one by one, each event at its neuron's position.
        #[test]
        fn a_layer_of_clocks_is_its_neurons_one_by_one(
            currents in prop::collection::vec(0i32..(30 * ONE), 1..40),
            steps in 1u32..80,
            image in any::<bool>(),
        ) {
            let constants = lif(0.02, 0.002);
            let (lif, clock) = &constants;
            let n = currents.len();
            // A feature map of n pixels of one channel, or a vector of n.
            let shape = if image { Shape::image(1, n as u16, 1) } else { Shape::vector(n as u16) };
            let mut state = std::vec![0i32; 2 * n];
            let mut links = currents.clone();
            let mut wheel = start(&mut state, &mut links, shape, clock, lif);
            let mut spikes = std::vec![std::vec::Vec::new(); n];
            for k in 1..=steps {
                let mut spiked = std::vec![0i32; n];
                let count = step(&mut wheel, &mut state, &mut links, shape, &mut spiked);
                for &e in &spiked[..count] {
                    prop_assert_eq!(e & 0xFF, 1);
                    spikes[flat_index(e as u32 >> 8, shape)].push(k);
                }
            }
            unwind(&wheel, &mut state, &links, clock, lif);
            for (index, &current) in currents.iter().enumerate() {
                let (alone, mut words, alone_wheel, link) = clocked(current, steps, &constants);
                prop_assert_eq!(&spikes[index], &alone);
                unwind(&alone_wheel, &mut words, &[link], clock, lif);
                prop_assert_eq!(&state[2 * index..2 * index + 2], &words[..]);
            }
        }

        /// A clocked neuron unwound after `before` steps and stepped on by the stepwise LIF
        /// keeps the clock's spike train: as many spikes (one more or less at the end), each
        /// in the same step or the next or previous one. (The two place a crossing in different
        /// roundings, and at a period such as 3.25 steps a crossing can fall within a hair of
        /// a step's end every few spikes.)
        ///
        /// Currents within 1% above the threshold are left out: there `J - 1` is a few hundred
        /// Q16.16 ulps, the rise of the stepwise neuron near its crossing a few ulps a step, and
        /// its roundings move the crossing by several steps (`J = 1.00098`, 150 steps unwound:
        /// the clock fires at step 347 as the exact `tau_rc ln(J / (J - 1))` does, the stepwise
        /// neuron at 350). The clock, not the unwinding, is the more exact of the two there.
        #[test]
        fn unwound_neurons_continue_the_clock(
            j in prop_oneof![0.5f64..1.0, 1.01f64..20.0],
            before in 1u32..300,
            tau in prop::sample::select(&[(0.02f32, 0.002f32), (0.05, 0.001), (0.01, 0.004), (0.02, 0.0025)]),
        ) {
            let constants = lif(tau.0, tau.1);
            let (lif, clock) = &constants;
            let raw = (j * 65_536.0).round() as i32;
            let after = 200;
            let (spikes, _, _, _) = clocked(raw, before + after, &constants);
            let (_, mut unwound, wheel, link) = clocked(raw, before, &constants);
            unwind(&wheel, &mut unwound, &[link], clock, lif);
            let [mut v, mut r] = unwound;
            let stepped: std::vec::Vec<u32> = (before + 1..=before + after)
                .filter(|_| lif_step(&mut v, &mut r, raw, lif) == 1)
                .collect();
            let expected: std::vec::Vec<u32> = spikes.into_iter().filter(|&s| s > before).collect();
            prop_assert!(
                stepped.len().abs_diff(expected.len()) <= 1,
                "{stepped:?} vs {expected:?}"
            );
            prop_assert!(
                stepped.iter().zip(&expected).all(|(a, b)| a.abs_diff(*b) <= 1),
                "{stepped:?} vs {expected:?}"
            );
        }
    }

    #[test]
    fn the_shared_count_is_the_leading_zero_count() {
        let mut j = ONE as u32 + 1;
        while j < u32::MAX / 2 {
            let excess = j - ONE as u32;
            assert_eq!(
                excess_leading_zeros(j, leading_zeros(j)),
                excess.leading_zeros(),
                "{j}"
            );
            j += j / 1009 + 1;
        }
        for j in [
            2 * ONE as u32 - 1,
            2 * ONE as u32,
            2 * ONE as u32 + 1,
            i32::MAX as u32,
        ] {
            let excess = j - ONE as u32;
            assert_eq!(
                excess_leading_zeros(j, leading_zeros(j)),
                excess.leading_zeros(),
                "{j}"
            );
        }
    }
}
