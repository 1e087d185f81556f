//! The trainable network in candle: layers, gather indices, parameters and rate functions.

use candle_core::{DType, Device, Tensor, Var};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use picospike_runtime::format::InputEncoding;
use picospike_runtime::neuron::Neuron;
use picospike_runtime::synapse::Synapse;

use crate::arch::ResolvedLayer;
use crate::reference::{FloatKind, FloatLayer, FloatNetwork, Shape};

use super::config::TrainConfig;
use super::error::TrainError;
use super::neuron::{NeuronKind, NeuronParams};

/// One trainable layer. Activations are `(batch, values)` tensors in HWC order throughout, so
/// that a dense layer after a convolution reads exactly the flattening the runtime uses.
pub(super) enum Layer {
    /// `x @ w + b` with `w` `[in, out]`.
    Dense { w: Var, b: Var },
    /// Convolution as gather + matmul: the input (with one zero column appended for padding) is
    /// gathered into patches ordered `(oy, ox, c, ky, kx)` by `ids`, each patch row multiplies
    /// `w` `[c * ky * kx, filters]` (the runtime's `[in_c][ky][kx][out_c]`), plus `b` per filter.
    Conv {
        w: Var,
        b: Var,
        ids: Tensor,
        positions: usize,
        patch: usize,
    },
    /// Mean over `window` gathered values per output, gathered in `(oy, ox, c, py, px)` order.
    Pool {
        ids: Tensor,
        outputs: usize,
        window: usize,
    },
}

impl Layer {
    /// Whether the layer has neurons (rates, regularization, dropout) when it is not the readout.
    pub(super) fn has_neurons(&self) -> bool {
        !matches!(self, Layer::Pool { .. })
    }

    /// The linear part: currents before gain and bias (or the pool's output).
    pub(super) fn linear(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        match self {
            Layer::Dense { w, b } => x.matmul(w.as_tensor())?.broadcast_add(b.as_tensor()),
            Layer::Conv {
                w,
                b,
                ids,
                positions,
                patch,
            } => {
                let n = x.dim(0)?;
                let padded = Tensor::cat(&[x, &Tensor::zeros((n, 1), x.dtype(), x.device())?], 1)?;
                let patches = padded
                    .index_select(ids, 1)?
                    .reshape((n * positions, *patch))?;
                let filters = w.as_tensor().dim(1)?;
                patches
                    .matmul(w.as_tensor())?
                    .broadcast_add(b.as_tensor())?
                    .reshape((n, positions * filters))
            }
            Layer::Pool {
                ids,
                outputs,
                window,
            } => {
                let n = x.dim(0)?;
                x.index_select(ids, 1)?
                    .reshape((n, *outputs, *window))?
                    .mean(2)
            }
        }
    }

    pub(super) fn vars(&self) -> Vec<&Var> {
        match self {
            Layer::Dense { w, b } | Layer::Conv { w, b, .. } => vec![w, b],
            Layer::Pool { .. } => vec![],
        }
    }
}

/// Gather indices of a convolution: for every output position `(oy, ox)` and patch entry
/// `(c, ky, kx)`, the input index in HWC order, or `padding_index` (the appended zero) outside
/// the image.
fn conv_indices(kind: &FloatKind, padding_index: usize) -> Vec<u32> {
    let FloatKind::Conv2d {
        input,
        output,
        kernel_height,
        kernel_width,
        stride,
        padding_top,
        padding_left,
    } = *kind
    else {
        return Vec::new();
    };
    let (ih, iw, ic) = (
        i64::from(input.height),
        i64::from(input.width),
        i64::from(input.channels),
    );
    let mut ids = Vec::new();
    for oy in 0..i64::from(output.height) {
        for ox in 0..i64::from(output.width) {
            for c in 0..ic {
                for ky in 0..i64::from(kernel_height) {
                    for kx in 0..i64::from(kernel_width) {
                        let iy = oy * i64::from(stride) - i64::from(padding_top) + ky;
                        let ix = ox * i64::from(stride) - i64::from(padding_left) + kx;
                        let index = if (0..ih).contains(&iy) && (0..iw).contains(&ix) {
                            ((iy * iw + ix) * ic + c) as usize
                        } else {
                            padding_index
                        };
                        ids.push(index as u32);
                    }
                }
            }
        }
    }
    ids
}

/// Gather indices of an average pool, `(oy, ox, c, py, px)` order.
fn pool_indices(input: Shape, size: u8) -> Vec<u32> {
    let output = FloatKind::pool_output(input, size);
    let (s, iw, c) = (
        usize::from(size),
        usize::from(input.width),
        usize::from(input.channels),
    );
    let mut ids = Vec::with_capacity(input.len());
    for oy in 0..usize::from(output.height) {
        for ox in 0..usize::from(output.width) {
            for ch in 0..c {
                for py in 0..s {
                    for px in 0..s {
                        ids.push((((oy * s + py) * iw + ox * s + px) * c + ch) as u32);
                    }
                }
            }
        }
    }
    ids
}

/// The trainable network: Keras-style weights plus the Nengo neuron parametrization.
pub(super) struct Model {
    /// Where the tensors live: the CPU, or with the `cuda` feature the first GPU if present.
    pub(super) device: Device,
    /// The layers with their shapes; the last is the readout.
    pub(super) layers: Vec<(Layer, ResolvedLayer)>,
    params: NeuronParams,
    pub(super) gain: f64,
    pub(super) bias: f64,
}

/// Which rate function the hidden layers use.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Rates {
    /// SoftLIFRate (LIF) for training.
    Smooth,
    /// Exact LIFRate, for evaluation.
    Exact,
}

/// The device training runs on: the CPU; with the `cuda` feature the first CUDA GPU when one
/// is present (candle's CUDA kernels are not bit-reproducible run to run, so the "same seed,
/// same bytes" guarantee holds on the CPU only).
fn training_device() -> candle_core::Result<Device> {
    #[cfg(feature = "cuda")]
    {
        Device::cuda_if_available(0)
    }
    #[cfg(not(feature = "cuda"))]
    {
        Ok(Device::Cpu)
    }
}

/// `n` Glorot-uniform values for the given fan-in and fan-out (Keras' default for Dense and
/// Conv2D).
fn glorot(n: usize, fan_in: usize, fan_out: usize, rng: &mut ChaCha8Rng) -> Vec<f32> {
    let limit = (6.0 / (fan_in + fan_out) as f64).sqrt() as f32;
    (0..n).map(|_| rng.random_range(-limit..limit)).collect()
}

impl Model {
    pub(super) fn new(
        layers: &[ResolvedLayer],
        params: NeuronParams,
        rng: &mut ChaCha8Rng,
    ) -> Result<Self, TrainError> {
        let (gain, bias) = params.gain_bias()?;
        let device = training_device()?;
        let dev = &device;
        let mut built = Vec::with_capacity(layers.len());
        for spec in layers {
            let layer = match spec.kind {
                FloatKind::Dense => {
                    let (n_in, n_out) = (spec.inputs, spec.outputs);
                    let w = glorot(n_in * n_out, n_in, n_out, rng);
                    Layer::Dense {
                        w: Var::from_vec(w, (n_in, n_out), dev)?,
                        b: Var::zeros(n_out, DType::F32, dev)?,
                    }
                }
                FloatKind::Conv2d {
                    input,
                    output,
                    kernel_height,
                    kernel_width,
                    ..
                } => {
                    let area = usize::from(kernel_height) * usize::from(kernel_width);
                    let patch = usize::from(input.channels) * area;
                    let filters = usize::from(output.channels);
                    let w = glorot(patch * filters, patch, area * filters, rng);
                    let ids = conv_indices(&spec.kind, spec.inputs);
                    let len = ids.len();
                    Layer::Conv {
                        w: Var::from_vec(w, (patch, filters), dev)?,
                        b: Var::zeros(filters, DType::F32, dev)?,
                        ids: Tensor::from_vec(ids, len, dev)?,
                        positions: usize::from(output.height) * usize::from(output.width),
                        patch,
                    }
                }
                FloatKind::AvgPool { input, size } => {
                    let ids = pool_indices(input, size);
                    let len = ids.len();
                    Layer::Pool {
                        ids: Tensor::from_vec(ids, len, dev)?,
                        outputs: spec.outputs,
                        window: usize::from(size) * usize::from(size),
                    }
                }
            };
            built.push((layer, *spec));
        }
        Ok(Model {
            device,
            layers: built,
            params,
            gain: f64::from(gain),
            bias: f64::from(bias),
        })
    }

    pub(super) fn vars(&self) -> Vec<Var> {
        self.layers
            .iter()
            .flat_map(|(l, _)| l.vars())
            .cloned()
            .collect()
    }

    /// Rate in Hz (without amplitude) of the hidden neurons for currents `j`.
    pub(super) fn rate_hz(&self, j: &Tensor, mode: Rates) -> candle_core::Result<Tensor> {
        let p = &self.params;
        let (tau_rc, tau_ref) = (f64::from(p.tau_rc), f64::from(p.tau_ref));
        match (p.kind, mode) {
            (NeuronKind::Relu, _) => j.relu(),
            (NeuronKind::Lif, Rates::Smooth) => {
                soft_lif_rate(j, f64::from(p.sigma), tau_rc, tau_ref)
            }
            (NeuronKind::Lif, Rates::Exact) => {
                let jm1 = j.affine(1.0, -1.0)?.maximum(1e-30)?;
                let q = jm1.recip()?.affine(1.0, 1.0)?.log()?;
                let rate = q.affine(tau_rc, tau_ref)?.recip()?;
                j.gt(1.0)?.where_cond(&rate, &rate.zeros_like()?)
            }
        }
    }

    /// Readout currents and the hidden neuron layers' rates in Hz (pools have none); `masks`
    /// (one per hidden neuron layer, already scaled by `1 / (1 - p)`) apply dropout to the
    /// hidden outputs.
    pub(super) fn forward(
        &self,
        x: &Tensor,
        mode: Rates,
        masks: Option<&[Tensor]>,
    ) -> candle_core::Result<(Tensor, Vec<Tensor>)> {
        let amp = f64::from(self.params.amplitude());
        let mut x = x.clone();
        let mut rates = Vec::new();
        let last = self.layers.len() - 1;
        for (i, (layer, _)) in self.layers.iter().enumerate() {
            let pre = layer.linear(&x)?;
            if i == last {
                return Ok((pre, rates));
            }
            if !layer.has_neurons() {
                x = pre;
                continue;
            }
            let r = self.rate_hz(&pre.affine(self.gain, self.bias)?, mode)?;
            x = r.affine(amp, 0.0)?;
            if let Some(m) = masks.and_then(|m| m.get(rates.len())) {
                x = x.mul(m)?;
            }
            rates.push(r);
        }
        Err(candle_core::Error::Msg(
            "a model has at least one layer".into(),
        ))
    }

    /// The network with gain and bias folded in.
    pub(super) fn export(
        &self,
        cfg: &TrainConfig,
        input: InputEncoding,
    ) -> candle_core::Result<FloatNetwork> {
        let last = self.layers.len() - 1;
        let mut layers = Vec::new();
        for (i, (layer, spec)) in self.layers.iter().enumerate() {
            let synapse = match (i, cfg.synapse_tau) {
                (0, _) | (_, None) => Synapse::None,
                (_, Some(tau)) => Synapse::Lowpass { tau },
            };
            let (w, b) = match layer {
                Layer::Dense { w, b } | Layer::Conv { w, b, .. } => (w, b),
                Layer::Pool { .. } => {
                    layers.push(FloatLayer {
                        kind: spec.kind,
                        inputs: spec.inputs,
                        outputs: spec.outputs,
                        weights: Vec::new(),
                        biases: Vec::new(),
                        neuron: Neuron::Readout,
                        synapse: Synapse::None,
                    });
                    continue;
                }
            };
            let (w, b, neuron) = if i == last {
                (
                    w.as_tensor().clone(),
                    b.as_tensor().clone(),
                    Neuron::Readout,
                )
            } else {
                (
                    w.as_tensor().affine(self.gain, 0.0)?,
                    b.as_tensor().affine(self.gain, self.bias)?,
                    self.params.neuron(),
                )
            };
            layers.push(FloatLayer {
                kind: spec.kind,
                inputs: spec.inputs,
                outputs: spec.outputs,
                weights: w.flatten_all()?.to_vec1()?,
                biases: b.to_vec1()?,
                neuron,
                synapse,
            });
        }
        Ok(FloatNetwork {
            dt: cfg.dt,
            input,
            layers,
        })
    }

    pub(super) fn snapshot(&self) -> candle_core::Result<Vec<Tensor>> {
        self.vars().iter().map(|v| v.as_tensor().copy()).collect()
    }

    pub(super) fn restore(&self, saved: &[Tensor]) -> candle_core::Result<()> {
        for (v, t) in self.vars().iter().zip(saved) {
            v.set(t)?;
        }
        Ok(())
    }
}

/// SoftLIFRate in Hz: `1 / (tau_ref + tau_rc * ln(1 + 1/p))` with `p = sigma * softplus((J-1)/sigma)`.
///
/// Built from candle ops so that autodiff provides the gradient. For `(J-1)/sigma < -10` it uses the
/// asymptote `ln(1 + 1/p) ~ -(J-1)/sigma - ln(sigma)`, which avoids `ln(1 + tiny) = 0` in f32 (the
/// same guard as NengoDL's implementation).
pub fn soft_lif_rate(
    j: &Tensor,
    sigma: f64,
    tau_rc: f64,
    tau_ref: f64,
) -> candle_core::Result<Tensor> {
    const CUT: f64 = -10.0;
    let z = j.affine(1.0 / sigma, -1.0 / sigma)?;
    let z_safe = z.maximum(CUT)?;
    // Stable softplus: max(z, 0) + ln(1 + exp(-|z|)).
    let softplus = (z_safe.relu()? + z_safe.abs()?.neg()?.exp()?.affine(1.0, 1.0)?.log()?)?;
    let q_main = softplus
        .affine(sigma, 0.0)?
        .recip()?
        .affine(1.0, 1.0)?
        .log()?;
    let q_tail = z.affine(-1.0, -sigma.ln())?;
    let q = z.ge(CUT)?.where_cond(&q_main, &q_tail)?;
    q.affine(tau_rc, tau_ref)?.recip()
}
