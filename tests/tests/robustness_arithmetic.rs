//! Extreme values through the fixed-point runtime: saturation, never wraparound.
//!
//! Models are written with [`ModelBuilder`] and [`Dense`] directly (no quantizer), with `i8`
//! weights at -128/127, multipliers and biases at the `i32` extremes, inputs at 255, maximal
//! fan-in, and time constants at the limits of what the loader accepts. The expected values are
//! computed exactly in `i128`; the state buffer is inspected after a run (its layout is the
//! layer's `StatePlan`: constants, sums, filter, voltage, refractory, events, outputs).
//!
//! These run in the test profile, so every `+`, `-` and `*` of the runtime that is not written
//! as saturating or wrapping is overflow-checked: an overflow panics here.

use std::sync::OnceLock;

use picospike_host::reference::lif_rate;
use picospike_runtime::fixed_point::ONE;
use picospike_runtime::format::InputEncoding;
use picospike_runtime::layer::{Dense, Layer, Scaling, Shape};
use picospike_runtime::neuron::Neuron;
use picospike_runtime::synapse::Synapse;
use picospike_runtime::{EncodeError, LoadError, Model, ModelBuilder, Network};
use proptest::prelude::*;

const DT: f32 = 0.001;

/// One dense layer with owned parameters.
#[derive(Clone, Debug)]
struct Spec {
    inputs: u16,
    outputs: u16,
    neuron: Neuron,
    synapse: Synapse,
    shift: i8,
    /// Row-major by input: input `j`'s fan-out is `weights[j * outputs..][..outputs]`.
    weights: Vec<i8>,
    multipliers: Vec<u16>,
    biases: Vec<i32>,
}

impl Spec {
    /// Every weight `weight`, every multiplier `multiplier`, every bias `bias`.
    #[allow(clippy::too_many_arguments)]
    fn uniform(
        inputs: u16,
        outputs: u16,
        neuron: Neuron,
        synapse: Synapse,
        shift: i8,
        weight: i8,
        multiplier: u16,
        bias: i32,
    ) -> Spec {
        let (n, m) = (usize::from(inputs), usize::from(outputs));
        Spec {
            inputs,
            outputs,
            neuron,
            synapse,
            shift,
            weights: vec![weight; n * m],
            multipliers: vec![multiplier; m],
            biases: vec![bias; m],
        }
    }
}

fn lif(tau_rc: f32, tau_ref: f32, min_voltage: f32) -> Neuron {
    Neuron::Lif {
        tau_rc,
        tau_ref,
        min_voltage,
        amplitude: 1.0,
    }
}

const RELU: Neuron = Neuron::SpikingRectifiedLinear { amplitude: 1.0 };

fn encode(specs: &[Spec]) -> Result<Vec<u8>, EncodeError> {
    let bytes: Vec<[Vec<u8>; 4]> = specs
        .iter()
        .map(|s| {
            [
                s.weights.iter().map(|&w| w as u8).collect(),
                s.multipliers.iter().flat_map(|m| m.to_le_bytes()).collect(),
                vec![s.shift as u8; usize::from(s.outputs)],
                s.biases.iter().flat_map(|b| b.to_le_bytes()).collect(),
            ]
        })
        .collect();
    let layers: Vec<Layer<'_>> = specs
        .iter()
        .zip(&bytes)
        .map(|(s, [weights, multipliers, shifts, biases])| {
            Layer::Dense(Dense {
                input: Shape::vector(s.inputs),
                outputs: s.outputs,
                neuron: s.neuron,
                synapse: s.synapse,
                weights,
                scaling: Scaling {
                    multipliers,
                    shifts,
                    biases,
                },
                activity: 0,
            })
        })
        .collect();
    ModelBuilder {
        dt: DT,
        input: InputEncoding::vector(specs[0].inputs, 255, 0),
        layers: &layers,
    }
    .to_vec()
}

/// What a run produced, step by step.
#[derive(Debug)]
struct Trace {
    /// Readout values after each step.
    outputs: Vec<Vec<i32>>,
    /// Spikes of each layer in each step.
    spikes: Vec<Vec<u32>>,
    /// The state buffer after the last step.
    state: Vec<i32>,
}

/// Present each `(input, steps)` in turn, without resetting in between.
fn simulate(blob: &[u8], phases: &[(&[u8], usize)]) -> Trace {
    let model: Model = Model::from_bytes(blob).expect("model loads");
    let mut state = vec![0i32; model.state_words()];
    let mut outputs = Vec::new();
    let mut spikes = Vec::new();
    {
        let mut network = Network::new(&model, &mut state).expect("state sized by the model");
        let mut before = vec![0u32; model.layers().len()];
        for &(input, steps) in phases {
            network.set_input(input).expect("input sized by the model");
            for _ in 0..steps {
                network.step();
                outputs.push(network.outputs().to_vec());
                let total = network.prediction().spike_counts;
                spikes.push(total.iter().zip(&before).map(|(t, b)| t - b).collect());
                before = total.to_vec();
            }
        }
    }
    Trace {
        outputs,
        spikes,
        state,
    }
}

fn run(blob: &[u8], input: &[u8], steps: usize) -> Trace {
    simulate(blob, &[(input, steps)])
}

fn total_spikes(trace: &Trace, layer: usize) -> u64 {
    trace.spikes.iter().map(|s| u64::from(s[layer])).sum()
}

fn saturate(x: i128) -> i32 {
    x.clamp(i128::from(i32::MIN), i128::from(i32::MAX)) as i32
}

/// FORMAT.md's semantics, exactly: `sat(round(sum * m / 2^shift))`, then `+ bias` saturating.
fn expected_current(inputs: &[u8], spec: &Spec, output: usize) -> i32 {
    let outputs = usize::from(spec.outputs);
    let sum: i128 = inputs
        .iter()
        .enumerate()
        .map(|(j, &x)| i128::from(x) * i128::from(spec.weights[j * outputs + output]))
        .sum();
    let product = sum * i128::from(spec.multipliers[output]);
    let drive = if spec.shift <= 0 {
        saturate(product << -spec.shift)
    } else {
        saturate((product + (1i128 << (spec.shift - 1))) >> spec.shift)
    };
    saturate(i128::from(drive) + i128::from(spec.biases[output]))
}

/// The largest positive `f32` for which `accepted` holds, given that it holds for `lo` and not
/// for `hi` (positive floats are ordered like their bit patterns).
fn largest_accepted(lo: f32, hi: f32, accepted: impl Fn(f32) -> bool) -> f32 {
    let (mut lo, mut hi) = (lo.to_bits(), hi.to_bits());
    assert!(accepted(f32::from_bits(lo)) && !accepted(f32::from_bits(hi)));
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if accepted(f32::from_bits(mid)) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    f32::from_bits(lo)
}

/// One neuron of `neuron` driven by its bias `current`, read out with unit weight.
fn single(neuron: Neuron, current: i32) -> Vec<Spec> {
    vec![
        Spec::uniform(1, 1, neuron, Synapse::None, 1, 0, 0, current),
        Spec::uniform(1, 1, Neuron::Readout, Synapse::None, 0, 1, 1, 0),
    ]
}

fn lif_limit(make: impl Fn(f32) -> Neuron, lo: f32, hi: f32) -> f32 {
    largest_accepted(lo, hi, |x| encode(&single(make(x), 0)).is_ok())
}

/// The largest `tau_rc` the loader accepts at `DT` (its gain rounds to one Q16.16 ulp).
fn tau_rc_limit() -> f32 {
    static LIMIT: OnceLock<f32> = OnceLock::new();
    *LIMIT.get_or_init(|| lif_limit(|t| lif(t, 0.002, 0.0), 0.02, 1e6))
}

/// The largest `tau_ref` the loader accepts at `DT` (30000 steps).
fn tau_ref_limit() -> f32 {
    static LIMIT: OnceLock<f32> = OnceLock::new();
    *LIMIT.get_or_init(|| lif_limit(|t| lif(0.02, t, 0.0), 0.002, 1e6))
}

/// The largest Lowpass `tau` the loader accepts at `DT`.
fn synapse_tau_limit() -> f32 {
    static LIMIT: OnceLock<f32> = OnceLock::new();
    *LIMIT.get_or_init(|| {
        largest_accepted(0.005, 1e6, |tau| {
            let mut specs = single(RELU, 0);
            specs[1].synapse = Synapse::Lowpass { tau };
            encode(&specs).is_ok()
        })
    })
}

fn extreme_i32() -> impl Strategy<Value = i32> {
    prop_oneof![
        Just(i32::MIN),
        Just(i32::MAX),
        Just(i32::MIN + 1),
        Just(i32::MAX - 1),
        Just(0),
        Just(-1),
        Just(1),
        Just(ONE),
        any::<i32>(),
    ]
}

fn extreme_i8() -> impl Strategy<Value = i8> {
    prop_oneof![Just(-128i8), Just(127), Just(0), Just(-1), any::<i8>()]
}

fn extreme_u8() -> impl Strategy<Value = u8> {
    prop_oneof![Just(255u8), Just(0), any::<u8>()]
}

fn shift() -> impl Strategy<Value = i8> {
    prop_oneof![
        Just(0i8),
        Just(1),
        Just(47),
        Just(-16),
        Just(16),
        -16i8..=47
    ]
}

fn extreme_u16() -> impl Strategy<Value = u16> {
    prop_oneof![Just(u16::MAX), Just(0), Just(1), Just(0x8000), any::<u16>()]
}

/// A readout-only layer with extreme parameters, and an input for it.
fn extreme_readout() -> impl Strategy<Value = (Spec, Vec<u8>)> {
    (1u16..=12, 1u16..=4, shift()).prop_flat_map(|(inputs, outputs, shift)| {
        let (n, m) = (usize::from(inputs), usize::from(outputs));
        (
            proptest::collection::vec(extreme_i8(), n * m),
            proptest::collection::vec(extreme_u16(), m),
            proptest::collection::vec(extreme_i32(), m),
            proptest::collection::vec(extreme_u8(), n),
        )
            .prop_map(move |(weights, multipliers, biases, input)| {
                let spec = Spec {
                    inputs,
                    outputs,
                    neuron: Neuron::Readout,
                    synapse: Synapse::None,
                    shift,
                    weights,
                    multipliers,
                    biases,
                };
                (spec, input)
            })
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, failure_persistence: None, ..ProptestConfig::default() })]

    /// Drive and current saturate exactly as FORMAT.md says, at every step, unfiltered or
    /// through a lowpass so fast (tiny `tau`) that its gain is exactly 1.
    #[test]
    fn readout_equals_the_exact_saturating_formula(
        (mut spec, input) in extreme_readout(),
        tiny_tau in any::<bool>(),
    ) {
        if tiny_tau {
            spec.synapse = Synapse::Lowpass { tau: 1e-30 };
        }
        let blob = encode(std::slice::from_ref(&spec)).unwrap();
        let trace = run(&blob, &input, 3);
        for step in &trace.outputs {
            for (i, &got) in step.iter().enumerate() {
                prop_assert_eq!(got, expected_current(&input, &spec, i), "output {}", i);
            }
        }
    }

    /// A lowpass readout moves monotonically from 0 towards its (saturated) target and never
    /// passes it or wraps around, for any accepted `tau`.
    #[test]
    fn lowpass_readout_is_monotone_and_bounded(
        (mut spec, input) in extreme_readout(),
        tau in prop_oneof![Just(1e-30f32), Just(DT), 0.0005f32..0.5, Just(-1.0)],
    ) {
        let tau = if tau < 0.0 { synapse_tau_limit() } else { tau };
        spec.synapse = Synapse::Lowpass { tau };
        let blob = encode(std::slice::from_ref(&spec)).unwrap();
        let trace = run(&blob, &input, 40);
        for i in 0..usize::from(spec.outputs) {
            let target = expected_current(&input, &spec, i);
            let start = spec.biases[i];
            let (low, high) = (start.min(target), start.max(target));
            let mut previous = start;
            for step in &trace.outputs {
                let y = step[i];
                prop_assert!(low <= y && y <= high, "{} outside [{}, {}]", y, low, high);
                if target >= start {
                    prop_assert!(y >= previous, "fell from {} to {}", previous, y);
                } else {
                    prop_assert!(y <= previous, "rose from {} to {}", previous, y);
                }
                previous = y;
            }
        }
    }

    /// More input never gives less output when weights and multipliers are non-negative.
    #[test]
    fn readout_is_monotone_in_every_input(
        (mut spec, input) in extreme_readout(),
        raise in proptest::collection::vec(extreme_u8(), 12),
    ) {
        spec.weights.iter_mut().for_each(|w| *w = w.saturating_abs());
                let blob = encode(std::slice::from_ref(&spec)).unwrap();
        let more: Vec<u8> = input.iter().zip(&raise).map(|(x, r)| x.saturating_add(*r)).collect();
        let (low, high) = (run(&blob, &input, 1), run(&blob, &more, 1));
        for (l, h) in low.outputs[0].iter().zip(&high.outputs[0]) {
            prop_assert!(l <= h, "{} > {}", l, h);
        }
    }
}

/// `tau_rc` (seconds) covering the accepted range: tiny, usual, slow, the limit.
fn any_tau_rc() -> impl Strategy<Value = f32> {
    prop_oneof![
        Just(1e-30f32),
        Just(f32::from_bits(1)),
        0.0002f32..0.2,
        0.2f32..20.0,
        Just(-1.0),
    ]
    .prop_map(|t| if t < 0.0 { tau_rc_limit() } else { t })
}

/// `tau_ref` (seconds) covering the accepted range: 0, usual, the 30000-step limit.
fn any_tau_ref() -> impl Strategy<Value = f32> {
    prop_oneof![
        Just(0.0f32),
        Just(DT),
        0.0f32..0.01,
        0.01f32..30.0,
        Just(-1.0)
    ]
    .prop_map(|t| if t < 0.0 { tau_ref_limit() } else { t })
}

/// Currents around the threshold and at the extremes, Q16.16.
fn any_current() -> impl Strategy<Value = i32> {
    prop_oneof![
        extreme_i32(),
        (-2 * ONE)..(20 * ONE),
        (ONE - 64)..(ONE + 64),
        (i32::MAX - 1000)..=i32::MAX,
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    /// A LIF neuron fires at most at its refractory limit, `1 / max(tau_ref, dt)`, and its spike
    /// count never decreases with its input current.
    #[test]
    fn lif_spike_count_is_bounded_and_monotone_in_current(
        tau_rc in any_tau_rc(),
        tau_ref in any_tau_ref(),
        min_voltage in prop_oneof![Just(0.0f32), Just(-1000.0), -5.0f32..0.0],
        a in any_current(),
        b in any_current(),
    ) {
        let steps = 200;
        let neuron = lif(tau_rc, tau_ref, min_voltage);
        let (low, high) = (a.min(b), a.max(b));
        let count = |j| total_spikes(&run(&encode(&single(neuron, j)).unwrap(), &[0], steps), 0);
        let (n_low, n_high) = (count(low), count(high));
        prop_assert!(n_low <= n_high, "J={} gives {} spikes, J={} only {}", low, n_low, high, n_high);
        let period = f64::from(tau_ref / DT).max(1.0);
        let bound = (steps as f64 / period).ceil() as u64 + 1;
        prop_assert!(n_high <= bound, "{} spikes in {} steps, limit {}", n_high, steps, bound);
        if high <= ONE {
            prop_assert_eq!(n_high, 0, "at or below threshold");
        }
    }

    /// A spiking ReLU emits `floor(J)` spikes per step on average (at most 255), monotone in J.
    #[test]
    fn relu_spike_count_is_bounded_and_monotone_in_current(a in any_current(), b in any_current()) {
        let steps = 50;
        let (low, high) = (a.min(b), a.max(b));
        let count = |j| total_spikes(&run(&encode(&single(RELU, j)).unwrap(), &[0], steps), 0);
        let (n_low, n_high) = (count(low), count(high));
        prop_assert!(n_low <= n_high);
        let exact = ((i64::from(high.max(0)) * steps as i64) >> 16).min(255 * steps as i64);
        prop_assert_eq!(n_high as i64, exact);
    }
}

/// A LIF neuron under the largest current fires at the closed-form LIF rate
/// `1 / (tau_ref + tau_rc ln(1 + 1/(J - 1)))` (at most once per step), which is exactly every
/// `max(tau_ref/dt, 1)` steps while `tau_rc / J` is a negligible part of a step; a readout of it
/// saturates at `i32::MAX` and never turns negative.
#[test]
fn huge_current_fires_at_the_maximum_rate_and_the_readout_saturates() {
    let steps = 120usize;
    let j_max = f64::from(i32::MAX) / f64::from(ONE);
    // (At the slowest accepted tau_rc even i32::MAX needs a few steps to reach the threshold,
    // as the exact LIF would: that case is in the property test's bound.)
    for tau_rc in [1e-30f32, 0.02, 1.0] {
        for period in [0u32, 1, 2, 3, 7, 30] {
            let tau_ref = period as f32 * DT;
            let rate = lif_rate(j_max, f64::from(tau_rc), f64::from(tau_ref), 1.0)
                .min(1.0 / f64::from(DT));
            // Time from the end of the refractory period to the next crossing, in steps.
            let climb = f64::from(tau_rc) * (1.0 / (j_max - 1.0)).ln_1p() / f64::from(DT);
            let exact_pattern = climb * steps as f64 <= 0.5 || period == 0;
            for synapse in [Synapse::None, Synapse::Lowpass { tau: 0.005 }] {
                // Inputs of 255 through weights of 127 and a huge multiplier, and the largest
                // bias: the current saturates twice.
                let mut hidden = Spec::uniform(
                    4,
                    3,
                    lif(tau_rc, tau_ref, -1000.0),
                    Synapse::None,
                    -16,
                    127,
                    u16::MAX,
                    i32::MAX,
                );
                hidden.synapse = synapse;
                let readout = Spec::uniform(3, 2, Neuron::Readout, synapse, -16, 127, u16::MAX, 0);
                let trace = run(&encode(&[hidden, readout]).unwrap(), &[255; 4], steps);
                let what = format!("tau_rc={tau_rc} tau_ref={tau_ref} {synapse:?}");
                let p = period.max(1) as usize;
                for (step, (spikes, outputs)) in trace.spikes.iter().zip(&trace.outputs).enumerate()
                {
                    assert!(spikes[0] == 0 || spikes[0] == 3, "{what} step {step}");
                    let fires = spikes[0] == 3;
                    if exact_pattern {
                        assert_eq!(fires, step % p == 0, "{what} step {step}");
                    }
                    for &y in outputs {
                        assert!(y >= 0, "{what}: readout wrapped to {y}");
                        if fires && synapse == Synapse::None {
                            assert_eq!(y, i32::MAX, "{what}");
                        }
                    }
                }
                // The first spike is in step 0, then one every 1/rate seconds.
                let expected = 1.0 + ((steps - 1) as f64 * f64::from(DT) * rate).floor();
                let got = total_spikes(&trace, 0) as f64 / 3.0;
                assert!((got - expected).abs() <= 1.0, "{what}: {got} vs {expected}");
                if exact_pattern {
                    assert_eq!(got, steps.div_ceil(p) as f64, "{what}");
                }
                if synapse != Synapse::None && trace.spikes.iter().all(|s| s[0] == 3) {
                    // A saturated drive every step: the filtered readout climbs to the top and
                    // stays within its rounding dead band (0.5 / gain = 3 ulps) of i32::MAX.
                    let last = trace.outputs.last().unwrap();
                    assert!(last.iter().all(|&y| y >= i32::MAX - 3), "{what}: {last:?}");
                }
            }
        }
    }
}

/// The mirror image: negative weights drive the readout to `i32::MIN`, never positive.
#[test]
fn huge_negative_drive_saturates_at_i32_min() {
    let hidden = Spec::uniform(4, 3, RELU, Synapse::None, -16, 127, u16::MAX, i32::MAX);
    let readout = Spec::uniform(
        3,
        2,
        Neuron::Readout,
        Synapse::None,
        -16,
        -128,
        u16::MAX,
        i32::MIN,
    );
    let trace = run(&encode(&[hidden, readout]).unwrap(), &[255; 4], 10);
    for outputs in &trace.outputs {
        assert_eq!(outputs, &[i32::MIN, i32::MIN]);
    }
    // A huge positive bias against a huge negative drive: -2^31 + (2^31 - 1) = -1.
    let hidden = Spec::uniform(4, 3, RELU, Synapse::None, -16, 127, u16::MAX, i32::MAX);
    let readout = Spec::uniform(
        3,
        2,
        Neuron::Readout,
        Synapse::None,
        -16,
        -128,
        u16::MAX,
        i32::MAX,
    );
    let trace = run(&encode(&[hidden, readout]).unwrap(), &[255; 4], 3);
    assert_eq!(trace.outputs[2], [-1, -1]);
}

/// Spiking ReLU under `i32::MAX`: 255 spikes every step, the voltage pinned near the top.
#[test]
fn relu_at_i32_max_emits_255_per_step_and_its_voltage_does_not_wrap() {
    let trace = run(&encode(&single(RELU, i32::MAX)).unwrap(), &[0], 100);
    assert!(trace.spikes.iter().all(|s| s[0] == 255));
    // Layer 0's state (StatePlan): scale and bias of its channel, sum, voltage, event.
    assert_eq!(trace.state[3], i32::MAX - 255 * ONE);
    assert_eq!(trace.state[4], 255, "one event: neuron 0, count 255");
}

/// The largest weighted sum the format allows, `65535 * 255 * -128` (and `* 127`), is computed
/// exactly in `i32`, both from the input bytes and from spike counts.
#[test]
fn maximal_fan_in_sums_are_exact() {
    const N: u16 = u16::MAX;
    for weight in [-128i8, 127] {
        let exact = i128::from(N) * 255 * i128::from(weight);
        assert!(exact.abs() < i128::from(i32::MAX));
        // Multiplier 1, shift 1: the drive is the sum halved, rounded half up.
        let half = saturate((exact + 1) >> 1);

        // 65535 input bytes of 255 into one readout.
        let readout = Spec::uniform(N, 1, Neuron::Readout, Synapse::None, 1, weight, 1, 0);
        let trace = run(&encode(&[readout]).unwrap(), &vec![255; usize::from(N)], 1);
        assert_eq!(trace.outputs[0], [half]);

        // 65535 spiking ReLUs emitting 255 each into one readout.
        let hidden = Spec::uniform(1, N, RELU, Synapse::None, 1, 0, 0, i32::MAX);
        let readout = Spec::uniform(N, 1, Neuron::Readout, Synapse::None, 1, weight, 1, 0);
        let trace = run(&encode(&[hidden, readout]).unwrap(), &[0], 2);
        assert_eq!(total_spikes(&trace, 0), 2 * 255 * u64::from(N));
        assert_eq!(trace.outputs[1], [half]);

        // The same sum times the largest multiplier saturates.
        let readout = Spec::uniform(
            N,
            1,
            Neuron::Readout,
            Synapse::None,
            -16,
            weight,
            u16::MAX,
            0,
        );
        let trace = run(&encode(&[readout]).unwrap(), &vec![255; usize::from(N)], 1);
        assert_eq!(
            trace.outputs[0],
            [if weight < 0 { i32::MIN } else { i32::MAX }]
        );
    }
}

/// `min_voltage` at -1000 holds against `i32::MIN` input for ever, and the neuron still fires
/// at once when the current turns huge.
#[test]
fn min_voltage_limit_holds_against_i32_min() {
    let hidden = Spec {
        weights: vec![-128, 127],
        ..Spec::uniform(
            2,
            1,
            lif(0.02, 0.0, -1000.0),
            Synapse::None,
            -16,
            0,
            u16::MAX,
            0,
        )
    };
    let readout = Spec::uniform(1, 1, Neuron::Readout, Synapse::None, 0, 1, 1, 0);
    let blob = encode(&[hidden, readout]).unwrap();
    let down = run(&blob, &[255, 0], 50);
    // Layer 0's state (StatePlan): scale, bias, static current, voltage, refractory, event.
    assert_eq!(down.state[2], i32::MIN);
    assert_eq!(down.state[3], -1000 * ONE);
    assert_eq!(total_spikes(&down, 0), 0);
    let up = simulate(&blob, &[(&[255, 0], 50), (&[0, 255], 1)]);
    assert_eq!(up.state[2], i32::MAX);
    assert_eq!(up.spikes[50][0], 1);

    // Just below the limit is refused.
    let below = Spec::uniform(1, 1, lif(0.02, 0.0, -1000.0001), Synapse::None, 1, 0, 0, 0);
    let readout = Spec::uniform(1, 1, Neuron::Readout, Synapse::None, 0, 1, 1, 0);
    assert_eq!(
        encode(&[below, readout]).unwrap_err(),
        EncodeError::Invalid(LoadError::ParameterOutOfRange {
            layer: Some(0),
            parameter: "min_voltage"
        })
    );
}

/// The loader's limits on the time constants are sharp, and the dynamics at them are sound.
#[test]
fn time_constant_limits() {
    let refused = |neuron, name| {
        assert_eq!(
            encode(&single(neuron, 0)).unwrap_err(),
            EncodeError::Invalid(LoadError::ParameterOutOfRange {
                layer: Some(0),
                parameter: name
            })
        );
    };

    // tau_ref: 30000 steps at most, checked in f32.
    let tau_ref = tau_ref_limit();
    assert!(
        (tau_ref / DT - 30_000.0).abs() < 0.01,
        "tau_ref limit {tau_ref}"
    );
    refused(
        lif(0.02, f32::from_bits(tau_ref.to_bits() + 1), 0.0),
        "tau_ref",
    );
    refused(lif(0.02, -f32::MIN_POSITIVE, 0.0), "tau_ref");
    // At the limit, a huge current fires once every 30000 steps.
    let trace = run(
        &encode(&single(lif(0.02, tau_ref, 0.0), i32::MAX)).unwrap(),
        &[0],
        60_001,
    );
    let fired: Vec<usize> = (0..trace.spikes.len())
        .filter(|&s| trace.spikes[s][0] > 0)
        .collect();
    assert_eq!(fired, [0, 30_000, 60_000]);
    // tau_ref = 0: every step.
    let trace = run(
        &encode(&single(lif(0.02, 0.0, 0.0), i32::MAX)).unwrap(),
        &[0],
        100,
    );
    assert_eq!(total_spikes(&trace, 0), 100);

    // tau_rc: anything tiny is accepted (gain exactly 1: the voltage jumps to the current), up
    // to the tau_rc whose gain 1 - exp(-dt/tau_rc) rounds to one Q16.16 ulp.
    let tau_rc = tau_rc_limit();
    let ratio = tau_rc / DT;
    // The 16-bit decay gain rounds to one unit from dt/tau_rc >= 2^-17 (ratio just below 2^16
    // after the f32 rounding of dt/tau_rc).
    assert!(
        (65_535.0..=131_073.0).contains(&ratio),
        "tau_rc limit {tau_rc}"
    );
    refused(
        lif(f32::from_bits(tau_rc.to_bits() + 1), 0.0, 0.0),
        "tau_rc",
    );
    refused(lif(0.0, 0.0, 0.0), "tau_rc");
    for tiny in [f32::from_bits(1), 1e-30, 1e-9] {
        // Just above the threshold fires every step; at the threshold never.
        let above = run(
            &encode(&single(lif(tiny, 0.0, 0.0), ONE + 1)).unwrap(),
            &[0],
            10,
        );
        assert_eq!(total_spikes(&above, 0), 10, "tau_rc={tiny}");
        let at = run(
            &encode(&single(lif(tiny, 0.0, 0.0), ONE)).unwrap(),
            &[0],
            10,
        );
        assert_eq!(total_spikes(&at, 0), 0, "tau_rc={tiny}");
    }

    // Synapse tau: the same kind of limit.
    let tau = synapse_tau_limit();
    assert!(
        (65_536.0..=131_073.0).contains(&(tau / DT)),
        "synapse tau limit {tau}"
    );
    println!(
        "limits at dt = {DT}: tau_ref <= {tau_ref} s ({} steps), tau_rc <= {tau_rc} s, \
         synapse tau <= {tau} s",
        tau_ref / DT
    );
}

/// At the slowest accepted time constant the Q16.16 gain is one ulp, and `round(error * gain)`
/// is zero for any error below 0.5: the filter stops 0.5 short of its target. This pins that
/// dead band (0.5 / gain in ulps, so below 1 ulp for any `tau` under ~650 time steps).
#[test]
fn slowest_accepted_lowpass_stalls_half_a_unit_short() {
    let tau = synapse_tau_limit();
    // (target, weight, multiplier): weight * multiplier = target with shift 0.
    for (target, weight, multiplier, expected) in [
        (ONE / 4, 1, 16_384, 0),
        (ONE * 3 / 2, 2, 49_152, ONE + 1),
        (-ONE, -2, 32_768, -ONE / 2),
    ] {
        let mut readout = Spec::uniform(1, 1, Neuron::Readout, Synapse::None, 0, 0, 0, 0);
        readout.synapse = Synapse::Lowpass { tau };
        readout.weights = vec![weight];
        readout.multipliers = vec![multiplier];
        let trace = run(&encode(&[readout]).unwrap(), &[1], 70_000);
        let last = trace.outputs.last().unwrap()[0];
        assert_eq!(last, expected, "target {target}");
    }
}
