//! `picospike demo`: the whole recipe on the built-in 8x8 digits: train, convert, quantize,
//! export, report, plot.

use std::path::{Path, PathBuf};

use clap::Args;
use serde::Serialize;
use serde_json::json;

use super::report::{report_json, stage_table, write_plots};
use super::{create_dir, Result};
use crate::model_file;
use crate::quantized;
use crate::recipe::{self, ConvertOptions, StageReport};
use crate::source::DataSpec;
use crate::train::{self, TrainConfig};

/// Options of `picospike demo`.
#[derive(Args, Clone, Debug)]
pub struct DemoArgs {
    /// Directory for the model, report.json and the plots.
    #[arg(long, default_value = "out/demo")]
    pub out: PathBuf,
    /// Training seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// The network instead of the digits preset's 64-100-10, in `train --arch` form; the digits
    /// are 8x8x1 images, so e.g. `conv8k3,dense10` is a convolutional demo.
    #[arg(long)]
    pub arch: Option<String>,
    /// No progress bars.
    #[arg(short, long)]
    pub quiet: bool,
}

/// Accuracy the demo gives up for speed: the exported model runs at the fewest steps whose
/// fixed-point accuracy is within this of the accuracy after all the conversion's steps.
pub const STEP_TOLERANCE: f64 = 0.005;

/// The fewest steps (1-based) whose accuracy is within `tolerance` of the last step's.
///
/// `accuracy_by_step[s - 1]` is the accuracy after `s` steps; an empty curve gives 0.
pub fn fewest_steps(accuracy_by_step: &[f64], tolerance: f64) -> usize {
    let Some(&last) = accuracy_by_step.last() else {
        return 0;
    };
    accuracy_by_step
        .iter()
        .position(|&a| a >= last - tolerance)
        .map_or(accuracy_by_step.len(), |i| i + 1)
}

/// Everything `picospike demo` produced.
#[derive(Debug, Serialize)]
pub struct DemoSummary {
    /// The stage report.
    #[serde(skip)]
    pub report: StageReport,
    /// The step count the exported model runs at, picked from the accuracy-vs-steps curve.
    pub device_steps: usize,
    /// Fixed-point accuracy at `device_steps`.
    pub device_accuracy: f64,
    /// Files written.
    pub files: Vec<PathBuf>,
}

/// `picospike demo`: the whole recipe on the built-in digits, into `out`; `arch` replaces the
/// preset's dense network (`train --arch` form).
///
/// # Errors
/// A one-line error naming what failed (a bad `arch` before anything is written).
pub fn demo(out: &Path, seed: u64, arch: Option<&str>, progress: bool) -> Result<DemoSummary> {
    let spec = DataSpec::digits();
    let (train_set, test_set) = spec.load()?;
    let mut config = TrainConfig::digits();
    if let Some(arch) = arch {
        config.arch = Some(arch.to_owned());
    }
    config.seed = seed;
    config.progress = progress;
    let options = ConvertOptions {
        timesteps: 30,
        ..ConvertOptions::default()
    };
    config.timesteps = options.timesteps;
    let outcome = train::train(&train_set, &config)?;
    create_dir(out)?;
    let (mut spiking, _, report) =
        recipe::convert_and_check(&outcome.network, &test_set, &options, progress)?;
    // The device runs at the fewest steps that keep the accuracy (the model's default count).
    let curve = &report.spiking_fixed.accuracy_by_step;
    let device_steps = fewest_steps(curve, STEP_TOLERANCE).max(1);
    let device_accuracy = curve.get(device_steps - 1).copied().unwrap_or(0.0);
    spiking.input.timesteps = u16::try_from(device_steps).unwrap_or(options.timesteps);
    let (blob, _) = quantized::build_blob(&spiking)?;
    let mut files = Vec::new();
    let network_path = out.join("network.json");
    model_file::save_network(&network_path, &outcome.network)?;
    files.push(network_path);
    quantized::write_rust_module(out, &blob, Some(&test_set), 100)?;
    files.push(out.join("model.pspk"));
    files.push(out.join("model.rs"));
    let mut json = report_json(&report);
    json["data"] = json!({ "source": "digits (built in)", "train_samples": train_set.len(), "test_samples": test_set.len(), "split_seed": spec.split_seed });
    json["training"] =
        json!({ "seconds": outcome.seconds, "epochs": outcome.history.len(), "seed": seed });
    json["device"] =
        json!({ "steps": device_steps, "accuracy": device_accuracy, "tolerance": STEP_TOLERANCE });
    let report_path = out.join("report.json");
    model_file::save_json(&report_path, &json)?;
    files.push(report_path);
    files.extend(write_plots(
        out,
        Some(&outcome),
        &report,
        &blob,
        &test_set.images[0],
    )?);
    Ok(DemoSummary {
        report,
        device_steps,
        device_accuracy,
        files,
    })
}

/// Runs `picospike demo`.
///
/// # Errors
/// A [`super::CommandError`] naming what failed.
pub fn run(args: &DemoArgs) -> Result<()> {
    let started = std::time::Instant::now();
    let summary = demo(&args.out, args.seed, args.arch.as_deref(), !args.quiet)?;
    print!("{}", stage_table(&summary.report));
    println!(
        "model.pspk runs at {} steps: {:.2}% fixed point (the fewest steps within {:.1} pp of the \
         accuracy at {} steps)",
        summary.device_steps,
        summary.device_accuracy * 100.0,
        STEP_TOLERANCE * 100.0,
        summary.report.spiking_fixed.accuracy_by_step.len()
    );
    for warning in &summary.report.warnings {
        eprintln!("warning: {warning}");
    }
    println!("\nwrote, in {:.0} s:", started.elapsed().as_secs_f64());
    for file in &summary.files {
        println!("  {}", file.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::fewest_steps;

    #[test]
    fn fewest_steps_within_the_tolerance_of_the_last_step() {
        let curve = [0.2, 0.9, 0.985, 0.99, 0.988, 0.989];
        assert_eq!(fewest_steps(&curve, 0.005), 3);
        assert_eq!(fewest_steps(&curve, 0.0), 4);
        assert_eq!(fewest_steps(&curve, 1.0), 1);
        assert_eq!(fewest_steps(&[], 0.005), 0);
    }
}
