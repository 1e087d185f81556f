//! Everything training needs besides the data: [`TrainConfig`], its presets and its checks.

use serde::{Deserialize, Serialize};

use crate::arch::{Architecture, ResolvedLayer};
use crate::augment::Augmentation;
use crate::data::Dataset;
use crate::reference::Shape;

use super::error::{non_negative, positive, TrainError};
use super::neuron::NeuronParams;

/// Firing-rate regularization: `weight * mean((rate_hz - target_hz)^2)` added per hidden layer.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RateRegularization {
    /// Target rate in Hz.
    pub target_hz: f32,
    /// Loss weight (rates are in Hz, so small values such as 1e-5 are typical).
    pub weight: f32,
}

/// The gradient-descent rule of [`train`](super::train).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
pub enum OptimizerKind {
    /// Adam (AdamW with `weight_decay`), candle's implementation.
    #[default]
    Adam,
    /// RMSprop as in Keras (`rho` 0.9, `epsilon` 1e-7, no momentum, mean square starting at 0):
    /// what NengoDL's keras-to-snn example trains its rate-regularized network with.
    Rmsprop,
}

/// Everything [`train`](super::train) needs besides the data.
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
    /// for validation (accuracy and time: `host-tools/RESULTS.md`, section 1).
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
    /// validation (accuracy on t10k and time: `host-tools/RESULTS.md`, section 2).
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
    /// out. Accuracy on the full t10k (rate float, and spiking after conversion with a 10 ms
    /// readout synapse), model size and training time: `host-tools/RESULTS.md`, section 4.
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

    pub(super) fn validate(&self) -> Result<(), TrainError> {
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
