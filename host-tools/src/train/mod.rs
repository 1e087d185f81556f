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
//!
//! One concept per file: [`TrainError`] and option checks (`error`), the Nengo neuron
//! parameters (`neuron`), the configuration and its presets (`config`), the candle model and its
//! rate functions (`model`), the optimizers (`optimizer`), dropout (`dropout`) and the training
//! loop itself (`fit`).

mod config;
mod dropout;
mod error;
mod fit;
mod model;
mod neuron;
mod optimizer;
#[cfg(test)]
mod tests;

pub use config::{OptimizerKind, RateRegularization, TrainConfig};
pub use error::TrainError;
pub use fit::{train, EpochStats, TrainOutcome};
pub use model::soft_lif_rate;
pub use neuron::{NeuronKind, NeuronParams};
