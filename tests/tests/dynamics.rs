//! Closed-form checks of neuron dynamics through whole networks, in both executors: the float
//! reference (Nengo semantics) and the fixed-point runtime.

use picospike_host::quantize::quantize;
use picospike_host::reference::{lif_rate, FloatKind, FloatLayer, FloatNetwork};
use picospike_runtime::format::InputEncoding;
use picospike_runtime::neuron::Neuron;
use picospike_runtime::synapse::Synapse;
use picospike_runtime::{Model, Network};

const DT: f32 = 0.001;

/// One neuron driven by a constant current `j` (its bias), read out by a unit readout.
fn single_neuron(neuron: Neuron, j: f32) -> FloatNetwork {
    FloatNetwork {
        dt: DT,
        input: InputEncoding::vector(1, 1, 0),
        layers: vec![
            FloatLayer {
                kind: FloatKind::Dense,
                inputs: 1,
                outputs: 1,
                weights: vec![0.0],
                biases: vec![j],
                neuron,
                synapse: Synapse::None,
            },
            FloatLayer {
                kind: FloatKind::Dense,
                inputs: 1,
                outputs: 1,
                weights: vec![1.0],
                biases: vec![0.0],
                neuron: Neuron::Readout,
                synapse: Synapse::None,
            },
        ],
    }
}

/// Spikes of the single neuron over `steps` steps: (float reference, fixed point).
fn both_counts(network: &FloatNetwork, steps: u16) -> (f64, f64) {
    let reference = network.simulate(&[0], usize::from(steps)).spike_counts[0] as f64;
    let blob = quantize(network).unwrap();
    let model: Model = Model::from_bytes(&blob).unwrap();
    let mut state = vec![0i32; model.state_words()];
    let mut net = Network::new(&model, &mut state).unwrap();
    let fixed = f64::from(net.run(&[0], steps).unwrap().spike_counts[0]);
    (reference, fixed)
}

fn lif(tau_rc: f32, tau_ref: f32) -> Neuron {
    Neuron::Lif {
        tau_rc,
        tau_ref,
        min_voltage: 0.0,
        amplitude: 1.0,
    }
}

#[test]
fn lif_rates_match_the_lifrate_curve_in_both_executors() {
    let seconds = 10.0;
    let steps = (seconds / f64::from(DT)) as u16;
    let (mut worst_reference, mut worst_fixed, mut worst_pair) = (0.0f64, 0.0f64, 0.0f64);
    let mut checked = 0;
    for &(tau_rc, tau_ref) in &[(0.02, 0.002), (0.02, 0.001), (0.05, 0.001), (0.01, 0.0015)] {
        for i in 0..=30 {
            let j = 1.05 + (10.0 - 1.05) * f64::from(i) / 30.0;
            let rate = lif_rate(j, f64::from(tau_rc), f64::from(tau_ref), 1.0);
            if rate > 400.0 {
                continue;
            }
            let expected = rate * seconds;
            let (reference, fixed) =
                both_counts(&single_neuron(lif(tau_rc, tau_ref), j as f32), steps);
            let (e_ref, e_fix) = ((reference - expected).abs(), (fixed - expected).abs());
            assert!(
                e_ref <= 0.005 * expected || e_ref <= 1.0,
                "reference: J={j} tau_rc={tau_rc} tau_ref={tau_ref}: {reference} vs {expected}"
            );
            assert!(
                e_fix <= 0.001 * expected || e_fix <= 1.0,
                "fixed: J={j} tau_rc={tau_rc} tau_ref={tau_ref}: {fixed} vs {expected}"
            );
            // The fixed-point dynamics follow Nengo's exact LIF: the same count as the float
            // reference, up to a spike flipped where the exact count is near an integer.
            let e_pair = (fixed - reference).abs();
            assert!(
                e_pair <= 0.001 * reference || e_pair <= 1.0,
                "fixed vs reference: J={j} tau_rc={tau_rc} tau_ref={tau_ref}: {fixed} vs {reference}"
            );
            worst_pair = worst_pair.max(e_pair);
            worst_reference = worst_reference.max(e_ref / expected);
            worst_fixed = worst_fixed.max(e_fix / expected);
            checked += 1;
        }
    }
    assert!(checked > 80);
    println!(
        "LIF rate error over {checked} (J, tau) points, 10 s windows: reference {:.3}%, fixed point {:.3}%; fixed vs reference at most {worst_pair} spikes",
        worst_reference * 100.0,
        worst_fixed * 100.0
    );
}

#[test]
fn spiking_relu_rates_are_the_rectified_current() {
    let steps = 10_000u16;
    for &j in &[-5.0f32, 0.0, 1.5, 10.0, 55.5, 100.0, 250.0, 400.0, 2000.0] {
        let expected = f64::from(j.max(0.0)) * 10.0;
        let neuron = Neuron::SpikingRectifiedLinear { amplitude: 0.01 };
        let (reference, fixed) = both_counts(&single_neuron(neuron, j), steps);
        assert!(
            (reference - expected).abs() <= 1.0,
            "reference J={j}: {reference} vs {expected}"
        );
        assert!(
            (fixed - expected).abs() <= (0.02 * expected).max(1.0),
            "fixed J={j}: {fixed} vs {expected}"
        );
    }
}

#[test]
fn lif_below_threshold_is_silent_in_both_executors() {
    for &j in &[-10.0f32, 0.0, 0.5, 1.0] {
        assert_eq!(
            both_counts(&single_neuron(lif(0.02, 0.002), j), 5000),
            (0.0, 0.0)
        );
    }
}

#[test]
fn readout_lowpass_approaches_its_input_exponentially() {
    // A readout of a constant current 2.0 through Lowpass(10 ms): y(n) = 2 (1 - a^n).
    let mut network = single_neuron(Neuron::Readout, 2.0);
    network.layers.truncate(1);
    network.layers[0].synapse = Synapse::Lowpass { tau: 0.01 };
    network.layers[0].biases = vec![0.0];
    network.layers[0].weights = vec![2.0];
    let blob = quantize(&network).unwrap();
    let model: Model = Model::from_bytes(&blob).unwrap();
    let mut state = vec![0i32; model.state_words()];
    let mut net = Network::new(&model, &mut state).unwrap();
    let a = (-0.1f64).exp();
    for steps in [1u16, 5, 20, 100] {
        let out = f64::from(net.run(&[1], steps).unwrap().outputs[0]) / 65536.0;
        let expected = 2.0 * (1.0 - a.powi(i32::from(steps)));
        assert!(
            (out - expected).abs() < 1e-3,
            "{steps} steps: {out} vs {expected}"
        );
        let reference = network.simulate(&[1], usize::from(steps)).outputs[0];
        assert!(
            (reference - expected).abs() < 1e-6,
            "reference {reference} vs {expected}"
        );
    }
}
