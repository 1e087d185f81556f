//! `picospike demo`: the whole recipe on the built-in 8x8 digits: train, convert, quantize,
//! export, report, plot.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::Args;
use serde::Serialize;
use serde_json::json;

use super::report::{report_json, stage_table, write_plots, PLOT_FILES};
use super::{create_dir, dir_files, print_stdout, train_network, warn, Result};
use crate::model_file;
use crate::output;
use crate::quantized;
use crate::recipe::{self, ConvertOptions, StageReport};
use crate::source::DataSpec;
use crate::train::{NeuronKind, TrainConfig};

/// The files `demo` writes into its directory, besides the plots.
pub const OUT_FILES: [&str; 4] = ["network.json", "model.pspk", "model.rs", "report.json"];

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

/// The firing-rate scales the demo tries (NengoDL's `scale_firing_rates`), smallest first.
///
/// Scaling by `k` multiplies every spiking layer's input by `k` and divides its amplitude by
/// `k`: more spikes per step carry the same signal, so fewer steps may do. For LIF neurons only
/// the scales that keep `k * max_rate` within the refractory ceiling `1 / tau_ref` are tried
/// (the preset's 200 Hz and 2 ms allow up to 2.5); beyond it the neurons saturate.
pub const RATE_SCALES: [f32; 4] = [1.0, 1.5, 2.0, 2.5];

/// One rate scale of the demo's sweep.
#[derive(Clone, Debug, Serialize)]
pub struct ScaleTrial {
    /// The rate scale.
    pub scale: f32,
    /// Fixed-point accuracy after all the conversion's steps.
    pub final_accuracy: f64,
    /// Whether that accuracy is within [`STEP_TOLERANCE`] of the unscaled network's.
    pub eligible: bool,
    /// The fewest steps whose accuracy is within [`STEP_TOLERANCE`] of `final_accuracy`.
    pub steps: usize,
    /// Fixed-point accuracy at `steps`.
    pub accuracy: f64,
}

impl ScaleTrial {
    /// Whether the device should run this trial rather than `best`, a smaller scale: it must
    /// be eligible and need fewer steps (on a tie the smaller scale spikes less).
    pub fn beats(&self, best: &ScaleTrial) -> bool {
        self.eligible && self.steps < best.steps
    }
}

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
    /// The stage report of the exported (picked) rate scale.
    #[serde(skip)]
    pub report: StageReport,
    /// The rate scales tried, in [`RATE_SCALES`] order.
    pub trials: Vec<ScaleTrial>,
    /// The exported model's trial: its rate scale, and the step count it runs at (picked from
    /// the accuracy-vs-steps curve) with the fixed-point accuracy there.
    pub device: ScaleTrial,
    /// Files written.
    pub files: Vec<PathBuf>,
}

/// `picospike demo`: the whole recipe on the built-in digits, into `out`; `arch` replaces the
/// preset's dense network (`train --arch` form).
///
/// After training, the network is converted at every rate scale of [`RATE_SCALES`] that its
/// neurons allow, each for 30 steps. A scale is eligible when its final accuracy is within
/// [`STEP_TOLERANCE`] of the unscaled network's; each runs at the fewest steps within the same
/// tolerance of its own final accuracy; the exported model is the eligible scale with the
/// fewest steps (the smaller scale on a tie), see [`ScaleTrial::beats`].
///
/// # Errors
/// A one-line error naming what failed (a bad `arch` before anything is written).
pub fn demo(out: &Path, seed: u64, arch: Option<&str>, progress: bool) -> Result<DemoSummary> {
    // Every output before the training.
    let files = [dir_files(out, &OUT_FILES), dir_files(out, &PLOT_FILES)].concat();
    output::check_plan(&[], &files, &[out.to_owned()])?;
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
    let outcome = train_network(&train_set, &config)?;
    create_dir(out)?;
    let neuron = &config.neuron;
    // The scaled maximum rate as a fraction of the LIF ceiling `1 / tau_ref` (with a margin
    // for rounding: 2.5 x 200 Hz with 2 ms is exactly the ceiling).
    let within_ceiling = |scale: f32| match neuron.kind {
        NeuronKind::Lif => scale * neuron.max_rate * neuron.tau_ref <= 1.0 + 1e-6,
        NeuronKind::Relu => true,
    };
    let convert = |scale: f32, reference: Option<f64>| {
        let options = ConvertOptions {
            scale_firing_rates: scale,
            ..options
        };
        let (spiking, _, report) =
            recipe::convert_and_check(&outcome.network, &test_set, &options, progress)?;
        let curve = &report.spiking_fixed.accuracy_by_step;
        let final_accuracy = curve.last().copied().unwrap_or(0.0);
        let steps = fewest_steps(curve, STEP_TOLERANCE).max(1);
        let trial = ScaleTrial {
            scale,
            final_accuracy,
            eligible: final_accuracy >= reference.unwrap_or(final_accuracy) - STEP_TOLERANCE,
            steps,
            accuracy: curve.get(steps - 1).copied().unwrap_or(0.0),
        };
        Ok::<_, super::CommandError>((trial, spiking, report))
    };
    // The unscaled network first: the reference of eligibility.
    let (mut trial, mut spiking, mut report) = convert(1.0, None)?;
    let reference = trial.final_accuracy;
    let mut trials = vec![trial.clone()];
    for scale in RATE_SCALES.into_iter().filter(|&k| k > 1.0) {
        if !within_ceiling(scale) {
            break;
        }
        let candidate = convert(scale, Some(reference))?;
        trials.push(candidate.0.clone());
        if candidate.0.beats(&trial) {
            (trial, spiking, report) = candidate;
        }
    }
    spiking.input.timesteps = u16::try_from(trial.steps).unwrap_or(options.timesteps);
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
    json["device"] = json!({
        "steps": trial.steps,
        "accuracy": trial.accuracy,
        "tolerance": STEP_TOLERANCE,
        "rate_scale": trial.scale,
        "rate_scales": trials,
    });
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
        trials,
        device: trial,
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
    let final_steps = summary.report.spiking_fixed.accuracy_by_step.len();
    let mut text = String::new();
    let _ = writeln!(
        text,
        "rate scale  accuracy at {final_steps} steps  eligible  fewest steps within {:.1} pp",
        STEP_TOLERANCE * 100.0
    );
    for t in &summary.trials {
        let _ = writeln!(
            text,
            "x{:<10} {:>20.2}%  {:<8}  {} ({:.2}%)",
            t.scale,
            t.final_accuracy * 100.0,
            if t.eligible { "yes" } else { "no" },
            t.steps,
            t.accuracy * 100.0
        );
    }
    let _ = writeln!(text);
    text += &stage_table(&summary.report);
    let _ = writeln!(
        text,
        "model.pspk: rates x{}, runs at {} steps: {:.2}% fixed point (the fewest steps within \
         {:.1} pp of the accuracy at {final_steps} steps, over the rate scales within {:.1} pp of \
         the unscaled network's)",
        summary.device.scale,
        summary.device.steps,
        summary.device.accuracy * 100.0,
        STEP_TOLERANCE * 100.0,
        STEP_TOLERANCE * 100.0,
    );
    for warning in &summary.report.warnings {
        warn(warning);
    }
    let _ = writeln!(
        text,
        "\nwrote, in {:.0} s:",
        started.elapsed().as_secs_f64()
    );
    for file in &summary.files {
        let _ = writeln!(text, "  {}", file.display());
    }
    print_stdout(&text)
}

#[cfg(test)]
mod tests {
    use super::{fewest_steps, ScaleTrial};

    fn trial(scale: f32, eligible: bool, steps: usize) -> ScaleTrial {
        ScaleTrial {
            scale,
            final_accuracy: 0.98,
            eligible,
            steps,
            accuracy: 0.98,
        }
    }

    #[test]
    fn a_scale_replaces_a_smaller_one_only_if_eligible_and_faster() {
        let unscaled = trial(1.0, true, 6);
        assert!(trial(2.0, true, 3).beats(&unscaled));
        assert!(!trial(2.0, false, 3).beats(&unscaled));
        assert!(!trial(2.0, true, 6).beats(&unscaled));
        assert!(!trial(2.0, true, 7).beats(&unscaled));
    }

    #[test]
    fn fewest_steps_within_the_tolerance_of_the_last_step() {
        let curve = [0.2, 0.9, 0.985, 0.99, 0.988, 0.989];
        assert_eq!(fewest_steps(&curve, 0.005), 3);
        assert_eq!(fewest_steps(&curve, 0.0), 4);
        assert_eq!(fewest_steps(&curve, 1.0), 1);
        assert_eq!(fewest_steps(&[], 0.005), 0);
    }
}
