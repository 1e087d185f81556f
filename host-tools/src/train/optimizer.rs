//! The gradient-descent rules: candle's AdamW and a Keras-compatible RMSprop.

use candle_core::{Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};

use super::config::{OptimizerKind, TrainConfig};

/// Keras' RMSprop: `ms = rho * ms + (1 - rho) * g^2`, `w -= lr * g / (sqrt(ms) + epsilon)`,
/// with `ms` starting at zero (TensorFlow 2's slot initializer), `rho` 0.9 and `epsilon` 1e-7.
pub(super) struct RmsProp {
    /// Each variable with its running mean square of the gradient.
    pub(super) vars: Vec<(Var, Tensor)>,
    pub(super) learning_rate: f64,
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
pub(super) enum Descent {
    Adam(AdamW),
    RmsProp(RmsProp),
}

impl Descent {
    pub(super) fn new(cfg: &TrainConfig, vars: Vec<Var>) -> candle_core::Result<Self> {
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

    pub(super) fn set_learning_rate(&mut self, lr: f64) {
        match self {
            Descent::Adam(o) => o.set_learning_rate(lr),
            Descent::RmsProp(o) => o.set_learning_rate(lr),
        }
    }

    pub(super) fn backward_step(&mut self, loss: &Tensor) -> candle_core::Result<()> {
        match self {
            Descent::Adam(o) => o.backward_step(loss),
            Descent::RmsProp(o) => o.backward_step(loss),
        }
    }
}
