//! Neuron models: their stored parameters and their fixed-point dynamics.
//!
//! Input currents reach a neuron as Q16.16 numbers (see [`crate::fixed_point`]). The dynamics
//! follow Nengo's reference simulator with these documented deviations, each covered by a test
//! against the closed-form rate curve:
//!
//! * **LIF, partial integration after the refractory period.** Nengo integrates for the part
//!   `f` of a step left after the refractory time with `1 - exp(-f*dt/tau_rc)`; picospike uses
//!   `f * (1 - exp(-dt/tau_rc))`, exact at `f = 1` and off by at most `f*(1-f)*(dt/tau_rc)^2/2`
//!   of the voltage increment otherwise.
//! * **LIF, spike time.** Nengo solves the exponential for the exact threshold crossing;
//!   picospike interpolates linearly between the voltage before and after the step, which needs
//!   one integer division per spike and no logarithm.
//! * **SpikingRectifiedLinear currents are per step.** The exporter folds `dt` into the weights
//!   and bias of such a layer, so the runtime adds its current to the voltage directly. At most
//!   255 spikes per neuron and step are emitted; any excess charge stays in the voltage.

use serde::{Deserialize, Serialize};

use crate::fixed_point::{self, mul_q16, saturate, ONE};

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

/// Which neuron parameter is out of range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BadParameter {
    TauRc,
    TauRef,
    MinVoltage,
    Amplitude,
}

impl BadParameter {
    pub(crate) fn name(self) -> &'static str {
        match self {
            BadParameter::TauRc => "tau_rc",
            BadParameter::TauRef => "tau_ref",
            BadParameter::MinVoltage => "min_voltage",
            BadParameter::Amplitude => "amplitude",
        }
    }
}

/// Longest refractory period the Q16.16 counter holds, in time steps.
const MAX_REFRACTORY_STEPS: f32 = 30_000.0;

/// The load-time constants of a neuron model's fixed-point dynamics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dynamics {
    Lif(LifConstants),
    SpikingRectifiedLinear,
    Readout,
}

/// Q16.16 constants of the LIF update.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LifConstants {
    /// `1 - exp(-dt/tau_rc)`.
    pub(crate) gain: i32,
    /// `tau_ref / dt`, in time steps.
    pub(crate) refractory: i32,
    /// Lower bound of the voltage.
    pub(crate) min_voltage: i32,
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

    /// Check the parameters and derive the fixed-point constants for time step `dt` seconds.
    pub(crate) fn dynamics(&self, dt: f32) -> Result<Dynamics, BadParameter> {
        match *self {
            Neuron::Lif {
                tau_rc,
                tau_ref,
                min_voltage,
                amplitude,
            } => {
                check_amplitude(amplitude)?;
                if !(tau_rc.is_finite() && tau_rc > 0.0) {
                    return Err(BadParameter::TauRc);
                }
                let gain = fixed_point::q16_from_f32(fixed_point::one_minus_exp_neg(dt / tau_rc))
                    .map(|g| g.to_bits())
                    .filter(|&g| g > 0)
                    .ok_or(BadParameter::TauRc)?;
                let steps = tau_ref / dt;
                if !(steps.is_finite() && (0.0..=MAX_REFRACTORY_STEPS).contains(&steps)) {
                    return Err(BadParameter::TauRef);
                }
                let refractory = fixed_point::q16_from_f32(steps)
                    .ok_or(BadParameter::TauRef)?
                    .to_bits();
                if !(min_voltage.is_finite() && (-1000.0..=0.0).contains(&min_voltage)) {
                    return Err(BadParameter::MinVoltage);
                }
                let min_voltage = fixed_point::q16_from_f32(min_voltage)
                    .ok_or(BadParameter::MinVoltage)?
                    .to_bits();
                Ok(Dynamics::Lif(LifConstants {
                    gain,
                    refractory,
                    min_voltage,
                }))
            }
            Neuron::SpikingRectifiedLinear { amplitude } => {
                check_amplitude(amplitude)?;
                Ok(Dynamics::SpikingRectifiedLinear)
            }
            Neuron::Readout => Ok(Dynamics::Readout),
        }
    }
}

fn check_amplitude(amplitude: f32) -> Result<(), BadParameter> {
    if amplitude.is_finite() && amplitude > 0.0 {
        Ok(())
    } else {
        Err(BadParameter::Amplitude)
    }
}

/// Advance one LIF neuron by one step under input current `current`; returns its spike count.
///
/// `voltage` and `refractory` (time steps left) are Q16.16 raw values.
#[inline]
pub(crate) fn lif_step(
    voltage: &mut i32,
    refractory: &mut i32,
    current: i32,
    constants: &LifConstants,
) -> i32 {
    let left = refractory.saturating_sub(ONE);
    if left >= ONE {
        *refractory = left;
        return 0;
    }
    *refractory = 0;
    // The part of this step after the refractory period ends, in (0, 1].
    let active = ONE - left.max(0);
    let before = *voltage;
    let mut rise = mul_q16(
        saturate(i64::from(current) - i64::from(before)),
        constants.gain,
    );
    if active < ONE {
        rise = mul_q16(rise, active);
    }
    let after = before.saturating_add(rise);
    if after > ONE {
        // Time from the threshold crossing to the end of the step, by linear interpolation.
        let overshoot = i64::from(after) - i64::from(ONE);
        let climb = i64::from(after) - i64::from(before);
        let since_crossing = (overshoot * i64::from(active))
            .checked_div(climb)
            .unwrap_or(0);
        // Same bookkeeping as Nengo: the period runs `tau_ref` from the crossing, and the next
        // step starts by removing one step from it.
        *refractory = saturate(i64::from(constants.refractory) + i64::from(ONE) - since_crossing);
        *voltage = 0;
        1
    } else {
        *voltage = after.max(constants.min_voltage);
        0
    }
}

/// Advance one integrate-and-fire neuron by one step under `current` (already times `dt`).
#[inline]
pub(crate) fn spiking_relu_step(voltage: &mut i32, current: i32) -> i32 {
    let charged = voltage.saturating_add(current.max(0));
    let spikes = (charged >> fixed_point::FRAC_BITS).clamp(0, 255);
    *voltage = charged - (spikes << fixed_point::FRAC_BITS);
    spikes
}

#[cfg(test)]
mod tests {
    use super::*;

    const DT: f32 = 0.001;

    fn lif(tau_rc: f32, tau_ref: f32) -> LifConstants {
        match (Neuron::Lif {
            tau_rc,
            tau_ref,
            min_voltage: 0.0,
            amplitude: 1.0,
        })
        .dynamics(DT)
        {
            Ok(Dynamics::Lif(c)) => c,
            other => panic!("unexpected {other:?}"),
        }
    }

    fn q16(x: f64) -> i32 {
        (x * f64::from(ONE)).round() as i32
    }

    #[test]
    fn lif_voltage_follows_the_exact_exponential_below_threshold() {
        let c = lif(0.02, 0.002);
        let (mut v, mut r) = (0, 0);
        let j = 0.9;
        for step in 1..=20 {
            assert_eq!(lif_step(&mut v, &mut r, q16(j), &c), 0);
            let exact = j * (1.0 - (-(step as f64) * 0.001 / 0.02).exp());
            assert!(
                (f64::from(v) / f64::from(ONE) - exact).abs() < 1e-4,
                "step {step}: {v} vs {exact}"
            );
        }
    }

    #[test]
    fn lif_is_refractory_for_tau_ref_after_the_crossing() {
        let c = lif(0.02, 0.002);
        assert_eq!(c.refractory, 2 * ONE);
        // Starting one ulp below threshold, the crossing happens one ulp into the step, so the
        // refractory period ends 2 steps and 1 ulp after the start of the spiking step.
        let (mut v, mut r) = (ONE - 1, 0);
        assert_eq!(lif_step(&mut v, &mut r, q16(100.0), &c), 1);
        assert_eq!((v, r), (0, c.refractory + 1));
        assert_eq!(lif_step(&mut v, &mut r, q16(100.0), &c), 0);
        assert_eq!((v, r), (0, ONE + 1));
        // The third step integrates for all but 1 ulp of its length.
        assert_eq!(lif_step(&mut v, &mut r, q16(0.5), &c), 0);
        assert_eq!(r, 0);
        assert_eq!(v, mul_q16(mul_q16(q16(0.5), c.gain), ONE - 1));
    }

    /// Spike count of one neuron under constant current over `steps` steps.
    fn lif_count(c: &LifConstants, j: f64, steps: u32) -> u32 {
        let (mut v, mut r) = (0, 0);
        (0..steps)
            .map(|_| lif_step(&mut v, &mut r, q16(j), c) as u32)
            .sum()
    }

    #[test]
    fn lif_rates_match_the_closed_form_curve() {
        let seconds = 10.0;
        let steps = (seconds / f64::from(DT)) as u32;
        let mut worst: f64 = 0.0;
        for &(tau_rc, tau_ref) in &[(0.02, 0.002), (0.02, 0.001), (0.05, 0.001), (0.01, 0.0015)] {
            let c = lif(tau_rc, tau_ref);
            for i in 0..=60 {
                let j = 1.05 + (10.0 - 1.05) * f64::from(i) / 60.0;
                let rate =
                    1.0 / (f64::from(tau_ref) + f64::from(tau_rc) * (1.0 + 1.0 / (j - 1.0)).ln());
                if rate > 400.0 {
                    continue;
                }
                let expected = rate * seconds;
                let got = f64::from(lif_count(&c, j, steps));
                let error = (got - expected).abs();
                assert!(
                    error <= 0.02 * expected || error <= 1.0,
                    "tau_rc={tau_rc} tau_ref={tau_ref} J={j}: {got} spikes, expected {expected}"
                );
                worst = worst.max(error / expected);
            }
        }
        std::println!("worst relative LIF rate error: {:.3}%", worst * 100.0);
    }

    #[test]
    fn lif_below_threshold_never_spikes() {
        let c = lif(0.02, 0.002);
        assert_eq!(lif_count(&c, 1.0, 5000), 0);
        assert_eq!(lif_count(&c, -3.0, 5000), 0);
    }

    #[test]
    fn spiking_relu_resets_by_subtraction_and_emits_several_spikes() {
        let mut v = 0;
        assert_eq!(spiking_relu_step(&mut v, q16(0.75)), 0);
        assert_eq!(spiking_relu_step(&mut v, q16(0.75)), 1);
        assert_eq!(v, q16(0.5));
        assert_eq!(spiking_relu_step(&mut v, q16(2.6)), 3);
        assert_eq!(v, q16(0.1));
        assert_eq!(spiking_relu_step(&mut v, q16(-5.0)), 0);
        assert_eq!(v, q16(0.1));
        let mut huge = i32::MAX - 5;
        assert_eq!(spiking_relu_step(&mut huge, i32::MAX), 255);
    }

    #[test]
    fn bad_parameters_are_named() {
        let bad = |n: Neuron| n.dynamics(DT).err().map(BadParameter::name);
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
