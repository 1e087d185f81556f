//! Differential target: valid networks built from the fuzz input, run three ways that must agree.
//!
//! The input is read as a recipe (`Recipe::read`): the input shape, two to five layers (dense,
//! convolution, average pool; LIF or spiking-ReLU neurons with their time constants and
//! amplitude; with or without a lowpass synapse), their weights and biases, the step count and the
//! input bytes. Whatever the quantizer accepts is loaded and run, and checked:
//!
//! 1. **Kernel sets agree bit for bit.** The portable kernels (Cortex-M0) and the DSP kernels with
//!    the twins of their instructions (Cortex-M4) give the same events in every layer at every
//!    step and the same outputs, and so does the build's own set (`Network::run`).
//! 2. **The execution orders agree bit for bit.** `LayeredNetwork` (each layer over the whole
//!    window) gives `Network::run`'s prediction, and with a raster at every boundary the same
//!    spikes of every layer at every step.
//! 3. **The first layer stays within SEMANTICS.md's bound of the float reference.** The float
//!    reference runs the dequantized network (the weights the runtime holds), so only the
//!    fixed-point arithmetic differs: each neuron of the first layer spikes within one spike of
//!    the reference's count, unless its current lies within 1% of the LIF threshold (where the
//!    rounding of the current decides whether it ever fires), where SEMANTICS.md states the
//!    bound (`first_layer_bound_applies`). Later layers see spike trains
//!    whose timing differs by those roundings, which compounds; their agreement is a statistical
//!    one, tested on designed networks in `tests/tests/reference_vs_fixed.rs`.
#![no_main]

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use picospike_host::quantize::{dequantized, quantize};
use picospike_host::reference::{FloatKind, FloatLayer, FloatNetwork};
use picospike_runtime::format::InputEncoding;
use picospike_runtime::layer::Shape;
use picospike_runtime::neuron::Neuron;
use picospike_runtime::synapse::Synapse;
use picospike_runtime::{KernelSet, LayeredNetwork, Model, Network};

/// Largest weight count of a recipe: keeps an execution short.
const MAX_WEIGHTS: usize = 4096;

struct Recipe {
    network: FloatNetwork,
    input: Vec<u8>,
    steps: u16,
}

/// A value in `[-1, 1]` from one byte.
fn signed_unit(u: &mut Unstructured<'_>) -> Result<f64> {
    Ok(f64::from(u.arbitrary::<i8>()?) / 127.0)
}

fn neuron(u: &mut Unstructured<'_>, dt: f64) -> Result<Neuron> {
    let amplitude = *u.choose(&[1.0f32, 0.1, 0.01, 0.001])?;
    Ok(if u.ratio(1, 4)? {
        Neuron::SpikingRectifiedLinear { amplitude }
    } else {
        // Time constants from a fraction of a step to 100 steps, refractory periods from none
        // to 8 steps, on and off the step grid.
        let tau_rc = (dt * f64::from(u.int_in_range(1u8..=200)?) / 2.0) as f32;
        let tau_ref = (dt * f64::from(u.int_in_range(0u8..=32)?) / 4.0) as f32;
        Neuron::Lif {
            tau_rc,
            tau_ref,
            min_voltage: 0.0,
            amplitude,
        }
    })
}

fn synapse(u: &mut Unstructured<'_>, dt: f64) -> Result<Synapse> {
    Ok(if u.ratio(1, 3)? {
        Synapse::Lowpass {
            tau: (dt * f64::from(u.int_in_range(1u8..=40)?)) as f32,
        }
    } else {
        Synapse::None
    })
}

/// Weights with a fan-in-aware scale, so that currents land around the threshold (LIF) or a
/// few hundred hertz (spiking ReLU) instead of far beyond it.
fn weights_and_biases(
    u: &mut Unstructured<'_>,
    count: usize,
    biases: usize,
    fan_in: usize,
    neuron: Neuron,
    input_value: f64,
) -> Result<(Vec<f32>, Vec<f32>)> {
    let gain = match neuron {
        Neuron::SpikingRectifiedLinear { .. } => 300.0,
        _ => 3.0,
    } * f64::from(u.int_in_range(1u8..=8)?)
        / 4.0;
    let scale = gain / (fan_in.max(1) as f64 * input_value.max(1e-3)).sqrt();
    let mut weights = Vec::with_capacity(count);
    for _ in 0..count {
        weights.push((signed_unit(u)? * scale) as f32);
    }
    let mut bias = Vec::with_capacity(biases);
    for _ in 0..biases {
        bias.push((signed_unit(u)? * gain) as f32);
    }
    Ok((weights, bias))
}

impl Recipe {
    fn read(u: &mut Unstructured<'_>) -> Result<Recipe> {
        let dt = *u.choose(&[0.001f32, 0.0005, 0.002])?;
        let dtf = f64::from(dt);
        let full_scale = *u.choose(&[255u16, 16, 1])?;
        let image = u.ratio(1, 2)?;
        let input_shape = if image {
            Shape::image(
                u.int_in_range(1..=8)?,
                u.int_in_range(1..=8)?,
                u.int_in_range(1..=3)?,
            )
        } else {
            Shape::vector(u.int_in_range(1..=32)?)
        };
        let hidden = u.int_in_range(1usize..=4)?;
        let mut layers = Vec::new();
        let mut fed = input_shape;
        // A typical magnitude of the layer's input values, for the weight scale.
        let mut input_value = 0.5f64;
        let mut weights = 0usize;
        for index in 0..=hidden {
            let last = index == hidden;
            let choice = if last { 0 } else { u.int_in_range(0u8..=2)? };
            let layer = match choice {
                // Pooling needs an image at least 2 wide and is never the first layer (the
                // first layer's bound is checked on neurons).
                2 if index > 0 && !fed.is_vector() && fed.height >= 2 && fed.width >= 2 => {
                    let size = 2;
                    let output = FloatKind::pool_output(fed, size);
                    FloatLayer {
                        kind: FloatKind::AvgPool { input: fed, size },
                        inputs: fed.len(),
                        outputs: output.len(),
                        weights: Vec::new(),
                        biases: Vec::new(),
                        neuron: Neuron::Readout,
                        synapse: Synapse::None,
                    }
                }
                1 if !fed.is_vector() => {
                    let kernel_height = u.int_in_range(1..=3u8.min(fed.height as u8))?;
                    let kernel_width = u.int_in_range(1..=3u8.min(fed.width as u8))?;
                    let stride = u.int_in_range(1..=2)?;
                    let padding_top = u.int_in_range(0..=kernel_height - 1)?;
                    let padding_left = u.int_in_range(0..=kernel_width - 1)?;
                    let filters = u.int_in_range(1..=6)?;
                    // Bottom and right padding as top and left ("same"-like).
                    let out = |side: u16, k: u8, pad: u8| {
                        (side + 2 * u16::from(pad) - u16::from(k)) / u16::from(stride) + 1
                    };
                    let output = Shape::image(
                        out(fed.height, kernel_height, padding_top),
                        out(fed.width, kernel_width, padding_left),
                        filters,
                    );
                    let neuron = neuron(u, dtf)?;
                    let fan_in =
                        usize::from(fed.channels) * usize::from(kernel_height * kernel_width);
                    let count = fan_in * usize::from(filters);
                    let (w, b) = weights_and_biases(
                        u,
                        count,
                        usize::from(filters),
                        fan_in,
                        neuron,
                        input_value,
                    )?;
                    FloatLayer {
                        kind: FloatKind::Conv2d {
                            input: fed,
                            output,
                            kernel_height,
                            kernel_width,
                            stride,
                            padding_top,
                            padding_left,
                        },
                        inputs: fed.len(),
                        outputs: output.len(),
                        weights: w,
                        biases: b,
                        neuron,
                        synapse: if index == 0 {
                            Synapse::None
                        } else {
                            synapse(u, dtf)?
                        },
                    }
                }
                _ => {
                    let outputs = if last {
                        u.int_in_range(1..=10)?
                    } else {
                        u.int_in_range(1..=24)?
                    };
                    let neuron = if last {
                        Neuron::Readout
                    } else {
                        neuron(u, dtf)?
                    };
                    let (w, b) = weights_and_biases(
                        u,
                        fed.len() * outputs,
                        outputs,
                        fed.len(),
                        neuron,
                        input_value,
                    )?;
                    FloatLayer {
                        kind: FloatKind::Dense,
                        inputs: fed.len(),
                        outputs,
                        weights: w,
                        biases: b,
                        neuron,
                        synapse: synapse(u, dtf)?,
                    }
                }
            };
            weights += layer.weights.len();
            if weights > MAX_WEIGHTS {
                return Err(libfuzzer_sys::arbitrary::Error::IncorrectFormat);
            }
            fed = match layer.kind {
                FloatKind::Dense => Shape::vector(layer.outputs as u16),
                FloatKind::Conv2d { output, .. } => output,
                FloatKind::AvgPool { input, size } => FloatKind::pool_output(input, size),
            };
            // Spike trains of ~100 Hz carry about `amplitude * 100` per unit of amplitude / dt.
            input_value = match layer.neuron {
                Neuron::Lif { amplitude, .. } | Neuron::SpikingRectifiedLinear { amplitude } => {
                    f64::from(amplitude) * 100.0
                }
                Neuron::Readout => input_value,
            };
            layers.push(layer);
        }
        let steps = u.int_in_range(1..=48)?;
        let mut input = vec![0u8; input_shape.len()];
        for x in &mut input {
            *x = (u.arbitrary::<u8>()? as u16 % (full_scale + 1)) as u8;
        }
        Ok(Recipe {
            network: FloatNetwork {
                dt,
                input: InputEncoding {
                    shape: input_shape,
                    full_scale,
                    timesteps: steps,
                    density: 0,
                },
                layers,
            },
            input,
            steps,
        })
    }
}

/// Whether SEMANTICS.md's one-spike bound covers a first layer: always for spiking ReLU; for
/// LIF when `tau_rc` is at least 1.44 steps (below, the update falls back to linear
/// interpolation) and the refractory period is a whole number of steps (the partial step is
/// then the spike's exact `q`) or at least one step on spike clocks (no synapse). Otherwise the
/// stepped dynamics repeat one phase every period and a crossing within the timing error of a
/// step's end flips every period (`a_sub_step_refractory_period_can_lock_a_rounding_into_the_count`).
fn first_layer_bound_applies(layer: &FloatLayer, dt: f32) -> bool {
    let Neuron::Lif {
        tau_rc, tau_ref, ..
    } = layer.neuron
    else {
        return true;
    };
    // The refractory period as the runtime holds it, in Q16.16 steps.
    let refractory = (f64::from(tau_ref) / f64::from(dt) * 65536.0).round() as u64;
    let whole_steps = refractory >= 65536 && refractory.is_multiple_of(65536);
    let clocked = refractory >= 65536 && layer.synapse == Synapse::None;
    f64::from(tau_rc) >= f64::from(dt) / std::f64::consts::LN_2 && (whole_steps || clocked)
}

/// One layer's events of one step: (neuron, count).
type LayerEvents = Vec<(usize, u32)>;

/// Per step, every layer's events (index, count) and the outputs, with kernel set `kernels`.
fn trace(
    model: &Model<'_>,
    input: &[u8],
    steps: u16,
    kernels: KernelSet,
) -> (Vec<Vec<LayerEvents>>, Vec<i32>) {
    let mut state = vec![0i32; model.state_words()];
    let mut network = Network::new(model, &mut state).expect("a buffer of state_words words");
    network.reset();
    network
        .set_input_on(input, kernels)
        .expect("an input of the model's size");
    let mut steps_events = Vec::with_capacity(usize::from(steps));
    for _ in 0..steps {
        network.step_on(kernels);
        let layers = (0..network.layer_count())
            .map(|l| {
                let mut events: Vec<(usize, u32)> = network
                    .layer_spikes(l)
                    .into_iter()
                    .flatten()
                    .map(|s| (s.index, s.count))
                    .collect();
                // A clocked first layer gives its events in its timing wheel's order, which
                // does not depend on the kernels; sort anyway so that a difference names neurons.
                events.sort_unstable();
                events
            })
            .collect();
        steps_events.push(layers);
    }
    (steps_events, network.outputs().to_vec())
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(Recipe {
        network,
        input,
        steps,
    }) = Recipe::read(&mut u)
    else {
        return;
    };
    let Ok(blob) = quantize(&network) else {
        return;
    };
    let model: Model = Model::from_bytes(&blob).expect("the quantizer's blob loads");

    // 1. Kernel sets.
    let (portable, portable_out) = trace(&model, &input, steps, KernelSet::Portable);
    let (dsp, dsp_out) = trace(&model, &input, steps, KernelSet::DspTwins);
    assert_eq!(portable, dsp, "events: portable vs DSP kernels");
    assert_eq!(portable_out, dsp_out, "outputs: portable vs DSP kernels");
    let mut state = vec![0i32; model.state_words()];
    let mut own = Network::new(&model, &mut state).expect("a buffer of state_words words");
    let prediction = own
        .run(&input, steps)
        .expect("an input of the model's size");
    assert_eq!(
        prediction.outputs,
        &portable_out[..],
        "outputs: Network::run"
    );

    // 2. The execution orders: layer by layer gives the step order's prediction, and (with a
    // raster at every boundary) its spikes of every layer at every step.
    let expected = prediction.clone();
    let mut layered_state = vec![0i32; LayeredNetwork::state_words(&model, steps)];
    let mut layered = LayeredNetwork::new(&model, &mut layered_state, steps)
        .expect("a buffer of state_words words");
    assert_eq!(
        layered
            .run(&input, steps)
            .expect("an input of the model's size"),
        expected,
        "prediction: layer by layer vs step by step"
    );
    let words = LayeredNetwork::state_words_with_rasters(&model, steps);
    let mut raster_state = vec![0i32; words];
    let mut rasters = LayeredNetwork::with_rasters(&model, &mut raster_state, steps)
        .expect("a buffer of state_words_with_rasters words");
    rasters
        .run(&input, steps)
        .expect("an input of the model's size");
    for (step, layers) in portable.iter().enumerate() {
        for (layer, events) in layers.iter().enumerate().take(layers.len() - 1) {
            let mut counts: Vec<(usize, u32)> = (0..model.layers()[layer].outputs())
                .filter_map(|value| {
                    let count = rasters.count(layer, value, step as u16).expect("in range");
                    (count != 0).then_some((value, count))
                })
                .collect();
            counts.sort_unstable();
            assert_eq!(
                &counts, events,
                "layer {layer} step {step}: layer by layer vs step by step"
            );
        }
    }

    // 3. The first layer against the float reference on the weights the runtime holds.
    let reference = dequantized(&network).expect("quantized once already");
    let first = &reference.layers[0];
    let currents = reference.first_currents(&input);
    let float = reference.simulate(&input, usize::from(steps));
    if !first_layer_bound_applies(first, network.dt) {
        return;
    }
    let mut counts = vec![0u32; first.outputs];
    for step in &portable {
        for &(index, count) in &step[0] {
            counts[index] += count;
        }
    }
    for (neuron, (&fixed, &exact)) in counts.iter().zip(&float.neuron_spikes[0]).enumerate() {
        let j = currents[neuron];
        if (j - 1.0).abs() < 0.01 && matches!(first.neuron, Neuron::Lif { .. }) {
            continue;
        }
        assert!(
            fixed.abs_diff(exact) <= 1,
            "first layer, neuron {neuron} (current {j}): {fixed} spikes in fixed point, {exact} in \
             the float reference ({:?}, {:?}, dt {}, {steps} steps)",
            first.neuron,
            first.synapse,
            network.dt,
        );
    }
});
