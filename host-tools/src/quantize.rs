//! Float to fixed point (host only): turn a [`FloatNetwork`] into a model blob.
//!
//! Per layer, the float weights are first rescaled to "current per unit of runtime input": the
//! first layer's by `1 / full_scale` (the runtime feeds raw bytes), later layers' by the previous
//! layer's `amplitude / dt` (the runtime feeds spike counts), and for spiking-ReLU neurons
//! additionally by `dt` together with the bias (their current is per step). Each output then
//! gets its own scale `s_i = max_j |w_ji| / 127`, its weights become `round(w_ji / s_i)` in
//! `i8`, and `s_i` is stored as `multiplier_i * 2^-shift_i` in Q16.16 units, with a `u16`
//! multiplier normalised to `[2^15, 2^16)` by its own shift (relative error below 2^-16). The
//! rounding error of a weight is thus at most `s_i / 2`, 0.4% of the output's largest weight.
//!
//! A convolution is quantized the same way per output *channel* (its weights
//! `[in_c][ky][kx][out_c]` are rows of `out_c` columns, as a dense layer's `[input][output]`),
//! with one bias per channel. An average pool becomes a [`SumPool`], which passes on the exact
//! integer sum of its window: its `1 / size^2` is folded into the following layer's input unit,
//! and so into that layer's weights and multipliers. Sum pooling followed by the folded scale
//! is exactly average pooling, so pooling adds no rounding of its own.

use std::fmt;

use picospike_runtime::fixed_point::ONE;
use picospike_runtime::fixed_point::{MAX_SHIFT, MIN_SHIFT};
use picospike_runtime::layer::{Conv2d, Dense, Layer, Scaling, SumPool};
use picospike_runtime::neuron::Neuron;
use picospike_runtime::{EncodeError, ModelBuilder};

use crate::reference::{FloatKind, FloatLayer, FloatNetwork};

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
    /// A layer's own description is inconsistent (see [`FloatLayer::problem`]), or layers do not
    /// chain (a layer's input is not the previous layer's output).
    Inconsistent {
        /// Index of the layer.
        layer: usize,
        /// What is wrong.
        reason: String,
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
            QuantizeError::Inconsistent { layer, reason } => write!(f, "layer {layer}: {reason}"),
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

/// The integer parameters of one layer (all empty for a pool).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuantizedLayer {
    /// `i8` weights as bytes, `[input][output]` (dense) or `[in_c][ky][kx][out_c]` (conv).
    pub weights: Vec<u8>,
    /// Per-output (dense) or per-output-channel (conv) `u16` LE multipliers.
    pub multipliers: Vec<u8>,
    /// Per-output or per-output-channel right shifts.
    pub shifts: Vec<u8>,
    /// Per-output or per-output-channel `i32` LE Q16.16 biases.
    pub biases: Vec<u8>,
}

impl QuantizedLayer {
    /// The scaling as the format stores it, borrowing these bytes.
    pub fn scaling(&self) -> Scaling<'_> {
        Scaling {
            multipliers: &self.multipliers,
            shifts: &self.shifts,
            biases: &self.biases,
        }
    }
}

/// A scale in Q16.16 units per integer unit as `(multiplier, shift)` with
/// `multiplier * 2^-shift` closest to it, the multiplier using all 16 bits where the shift
/// range allows; `None` if the scale is negative, not finite or too large for the shortest
/// shift.
pub fn encode_scale(scale: f64) -> Option<(u16, i8)> {
    if !(scale.is_finite() && scale >= 0.0) {
        return None;
    }
    if scale == 0.0 {
        return Some((0, 0));
    }
    let bits = scale * f64::from(ONE);
    let mut shift = (f64::from(u16::MAX) / bits)
        .log2()
        .floor()
        .min(f64::from(MAX_SHIFT));
    if (bits * 2f64.powf(shift)).round() > f64::from(u16::MAX) {
        // Rounding reached 2^16: one bit less.
        shift -= 1.0;
    }
    if shift < f64::from(MIN_SHIFT) {
        return None;
    }
    let multiplier = (bits * 2f64.powf(shift)).round().min(f64::from(u16::MAX));
    Some((multiplier as u16, shift as i8))
}

/// Quantize one layer; `input_unit` is the float value of one unit of runtime input.
///
/// # Errors
/// A [`QuantizeError`] naming the layer: inconsistent sizes, values that are not finite or do
/// not fit the format.
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
    if layer.kind == FloatKind::Dense
        && (layer.inputs > usize::from(u16::MAX) || layer.outputs > usize::from(u16::MAX))
    {
        return Err(shape("at most 65535 inputs and outputs per layer"));
    }
    if let Some(reason) = layer.problem() {
        return Err(QuantizeError::Inconsistent {
            layer: index,
            reason,
        });
    }
    // Columns of the weight matrix: one scale, shift and bias each.
    let outputs = match layer.kind {
        FloatKind::Dense => layer.outputs,
        FloatKind::Conv2d { output, .. } => usize::from(output.channels),
        FloatKind::AvgPool { .. } => {
            return Ok(QuantizedLayer {
                weights: Vec::new(),
                multipliers: Vec::new(),
                shifts: Vec::new(),
                biases: Vec::new(),
            })
        }
    };
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
    let mut scales = vec![0.0f64; outputs];
    for row in layer.weights.chunks_exact(outputs) {
        for (s, &w) in scales.iter_mut().zip(row) {
            *s = s.max((f64::from(w) * factor).abs() / 127.0);
        }
    }
    let q16 = f64::from(ONE);
    let mut multipliers = Vec::with_capacity(2 * outputs);
    let mut shifts = Vec::with_capacity(outputs);
    for &s in &scales {
        let (m, shift) = encode_scale(s).ok_or(QuantizeError::OutOfRange {
            layer: index,
            field: "weights",
            value: s * 127.0,
        })?;
        multipliers.extend_from_slice(&m.to_le_bytes());
        shifts.push(shift as u8);
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
        shifts,
        biases,
    })
}

/// The float value of one unit of runtime input of every layer: `1 / full_scale` for the
/// first, `amplitude / dt` after a layer of neurons, and after a sum pool its input's unit over
/// `size^2` (the fold that makes the pool's integer sum an average).
fn input_units(network: &FloatNetwork) -> Vec<f64> {
    let dt = f64::from(network.dt);
    let mut unit = 1.0 / f64::from(network.input.full_scale.max(1));
    let mut units = Vec::with_capacity(network.layers.len());
    for layer in &network.layers {
        units.push(unit);
        unit = match layer.kind {
            FloatKind::AvgPool { size, .. } => unit / f64::from(size.max(1)).powi(2),
            _ => f64::from(layer.neuron.amplitude()) / dt,
        };
    }
    units
}

/// Quantize every layer of `network` (see the module docs for the scheme).
///
/// # Errors
/// A [`QuantizeError`] naming the layer and what does not fit.
pub fn quantize_layers(network: &FloatNetwork) -> Result<Vec<QuantizedLayer>, QuantizeError> {
    let dt = f64::from(network.dt);
    network
        .layers
        .iter()
        .zip(input_units(network))
        .enumerate()
        .map(|(index, (layer, unit))| quantize_layer(index, layer, unit, dt))
        .collect()
}

/// `network` with every weight and bias replaced by the value its quantized form stands for
/// (`i8` weight times the stored scale, the Q16.16 bias), so that the float reference runs
/// what the runtime runs, up to the runtime's own roundings. Comparing the two separates the
/// fixed-point arithmetic's deviations (`runtime/SEMANTICS.md`) from the weights' rounding.
///
/// # Errors
/// As [`quantize_layers`].
pub fn dequantized(network: &FloatNetwork) -> Result<FloatNetwork, QuantizeError> {
    let dt = f64::from(network.dt);
    let quantized = quantize_layers(network)?;
    let mut out = network.clone();
    for ((layer, q), unit) in out
        .layers
        .iter_mut()
        .zip(&quantized)
        .zip(input_units(network))
    {
        if !layer.kind.has_neurons() {
            continue;
        }
        let per_step = if matches!(layer.neuron, Neuron::SpikingRectifiedLinear { .. }) {
            dt
        } else {
            1.0
        };
        let q16 = f64::from(ONE);
        // Float current per unit of a column's integer sum.
        let column_scales: Vec<f64> = q
            .multipliers
            .chunks_exact(2)
            .zip(&q.shifts)
            .map(|(m, &shift)| {
                let multiplier = f64::from(u16::from_le_bytes([m[0], m[1]]));
                multiplier * 2f64.powi(-i32::from(shift as i8)) / q16 / (unit * per_step)
            })
            .collect();
        let columns = column_scales.len().max(1);
        layer.weights = q
            .weights
            .chunks_exact(columns)
            .flat_map(|row| {
                row.iter()
                    .zip(&column_scales)
                    .map(|(&w, &s)| (f64::from(w as i8) * s) as f32)
            })
            .collect();
        layer.biases = q
            .biases
            .chunks_exact(4)
            .map(|b| {
                (f64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])) / q16 / per_step) as f32
            })
            .collect();
    }
    Ok(out)
}

/// Quantize `network` and encode it as a model blob.
///
/// Dense layers take the previous layer's output shape (the runtime flattens it in HWC order);
/// activities and the input density are recorded as unknown (0).
///
/// # Errors
/// A [`QuantizeError`] if a layer does not fit the format, the layers do not chain, or the
/// loader rejects the result.
pub fn quantize(network: &FloatNetwork) -> Result<Vec<u8>, QuantizeError> {
    let quantized = quantize_layers(network)?;
    let mut fed = network.input.shape;
    let mut layers: Vec<Layer<'_>> = Vec::with_capacity(quantized.len());
    for (index, (layer, q)) in network.layers.iter().zip(&quantized).enumerate() {
        if fed.len() != layer.inputs {
            return Err(QuantizeError::Inconsistent {
                layer: index,
                reason: std::format!(
                    "takes {} inputs, the previous layer gives {fed} = {}",
                    layer.inputs,
                    fed.len()
                ),
            });
        }
        let encoded = match layer.kind {
            FloatKind::Dense => Layer::Dense(Dense {
                input: fed,
                outputs: u16::try_from(layer.outputs).map_err(|_| QuantizeError::Shape {
                    layer: index,
                    reason: "at most 65535 inputs and outputs per layer",
                })?,
                neuron: layer.neuron,
                synapse: layer.synapse,
                weights: &q.weights,
                scaling: q.scaling(),
                activity: 0,
            }),
            FloatKind::Conv2d {
                input,
                output,
                kernel_height,
                kernel_width,
                stride,
                padding_top,
                padding_left,
            } => Layer::Conv2d(Conv2d {
                input,
                output,
                kernel_height,
                kernel_width,
                stride,
                padding_top,
                padding_left,
                neuron: layer.neuron,
                synapse: layer.synapse,
                weights: &q.weights,
                scaling: q.scaling(),
                activity: 0,
            }),
            FloatKind::AvgPool { input, size } => Layer::SumPool(SumPool { input, size }),
        };
        fed = encoded.output_shape();
        layers.push(encoded);
    }
    ModelBuilder {
        dt: network.dt,
        input: network.input,
        layers: &layers,
    }
    .to_vec()
    .map_err(QuantizeError::Encode)
}
