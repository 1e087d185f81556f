//! Layer kinds: their stored form, their shapes, their validation and their state plan.
//!
//! Every kind answers the same questions for the engine ([`crate::network`]): the shape it
//! takes and the shape it produces, whether it has neurons (and which), how many parameter
//! bytes it adds to flash, the largest value it can pass on, and the state it needs
//! ([`StatePlan`], the one place the state layout is computed). How a kind turns input events
//! into drive lives in the crate's `drive` module. A new kind (recurrent, an NIR operator) adds a variant
//! here, its drive kernel there and a bit in the header's kind set.
//!
//! Activations are stored channel-last (HWC): the channels of one pixel are contiguous, so the
//! fan-out of one input event into one output pixel is a contiguous run of weights and
//! accumulators (see `runtime/FORMAT.md`).

use core::fmt;

use serde::{Deserialize, Serialize};

use crate::error::LoadError;
use crate::neuron::Neuron;
use crate::synapse::Synapse;

/// Height, width and channels of a layer's input or output; a vector is `1 x 1 x n`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Shape {
    /// Rows.
    pub height: u16,
    /// Columns.
    pub width: u16,
    /// Values per pixel.
    pub channels: u16,
}

impl Shape {
    /// A flat vector of `n` values.
    pub const fn vector(n: u16) -> Self {
        Shape {
            height: 1,
            width: 1,
            channels: n,
        }
    }

    /// An image of `height x width` pixels with `channels` values each.
    pub const fn image(height: u16, width: u16, channels: u16) -> Self {
        Shape {
            height,
            width,
            channels,
        }
    }

    /// Number of values, `height * width * channels`.
    pub const fn len(&self) -> usize {
        self.height as usize * self.width as usize * self.channels as usize
    }

    /// Whether the shape holds no values.
    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of pixels, `height * width`.
    pub const fn pixels(&self) -> usize {
        self.height as usize * self.width as usize
    }

    /// Whether the shape is a flat vector (`1 x 1 x n`).
    pub const fn is_vector(&self) -> bool {
        self.height == 1 && self.width == 1
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}x{}", self.height, self.width, self.channels)
    }
}

/// Largest side and channel count of a non-vector shape: an event names its pixel and channel
/// in one byte each (see [`crate::network`]).
pub const MAX_IMAGE_SIDE: u16 = 256;

/// Most values in one layer's output: an event names its position in 24 bits.
pub const MAX_LAYER_VALUES: usize = 1 << 24;

/// Layer kinds known to the format, numbered by their bit in the header's kind set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
#[repr(u8)]
pub enum LayerKind {
    /// Fully connected layer ([`Dense`]).
    Dense = 0,
    /// 2-D convolution ([`Conv2d`]).
    Conv2d = 1,
    /// Sum pooling ([`SumPool`]).
    SumPool = 2,
}

impl LayerKind {
    /// The kind's bit in the header's kind set.
    pub const fn bit(self) -> u32 {
        1 << self as u8
    }
}

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

/// A fully connected layer followed by its synapse and neurons.
///
/// It takes any input shape as a flat vector in HWC order.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Dense<'a> {
    /// Shape of the input.
    pub input: Shape,
    /// Number of outputs (neurons).
    pub outputs: u16,
    /// The neurons this layer drives.
    pub neuron: Neuron,
    /// The filter between the weighted input and the neurons.
    pub synapse: Synapse,
    /// `i8` weights, `input.len() * outputs` bytes, input-major: one input's fan-out is
    /// contiguous.
    pub weights: &'a [u8],
    /// Per-output multipliers, shifts and biases.
    #[serde(borrow)]
    pub scaling: Scaling<'a>,
    /// Mean spikes per neuron and step recorded at export, times 65535 (0 if unknown).
    pub activity: u16,
}

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

/// How many state words each region of a layer needs; the engine carves them in this order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatePlan {
    /// Decoded per-channel constants: scale word and bias word per output channel.
    pub constants: usize,
    /// Integer weighted sums of this step's input (for the first layer: its static current).
    pub accumulators: usize,
    /// Synapse filter states.
    pub filter: usize,
    /// Membrane voltages.
    pub voltage: usize,
    /// Refractory time left.
    pub refractory: usize,
    /// This step's output events (one word per output at most).
    pub events: usize,
    /// The readout's output values.
    pub outputs: usize,
}

impl StatePlan {
    /// Total words.
    pub const fn words(&self) -> usize {
        self.constants
            + self.accumulators
            + self.filter
            + self.voltage
            + self.refractory
            + self.events
            + self.outputs
    }
}

impl<'a> Layer<'a> {
    /// The layer's kind.
    pub fn kind(&self) -> LayerKind {
        match self {
            Layer::Dense(_) => LayerKind::Dense,
            Layer::Conv2d(_) => LayerKind::Conv2d,
            Layer::SumPool(_) => LayerKind::SumPool,
        }
    }

    /// Shape of the input the layer takes.
    pub fn input_shape(&self) -> Shape {
        match self {
            Layer::Dense(d) => d.input,
            Layer::Conv2d(c) => c.input,
            Layer::SumPool(p) => p.input,
        }
    }

    /// Shape of the output the layer produces.
    pub fn output_shape(&self) -> Shape {
        match self {
            Layer::Dense(d) => Shape::vector(d.outputs),
            Layer::Conv2d(c) => c.output,
            Layer::SumPool(p) => {
                let size = u16::from(p.size.max(1));
                Shape::image(
                    p.input.height / size,
                    p.input.width / size,
                    p.input.channels,
                )
            }
        }
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
        match self {
            Layer::Dense(d) => Some(d.neuron),
            Layer::Conv2d(c) => Some(c.neuron),
            Layer::SumPool(_) => None,
        }
    }

    /// The layer's input synapse ([`Synapse::None`] for a linear layer).
    pub fn synapse(&self) -> Synapse {
        match self {
            Layer::Dense(d) => d.synapse,
            Layer::Conv2d(c) => c.synapse,
            Layer::SumPool(_) => Synapse::None,
        }
    }

    /// Mean spikes per neuron and step recorded at export, as a fraction (0 if unknown).
    pub fn activity(&self) -> f32 {
        let bits = match self {
            Layer::Dense(d) => d.activity,
            Layer::Conv2d(c) => c.activity,
            Layer::SumPool(_) => 0,
        };
        f32::from(bits) / 65535.0
    }

    /// The weights and scaling of a weighted layer.
    pub(crate) fn weighted(&self) -> Option<(&'a [u8], Scaling<'a>)> {
        match self {
            Layer::Dense(d) => Some((d.weights, d.scaling)),
            Layer::Conv2d(c) => Some((c.weights, c.scaling)),
            Layer::SumPool(_) => None,
        }
    }

    /// Inputs that feed one output: the number of terms of its weighted sum.
    pub fn fan_in(&self) -> usize {
        match self {
            Layer::Dense(d) => d.input.len(),
            Layer::Conv2d(c) => {
                usize::from(c.input.channels)
                    * usize::from(c.kernel_height)
                    * usize::from(c.kernel_width)
            }
            Layer::SumPool(p) => usize::from(p.size) * usize::from(p.size),
        }
    }

    /// Largest value one output passes to the next layer in one step, given the largest value
    /// of its input (255 for raw input bytes).
    pub fn output_max(&self, input_max: u32) -> u32 {
        match self.neuron() {
            Some(Neuron::Lif { .. }) => 1,
            Some(Neuron::SpikingRectifiedLinear { .. }) => 255,
            Some(Neuron::Readout) => 0,
            None => input_max.saturating_mul(self.fan_in() as u32),
        }
    }

    /// Weight additions one input event of this layer causes at most (its fan-out).
    pub fn fan_out(&self) -> usize {
        match self {
            Layer::Dense(d) => usize::from(d.outputs),
            Layer::Conv2d(c) => {
                let stride = usize::from(c.stride.max(1));
                let rows = usize::from(c.kernel_height).div_ceil(stride);
                let cols = usize::from(c.kernel_width).div_ceil(stride);
                rows * cols * usize::from(c.output.channels)
            }
            Layer::SumPool(_) => 1,
        }
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
                let channels = usize::from(self.output_shape().channels);
                let filter = if self.synapse() == Synapse::None {
                    0
                } else {
                    n
                };
                let (voltage, refractory, events, outputs) = match neuron {
                    Neuron::Lif { .. } => (n, n, n, 0),
                    Neuron::SpikingRectifiedLinear { .. } => (n, 0, n, 0),
                    Neuron::Readout => (0, 0, 0, n),
                };
                StatePlan {
                    constants: 2 * channels,
                    accumulators: n,
                    filter,
                    voltage,
                    refractory,
                    events,
                    outputs,
                }
            }
        }
    }

    /// State words (`i32`) the layer needs.
    pub fn state_words(&self) -> usize {
        self.state_plan().words()
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
        match self {
            Layer::Dense(_) => {}
            Layer::Conv2d(c) => c.validate(out_of_range)?,
            Layer::SumPool(p) => {
                if p.size == 0 {
                    return Err(out_of_range("size"));
                }
            }
        }
        if let Some((weights, scaling)) = self.weighted() {
            let channels = usize::from(output.channels);
            let weight_count = match self {
                Layer::Conv2d(_) => self.fan_in() * channels,
                _ => input.len() * output.len(),
            };
            let checks = [
                ("weights", weights.len(), weight_count),
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
            let shifts = crate::fixed_point::MIN_SHIFT..=crate::fixed_point::MAX_SHIFT;
            if scaling.shifts.iter().any(|&s| !shifts.contains(&(s as i8))) {
                return Err(out_of_range("shifts"));
            }
        }
        Ok(())
    }
}

impl Conv2d<'_> {
    pub(crate) fn validate(
        &self,
        out_of_range: impl Fn(&'static str) -> LoadError,
    ) -> Result<(), LoadError> {
        let (kh, kw) = (u32::from(self.kernel_height), u32::from(self.kernel_width));
        let stride = u32::from(self.stride);
        if kh == 0 || kw == 0 {
            return Err(out_of_range("kernel"));
        }
        if stride == 0 {
            return Err(out_of_range("stride"));
        }
        // Each output's window must start inside the padded input, and padding beyond a
        // kernel's reach would only produce outputs that never see the input.
        let fits = |inside: u16, outside: u16, pad: u8, k: u32| {
            let (inside, outside, pad) = (u32::from(inside), u32::from(outside), u32::from(pad));
            pad < k && outside >= 1 && (outside - 1) * stride < inside + pad
        };
        if !fits(self.input.height, self.output.height, self.padding_top, kh) {
            return Err(out_of_range("output height"));
        }
        if !fits(self.input.width, self.output.width, self.padding_left, kw) {
            return Err(out_of_range("output width"));
        }
        Ok(())
    }
}
