//! Write the demo model that the board crates embed when `PICOSPIKE_MODEL_DIR` is not set.
//!
//! The model is synthetic (seeded pseudo-random weights, 64 inputs like the 8x8 digits, one LIF
//! hidden layer, a 10-way readout), so that the boards build and run in CI without training.
//! Samples are noisy copies of ten prototypes; each label is the class the host runtime predicts
//! for the sample, which turns a board's `correct=` count into a bit-for-bit class agreement
//! check with the host. The output is written by the exporter itself
//! (`picospike_host::quantized::write_rust_module`, what `picospike export --rust-module` runs):
//! `model.pspk`, and `model.rs` with `MODEL`, `STATE_WORDS`, `LAYERS`, `INPUT_SIZE`, `OUTPUT_SIZE`,
//! `TIMESTEPS` and `SAMPLES`.
//!
//! Usage: `cargo run --release -- [OUT_DIR] [--shape INPUTS,HIDDEN,CLASSES] [--samples N]
//! [--steps N]` (default `../models/demo`, shape 64,32,10, 10 samples, 20 steps). Other shapes
//! are for sizing studies, e.g. `--shape 784,256,10` for an MNIST-sized network.

use std::path::PathBuf;

use picospike_host::data::Dataset;
use picospike_host::quantized::write_rust_module;

use picospike_runtime::format::InputEncoding;
use picospike_runtime::layer::{Dense, Layer, Scaling, Shape as LayerShape};
use picospike_runtime::neuron::Neuron;
use picospike_runtime::synapse::Synapse;
use picospike_runtime::{Model, ModelBuilder, Network};

/// Sizes of the generated model; the defaults make `models/demo`.
#[derive(Clone, Copy, Debug)]
struct Shape {
    inputs: usize,
    hidden: usize,
    classes: usize,
    samples: usize,
    steps: u16,
}

impl Default for Shape {
    fn default() -> Self {
        Self {
            inputs: 64,
            hidden: 32,
            classes: 10,
            samples: 10,
            steps: 20,
        }
    }
}

const USAGE: &str = "usage: picospike-demo-model [OUT_DIR] [--shape INPUTS,HIDDEN,CLASSES] [--samples N] [--steps N]";

fn parse_args() -> Result<(PathBuf, Shape), String> {
    let mut out = PathBuf::from("../models/demo");
    let mut shape = Shape::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value; {USAGE}"));
        match arg.as_str() {
            "--shape" => {
                let dims: Vec<usize> = value("--shape")?
                    .split(',')
                    .map(|d| d.parse().map_err(|e| format!("--shape: {e}")))
                    .collect::<Result<_, _>>()?;
                let [inputs, hidden, classes] = dims[..] else {
                    return Err(format!("--shape takes three sizes; {USAGE}"));
                };
                (shape.inputs, shape.hidden, shape.classes) = (inputs, hidden, classes);
            }
            "--samples" => {
                shape.samples = value("--samples")?
                    .parse()
                    .map_err(|e| format!("--samples: {e}"))?
            }
            "--steps" => {
                shape.steps = value("--steps")?
                    .parse()
                    .map_err(|e| format!("--steps: {e}"))?
            }
            flag if flag.starts_with('-') => return Err(format!("unknown option {flag}; {USAGE}")),
            dir => out = PathBuf::from(dir),
        }
    }
    if shape.inputs == 0 || shape.hidden == 0 || shape.classes == 0 || shape.classes > 256 {
        return Err(format!(
            "sizes must be positive and at most 256 classes; {USAGE}"
        ));
    }
    Ok((out, shape))
}

/// xorshift32: deterministic across platforms and Rust versions.
struct Rng(u32);

impl Rng {
    fn next(&mut self) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        self.0
    }
    fn below(&mut self, n: u32) -> u32 {
        self.next() % n
    }
}

fn le_words(values: impl IntoIterator<Item = i32>) -> Vec<u8> {
    values.into_iter().flat_map(i32::to_le_bytes).collect()
}

/// Readout weights that tell the prototypes apart: for hidden neuron `j` and class `c`, the
/// rectified drive of `j` by prototype `c` minus its mean over the prototypes, scaled to `i8`.
fn readout_weights(shape: Shape, w1: &[u8], prototypes: &[Vec<u8>]) -> Vec<u8> {
    let Shape {
        inputs,
        hidden,
        classes,
        ..
    } = shape;
    let drive = |j: usize, c: usize| -> f64 {
        let sum: f64 = (0..inputs)
            .map(|i| f64::from(prototypes[c][i]) * f64::from(w1[i * hidden + j] as i8))
            .sum();
        sum.max(0.0)
    };
    let mut centred = vec![0.0f64; hidden * classes];
    for j in 0..hidden {
        let mean = (0..classes).map(|c| drive(j, c)).sum::<f64>() / classes as f64;
        for c in 0..classes {
            centred[j * classes + c] = drive(j, c) - mean;
        }
    }
    let max = centred.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-9);
    centred
        .iter()
        .map(|v| (v / max * 127.0).round() as i8 as u8)
        .collect()
}

fn main() {
    let (out, shape) = match parse_args() {
        Ok(parsed) => parsed,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };
    let Shape {
        inputs,
        hidden,
        classes,
        samples: sample_count,
        steps,
    } = shape;
    let mut rng = Rng(0x5EED_1234);

    let w1: Vec<u8> = (0..inputs * hidden)
        .map(|_| (rng.below(255) as i32 - 127) as i8 as u8)
        .collect();
    // Layer 1: current = 160 * sum(x * w) Q16.16, i.e. about 0..12 for typical inputs.
    // Keep the drive's spread independent of the fan-in: scale by sqrt(64 / inputs).
    let m1_value = (f64::from(160 << 8) * (64.0 / inputs as f64).sqrt())
        .round()
        .clamp(1.0, f64::from(u16::MAX)) as u16;
    let m1: Vec<u8> = std::iter::repeat_n(m1_value.to_le_bytes(), hidden)
        .flatten()
        .collect();
    let s1 = vec![8u8; hidden];
    let b1 = le_words((0..hidden).map(|_| 32768 + rng.below(32768) as i32));
    let m2: Vec<u8> = std::iter::repeat_n(2048u16.to_le_bytes(), classes)
        .flatten()
        .collect();
    let s2 = vec![4u8; classes];
    let b2 = le_words(std::iter::repeat_n(0, classes));
    let prototypes: Vec<Vec<u8>> = (0..classes)
        .map(|_| (0..inputs).map(|_| rng.below(17) as u8).collect())
        .collect();
    let w2 = readout_weights(shape, &w1, &prototypes);
    let layers = [
        Layer::Dense(Dense {
            input: LayerShape::vector(inputs as u16),
            outputs: hidden as u16,
            neuron: Neuron::Lif {
                tau_rc: 0.02,
                tau_ref: 0.002,
                min_voltage: 0.0,
                amplitude: 0.001,
            },
            synapse: Synapse::None,
            weights: &w1,
            scaling: Scaling {
                multipliers: &m1,
                shifts: &s1,
                biases: &b1,
            },
            activity: 0,
        }),
        Layer::Dense(Dense {
            input: LayerShape::vector(hidden as u16),
            outputs: classes as u16,
            neuron: Neuron::Readout,
            synapse: Synapse::Lowpass { tau: 0.005 },
            weights: &w2,
            scaling: Scaling {
                multipliers: &m2,
                shifts: &s2,
                biases: &b2,
            },
            activity: 0,
        }),
    ];
    let builder = ModelBuilder {
        dt: 0.001,
        input: InputEncoding::vector(inputs as u16, 16, steps),
        layers: &layers,
    };
    let blob = builder.to_vec().expect("demo model encodes");
    let model: Model<'_> = Model::from_bytes(&blob).expect("demo model loads");
    let mut state = vec![0i32; model.state_words()];
    let mut network = Network::new(&model, &mut state).expect("state fits");

    let mut samples = Vec::new();
    for i in 0..sample_count {
        let input: Vec<u8> = prototypes[i % classes]
            .iter()
            .map(|&v| (i32::from(v) + rng.below(5) as i32 - 2).clamp(0, 16) as u8)
            .collect();
        let prediction = network.run(&input, steps).expect("demo sample runs");
        samples.push((
            input,
            prediction.class as u8,
            prediction.spike_counts.clone(),
        ));
    }

    // Through the exporter's own writer, so that model.rs has exactly the contract of
    // `picospike export --rust-module` (MODEL, STATE_WORDS, LAYERS, INPUT_SIZE, OUTPUT_SIZE, TIMESTEPS,
    // SAMPLES) and cannot drift from it.
    let data = Dataset {
        images: samples.iter().map(|(input, _, _)| input.clone()).collect(),
        labels: samples.iter().map(|&(_, label, _)| label).collect(),
        full_scale: 16,
        classes,
        shape: None,
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
    let labels: Vec<String> = samples
        .iter()
        .map(|(_, l, s)| format!("{l}{s:?}"))
        .collect();
    eprintln!(
        "wrote {} ({} bytes, {} state words); labels: {}",
        out.display(),
        blob.len(),
        model.state_words(),
        labels.join(" ")
    );
}
