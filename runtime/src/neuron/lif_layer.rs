//! A layer of LIF neurons stepped in two passes: the common case of every neuron in one tight
//! loop, then the few that spike or end a refractory period.
//!
//! The two passes leave exactly the state [`lif_step`] alone would (tested).

use crate::event::{event, positions, Emitter};
use crate::fixed_point::{mul_gain, ONE};
use crate::shape::Shape;

#[cfg(test)]
use super::lif::lif_step;
use super::lif::{
    lif_common_step, lif_refractory_end, lif_spike, CommonStep, LifConstants, AT_REST,
};

/// Where [`lif_common_steps`] takes each neuron's current from.
pub(crate) trait Currents {
    /// How many neurons have a current.
    fn len(&self) -> usize;
    /// This step's current of neuron `index` (`None` past [`Currents::len`]); called once per
    /// neuron and step, in index order.
    fn current(&mut self, index: usize) -> Option<i32>;
}

/// Currents already formed, one per neuron.
impl Currents for &[i32] {
    #[inline(always)]
    fn len(&self) -> usize {
        <[i32]>::len(self)
    }

    #[inline(always)]
    fn current(&mut self, index: usize) -> Option<i32> {
        self.get(index).copied()
    }
}

/// Currents through a first-order synapse, stepped in the same pass as the neurons: the filter
/// state `filter[i]` (which is the current, see `network.rs`) moves towards `targets[i]` by
/// `z += gain * (target - z)`, exactly as the layer-wide filter pass does. One pass instead of
/// two saves a load, a store and the loop of each neuron-step. The product is [`mul_gain`]
/// (two 32-bit multiplies) on every target, so that the neuron-step keeps the LIF update's
/// `SMMLAR` as its only 32x32->64 multiply on Cortex-M4 (issue 8's budget).
pub(crate) struct FilteredCurrents<'c> {
    /// Each neuron's undelayed current (the filter's target).
    pub(crate) targets: &'c [i32],
    /// The filter states, updated in place: after the pass, this step's currents.
    pub(crate) filter: &'c mut [i32],
    /// `1 - exp(-dt/tau)` in Q0.16 (`0..=ONE`).
    pub(crate) gain: i32,
}

impl Currents for FilteredCurrents<'_> {
    #[inline(always)]
    fn len(&self) -> usize {
        self.targets.len().min(self.filter.len())
    }

    #[inline(always)]
    fn current(&mut self, index: usize) -> Option<i32> {
        let (Some(&target), Some(z)) = (self.targets.get(index), self.filter.get_mut(index)) else {
            return None;
        };
        *z = z.saturating_add(mul_gain(target.saturating_sub(*z), self.gain));
        Some(*z)
    }
}

/// The common case of [`lif_step`] for a run of neurons `[voltage, refractory]` under
/// `currents`, in one loop: a neuron that is neither refractory nor crossing the threshold
/// integrates, one whose refractory period goes on past this step counts down, one whose
/// period ends without a spike charges for the rest of the step ([`charge_after_period`], the
/// loop's only call), and a neuron marked at rest is passed over. Any other neuron (it would
/// spike, or its refractory period ends inside this step otherwise) is left untouched and its
/// note written to `noted` (its index, with [`REFRACTORY_ENDS`] set for a period that ends),
/// for [`lif_finish_noted`] to finish; returns how many. Every neuron's current is taken once,
/// in order (a filter steps exactly once).
///
/// `WHOLE_GAIN` states `constants.gain_shift == 0`, so that the instance drops the decay's
/// branch on it. `noted` must hold `state.len()` entries (fewer notes are dropped, leaving
/// those neurons a step behind: never a panic). Not inlined: alone, the loop keeps its
/// constants in registers.
#[inline(never)]
pub(crate) fn lif_common_steps<const WHOLE_GAIN: bool, C: Currents>(
    state: &mut [[i32; 2]],
    mut currents: C,
    constants: &LifConstants,
    noted: &mut [i32],
) -> usize {
    let mut c = *constants;
    if WHOLE_GAIN {
        c.gain_shift = 0;
        c.gain_half = 0;
    }
    let mut count = 0;
    // One counter for the state, the currents and the note (`zip` + `enumerate` kept three,
    // two instructions more per neuron-step on Cortex-M4 and spills on Cortex-M0; walking
    // pointers with `split_first` measured 3 % worse on the whole inference).
    let n = state.len().min(currents.len());
    let mut index = 0;
    while index < n {
        if let (Some(current), Some([voltage, refractory])) =
            (currents.current(index), state.get_mut(index))
        {
            let kind = match lif_common_step(voltage, refractory, current, &c) {
                CommonStep::Done => None,
                CommonStep::RefractoryEnds { .. } => Some(REFRACTORY_ENDS),
                CommonStep::Crosses { .. } => Some(0),
            };
            if let Some(kind) = kind {
                if let Some(slot) = noted.get_mut(count) {
                    *slot = index as i32 | kind;
                    count += 1;
                }
            }
        }
        index += 1;
    }
    count
}

/// Mark the LIF neurons that a static current leaves unchanged, so that each step passes them
/// over; clear the marks of the others.
///
/// A neuron that is not refractory, sits at its voltage floor and receives at most that floor
/// as current stays exactly as it is: the update moves the voltage towards the current, i.e.
/// not up, and the floor clamps it back (see [`lif_common_step`]). While the current does not
/// change, neither does the neuron, so the mark holds until the next input, whose
/// [`crate::Network::set_input`] calls this again. Only the static first layer without a
/// synapse is marked; a filtered current changes every step. Only the Cortex-M builds mark
/// (see `set_input`); the results are the same bits either way.
// Only the Cortex-M builds mark (see above); the tests check the marks on the host.
#[cfg_attr(not(any(test, target_arch = "arm")), allow(dead_code))]
pub(crate) fn mark_at_rest(state: &mut [[i32; 2]], currents: &[i32], constants: &LifConstants) {
    for ([voltage, refractory], &current) in state.iter_mut().zip(currents) {
        if *refractory == AT_REST {
            *refractory = 0;
        }
        if *refractory == 0 && *voltage == constants.min_voltage && current <= *voltage {
            *refractory = AT_REST;
        }
    }
}

/// The bit of a [`lif_common_steps`] note that marks a refractory period ending in this step
/// (clear: the neuron crosses the threshold); the other bits are the neuron's index.
pub(crate) const REFRACTORY_ENDS: i32 = i32::MIN;

/// Finish the step of a neuron that [`lif_common_steps`] noted with `note`: what [`lif_step`]
/// would do from the untouched state, without testing again which case it is. Returns the
/// spike count.
#[inline(always)]
pub(crate) fn lif_finish_noted(
    voltage: &mut i32,
    refractory: &mut i32,
    current: i32,
    note: i32,
    constants: &LifConstants,
) -> i32 {
    if note & REFRACTORY_ENDS != 0 {
        let left = refractory.saturating_sub(ONE);
        lif_refractory_end(voltage, refractory, left, current, constants)
    } else {
        let before = *voltage;
        let after =
            before.wrapping_add(constants.decay(current.saturating_sub(before), constants.gain));
        lif_spike(voltage, refractory, current, before, after, ONE, constants)
    }
}

/// The first of a LIF layer's two passes: the common case, in a loop with no calls
/// ([`lif_common_steps`]). A neuron that is neither refractory nor about to spike
/// integrates; one whose refractory period goes on counts down (or ends without a spike).
/// Every other neuron (a spike, or a refractory period ending in one) is noted in `notes` (the
/// layer's event buffer: its index and which case it is); returns how many.
pub(crate) fn lif_common_pass(
    state: &mut [[i32; 2]],
    currents: impl Currents,
    constants: &LifConstants,
    notes: &mut [i32],
) -> usize {
    if constants.gain_shift == 0 {
        lif_common_steps::<true, _>(state, currents, constants, notes)
    } else {
        lif_common_steps::<false, _>(state, currents, constants, notes)
    }
}

/// The second pass of a LIF layer: each of the `noted` neurons is finished by
/// [`lif_finish_noted`] under this step's `currents`, and emits its event if it
/// spiked. The two passes leave exactly the state [`lif_step`] alone would.
#[inline(always)]
pub(crate) fn lif_finish(
    shape: Shape,
    state: &mut [[i32; 2]],
    currents: &[i32],
    noted: usize,
    constants: &LifConstants,
    out: &mut Emitter<'_>,
) {
    let (emitted, spikes) = if shape.is_vector() {
        lif_finish_vector(state, currents, noted, constants, out.events)
    } else {
        lif_finish_pixels(shape, state, currents, noted, constants, out.events)
    };
    out.emitted = emitted;
    out.spikes = out.spikes.saturating_add(spikes);
}

/// The noted neurons of `state` finish their step; returns (events, spikes). `events` holds
/// the `noted` notes on entry and this step's events (count 1, at the position
/// `position(index)`) on return. In place: the k-th note is read before the k-th event (at or
/// before it) is written, so events overwrite only notes already read.
#[inline(always)]
fn finish_notes(
    state: &mut [[i32; 2]],
    currents: &[i32],
    noted: usize,
    constants: &LifConstants,
    events: &mut [i32],
    mut position: impl FnMut(usize) -> u32,
) -> (usize, u32) {
    let mut emitted = 0;
    // At most one spike per note: no overflow.
    let mut spikes = 0u32;
    for k in 0..noted.min(events.len()) {
        let note = events[k];
        let index = (note & !REFRACTORY_ENDS) as usize;
        let (Some([voltage, refractory]), Some(&current)) =
            (state.get_mut(index), currents.get(index))
        else {
            continue;
        };
        if lif_finish_noted(voltage, refractory, current, note, constants) == 0 {
            continue;
        }
        // emitted <= k < events.len(): as `Emitter::emit` for a count of 1.
        if let Some(slot) = events.get_mut(emitted) {
            *slot = event(position(index), 1) as i32;
            emitted += 1;
        }
        spikes += 1;
    }
    (emitted, spikes)
}

/// [`lif_finish`] for a vector layer: a neuron's position is its index. Not inlined (nor the
/// pixel variant): inside the layer loop the pass ran short of registers and reloaded its
/// values from the stack around every call.
#[inline(never)]
fn lif_finish_vector(
    state: &mut [[i32; 2]],
    currents: &[i32],
    noted: usize,
    constants: &LifConstants,
    events: &mut [i32],
) -> (usize, u32) {
    finish_notes(state, currents, noted, constants, events, |index| {
        index as u32
    })
}

/// [`lif_finish`] for a feature map: the notes are in index order, so the pixel (and its
/// position) is found by walking along with them instead of dividing.
#[inline(never)]
fn lif_finish_pixels(
    shape: Shape,
    state: &mut [[i32; 2]],
    currents: &[i32],
    noted: usize,
    constants: &LifConstants,
    events: &mut [i32],
) -> (usize, u32) {
    finish_notes(state, currents, noted, constants, events, positions(shape))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::neuron::lif::tests::lif;

    proptest::proptest! {
        #[test]
        fn two_passes_equal_lif_step(
            neurons in proptest::collection::vec(
                (-2 * ONE..=3 * ONE / 2, proptest::prop_oneof![proptest::strategy::Just(0), 0..=3 * ONE], -4 * ONE..=30 * ONE),
                0..40,
            ),
            tau_rc in 0.0005f32..0.1,
            tau_ref in 0.0f32..0.004,
        ) {
            let c = lif(tau_rc, tau_ref);
            let currents: Vec<i32> = neurons.iter().map(|n| n.2).collect();
            let start: Vec<[i32; 2]> = neurons.iter().map(|n| [n.0.min(ONE), n.1]).collect();
            let mut one = start.clone();
            let spikes_one: Vec<i32> = one
                .iter_mut()
                .zip(&currents)
                .map(|([v, r], &j)| lif_step(v, r, j, &c))
                .collect();
            let mut two = start;
            let mut notes = vec![0; two.len()];
            let noted = if c.gain_shift == 0 {
                lif_common_steps::<true, _>(&mut two, &currents[..], &c, &mut notes)
            } else {
                lif_common_steps::<false, _>(&mut two, &currents[..], &c, &mut notes)
            };
            let mut spikes_two = vec![0; two.len()];
            for &note in &notes[..noted] {
                let index = (note & !REFRACTORY_ENDS) as usize;
                let [v, r] = &mut two[index];
                spikes_two[index] = lif_finish_noted(v, r, currents[index], note, &c);
            }
            proptest::prop_assert_eq!(one, two);
            proptest::prop_assert_eq!(spikes_one, spikes_two);
        }

        #[test]
        fn neurons_marked_at_rest_step_as_unmarked_ones(
            neurons in proptest::collection::vec(
                (
                    proptest::prop_oneof![proptest::strategy::Just(None), proptest::strategy::Strategy::prop_map(-ONE..=ONE, Some)],
                    proptest::prop_oneof![proptest::strategy::Just(0), 0..=3 * ONE],
                    -4 * ONE..=4 * ONE,
                ),
                0..40,
            ),
            floor in proptest::prop_oneof![proptest::strategy::Just(0), -2 * ONE..=0],
            tau_rc in 0.0005f32..0.1,
        ) {
            let mut c = lif(tau_rc, 0.002);
            c.min_voltage = floor;
            // `None`: at the floor, where the marks apply.
            let start: Vec<[i32; 2]> =
                neurons.iter().map(|n| [n.0.unwrap_or(floor).max(floor), n.1]).collect();
            let currents: Vec<i32> = neurons.iter().map(|n| n.2).collect();
            let mut marked = start.clone();
            mark_at_rest(&mut marked, &currents, &c);
            // Marking again (the next input) gives the same marks.
            let mut again = marked.clone();
            mark_at_rest(&mut again, &currents, &c);
            proptest::prop_assert_eq!(&again, &marked);
            let mut plain = start;
            for _ in 0..5 {
                let mut notes = vec![0; marked.len()];
                let noted = if c.gain_shift == 0 {
                    lif_common_steps::<true, _>(&mut marked, &currents[..], &c, &mut notes)
                } else {
                    lif_common_steps::<false, _>(&mut marked, &currents[..], &c, &mut notes)
                };
                let mut spikes = vec![0; marked.len()];
                for &note in &notes[..noted] {
                    let index = (note & !REFRACTORY_ENDS) as usize;
                    let [v, r] = &mut marked[index];
                    spikes[index] = lif_finish_noted(v, r, currents[index], note, &c);
                }
                let plain_spikes: Vec<i32> = plain
                    .iter_mut()
                    .zip(&currents)
                    .map(|([v, r], &j)| lif_step(v, r, j, &c))
                    .collect();
                proptest::prop_assert_eq!(spikes, plain_spikes);
                for (&[v, r], &[pv, pr]) in marked.iter().zip(&plain) {
                    proptest::prop_assert_eq!(v, pv);
                    proptest::prop_assert_eq!(if r == AT_REST { 0 } else { r }, pr);
                }
            }
        }

        #[test]
        fn filtered_pass_equals_filter_then_neurons(
            neurons in proptest::collection::vec(
                (-2 * ONE..=3 * ONE / 2, 0..=3 * ONE, -4 * ONE..=8 * ONE, -ONE..=8 * ONE),
                0..40,
            ),
            gain in 1..=ONE,
            tau_rc in 0.0005f32..0.1,
        ) {
            let c = lif(tau_rc, 0.002);
            let targets: Vec<i32> = neurons.iter().map(|n| n.2).collect();
            let state: Vec<[i32; 2]> = neurons.iter().map(|n| [n.0.min(ONE), n.1]).collect();
            let filter: Vec<i32> = neurons.iter().map(|n| n.3).collect();
            let n = neurons.len();
            // One pass, the synapse stepped inside the neuron loop.
            let (mut fused_state, mut fused_filter, mut fused_notes) =
                (state.clone(), filter.clone(), vec![0; n]);
            let currents = FilteredCurrents { targets: &targets, filter: &mut fused_filter, gain };
            let fused = if c.gain_shift == 0 {
                lif_common_steps::<true, _>(&mut fused_state, currents, &c, &mut fused_notes)
            } else {
                lif_common_steps::<false, _>(&mut fused_state, currents, &c, &mut fused_notes)
            };
            // Two passes: the filter, then the neurons.
            let (mut two_state, mut two_filter, mut two_notes) = (state, filter, vec![0; n]);
            for (z, &target) in two_filter.iter_mut().zip(&targets) {
                *z = z.saturating_add(mul_gain(target.saturating_sub(*z), gain));
            }
            let two = lif_common_steps::<false, _>(
                &mut two_state, &two_filter[..], &c, &mut two_notes,
            );
            proptest::prop_assert_eq!(fused, two);
            proptest::prop_assert_eq!(&fused_notes[..fused], &two_notes[..two]);
            proptest::prop_assert_eq!(fused_state, two_state);
            proptest::prop_assert_eq!(fused_filter, two_filter);
        }
    }
}
