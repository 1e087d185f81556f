//! The "rate float" stage: rate-mode predictions, accuracy and firing rates of a float network.
//!
//! The network is the float reference's [`FloatNetwork`], which training produces and the
//! quantizer and the float spiking simulator read. Semantics: the
//! input of layer 0 is `raw / full_scale`; each layer computes the current
//! `J_i = sum_j x_j W[j][i] + b_i` with the Nengo gain and bias already folded into `W` and `b`;
//! hidden layers emit `amplitude * rate_hz(J)` in rate mode and spikes of height `amplitude / dt`
//! in spiking mode; the `Readout` layer outputs its current and the predicted class is its argmax.

use rayon::prelude::*;

use picospike_runtime::neuron::Neuron;

use crate::reference::{argmax, FloatNetwork};

/// Steady-state LIF rate in Hz (without amplitude) for current `j`: 0 for `j <= 1`.
pub fn lif_rate(j: f32, tau_rc: f32, tau_ref: f32) -> f32 {
    crate::reference::lif_rate(f64::from(j), f64::from(tau_rc), f64::from(tau_ref), 1.0) as f32
}

/// The ceiling firing rate of a neuron model in Hz (LIF: `1/tau_ref`; ReLU: one spike a step).
pub fn rate_ceiling(neuron: &Neuron, dt: f32) -> f64 {
    match *neuron {
        Neuron::Lif { tau_ref, .. } if tau_ref > 0.0 => f64::from(1.0 / tau_ref.max(dt)),
        _ => f64::from(1.0 / dt),
    }
}

/// Rate-mode predicted class (argmax of the readout; the lowest index on ties).
pub fn rate_predict(net: &FloatNetwork, raw: &[u8]) -> usize {
    argmax(&net.rate_outputs(raw))
}

/// Rate-mode accuracy on raw inputs and labels, in 0..=1 (0 for an empty set); uses all cores.
pub fn rate_accuracy(net: &FloatNetwork, images: &[Vec<u8>], labels: &[u8]) -> f64 {
    if labels.is_empty() {
        return 0.0;
    }
    let correct = images
        .par_iter()
        .zip(labels)
        .filter(|(x, &l)| rate_predict(net, x) == usize::from(l))
        .count();
    correct as f64 / labels.len() as f64
}

/// Mean rate-mode firing rate in Hz of each hidden layer over the given inputs; uses all cores.
///
/// A pool has no neurons of its own: its entry is the mean rate of the spikes it passes on (its
/// input's rate averaged over its windows). Per-input means are computed in parallel and summed in input order, so the result does not
/// depend on the number of threads.
pub fn mean_rates_hz(net: &FloatNetwork, images: &[Vec<u8>]) -> Vec<f64> {
    let hidden = net.layers.len().saturating_sub(1);
    // The amplitude that turns each layer's output back into a rate: a pool's is its input's.
    let mut amplitudes = Vec::with_capacity(hidden);
    for (i, layer) in net.layers.iter().take(hidden).enumerate() {
        let a = match (layer.kind.has_neurons(), i.checked_sub(1)) {
            (false, Some(p)) => amplitudes[p],
            _ => f64::from(layer.neuron.amplitude()),
        };
        amplitudes.push(a);
    }
    let per_input: Vec<Vec<f64>> = images
        .par_iter()
        .map(|x| {
            net.rate_activities(x)
                .iter()
                .take(hidden)
                .zip(&amplitudes)
                .map(|(out, &amplitude)| {
                    out.iter().map(|r| r / amplitude).sum::<f64>() / out.len().max(1) as f64
                })
                .collect()
        })
        .collect();
    let mut sums = vec![0f64; hidden];
    for means in &per_input {
        for (sum, mean) in sums.iter_mut().zip(means) {
            *sum += mean;
        }
    }
    sums.iter()
        .map(|s| s / images.len().max(1) as f64)
        .collect()
}

#[cfg(test)]
mod tests {
    use picospike_runtime::format::InputEncoding;
    use picospike_runtime::synapse::Synapse;

    use super::*;
    use crate::reference::{FloatKind, FloatLayer};

    #[test]
    fn lif_rate_matches_nengo_max_rate() {
        // Nengo gain/bias for max_rate 100 Hz, intercept 0: the rate at x = 1 must be 100 Hz.
        let (tau_rc, tau_ref, max_rate) = (0.02f32, 0.002f32, 100f32);
        let z = 1.0 / (1.0 - ((tau_ref - 1.0 / max_rate) / tau_rc).exp());
        let gain = z - 1.0;
        assert!((lif_rate(gain + 1.0, tau_rc, tau_ref) - 100.0).abs() < 1e-3);
        assert_eq!(lif_rate(1.0, tau_rc, tau_ref), 0.0);
        assert_eq!(lif_rate(-3.0, tau_rc, tau_ref), 0.0);
        // Saturates at 1 / tau_ref.
        assert!((lif_rate(1e9, tau_rc, tau_ref) - 500.0).abs() < 0.1);
    }

    #[test]
    fn rate_forward_follows_layer_semantics() {
        let net = FloatNetwork {
            dt: 0.001,
            input: InputEncoding::vector(2, 10, 10),
            layers: vec![
                FloatLayer {
                    kind: FloatKind::Dense,
                    inputs: 2,
                    outputs: 2,
                    weights: vec![1.0, -1.0, 2.0, 0.5],
                    biases: vec![0.5, 0.0],
                    neuron: Neuron::SpikingRectifiedLinear { amplitude: 0.5 },
                    synapse: Synapse::None,
                },
                FloatLayer {
                    kind: FloatKind::Dense,
                    inputs: 2,
                    outputs: 2,
                    weights: vec![1.0, 0.0, 0.0, 1.0],
                    biases: vec![0.0, 0.1],
                    neuron: Neuron::Readout,
                    synapse: Synapse::Lowpass { tau: 0.005 },
                },
            ],
        };
        // x = [0.5, 1.0]: J = [0.5 + 2 + 0.5, -0.5 + 0.5] = [3, 0]; out = 0.5 * relu = [1.5, 0].
        let layers = net.rate_activities(&[5, 10]);
        assert_eq!(layers[0], vec![1.5, 0.0]);
        assert!((layers[1][0] - 1.5).abs() < 1e-12 && (layers[1][1] - 0.1).abs() < 1e-7);
        assert_eq!(rate_predict(&net, &[5, 10]), 0);
        // Rates in Hz are the outputs over the amplitude: [3, 0] Hz, mean 1.5 Hz.
        assert_eq!(mean_rates_hz(&net, &[vec![5, 10]]), vec![1.5]);
        // x = 0: J = [0.5, 0], out [0.25, 0], readout [0.25, 0.1] -> class 0, so label 1 is wrong.
        assert_eq!(
            rate_accuracy(&net, &[vec![5, 10], vec![0, 0]], &[0, 1]),
            0.5
        );
    }

    #[test]
    fn argmax_first_on_ties() {
        assert_eq!(argmax(&[1.0, 3.0, 3.0]), 1);
        assert_eq!(argmax(&[]), 0);
    }
}
