//! Neuron kinds: the stored parameters of each and the constants its step needs.
//!
//! Input currents reach a neuron as Q16.16 numbers (see [`crate::fixed_point`]); the dynamics
//! follow Nengo's reference simulator. Each kind keeps its constants and its step in its own
//! file: `lif.rs` and `lif_layer.rs` (with the spike clocks of a first layer, `clock.rs`),
//! `spiking_relu.rs`; the
//! readout has no dynamics (its current is the output).

pub(crate) mod clock;
pub(crate) mod lif;
pub(crate) mod lif_layer;
pub(crate) mod spiking_relu;

use serde::{Deserialize, Serialize};

use crate::event::Emitter;
use crate::shape::Shape;
use clock::ClockConstants;
use lif::LifConstants;

/// A layer's neuron model with its Nengo parameters.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Neuron {
    /// Leaky integrate-and-fire with threshold 1 (Nengo `LIF`).
    Lif {
        /// Membrane time constant in seconds.
        tau_rc: f32,
        /// Refractory period in seconds.
        tau_ref: f32,
        /// Lower bound of the membrane voltage (Nengo's default is 0).
        min_voltage: f32,
        /// Output of one spike times `dt`; the exporter folds it into the next layer's weights.
        amplitude: f32,
    },
    /// Integrate-and-fire with reset by subtraction (Nengo `SpikingRectifiedLinear`).
    SpikingRectifiedLinear {
        /// Output of one spike times `dt`; the exporter folds it into the next layer's weights.
        amplitude: f32,
    },
    /// Non-spiking readout: the layer's (filtered) input current is the network output.
    Readout,
}

/// The load-time constants of a neuron model's fixed-point dynamics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dynamics {
    /// LIF neurons, and the constants of their spike clock (`None` when the layer cannot have
    /// one, see [`ClockConstants::new`]).
    Lif {
        /// The stepwise update's constants.
        lif: LifConstants,
        /// The spike clock's constants.
        clock: Option<ClockConstants>,
    },
    /// Spiking rectified linear neurons: no constants.
    SpikingRectifiedLinear,
    /// The readout: its current is its output.
    Readout,
}

impl Neuron {
    /// Whether this model emits spikes (everything but the readout).
    pub fn is_spiking(&self) -> bool {
        !matches!(self, Neuron::Readout)
    }

    /// The output of one spike times `dt` (1 for the readout, whose output is not spikes).
    pub fn amplitude(&self) -> f32 {
        match *self {
            Neuron::Lif { amplitude, .. } | Neuron::SpikingRectifiedLinear { amplitude } => {
                amplitude
            }
            Neuron::Readout => 1.0,
        }
    }

    /// Largest count one neuron passes to the next layer in one step.
    pub fn max_count(&self) -> u32 {
        match self {
            Neuron::Lif { .. } => 1,
            Neuron::SpikingRectifiedLinear { .. } => 255,
            Neuron::Readout => 0,
        }
    }

    /// State words each neuron needs: a LIF neuron its voltage and refractory time left
    /// (interleaved, so one load reaches both), a spiking ReLU its voltage, the readout none
    /// (its outputs have a region of their own).
    pub fn state_words(&self) -> usize {
        match self {
            Neuron::Lif { .. } => 2,
            Neuron::SpikingRectifiedLinear { .. } => 1,
            Neuron::Readout => 0,
        }
    }

    /// Check the parameters and derive the fixed-point constants for time step `dt` seconds;
    /// the error names the parameter out of range.
    #[cfg(test)]
    pub(crate) fn dynamics(&self, dt: f32) -> Result<Dynamics, &'static str> {
        let mut dynamics = None;
        self.dynamics_into(dt, &mut dynamics)?;
        dynamics.ok_or("neuron")
    }

    /// [`Neuron::dynamics`] written into `place` (`Some` after success, unchanged after an
    /// error), so that the loader computes a layer's constants straight into its entry.
    // Never inlined: its frame (the LIF constants' float work) would otherwise be part of the
    // loader's, live under every layer's checks (on the Cortex-M0, 128 bytes at the load's peak).
    #[inline(never)]
    pub(crate) fn dynamics_into(
        &self,
        dt: f32,
        place: &mut Option<Dynamics>,
    ) -> Result<(), &'static str> {
        match *self {
            Neuron::Lif {
                tau_rc,
                tau_ref,
                min_voltage,
                amplitude,
            } => {
                check_amplitude(amplitude)?;
                let (gain, refractory, min_voltage) =
                    lif::checked(tau_rc, tau_ref, min_voltage, dt)?;
                let clock = ClockConstants::new(tau_rc / dt, tau_ref / dt);
                let lif = LifConstants::new(gain, refractory, min_voltage);
                *place = Some(Dynamics::Lif { lif, clock });
            }
            Neuron::SpikingRectifiedLinear { amplitude } => {
                check_amplitude(amplitude)?;
                *place = Some(Dynamics::SpikingRectifiedLinear);
            }
            Neuron::Readout => *place = Some(Dynamics::Readout),
        }
        Ok(())
    }
}

impl Dynamics {
    /// Step a layer of these neurons, of output shape `shape`, under this step's `currents`:
    /// `state` holds the neurons' state words, `outputs` the readout's values; each neuron that
    /// fires emits its event through `out`.
    #[inline(always)]
    pub(crate) fn step_layer(
        &self,
        shape: Shape,
        currents: &[i32],
        state: &mut [i32],
        outputs: &mut [i32],
        out: &mut Emitter<'_>,
    ) {
        match self {
            Dynamics::Lif { lif, .. } => {
                let (state, _) = state.as_chunks_mut::<2>();
                let noted = lif_layer::lif_common_pass(state, currents, lif, out.events);
                lif_layer::lif_finish(shape, state, currents, noted, lif, out);
            }
            Dynamics::SpikingRectifiedLinear => {
                spiking_relu::step_layer(shape, currents, state, out);
            }
            Dynamics::Readout => {
                for (out, &current) in outputs.iter_mut().zip(currents) {
                    *out = current;
                }
            }
        }
    }
}

fn check_amplitude(amplitude: f32) -> Result<(), &'static str> {
    if amplitude.is_finite() && amplitude > 0.0 {
        Ok(())
    } else {
        Err("amplitude")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DT: f32 = 0.001;

    #[test]
    fn bad_parameters_are_named() {
        let bad = |n: Neuron| n.dynamics(DT).err();
        let base = |tau_rc, tau_ref, min_voltage, amplitude| Neuron::Lif {
            tau_rc,
            tau_ref,
            min_voltage,
            amplitude,
        };
        assert_eq!(bad(base(0.0, 0.002, 0.0, 1.0)), Some("tau_rc"));
        assert_eq!(bad(base(f32::NAN, 0.002, 0.0, 1.0)), Some("tau_rc"));
        assert_eq!(bad(base(1e9, 0.002, 0.0, 1.0)), Some("tau_rc"));
        assert_eq!(bad(base(0.02, -1.0, 0.0, 1.0)), Some("tau_ref"));
        assert_eq!(bad(base(0.02, 1e6, 0.0, 1.0)), Some("tau_ref"));
        assert_eq!(bad(base(0.02, 0.002, 1.0, 1.0)), Some("min_voltage"));
        assert_eq!(bad(base(0.02, 0.002, 0.0, 0.0)), Some("amplitude"));
        assert_eq!(
            bad(Neuron::SpikingRectifiedLinear {
                amplitude: f32::INFINITY
            }),
            Some("amplitude")
        );
        assert_eq!(bad(Neuron::Readout), None);
    }
}
