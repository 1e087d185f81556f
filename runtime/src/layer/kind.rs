//! The contract between a layer kind and the loader and engine: what every kind answers.

use crate::kernels::FanOut;
use crate::neuron::Neuron;
use crate::shape::{Place, Shape};
use crate::synapse::Synapse;

use super::scaling::Scaling;

/// Layer kinds known to the format, numbered by their bit in the header's kind set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
#[repr(u8)]
pub enum LayerKind {
    /// Fully connected layer ([`Dense`](super::Dense)).
    Dense = 0,
    /// 2-D convolution ([`Conv2d`](super::Conv2d)).
    Conv2d = 1,
    /// Sum pooling ([`SumPool`](super::SumPool)).
    SumPool = 2,
}

impl LayerKind {
    /// The kind's bit in the header's kind set.
    pub const fn bit(self) -> u32 {
        1 << self as u8
    }
}

/// What a layer kind tells the loader and the engine about itself.
///
/// Each kind implements it in its own file, beside its stored form and its drive kernel (an
/// `accumulate` that turns input events into integer sums); [`Layer`](super::Layer) dispatches
/// over the kinds. See `runtime/ARCHITECTURE.md`, "Adding a layer kind".
pub(crate) trait Kind {
    /// The kind's number in the format.
    const KIND: LayerKind;
    /// Shape of the input the layer takes.
    fn input_shape(&self) -> Shape;
    /// Shape of the output the layer produces.
    fn output_shape(&self) -> Shape;
    /// The layer's neurons, `None` for a linear layer (pooling).
    fn neuron(&self) -> Option<Neuron>;
    /// The filter between the layer's weighted input and its neurons ([`Synapse::None`] for a
    /// linear layer).
    fn synapse(&self) -> Synapse;
    /// The `i8` weights and the per-channel scaling of a weighted layer, `None` for a linear
    /// one.
    fn weighted(&self) -> Option<(&[u8], Scaling<'_>)>;
    /// Mean spikes per neuron and step recorded at export, times 65535 (0 if unknown).
    fn activity(&self) -> u16;
    /// Inputs that feed one output: the number of terms of its weighted sum.
    fn fan_in(&self) -> usize;
    /// Weight additions one input event causes at most.
    fn fan_out(&self) -> usize;
    /// Bytes of `i8` weights the layer's shape calls for (0 without weights).
    fn weight_count(&self) -> usize;
    /// Check the kind's own parameters (the shapes' bounds and the weight lengths are checked
    /// for every kind by [`Layer`](super::Layer)); the error names the parameter.
    fn check(&self) -> Result<(), &'static str>;
    /// The divisor of positions the drive kernel needs (a stride, a window side), whose
    /// reciprocal the loader computes once; 1 for none.
    fn divisor(&self) -> u8 {
        1
    }
    /// The drive kernel: add the fan-out of each input event to the integer `sums` (one per
    /// output) with the fan-out kernels `K`; returns the weight additions. `divisor_reciprocal` is the load-time
    /// reciprocal of [`Kind::divisor`]. A kind without weights (a pool) adds nothing here:
    /// its sums are its output events, which the engine asks it for itself.
    fn accumulate<K: FanOut>(
        &self,
        events: impl Iterator<Item = u32>,
        sums: &mut [i32],
        divisor_reciprocal: u32,
    ) -> u32;

    /// The gather of the layer-major order ([`crate::layered`]) for a weighted kind: call
    /// `visit(input, row)` for every input that feeds the output pixel of `pixel`, with the
    /// input's index in HWC order and its `i8` weights into each of the pixel's channels (the
    /// row the drive kernel adds for an event of that input). Inputs outside the layer (a
    /// convolution's padding) are skipped. A kind without weights has none.
    fn for_each_input_row(&self, pixel: Place, visit: impl FnMut(usize, &[u8])) {
        let _ = (pixel, visit);
    }

    /// The gather of the layer-major order for a kind without weights (a pool): call
    /// `visit(input)` for every input that feeds the output value at `place`. A weighted kind
    /// gathers by rows ([`Kind::for_each_input_row`]) instead.
    fn for_each_fan_in(&self, place: Place, visit: impl FnMut(usize)) {
        let _ = (place, visit);
    }
}
