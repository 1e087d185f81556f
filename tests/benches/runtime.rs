//! Host timing of the fixed-point runtime (criterion): one inference of a digits-sized and an
//! MNIST-sized network, and the float reference for comparison.
//!
//! `cargo bench -p picospike-tests --bench runtime`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use picospike_runtime::quantize::quantize;
use picospike_runtime::synapse::Synapse;
use picospike_runtime::{Model, Network};
use picospike_tests::{sample_input, small_network};

fn inference(c: &mut Criterion) {
    let mut group = c.benchmark_group("inference");
    for &(name, inputs, hidden, steps) in &[
        ("digits 64-100-10", 64, 100, 30u16),
        ("mnist 784-256-10", 784, 256, 30),
    ] {
        let network = small_network(inputs, hidden, 10, false, Synapse::Lowpass { tau: 0.005 });
        let blob = quantize(&network).expect("quantizes");
        let model: Model = Model::from_bytes(&blob).expect("loads");
        let mut state = vec![0i32; model.state_words()];
        let mut net = Network::new(&model, &mut state).expect("state fits");
        let input = sample_input(inputs, 7);
        let events = net.run(&input, steps).expect("runs").synaptic_events;
        println!("{name}: {events} synaptic events per inference of {steps} steps");
        group.throughput(Throughput::Elements(u64::from(events)));
        group.bench_function(format!("fixed point, {name}, {steps} steps"), |b| {
            b.iter(|| net.run(&input, steps).expect("runs").class)
        });
        group.bench_function(format!("float reference, {name}, {steps} steps"), |b| {
            b.iter(|| network.simulate(&input, usize::from(steps)).class)
        });
    }
    group.finish();
}

criterion_group!(benches, inference);
criterion_main!(benches);
