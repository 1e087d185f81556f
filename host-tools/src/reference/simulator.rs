//! Spiking simulation of a [`FloatNetwork`]: exact LIF dynamics and lowpass synapses, step by step.

use picospike_runtime::neuron::Neuron;
use picospike_runtime::synapse::Synapse;

use super::{argmax, FloatLayer, FloatNetwork};

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

impl FloatNetwork {
    /// The value (current units per second of input) of one unit of layer `index`'s spiking
    /// output: `amplitude / dt` for neurons, its input's height for a pool, 1 for a readout.
    fn spike_height(&self, index: usize) -> f64 {
        let dt = f64::from(self.dt);
        let mut i = index;
        loop {
            match self.layers.get(i) {
                Some(layer) if !layer.kind.has_neurons() => match i.checked_sub(1) {
                    Some(p) => i = p,
                    None => return 1.0,
                },
                Some(
                    layer @ FloatLayer {
                        neuron: Neuron::Readout,
                        ..
                    },
                ) => return f64::from(layer.neuron.amplitude()),
                Some(layer) => return f64::from(layer.neuron.amplitude()) / dt,
                None => return 1.0,
            }
        }
    }

    /// A spiking simulator of this network from rest, presenting `raw` as a static input.
    pub fn simulator(&self, raw: &[u8]) -> FloatSimulator<'_> {
        let zeros =
            || -> Vec<Vec<f64>> { self.layers.iter().map(|l| vec![0.0; l.outputs]).collect() };
        FloatSimulator {
            network: self,
            first_drive: self.first_drive(raw),
            voltage: zeros(),
            refractory: zeros(),
            filter: zeros(),
            output: zeros(),
            neuron_spikes: self.layers.iter().map(|l| vec![0; l.outputs]).collect(),
        }
    }

    /// The first layer's weighted input without its bias for the static input `raw`.
    ///
    /// The first layer's input does not change while an input is presented: its weighted sum
    /// is computed once (as the runtime does), which makes long runs of wide first layers
    /// affordable.
    fn first_drive(&self, raw: &[u8]) -> Vec<f64> {
        let input = self.input_values(raw);
        self.layers
            .first()
            .map(|layer| {
                let mut j = layer.currents(&input);
                for (ji, b) in j.iter_mut().zip(layer.output_biases()) {
                    *ji -= b;
                }
                j
            })
            .unwrap_or_default()
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
    /// The first layer's weighted input without its bias (the input is static).
    first_drive: Vec<f64>,
    voltage: Vec<Vec<f64>>,
    refractory: Vec<Vec<f64>>,
    filter: Vec<Vec<f64>>,
    /// Per layer: this step's spike counts, or the readout values.
    output: Vec<Vec<f64>>,
    neuron_spikes: Vec<Vec<u32>>,
}

impl FloatSimulator<'_> {
    /// Present another static input from the next step on, keeping every neuron's state: a
    /// stream, as [`picospike_runtime::Network::set_input`] without a reset.
    pub fn present(&mut self, raw: &[u8]) {
        self.first_drive = self.network.first_drive(raw);
    }

    /// Advance every layer by one step, first to last (the runtime's order).
    pub fn step(&mut self) {
        let dt = f64::from(self.network.dt);
        for (l, layer) in self.network.layers.iter().enumerate() {
            // Layer 0 sees the static input; later layers the previous layer's spikes, each
            // worth `amplitude / dt`. Filter the weighted input without the bias (the bias is
            // not synaptic).
            let biases = layer.output_biases();
            let mut j = match l.checked_sub(1) {
                None => self.first_drive.clone(),
                Some(p) => {
                    let height = self.network.spike_height(p);
                    let x: Vec<f64> = self.output[p].iter().map(|&n| n * height).collect();
                    let mut j = layer.currents(&x);
                    for (ji, &b) in j.iter_mut().zip(&biases) {
                        *ji -= b;
                    }
                    j
                }
            };
            if let Synapse::Lowpass { tau } = layer.synapse {
                let a = (-dt / f64::from(tau)).exp();
                for (y, ji) in self.filter[l].iter_mut().zip(j.iter_mut()) {
                    *y = a * *y + (1.0 - a) * *ji;
                    *ji = *y;
                }
            }
            for (ji, &b) in j.iter_mut().zip(&biases) {
                *ji += b;
            }
            let out = &mut self.output[l];
            if !layer.kind.has_neurons() {
                // A pool's output is in its input's units: the window mean of spike counts.
                let input_height = l
                    .checked_sub(1)
                    .map_or(1.0, |p| self.network.spike_height(p));
                for (o, ji) in out.iter_mut().zip(&j) {
                    *o = ji / input_height;
                }
                continue;
            }
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

    /// Start every neuron's membrane voltage at `voltage(layer, neuron)` instead of at rest.
    ///
    /// The runtime always starts at rest (voltage 0). Nengo (3.1 and later) draws the initial
    /// voltage of `SpikingRectifiedLinear` and `LIF` neurons from U(0, 1) once per neuron, so
    /// that a neuron below `1 / (steps * dt)` Hz still spikes in a short window with the right
    /// probability; this lets a measurement compare the two (`host-tools/examples`).
    #[must_use]
    pub fn with_initial_voltages(mut self, mut voltage: impl FnMut(usize, usize) -> f64) -> Self {
        for (l, layer) in self.voltage.iter_mut().enumerate() {
            for (i, v) in layer.iter_mut().enumerate() {
                *v = voltage(l, i);
            }
        }
        self
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
