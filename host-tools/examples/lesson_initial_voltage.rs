//! How much of the lesson's spiking accuracy depends on where the neurons' voltages start.
//!
//! ```text
//! cargo run --release -p picospike-host --example lesson_initial_voltage -- DIR DATA [SAMPLES] [STEPS]
//! ```
//!
//! `DIR` holds `plain.json` and `regularized.json` from `picospike lesson --out DIR`; `DATA` is
//! the lesson's `--data` (its test part is scored, the first `SAMPLES`, default 400, at `STEPS`
//! steps, default 30). For each of the lesson's four conversions (synapse 10 ms, rates x10)
//! prints the float reference's spiking accuracy starting at rest (as the runtime and
//! `picospike lesson` do) and starting from voltages drawn once per neuron from U(0, 1) (seed 0),
//! which is what Nengo's `SpikingRectifiedLinear` does, and the mean spikes per hidden neuron.

use std::path::Path;

use anyhow::{Context, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use picospike_host::commands::limit;
use picospike_host::data::Dataset;
use picospike_host::model_file::load_network;
use picospike_host::recipe::{to_spiking, ConvertOptions};
use picospike_host::reference::argmax;
use picospike_host::reference::FloatNetwork;
use picospike_host::source::{DataSpec, Split};

/// Accuracy at the last step and mean spikes per hidden neuron per inference.
fn score(
    net: &FloatNetwork,
    data: &Dataset,
    steps: usize,
    start: Option<&[Vec<f64>]>,
) -> (f64, f64) {
    let per_sample: Vec<(bool, f64)> = data
        .images
        .par_iter()
        .zip(&data.labels)
        .map(|(image, &label)| {
            let mut sim = net.simulator(image);
            if let Some(v) = start {
                sim = sim.with_initial_voltages(|l, i| v[l][i]);
            }
            let mut predicted = 0;
            for _ in 0..steps {
                sim.step();
                predicted = argmax(sim.outputs());
            }
            let run = sim.run();
            let hidden = &run.neuron_spikes[..run.neuron_spikes.len().saturating_sub(1)];
            let (spikes, neurons) = hidden.iter().fold((0u64, 0usize), |(s, n), layer| {
                (
                    s + layer.iter().map(|&x| u64::from(x)).sum::<u64>(),
                    n + layer.len(),
                )
            });
            (
                predicted == usize::from(label),
                spikes as f64 / neurons.max(1) as f64,
            )
        })
        .collect();
    let n = per_sample.len().max(1) as f64;
    (
        per_sample.iter().filter(|(ok, _)| *ok).count() as f64 / n,
        per_sample.iter().map(|(_, s)| s).sum::<f64>() / n,
    )
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(dir), Some(data)) = (args.first(), args.get(1)) else {
        anyhow::bail!("usage: lesson_initial_voltage DIR DATA [SAMPLES] [STEPS]");
    };
    let samples: usize = args.get(2).map_or(Ok(400), |s| s.parse())?;
    let steps: u16 = args.get(3).map_or(Ok(30), |s| s.parse())?;
    let dir = Path::new(dir);
    let plain = load_network(&dir.join("plain.json")).context("plain.json")?;
    let regularized = load_network(&dir.join("regularized.json")).context("regularized.json")?;
    let test = limit(
        DataSpec::new(data).load_test(Split::Seeded, None)?,
        Some(samples),
    );
    let base = ConvertOptions {
        synapse_tau: None,
        output_synapse_tau: None,
        scale_firing_rates: 1.0,
        timesteps: steps,
    };
    let filtered = ConvertOptions {
        synapse_tau: Some(0.01),
        output_synapse_tau: Some(0.01),
        ..base
    };
    let rows = [
        ("naive swap", &plain, base),
        ("+ synapse 10 ms", &plain, filtered),
        (
            "+ firing rates x10",
            &plain,
            ConvertOptions {
                scale_firing_rates: 10.0,
                ..filtered
            },
        ),
        ("rate-regularized, + synapse", &regularized, filtered),
    ];
    println!(
        "{:<30} {:>12} {:>12} {:>14} {:>14}",
        "row", "from rest", "from U(0,1)", "spikes (rest)", "spikes (U)"
    );
    for (name, net, options) in rows {
        let spiking = to_spiking(net, &options);
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let start: Vec<Vec<f64>> = spiking
            .layers
            .iter()
            .map(|l| (0..l.outputs).map(|_| rng.random_range(0.0..1.0)).collect())
            .collect();
        let (rest, rest_spikes) = score(&spiking, &test, usize::from(steps), None);
        let (uniform, uniform_spikes) = score(&spiking, &test, usize::from(steps), Some(&start));
        println!(
            "{name:<30} {:>11.2}% {:>11.2}% {rest_spikes:>14.2} {uniform_spikes:>14.2}",
            100.0 * rest,
            100.0 * uniform
        );
    }
    println!("({} test samples, {steps} steps)", test.len());
    Ok(())
}
