//! The float reference simulator (host only): Nengo's exact dynamics in `f64`.
//!
//! It runs the *unquantized* network with Nengo's reference semantics (exact exponential
//! integration, fractional refractory time, exact spike times, no cap on spikes per step), so
//! comparing it with [`crate::Network`] measures exactly what quantization and the documented
//! fixed-point deviations cost. Its rate mode (LIFRate / RectifiedLinear) is the "rate float"
//! stage of the NengoDL recipe.

use serde::{Deserialize, Serialize};
use std::vec::Vec;

use crate::format::InputEncoding;
use crate::neuron::Neuron;
use crate::synapse::Synapse;

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

/// One fully connected layer of a [`FloatNetwork`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FloatLayer {
    /// Number of inputs.
    pub inputs: usize,
    /// Number of outputs.
    pub outputs: usize,
    /// Row-major `[input][output]` weights (`x @ W`).
    pub weights: Vec<f32>,
    /// One bias per output, in units of neuron current.
    pub biases: Vec<f32>,
    /// The neurons.
    pub neuron: Neuron,
    /// The filter on this layer's input.
    pub synapse: Synapse,
}

/// What one spiking simulation of the reference produced.
#[derive(Clone, Debug, PartialEq)]
pub struct FloatRun {
    /// The readout's values at the last step.
    pub outputs: Vec<f64>,
    /// Index of the largest output (lowest index on a tie).
    pub class: usize,
    /// Spikes per layer over the run (0 for the readout).
    pub spike_counts: Vec<u64>,
    /// Spikes per neuron over the run, per layer.
    pub neuron_spikes: Vec<Vec<u32>>,
}

/// Nengo's `LIFRate` curve: steady-state rate in Hz (times `amplitude`) for constant current `j`.
///
/// ```
/// use picospike_runtime::reference::lif_rate;
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

impl FloatLayer {
    /// `J = x @ W + b`.
    fn currents(&self, x: &[f64]) -> Vec<f64> {
        let mut j: Vec<f64> = self.biases.iter().map(|&b| f64::from(b)).collect();
        for (&xi, row) in x.iter().zip(self.weights.chunks_exact(self.outputs)) {
            if xi != 0.0 {
                for (ji, &w) in j.iter_mut().zip(row) {
                    *ji += xi * f64::from(w);
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

    /// A spiking simulator of this network from rest, presenting `raw` as a static input.
    pub fn simulator(&self, raw: &[u8]) -> FloatSimulator<'_> {
        let zeros =
            || -> Vec<Vec<f64>> { self.layers.iter().map(|l| vec![0.0; l.outputs]).collect() };
        FloatSimulator {
            network: self,
            input: self.input_values(raw),
            voltage: zeros(),
            refractory: zeros(),
            filter: zeros(),
            output: zeros(),
            neuron_spikes: self.layers.iter().map(|l| vec![0; l.outputs]).collect(),
        }
    }

    /// Spiking simulation for `steps` steps from rest, with Nengo's exact LIF dynamics.
    pub fn simulate(&self, raw: &[u8], steps: usize) -> FloatRun {
        let mut simulator = self.simulator(raw);
        for _ in 0..steps {
            simulator.step();
        }
        simulator.run()
    }
}

/// Step-by-step spiking simulation of a [`FloatNetwork`] (see [`FloatNetwork::simulator`]).
#[derive(Clone, Debug)]
pub struct FloatSimulator<'n> {
    network: &'n FloatNetwork,
    input: Vec<f64>,
    voltage: Vec<Vec<f64>>,
    refractory: Vec<Vec<f64>>,
    filter: Vec<Vec<f64>>,
    /// Per layer: this step's spike counts, or the readout values.
    output: Vec<Vec<f64>>,
    neuron_spikes: Vec<Vec<u32>>,
}

impl FloatSimulator<'_> {
    /// Advance every layer by one step, first to last (the runtime's order).
    pub fn step(&mut self) {
        let dt = f64::from(self.network.dt);
        for (l, layer) in self.network.layers.iter().enumerate() {
            // Layer 0 sees the static input; later layers the previous layer's spikes, each
            // worth `amplitude / dt`.
            let x: Vec<f64> = match l.checked_sub(1) {
                None => self.input.clone(),
                Some(p) => {
                    let height = f64::from(self.network.layers[p].neuron.amplitude()) / dt;
                    self.output[p].iter().map(|&n| n * height).collect()
                }
            };
            // Filter the weighted input without the bias (the bias is not synaptic).
            let mut j = layer.currents(&x);
            for (ji, &b) in j.iter_mut().zip(&layer.biases) {
                *ji -= f64::from(b);
            }
            if let Synapse::Lowpass { tau } = layer.synapse {
                let a = (-dt / f64::from(tau)).exp();
                for (y, ji) in self.filter[l].iter_mut().zip(j.iter_mut()) {
                    *y = a * *y + (1.0 - a) * *ji;
                    *ji = *y;
                }
            }
            for (ji, &b) in j.iter_mut().zip(&layer.biases) {
                *ji += f64::from(b);
            }
            let out = &mut self.output[l];
            match layer.neuron {
                Neuron::Lif {
                    tau_rc,
                    tau_ref,
                    min_voltage,
                    ..
                } => {
                    let (tau_rc, tau_ref) = (f64::from(tau_rc), f64::from(tau_ref));
                    let states = self.voltage[l]
                        .iter_mut()
                        .zip(self.refractory[l].iter_mut());
                    for (i, (v, r)) in states.enumerate() {
                        *r -= dt;
                        let delta = (dt - *r).clamp(0.0, dt);
                        *v -= (j[i] - *v) * (-delta / tau_rc).exp_m1();
                        out[i] = 0.0;
                        if *v > 1.0 {
                            let t_spike = dt + tau_rc * (-(*v - 1.0) / (j[i] - 1.0)).ln_1p();
                            *r = tau_ref + t_spike;
                            *v = 0.0;
                            out[i] = 1.0;
                            self.neuron_spikes[l][i] += 1;
                        } else if *v < f64::from(min_voltage) {
                            *v = f64::from(min_voltage);
                        }
                    }
                }
                Neuron::SpikingRectifiedLinear { .. } => {
                    for (i, v) in self.voltage[l].iter_mut().enumerate() {
                        *v += j[i].max(0.0) * dt;
                        let spikes = v.floor();
                        *v -= spikes;
                        out[i] = spikes;
                        self.neuron_spikes[l][i] += spikes as u32;
                    }
                }
                Neuron::Readout => out.copy_from_slice(&j),
            }
        }
    }

    /// This step's output of layer `index`: spike counts, or the readout's values.
    pub fn layer_output(&self, index: usize) -> &[f64] {
        &self.output[index]
    }

    /// The readout's values after the last step.
    pub fn outputs(&self) -> &[f64] {
        self.output.last().map_or(&[], |o| o.as_slice())
    }

    /// The class, outputs and spike counts so far.
    pub fn run(&self) -> FloatRun {
        let outputs = self.outputs().to_vec();
        FloatRun {
            class: argmax(&outputs),
            outputs,
            spike_counts: self
                .neuron_spikes
                .iter()
                .map(|s| s.iter().map(|&c| u64::from(c)).sum())
                .collect(),
            neuron_spikes: self.neuron_spikes.clone(),
        }
    }
}
