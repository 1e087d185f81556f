//! Float to fixed point (host only): turn a [`FloatNetwork`] into a model blob.
//!
//! Per layer, the float weights are first rescaled to "current per unit of runtime input": the
//! first layer's by `1 / full_scale` (the runtime feeds raw bytes), later layers' by the previous
//! layer's `amplitude / dt` (the runtime feeds spike counts), and for spiking-ReLU neurons
//! additionally by `dt` together with the bias (their current is per step). Each output then
//! gets its own scale `s_i = max_j |w_ji| / 127`, its weights become `round(w_ji / s_i)` in
//! `i8`, and `s_i` is stored as `multiplier_i * 2^-shift` in Q16.16 units with one `shift` per
//! layer chosen so that the largest multiplier uses 31 bits. The rounding error of a weight is
//! thus at most `s_i / 2`, 0.4% of the output's largest weight.

use std::fmt;
use std::vec::Vec;

use crate::error::EncodeError;
use crate::fixed_point::ONE;
use crate::format::ModelBuilder;
use crate::layer::{Dense, Layer};
use crate::neuron::Neuron;
use crate::reference::{FloatLayer, FloatNetwork};

/// Why a [`FloatNetwork`] could not be quantized.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum QuantizeError {
    /// A weight or bias is NaN or infinite.
    NonFinite {
        /// Index of the layer.
        layer: usize,
        /// `"weights"` or `"biases"`.
        field: &'static str,
        /// Index within the field.
        index: usize,
    },
    /// A layer's shape does not fit the format (sizes, vector lengths or u16 limits).
    Shape {
        /// Index of the layer.
        layer: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// A bias or weight scale does not fit the Q16.16 range.
    OutOfRange {
        /// Index of the layer.
        layer: usize,
        /// `"biases"` or `"weights"`.
        field: &'static str,
        /// The offending value after rescaling.
        value: f64,
    },
    /// The encoded model was rejected.
    Encode(EncodeError),
}

impl fmt::Display for QuantizeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QuantizeError::NonFinite {
                layer,
                field,
                index,
            } => write!(f, "layer {layer} {field}[{index}] is not a finite number"),
            QuantizeError::Shape { layer, reason } => write!(f, "layer {layer}: {reason}"),
            QuantizeError::OutOfRange {
                layer,
                field,
                value,
            } => write!(
                f,
                "layer {layer} {field} reach {value:e}, beyond the Q16.16 range of +-32768"
            ),
            QuantizeError::Encode(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for QuantizeError {}

/// The integer parameters of one layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuantizedLayer {
    /// `i8` weights as bytes, `[input][output]`.
    pub weights: Vec<u8>,
    /// Per-output `i32` LE multipliers.
    pub multipliers: Vec<u8>,
    /// Per-output `i32` LE Q16.16 biases.
    pub biases: Vec<u8>,
    /// The layer's right shift.
    pub shift: u8,
}

/// Quantize one layer; `input_unit` is the float value of one unit of runtime input.
pub fn quantize_layer(
    index: usize,
    layer: &FloatLayer,
    input_unit: f64,
    dt: f64,
) -> Result<QuantizedLayer, QuantizeError> {
    let shape = |reason| QuantizeError::Shape {
        layer: index,
        reason,
    };
    if layer.inputs == 0 || layer.outputs == 0 {
        return Err(shape("a layer needs at least one input and one output"));
    }
    if layer.inputs > usize::from(u16::MAX) || layer.outputs > usize::from(u16::MAX) {
        return Err(shape("at most 65535 inputs and outputs per layer"));
    }
    if layer.weights.len() != layer.inputs * layer.outputs {
        return Err(shape("weights must have inputs * outputs entries"));
    }
    if layer.biases.len() != layer.outputs {
        return Err(shape("biases must have one entry per output"));
    }
    for (field, values) in [("weights", &layer.weights), ("biases", &layer.biases)] {
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(QuantizeError::NonFinite {
                layer: index,
                field,
                index: i,
            });
        }
    }
    let per_step = if matches!(layer.neuron, Neuron::SpikingRectifiedLinear { .. }) {
        dt
    } else {
        1.0
    };
    let factor = input_unit * per_step;
    let outputs = layer.outputs;
    let mut scales = vec![0.0f64; outputs];
    for row in layer.weights.chunks_exact(outputs) {
        for (s, &w) in scales.iter_mut().zip(row) {
            *s = s.max((f64::from(w) * factor).abs() / 127.0);
        }
    }
    let q16 = f64::from(ONE);
    let largest = scales.iter().fold(0.0f64, |m, &s| m.max(s * q16));
    let shift = if largest > 0.0 {
        (f64::from(i32::MAX) / largest)
            .log2()
            .floor()
            .clamp(1.0, 62.0) as u8
    } else {
        1
    };
    let mut multipliers = Vec::with_capacity(4 * outputs);
    for &s in &scales {
        let m = (s * q16 * 2f64.powi(i32::from(shift))).round();
        if m > f64::from(i32::MAX) {
            return Err(QuantizeError::OutOfRange {
                layer: index,
                field: "weights",
                value: s * 127.0,
            });
        }
        multipliers.extend_from_slice(&(m as i32).to_le_bytes());
    }
    let mut weights = Vec::with_capacity(layer.weights.len());
    for row in layer.weights.chunks_exact(outputs) {
        for (&s, &w) in scales.iter().zip(row) {
            let q = if s > 0.0 {
                (f64::from(w) * factor / s).round().clamp(-127.0, 127.0)
            } else {
                0.0
            };
            weights.push(q as i8 as u8);
        }
    }
    let mut biases = Vec::with_capacity(4 * outputs);
    for &b in &layer.biases {
        let value = f64::from(b) * per_step;
        let bits = (value * q16).round();
        if bits.abs() >= f64::from(i32::MAX) {
            return Err(QuantizeError::OutOfRange {
                layer: index,
                field: "biases",
                value,
            });
        }
        biases.extend_from_slice(&(bits as i32).to_le_bytes());
    }
    Ok(QuantizedLayer {
        weights,
        multipliers,
        biases,
        shift,
    })
}

/// Quantize every layer of `network` (see the module docs for the scheme).
///
/// # Errors
/// A [`QuantizeError`] naming the layer and what does not fit.
pub fn quantize_layers(network: &FloatNetwork) -> Result<Vec<QuantizedLayer>, QuantizeError> {
    let dt = f64::from(network.dt);
    let mut input_unit = 1.0 / f64::from(network.input.full_scale.max(1));
    let mut out = Vec::with_capacity(network.layers.len());
    for (index, layer) in network.layers.iter().enumerate() {
        out.push(quantize_layer(index, layer, input_unit, dt)?);
        input_unit = f64::from(layer.neuron.amplitude()) / dt;
    }
    Ok(out)
}

/// Quantize `network` and encode it as a model blob.
///
/// # Errors
/// A [`QuantizeError`] if a layer does not fit the format or the loader rejects the result.
pub fn quantize(network: &FloatNetwork) -> Result<Vec<u8>, QuantizeError> {
    let quantized = quantize_layers(network)?;
    let layers: Vec<Layer<'_>> = network
        .layers
        .iter()
        .zip(&quantized)
        .map(|(layer, q)| {
            Layer::Dense(Dense {
                inputs: layer.inputs as u16,
                outputs: layer.outputs as u16,
                neuron: layer.neuron,
                synapse: layer.synapse,
                shift: q.shift,
                weights: &q.weights,
                multipliers: &q.multipliers,
                biases: &q.biases,
            })
        })
        .collect();
    ModelBuilder {
        dt: network.dt,
        input: network.input,
        layers: &layers,
    }
    .to_vec()
    .map_err(QuantizeError::Encode)
}
