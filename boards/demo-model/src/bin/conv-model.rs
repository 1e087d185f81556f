//! Write `boards/models/mnist-conv`: the convolutional reference network of `boards/bench.sh`,
//! with synthetic weights (the host tools cannot train a convolutional network yet).
//!
//! 28x28x1 -> conv 8 of 5x5 stride 2 (LIF) -> conv 16 of 5x5 stride 2 (LIF, 5 ms lowpass) ->
//! dense 10 (readout, 5 ms lowpass), "valid" padding (12x12x8, then 4x4x16), 20 steps, built
//! with `ModelBuilder` from seeded pseudo-random `i8` weights whose scaling puts the layers in
//! the firing range of a trained network. Its samples are the first 10 test images of the
//! committed MNIST fixture (`tests/fixtures/mnist`); each label is the class the host runtime
//! predicts (the weights are not trained, so `correct=` is a class-agreement check, as for
//! `models/demo`). The input density and every layer's activity, measured on those samples with
//! the runtime, are recorded in the model (what `picospike inspect --board` predicts from).
//!
//! Usage: `cargo run --release --bin conv-model -- [OUT_DIR] [--fixture DIR]` (defaults
//! `../models/mnist-conv`, `../../tests/fixtures/mnist`).

use std::path::PathBuf;

use picospike_host::cost::Activity;
use picospike_host::data::{load_mnist_test, Dataset};
use picospike_host::quantized::write_rust_module;

use picospike_runtime::format::InputEncoding;
use picospike_runtime::layer::{Conv2d, Dense, Layer, Scaling, Shape};
use picospike_runtime::neuron::Neuron;
use picospike_runtime::synapse::Synapse;
use picospike_runtime::{Model, ModelBuilder, Network};

/// Samples embedded in the model module.
const SAMPLES: usize = 10;
/// Steps per inference.
const STEPS: u16 = 20;

/// xorshift32: deterministic across platforms and Rust versions.
struct Rng(u32);

impl Rng {
    fn next(&mut self) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        self.0
    }
    /// A weight in -127..=127, zero-mean.
    fn weight(&mut self) -> u8 {
        (((self.next() % 255) as i32) - 127) as i8 as u8
    }
}

/// Scaling of `channels` outputs: one multiplier and shift for all, seeded biases around `bias`
/// (Q16.16).
struct Scale {
    multipliers: Vec<u8>,
    shifts: Vec<u8>,
    biases: Vec<u8>,
}

impl Scale {
    fn new(rng: &mut Rng, channels: usize, multiplier: u16, shift: u8, bias: i32) -> Self {
        Scale {
            multipliers: multiplier.to_le_bytes().repeat(channels),
            shifts: vec![shift; channels],
            biases: (0..channels)
                .flat_map(|_| (bias + (rng.next() % 16384) as i32 - 8192).to_le_bytes())
                .collect(),
        }
    }
    fn scaling(&self) -> Scaling<'_> {
        Scaling {
            multipliers: &self.multipliers,
            shifts: &self.shifts,
            biases: &self.biases,
        }
    }
}

fn lif() -> Neuron {
    Neuron::Lif {
        tau_rc: 0.02,
        tau_ref: 0.002,
        min_voltage: 0.0,
        amplitude: 0.005,
    }
}

/// The three layers, with the activity recorded in each (`activity[i]`, x65535).
fn layers<'a>(w: &'a [Vec<u8>; 3], s: &'a [Scale; 3], activity: [u16; 3]) -> [Layer<'a>; 3] {
    [
        Layer::Conv2d(Conv2d {
            input: Shape::image(28, 28, 1),
            output: Shape::image(12, 12, 8),
            kernel_height: 5,
            kernel_width: 5,
            stride: 2,
            padding_top: 0,
            padding_left: 0,
            neuron: lif(),
            synapse: Synapse::None,
            weights: &w[0],
            scaling: s[0].scaling(),
            activity: activity[0],
        }),
        Layer::Conv2d(Conv2d {
            input: Shape::image(12, 12, 8),
            output: Shape::image(4, 4, 16),
            kernel_height: 5,
            kernel_width: 5,
            stride: 2,
            padding_top: 0,
            padding_left: 0,
            neuron: lif(),
            synapse: Synapse::Lowpass { tau: 0.005 },
            weights: &w[1],
            scaling: s[1].scaling(),
            activity: activity[1],
        }),
        Layer::Dense(Dense {
            input: Shape::image(4, 4, 16),
            outputs: 10,
            neuron: Neuron::Readout,
            synapse: Synapse::Lowpass { tau: 0.005 },
            weights: &w[2],
            scaling: s[2].scaling(),
            activity: activity[2],
        }),
    ]
}

fn encode(layers: &[Layer<'_>], density: u16) -> Vec<u8> {
    let mut input = InputEncoding::vector(784, 255, STEPS);
    input.shape = Shape::image(28, 28, 1);
    input.density = density;
    ModelBuilder {
        dt: 0.001,
        input,
        layers,
    }
    .to_vec()
    .expect("the conv model encodes")
}

/// A fraction in 0..=1 as the format's x65535 `u16`.
fn fraction(value: f64) -> u16 {
    (value * 65535.0).round().clamp(0.0, 65535.0) as u16
}

fn main() {
    let mut out = PathBuf::from("../models/mnist-conv");
    let mut fixture = PathBuf::from("../../tests/fixtures/mnist");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--fixture" => match args.next() {
                Some(dir) => fixture = PathBuf::from(dir),
                None => {
                    eprintln!("--fixture needs a directory");
                    std::process::exit(2);
                }
            },
            flag if flag.starts_with('-') => {
                eprintln!("usage: conv-model [OUT_DIR] [--fixture DIR]");
                std::process::exit(2);
            }
            dir => out = PathBuf::from(dir),
        }
    }
    let test = match load_mnist_test(&fixture, 10) {
        Ok(test) if test.len() >= SAMPLES => test,
        Ok(test) => {
            eprintln!(
                "{}: {} test images, need {SAMPLES}",
                fixture.display(),
                test.len()
            );
            std::process::exit(1);
        }
        Err(e) => {
            eprintln!("{}: {e}", fixture.display());
            std::process::exit(1);
        }
    };
    let images: Vec<&[u8]> = test.images[..SAMPLES].iter().map(Vec::as_slice).collect();

    let mut rng = Rng(0xC0A7_2026);
    let weights = [
        (0..25 * 8).map(|_| rng.weight()).collect::<Vec<u8>>(),
        (0..8 * 25 * 16).map(|_| rng.weight()).collect(),
        (0..256 * 10).map(|_| rng.weight()).collect(),
    ];
    // Layer 0: a 5x5 window of a digit stroke sums to some 10^4..10^5; x 4800 / 2^8 puts the
    // current (Q16.16: 65536 is the LIF threshold) at a few units for the strongly driven
    // filters, so that they fire at tens of Hz like a trained network's.
    // Layer 1: a step's spikes in a 5x5x8 window sum to a few hundred at most; x 8 / 2^-8
    // (shift -8: left) gives currents of a few units. Readout: small, as the demo's.
    let scales = [
        Scale::new(&mut rng, 8, 4800, 8, 49152),
        Scale::new(&mut rng, 16, 8, 248, 65536),
        Scale::new(&mut rng, 10, 2048, 4, 0),
    ];
    let blob = encode(&layers(&weights, &scales, [0; 3]), 0);
    let model: Model<'_> = Model::from_bytes(&blob).expect("the conv model loads");
    let activity = Activity::measure(&model, &images, STEPS).expect("the samples run");
    let recorded = [
        fraction(activity.spikes_per_neuron_step[0]),
        fraction(activity.spikes_per_neuron_step[1]),
        0,
    ];
    let blob = encode(
        &layers(&weights, &scales, recorded),
        fraction(activity.input_density),
    );
    let model: Model<'_> = Model::from_bytes(&blob).expect("the conv model loads");
    let mut state = vec![0i32; model.state_words()];
    let mut network = Network::new(&model, &mut state).expect("state fits");
    let mut labels = Vec::new();
    for image in &images {
        labels.push(network.run(image, STEPS).expect("sample runs").class as u8);
    }
    let data = Dataset {
        images: images.iter().map(|i| i.to_vec()).collect(),
        labels: labels.clone(),
        full_scale: 255,
        classes: 10,
        shape: Some((28, 28)),
    };
    if let Err(e) = std::fs::create_dir_all(&out)
        .map_err(|e| e.to_string())
        .and_then(|()| {
            write_rust_module(&out, &blob, Some(&data), data.len()).map_err(|e| e.to_string())
        })
    {
        eprintln!("{}: {e}", out.display());
        std::process::exit(1);
    }
    eprintln!(
        "wrote {} ({} bytes, {} state words); input density {:.3}, spikes per neuron-step {:.3} / {:.3}; labels {labels:?}",
        out.display(),
        blob.len(),
        model.state_words(),
        activity.input_density,
        activity.spikes_per_neuron_step[0],
        activity.spikes_per_neuron_step[1],
    );
}
