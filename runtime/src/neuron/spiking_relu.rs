//! The spiking rectified linear neuron (Nengo `SpikingRectifiedLinear`): integrate and fire with
//! reset by subtraction.
//!
//! Its currents are per step: the exporter folds `dt` into the weights and bias of such a layer,
//! so the runtime adds its current to the voltage directly. At most 255 spikes per neuron and
//! step are emitted; any excess charge stays in the voltage.

use crate::event::{for_each_pixel, Emitter};
use crate::fixed_point;
use crate::shape::Shape;

/// Advance one integrate-and-fire neuron by one step under `current` (already times `dt`).
#[inline]
pub(crate) fn step(voltage: &mut i32, current: i32) -> i32 {
    let charged = voltage.saturating_add(current.max(0));
    let spikes = (charged >> fixed_point::FRAC_BITS).clamp(0, 255);
    *voltage = charged - (spikes << fixed_point::FRAC_BITS);
    spikes
}

/// Step a layer of shape `shape`: one voltage per neuron, under this step's `currents`; each
/// neuron that fires emits an event with its spike count.
///
/// Not inlined: inside the step the loop lost a register and moved a pointer twice per neuron.
#[inline(never)]
pub(crate) fn step_layer(
    shape: Shape,
    currents: &[i32],
    voltages: &mut [i32],
    out: &mut Emitter<'_>,
) {
    for_each_pixel(shape, currents, out, |run, currents, out| {
        if let Some(voltage) = voltages.get_mut(run) {
            for (c, (v, &current)) in voltage.iter_mut().zip(currents).enumerate() {
                let count = step(v, current);
                if count != 0 {
                    out.emit(c, count as u32);
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixed_point::ONE;

    fn q16(x: f64) -> i32 {
        (x * f64::from(ONE)).round() as i32
    }

    #[test]
    fn resets_by_subtraction_and_emits_several_spikes() {
        let mut v = 0;
        assert_eq!(step(&mut v, q16(0.75)), 0);
        assert_eq!(step(&mut v, q16(0.75)), 1);
        assert_eq!(v, q16(0.5));
        assert_eq!(step(&mut v, q16(2.6)), 3);
        assert_eq!(v, q16(0.1));
        assert_eq!(step(&mut v, q16(-5.0)), 0);
        assert_eq!(v, q16(0.1));
        let mut huge = i32::MAX - 5;
        assert_eq!(step(&mut huge, i32::MAX), 255);
    }
}
