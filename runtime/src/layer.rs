//! Layer kinds: their stored form, their validation and how they turn input into current.
//!
//! Every layer kind answers the same two questions for the network engine: how much drive
//! (weighted input, Q16.16) a static input vector produces, and how much a step's spikes of the
//! previous layer produce. The neurons, synapses and state layout after that are shared, so a
//! new kind (convolution, pooling, recurrent) only adds a variant here and a bit in the header's
//! kind set.

use serde::{Deserialize, Serialize};

use crate::error::LoadError;
use crate::fixed_point;
use crate::neuron::Neuron;
use crate::synapse::Synapse;

/// Layer kinds known to the format, numbered by their bit in the header's kind set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
#[repr(u8)]
pub enum LayerKind {
    /// Fully connected layer ([`Dense`]).
    Dense = 0,
}

impl LayerKind {
    /// The kind's bit in the header's kind set.
    pub const fn bit(self) -> u32 {
        1 << self as u8
    }
}

/// Bit set of the layer kinds this runtime executes.
pub const SUPPORTED_KINDS: u32 = LayerKind::Dense.bit();

/// One layer of a stored model. Postcard writes the variant index first, then its fields.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Layer<'a> {
    /// A fully connected layer.
    Dense(#[serde(borrow)] Dense<'a>),
}

/// A fully connected layer followed by its synapse and neurons.
///
/// The current of output `i` is `bias[i] + synapse(multiplier[i] * 2^-shift * sum_j n_j * w[j][i])`
/// in Q16.16, where `n_j` is input `j`: a raw input value for the first layer, the previous
/// layer's spike count this step otherwise. The exporter folds Nengo's gain, the input scaling,
/// the previous layer's `amplitude / dt` and, for spiking-ReLU neurons, `dt` into the weights.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Dense<'a> {
    /// Number of inputs.
    pub inputs: u16,
    /// Number of outputs (neurons).
    pub outputs: u16,
    /// The neurons this layer drives.
    pub neuron: Neuron,
    /// The filter between the weighted input and the neurons.
    pub synapse: Synapse,
    /// Right shift applied after the per-output multipliers, `1..=62`.
    pub shift: u8,
    /// `i8` weights, `inputs * outputs` bytes, row-major by input so that one input's fan-out is
    /// contiguous.
    pub weights: &'a [u8],
    /// Per-output `i32` little-endian multipliers, `4 * outputs` bytes.
    pub multipliers: &'a [u8],
    /// Per-output `i32` little-endian Q16.16 biases, `4 * outputs` bytes.
    pub biases: &'a [u8],
}

impl<'a> Layer<'a> {
    /// The layer's kind.
    pub fn kind(&self) -> LayerKind {
        match self {
            Layer::Dense(_) => LayerKind::Dense,
        }
    }

    /// Number of values the layer takes.
    pub fn inputs(&self) -> u16 {
        match self {
            Layer::Dense(d) => d.inputs,
        }
    }

    /// Number of neurons (or readout values) the layer has.
    pub fn outputs(&self) -> u16 {
        match self {
            Layer::Dense(d) => d.outputs,
        }
    }

    /// The layer's neuron model.
    pub fn neuron(&self) -> Neuron {
        match self {
            Layer::Dense(d) => d.neuron,
        }
    }

    /// The layer's input synapse.
    pub fn synapse(&self) -> Synapse {
        match self {
            Layer::Dense(d) => d.synapse,
        }
    }

    /// Per-output Q16.16 bias bytes.
    pub(crate) fn biases(&self) -> &'a [u8] {
        match self {
            Layer::Dense(d) => d.biases,
        }
    }

    /// Bytes of weights, multipliers and biases (what the layer adds to flash).
    pub fn parameter_bytes(&self) -> usize {
        match self {
            Layer::Dense(d) => d.weights.len() + d.multipliers.len() + d.biases.len(),
        }
    }

    /// State words (`i32`) the layer needs.
    pub fn state_words(&self) -> usize {
        let per_neuron = 1 // drive
            + usize::from(self.synapse() != Synapse::None)
            + self.neuron().state_words_per_neuron();
        usize::from(self.outputs()) * per_neuron
    }

    /// Check the layer's sizes and shift against its shape.
    pub(crate) fn validate(&self, index: u8) -> Result<(), LoadError> {
        match self {
            Layer::Dense(d) => d.validate(index),
        }
    }

    /// Weighted sum of a static input vector, as Q16.16 drive, into `drive`.
    pub(crate) fn drive_from_input(&self, input: &[u8], drive: &mut [i32]) {
        match self {
            Layer::Dense(d) => {
                d.drive(input.iter().map(|&x| i32::from(x)), drive);
            }
        }
    }

    /// Weighted sum of this step's input spike counts, as Q16.16 drive, into `drive`.
    ///
    /// Returns the number of synaptic events (weight additions) it took.
    pub(crate) fn drive_from_spikes(&self, spikes: &[i32], drive: &mut [i32]) -> u32 {
        match self {
            Layer::Dense(d) => d.drive(spikes.iter().copied(), drive),
        }
    }
}

impl Dense<'_> {
    fn validate(&self, layer: u8) -> Result<(), LoadError> {
        let outputs = usize::from(self.outputs);
        if self.inputs == 0 || self.outputs == 0 {
            return Err(LoadError::ParameterOutOfRange {
                layer: Some(layer),
                parameter: if self.inputs == 0 {
                    "inputs"
                } else {
                    "outputs"
                },
            });
        }
        let checks = [
            (
                "weights",
                self.weights.len(),
                usize::from(self.inputs) * outputs,
            ),
            ("multipliers", self.multipliers.len(), 4 * outputs),
            ("biases", self.biases.len(), 4 * outputs),
        ];
        for (field, found, expected) in checks {
            if found != expected {
                return Err(LoadError::WrongLength {
                    layer,
                    field,
                    found,
                    expected,
                });
            }
        }
        if !(1..=62).contains(&self.shift) {
            return Err(LoadError::ParameterOutOfRange {
                layer: Some(layer),
                parameter: "shift",
            });
        }
        Ok(())
    }

    /// Event-driven weighted sum: inputs that are zero cost nothing.
    ///
    /// Each input is at most 255 (a raw byte or a clamped spike count) and a weight at least
    /// -128, over at most `u16::MAX` inputs, so the `i32` sums cannot overflow (see
    /// [`crate::fixed_point`]); `wrapping_add` states that no check is needed.
    fn drive(&self, inputs: impl Iterator<Item = i32>, drive: &mut [i32]) -> u32 {
        // `max(1)`: `chunks_exact(0)` would panic; with no outputs there are no weights, so
        // one-byte chunks of the empty slice yield nothing either.
        let outputs = usize::from(self.outputs).max(1);
        drive.fill(0);
        let mut events = 0u32;
        for (count, fan_out) in inputs.zip(self.weights.chunks_exact(outputs)) {
            if count == 0 {
                continue;
            }
            events = events.saturating_add(u32::from(self.outputs));
            for (sum, &weight) in drive.iter_mut().zip(fan_out) {
                *sum = sum.wrapping_add(count * i32::from(weight as i8));
            }
        }
        let shift = u32::from(self.shift);
        for (sum, multiplier) in drive.iter_mut().zip(self.multipliers.chunks_exact(4)) {
            *sum = scale_v1(*sum, read_i32(multiplier), shift);
        }
        events
    }
}

/// The v1 rescale (`i32` multiplier, shift `1..=62`); format v2 uses [`fixed_point::scale`].
#[inline]
fn scale_v1(sum: i32, multiplier: i32, shift: u32) -> i32 {
    let product = i64::from(sum) * i64::from(multiplier);
    let half = 1i64 << (shift.saturating_sub(1) & 63);
    fixed_point::saturate(product.saturating_add(half) >> (shift & 63))
}

/// Read a little-endian `i32` from a 4-byte chunk (shorter chunks read as zero-padded).
#[inline]
pub(crate) fn read_i32(bytes: &[u8]) -> i32 {
    let mut word = [0u8; 4];
    for (dst, src) in word.iter_mut().zip(bytes) {
        *dst = *src;
    }
    i32::from_le_bytes(word)
}
