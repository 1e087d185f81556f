//! Layer kinds: the layers a model is made of, and what the loader and engine ask of each.
//!
//! Each kind keeps in its own file its stored form, its checks, its shapes and its drive kernel
//! (how input events become integer sums): `dense.rs` ([`Dense`]), `conv2d.rs` ([`Conv2d`]), `sum_pool.rs` ([`SumPool`]). They answer the
//! same questions through one contract (the crate-private trait `kind::Kind`); [`Layer`] is the enum a model stores
//! and dispatches over them, and derives from the contract what is the same for every kind: the
//! state plan ([`StatePlan`], the one place the state layout is computed), the common checks,
//! the largest value a layer passes on and its flash bytes.
//!
//! Activations are stored channel-last (HWC): the channels of one pixel are contiguous, so the
//! fan-out of one input event into one output pixel is a contiguous run of weights and
//! accumulators (see `runtime/FORMAT.md`).

pub(crate) mod conv2d;
pub(crate) mod dense;
pub(crate) mod kind;
pub(crate) mod scaling;
pub(crate) mod sum_pool;

use serde::{Deserialize, Serialize};

use crate::error::LoadError;
use crate::fixed_point::{MAX_SHIFT, MIN_SHIFT};
use crate::kernels::FanOut;
use crate::neuron::Neuron;
use crate::shape::Place;
use crate::synapse::Synapse;

pub use crate::shape::{Shape, MAX_IMAGE_SIDE, MAX_LAYER_VALUES};
pub use conv2d::Conv2d;
pub use dense::Dense;
use kind::Kind;
pub use kind::LayerKind;
pub use scaling::Scaling;
pub use sum_pool::SumPool;

/// Bit set of the layer kinds this runtime executes.
pub const SUPPORTED_KINDS: u32 =
    LayerKind::Dense.bit() | LayerKind::Conv2d.bit() | LayerKind::SumPool.bit();

/// One layer of a stored model. Postcard writes the variant index first, then its fields.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Layer<'a> {
    /// A fully connected layer.
    Dense(#[serde(borrow)] Dense<'a>),
    /// A 2-D convolution.
    Conv2d(#[serde(borrow)] Conv2d<'a>),
    /// A linear sum-pooling layer.
    SumPool(SumPool),
}

/// `$body` with `$kind` bound to the layer's kind, whichever it is: the one match over the
/// kinds for every question of the contract.
macro_rules! each_kind {
    ($layer:expr, $kind:ident => $body:expr) => {
        match $layer {
            Layer::Dense($kind) => $body,
            Layer::Conv2d($kind) => $body,
            Layer::SumPool($kind) => $body,
        }
    };
}

/// How many state words each region of a layer needs; the engine carves them in this order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatePlan {
    /// Decoded per-channel constants: scale word and bias word per output channel.
    pub constants: usize,
    /// Integer weighted sums of this step's input (for the first layer: its static current).
    pub accumulators: usize,
    /// Synapse filter states.
    pub filter: usize,
    /// Neuron state: per LIF neuron its voltage and refractory time left (interleaved, so one
    /// load reaches both), per spiking ReLU its voltage.
    pub neurons: usize,
    /// This step's output events (one word per output at most).
    pub events: usize,
    /// The readout's output values.
    pub outputs: usize,
}

impl StatePlan {
    /// Total words.
    pub const fn words(&self) -> usize {
        self.constants + self.accumulators + self.filter + self.neurons + self.events + self.outputs
    }
}

/// The kind number of a [`Kind`].
fn kind_of<K: Kind>(_: &K) -> LayerKind {
    K::KIND
}

impl<'a> Layer<'a> {
    /// The layer's kind.
    pub fn kind(&self) -> LayerKind {
        each_kind!(self, layer => kind_of(layer))
    }

    /// Shape of the input the layer takes.
    pub fn input_shape(&self) -> Shape {
        each_kind!(self, layer => layer.input_shape())
    }

    /// Shape of the output the layer produces.
    pub fn output_shape(&self) -> Shape {
        each_kind!(self, layer => layer.output_shape())
    }

    /// Number of values the layer takes.
    pub fn inputs(&self) -> usize {
        self.input_shape().len()
    }

    /// Number of values (neurons, readout values or pooled sums) the layer produces.
    pub fn outputs(&self) -> usize {
        self.output_shape().len()
    }

    /// The layer's neurons, `None` for a linear layer (pooling).
    pub fn neuron(&self) -> Option<Neuron> {
        each_kind!(self, layer => layer.neuron())
    }

    /// The layer's input synapse ([`Synapse::None`] for a linear layer).
    pub fn synapse(&self) -> Synapse {
        each_kind!(self, layer => layer.synapse())
    }

    /// Mean spikes per neuron and step recorded at export, as a fraction (0 if unknown).
    pub fn activity(&self) -> f32 {
        f32::from(each_kind!(self, layer => layer.activity())) / 65535.0
    }

    /// The weights and scaling of a weighted layer.
    pub(crate) fn weighted(&self) -> Option<(&[u8], Scaling<'_>)> {
        each_kind!(self, layer => layer.weighted())
    }

    /// Inputs that feed one output: the number of terms of its weighted sum.
    pub fn fan_in(&self) -> usize {
        each_kind!(self, layer => layer.fan_in())
    }

    /// Largest value one output passes to the next layer in one step, given the largest value
    /// of its input (255 for raw input bytes).
    pub fn output_max(&self, input_max: u32) -> u32 {
        match self.neuron() {
            Some(neuron) => neuron.max_count(),
            None => input_max.saturating_mul(self.fan_in() as u32),
        }
    }

    /// The inputs feeding the output pixel of `pixel` and their rows of weights (see
    /// [`Kind::for_each_input_row`]).
    #[inline(always)]
    pub(crate) fn for_each_input_row(&self, pixel: Place, visit: impl FnMut(usize, &[u8])) {
        each_kind!(self, layer => layer.for_each_input_row(pixel, visit))
    }

    /// The inputs feeding the value at `place` of a layer without weights (see
    /// [`Kind::for_each_fan_in`]).
    #[inline(always)]
    pub(crate) fn for_each_fan_in(&self, place: Place, visit: impl FnMut(usize)) {
        each_kind!(self, layer => layer.for_each_fan_in(place, visit))
    }

    /// Weight additions one input event of this layer causes at most (its fan-out).
    pub fn fan_out(&self) -> usize {
        each_kind!(self, layer => layer.fan_out())
    }

    /// Static-input multiply-accumulates for one full input (every input value non-zero).
    pub fn dense_macs(&self) -> usize {
        match self {
            Layer::SumPool(p) => p.input.len(),
            _ => self.outputs() * self.fan_in(),
        }
    }

    /// Bytes of weights, multipliers, shifts and biases (what the layer adds to flash).
    pub fn parameter_bytes(&self) -> usize {
        match self.weighted() {
            Some((weights, s)) => {
                weights.len() + s.multipliers.len() + s.shifts.len() + s.biases.len()
            }
            None => 0,
        }
    }

    /// The state words each region of this layer needs.
    pub fn state_plan(&self) -> StatePlan {
        let n = self.outputs();
        match self.neuron() {
            None => StatePlan {
                accumulators: n,
                events: n,
                ..StatePlan::default()
            },
            Some(neuron) => {
                let synapse = self.synapse();
                let channels = usize::from(self.output_shape().channels);
                let spiking = neuron.is_spiking();
                StatePlan {
                    constants: 2 * channels,
                    accumulators: n,
                    filter: if synapse == Synapse::None { 0 } else { n },
                    neurons: neuron.state_words() * n,
                    events: if spiking { n } else { 0 },
                    outputs: if spiking { 0 } else { n },
                }
            }
        }
    }

    /// State words (`i32`) the layer needs.
    pub fn state_words(&self) -> usize {
        self.state_plan().words()
    }

    /// The divisor whose reciprocal the drive kernel needs (see `kind::Kind::divisor`).
    pub(crate) fn divisor(&self) -> u8 {
        each_kind!(self, layer => layer.divisor())
    }

    /// Check the layer's own sizes and parameters (not how it connects to its neighbours).
    pub(crate) fn validate(&self, layer: u8) -> Result<(), LoadError> {
        let out_of_range = |parameter| LoadError::ParameterOutOfRange {
            layer: Some(layer),
            parameter,
        };
        let input = self.input_shape();
        let output = self.output_shape();
        for (shape, name) in [(input, "input shape"), (output, "output shape")] {
            if shape.is_empty() || shape.len() > MAX_LAYER_VALUES {
                return Err(out_of_range(name));
            }
            let image_side = MAX_IMAGE_SIDE;
            if !shape.is_vector()
                && (shape.height > image_side
                    || shape.width > image_side
                    || shape.channels > image_side)
            {
                return Err(out_of_range(name));
            }
        }
        each_kind!(self, kind => kind.check()).map_err(out_of_range)?;
        if let Some((weights, scaling)) = self.weighted() {
            let channels = usize::from(output.channels);
            let checks = [
                (
                    "weights",
                    weights.len(),
                    each_kind!(self, kind => kind.weight_count()),
                ),
                ("multipliers", scaling.multipliers.len(), 2 * channels),
                ("shifts", scaling.shifts.len(), channels),
                ("biases", scaling.biases.len(), 4 * channels),
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
            let shifts = MIN_SHIFT..=MAX_SHIFT;
            if scaling.shifts.iter().any(|&s| !shifts.contains(&(s as i8))) {
                return Err(out_of_range("shifts"));
            }
        }
        Ok(())
    }

    /// Run the layer's drive kernel (see `kind::Kind::accumulate`).
    pub(crate) fn accumulate<K: FanOut>(
        &self,
        events: impl Iterator<Item = u32>,
        sums: &mut [i32],
        divisor_reciprocal: u32,
    ) -> u32 {
        each_kind!(self, layer => Kind::accumulate::<K>(layer, events, sums, divisor_reciprocal))
    }
}
