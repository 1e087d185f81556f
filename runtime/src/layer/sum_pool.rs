//! Sum pooling: its stored form, its shape and its drive kernel (no neurons: the window sums
//! are the layer's output events).

use serde::{Deserialize, Serialize};

use crate::event::{event, flat_index, pixel_position, COUNT_BITS, MAX_COUNT};
use crate::integer::divide_small;
use crate::kernels::FanOut;
use crate::neuron::Neuron;
use crate::shape::{Place, Shape};
use crate::synapse::Synapse;

use super::kind::{Kind, LayerKind};
use super::scaling::Scaling;

/// Sum pooling over `size x size` windows with stride `size` (rows and columns past the last
/// whole window are dropped).
///
/// It has no neurons: its output is the exact integer sum of its input's spike counts in each
/// window. Average pooling is this sum with `1 / size^2` folded into the next layer's scaling,
/// which the quantizer does; the result equals average pooling exactly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SumPool {
    /// Shape of the input.
    pub input: Shape,
    /// Window side and stride, `>= 1`.
    pub size: u8,
}

impl Kind for SumPool {
    const KIND: LayerKind = LayerKind::SumPool;

    fn input_shape(&self) -> Shape {
        self.input
    }

    /// `floor(input / size)` rows and columns (a division, computed once at load by the engine).
    fn output_shape(&self) -> Shape {
        let size = u16::from(self.size.max(1));
        Shape::image(
            self.input.height / size,
            self.input.width / size,
            self.input.channels,
        )
    }

    fn neuron(&self) -> Option<Neuron> {
        None
    }

    fn synapse(&self) -> Synapse {
        Synapse::None
    }

    fn fan_in(&self) -> usize {
        usize::from(self.size) * usize::from(self.size)
    }

    fn fan_out(&self) -> usize {
        1
    }

    fn weight_count(&self) -> usize {
        0
    }

    fn check(&self) -> Result<(), &'static str> {
        if self.size == 0 {
            return Err("size");
        }
        Ok(())
    }

    fn divisor(&self) -> u8 {
        self.size
    }

    fn weighted(&self) -> Option<(&[u8], Scaling<'_>)> {
        None
    }

    fn activity(&self) -> u16 {
        0
    }

    /// Nothing: a pool's sums are its output events ([`SumPool::accumulate`], which the
    /// engine calls).
    fn accumulate<K: FanOut>(&self, _: impl Iterator<Item = u32>, _: &mut [i32], _: u32) -> u32 {
        0
    }

    /// The window of the output's pixel, in its channel.
    fn for_each_fan_in(&self, place: Place, mut visit: impl FnMut(usize)) {
        let size = usize::from(self.size);
        let (width, channels) = (
            usize::from(self.input.width),
            usize::from(self.input.channels),
        );
        let (top, left) = (usize::from(place.y) * size, usize::from(place.x) * size);
        for y in top..top + size {
            for x in left..left + size {
                visit((y * width + x) * channels + usize::from(place.c));
            }
        }
    }
}

impl SumPool {
    /// Add each event's count to its window's sum, recording each window that becomes
    /// non-zero as an output event (count filled in by [`SumPool::finish`]); returns the
    /// number of output events.
    pub(crate) fn accumulate(
        &self,
        events: impl Iterator<Item = u32>,
        sums: &mut [i32],
        out_events: &mut [i32],
        size_reciprocal: u32,
        output: Shape,
    ) -> usize {
        let (out_h, out_w, channels) = (
            u32::from(output.height),
            u32::from(output.width),
            u32::from(output.channels),
        );
        let mut emitted = 0usize;
        for e in events {
            let position = e >> COUNT_BITS;
            let (y, x, c) = (position >> 16, (position >> 8) & 0xff, position & 0xff);
            let (py, px) = (
                divide_small(y, size_reciprocal),
                divide_small(x, size_reciprocal),
            );
            if py >= out_h || px >= out_w {
                continue;
            }
            let index = ((py * out_w + px) * channels + c) as usize;
            if let Some(sum) = sums.get_mut(index) {
                if *sum == 0 {
                    if let Some(slot) = out_events.get_mut(emitted) {
                        *slot = event(pixel_position(py, px) | c, 0) as i32;
                        emitted += 1;
                    }
                }
                *sum = sum.wrapping_add((e & MAX_COUNT) as i32);
            }
        }
        emitted
    }

    /// Move each window's sum into its event's count and clear the sum for the next step.
    pub(crate) fn finish(&self, sums: &mut [i32], out_events: &mut [i32], output: Shape) {
        for e in out_events.iter_mut() {
            let position = (*e as u32) >> COUNT_BITS;
            if let Some(sum) = sums.get_mut(flat_index(position, output)) {
                // The loader bounds a pooled sum by MAX_COUNT.
                *e = event(position, (*sum as u32) & MAX_COUNT) as i32;
                *sum = 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::input_events;
    use crate::integer::divisor_reciprocal;
    use proptest::prelude::*;
    use std::vec::Vec;

    proptest! {
        /// Sum pooling adds each window's counts, emits one event per non-zero window and
        /// leaves its sums cleared.
        #[test]
        fn pooling_sums_windows_and_clears(
            h in 1u16..=9, w in 1u16..=9, c in 1u16..=3, size in 1u8..=3,
            seed in any::<u64>(),
        ) {
            let input = Shape::image(h, w, c);
            let pool = SumPool { input, size };
            let output = pool.output_shape();
            prop_assume!(!output.is_empty());
            let counts: Vec<u8> = (0..input.len())
                .map(|i| ((seed >> (i % 64)) & 1) as u8 * (1 + (i % 3) as u8))
                .collect();
            let mut sums = std::vec![0i32; output.len()];
            let mut events = std::vec![0i32; output.len()];
            let n = pool.accumulate(input_events(input, &counts), &mut sums, &mut events, divisor_reciprocal(size), output);
            pool.finish(&mut sums, &mut events[..n], output);
            prop_assert!(sums.iter().all(|&s| s == 0));
            let mut got = std::vec![0u32; output.len()];
            for &e in &events[..n] {
                let e = e as u32;
                let p = e >> COUNT_BITS;
                let index = (((p >> 16) * u32::from(output.width) + ((p >> 8) & 0xff))
                    * u32::from(c) + (p & 0xff)) as usize;
                prop_assert!(e & MAX_COUNT > 0);
                got[index] = e & MAX_COUNT;
            }
            let s = usize::from(size);
            for py in 0..usize::from(output.height) {
                for px in 0..usize::from(output.width) {
                    for ch in 0..usize::from(c) {
                        let mut expected = 0u32;
                        for y in py * s..py * s + s {
                            for x in px * s..px * s + s {
                                expected += u32::from(counts[(y * usize::from(w) + x) * usize::from(c) + ch]);
                            }
                        }
                        let index = (py * usize::from(output.width) + px) * usize::from(c) + ch;
                        prop_assert_eq!(got[index], expected);
                    }
                }
            }
        }
    }
}
