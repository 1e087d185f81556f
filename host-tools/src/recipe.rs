//! The NengoDL conversion recipe: swap rate neurons for spiking ones, add synapses, scale firing
//! rates, and check accuracy and rates at every stage.

use serde::Serialize;

use picospike_runtime::neuron::Neuron;
use picospike_runtime::synapse::Synapse;

use crate::data::Dataset;
use crate::evaluate::{self, SpikingEvaluation};
use crate::quantized::{self, ExportError, ModelSizes};
use crate::reference::FloatNetwork;

/// How to turn a trained rate network into the spiking network that is exported.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct ConvertOptions {
    /// Lowpass time constant (s) on the connections between spiking layers; `None` for none.
    pub synapse_tau: Option<f32>,
    /// Lowpass time constant (s) on the readout's input; `None` for none.
    pub output_synapse_tau: Option<f32>,
    /// NengoDL `scale_firing_rates`: multiply each spiking layer's input by `k`, its amplitude by
    /// `1/k` (exact for ReLU, approximate for LIF).
    pub scale_firing_rates: f32,
    /// Steps per inference.
    pub timesteps: u16,
}

impl Default for ConvertOptions {
    fn default() -> Self {
        ConvertOptions {
            synapse_tau: Some(0.005),
            output_synapse_tau: Some(0.005),
            scale_firing_rates: 1.0,
            timesteps: 30,
        }
    }
}

fn lowpass(tau: Option<f32>) -> Synapse {
    match tau {
        Some(tau) if tau > 0.0 => Synapse::Lowpass { tau },
        _ => Synapse::None,
    }
}

/// Multiply every spiking layer's weights and biases by `k` and divide its amplitude by `k`.
///
/// For rectified-linear neurons this leaves the rate network's function unchanged while every
/// rate grows `k` times, which is what spiking neurons need to carry information in a short
/// window; for LIF neurons the response curve is not linear, so it is an approximation.
pub fn scale_firing_rates(network: &FloatNetwork, k: f32) -> FloatNetwork {
    let mut scaled = network.clone();
    for layer in &mut scaled.layers {
        let amplitude = match &mut layer.neuron {
            Neuron::Lif { amplitude, .. } | Neuron::SpikingRectifiedLinear { amplitude } => {
                amplitude
            }
            Neuron::Readout => continue,
        };
        *amplitude /= k;
        layer.weights.iter_mut().for_each(|w| *w *= k);
        layer.biases.iter_mut().for_each(|b| *b *= k);
    }
    scaled
}

/// The spiking network to export: synapses set, firing rates scaled, steps recorded.
pub fn to_spiking(network: &FloatNetwork, options: &ConvertOptions) -> FloatNetwork {
    let mut spiking = if options.scale_firing_rates == 1.0 {
        network.clone()
    } else {
        scale_firing_rates(network, options.scale_firing_rates)
    };
    let last = spiking.layers.len().saturating_sub(1);
    for (index, layer) in spiking.layers.iter_mut().enumerate() {
        if !layer.kind.has_neurons() {
            // A pool is linear and unfiltered; the layer after it filters the pooled spikes.
            continue;
        }
        // The first layer's input is the static image, which needs no smoothing.
        layer.synapse = match index {
            0 => Synapse::None,
            i if i == last => lowpass(options.output_synapse_tau),
            _ => lowpass(options.synapse_tau),
        };
    }
    spiking.input.timesteps = options.timesteps;
    spiking
}

/// Every figure of one conversion, stage by stage.
#[derive(Clone, Debug, Serialize)]
pub struct StageReport {
    /// Accuracy of the rate network in float (0..=1).
    pub rate_float: f64,
    /// Mean rate-mode firing rate of each hidden layer (Hz).
    pub rate_float_rates_hz: Vec<f64>,
    /// The spiking network in the float reference simulator.
    pub spiking_float: SpikingEvaluation,
    /// The quantized model in the fixed-point runtime.
    pub spiking_fixed: SpikingEvaluation,
    /// Flash and RAM of the exported model.
    pub sizes: ModelSizes,
    /// Firing-rate problems, in words a user can act on.
    pub warnings: Vec<String>,
}

/// Convert `network`, quantize it and measure every stage on `test`.
///
/// Returns the spiking float network, the model blob and the report.
///
/// # Errors
/// [`ExportError`] if the network does not quantize.
pub fn convert_and_check(
    network: &FloatNetwork,
    test: &Dataset,
    options: &ConvertOptions,
    progress: bool,
) -> Result<(FloatNetwork, Vec<u8>, StageReport), ExportError> {
    let spiking = to_spiking(network, options);
    let (blob, sizes) = quantized::build_blob(&spiking)?;
    let steps = options.timesteps;
    let rate_float = crate::rate_float::rate_accuracy(network, &test.images, &test.labels);
    let rate_float_rates_hz = crate::rate_float::mean_rates_hz(network, &test.images);
    let spiking_float = evaluate::float_spiking(&spiking, test, usize::from(steps), progress);
    let spiking_fixed =
        evaluate::fixed_spiking(&blob, test, steps, progress).map_err(|source| {
            ExportError::Invalid {
                path: "<quantized model>".into(),
                source,
            }
        })?;
    let warnings = evaluate::rate_warnings(&spiking_fixed, &spiking);
    Ok((
        spiking,
        blob,
        StageReport {
            rate_float,
            rate_float_rates_hz,
            spiking_float,
            spiking_fixed,
            sizes,
            warnings,
        },
    ))
}
