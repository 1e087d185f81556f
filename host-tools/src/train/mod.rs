//! Rate-based training of dense spiking networks with candle (CPU), the first step of the NengoDL recipe.
//!
//! Hidden layers are trained as rate neurons with the Nengo parametrization: the current of neuron
//! `i` is `J = gain * (x @ W + b) + bias` with `gain`/`bias` from `max_rate` and `intercept`
//! (see `runtime/SEMANTICS.md`), and its output is `amplitude * rate_hz(J)`. LIF layers are trained
//! through the smooth SoftLIFRate surrogate (validated with the exact LIFRate); ReLU layers, which
//! become `SpikingRectifiedLinear`, are exact. The last layer is a linear readout trained with
//! softmax cross-entropy. An optional firing-rate regularizer adds
//! `weight * mean((rate_hz - target_hz)^2)` per hidden layer (NengoDL `Regularize`).
//!
//! Everything random (initialization, shuffling, augmentation, validation split) comes from one
//! seeded ChaCha generator, and candle's CPU kernels are deterministic for a fixed thread count, so
//! the same seed and configuration give bit-identical weights. Gradients come from candle's
//! autodiff; nothing here is differentiated by hand.

use std::time::Instant;

use candle_core::{DType, Device, Tensor, Var, D};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use indicatif::{ProgressBar, ProgressStyle};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::arch::{ArchError, Architecture, ResolvedLayer};
use crate::augment::Augmentation;
use crate::data::{DataError, Dataset};
use picospike_runtime::format::InputEncoding;
use picospike_runtime::neuron::Neuron;
use picospike_runtime::synapse::Synapse;

use crate::reference::{FloatKind, FloatLayer, FloatNetwork, Shape};

/// Errors from [`train`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrainError {
    /// A configuration value is out of its valid range.
    #[error("invalid training option {option} = {value}: expected {expected}")]
    InvalidConfig {
        /// The option's name.
        option: &'static str,
        /// The value given.
        value: String,
        /// The valid range.
        expected: &'static str,
    },
    /// The training set cannot be used (empty, inconsistent image sizes, ...).
    #[error("unusable training data: {0}")]
    Data(String),
    /// Splitting off the validation set failed.
    #[error(transparent)]
    Split(#[from] DataError),
    /// The architecture string does not parse or does not fit the data.
    #[error(transparent)]
    Arch(#[from] ArchError),
    /// A tensor operation failed (a bug or out of memory).
    #[error("tensor operation failed: {0}")]
    Candle(#[from] candle_core::Error),
}

/// Whether `x` is finite and greater than 0 (false for NaN).
fn positive(x: f64) -> bool {
    x.is_finite() && x > 0.0
}

/// Whether `x` is finite and at least 0 (false for NaN).
fn non_negative(x: f64) -> bool {
    x.is_finite() && x >= 0.0
}

/// Rate neuron used for the hidden layers during training.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
pub enum NeuronKind {
    /// LIF, trained with SoftLIFRate; exported as `Neuron::Lif`.
    Lif,
    /// Rectified linear, exported as `Neuron::SpikingRectifiedLinear`.
    Relu,
}

/// Nengo-style neuron parameters shared by all hidden layers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NeuronParams {
    /// Neuron model.
    pub kind: NeuronKind,
    /// Firing rate in Hz at input 1 along the preferred direction (Nengo `max_rates`).
    pub max_rate: f32,
    /// Input at which the neuron starts firing (0 for deep learning).
    pub intercept: f32,
    /// Output scale; `None` means `1 / max_rate` so that outputs are about 0..1.
    pub amplitude: Option<f32>,
    /// LIF membrane time constant in seconds.
    pub tau_rc: f32,
    /// LIF refractory period in seconds.
    pub tau_ref: f32,
    /// SoftLIFRate smoothing (softplus width); LIF only.
    pub sigma: f32,
}

impl Default for NeuronParams {
    fn default() -> Self {
        NeuronParams {
            kind: NeuronKind::Lif,
            max_rate: 200.0,
            intercept: 0.0,
            amplitude: None,
            tau_rc: 0.02,
            tau_ref: 0.002,
            sigma: 0.02,
        }
    }
}

impl NeuronParams {
    /// The output scale actually used (`amplitude` or `1 / max_rate`).
    pub fn amplitude(&self) -> f32 {
        self.amplitude.unwrap_or(1.0 / self.max_rate)
    }

    /// Nengo gain and bias for `max_rate` and `intercept` (`J = gain * x + bias`).
    ///
    /// # Errors
    /// [`TrainError::InvalidConfig`] for parameters Nengo rejects (e.g. `max_rate >= 1 / tau_ref`).
    pub fn gain_bias(&self) -> Result<(f32, f32), TrainError> {
        self.validate()?;
        let (r, x0) = (f64::from(self.max_rate), f64::from(self.intercept));
        let (gain, bias) = match self.kind {
            NeuronKind::Lif => {
                let (rc, rf) = (f64::from(self.tau_rc), f64::from(self.tau_ref));
                let z = 1.0 / (1.0 - ((rf - 1.0 / r) / rc).exp());
                let gain = (1.0 - z) / (x0 - 1.0);
                (gain, 1.0 - gain * x0)
            }
            NeuronKind::Relu => {
                let gain = r / (1.0 - x0);
                (gain, -x0 * gain)
            }
        };
        Ok((gain as f32, bias as f32))
    }

    fn validate(&self) -> Result<(), TrainError> {
        let bad = |option, value: f32, expected| {
            Err(TrainError::InvalidConfig {
                option,
                value: value.to_string(),
                expected,
            })
        };
        if !(self.max_rate > 0.0 && self.max_rate.is_finite()) {
            return bad("max_rate", self.max_rate, "a positive rate in Hz");
        }
        if !(self.intercept < 1.0 && self.intercept > -1.0) {
            return bad("intercept", self.intercept, "-1 < intercept < 1");
        }
        if let Some(a) = self.amplitude {
            if !(a > 0.0 && a.is_finite()) {
                return bad("amplitude", a, "a positive number");
            }
        }
        if self.kind == NeuronKind::Lif {
            if !positive(f64::from(self.tau_rc)) {
                return bad("tau_rc", self.tau_rc, "a positive time in seconds");
            }
            if !non_negative(f64::from(self.tau_ref)) {
                return bad("tau_ref", self.tau_ref, "a non-negative time in seconds");
            }
            if self.max_rate * self.tau_ref >= 1.0 {
                return bad("max_rate", self.max_rate, "max_rate < 1 / tau_ref for LIF");
            }
            if !positive(f64::from(self.sigma)) {
                return bad("sigma", self.sigma, "a positive smoothing width");
            }
        }
        Ok(())
    }

    /// The exported neuron model.
    pub fn neuron(&self) -> Neuron {
        match self.kind {
            NeuronKind::Lif => Neuron::Lif {
                tau_rc: self.tau_rc,
                tau_ref: self.tau_ref,
                min_voltage: 0.0,
                amplitude: self.amplitude(),
            },
            NeuronKind::Relu => Neuron::SpikingRectifiedLinear {
                amplitude: self.amplitude(),
            },
        }
    }
}

/// Firing-rate regularization: `weight * mean((rate_hz - target_hz)^2)` added per hidden layer.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RateRegularization {
    /// Target rate in Hz.
    pub target_hz: f32,
    /// Loss weight (rates are in Hz, so small values such as 1e-5 are typical).
    pub weight: f32,
}

/// The gradient-descent rule of [`train`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
pub enum OptimizerKind {
    /// Adam (AdamW with `weight_decay`), candle's implementation.
    #[default]
    Adam,
    /// RMSprop as in Keras (`rho` 0.9, `epsilon` 1e-7, no momentum, mean square starting at 0):
    /// what NengoDL's keras-to-snn example trains its rate-regularized network with.
    Rmsprop,
}

/// Everything [`train`] needs besides the data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Hidden layer sizes (at least one) of a dense network; ignored when `arch` is set.
    pub hidden: Vec<usize>,
    /// The whole architecture as a string (see [`crate::arch`]), e.g. `conv8k5s2,dense10`;
    /// `None` for dense layers of sizes `hidden` and a readout.
    #[serde(default)]
    pub arch: Option<String>,
    /// Hidden neuron parameters.
    pub neuron: NeuronParams,
    /// Passes over the training data.
    pub epochs: usize,
    /// Samples per gradient step.
    pub batch_size: usize,
    /// Gradient-descent rule.
    #[serde(default)]
    pub optimizer: OptimizerKind,
    /// Learning rate at the start.
    pub learning_rate: f64,
    /// The learning rate follows a cosine from `learning_rate` down to `learning_rate * final_lr_fraction`.
    pub final_lr_fraction: f64,
    /// Decoupled weight decay (AdamW); 0 gives plain Adam. Adam only.
    pub weight_decay: f64,
    /// Fraction of the training set held out (stratified) for validation; 0 disables validation.
    pub val_fraction: f64,
    /// Keep the weights of the epoch with the best validation accuracy instead of the last.
    pub keep_best: bool,
    /// Optional firing-rate regularization.
    pub rate_reg: Option<RateRegularization>,
    /// Random shift augmentation: each training image is moved by up to this many pixels per axis
    /// every epoch (0 disables; needs a 2-D image shape).
    pub augment_shift: usize,
    /// Random rotation augmentation: up to this many degrees either way (0 disables). With rotation
    /// or scaling the shift is continuous and images are resampled bilinearly.
    pub augment_rotate_deg: f32,
    /// Random scale augmentation: a factor in `1 +- augment_scale` (0 disables).
    pub augment_scale: f32,
    /// Dropout probability on the hidden layers' outputs during training (0 disables).
    pub dropout: f32,
    /// Seed for everything random.
    pub seed: u64,
    /// Simulation step recorded in the network.
    pub dt: f32,
    /// Spiking steps per inference recorded in the network.
    pub timesteps: u16,
    /// Lowpass synapse between spiking layers (seconds); `None` for no filter.
    pub synapse_tau: Option<f32>,
    /// Draw a progress bar on stderr.
    pub progress: bool,
}

impl TrainConfig {
    /// A configuration suited to the built-in 8x8 digits: 64-100-10 LIF, 60 epochs, 10% held out
    /// for validation; about 98% rate-mode accuracy in a few seconds.
    pub fn digits() -> Self {
        TrainConfig {
            hidden: vec![100],
            arch: None,
            neuron: NeuronParams::default(),
            epochs: 60,
            batch_size: 32,
            optimizer: OptimizerKind::Adam,
            learning_rate: 3e-3,
            final_lr_fraction: 0.01,
            weight_decay: 0.0,
            val_fraction: 0.1,
            keep_best: false,
            rate_reg: None,
            augment_shift: 0,
            augment_rotate_deg: 0.0,
            augment_scale: 0.0,
            dropout: 0.0,
            seed: 0,
            dt: 0.001,
            timesteps: 100,
            synapse_tau: Some(0.005),
            progress: true,
        }
    }

    /// A configuration suited to MNIST from 10,000 training images: 784-256-10 LIF, 60 epochs with
    /// random shifts (+-2 px), rotations (+-10 degrees) and scaling (+-10%), 5% held out for
    /// validation. About 98% rate-mode accuracy on t10k after ~3 CPU-minutes.
    pub fn mnist() -> Self {
        TrainConfig {
            hidden: vec![256],
            epochs: 60,
            batch_size: 64,
            learning_rate: 3e-3,
            val_fraction: 0.05,
            augment_shift: 2,
            augment_rotate_deg: 10.0,
            augment_scale: 0.1,
            ..TrainConfig::digits()
        }
    }

    /// The layers to train on `data`, shapes resolved: `arch`, or dense layers of sizes `hidden`.
    ///
    /// # Errors
    /// [`TrainError::Arch`] if the architecture does not parse or fit the data,
    /// [`TrainError::Data`] for convolutions on data without a 2-D image shape.
    pub fn layers(&self, data: &Dataset) -> Result<Vec<ResolvedLayer>, TrainError> {
        let arch = match &self.arch {
            Some(text) => text.parse::<Architecture>()?,
            None => Architecture::dense(&self.hidden, data.classes),
        };
        let features = data.features();
        let input = match data.shape {
            Some((h, w)) if arch.is_shaped() => Shape {
                height: u16::try_from(h).unwrap_or(u16::MAX),
                width: u16::try_from(w).unwrap_or(u16::MAX),
                channels: u16::try_from(features / (h * w).max(1)).unwrap_or(u16::MAX),
            },
            None if arch.is_shaped() => {
                return Err(TrainError::Data(format!(
                    "architecture {arch} needs images with a 2-D shape; this data set has only {features} values per sample"
                )))
            }
            _ => Shape::vector(u16::try_from(features).unwrap_or(u16::MAX)),
        };
        Ok(arch.resolve(input, data.classes)?)
    }

    /// A convolutional LIF network for MNIST from 10,000 training images:
    /// `conv16k5s2,conv32k3s2,dense128,dense10` (28x28x1 -> 12x12x16 -> 5x5x32 -> 128 -> 10,
    /// 3,232 hidden neurons, 108,874 parameters), 24 epochs with the MNIST augmentation, 5% held
    /// out. Measured on the full t10k (`host-tools/RESULTS.md`, section 4): 98.92% rate float;
    /// converted with a 10 ms readout synapse, 98.70% spiking fixed point at 20 steps, in
    /// 110 KB of flash and 57 KB of state RAM; about 10 CPU-minutes of training.
    pub fn mnist_conv() -> Self {
        TrainConfig {
            arch: Some("conv16k5s2,conv32k3s2,dense128,dense10".into()),
            epochs: 24,
            batch_size: 64,
            learning_rate: 3e-3,
            val_fraction: 0.05,
            augment_shift: 2,
            augment_rotate_deg: 10.0,
            augment_scale: 0.1,
            ..TrainConfig::digits()
        }
    }

    fn validate(&self) -> Result<(), TrainError> {
        let bad = |option, value: String, expected| {
            Err(TrainError::InvalidConfig {
                option,
                value,
                expected,
            })
        };
        if self.arch.is_none() && (self.hidden.is_empty() || self.hidden.contains(&0)) {
            return bad(
                "hidden",
                format!("{:?}", self.hidden),
                "one or more non-zero layer sizes",
            );
        }
        if self.epochs == 0 {
            return bad("epochs", "0".into(), "at least 1");
        }
        if self.batch_size == 0 {
            return bad("batch_size", "0".into(), "at least 1");
        }
        if !(self.learning_rate > 0.0 && self.learning_rate.is_finite()) {
            return bad(
                "learning_rate",
                self.learning_rate.to_string(),
                "a positive number",
            );
        }
        if !(0.0..=1.0).contains(&self.final_lr_fraction) {
            return bad(
                "final_lr_fraction",
                self.final_lr_fraction.to_string(),
                "0..=1",
            );
        }
        if self.optimizer == OptimizerKind::Rmsprop && self.weight_decay != 0.0 {
            return bad(
                "weight_decay",
                self.weight_decay.to_string(),
                "0 with RMSprop (weight decay is an AdamW option)",
            );
        }
        if !non_negative(self.weight_decay) {
            return bad(
                "weight_decay",
                self.weight_decay.to_string(),
                "non-negative",
            );
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return bad("dropout", self.dropout.to_string(), "0 <= probability < 1");
        }
        if !(0.0..=45.0).contains(&self.augment_rotate_deg) {
            return bad(
                "augment_rotate_deg",
                self.augment_rotate_deg.to_string(),
                "0..=45 degrees",
            );
        }
        if !(0.0..0.5).contains(&self.augment_scale) {
            return bad(
                "augment_scale",
                self.augment_scale.to_string(),
                "0 <= scale < 0.5",
            );
        }
        if !(0.0..0.9).contains(&self.val_fraction) {
            return bad(
                "val_fraction",
                self.val_fraction.to_string(),
                "0 <= fraction < 0.9",
            );
        }
        if !positive(f64::from(self.dt)) {
            return bad("dt", self.dt.to_string(), "a positive time step in seconds");
        }
        if let Some(t) = self.synapse_tau {
            if !positive(f64::from(t)) {
                return bad(
                    "synapse_tau",
                    t.to_string(),
                    "a positive time constant in seconds",
                );
            }
        }
        if let Some(r) = self.rate_reg {
            if !(r.weight >= 0.0 && r.target_hz >= 0.0) {
                return bad(
                    "rate_reg",
                    format!("{r:?}"),
                    "non-negative target and weight",
                );
            }
        }
        self.neuron.validate()
    }
}

/// Metrics of one epoch.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochStats {
    /// One-based epoch number.
    pub epoch: usize,
    /// Mean training loss (cross-entropy plus regularization) over the epoch's batches.
    pub train_loss: f64,
    /// Training accuracy of the surrogate model on the (augmented) batches, 0..=1.
    pub train_acc: f64,
    /// Validation accuracy with exact rate neurons after the epoch, 0..=1.
    pub val_acc: Option<f64>,
    /// Learning rate used in this epoch.
    pub learning_rate: f64,
    /// Seconds since training started.
    pub elapsed_s: f64,
}

/// The result of [`train`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainOutcome {
    /// The trained network, gain and bias folded.
    pub network: FloatNetwork,
    /// Per-epoch metrics.
    pub history: Vec<EpochStats>,
    /// Epoch (one-based) whose weights were kept.
    pub kept_epoch: usize,
    /// Wall time of the whole training in seconds.
    pub seconds: f64,
}

/// One trainable layer. Activations are `(batch, values)` tensors in HWC order throughout, so
/// that a dense layer after a convolution reads exactly the flattening the runtime uses.
enum Layer {
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
    fn has_neurons(&self) -> bool {
        !matches!(self, Layer::Pool { .. })
    }

    /// The linear part: currents before gain and bias (or the pool's output).
    fn linear(&self, x: &Tensor) -> candle_core::Result<Tensor> {
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

    fn vars(&self) -> Vec<&Var> {
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
struct Model {
    /// Where the tensors live: the CPU, or with the `cuda` feature the first GPU if present.
    device: Device,
    /// The layers with their shapes; the last is the readout.
    layers: Vec<(Layer, ResolvedLayer)>,
    params: NeuronParams,
    gain: f64,
    bias: f64,
}

/// Which rate function the hidden layers use.
#[derive(Clone, Copy, PartialEq)]
enum Rates {
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
    fn new(
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

    fn vars(&self) -> Vec<Var> {
        self.layers
            .iter()
            .flat_map(|(l, _)| l.vars())
            .cloned()
            .collect()
    }

    /// Rate in Hz (without amplitude) of the hidden neurons for currents `j`.
    fn rate_hz(&self, j: &Tensor, mode: Rates) -> candle_core::Result<Tensor> {
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
    fn forward(
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
    fn export(&self, cfg: &TrainConfig, input: InputEncoding) -> candle_core::Result<FloatNetwork> {
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

    fn snapshot(&self) -> candle_core::Result<Vec<Tensor>> {
        self.vars().iter().map(|v| v.as_tensor().copy()).collect()
    }

    fn restore(&self, saved: &[Tensor]) -> candle_core::Result<()> {
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

/// Pixels scaled to 0..=1, row-major `[sample][feature]`, in the given order.
fn to_floats(images: &[Vec<u8>], order: &[usize], full_scale: u16) -> Vec<f32> {
    let s = 1.0 / f32::from(full_scale);
    order
        .iter()
        .flat_map(|&i| images[i].iter().map(move |&p| f32::from(p) * s))
        .collect()
}

fn check_data(data: &Dataset) -> Result<usize, TrainError> {
    let features = data.features();
    if data.is_empty() || features == 0 {
        return Err(TrainError::Data("no samples".into()));
    }
    if features > usize::from(u16::MAX) {
        return Err(TrainError::Data(format!(
            "{features} inputs, at most 65535 supported"
        )));
    }
    if let Some(i) = data.images.iter().position(|x| x.len() != features) {
        return Err(TrainError::Data(format!(
            "sample {i} has {} pixels, expected {features}",
            data.images[i].len()
        )));
    }
    if data.labels.len() != data.images.len() {
        return Err(TrainError::Data(format!(
            "{} images but {} labels",
            data.images.len(),
            data.labels.len()
        )));
    }
    if data.classes < 2 {
        return Err(TrainError::Data(format!(
            "{} classes, expected at least 2",
            data.classes
        )));
    }
    Ok(features)
}

/// Accuracy of the model with exact rates on a data set, 0..=1.
fn evaluate(model: &Model, data: &Dataset) -> candle_core::Result<f64> {
    let order: Vec<usize> = (0..data.len()).collect();
    let mut correct = 0u64;
    for chunk in order.chunks(1024) {
        let x = Tensor::from_vec(
            to_floats(&data.images, chunk, data.full_scale),
            (chunk.len(), data.features()),
            &model.device,
        )?;
        let (logits, _) = model.forward(&x, Rates::Exact, None)?;
        let pred: Vec<u32> = logits.argmax(D::Minus1)?.to_vec1()?;
        correct += pred
            .iter()
            .zip(chunk)
            .filter(|(&p, &i)| p == u32::from(data.labels[i]))
            .count() as u64;
    }
    Ok(correct as f64 / data.len() as f64)
}

impl TrainConfig {
    /// The augmentation options as one value.
    pub fn augmentation(&self) -> Augmentation {
        Augmentation {
            shift: self.augment_shift,
            rotate_deg: self.augment_rotate_deg,
            scale: self.augment_scale,
        }
    }

    /// The learning rate of `epoch` (0-based): a cosine from `learning_rate` down to
    /// `learning_rate * final_lr_fraction`.
    pub fn learning_rate_at(&self, epoch: usize) -> f64 {
        let progress = epoch as f64 / self.epochs.max(1) as f64;
        let lr_min = self.learning_rate * self.final_lr_fraction;
        lr_min
            + 0.5 * (self.learning_rate - lr_min) * (1.0 + (std::f64::consts::PI * progress).cos())
    }
}

/// The input encoding of a network whose layers are `layers`: an image shape when the first
/// layer is a convolution (the runtime checks it against the kernel's input), else a vector.
fn input_encoding(layers: &[ResolvedLayer], full_scale: u16, timesteps: u16) -> InputEncoding {
    let shape = match layers.first() {
        Some(ResolvedLayer {
            kind: FloatKind::Conv2d { input, .. },
            ..
        }) => *input,
        first => Shape::vector(first.map_or(0, |l| l.inputs) as u16),
    };
    InputEncoding {
        shape,
        full_scale,
        timesteps,
        density: 0,
    }
}

/// Trains a dense or convolutional rate network on `data` and returns it with gain and bias folded in.
///
/// # Errors
/// [`TrainError::InvalidConfig`] for out-of-range options, [`TrainError::Data`] for unusable data
/// and [`TrainError::Candle`] if a tensor operation fails.
pub fn train(data: &Dataset, cfg: &TrainConfig) -> Result<TrainOutcome, TrainError> {
    cfg.validate()?;
    check_data(data)?;
    if cfg.augmentation().is_active() && data.shape.is_none() {
        return Err(TrainError::InvalidConfig {
            option: "augment_shift",
            value: cfg.augment_shift.to_string(),
            expected: "0 for data without a 2-D image shape",
        });
    }
    let start = Instant::now();
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let (train_set, val_set) = if cfg.val_fraction > 0.0 {
        let (t, v) = data.stratified_split(cfg.val_fraction, rng.random())?;
        (t, Some(v))
    } else {
        (data.clone(), None)
    };

    let layers = cfg.layers(data)?;
    let model = Model::new(&layers, cfg.neuron.clone(), &mut rng)?;
    let mut opt = Descent::new(cfg, model.vars())?;
    let input = input_encoding(&layers, data.full_scale, cfg.timesteps);

    let bar = epoch_bar(cfg);
    let mut history = Vec::with_capacity(cfg.epochs);
    let mut best: Option<(f64, usize, Vec<Tensor>)> = None;
    let mut order: Vec<usize> = (0..train_set.len()).collect();
    for epoch in 0..cfg.epochs {
        let lr = cfg.learning_rate_at(epoch);
        opt.set_learning_rate(lr);
        order.shuffle(&mut rng);
        let (train_loss, train_acc) =
            run_epoch(&model, &mut opt, &train_set, &order, cfg, &mut rng)?;
        let val_acc = val_set.as_ref().map(|v| evaluate(&model, v)).transpose()?;
        let stats = EpochStats {
            epoch: epoch + 1,
            train_loss,
            train_acc,
            val_acc,
            learning_rate: lr,
            elapsed_s: start.elapsed().as_secs_f64(),
        };
        if let (true, Some(acc)) = (cfg.keep_best, val_acc) {
            if best.as_ref().is_none_or(|(b, _, _)| acc > *b) {
                best = Some((acc, epoch + 1, model.snapshot()?));
            }
        }
        bar.set_message(format!(
            "loss {:.4} train {:.2}% val {}",
            stats.train_loss,
            100.0 * stats.train_acc,
            val_acc.map_or("-".into(), |a| format!("{:.2}%", 100.0 * a)),
        ));
        bar.inc(1);
        history.push(stats);
    }
    bar.finish();
    let kept_epoch = match best {
        Some((_, epoch, saved)) => {
            model.restore(&saved)?;
            epoch
        }
        None => cfg.epochs,
    };
    Ok(TrainOutcome {
        network: model.export(cfg, input)?,
        history,
        kept_epoch,
        seconds: start.elapsed().as_secs_f64(),
    })
}

fn epoch_bar(cfg: &TrainConfig) -> ProgressBar {
    let bar = if cfg.progress {
        ProgressBar::new(cfg.epochs as u64)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} epochs {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_prefix("training");
    bar
}

/// One pass over `train_set` in `order` (augmented as configured): minibatch gradient steps.
/// Returns the mean batch loss and the training accuracy.
fn run_epoch(
    model: &Model,
    opt: &mut Descent,
    train_set: &Dataset,
    order: &[usize],
    cfg: &TrainConfig,
    rng: &mut ChaCha8Rng,
) -> Result<(f64, f64), TrainError> {
    let n = train_set.len();
    let features = train_set.features();
    let identity: Vec<usize> = (0..n).collect();
    let pixels = match cfg
        .augmentation()
        .apply(&train_set.images, order, train_set.shape, rng)
    {
        Some(distorted) => to_floats(&distorted, &identity, train_set.full_scale),
        None => to_floats(&train_set.images, order, train_set.full_scale),
    };
    let labels: Vec<u32> = order
        .iter()
        .map(|&i| u32::from(train_set.labels[i]))
        .collect();
    let x_all = Tensor::from_vec(pixels, (n, features), &model.device)?;
    let y_all = Tensor::from_vec(labels, n, &model.device)?;

    let (mut loss_sum, mut correct, mut batches) = (0f64, 0u64, 0usize);
    for b0 in (0..n).step_by(cfg.batch_size) {
        let len = cfg.batch_size.min(n - b0);
        let x = x_all.narrow(0, b0, len)?;
        let y = y_all.narrow(0, b0, len)?;
        let masks = dropout_masks(cfg, model, len, rng)?;
        let (logits, rates) = model.forward(&x, Rates::Smooth, masks.as_deref())?;
        let mut loss = candle_nn::loss::cross_entropy(&logits, &y)?;
        if let Some(reg) = cfg.rate_reg {
            for r in &rates {
                let penalty = r
                    .affine(1.0, -f64::from(reg.target_hz))?
                    .sqr()?
                    .mean_all()?;
                loss = (loss + penalty.affine(f64::from(reg.weight), 0.0)?)?;
            }
        }
        opt.backward_step(&loss)?;
        loss_sum += f64::from(loss.to_scalar::<f32>()?);
        correct += u64::from(
            logits
                .argmax(D::Minus1)?
                .eq(&y)?
                .to_dtype(DType::U32)?
                .sum_all()?
                .to_scalar::<u32>()?,
        );
        batches += 1;
    }
    Ok((
        loss_sum / batches.max(1) as f64,
        correct as f64 / n.max(1) as f64,
    ))
}

/// Keras' RMSprop: `ms = rho * ms + (1 - rho) * g^2`, `w -= lr * g / (sqrt(ms) + epsilon)`,
/// with `ms` starting at zero (TensorFlow 2's slot initializer), `rho` 0.9 and `epsilon` 1e-7.
struct RmsProp {
    /// Each variable with its running mean square of the gradient.
    vars: Vec<(Var, Tensor)>,
    learning_rate: f64,
}

impl RmsProp {
    const RHO: f64 = 0.9;
    const EPSILON: f64 = 1e-7;
}

impl Optimizer for RmsProp {
    type Config = f64;

    fn new(vars: Vec<Var>, learning_rate: f64) -> candle_core::Result<Self> {
        let vars = vars
            .into_iter()
            .filter(|v| v.dtype().is_float())
            .map(|v| {
                let ms = v.as_tensor().zeros_like()?;
                Ok((v, ms))
            })
            .collect::<candle_core::Result<_>>()?;
        Ok(RmsProp {
            vars,
            learning_rate,
        })
    }

    fn step(&mut self, grads: &candle_core::backprop::GradStore) -> candle_core::Result<()> {
        for (var, ms) in &mut self.vars {
            let Some(g) = grads.get(var.as_tensor()) else {
                continue;
            };
            let next =
                ((ms.affine(Self::RHO, 0.0)? + g.sqr()?.affine(1.0 - Self::RHO, 0.0)?)?).detach();
            let step = (g / next.sqrt()?.affine(1.0, Self::EPSILON)?)?;
            var.set(
                &var.as_tensor()
                    .sub(&step.affine(self.learning_rate, 0.0)?)?,
            )?;
            *ms = next;
        }
        Ok(())
    }

    fn learning_rate(&self) -> f64 {
        self.learning_rate
    }

    fn set_learning_rate(&mut self, lr: f64) {
        self.learning_rate = lr;
    }
}

/// The optimizer chosen by [`TrainConfig::optimizer`].
enum Descent {
    Adam(AdamW),
    RmsProp(RmsProp),
}

impl Descent {
    fn new(cfg: &TrainConfig, vars: Vec<Var>) -> candle_core::Result<Self> {
        Ok(match cfg.optimizer {
            OptimizerKind::Adam => Descent::Adam(AdamW::new(
                vars,
                ParamsAdamW {
                    lr: cfg.learning_rate,
                    weight_decay: cfg.weight_decay,
                    ..ParamsAdamW::default()
                },
            )?),
            OptimizerKind::Rmsprop => Descent::RmsProp(RmsProp::new(vars, cfg.learning_rate)?),
        })
    }

    fn set_learning_rate(&mut self, lr: f64) {
        match self {
            Descent::Adam(o) => o.set_learning_rate(lr),
            Descent::RmsProp(o) => o.set_learning_rate(lr),
        }
    }

    fn backward_step(&mut self, loss: &Tensor) -> candle_core::Result<()> {
        match self {
            Descent::Adam(o) => o.backward_step(loss),
            Descent::RmsProp(o) => o.backward_step(loss),
        }
    }
}

/// Inverted-dropout masks for a batch of `len` samples (one per hidden neuron layer), or `None`.
fn dropout_masks(
    cfg: &TrainConfig,
    model: &Model,
    len: usize,
    rng: &mut ChaCha8Rng,
) -> candle_core::Result<Option<Vec<Tensor>>> {
    if cfg.dropout <= 0.0 {
        return Ok(None);
    }
    let keep = 1.0 - cfg.dropout;
    let hidden = model.layers.len().saturating_sub(1);
    model.layers[..hidden]
        .iter()
        .filter(|(layer, _)| layer.has_neurons())
        .map(|(_, spec)| spec.outputs)
        .map(|h| {
            let v: Vec<f32> = (0..len * h)
                .map(|_| {
                    if rng.random::<f32>() < keep {
                        1.0 / keep
                    } else {
                        0.0
                    }
                })
                .collect();
            Tensor::from_vec(v, (len, h), &model.device)
        })
        .collect::<candle_core::Result<Vec<_>>>()
        .map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rate_float::{lif_rate, mean_rates_hz, rate_accuracy};

    /// Two Gaussian-ish blobs per class on a 4x4 grid: easy but not trivially separable.
    fn toy(n: usize, seed: u64) -> Dataset {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut images = Vec::new();
        let mut labels = Vec::new();
        for i in 0..n {
            let label = (i % 3) as u8;
            let img: Vec<u8> = (0..16)
                .map(|p| {
                    let hot = p / 4 == usize::from(label) || p % 4 == usize::from(label) + 1;
                    let base = if hot { 10 } else { 2 };
                    (base + rng.random_range(0..5)) as u8
                })
                .collect();
            images.push(img);
            labels.push(label);
        }
        Dataset {
            images,
            labels,
            full_scale: 16,
            classes: 3,
            shape: Some((4, 4)),
        }
    }

    fn quick(kind: NeuronKind) -> TrainConfig {
        TrainConfig {
            hidden: vec![12],
            neuron: NeuronParams {
                kind,
                ..NeuronParams::default()
            },
            epochs: 8,
            batch_size: 16,
            progress: false,
            ..TrainConfig::digits()
        }
    }

    /// Two RMSprop steps on `loss = 3 * w` against Keras' formulas worked by hand.
    #[test]
    fn rmsprop_follows_keras() {
        let w = Var::from_vec(vec![1.0f32], 1, &Device::Cpu).unwrap();
        let mut opt = RmsProp::new(vec![w.clone()], 0.01).unwrap();
        let (mut ms, mut want) = (0.0f64, 1.0f64);
        for _ in 0..2 {
            let loss = w.as_tensor().affine(3.0, 0.0).unwrap().sum_all().unwrap();
            opt.backward_step(&loss).unwrap();
            ms = 0.9 * ms + 0.1 * 9.0;
            want -= 0.01 * 3.0 / (ms.sqrt() + 1e-7);
        }
        let got = f64::from(w.as_tensor().to_vec1::<f32>().unwrap()[0]);
        // The first step is sqrt(10) times the learning rate (the mean square starts at 0).
        assert!((got - want).abs() < 1e-6, "{got} vs {want}");
        assert!((1.0 - got) > 0.05, "moved only {}", 1.0 - got);
    }

    #[test]
    fn rmsprop_rejects_weight_decay() {
        let cfg = TrainConfig {
            optimizer: OptimizerKind::Rmsprop,
            weight_decay: 1e-4,
            ..quick(NeuronKind::Relu)
        };
        assert!(matches!(
            cfg.validate(),
            Err(TrainError::InvalidConfig {
                option: "weight_decay",
                ..
            })
        ));
    }

    #[test]
    fn gain_bias_match_nengo_formulas() {
        let p = NeuronParams {
            max_rate: 100.0,
            ..NeuronParams::default()
        };
        let (gain, bias) = p.gain_bias().unwrap();
        assert_eq!(bias, 1.0);
        // The rate at x = 1 is max_rate.
        assert!((lif_rate(gain + bias, 0.02, 0.002) - 100.0).abs() < 1e-3);
        let p = NeuronParams {
            max_rate: 100.0,
            intercept: 0.25,
            ..NeuronParams::default()
        };
        let (gain, bias) = p.gain_bias().unwrap();
        assert!(
            (gain * 0.25 + bias - 1.0).abs() < 1e-6,
            "threshold at the intercept"
        );
        assert!((lif_rate(gain + bias, 0.02, 0.002) - 100.0).abs() < 1e-2);
        let relu = NeuronParams {
            kind: NeuronKind::Relu,
            max_rate: 250.0,
            ..NeuronParams::default()
        };
        assert_eq!(relu.gain_bias().unwrap(), (250.0, 0.0));
        assert_eq!(relu.amplitude(), 1.0 / 250.0);
        let too_fast = NeuronParams {
            max_rate: 600.0,
            ..NeuronParams::default()
        };
        assert!(matches!(
            too_fast.gain_bias(),
            Err(TrainError::InvalidConfig {
                option: "max_rate",
                ..
            })
        ));
    }

    #[test]
    fn soft_lif_approaches_lif_rate_and_has_gradients() {
        let js: Vec<f32> = vec![-5.0, 0.5, 0.99, 1.0, 1.01, 1.1, 1.5, 2.0, 5.0, 100.0];
        let t = Tensor::new(js.as_slice(), &Device::Cpu).unwrap();
        let soft: Vec<f32> = soft_lif_rate(&t, 0.001, 0.02, 0.002)
            .unwrap()
            .to_vec1()
            .unwrap();
        for (j, s) in js.iter().zip(&soft) {
            let exact = lif_rate(*j, 0.02, 0.002);
            assert!(s.is_finite());
            // Away from the threshold the smoothing is negligible.
            if (*j - 1.0).abs() > 0.05 {
                assert!(
                    (s - exact).abs() < 0.5 + 0.01 * exact,
                    "J={j}: {s} vs {exact}"
                );
            }
        }
        // Smooth and monotone, with finite non-zero gradients everywhere (also far below threshold).
        let v = Var::new(js.as_slice(), &Device::Cpu).unwrap();
        let r = soft_lif_rate(v.as_tensor(), 0.02, 0.02, 0.002).unwrap();
        let grads = r.sum_all().unwrap().backward().unwrap();
        let g: Vec<f32> = grads.get(v.as_tensor()).unwrap().to_vec1().unwrap();
        assert!(g.iter().all(|x| x.is_finite() && *x > 0.0), "{g:?}");
        let r: Vec<f32> = r.to_vec1().unwrap();
        assert!(r.windows(2).all(|w| w[0] <= w[1]), "{r:?}");
    }

    #[test]
    fn learns_a_toy_problem_with_lif_and_relu() {
        let data = toy(300, 1);
        let test = toy(150, 2);
        for kind in [NeuronKind::Lif, NeuronKind::Relu] {
            let out = train(&data, &quick(kind)).unwrap();
            let acc = rate_accuracy(&out.network, &test.images, &test.labels);
            assert!(acc > 0.9, "{kind:?}: {acc}");
            assert_eq!(out.history.len(), 8);
            let h = &out.history;
            assert!(h[7].train_loss < h[0].train_loss, "{h:?}");
            assert!(h.iter().all(|e| e.val_acc.is_some()));
        }
    }

    #[test]
    fn same_seed_gives_bit_identical_weights() {
        let data = toy(200, 3);
        let mut cfg = quick(NeuronKind::Lif);
        cfg.epochs = 3;
        cfg.augment_shift = 1;
        cfg.augment_rotate_deg = 5.0;
        cfg.dropout = 0.2;
        let a = train(&data, &cfg).unwrap();
        let b = train(&data, &cfg).unwrap();
        assert_eq!(a.network, b.network);
        cfg.seed = 1;
        let c = train(&data, &cfg).unwrap();
        assert_ne!(a.network, c.network);
    }

    /// The exported network evaluated by the float reference must agree with the candle model
    /// using exact rates, which applies gain and bias separately (and gathers convolution
    /// patches instead of scattering inputs).
    fn assert_export_matches(data: &Dataset, arch: &str, kind: NeuronKind) -> FloatNetwork {
        let cfg = TrainConfig {
            arch: Some(arch.into()),
            ..quick(kind)
        };
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let layers = cfg.layers(data).unwrap();
        let model = Model::new(&layers, cfg.neuron.clone(), &mut rng).unwrap();
        let features = data.features();
        let input = input_encoding(&layers, data.full_scale, 10);
        let net = model.export(&cfg, input).unwrap();
        for (i, layer) in net.layers.iter().enumerate() {
            assert_eq!(layer.problem(), None, "{arch} layer {i}");
        }
        let ident: Vec<usize> = (0..data.len()).collect();
        let x = Tensor::from_vec(
            to_floats(&data.images, &ident, data.full_scale),
            (data.len(), features),
            &Device::Cpu,
        )
        .unwrap();
        let (logits, _) = model.forward(&x, Rates::Exact, None).unwrap();
        let logits: Vec<Vec<f32>> = logits.to_vec2().unwrap();
        let mut spread = 0.0f64;
        for (img, want) in data.images.iter().zip(&logits) {
            let got = net.rate_outputs(img);
            assert_eq!(got.len(), want.len());
            for (g, w) in got.iter().zip(want) {
                let w = f64::from(*w);
                spread = spread.max(w.abs());
                assert!(
                    (g - w).abs() < 1e-4 * (1.0 + w.abs()),
                    "{arch} {kind:?}: {g} vs {w}"
                );
            }
        }
        assert!(
            spread > 1e-3,
            "{arch}: outputs all zero, the test would prove nothing"
        );
        net
    }

    #[test]
    fn export_folds_gain_and_bias_exactly() {
        let data = toy(90, 4);
        for kind in [NeuronKind::Lif, NeuronKind::Relu] {
            let net = assert_export_matches(&data, "dense7,dense3", kind);
            assert_eq!(net.layers[0].synapse, Synapse::None);
            assert_eq!(net.layers[1].synapse, Synapse::Lowpass { tau: 0.005 });
            assert_eq!(net.layers[1].neuron, Neuron::Readout);
        }
    }

    #[test]
    fn conv_export_matches_the_float_reference() {
        // Non-square images, asymmetric "same" padding, a padded stride-1 conv over several
        // channels and a pool that drops a row: every index convention is exercised.
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        let data = Dataset {
            images: (0..40)
                .map(|_| (0..42).map(|_| rng.random_range(0..=255u8)).collect())
                .collect(),
            labels: (0..40).map(|i| (i % 3) as u8).collect(),
            full_scale: 255,
            classes: 3,
            shape: Some((7, 6)),
        };
        for kind in [NeuronKind::Lif, NeuronKind::Relu] {
            let net =
                assert_export_matches(&data, "conv3k3s2same,conv4k2s1p1,avgpool2,dense3", kind);
            assert!(matches!(
                net.layers[0].kind,
                FloatKind::Conv2d {
                    output: Shape {
                        height: 4,
                        width: 3,
                        channels: 3
                    },
                    padding_top: 1,
                    padding_left: 0,
                    ..
                }
            ));
            assert_eq!(net.layers[2].neuron, Neuron::Readout);
            assert_eq!(net.layers[2].outputs, 2 * 2 * 4);
            assert_eq!(net.layers[1].synapse, Synapse::Lowpass { tau: 0.005 });
        }
    }

    #[test]
    fn rate_regularization_pulls_rates_toward_target() {
        let data = toy(300, 6);
        let mut cfg = quick(NeuronKind::Relu);
        cfg.epochs = 15;
        let rates =
            |cfg: &TrainConfig| mean_rates_hz(&train(&data, cfg).unwrap().network, &data.images)[0];
        let plain = rates(&cfg);
        cfg.rate_reg = Some(RateRegularization {
            target_hz: 20.0,
            weight: 1e-2,
        });
        let reg = rates(&cfg);
        eprintln!("plain {plain} Hz, regularized {reg} Hz");
        assert!(
            (reg - 20.0).abs() < 0.5 * (plain - 20.0).abs(),
            "plain {plain} Hz, regularized {reg} Hz"
        );
    }

    #[test]
    fn rejects_bad_config_and_data() {
        let data = toy(30, 7);
        let mut cfg = quick(NeuronKind::Lif);
        cfg.hidden = vec![];
        assert!(matches!(
            train(&data, &cfg),
            Err(TrainError::InvalidConfig {
                option: "hidden",
                ..
            })
        ));
        let mut cfg = quick(NeuronKind::Lif);
        cfg.batch_size = 0;
        assert!(matches!(
            train(&data, &cfg),
            Err(TrainError::InvalidConfig { .. })
        ));
        let mut empty = data.clone();
        empty.images.clear();
        empty.labels.clear();
        assert!(matches!(
            train(&empty, &quick(NeuronKind::Lif)),
            Err(TrainError::Data(_))
        ));
        let mut ragged = data.clone();
        ragged.images[3].pop();
        let e = train(&ragged, &quick(NeuronKind::Lif)).unwrap_err();
        assert!(e.to_string().contains("sample 3"), "{e}");
        let mut flat = data;
        flat.shape = None;
        let mut cfg = quick(NeuronKind::Lif);
        cfg.augment_shift = 1;
        assert!(matches!(
            train(&flat, &cfg),
            Err(TrainError::InvalidConfig { .. })
        ));
    }
}
