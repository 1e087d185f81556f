//! Events: how a layer's output reaches the next layer.
//!
//! An *event* is one `u32`: bits 8..32 name the input value, bits 0..8 its count this step
//! (a spike count, a pooled sum or, for the first layer, a raw input byte). A vector input
//! (`1 x 1 x n`) is named by its index; an image input by `y << 16 | x << 8 | c`, so that a
//! convolution finds its footprint without dividing. Inputs that are zero produce no event and
//! cost nothing.

use crate::runs::runs;
use crate::shape::Shape;

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

/// Collects a layer's output events.
pub(crate) struct Emitter<'e> {
    pub(crate) events: &'e mut [i32],
    pub(crate) emitted: usize,
    pub(crate) spikes: u32,
}

impl Emitter<'_> {
    #[inline(always)]
    pub(crate) fn emit(&mut self, position: usize, count: u32) {
        if let Some(slot) = self.events.get_mut(self.emitted) {
            *slot = event(position as u32, count.min(MAX_COUNT)) as i32;
            self.emitted += 1;
        }
        self.spikes = self.spikes.saturating_add(count);
    }
}

/// Run `neurons(run, currents, out)` over every pixel's run of channels, with `out` emitting
/// events at the pixel's positions.
#[inline(always)]
pub(crate) fn for_each_pixel(
    shape: Shape,
    currents: &[i32],
    out: &mut Emitter<'_>,
    mut neurons: impl FnMut(core::ops::Range<usize>, &[i32], &mut PixelEmitter<'_, '_>),
) {
    let channels = usize::from(shape.channels).max(1);
    let vector = shape.is_vector();
    let (mut x, mut y) = (0u32, 0u32);
    for (pixel, currents) in runs(currents, channels).enumerate() {
        let base = pixel * channels;
        let tag = if vector {
            0
        } else {
            pixel_position(y, x) as usize
        };
        let mut pixel_out = PixelEmitter {
            out: &mut *out,
            tag,
        };
        neurons(base..base + channels, currents, &mut pixel_out);
        if !vector {
            x += 1;
            if x == u32::from(shape.width) {
                x = 0;
                y += 1;
            }
        }
    }
}

/// An [`Emitter`] for one pixel's run of channels: channel `c` is position `tag + c`.
pub(crate) struct PixelEmitter<'p, 'e> {
    out: &'p mut Emitter<'e>,
    tag: usize,
}

impl PixelEmitter<'_, '_> {
    #[inline(always)]
    pub(crate) fn emit(&mut self, channel: usize, count: u32) {
        self.out.emit(self.tag + channel, count);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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

    proptest! {
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
    }
}
