//! Nengo's neuron parametrization of the hidden layers: kind, rates, intercepts, gain and bias.

use serde::{Deserialize, Serialize};

use picospike_runtime::neuron::Neuron;

use super::error::{non_negative, positive, TrainError};

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

    pub(super) fn validate(&self) -> Result<(), TrainError> {
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
