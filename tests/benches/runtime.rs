//! Host timing of the fixed-point runtime's kernels (criterion), on the reference networks of
//! `boards/BENCH.md` with their own embedded test samples:
//!
//! - `static drive`: `reset` + `set_input` (the first layer's weighted sum of the image, once
//!   per inference);
//! - `one step`: `step` under the sample's input, from the middle of an inference on (every
//!   layer's neurons and spike fan-out);
//! - `inference`: `run` at the benchmark's step count (reset, input, steps, readout).
//!
//! The float reference and Nengo are timed by `host-tools/bench/nengo_vs_picospike.sh`.
//!
//! `cargo bench -p picospike-tests --bench runtime`
//!
//! A new reference network of `boards/bench.sh` joins `networks()` as one more `Reference` with
//! its `model.rs`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use picospike_runtime::{Model, Network};

/// boards/models/digits: the trained 64-100-10 LIF digits model.
#[allow(dead_code)]
mod digits {
    include!("../../boards/models/digits/model.rs");
}

/// boards/models/mnist-dense: the trained 784-256-10 LIF MNIST model.
#[allow(dead_code)]
mod mnist_dense {
    include!("../../boards/models/mnist-dense/model.rs");
}

/// boards/models/mnist-conv: the trained 28x28 -> conv 16 of 5x5 stride 2 -> conv 32 of 3x3
/// stride 2 -> dense 128 -> 10 spiking-ReLU MNIST model (issue 9).
#[allow(dead_code)]
mod mnist_conv {
    include!("../../boards/models/mnist-conv/model.rs");
}

/// One reference network: its blob, samples and step count in `boards/bench.sh`.
struct Reference {
    name: &'static str,
    model: &'static [u8],
    samples: &'static [(&'static [u8], u8)],
    steps: u16,
}

fn networks() -> [Reference; 3] {
    [
        Reference {
            name: "digits 64-100-10",
            model: digits::MODEL,
            samples: digits::SAMPLES,
            steps: 20,
        },
        Reference {
            name: "mnist 784-256-10",
            model: mnist_dense::MODEL,
            samples: mnist_dense::SAMPLES,
            steps: 20,
        },
        Reference {
            name: "mnist conv 8-16-10",
            model: mnist_conv::MODEL,
            samples: mnist_conv::SAMPLES,
            steps: 20,
        },
    ]
}

fn kernels(c: &mut Criterion) {
    for reference in networks() {
        let model: Model = Model::from_bytes(reference.model).expect("a committed model loads");
        let mut state = vec![0i32; model.state_words()];
        let mut net = Network::new(&model, &mut state).expect("state fits");
        let (input, _) = reference.samples[0];
        let steps = reference.steps;
        let events = net.run(input, steps).expect("runs").synaptic_events;
        let mut group = c.benchmark_group(reference.name);

        group.bench_function("static drive (reset + set_input)", |b| {
            b.iter(|| {
                net.reset();
                net.set_input(input).expect("input fits");
            })
        });
        // Steps under the sample's input from the middle of an inference on: the network keeps
        // running, so this is a step of its steady state (the firing the later steps of an
        // inference see).
        net.reset();
        net.set_input(input).expect("input fits");
        for _ in 0..steps / 2 {
            net.step();
        }
        group.bench_function("one step (steady state under the input)", |b| {
            b.iter(|| net.step())
        });
        group.throughput(Throughput::Elements(u64::from(events)));
        group.bench_function(
            format!("inference, {steps} steps (throughput: synaptic events)"),
            |b| b.iter(|| net.run(input, steps).expect("runs").class),
        );
        group.finish();
    }
}

criterion_group!(benches, kernels);
criterion_main!(benches);
