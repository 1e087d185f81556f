//! The float reference simulator (host only): Nengo's exact dynamics in `f64`.
//!
//! It runs the *unquantized* network with Nengo's reference semantics (exact exponential
//! integration, fractional refractory time, exact spike times, no cap on spikes per step), so
//! comparing it with [`picospike_runtime::Network`] measures exactly what quantization and the
//! documented fixed-point deviations cost. Its rate mode (LIFRate / RectifiedLinear) is the "rate
//! float" stage of the NengoDL recipe.
//!
//! This module holds the network description, its checks and the rate mode; the spiking
//! simulation is in `simulator` ([`FloatSimulator`], [`FloatRun`]).

use serde::{Deserialize, Serialize};

use picospike_runtime::format::InputEncoding;
pub use picospike_runtime::layer::Shape;
use picospike_runtime::neuron::Neuron;
use picospike_runtime::synapse::Synapse;

mod simulator;

pub use simulator::{FloatRun, FloatSimulator};

/// A network in float, with Nengo's gain and bias folded into each layer's weights and biases.
///
/// Layer `l` computes the current `J_i = sum_j x_j W[j][i] + b_i`, where `x` is the input
/// (`raw / full_scale`) for the first layer and the previous layer's output otherwise: its rate
/// times `amplitude` in rate mode, `amplitude / dt` per spike (through this layer's synapse)
/// in spiking mode.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FloatNetwork {
    /// Time step in seconds.
    pub dt: f32,
    /// How raw input bytes map to the network's input.
    pub input: InputEncoding,
    /// The layers, first to last; the last one is a [`Neuron::Readout`].
    pub layers: Vec<FloatLayer>,
}

/// What a [`FloatLayer`] computes from its input.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum FloatKind {
    /// Fully connected: weights `[input][output]`, one bias per output.
    #[default]
    Dense,
    /// 2-D convolution, zero padded: output `(oy, ox, f)` reads input rows
    /// `oy * stride - padding_top + ky` and columns `ox * stride - padding_left + kx` (zero outside
    /// the image). Weights `[in_c][ky][kx][out_c]`, one bias per output channel.
    Conv2d {
        /// Input shape.
        input: Shape,
        /// Output shape (`channels` = filters).
        output: Shape,
        /// Kernel rows.
        kernel_height: u8,
        /// Kernel columns.
        kernel_width: u8,
        /// Step between windows, both axes.
        stride: u8,
        /// Zero rows above the image.
        padding_top: u8,
        /// Zero columns left of the image.
        padding_left: u8,
    },
    /// Average pooling over `size x size` windows with stride `size` (output `H/size x W/size x C`,
    /// rounded down): linear, no neurons, no weights. The quantizer turns it into a sum pool and
    /// folds `1 / size^2` into the following layer.
    AvgPool {
        /// Input shape.
        input: Shape,
        /// Window side and stride.
        size: u8,
    },
}

impl FloatKind {
    /// The output shape of a pooling layer over `input` with windows of `size`.
    pub fn pool_output(input: Shape, size: u8) -> Shape {
        let s = u16::from(size.max(1));
        Shape {
            height: input.height / s,
            width: input.width / s,
            channels: input.channels,
        }
    }

    /// Whether the layer has neurons, weights and biases (everything but a pool).
    pub fn has_neurons(&self) -> bool {
        !matches!(self, FloatKind::AvgPool { .. })
    }
}

/// One layer of a [`FloatNetwork`]: dense, convolutional or average pooling (see [`FloatKind`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FloatLayer {
    /// What the layer computes; dense when absent (files written before convolutions).
    #[serde(default)]
    pub kind: FloatKind,
    /// Number of inputs (`input.len()` of a shaped layer).
    pub inputs: usize,
    /// Number of outputs (`output.len()` of a shaped layer).
    pub outputs: usize,
    /// Dense: row-major `[input][output]` (`x @ W`); conv: `[in_c][ky][kx][out_c]`; pool: empty.
    pub weights: Vec<f32>,
    /// One bias per output (dense) or output channel (conv), in units of neuron current; empty
    /// for a pool.
    pub biases: Vec<f32>,
    /// The neurons ([`Neuron::Readout`], i.e. linear, for a pool).
    pub neuron: Neuron,
    /// The filter on this layer's input ([`Synapse::None`] for a pool).
    pub synapse: Synapse,
}

/// Nengo's `LIFRate` curve: steady-state rate in Hz (times `amplitude`) for constant current `j`.
///
/// ```
/// use picospike_host::reference::lif_rate;
/// // J = 2 with the default time constants: 1 / (2 ms + 20 ms * ln 2) = 63.0 Hz.
/// assert!((lif_rate(2.0, 0.02, 0.002, 1.0) - 63.04).abs() < 0.01);
/// assert_eq!(lif_rate(1.0, 0.02, 0.002, 1.0), 0.0); // at and below threshold: silent
/// ```
pub fn lif_rate(j: f64, tau_rc: f64, tau_ref: f64, amplitude: f64) -> f64 {
    if j > 1.0 {
        amplitude / (tau_ref + tau_rc * (1.0 / (j - 1.0)).ln_1p())
    } else {
        0.0
    }
}

/// Index of the largest value, the lowest index on a tie.
pub fn argmax(values: &[f64]) -> usize {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate() {
        if v > values[best] {
            best = i;
        }
    }
    best
}

/// Whether a convolution's geometry is usable along one axis: a non-empty kernel and output,
/// padding smaller than the kernel, and every window covering at least one real input row.
fn conv_axis_fits(input: u16, output: u16, kernel: u8, stride: u8, padding: u8) -> bool {
    let (input, output) = (usize::from(input), usize::from(output));
    let (kernel, stride, padding) = (
        usize::from(kernel),
        usize::from(stride),
        usize::from(padding),
    );
    kernel > 0
        && stride > 0
        && input > 0
        && output > 0
        && padding < kernel
        && (output - 1) * stride < padding + input
}

impl FloatLayer {
    /// What is inconsistent in this layer on its own (sizes, shapes, weight and bias counts), or
    /// `None` if it can be simulated and quantized.
    ///
    /// ```
    /// use picospike_runtime::neuron::Neuron;
    /// use picospike_host::reference::{FloatKind, FloatLayer, Shape};
    /// use picospike_runtime::synapse::Synapse;
    /// let pool = FloatLayer {
    ///     kind: FloatKind::AvgPool { input: Shape { height: 4, width: 4, channels: 2 }, size: 2 },
    ///     inputs: 32,
    ///     outputs: 8,
    ///     weights: vec![],
    ///     biases: vec![],
    ///     neuron: Neuron::Readout,
    ///     synapse: Synapse::None,
    /// };
    /// assert_eq!(pool.problem(), None);
    /// ```
    pub fn problem(&self) -> Option<String> {
        if self.inputs == 0 || self.outputs == 0 {
            return Some("a layer needs at least one input and one output".into());
        }
        match self.kind {
            FloatKind::Dense => {
                if Some(self.weights.len()) != self.inputs.checked_mul(self.outputs)
                    || self.biases.len() != self.outputs
                {
                    return Some(format!(
                        "{} weights and {} biases, expected {} x {} weights and {} biases",
                        self.weights.len(),
                        self.biases.len(),
                        self.inputs,
                        self.outputs,
                        self.outputs
                    ));
                }
            }
            FloatKind::Conv2d {
                input,
                output,
                kernel_height,
                kernel_width,
                stride,
                padding_top,
                padding_left,
            } => {
                if input.len() != self.inputs || output.len() != self.outputs {
                    return Some(format!(
                        "conv shapes {input:?} -> {output:?} do not match {} inputs and {} outputs",
                        self.inputs, self.outputs
                    ));
                }
                let rows = conv_axis_fits(
                    input.height,
                    output.height,
                    kernel_height,
                    stride,
                    padding_top,
                );
                let cols = conv_axis_fits(
                    input.width,
                    output.width,
                    kernel_width,
                    stride,
                    padding_left,
                );
                if !rows || !cols || input.channels == 0 || output.channels == 0 {
                    return Some(format!(
                        "conv {kernel_height}x{kernel_width} stride {stride} padding \
                         ({padding_top}, {padding_left}) cannot map {input:?} to {output:?}"
                    ));
                }
                let kernel = usize::from(input.channels)
                    * usize::from(kernel_height)
                    * usize::from(kernel_width)
                    * usize::from(output.channels);
                if self.weights.len() != kernel || self.biases.len() != usize::from(output.channels)
                {
                    return Some(format!(
                        "{} weights and {} biases, expected {kernel} weights and {} biases",
                        self.weights.len(),
                        self.biases.len(),
                        output.channels
                    ));
                }
            }
            FloatKind::AvgPool { input, size } => {
                let output = FloatKind::pool_output(input, size);
                if size == 0 || output.is_empty() {
                    return Some(format!("pool of size {size} over {input:?} has no output"));
                }
                if input.len() != self.inputs || output.len() != self.outputs {
                    return Some(format!(
                        "pool shapes {input:?} -> {output:?} do not match {} inputs and {} outputs",
                        self.inputs, self.outputs
                    ));
                }
                if !self.weights.is_empty() || !self.biases.is_empty() {
                    return Some("a pool has no weights or biases".into());
                }
                if self.neuron != Neuron::Readout || self.synapse != Synapse::None {
                    return Some("a pool is linear: readout neurons and no synapse".into());
                }
            }
        }
        None
    }

    /// The layer's bias for every output (a conv's channel bias repeated per pixel; 0 for a pool).
    fn output_biases(&self) -> Vec<f64> {
        match self.kind {
            FloatKind::Dense => self.biases.iter().map(|&b| f64::from(b)).collect(),
            FloatKind::Conv2d { output, .. } => {
                let channels = usize::from(output.channels).max(1);
                (0..self.outputs)
                    .map(|i| self.biases.get(i % channels).map_or(0.0, |&b| f64::from(b)))
                    .collect()
            }
            FloatKind::AvgPool { .. } => vec![0.0; self.outputs],
        }
    }

    /// `J = b + x (*) W`: the dense product, the convolution, or the window mean of a pool.
    ///
    /// Inputs beyond the layer's size and weights missing from a malformed layer contribute
    /// nothing (never a panic); the host tools check shapes before they simulate.
    fn currents(&self, x: &[f64]) -> Vec<f64> {
        let mut j = self.output_biases();
        match self.kind {
            FloatKind::Dense => {
                for (&xi, row) in x.iter().zip(self.weights.chunks_exact(self.outputs.max(1))) {
                    if xi != 0.0 {
                        for (ji, &w) in j.iter_mut().zip(row) {
                            *ji += xi * f64::from(w);
                        }
                    }
                }
            }
            FloatKind::Conv2d {
                input,
                output,
                kernel_height,
                kernel_width,
                stride,
                padding_top,
                padding_left,
            } => {
                let (kh, kw) = (usize::from(kernel_height), usize::from(kernel_width));
                let (in_w, in_c) = (usize::from(input.width), usize::from(input.channels));
                let (out_h, out_w) = (usize::from(output.height), usize::from(output.width));
                let out_c = usize::from(output.channels);
                let stride = usize::from(stride.max(1));
                let (pt, pl) = (usize::from(padding_top), usize::from(padding_left));
                if self.weights.len() != in_c * kh * kw * out_c || j.len() != out_h * out_w * out_c
                {
                    return j;
                }
                // Event-driven scatter, as the runtime does: each non-zero input adds its weights
                // to every output whose window covers it.
                for (index, &xi) in x.iter().enumerate().take(input.len()) {
                    if xi == 0.0 {
                        continue;
                    }
                    let (iy, ix, c) = (index / (in_w * in_c), index / in_c % in_w, index % in_c);
                    for ky in 0..kh {
                        // oy * stride = iy + pt - ky
                        let Some(ry) = (iy + pt).checked_sub(ky) else {
                            continue;
                        };
                        if ry % stride != 0 || ry / stride >= out_h {
                            continue;
                        }
                        let oy = ry / stride;
                        for kx in 0..kw {
                            let Some(rx) = (ix + pl).checked_sub(kx) else {
                                continue;
                            };
                            if rx % stride != 0 || rx / stride >= out_w {
                                continue;
                            }
                            let ox = rx / stride;
                            let w0 = ((c * kh + ky) * kw + kx) * out_c;
                            let o0 = (oy * out_w + ox) * out_c;
                            for (ji, &w) in j[o0..o0 + out_c]
                                .iter_mut()
                                .zip(&self.weights[w0..w0 + out_c])
                            {
                                *ji += xi * f64::from(w);
                            }
                        }
                    }
                }
            }
            FloatKind::AvgPool { input, size } => {
                let output = FloatKind::pool_output(input, size);
                let s = usize::from(size.max(1));
                let (in_w, c) = (usize::from(input.width), usize::from(input.channels));
                let (out_h, out_w) = (usize::from(output.height), usize::from(output.width));
                if j.len() != output.len() {
                    return j;
                }
                let norm = 1.0 / (s * s) as f64;
                for (index, &xi) in x.iter().enumerate().take(input.len()) {
                    let (iy, ix, ch) = (index / (in_w * c), index / c % in_w, index % c);
                    let (oy, ox) = (iy / s, ix / s);
                    if xi != 0.0 && oy < out_h && ox < out_w {
                        j[(oy * out_w + ox) * c + ch] += xi * norm;
                    }
                }
            }
        }
        j
    }
}

impl FloatNetwork {
    /// The first layer's input for raw bytes: `raw / full_scale`.
    pub fn input_values(&self, raw: &[u8]) -> Vec<f64> {
        let scale = 1.0 / f64::from(self.input.full_scale.max(1));
        raw.iter().map(|&x| f64::from(x) * scale).collect()
    }

    /// The first layer's input current `J = b + x (*) W` for the static input `raw`: what
    /// drives its neurons while `raw` is presented (before its synapse, if it has one).
    pub fn first_currents(&self, raw: &[u8]) -> Vec<f64> {
        let x = self.input_values(raw);
        self.layers
            .first()
            .map(|layer| layer.currents(&x))
            .unwrap_or_default()
    }

    /// Rate-mode forward pass: each layer's output (rates times amplitude, or the readout).
    pub fn rate_activities(&self, raw: &[u8]) -> Vec<Vec<f64>> {
        let mut x = self.input_values(raw);
        let mut all = Vec::with_capacity(self.layers.len());
        for layer in &self.layers {
            let j = layer.currents(&x);
            let out: Vec<f64> = match layer.neuron {
                Neuron::Lif {
                    tau_rc,
                    tau_ref,
                    amplitude,
                    ..
                } => j
                    .iter()
                    .map(|&j| {
                        lif_rate(
                            j,
                            f64::from(tau_rc),
                            f64::from(tau_ref),
                            f64::from(amplitude),
                        )
                    })
                    .collect(),
                Neuron::SpikingRectifiedLinear { amplitude } => j
                    .iter()
                    .map(|&j| f64::from(amplitude) * j.max(0.0))
                    .collect(),
                Neuron::Readout => j,
            };
            all.push(out.clone());
            x = out;
        }
        all
    }

    /// Rate-mode outputs (the readout of [`FloatNetwork::rate_activities`]).
    pub fn rate_outputs(&self, raw: &[u8]) -> Vec<f64> {
        self.rate_activities(raw).pop().unwrap_or_default()
    }
}
