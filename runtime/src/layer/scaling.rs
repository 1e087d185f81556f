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
