//! Synaptic filters applied to the weighted spike input of a layer.
//!
//! A first-order lowpass `y := a*y + (1-a)*x` with `a = exp(-dt/tau)` is the exact zero-order-hold
//! discretization of Nengo's `Lowpass(tau)`. Filtering is linear, so filtering the weighted sum of
//! the presynaptic spikes (one state per *postsynaptic* neuron) equals filtering each presynaptic
//! spike train and then weighting it; picospike does the former because it keeps propagation
//! event-driven and needs `outputs` rather than `inputs` state words.

use serde::{Deserialize, Serialize};

use crate::fixed_point::{self, Q16};

/// The filter on a layer's input connection.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Synapse {
    /// No filtering: the layer sees this step's weighted spikes (Nengo `synapse=None`).
    None,
    /// First-order lowpass with time constant `tau` seconds (Nengo `Lowpass(tau)`).
    Lowpass {
        /// Time constant in seconds; must be finite and positive.
        tau: f32,
    },
}

impl Synapse {
    /// `1 - exp(-dt/tau)` as a Q16.16 number, or `None` for an unfiltered connection.
    ///
    /// Returns `Err(())` when `tau` is not a finite positive number or `1 - a` would round to
    /// zero in Q16.16 (which would freeze the filter).
    pub(crate) fn fixed_gain(self, dt: f32) -> Result<Option<Q16>, ()> {
        match self {
            Synapse::None => Ok(None),
            Synapse::Lowpass { tau } => {
                if !(tau.is_finite() && tau > 0.0) {
                    return Err(());
                }
                let gain = fixed_point::one_minus_exp_neg(dt / tau);
                let fixed = fixed_point::q16_from_f32(gain).ok_or(())?;
                if fixed.to_bits() <= 0 {
                    return Err(());
                }
                Ok(Some(fixed))
            }
        }
    }
}
