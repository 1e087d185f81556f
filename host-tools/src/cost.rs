//! What an inference costs: the model's workload (neurons, static-input MACs, synapses per
//! spike) and, from it, the instructions and latency predicted on a Cortex-M board.
//!
//! The workload is what `boards/bench.sh` divides the measured instructions by (it reads it from
//! `picospike inspect MODEL --json`, key `workload`), and what `picospike inspect MODEL --board`
//! multiplies the per-kind costs of [`BoardCosts`] by.

use picospike_runtime::layer::{Layer, LayerKind};
use picospike_runtime::neuron::Neuron;
use picospike_runtime::{EncodeError, LoadError, Model, ModelBuilder, Network, RunError};
use serde::Serialize;

/// What one layer does per inference, from its shape alone.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LayerWork {
    /// Layer kind: `dense`, `conv2d` or `sum_pool`.
    pub kind: &'static str,
    /// Neuron kind: `lif`, `spiking_relu`, `readout`, or `linear` for a pool.
    pub neuron: &'static str,
    /// Neurons with dynamics (updated every step; 0 for a pool).
    pub neurons: u64,
    /// Values this layer reads (its input's length).
    pub inputs: u64,
    /// Values this layer passes on (neurons, readout values or pooled sums).
    pub outputs: u64,
    /// Weight additions one non-zero input (pixel or spike) causes, on average over the input
    /// positions: its fan-out.
    pub fan_out: f64,
    /// Weight additions of a fully dense input: `inputs * fan_out`.
    pub dense_macs: u64,
}

/// The workload of one inference of a model, from its shapes.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Workload {
    /// Timesteps of an inference (the model's default).
    pub steps: u16,
    /// State words of the network (what a reset clears).
    pub state_words: u64,
    /// Neurons with dynamics in every layer, hidden and readout.
    pub neurons: u64,
    /// Dense MAC count of the static first-layer drive (every input times its fan-out; zero
    /// pixels skipped by the event-driven kernel still count here, as in CMSIS-NN's count).
    pub static_macs: u64,
    /// Per layer, first to last.
    pub layers: Vec<LayerWork>,
}

fn neuron_name(neuron: &Neuron) -> &'static str {
    match neuron {
        Neuron::Lif { .. } => "lif",
        Neuron::SpikingRectifiedLinear { .. } => "spiking_relu",
        Neuron::Readout => "readout",
    }
}

impl Workload {
    /// The workload of `model`.
    pub fn of<const L: usize>(model: &Model<'_, L>) -> Self {
        let layers: Vec<LayerWork> = model
            .layers()
            .iter()
            .map(|layer| {
                let inputs = layer.inputs() as u64;
                let dense_macs = layer.dense_macs() as u64;
                LayerWork {
                    kind: match layer.kind() {
                        LayerKind::Dense => "dense",
                        LayerKind::Conv2d => "conv2d",
                        LayerKind::SumPool => "sum_pool",
                        _ => "other",
                    },
                    neuron: layer.neuron().as_ref().map_or("linear", neuron_name),
                    neurons: if layer.neuron().is_some() {
                        layer.outputs() as u64
                    } else {
                        0
                    },
                    inputs,
                    outputs: layer.outputs() as u64,
                    // The mean over the input positions: a convolution's border inputs reach
                    // fewer outputs than `Layer::fan_out`, its most.
                    fan_out: dense_macs as f64 / inputs.max(1) as f64,
                    dense_macs,
                }
            })
            .collect();
        Workload {
            steps: model.default_timesteps(),
            state_words: model.state_words() as u64,
            neurons: layers.iter().map(|l| l.neurons).sum(),
            static_macs: layers.first().map_or(0, |l| l.dense_macs),
            layers,
        }
    }
}

/// Why the activity of a model could not be measured.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ActivityError {
    /// No input to run.
    #[error("no input to measure the activity on")]
    NoInputs,
    /// The model does not load or its state cannot be set up.
    #[error("cannot load the model: {0}")]
    Load(#[from] LoadError),
    /// An input did not run (wrong size).
    #[error("cannot run the model: {0}")]
    Run(#[from] RunError),
    /// The model with its activity did not encode.
    #[error("cannot encode the model: {0}")]
    Encode(#[from] EncodeError),
}

/// How active one inference is: what the event-driven work depends on.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Activity {
    /// Mean fraction of the input bytes that are not zero (0..=1): the static drive skips zeros.
    pub input_density: f64,
    /// Per layer, first to last: mean spikes per neuron per step (0 for the readout).
    pub spikes_per_neuron_step: Vec<f64>,
}

impl Activity {
    /// The activity recorded in `model` at export (the input's `density`, each layer's
    /// `activity`), or `None` if it records none (density 0 and every activity 0: a model
    /// exported without data).
    pub fn recorded<const L: usize>(model: &Model<'_, L>) -> Option<Activity> {
        let input_density = f64::from(model.input().density) / 65535.0;
        let spikes_per_neuron_step: Vec<f64> = model
            .layers()
            .iter()
            .map(|layer| f64::from(layer.activity()))
            .collect();
        if input_density == 0.0 && spikes_per_neuron_step.iter().all(|&a| a == 0.0) {
            return None;
        }
        Some(Activity {
            input_density,
            spikes_per_neuron_step,
        })
    }

    /// Measure the activity of `model` on `inputs` at `steps` steps with the fixed-point runtime
    /// (for a model that does not record it).
    ///
    /// # Errors
    /// [`ActivityError`] without inputs or if one has the wrong size.
    pub fn measure<const L: usize>(
        model: &Model<'_, L>,
        inputs: &[&[u8]],
        steps: u16,
    ) -> Result<Activity, ActivityError> {
        if inputs.is_empty() {
            return Err(ActivityError::NoInputs);
        }
        let mut state = vec![0i32; model.state_words()];
        let mut network = Network::new(model, &mut state)?;
        let layers = model.layers();
        let mut spikes = vec![0u64; layers.len()];
        let (mut non_zero, mut total) = (0usize, 0usize);
        for input in inputs {
            let prediction = network.run(input, steps)?;
            for (sum, &count) in spikes.iter_mut().zip(prediction.spike_counts.iter()) {
                *sum += u64::from(count);
            }
            non_zero += input.iter().filter(|&&x| x != 0).count();
            total += input.len();
        }
        let runs = inputs.len() as f64 * f64::from(steps.max(1));
        let spikes_per_neuron_step = layers
            .iter()
            .zip(&spikes)
            .map(|(layer, &count)| count as f64 / (runs * layer.outputs().max(1) as f64))
            .collect();
        Ok(Activity {
            input_density: non_zero as f64 / total.max(1) as f64,
            spikes_per_neuron_step,
        })
    }
}

/// A fraction in 0..=1 as the format's x65535 `u16` (saturating).
fn fraction(value: f64) -> u16 {
    (value * 65535.0).round().clamp(0.0, 65535.0) as u16
}

/// Re-encode `blob` with the activity measured on `inputs` at the model's default step count
/// recorded in it: the input's `density` and each neuron layer's `activity` (what
/// `picospike inspect --board` predicts the cost from). Weights and everything else unchanged.
///
/// # Errors
/// [`ActivityError`] if the blob does not load, there are no inputs or one has the wrong size.
pub fn record_activity(blob: &[u8], inputs: &[&[u8]]) -> Result<Vec<u8>, ActivityError> {
    let model: Model = Model::from_bytes(blob)?;
    let activity = Activity::measure(&model, inputs, model.default_timesteps())?;
    let layers: Vec<Layer<'_>> = model
        .layers()
        .iter()
        .zip(&activity.spikes_per_neuron_step)
        .map(|(layer, &rate)| match *layer {
            Layer::Dense(mut d) => {
                d.activity = fraction(rate);
                Layer::Dense(d)
            }
            Layer::Conv2d(mut c) => {
                c.activity = fraction(rate);
                Layer::Conv2d(c)
            }
            other => other,
        })
        .collect();
    let mut input = model.input();
    input.density = fraction(activity.input_density);
    Ok(ModelBuilder {
        dt: model.dt(),
        input,
        layers: &layers,
    }
    .to_vec()?)
}

/// The boards `inspect --board` predicts for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum Board {
    /// Cortex-M4F (`thumbv7em-none-eabihf`), measured on QEMU `mps2-an386`.
    #[cfg_attr(feature = "cli", value(name = "cortex-m4"))]
    CortexM4,
    /// Cortex-M0 (`thumbv6m-none-eabi`), measured on QEMU `microbit`.
    #[cfg_attr(feature = "cli", value(name = "cortex-m0"))]
    CortexM0,
}

/// Per-kind costs of the fixed-point runtime on one board, in instructions.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct BoardCosts {
    /// The QEMU board the costs were measured on.
    pub measured_on: &'static str,
    /// Clock of that board in MHz (the default for latency).
    pub clock_mhz: f64,
    /// Per state word, once per inference (the reset).
    pub per_state_word: f64,
    /// Per static-input MAC that does work (non-zero input times its fan-out) of a dense first
    /// layer.
    pub per_static_mac_dense: f64,
    /// The same for a convolutional first layer.
    pub per_static_mac_conv: f64,
    /// Per neuron of a dense layer per step: drive, filter, bias, neuron update and the
    /// synaptic events of its input at the reference networks' activity.
    pub per_neuron_step_dense: f64,
    /// The same for a neuron of a convolutional layer, without its synaptic events (which
    /// [`BoardCosts::per_event_conv`] prices).
    pub per_neuron_step_conv: f64,
    /// Per synaptic event into a convolutional layer (one weight added: a spike of the layer
    /// before it times the convolution's fan-out). Fitted from conv rows that differ in
    /// activity only (the same network at two firing-rate scales); 0 when the measurements
    /// cannot separate it, which folds the events into the per-neuron cost at the measured
    /// activity. Events into dense layers stay folded into `per_neuron_step_dense`: the
    /// reference networks' dense rows cannot tell the two apart.
    pub per_event_conv: f64,
}

/// THE COEFFICIENTS, from the measured rows of `boards/BENCH.md`: printed by
/// `python3 boards/tools/bench.py fit --bench-md boards/BENCH.md` (dense costs from the dense
/// networks; conv neuron and event costs from the two conv rows that differ in activity only,
/// mnist-conv and mnist-conv-x3, the same network at firing rates x5 and x3; on the Cortex-M0,
/// which cannot hold the conv network, its conv costs are the M4's scaled by the ratio of the
/// dense costs). The fit leaves out the rows of the networks in `HELD_OUT` of
/// `boards/tools/bench.py` (today `digits-demo` on both boards and `mnist-conv-10` on the M4:
/// the same models at 6 and 10 steps). `inspect --board` predicts those held-out rows at 23,418
/// instructions on the M4 (measured 23,234, +0.8 %), 53,054 on the M0 (measured 52,103,
/// +1.8 %) and 2,467,892 for the conv network at 10 steps (measured 2,324,567, +6.2 %), the
/// fitted rows within 6.8 % (mnist-784-256-10 on the M4). (`bench.py fit` prints slightly
/// different figures: it takes the state size, input density and spikes from the BENCH.md row
/// and the board's run, `inspect` from the model's recorded activity.)
/// Refit and paste after `boards/bench.sh --update` whenever the kernels change: the test
/// `host-tools/tests/cost_prediction.rs` fails when a row's prediction leaves 10 % of its
/// BENCH.md figure.
///
/// Synaptic events into conv layers have a term of their own (`per_event_conv`: 8.9
/// instructions per weight added on the M4, the conv neuron step 28.8 without them). Events
/// into dense layers do not: over the dense rows their cost cannot be told apart from the
/// neurons' (a least-squares event coefficient came out negative), so it is folded into the
/// per-neuron-step costs at the activity those networks have.
impl Board {
    /// The per-kind costs of this board.
    pub fn costs(self) -> BoardCosts {
        match self {
            Board::CortexM4 => BoardCosts {
                measured_on: "qemu-mps2-an386",
                clock_mhz: 25.0,
                per_state_word: 14.750,
                per_static_mac_dense: 2.019,
                per_static_mac_conv: 4.900,
                per_neuron_step_dense: 11.047,
                per_neuron_step_conv: 28.807,
                per_event_conv: 8.876,
            },
            Board::CortexM0 => BoardCosts {
                measured_on: "qemu-microbit",
                clock_mhz: 16.0,
                per_state_word: 24.399,
                per_static_mac_dense: 7.560,
                // Extrapolated: the conv network does not fit the micro:bit's RAM.
                per_static_mac_conv: 18.346,
                per_neuron_step_dense: 19.217,
                per_neuron_step_conv: 50.111,
                per_event_conv: 15.440,
            },
        }
    }
}

/// The memory of the QEMU board a [`Board`]'s costs were measured on, and what its report
/// firmware (`boards/firmware`, `qemu::report`) takes beside the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct BoardMemory {
    /// The QEMU board.
    pub board: &'static str,
    /// Its RAM in bytes (`boards/<board>/memory.x`).
    pub ram_bytes: usize,
    /// The firmware's RAM besides the network state: its statics (the loaded model, the
    /// bound network, the formatting buffers) and its peak stack, in bytes. From
    /// `boards/<board>/size.txt` for the demo model: `ram_total - 4 * STATE_WORDS + stack_peak`
    /// (`memory_figures_match_the_boards` checks them). Measured in the step order: the
    /// layer-major order's inference takes more stack (1,372 bytes at the peak against 928 on
    /// qemu-microbit, conv MNIST at 10 steps), which its fits leave out.
    pub firmware_ram_bytes: usize,
}

impl BoardMemory {
    /// RAM a model with `state_bytes` of network state needs on this board, firmware included.
    pub fn ram_needed(&self, state_bytes: usize) -> usize {
        state_bytes.saturating_add(self.firmware_ram_bytes)
    }

    /// Whether a model with `state_bytes` of network state fits the board's RAM.
    pub fn fits(&self, state_bytes: usize) -> bool {
        self.ram_needed(state_bytes) <= self.ram_bytes
    }
}

impl Board {
    /// The memory of the board the costs were measured on.
    pub fn memory(self) -> BoardMemory {
        match self {
            Board::CortexM4 => BoardMemory {
                board: "qemu-mps2-an386",
                ram_bytes: 4 << 20,
                // ram_total 1,900 - 4 * 242 + stack_peak 804.
                firmware_ram_bytes: 1_848,
            },
            Board::CortexM0 => BoardMemory {
                board: "qemu-microbit",
                ram_bytes: 16 << 10,
                // ram_total 1,900 - 4 * 242 + stack_peak 920.
                firmware_ram_bytes: 1_948,
            },
        }
    }
}

/// Predicted cost of one inference.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CostPrediction {
    /// Timesteps predicted for.
    pub steps: u16,
    /// Instructions of the whole inference.
    pub instructions: f64,
    /// Of which: reset and static input drive (before the first step).
    pub static_part: f64,
    /// Of which: the steps (neuron updates and synaptic events).
    pub step_part: f64,
    /// Synaptic events predicted from the recorded activity.
    pub events: f64,
    /// Clock the latency is for (MHz).
    pub clock_mhz: f64,
    /// Latency at that clock in milliseconds, taking one instruction per cycle (what QEMU
    /// counts: instructions, not cycles of a real core, which adds wait states and multi-cycle
    /// loads).
    pub latency_ms: f64,
}

/// Predict one inference of `workload` at `steps` steps with `activity` on a board with `costs`,
/// at `clock_mhz` (the board's own clock if `None`).
pub fn predict(
    workload: &Workload,
    activity: &Activity,
    costs: &BoardCosts,
    steps: u16,
    clock_mhz: Option<f64>,
) -> CostPrediction {
    let steps_f = f64::from(steps);
    let conv = |layer: &LayerWork| layer.kind == "conv2d";
    let per_mac = match workload.layers.first() {
        Some(first) if conv(first) => costs.per_static_mac_conv,
        _ => costs.per_static_mac_dense,
    };
    let static_part = costs.per_state_word * workload.state_words as f64
        + per_mac * workload.static_macs as f64 * activity.input_density;
    let per_step: f64 = workload
        .layers
        .iter()
        .map(|layer| {
            let cost = if conv(layer) {
                costs.per_neuron_step_conv
            } else {
                costs.per_neuron_step_dense
            };
            cost * layer.neurons as f64
        })
        .sum();
    // A spike of layer l - 1 adds its weights to its fan-out in layer l.
    let events_into = |into_conv: bool| -> f64 {
        workload
            .layers
            .iter()
            .skip(1)
            .zip(&workload.layers)
            .zip(&activity.spikes_per_neuron_step)
            .filter(|((layer, _), _)| conv(layer) == into_conv)
            .map(|((layer, source), &rate)| rate * source.outputs as f64 * layer.fan_out)
            .sum::<f64>()
            * steps_f
    };
    let conv_events = events_into(true);
    let events = events_into(false) + conv_events;
    let step_part = per_step * steps_f + costs.per_event_conv * conv_events;
    let instructions = static_part + step_part;
    let clock_mhz = clock_mhz.unwrap_or(costs.clock_mhz);
    CostPrediction {
        steps,
        instructions,
        static_part,
        step_part,
        events,
        clock_mhz,
        latency_ms: instructions / (clock_mhz * 1000.0),
    }
}

#[cfg(test)]
mod tests {
    use picospike_runtime::synapse::Synapse;

    use super::*;
    use crate::quantize::quantize;
    use crate::reference::{FloatKind, FloatLayer, FloatNetwork};

    /// A `sizes[0]-sizes[1]-...` LIF network with a readout, small deterministic weights.
    pub(crate) fn dense_model(sizes: &[usize], steps: u16) -> Vec<u8> {
        let layers = sizes
            .windows(2)
            .enumerate()
            .map(|(i, pair)| FloatLayer {
                kind: FloatKind::Dense,
                inputs: pair[0],
                outputs: pair[1],
                weights: (0..pair[0] * pair[1])
                    .map(|k| ((k * 7 % 13) as f32 - 6.0) * 0.05)
                    .collect(),
                biases: vec![0.5; pair[1]],
                neuron: if i + 2 == sizes.len() {
                    Neuron::Readout
                } else {
                    Neuron::Lif {
                        tau_rc: 0.02,
                        tau_ref: 0.002,
                        min_voltage: 0.0,
                        amplitude: 0.01,
                    }
                },
                synapse: Synapse::None,
            })
            .collect();
        let network = FloatNetwork {
            dt: 0.001,
            input: picospike_runtime::format::InputEncoding::vector(sizes[0] as u16, 16, steps),
            layers,
        };
        quantize(&network).expect("the test network quantizes")
    }

    #[test]
    fn workload_of_a_dense_network() {
        let blob = dense_model(&[64, 100, 10], 20);
        let model: Model = Model::from_bytes(&blob).unwrap();
        let w = Workload::of(&model);
        assert_eq!((w.steps, w.neurons, w.static_macs), (20, 110, 6_400));
        assert_eq!(w.layers.len(), 2);
        assert_eq!(
            (w.layers[0].neuron, w.layers[0].fan_out, w.layers[0].inputs),
            ("lif", 100.0, 64)
        );
        assert_eq!(
            (
                w.layers[1].neuron,
                w.layers[1].fan_out,
                w.layers[1].dense_macs
            ),
            ("readout", 10.0, 1_000)
        );
    }

    #[test]
    fn workload_of_a_conv_network() {
        use picospike_runtime::format::InputEncoding;
        use picospike_runtime::layer::{Conv2d, Dense, Layer, Scaling, Shape};
        use picospike_runtime::ModelBuilder;
        let lif = Neuron::Lif {
            tau_rc: 0.02,
            tau_ref: 0.002,
            min_voltage: 0.0,
            amplitude: 0.001,
        };
        let conv_weights = vec![1u8; 25 * 8];
        let dense_weights = vec![1u8; 12 * 12 * 8 * 10];
        let scaling = |n: usize, m: &'static [u8], s: &'static [u8], b: &'static [u8]| Scaling {
            multipliers: &m[..2 * n],
            shifts: &s[..n],
            biases: &b[..4 * n],
        };
        static M: [u8; 20] = [0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1];
        static S: [u8; 10] = [8; 10];
        static B: [u8; 40] = [0; 40];
        let layers = [
            Layer::Conv2d(Conv2d {
                input: Shape::image(28, 28, 1),
                output: Shape::image(12, 12, 8),
                kernel_height: 5,
                kernel_width: 5,
                stride: 2,
                padding_top: 0,
                padding_left: 0,
                neuron: lif,
                synapse: Synapse::None,
                weights: &conv_weights,
                scaling: scaling(8, &M, &S, &B),
                activity: 6554,
            }),
            Layer::Dense(Dense {
                input: Shape::image(12, 12, 8),
                outputs: 10,
                neuron: Neuron::Readout,
                synapse: Synapse::None,
                weights: &dense_weights,
                scaling: scaling(10, &M, &S, &B),
                activity: 0,
            }),
        ];
        let mut input = InputEncoding::vector(784, 255, 20);
        input.shape = Shape::image(28, 28, 1);
        input.density = 13107;
        let blob = ModelBuilder {
            dt: 0.001,
            input,
            layers: &layers,
        }
        .to_vec()
        .unwrap();
        let model: Model = Model::from_bytes(&blob).unwrap();
        let w = Workload::of(&model);
        // 12 x 12 outputs x 25 taps x 8 channels, all inside the 28 x 28 image.
        assert_eq!(w.static_macs, 144 * 25 * 8);
        assert_eq!(
            (w.neurons, w.layers[0].kind, w.layers[0].outputs),
            (1_162, "conv2d", 1_152)
        );
        assert!((w.layers[0].fan_out - 28_800.0 / 784.0).abs() < 1e-9);
        assert_eq!(w.layers[1].fan_out, 10.0);
        // The recorded activity: density 0.2, conv layer 0.1 spikes per neuron per step.
        let a = Activity::recorded(&model).unwrap();
        assert!((a.input_density - 0.2).abs() < 1e-4);
        assert!((a.spikes_per_neuron_step[0] - 0.1).abs() < 1e-4);
        assert_eq!(a.spikes_per_neuron_step[1], 0.0);
        // A dense model exported without data records nothing.
        let plain = dense_model(&[4, 3, 2], 10);
        assert!(Activity::recorded(&Model::<8>::from_bytes(&plain).unwrap()).is_none());
    }

    #[test]
    fn activity_counts_spikes_and_non_zero_inputs() {
        let blob = dense_model(&[4, 3, 2], 10);
        let model: Model = Model::from_bytes(&blob).unwrap();
        let inputs: [&[u8]; 2] = [&[16, 16, 0, 0], &[16, 0, 0, 0]];
        let activity = Activity::measure(&model, &inputs, 10).unwrap();
        assert_eq!(activity.input_density, 3.0 / 8.0);
        assert_eq!(activity.spikes_per_neuron_step.len(), 2);
        // The same figure by hand: spikes of layer 0 over 2 runs x 10 steps x 3 neurons.
        let mut state = vec![0i32; model.state_words()];
        let mut net = Network::new(&model, &mut state).unwrap();
        let spikes: u32 = inputs
            .iter()
            .map(|i| net.run(i, 10).unwrap().spike_counts[0])
            .sum();
        assert_eq!(activity.spikes_per_neuron_step[0], f64::from(spikes) / 60.0);
        assert_eq!(activity.spikes_per_neuron_step[1], 0.0);
        assert!(Activity::measure(&model, &[], 10).is_err());
        assert!(Activity::measure(&model, &[&[1, 2]], 10).is_err());
    }

    #[test]
    fn recorded_activity_is_what_was_measured() {
        let blob = dense_model(&[4, 3, 2], 10);
        let inputs: [&[u8]; 2] = [&[16, 16, 0, 0], &[16, 0, 0, 0]];
        let recorded = record_activity(&blob, &inputs).unwrap();
        let model: Model = Model::from_bytes(&recorded).unwrap();
        let measured = Activity::measure(&model, &inputs, 10).unwrap();
        let read = Activity::recorded(&model).unwrap();
        assert!((read.input_density - 0.375).abs() < 1e-4);
        for (r, m) in read
            .spikes_per_neuron_step
            .iter()
            .zip(&measured.spikes_per_neuron_step)
        {
            assert!((r - m).abs() < 1e-4, "{r} vs {m}");
        }
        // Only the activity fields changed: the same outputs for the same input.
        let original: Model = Model::from_bytes(&blob).unwrap();
        let (mut a, mut b) = (vec![0; model.state_words()], vec![0; model.state_words()]);
        let mut x = Network::new(&original, &mut a).unwrap();
        let mut y = Network::new(&model, &mut b).unwrap();
        assert_eq!(
            x.run(inputs[0], 10).unwrap().outputs,
            y.run(inputs[0], 10).unwrap().outputs
        );
        assert!(matches!(
            record_activity(&blob, &[]),
            Err(ActivityError::NoInputs)
        ));
        assert!(matches!(
            record_activity(&blob[1..], &inputs),
            Err(ActivityError::Load(_))
        ));
    }

    #[test]
    fn prediction_adds_the_parts() {
        let blob = dense_model(&[64, 100, 10], 20);
        let model: Model = Model::from_bytes(&blob).unwrap();
        let workload = Workload::of(&model);
        let activity = Activity {
            input_density: 0.5,
            spikes_per_neuron_step: vec![0.1, 0.0],
        };
        let costs = BoardCosts {
            measured_on: "test",
            clock_mhz: 10.0,
            per_state_word: 3.0,
            per_static_mac_dense: 2.0,
            per_static_mac_conv: 50.0,
            per_neuron_step_dense: 10.0,
            per_neuron_step_conv: 70.0,
            per_event_conv: 5.0,
        };
        let p = predict(&workload, &activity, &costs, 20, None);
        // 0.1 spikes x 100 neurons x 10 targets x 20 steps.
        assert!((p.events - 2_000.0).abs() < 1e-9);
        let words = model.state_words() as f64;
        assert_eq!(p.static_part, 3.0 * words + 2.0 * 3_200.0);
        assert_eq!(p.step_part, 10.0 * 110.0 * 20.0);
        assert_eq!(p.instructions, p.static_part + p.step_part);
        assert!((p.latency_ms - p.instructions / 10_000.0).abs() < 1e-12);
        assert_eq!(
            predict(&workload, &activity, &costs, 20, Some(20.0)).clock_mhz,
            20.0
        );
    }
}
