//! Event-driven drive kernels: how each layer kind turns input events into integer sums.
//!
//! An *event* is one `u32`: bits 8..32 name the input value, bits 0..8 its count this step
//! (a spike count, a pooled sum or, for the first layer, a raw input byte). A vector input
//! (`1 x 1 x n`) is named by its index; an image input by `y << 16 | x << 8 | c`, so that a
//! convolution finds its footprint without dividing. Inputs that are zero produce no event and
//! cost nothing.
//!
//! Sums are exact `i32`: the loader checks that `fan_in * largest input * 128` fits
//! (see [`crate::format`]), so `wrapping_add` never wraps.

use crate::dsp;
use crate::layer::{Conv2d, Dense, Shape, SumPool};

/// Bits of an event's count field.
pub(crate) const COUNT_BITS: u32 = 8;

/// Largest count an event carries.
pub(crate) const MAX_COUNT: u32 = (1 << COUNT_BITS) - 1;

// The fan-out kernels take a count as the event's low byte.
const _: () = assert!(MAX_COUNT == u8::MAX as u32);

/// An event for value `position` with `count`.
#[inline(always)]
pub(crate) const fn event(position: u32, count: u32) -> u32 {
    (position << COUNT_BITS) | count
}

/// Position of pixel `(y, x)` of an image (channel 0); a vector's values use their index.
#[inline(always)]
pub(crate) const fn pixel_position(y: u32, x: u32) -> u32 {
    (y << 16) | (x << 8)
}

/// The event position of each value index of a layer output of shape `shape`, for indices in
/// increasing order: a feature map's pixel is found by walking along with them instead of
/// dividing (a vector's positions are its indices). The inverse of [`flat_index`].
pub(crate) fn positions(shape: Shape) -> impl FnMut(usize) -> u32 {
    let channels = usize::from(shape.channels).max(1);
    let vector = shape.is_vector();
    let (mut pixel_start, mut x, mut y) = (0usize, 0u32, 0u32);
    move |index| {
        if vector {
            return index as u32;
        }
        while index >= pixel_start + channels {
            pixel_start += channels;
            x += 1;
            if x == u32::from(shape.width) {
                x = 0;
                y += 1;
            }
        }
        pixel_position(y, x) + (index - pixel_start) as u32
    }
}

/// Index in HWC order of the value an event names, for a layer output of shape `shape`.
#[inline(always)]
pub(crate) fn flat_index(position: u32, shape: Shape) -> usize {
    let position = position as usize;
    if shape.is_vector() {
        position
    } else {
        ((position >> 16) * usize::from(shape.width) + ((position >> 8) & 0xff))
            * usize::from(shape.channels)
            + (position & 0xff)
    }
}

/// Fixed-point reciprocal for [`divide_small`]: `ceil(2^22 / divisor)`.
pub(crate) const fn reciprocal(divisor: u8) -> u32 {
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

/// Events of a raw input of shape `shape`: one per non-zero byte, in HWC order.
pub(crate) fn input_events(shape: Shape, raw: &[u8]) -> InputEvents<'_> {
    InputEvents {
        raw: raw.iter(),
        vector: shape.is_vector(),
        channels: u32::from(shape.channels),
        width: u32::from(shape.width),
        index: 0,
        x: 0,
        y: 0,
        c: 0,
    }
}

/// Events of a vector input: [`input_events`] for a `1 x 1 x n` shape, without the pixel
/// counters (the static drive of every dense first layer walks its input through this).
pub(crate) fn vector_events(raw: &[u8]) -> VectorEvents<'_> {
    let (words, tail) = raw.as_chunks::<4>();
    VectorEvents {
        words: words.iter(),
        tail,
        word: 0,
        index: 0,
        next: 0,
    }
}

/// Iterator of [`vector_events`]: a word (four input bytes) at a time, so that a run of zero
/// inputs (most of an MNIST image) costs one load and one test per four inputs.
pub(crate) struct VectorEvents<'r> {
    words: core::slice::Iter<'r, [u8; 4]>,
    /// The last `raw.len() % 4` bytes, read as one more (zero-padded) word.
    tail: &'r [u8],
    /// The bytes of the current word not yet looked at, the next one lowest.
    word: u32,
    /// Index of the input in the low byte of `word`.
    index: u32,
    /// Index of the first input of the next word.
    next: u32,
}

impl Iterator for VectorEvents<'_> {
    type Item = u32;

    #[inline(always)]
    fn next(&mut self) -> Option<u32> {
        loop {
            // The rest of the current word is zero: find the next non-zero word.
            while self.word == 0 {
                self.word = match self.words.next() {
                    Some(&w) => u32::from_le_bytes(w),
                    None => {
                        let tail = core::mem::take(&mut self.tail);
                        if tail.is_empty() {
                            return None;
                        }
                        tail.iter()
                            .rev()
                            .fold(0u32, |word, &b| word << 8 | u32::from(b))
                    }
                };
                self.index = self.next;
                self.next = self.next.wrapping_add(4);
            }
            let value = self.word & 0xff;
            let index = self.index;
            self.word >>= 8;
            self.index = index.wrapping_add(1);
            if value != 0 {
                return Some(event(index, value));
            }
        }
    }
}

/// Iterator of [`input_events`]: walks the pixels with counters instead of dividing indices.
pub(crate) struct InputEvents<'r> {
    raw: core::slice::Iter<'r, u8>,
    vector: bool,
    channels: u32,
    width: u32,
    index: u32,
    y: u32,
    x: u32,
    c: u32,
}

impl Iterator for InputEvents<'_> {
    type Item = u32;

    // On Cortex-M4, `Dense::accumulate_by_four` calls `next` from four places; inlined into
    // each, the pixel walk cost 1.5 KB of flash for a path (an image into a dense first
    // layer) that runs once per inference.
    #[cfg_attr(picospike_dsp, inline(never))]
    fn next(&mut self) -> Option<u32> {
        loop {
            let value = u32::from(*self.raw.next()?);
            let position = if self.vector {
                self.index
            } else {
                pixel_position(self.y, self.x) | self.c
            };
            self.index = self.index.wrapping_add(1);
            self.c += 1;
            if self.c >= self.channels {
                self.c = 0;
                self.x += 1;
                if self.x >= self.width {
                    self.x = 0;
                    self.y += 1;
                }
            }
            if value != 0 {
                return Some(event(position, value));
            }
        }
    }
}

/// Add `count * weights` to `sums`, element by element (`count` is an event's, `0..=255`).
#[inline(always)]
fn add_scaled(sums: &mut [i32], weights: &[u8], count: u32) {
    if count == 1 {
        // Spikes of LIF neurons: one per event, so the fan-out is additions only.
        dsp::add_weights(sums, weights);
    } else {
        dsp::add_weights_scaled(sums, weights, count as u8);
    }
}

/// Add `count_a * a + count_b * b` to `sums` in one pass (counts are events', `0..=255`).
#[inline(always)]
fn add_two_scaled(sums: &mut [i32], a: &[u8], count_a: u32, b: &[u8], count_b: u32) {
    if count_a == 1 && count_b == 1 {
        dsp::add_two_weights(sums, a, b);
    } else {
        dsp::add_two_weights_scaled(sums, a, count_a as u8, b, count_b as u8);
    }
}

/// Add `counts[0] * rows[0] + ... + counts[2] * rows[2]` to `sums`.
#[inline(always)]
fn add_three_scaled(sums: &mut [i32], rows: [&[u8]; 3], counts: [u8; 3]) {
    if u32::from_le_bytes([counts[0], counts[1], counts[2], 0]) == 0x01_0101 {
        // A two-row and a one-row pass of additions (cheaper than the four-row multiply loop
        // with a row of count zero).
        let n = rows.iter().fold(sums.len(), |n, row| n.min(row.len()));
        let sums = &mut sums[..n];
        dsp::add_two_weights(sums, rows[0], rows[1]);
        dsp::add_weights_outlined(sums, rows[2], 1);
    } else {
        dsp::add_three_weights_scaled(sums, rows, counts);
    }
}

/// Add `counts[0] * rows[0] + ... + counts[3] * rows[3]` to `sums` in one pass.
#[inline(always)]
fn add_four_scaled(sums: &mut [i32], rows: [&[u8]; 4], counts: [u8; 4]) {
    // One comparison of the four counts as a word (an array `==` can become a `memcmp`).
    if u32::from_le_bytes(counts) == 0x0101_0101 {
        dsp::add_four_weights(sums, rows);
    } else {
        dsp::add_four_weights_scaled(sums, rows, counts);
    }
}

impl Dense<'_> {
    /// Scatter each event's fan-out row into `sums`; returns the weight additions.
    ///
    /// The sums are exact integers, so the order of the additions does not matter: events are
    /// taken four at a time on Cortex-M4 ([`Dense::accumulate_by_four`]), two at a time
    /// elsewhere ([`Dense::accumulate_by_two`]), so that each sum is loaded and stored once
    /// per four (or two) rows.
    #[inline(always)]
    pub(crate) fn accumulate(&self, events: impl Iterator<Item = u32>, sums: &mut [i32]) -> u32 {
        // The input's kind once per call: a vector's event positions are its indices, which
        // saves the pixel lookup of each row (about 1,000 instructions per inference of the
        // 64-100-10 network). Not on the cores without DSP: there the second copy of the loop
        // measured 544 bytes of flash, more than the micro:bit has left beside the 784-256-10
        // model.
        #[cfg(picospike_dsp)]
        if self.input.is_vector() {
            self.accumulate_by_four::<true>(events, sums)
        } else {
            self.accumulate_by_four::<false>(events, sums)
        }
        #[cfg(not(picospike_dsp))]
        self.accumulate_by_two::<false>(events, sums)
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
    #[cfg_attr(picospike_dsp, allow(dead_code))]
    pub(crate) fn accumulate_by_two<const VECTOR: bool>(
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
                    add_two_scaled(sums, first, u32::from(first_count), row, u32::from(count))
                }
            }
        }
        if let Some((row, count)) = waiting {
            add_scaled(sums, row, u32::from(count));
        }
        additions
    }

    /// [`Dense::accumulate`] four events at a time, through the four-row kernels; the last
    /// one to three events go through the one-, two- and three-row kernels.
    ///
    /// Inlined into the step: as a function of its own it ran at most 0.4% fewer
    /// instructions, but its frame added 190 bytes to the peak stack of an inference.
    #[cfg_attr(not(picospike_dsp), allow(dead_code))]
    #[inline(always)]
    pub(crate) fn accumulate_by_four<const VECTOR: bool>(
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
                dsp::add_weights_outlined(sums, a, count_a);
                break;
            };
            let Some((c, count_c)) = rows.next() else {
                add_two_scaled(sums, a, u32::from(count_a), b, u32::from(count_b));
                break;
            };
            let Some((d, count_d)) = rows.next() else {
                add_three_scaled(sums, [a, b, c], [count_a, count_b, count_c]);
                break;
            };
            add_four_scaled(sums, [a, b, c, d], [count_a, count_b, count_c, count_d]);
        }
        additions
    }
}

impl Conv2d<'_> {
    /// Scatter each event's kernel footprint into `sums`; returns the weight additions.
    ///
    /// An input at row `y` reaches output row `oy` through kernel row `ky` when
    /// `oy * stride + ky = y + padding_top`: the first such `ky` is the remainder of
    /// `(y + padding_top) / stride`, and each further one is `stride` rows on, one output row up.
    pub(crate) fn accumulate(
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
                                add_scaled(target, row, count);
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
    use crate::layer::Scaling;
    use crate::neuron::Neuron;
    use crate::synapse::Synapse;
    use proptest::prelude::*;
    use std::vec::Vec;

    #[test]
    fn vector_events_equal_input_events_of_a_vector() {
        let raw: Vec<u8> = (0..300u32)
            .map(|i| if i % 3 == 0 { 0 } else { i as u8 })
            .collect();
        let shape = Shape::vector(raw.len() as u16);
        let expected: Vec<u32> = input_events(shape, &raw).collect();
        assert_eq!(
            expected.len(),
            200 - 1,
            "300 bytes, a third zero, one wraps to 0"
        );
        assert_eq!(vector_events(&raw).collect::<Vec<u32>>(), expected);
    }

    #[test]
    fn small_division_is_exact_over_its_range() {
        for divisor in 1..=255u8 {
            let r = reciprocal(divisor);
            for value in 0..1024u32 {
                assert_eq!(divide_small(value, r), value / u32::from(divisor));
            }
        }
    }

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
            let valid = conv
                .validate(|p| crate::error::LoadError::ParameterOutOfRange {
                    layer: None,
                    parameter: p,
                })
                .is_ok();
            prop_assert!(valid);
            let mut sums = std::vec![0i32; output.len()];
            conv.accumulate(input_events(input, &values), &mut sums, reciprocal(stride));
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

        /// The word-at-a-time walk of a vector input yields the events of the pixel walk,
        /// for every length (whole words or not) and density.
        #[test]
        fn vector_events_equal_input_events(
            raw in proptest::collection::vec(
                prop_oneof![3 => Just(0u8), 1 => any::<u8>()], 0..70),
        ) {
            let shape = Shape::vector(raw.len() as u16);
            let expected: Vec<u32> = input_events(shape, &raw).collect();
            prop_assert_eq!(vector_events(&raw).collect::<Vec<u32>>(), expected);
        }

        /// The Cortex-M4 grouping (four events per pass) and the Cortex-M0 one (two per pass)
        /// give the sums of the textbook fan-out, skip inputs outside the layer, and count the
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
            for (sums, additions) in [
                dense_sums(outs + extra, |s| dense.accumulate_by_four::<true>(events.clone(), s)),
                dense_sums(outs + extra, |s| dense.accumulate_by_four::<false>(events.clone(), s)),
                dense_sums(outs + extra, |s| dense.accumulate_by_two::<true>(events.clone(), s)),
                dense_sums(outs + extra, |s| dense.accumulate_by_two::<false>(events.clone(), s)),
            ] {
                prop_assert_eq!(&sums, &expected);
                prop_assert_eq!(additions, expected_additions);
            }
        }

        /// Sum pooling adds each window's counts, emits one event per non-zero window and
        /// leaves its sums cleared.
        #[test]
        fn pooling_sums_windows_and_clears(
            h in 1u16..=9, w in 1u16..=9, c in 1u16..=3, size in 1u8..=3,
            seed in any::<u64>(),
        ) {
            let input = Shape::image(h, w, c);
            let pool = SumPool { input, size };
            let output = crate::layer::Layer::SumPool(pool).output_shape();
            prop_assume!(!output.is_empty());
            let counts: Vec<u8> = (0..input.len())
                .map(|i| ((seed >> (i % 64)) & 1) as u8 * (1 + (i % 3) as u8))
                .collect();
            let mut sums = std::vec![0i32; output.len()];
            let mut events = std::vec![0i32; output.len()];
            let n = pool.accumulate(input_events(input, &counts), &mut sums, &mut events, reciprocal(size), output);
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
