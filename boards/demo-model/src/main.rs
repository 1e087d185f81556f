//! Write the demo model that the board crates embed when `PICOSPIKE_MODEL_DIR` is not set.
//!
//! The model is synthetic (seeded pseudo-random weights, 64 inputs like the 8x8 digits, one LIF
//! hidden layer, a 10-way readout), so that the boards build and run in CI without training.
//! Samples are noisy copies of ten prototypes; each label is the class the host runtime predicts
//! for the sample, which turns a board's `correct=` count into a bit-for-bit class agreement
//! check with the host. The output has the layout of `picospike export --rust-module`:
//! `model.pspk`, and `model.rs` with `MODEL`, `STATE_WORDS`, `INPUT_SIZE` and `SAMPLES`.
//!
//! Usage: `cargo run --release -- [OUT_DIR]` (default `../models/demo`).

use std::fmt::Write as _;
use std::path::PathBuf;

use picospike_runtime::format::InputEncoding;
use picospike_runtime::layer::{Dense, Layer};
use picospike_runtime::neuron::Neuron;
use picospike_runtime::synapse::Synapse;
use picospike_runtime::{Model, ModelBuilder, Network};

const INPUTS: usize = 64;
const HIDDEN: usize = 32;
const CLASSES: usize = 10;
const SAMPLES: usize = 10;
const TIMESTEPS: u16 = 20;

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
fn readout_weights(w1: &[u8], prototypes: &[Vec<u8>]) -> Vec<u8> {
    let drive = |j: usize, c: usize| -> f64 {
        let sum: f64 = (0..INPUTS)
            .map(|i| f64::from(prototypes[c][i]) * f64::from(w1[i * HIDDEN + j] as i8))
            .sum();
        sum.max(0.0)
    };
    let mut centred = vec![0.0f64; HIDDEN * CLASSES];
    for j in 0..HIDDEN {
        let mean = (0..CLASSES).map(|c| drive(j, c)).sum::<f64>() / CLASSES as f64;
        for c in 0..CLASSES {
            centred[j * CLASSES + c] = drive(j, c) - mean;
        }
    }
    let max = centred.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-9);
    centred
        .iter()
        .map(|v| (v / max * 127.0).round() as i8 as u8)
        .collect()
}

fn main() {
    let out = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "../models/demo".into()),
    );
    let mut rng = Rng(0x5EED_1234);

    let w1: Vec<u8> = (0..INPUTS * HIDDEN)
        .map(|_| (rng.below(255) as i32 - 127) as i8 as u8)
        .collect();
    // Layer 1: current = 160 * sum(x * w) Q16.16, i.e. about 0..12 for typical inputs.
    let m1 = le_words(std::iter::repeat_n(160 << 8, HIDDEN));
    let b1 = le_words((0..HIDDEN).map(|_| 32768 + rng.below(32768) as i32));
    let m2 = le_words(std::iter::repeat_n(2048, CLASSES));
    let b2 = le_words(std::iter::repeat_n(0, CLASSES));
    let prototypes: Vec<Vec<u8>> = (0..CLASSES)
        .map(|_| (0..INPUTS).map(|_| rng.below(17) as u8).collect())
        .collect();
    let w2 = readout_weights(&w1, &prototypes);
    let layers = [
        Layer::Dense(Dense {
            inputs: INPUTS as u16,
            outputs: HIDDEN as u16,
            neuron: Neuron::Lif {
                tau_rc: 0.02,
                tau_ref: 0.002,
                min_voltage: 0.0,
                amplitude: 0.001,
            },
            synapse: Synapse::None,
            shift: 8,
            weights: &w1,
            multipliers: &m1,
            biases: &b1,
        }),
        Layer::Dense(Dense {
            inputs: HIDDEN as u16,
            outputs: CLASSES as u16,
            neuron: Neuron::Readout,
            synapse: Synapse::Lowpass { tau: 0.005 },
            shift: 4,
            weights: &w2,
            multipliers: &m2,
            biases: &b2,
        }),
    ];
    let builder = ModelBuilder {
        dt: 0.001,
        input: InputEncoding {
            size: INPUTS as u16,
            full_scale: 16,
            timesteps: TIMESTEPS,
        },
        layers: &layers,
    };
    let blob = builder.to_vec().expect("demo model encodes");
    let model: Model<'_> = Model::from_bytes(&blob).expect("demo model loads");
    let mut state = vec![0i32; model.state_words()];
    let mut network = Network::new(&model, &mut state).expect("state fits");

    let mut samples = Vec::new();
    for i in 0..SAMPLES {
        let input: Vec<u8> = prototypes[i % CLASSES]
            .iter()
            .map(|&v| (i32::from(v) + rng.below(5) as i32 - 2).clamp(0, 16) as u8)
            .collect();
        let prediction = network.run(&input, TIMESTEPS).expect("demo sample runs");
        samples.push((
            input,
            prediction.class as u8,
            prediction.spike_counts.clone(),
        ));
    }

    let mut rs = String::new();
    writeln!(rs, "// Generated by boards/demo-model; do not edit. Synthetic weights, labels = host runtime predictions.").unwrap();
    writeln!(rs, "/// The model blob.").unwrap();
    writeln!(
        rs,
        "pub static MODEL: &[u8] = include_bytes!(\"model.pspk\");"
    )
    .unwrap();
    writeln!(rs, "/// `i32` words of network state the model needs.").unwrap();
    writeln!(
        rs,
        "pub const STATE_WORDS: usize = {};",
        model.state_words()
    )
    .unwrap();
    writeln!(rs, "/// Bytes per input sample.").unwrap();
    writeln!(rs, "pub const INPUT_SIZE: usize = {};", model.input_size()).unwrap();
    writeln!(rs, "/// Test samples: input bytes and label.").unwrap();
    writeln!(rs, "pub static SAMPLES: &[(&[u8], u8)] = &[").unwrap();
    for (input, label, _) in &samples {
        let bytes: Vec<String> = input.iter().map(u8::to_string).collect();
        writeln!(rs, "    (&[{}], {label}),", bytes.join(", ")).unwrap();
    }
    writeln!(rs, "];").unwrap();

    std::fs::create_dir_all(&out).expect("create output dir");
    std::fs::write(out.join("model.pspk"), &blob).expect("write model.pspk");
    std::fs::write(out.join("model.rs"), rs).expect("write model.rs");
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
