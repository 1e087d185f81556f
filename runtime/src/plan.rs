//! What the loader computes once: each layer's checks in the context of its neighbours, its
//! load-time constants, and the state buffer carved into each layer's regions.

use crate::current::pack_scale;
use crate::error::LoadError;
use crate::event::MAX_COUNT;
use crate::format::{Header, InputEncoding};
use crate::integer::divisor_reciprocal;
use crate::layer::{Layer, StatePlan};
use crate::neuron::{Dynamics, Neuron};

/// Load-time constants of one layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LayerConstants {
    /// The neurons' constants, `None` for a linear layer.
    pub(crate) dynamics: Option<Dynamics>,
    /// Q16.16 `1 - exp(-dt/tau)` of the input synapse, `None` when unfiltered.
    pub(crate) synapse_gain: Option<i32>,
    /// [`divisor_reciprocal`] of a convolution's stride or a pool's size.
    pub(crate) divisor_reciprocal: u32,
}

/// Check decoded layers against their header and against each other (shapes, worst-case
/// sums, where the readout is), push each layer's load-time constants onto `constants`, and
/// return the state words the model needs.
#[inline(never)]
pub(crate) fn check_model<const L: usize>(
    dt: f32,
    input: &InputEncoding,
    layers: &[Layer<'_>],
    header: &Header,
    constants: &mut heapless::Vec<LayerConstants, L>,
) -> Result<usize, LoadError> {
    let model_parameter = |parameter| LoadError::ParameterOutOfRange {
        layer: None,
        parameter,
    };
    if layers.len() != usize::from(header.layer_count) {
        return Err(LoadError::Malformed { part: "body" });
    }
    if !(dt.is_finite() && dt > 0.0 && dt <= 1.0) {
        return Err(model_parameter("dt"));
    }
    if input.full_scale == 0 {
        return Err(model_parameter("full_scale"));
    }
    let last = layers
        .len()
        .checked_sub(1)
        .ok_or(model_parameter("layer_count"))?;
    let mut kinds = 0u32;
    let mut fed = input.shape;
    // Largest value one input of the next layer carries in a step: raw bytes first.
    let mut fed_max = u32::from(u8::MAX);
    let mut state_words = 0usize;
    for (index, layer) in layers.iter().enumerate() {
        let layer_index = index as u8;
        if layer.input_shape() != fed {
            return Err(LoadError::ShapeMismatch {
                layer: layer_index,
                found: layer.input_shape(),
                expected: fed,
            });
        }
        let position = (index == 0, index == last);
        fed_max = check_layer(layer, layer_index, position, fed_max, dt, constants)?;
        // After `check_layer` returned rather than inside it: the two frames are never on the
        // stack together (on the Cortex-M0, 200 bytes less at the peak of the load).
        if let (Some(neuron), Some(entry)) = (layer.neuron(), constants.last_mut()) {
            neuron
                .dynamics_into(dt, &mut entry.dynamics)
                .map_err(|parameter| LoadError::ParameterOutOfRange {
                    layer: Some(layer_index),
                    parameter,
                })?;
        }
        kinds |= layer.kind().bit();
        state_words = state_words.saturating_add(layer.state_words());
        fed = layer.output_shape();
    }
    if kinds != header.layer_kinds {
        return Err(LoadError::Malformed { part: "header" });
    }
    if state_words != header.state_words as usize {
        return Err(model_parameter("state_words"));
    }
    Ok(state_words)
}

/// Check one layer whose input shape is already known to fit: its own parameters, its place
/// (`(first, last)`: only the last reads out), its worst-case sums for an input of at most
/// `fed_max` per value; push its load-time constants onto `constants`, all but its neurons'
/// (`dynamics` is `None`, for the caller to fill), and return the largest value it passes on.
///
/// Never inlined: its frame is gone before the neurons' constants are computed.
#[inline(never)]
fn check_layer<const L: usize>(
    layer: &Layer<'_>,
    layer_index: u8,
    (first, last): (bool, bool),
    fed_max: u32,
    dt: f32,
    constants: &mut heapless::Vec<LayerConstants, L>,
) -> Result<u32, LoadError> {
    let parameter = |parameter| LoadError::ParameterOutOfRange {
        layer: Some(layer_index),
        parameter,
    };
    layer.validate(layer_index)?;
    // Only the last layer reads out, and it must: the class is taken from it. A linear
    // layer neither starts (its input would be raw bytes) nor ends the network.
    match layer.neuron() {
        Some(neuron) => {
            if last != (neuron == Neuron::Readout) {
                return Err(parameter("neuron"));
            }
        }
        None => {
            if first || last {
                return Err(parameter("kind"));
            }
        }
    }
    // Every weighted sum must fit an i32 (the kernels add without checks), and a
    // pooled sum must fit an event's count.
    let worst_case = (layer.fan_in() as u64) * u64::from(fed_max) * 128;
    if layer.neuron().is_some() && worst_case > i32::MAX as u64 {
        return Err(LoadError::AccumulatorOverflow {
            layer: layer_index,
            worst_case,
        });
    }
    let produced_max = layer.output_max(fed_max);
    if layer.neuron().is_none() && produced_max > MAX_COUNT {
        return Err(parameter("size"));
    }
    let synapse_gain = layer
        .synapse()
        .fixed_gain(dt)
        .map_err(|()| parameter("synapse"))?
        .map(|gain| gain.to_bits());
    // Pushed without its neurons' constants, which [`check_model`] then computes into the
    // entry itself: built here and pushed whole, the entry had three copies in this frame,
    // under the constants' own (on the Cortex-M0, this frame went from 368 to 200 bytes).
    if constants
        .push(LayerConstants {
            dynamics: None,
            synapse_gain,
            divisor_reciprocal: divisor_reciprocal(layer.divisor()),
        })
        .is_err()
    {
        // Never full: one entry per layer, and the layers have the same capacity.
        return Err(LoadError::TooManyLayers {
            found: usize::from(layer_index) + 1,
            capacity: L,
        });
    }
    Ok(produced_max)
}

/// One layer's slices of the state buffer (see [`StatePlan`]).
#[derive(Debug)]
pub(crate) struct LayerState<'s> {
    /// Per output channel: `multiplier | shift << 16`, then the Q16.16 bias.
    pub(crate) constants: &'s mut [i32],
    /// Integer sums of this step's input; for the first layer its static Q16.16 current (on
    /// spike clocks: the timing wheel's links of the neurons that fire, see
    /// `crate::neuron::clock`).
    pub(crate) sums: &'s mut [i32],
    /// Q16.16 synapse filter state plus the bias (empty when unfiltered): the neurons' current
    /// (see [`crate::current`]).
    pub(crate) filter: &'s mut [i32],
    /// Neuron state: Q16.16 voltage and (LIF) refractory time left in steps, interleaved.
    pub(crate) neurons: &'s mut [i32],
    /// Events emitted this step (`u32` bit patterns); the first `emitted` are valid.
    pub(crate) events: &'s mut [i32],
    /// The readout's Q16.16 values.
    pub(crate) outputs: &'s mut [i32],
}

/// Split `n` words off the front of `rest`.
fn carve<'s>(rest: &mut &'s mut [i32], n: usize) -> Option<&'s mut [i32]> {
    let (head, tail) = core::mem::take(rest).split_at_mut_checked(n)?;
    *rest = tail;
    Some(head)
}

impl<'s> LayerState<'s> {
    /// Carve the regions of `plan` off the front of `rest`, in the plan's order; `None` when
    /// `rest` is too short.
    pub(crate) fn carve(plan: &StatePlan, rest: &mut &'s mut [i32]) -> Option<Self> {
        let mut take = |words| carve(rest, words);
        Some(LayerState {
            constants: take(plan.constants)?,
            sums: take(plan.accumulators)?,
            filter: take(plan.filter)?,
            neurons: take(plan.neurons)?,
            events: take(plan.events)?,
            outputs: take(plan.outputs)?,
        })
    }

    /// Decode a weighted layer's per-channel multipliers, shifts and biases into the constants
    /// region (a linear layer has none).
    pub(crate) fn decode_constants(&mut self, layer: &Layer<'_>) {
        let Some((_, scaling)) = layer.weighted() else {
            return;
        };
        let channels = self.constants.len() / 2;
        let (scales, biases) = self.constants.split_at_mut(channels);
        for (channel, (scale, bias)) in scales.iter_mut().zip(biases).enumerate() {
            let (multiplier, shift, channel_bias) = scaling.channel(channel);
            *scale = pack_scale(multiplier, shift as u8);
            *bias = channel_bias;
        }
    }
}
