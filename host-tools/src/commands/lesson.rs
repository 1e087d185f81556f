//! `picospike lesson`: NengoDL's keras-to-snn lesson with spiking ReLU neurons.

use std::fmt::Write as _;
use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

use super::report::percent;
use super::{at_least_one, limit, non_negative, positive, steps, Result, TrainDataArgs};
use crate::model_file;
use crate::output;
use crate::recipe::{self, ConvertOptions};
use crate::source::DataSpec;
use crate::train::{self, TrainConfig};

/// Options of `picospike lesson`.
#[derive(Args, Clone, Debug)]
pub struct LessonArgs {
    /// The data to train and test on.
    #[command(flatten)]
    pub data: TrainDataArgs,
    /// Evaluate only the first N test samples.
    #[arg(long, value_parser = at_least_one)]
    pub samples: Option<usize>,
    /// Firing rate (Hz) of a unit activation in the plain rate network.
    #[arg(long, default_value_t = 10.0, value_parser = positive)]
    pub max_rate: f32,
    /// Synapse (s) of the filtered stages.
    #[arg(long, default_value_t = 0.01, value_parser = non_negative)]
    pub synapse: f32,
    /// Firing-rate scale of the third stage.
    #[arg(long, default_value_t = 10.0, value_parser = positive)]
    pub scale_firing_rates: f32,
    /// Rate-regularization target (Hz) of the last stage.
    #[arg(long, default_value_t = 250.0, value_parser = positive)]
    pub rate_target: f32,
    /// Weight of the rate-regularization loss.
    #[arg(long, default_value_t = 1e-3, value_parser = non_negative)]
    pub rate_weight: f32,
    /// Time steps per inference.
    #[arg(long, default_value_t = 30, value_parser = steps())]
    pub timesteps: u16,
    /// Epochs (default: the data set's preset).
    #[arg(long, value_parser = at_least_one)]
    pub epochs: Option<usize>,
    /// Training seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Also write the table as JSON here (atomically).
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// No progress bars.
    #[arg(short, long)]
    pub quiet: bool,
}

/// One row of the NengoDL lesson table.
#[derive(Clone, Debug, Serialize)]
pub struct LessonRow {
    /// What this row changes.
    pub stage: String,
    /// Rate network accuracy (0..=1).
    pub rate_float: f64,
    /// Spiking accuracy in the float reference (0..=1).
    pub spiking_float: f64,
    /// Spiking accuracy in the fixed-point runtime (0..=1).
    pub spiking_fixed: f64,
    /// Mean firing rate of each hidden layer in the fixed-point run (Hz).
    pub mean_rate_hz: Vec<f64>,
}

/// The knobs of the lesson's stages.
#[derive(Clone, Copy, Debug)]
pub struct LessonOptions {
    /// Synapse (s) of the filtered stages.
    pub synapse: f32,
    /// Firing-rate scale of the third stage.
    pub scale: f32,
    /// Rate-regularization target (Hz) of the last stage.
    pub rate_target: f32,
    /// Weight of the rate-regularization loss.
    pub rate_weight: f32,
    /// Time steps per inference.
    pub timesteps: u16,
}

/// `picospike lesson`: NengoDL's keras-to-snn lesson on a data set with spiking ReLU neurons:
/// naive swap, + synapse, + firing-rate scaling, + rate-regularized training.
///
/// `config` is the training preset (its neuron kind is forced to ReLU); `max_rate` is the rate
/// of a unit activation, low by default as in a plain Keras network.
///
/// # Errors
/// A one-line error if the data do not load or training fails.
pub fn lesson(
    spec: &DataSpec,
    mut config: TrainConfig,
    options: &LessonOptions,
    samples: Option<usize>,
    progress: bool,
) -> Result<(Vec<LessonRow>, usize)> {
    let LessonOptions {
        synapse,
        scale,
        rate_target,
        rate_weight,
        timesteps,
    } = *options;
    let (train_set, test_set) = spec.load()?;
    let test_set = limit(test_set, samples);
    config.neuron.kind = train::NeuronKind::Relu;
    config.progress = progress;
    config.timesteps = timesteps;
    let plain = train::train(&train_set, &config)?;
    let regularized_config = TrainConfig {
        rate_reg: Some(train::RateRegularization {
            target_hz: rate_target,
            weight: rate_weight,
        }),
        ..config.clone()
    };
    let regularized = train::train(&train_set, &regularized_config)?;
    let base = ConvertOptions {
        synapse_tau: None,
        output_synapse_tau: None,
        scale_firing_rates: 1.0,
        timesteps,
    };
    let filtered = ConvertOptions {
        synapse_tau: Some(synapse),
        output_synapse_tau: Some(synapse),
        ..base
    };
    let stages = [
        (
            "naive swap to spiking ReLU".to_string(),
            &plain.network,
            base,
        ),
        (
            format!("+ synapse {:.0} ms", synapse * 1000.0),
            &plain.network,
            filtered,
        ),
        (
            format!("+ firing rates x{scale}"),
            &plain.network,
            ConvertOptions {
                scale_firing_rates: scale,
                ..filtered
            },
        ),
        (
            format!("trained with rate regularization ({rate_target:.0} Hz), + synapse"),
            &regularized.network,
            filtered,
        ),
    ];
    let mut rows = Vec::new();
    for (stage, network, options) in stages {
        let (_, _, report) = recipe::convert_and_check(network, &test_set, &options, progress)?;
        rows.push(LessonRow {
            stage,
            rate_float: report.rate_float,
            spiking_float: report.spiking_float.accuracy,
            spiking_fixed: report.spiking_fixed.accuracy,
            mean_rate_hz: report
                .spiking_fixed
                .layers
                .iter()
                .map(|l| l.mean_rate_hz)
                .collect(),
        });
    }
    Ok((rows, test_set.len()))
}

/// The lesson table as text.
pub fn lesson_table(rows: &[LessonRow], timesteps: u16, samples: usize) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "{:<55} {:>8} {:>14} {:>14} {:>10}",
        "stage", "rate", "spiking float", "spiking fixed", "rate (Hz)"
    );
    for r in rows {
        let rates: Vec<String> = r.mean_rate_hz.iter().map(|x| format!("{x:.0}")).collect();
        let _ = writeln!(
            t,
            "{:<55} {:>8} {:>14} {:>14} {:>10}",
            r.stage,
            percent(r.rate_float),
            percent(r.spiking_float),
            percent(r.spiking_fixed),
            rates.join(",")
        );
    }
    let _ = writeln!(t, "({samples} test samples, {timesteps} steps of 1 ms)");
    t
}

/// Runs `picospike lesson`.
///
/// # Errors
/// A [`super::CommandError`] naming the file or option.
pub fn run(args: &LessonArgs) -> Result<()> {
    let spec = args.data.spec()?;
    let mut config = if spec.is_idx_dir() {
        TrainConfig::mnist()
    } else {
        TrainConfig::digits()
    };
    config.neuron.max_rate = args.max_rate;
    config.seed = args.seed;
    if let Some(epochs) = args.epochs {
        config.epochs = epochs;
    }
    let (rows, samples) = lesson(
        &spec,
        config,
        &LessonOptions {
            synapse: args.synapse,
            scale: args.scale_firing_rates,
            rate_target: args.rate_target,
            rate_weight: args.rate_weight,
            timesteps: args.timesteps,
        },
        args.samples,
        !args.quiet,
    )?;
    let table = lesson_table(&rows, args.timesteps, samples);
    // With the JSON on standard output, the table goes to standard error.
    if args.json.as_deref().is_some_and(output::is_stdout) {
        eprint!("{table}");
    } else {
        print!("{table}");
    }
    if let Some(path) = &args.json {
        model_file::save_json(path, &rows)?;
    }
    Ok(())
}
