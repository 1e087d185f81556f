//! The picospike half of `host-tools/bench/nengo_vs_picospike.sh`: time the fixed-point runtime
//! (and the float reference) on the digits demo network, one thread, and write what the Nengo
//! half needs to build and run the same network.
//!
//! ```text
//! cargo run --release -p picospike-host --example bench_digits -- OUT_DIR [--images N] [--repeats R]
//! ```
//!
//! Trains the digits demo network with `picospike demo`'s own code (seed 0) into `OUT_DIR/demo`
//! unless `OUT_DIR/demo` holds its network.json and a model.pspk this runtime loads, then
//! writes:
//!
//! - `OUT_DIR/spiking_network.json`: the spiking float network (`FloatNetwork`: Nengo's gain
//!   and bias folded into weights and biases, synapses set as the demo converts it);
//! - `OUT_DIR/images.u8`: the first N images of the built-in digits (1,797 rows), 64 bytes each;
//! - `OUT_DIR/picospike.json`: steps, ms per image of every repeat and their median for the
//!   fixed-point runtime (`Network::run`: reset, input, steps, readout) and for the float
//!   reference, each image's class from both, and the float reference's readout values.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde_json::json;

use picospike_host::commands::demo::demo;
use picospike_host::data::builtin_digits;
use picospike_host::model_file::{load_network, save_json};
use picospike_host::recipe::{to_spiking, ConvertOptions};
use picospike_runtime::{Model, Network};

struct Args {
    out: PathBuf,
    images: usize,
    repeats: usize,
}

fn parse_args() -> Result<Args> {
    let mut args = std::env::args().skip(1);
    let mut parsed = Args {
        out: PathBuf::new(),
        images: 1000,
        repeats: 9,
    };
    let mut out = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--images" => parsed.images = args.next().context("--images N")?.parse()?,
            "--repeats" => parsed.repeats = args.next().context("--repeats R")?.parse()?,
            _ if out.is_none() && !arg.starts_with('-') => out = Some(PathBuf::from(arg)),
            _ => bail!("usage: bench_digits OUT_DIR [--images N] [--repeats R]"),
        }
    }
    parsed.out = out.context("usage: bench_digits OUT_DIR [--images N] [--repeats R]")?;
    if parsed.images == 0 || parsed.repeats == 0 {
        bail!("--images and --repeats must be at least 1");
    }
    Ok(parsed)
}

/// Median of `values` (the upper middle one for an even count).
fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

/// Milliseconds per image of `repeats` passes of `run` over `images`, and the last pass's classes.
fn time_passes(
    images: &[Vec<u8>],
    repeats: usize,
    mut run: impl FnMut(&[u8]) -> usize,
) -> (Vec<f64>, Vec<usize>) {
    let mut passes = Vec::with_capacity(repeats);
    let mut classes = Vec::new();
    for _ in 0..repeats {
        classes.clear();
        let start = Instant::now();
        for image in images {
            classes.push(run(image));
        }
        passes.push(start.elapsed().as_secs_f64() * 1000.0 / images.len() as f64);
    }
    (passes, classes)
}

/// The demo's model blob from `dir`, training the demo there first unless a model that this
/// runtime loads (and its network.json) is already there.
fn ensure_demo(dir: &Path) -> Result<Vec<u8>> {
    let cached = std::fs::read(dir.join("model.pspk")).ok().filter(|blob| {
        dir.join("network.json").is_file() && Model::<'_, 8>::from_bytes(blob).is_ok()
    });
    if let Some(blob) = cached {
        return Ok(blob);
    }
    eprintln!(
        "training the digits demo network (picospike demo, seed 0) into {}",
        dir.display()
    );
    demo(dir, 0, None, false).context("picospike demo")?;
    std::fs::read(dir.join("model.pspk")).context("demo/model.pspk")
}

fn main() -> Result<()> {
    let args = parse_args()?;
    let demo_dir = args.out.join("demo");
    let blob = ensure_demo(&demo_dir)?;
    let model: Model = Model::from_bytes(&blob).context("demo/model.pspk does not load")?;
    let steps = model.default_timesteps();
    let trained = load_network(&demo_dir.join("network.json"))?;
    // As the demo converts it (its ConvertOptions are the defaults with its step count).
    let spiking = to_spiking(
        &trained,
        &ConvertOptions {
            timesteps: steps,
            ..ConvertOptions::default()
        },
    );
    save_json(&args.out.join("spiking_network.json"), &spiking)?;

    let digits = builtin_digits();
    if args.images > digits.len() {
        bail!(
            "--images {}: the digits have {} images",
            args.images,
            digits.len()
        );
    }
    let images = &digits.images[..args.images];
    std::fs::write(args.out.join("images.u8"), images.concat()).context("images.u8")?;

    let mut state = vec![0i32; model.state_words()];
    let mut network = Network::new(&model, &mut state).context("state")?;
    let (fixed_ms, fixed_classes) = time_passes(images, args.repeats, |image| {
        network
            .run(image, steps)
            .map(|p| usize::from(p.class))
            .unwrap_or(usize::MAX)
    });
    let (float_ms, float_classes) = time_passes(images, args.repeats.min(3), |image| {
        spiking.simulate(image, usize::from(steps)).class
    });
    // The float reference's readout per image, to check the Nengo network's alignment.
    let float_outputs: Vec<Vec<f64>> = images
        .iter()
        .map(|image| spiking.simulate(image, usize::from(steps)).outputs)
        .collect();
    let report = json!({
        "steps": steps,
        "images": images.len(),
        "fixed_ms_per_image": median(&fixed_ms),
        "fixed_ms_passes": fixed_ms,
        "float_ms_per_image": median(&float_ms),
        "float_ms_passes": float_ms,
        "fixed_classes": fixed_classes,
        "float_classes": float_classes,
        "float_outputs": float_outputs,
        "labels": &digits.labels[..args.images],
    });
    save_json(&args.out.join("picospike.json"), &report)?;
    println!(
        "picospike fixed point: {:.4} ms/image (median of {}), float reference {:.3} ms/image, {} steps, {} images",
        median(&fixed_ms),
        fixed_ms.len(),
        median(&float_ms),
        steps,
        images.len()
    );
    Ok(())
}
