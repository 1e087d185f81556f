//! The per-output-channel scaling and bias of a weighted layer (dense or convolution).

use serde::{Deserialize, Serialize};

/// Per-output-channel scaling and bias of a weighted layer.
///
/// The current of an output in channel `c` is
/// `bias[c] + synapse(scale(sum, multiplier[c], shift[c]))`, where `sum` is the exact integer
/// weighted sum of the layer's input and [`crate::fixed_point::scale`] rounds
/// `sum * multiplier * 2^-shift` to Q16.16.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Scaling<'a> {
    /// `u16` little-endian multipliers, 2 bytes per output channel.
    pub multipliers: &'a [u8],
    /// Right shifts `-16..=47` (`i8`; negative shifts left), one byte per output channel.
    pub shifts: &'a [u8],
    /// `i32` little-endian Q16.16 biases, 4 bytes per output channel.
    pub biases: &'a [u8],
}

impl Scaling<'_> {
    /// Channel `channel`'s multiplier, (signed) shift and Q16.16 bias; zeros past the stored
    /// channels (the loader checks the lengths).
    // Inlined: the layer-major order asks once per neuron (not inlined, 1.0 % more instructions
    // for conv MNIST on the Cortex-M0).
    #[inline(always)]
    pub(crate) fn channel(&self, channel: usize) -> (u16, i8, i32) {
        let multiplier = self
            .multipliers
            .get(2 * channel..2 * channel + 2)
            .map_or(0, |b| u16::from_le_bytes([b[0], b[1]]));
        let shift = self.shifts.get(channel).map_or(0, |&s| s as i8);
        let bias = self
            .biases
            .get(4 * channel..4 * channel + 4)
            .map_or(0, |b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        (multiplier, shift, bias)
    }
}
