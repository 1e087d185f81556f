//! The fully connected layer: its stored form, its shape, its weights and its drive kernel.

use serde::{Deserialize, Serialize};

use crate::event::{flat_index, COUNT_BITS};
use crate::kernels::{
    add_four_scaled, add_scaled, add_three_scaled, add_two_scaled, add_weights_outlined, FanOut,
};
use crate::neuron::Neuron;
use crate::shape::{Place, Shape};
use crate::synapse::Synapse;

use super::kind::{Kind, LayerKind};
use super::scaling::Scaling;

/// A fully connected layer followed by its synapse and neurons.
///
/// It takes any input shape as a flat vector in HWC order.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Dense<'a> {
    /// Shape of the input.
    pub input: Shape,
    /// Number of outputs (neurons).
    pub outputs: u16,
    /// The neurons this layer drives.
    pub neuron: Neuron,
    /// The filter between the weighted input and the neurons.
    pub synapse: Synapse,
    /// `i8` weights, `input.len() * outputs` bytes, input-major: one input's fan-out is
    /// contiguous.
    pub weights: &'a [u8],
    /// Per-output multipliers, shifts and biases.
    #[serde(borrow)]
    pub scaling: Scaling<'a>,
    /// Mean spikes per neuron and step recorded at export, times 65535 (0 if unknown).
    pub activity: u16,
}

impl Kind for Dense<'_> {
    const KIND: LayerKind = LayerKind::Dense;

    fn input_shape(&self) -> Shape {
        self.input
    }

    fn output_shape(&self) -> Shape {
        Shape::vector(self.outputs)
    }

    fn neuron(&self) -> Option<Neuron> {
        Some(self.neuron)
    }

    fn synapse(&self) -> Synapse {
        self.synapse
    }

    fn fan_in(&self) -> usize {
        self.input.len()
    }

    fn fan_out(&self) -> usize {
        usize::from(self.outputs)
    }

    fn weight_count(&self) -> usize {
        self.input.len() * usize::from(self.outputs)
    }

    fn check(&self) -> Result<(), &'static str> {
        Ok(())
    }

    fn weighted(&self) -> Option<(&[u8], Scaling<'_>)> {
        Some((self.weights, self.scaling))
    }

    fn activity(&self) -> u16 {
        self.activity
    }

    #[inline(always)]
    fn accumulate<K: FanOut>(
        &self,
        events: impl Iterator<Item = u32>,
        sums: &mut [i32],
        _divisor_reciprocal: u32,
    ) -> u32 {
        Dense::accumulate::<K>(self, events, sums)
    }

    /// Every input, with its input-major row of weights.
    fn for_each_input_row(&self, _: Place, mut visit: impl FnMut(usize, &[u8])) {
        let outputs = usize::from(self.outputs).max(1);
        for (input, row) in self.weights.chunks_exact(outputs).enumerate() {
            visit(input, row);
        }
    }
}

impl Dense<'_> {
    /// Scatter each event's fan-out row into `sums`; returns the weight additions.
    ///
    /// The sums are exact integers, so the order of the additions does not matter: events are
    /// taken four at a time with the DSP kernels ([`Dense::accumulate_by_four`]), two at a
    /// time with the portable ones ([`Dense::accumulate_by_two`]), so that each sum is loaded
    /// and stored once per four (or two) rows ([`FanOut::GROUPS_OF_FOUR`]).
    #[inline(always)]
    pub(crate) fn accumulate<K: FanOut>(
        &self,
        events: impl Iterator<Item = u32>,
        sums: &mut [i32],
    ) -> u32 {
        // The input's kind once per call: a vector's event positions are its indices, which
        // saves the pixel lookup of each row (about 1,000 instructions per inference of the
        // 64-100-10 network). Not on the cores without DSP: there the second copy of the loop
        // measured 544 bytes of flash, more than the micro:bit has left beside the 784-256-10
        // model.
        if !K::GROUPS_OF_FOUR {
            self.accumulate_by_two::<K, false>(events, sums)
        } else if self.input.is_vector() {
            self.accumulate_by_four::<K, true>(events, sums)
        } else {
            self.accumulate_by_four::<K, false>(events, sums)
        }
    }

    /// The fan-out row of an event and its count, or `None` for an input outside the layer;
    /// `VECTOR` states that the input is a vector.
    #[inline(always)]
    fn row<const VECTOR: bool>(&self, event: u32) -> Option<(&[u8], u8)> {
        let outputs = usize::from(self.outputs);
        let position = event >> COUNT_BITS;
        let index = if VECTOR {
            position as usize
        } else {
            flat_index(position, self.input)
        };
        let start = index * outputs;
        let row = self.weights.get(start..start + outputs)?;
        // MAX_COUNT is 255: the count is the event's low byte.
        Some((row, event as u8))
    }

    /// [`Dense::accumulate`] two events at a time, through the two- and one-row kernels.
    ///
    /// The loop for Cortex-M0, where the four-row grouping measured slower (79,803 against
    /// 83,825 instructions per inference, digits demo at 6 steps on qemu-microbit): its four
    /// row pointers do not fit the eight low registers, and the portable four-row kernel is
    /// two two-row passes anyway.
    pub(crate) fn accumulate_by_two<K: FanOut, const VECTOR: bool>(
        &self,
        events: impl Iterator<Item = u32>,
        sums: &mut [i32],
    ) -> u32 {
        let mut additions = 0u32;
        let mut waiting: Option<(&[u8], u8)> = None;
        for e in events {
            let Some((row, count)) = self.row::<VECTOR>(e) else {
                continue;
            };
            additions = additions.wrapping_add(u32::from(self.outputs));
            match waiting.take() {
                None => waiting = Some((row, count)),
                Some((first, first_count)) => {
                    add_two_scaled::<K>(sums, first, u32::from(first_count), row, u32::from(count))
                }
            }
        }
        if let Some((row, count)) = waiting {
            add_scaled::<K>(sums, row, u32::from(count));
        }
        additions
    }

    /// [`Dense::accumulate`] four events at a time, through the four-row kernels; the last
    /// one to three events go through the one-, two- and three-row kernels.
    ///
    /// Inlined into the step: as a function of its own it ran at most 0.4% fewer
    /// instructions, but its frame added 190 bytes to the peak stack of an inference.
    #[inline(always)]
    pub(crate) fn accumulate_by_four<K: FanOut, const VECTOR: bool>(
        &self,
        events: impl Iterator<Item = u32>,
        sums: &mut [i32],
    ) -> u32 {
        let mut additions = 0u32;
        let mut rows = events.filter_map(|e| {
            let row = self.row::<VECTOR>(e)?;
            additions = additions.wrapping_add(u32::from(self.outputs));
            Some(row)
        });
        while let Some((a, count_a)) = rows.next() {
            let Some((b, count_b)) = rows.next() else {
                add_weights_outlined::<K>(sums, a, count_a);
                break;
            };
            let Some((c, count_c)) = rows.next() else {
                add_two_scaled::<K>(sums, a, u32::from(count_a), b, u32::from(count_b));
                break;
            };
            let Some((d, count_d)) = rows.next() else {
                add_three_scaled::<K>(sums, [a, b, c], [count_a, count_b, count_c]);
                break;
            };
            add_four_scaled::<K>(sums, [a, b, c, d], [count_a, count_b, count_c, count_d]);
        }
        additions
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{event, MAX_COUNT};
    use crate::kernels::dsp::Dsp;
    use crate::kernels::isa::Twins;
    use crate::kernels::portable::Portable;
    use proptest::prelude::*;
    use std::vec::Vec;

    /// Sums of `n` values starting at 7 after `accumulate`, and what it returned.
    fn dense_sums(
        n: usize,
        accumulate: impl FnOnce(&mut [i32]) -> u32,
    ) -> (std::vec::Vec<i32>, u32) {
        let mut sums = std::vec![7i32; n];
        let additions = accumulate(&mut sums);
        (sums, additions)
    }

    proptest! {
        /// The Cortex-M4 grouping (four events per pass) and the Cortex-M0 one (two per pass),
        /// each with both kernel sets, give the sums of the textbook fan-out, skip inputs outside the layer, and count the
        /// same additions; all-one counts (spikes) take the unscaled kernels.
        #[test]
        fn dense_groupings_equal_the_direct_sum(
            inputs in 1u16..=12,
            outputs in 1u16..=19,
            seed in any::<u64>(),
            events in proptest::collection::vec((0u32..14, 0u32..=255, any::<bool>()), 0..12),
            extra in 0usize..3,
        ) {
            let mut state = seed | 1;
            let weights: Vec<u8> = (0..usize::from(inputs) * usize::from(outputs))
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state as u8
                })
                .collect();
            let dense = Dense {
                input: Shape::vector(inputs),
                outputs,
                neuron: Neuron::Readout,
                synapse: Synapse::None,
                weights: &weights,
                scaling: Scaling { multipliers: &[], shifts: &[], biases: &[] },
                activity: 0,
            };
            // Spikes (count 1) when the flag says so, so that whole groups of ones occur.
            let events: Vec<u32> = events
                .iter()
                .map(|&(index, count, spike)| event(index, if spike { 1 } else { count }))
                .collect();
            let outs = usize::from(outputs);
            let mut expected = std::vec![7i32; outs + extra];
            let mut expected_additions = 0u32;
            for &e in &events {
                let index = (e >> COUNT_BITS) as usize;
                if index >= usize::from(inputs) {
                    continue;
                }
                expected_additions += u32::from(outputs);
                for (j, s) in expected[..outs].iter_mut().enumerate() {
                    *s += (e & MAX_COUNT) as i32 * i32::from(weights[index * outs + j] as i8);
                }
            }
            // The input is a vector: both row lookups, the vector's and the general one.
            let events = events.iter().copied();
            type D = Dsp<Twins>;
            for (sums, additions) in [
                dense_sums(outs + extra, |s| dense.accumulate_by_four::<D, true>(events.clone(), s)),
                dense_sums(outs + extra, |s| dense.accumulate_by_four::<D, false>(events.clone(), s)),
                dense_sums(outs + extra, |s| dense.accumulate_by_two::<D, true>(events.clone(), s)),
                dense_sums(outs + extra, |s| dense.accumulate_by_two::<D, false>(events.clone(), s)),
                dense_sums(outs + extra, |s| dense.accumulate_by_four::<Portable, true>(events.clone(), s)),
                dense_sums(outs + extra, |s| dense.accumulate_by_four::<Portable, false>(events.clone(), s)),
                dense_sums(outs + extra, |s| dense.accumulate_by_two::<Portable, true>(events.clone(), s)),
                dense_sums(outs + extra, |s| dense.accumulate_by_two::<Portable, false>(events.clone(), s)),
                dense_sums(outs + extra, |s| dense.accumulate::<D>(events.clone(), s)),
                dense_sums(outs + extra, |s| dense.accumulate::<Portable>(events.clone(), s)),
            ] {
                prop_assert_eq!(&sums, &expected);
                prop_assert_eq!(additions, expected_additions);
            }
        }
    }
}
