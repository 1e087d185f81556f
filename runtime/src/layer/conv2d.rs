//! The 2-D convolution: its stored form, its geometry checks and its event-driven drive kernel.

use serde::{Deserialize, Serialize};

use crate::event::{COUNT_BITS, MAX_COUNT};
use crate::integer::divide_small;
use crate::kernels::{add_scaled, FanOut};
use crate::neuron::Neuron;
use crate::shape::{Place, Shape};
use crate::synapse::Synapse;

use super::kind::{Kind, LayerKind};
use super::scaling::Scaling;

/// A 2-D convolution with zero padding, followed by its synapse and neurons.
///
/// Output pixel `(oy, ox)` reads input rows `oy * stride - padding_top + ky` and columns
/// `ox * stride - padding_left + kx`; positions outside the input read zero. The bottom and
/// right padding are whatever `output` implies, so "same" and "valid" convolutions both fit.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Conv2d<'a> {
    /// Shape of the input.
    pub input: Shape,
    /// Shape of the output; its channels are the layer's filters.
    pub output: Shape,
    /// Kernel rows.
    pub kernel_height: u8,
    /// Kernel columns.
    pub kernel_width: u8,
    /// Step between output pixels, in input pixels, along both axes.
    pub stride: u8,
    /// Zero rows above the input.
    pub padding_top: u8,
    /// Zero columns left of the input.
    pub padding_left: u8,
    /// The neurons this layer drives.
    pub neuron: Neuron,
    /// The filter between the weighted input and the neurons.
    pub synapse: Synapse,
    /// `i8` weights `[in_channel][ky][kx][out_channel]`: one input's fan-out into one output
    /// pixel is contiguous.
    pub weights: &'a [u8],
    /// Per-output-channel multipliers, shifts and biases.
    #[serde(borrow)]
    pub scaling: Scaling<'a>,
    /// Mean spikes per neuron and step recorded at export, times 65535 (0 if unknown).
    pub activity: u16,
}

impl Kind for Conv2d<'_> {
    const KIND: LayerKind = LayerKind::Conv2d;

    fn input_shape(&self) -> Shape {
        self.input
    }

    fn output_shape(&self) -> Shape {
        self.output
    }

    fn neuron(&self) -> Option<Neuron> {
        Some(self.neuron)
    }

    fn synapse(&self) -> Synapse {
        self.synapse
    }

    fn fan_in(&self) -> usize {
        usize::from(self.input.channels)
            * usize::from(self.kernel_height)
            * usize::from(self.kernel_width)
    }

    fn fan_out(&self) -> usize {
        let stride = usize::from(self.stride.max(1));
        let rows = usize::from(self.kernel_height).div_ceil(stride);
        let cols = usize::from(self.kernel_width).div_ceil(stride);
        rows * cols * usize::from(self.output.channels)
    }

    fn weight_count(&self) -> usize {
        self.fan_in() * usize::from(self.output.channels)
    }

    /// The kernel and stride are not zero, and every output's window starts inside the padded
    /// input.
    fn check(&self) -> Result<(), &'static str> {
        let (kh, kw) = (u32::from(self.kernel_height), u32::from(self.kernel_width));
        let stride = u32::from(self.stride);
        if kh == 0 || kw == 0 {
            return Err("kernel");
        }
        if stride == 0 {
            return Err("stride");
        }
        // Each output's window must start inside the padded input, and padding beyond a
        // kernel's reach would only produce outputs that never see the input.
        let fits = |inside: u16, outside: u16, pad: u8, k: u32| {
            let (inside, outside, pad) = (u32::from(inside), u32::from(outside), u32::from(pad));
            pad < k && outside >= 1 && (outside - 1) * stride < inside + pad
        };
        if !fits(self.input.height, self.output.height, self.padding_top, kh) {
            return Err("output height");
        }
        if !fits(self.input.width, self.output.width, self.padding_left, kw) {
            return Err("output width");
        }
        Ok(())
    }

    fn divisor(&self) -> u8 {
        self.stride
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
        divisor_reciprocal: u32,
    ) -> u32 {
        Conv2d::accumulate::<K>(self, events, sums, divisor_reciprocal)
    }

    /// The kernel window of the output pixel, inside the input: for each input its row of
    /// weights into every filter.
    fn for_each_input_row(&self, pixel: Place, mut visit: impl FnMut(usize, &[u8])) {
        let (kh, kw) = (
            usize::from(self.kernel_height),
            usize::from(self.kernel_width),
        );
        let (height, width) = (
            usize::from(self.input.height),
            usize::from(self.input.width),
        );
        let channels = usize::from(self.input.channels);
        let filters = usize::from(self.output.channels);
        let stride = usize::from(self.stride);
        // The window's rows and columns in the padded input, clipped to the input.
        let (top, left) = (usize::from(pixel.y) * stride, usize::from(pixel.x) * stride);
        let (pad_top, pad_left) = (
            usize::from(self.padding_top),
            usize::from(self.padding_left),
        );
        let rows = pad_top.saturating_sub(top)..kh.min((height + pad_top).saturating_sub(top));
        let cols = pad_left.saturating_sub(left)..kw.min((width + pad_left).saturating_sub(left));
        // Weights are `[in_channel][ky][kx][filter]`: one input channel further is this far on.
        let channel_step = kh * kw * filters;
        for ky in rows {
            let y = top + ky - pad_top;
            for kx in cols.clone() {
                let x = left + kx - pad_left;
                let input = (y * width + x) * channels;
                let mut tap = (ky * kw + kx) * filters;
                for c in 0..channels {
                    if let Some(row) = self.weights.get(tap..tap + filters) {
                        visit(input + c, row);
                    }
                    tap += channel_step;
                }
            }
        }
    }
}

impl Conv2d<'_> {
    /// Scatter each event's kernel footprint into `sums`; returns the weight additions.
    ///
    /// An input at row `y` reaches output row `oy` through kernel row `ky` when
    /// `oy * stride + ky = y + padding_top`: the first such `ky` is the remainder of
    /// `(y + padding_top) / stride`, and each further one is `stride` rows on, one output row up.
    ///
    /// Not inlined: inside the step, whose values crowd the registers, the event loop spilled
    /// and reloaded its geometry (1.2% more instructions on the conv MNIST network).
    #[inline(never)]
    pub(crate) fn accumulate<K: FanOut>(
        &self,
        events: impl Iterator<Item = u32>,
        sums: &mut [i32],
        stride_reciprocal: u32,
    ) -> u32 {
        let stride = u32::from(self.stride);
        let (kh, kw) = (u32::from(self.kernel_height), u32::from(self.kernel_width));
        let (out_h, out_w) = (u32::from(self.output.height), u32::from(self.output.width));
        let filters = usize::from(self.output.channels);
        let vector = self.input.is_vector();
        let mut additions = 0u32;
        for e in events {
            let position = e >> COUNT_BITS;
            let count = e & MAX_COUNT;
            let (y, x, c) = if vector {
                (0, 0, position)
            } else {
                (position >> 16, (position >> 8) & 0xff, position & 0xff)
            };
            let reach_y = y + u32::from(self.padding_top);
            let reach_x = x + u32::from(self.padding_left);
            let first_oy = divide_small(reach_y, stride_reciprocal);
            let first_ox = divide_small(reach_x, stride_reciprocal);
            let first_ky = reach_y - first_oy * stride;
            let first_kx = reach_x - first_ox * stride;
            let (mut ky, mut oy) = (first_ky, first_oy);
            while ky < kh {
                if oy < out_h {
                    let (mut kx, mut ox) = (first_kx, first_ox);
                    while kx < kw {
                        if ox < out_w {
                            let tap = ((c * kh + ky) * kw + kx) as usize * filters;
                            let out = (oy * out_w + ox) as usize * filters;
                            if let (Some(row), Some(target)) = (
                                self.weights.get(tap..tap + filters),
                                sums.get_mut(out..out + filters),
                            ) {
                                add_scaled::<K>(target, row, count);
                                additions = additions.wrapping_add(filters as u32);
                            }
                        }
                        if ox == 0 {
                            break;
                        }
                        kx += stride;
                        ox -= 1;
                    }
                }
                if oy == 0 {
                    break;
                }
                ky += stride;
                oy -= 1;
            }
        }
        additions
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::input_events;
    use crate::integer::divisor_reciprocal;
    use crate::kernels::dsp::Dsp;
    use crate::kernels::isa::Twins;
    use crate::kernels::portable::Portable;
    use proptest::prelude::*;
    use std::vec::Vec;

    /// A convolution's geometry: input shape, kernel, stride, padding, output size, filters.
    fn conv_geometry() -> impl Strategy<Value = (Shape, u8, u8, u8, u8, u8, Shape)> {
        (
            1u16..=9,
            1u16..=9,
            1u16..=3,
            1u8..=4,
            1u8..=4,
            1u8..=3,
            1u16..=3,
        )
            .prop_flat_map(|(h, w, c, kh, kw, stride, filters)| {
                (0..kh, 0..kh, 0..kw, 0..kw).prop_filter_map(
                    "kernel larger than the padded input",
                    move |(top, bottom, left, right)| {
                        let padded_h = i32::from(h) + i32::from(top) + i32::from(bottom);
                        let padded_w = i32::from(w) + i32::from(left) + i32::from(right);
                        let out_h = (padded_h - i32::from(kh)) / i32::from(stride) + 1;
                        let out_w = (padded_w - i32::from(kw)) / i32::from(stride) + 1;
                        (padded_h >= i32::from(kh) && padded_w >= i32::from(kw)).then(|| {
                            (
                                Shape::image(h, w, c),
                                kh,
                                kw,
                                stride,
                                top,
                                left,
                                Shape::image(out_h as u16, out_w as u16, filters),
                            )
                        })
                    },
                )
            })
    }

    proptest! {
        /// The event-driven convolution equals the textbook one: every output sums input times
        /// weight over its window, reading zero outside the input.
        #[test]
        fn convolution_scatter_equals_the_direct_sum(
            (input, kh, kw, stride, top, left, output) in conv_geometry(),
            seed in any::<u64>(),
        ) {
            let mut state = seed | 1;
            let mut next = move || {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state
            };
            let (c_in, filters) = (usize::from(input.channels), usize::from(output.channels));
            let weights: Vec<u8> = (0..c_in * usize::from(kh) * usize::from(kw) * filters)
                .map(|_| next() as u8)
                .collect();
            // Sparse counts, some of them large.
            let values: Vec<u8> = (0..input.len())
                .map(|_| if next() % 3 == 0 { next() as u8 } else { 0 })
                .collect();
            let conv = Conv2d {
                input,
                output,
                kernel_height: kh,
                kernel_width: kw,
                stride,
                padding_top: top,
                padding_left: left,
                neuron: Neuron::Readout,
                synapse: Synapse::None,
                weights: &weights,
                scaling: Scaling { multipliers: &[], shifts: &[], biases: &[] },
                activity: 0,
            };
            prop_assert_eq!(conv.check(), Ok(()));
            let mut sums = std::vec![0i32; output.len()];
            let events = || input_events(input, &values);
            conv.accumulate::<Portable>(events(), &mut sums, divisor_reciprocal(stride));
            let mut dsp_sums = std::vec![0i32; output.len()];
            conv.accumulate::<Dsp<Twins>>(events(), &mut dsp_sums, divisor_reciprocal(stride));
            prop_assert_eq!(&dsp_sums, &sums);
            let (h, w) = (i32::from(input.height), i32::from(input.width));
            for oy in 0..i32::from(output.height) {
                for ox in 0..i32::from(output.width) {
                    for f in 0..filters {
                        let mut expected = 0i32;
                        for ci in 0..c_in {
                            for ky in 0..i32::from(kh) {
                                for kx in 0..i32::from(kw) {
                                    let y = oy * i32::from(stride) - i32::from(top) + ky;
                                    let x = ox * i32::from(stride) - i32::from(left) + kx;
                                    if y < 0 || x < 0 || y >= h || x >= w {
                                        continue;
                                    }
                                    let v = values[((y * w + x) as usize) * c_in + ci];
                                    let tap = ((ci * usize::from(kh) + ky as usize)
                                        * usize::from(kw)
                                        + kx as usize)
                                        * filters
                                        + f;
                                    expected += i32::from(v) * i32::from(weights[tap] as i8);
                                }
                            }
                        }
                        let index = ((oy * i32::from(output.width) + ox) as usize) * filters + f;
                        prop_assert_eq!(sums[index], expected, "output ({}, {}, {})", oy, ox, f);
                    }
                }
            }
        }
    }
}
