//! `picospike lesson`: NengoDL's keras-to-snn lesson with spiking ReLU neurons.
//!
//! Four rows, as in NengoDL's example: the plain network swapped to spiking ReLU, the same with
//! a synapse, the same with firing rates scaled, and a second network trained with firing-rate
//! regularization converted with the synapse. On an IDX directory (MNIST) the default is
//! NengoDL's own recipe ([`LessonTraining::keras_to_snn`]); on the digits or a CSV file it is
//! the data set's dense preset with ReLU neurons, which trains in seconds. On an IDX directory
//! both networks see raw pixel values 0..255 by default (`--input-scale raw`), as NengoDL's
//! example, which does not normalize MNIST; elsewhere the data set's full scale means 1.0.

use std::fmt::Write as _;
use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

use super::report::percent;
use super::{
    at_least_one, create_dir, data_inputs, dir_files, epochs, limit, non_negative, positive,
    print_stdout, steps, train_network, Result, TrainDataArgs,
};
use crate::model_file;
use crate::output;
use crate::recipe::{self, ConvertOptions};
use crate::reference::FloatNetwork;
use crate::source::DataSpec;
use crate::train::{self, OptimizerKind, RateRegularization, TrainConfig};

/// NengoDL's keras-to-snn network: 28x28x1 -> Conv2D 32 3x3 (valid, ReLU) -> Conv2D 64 3x3
/// stride 2 (ReLU) -> Dense 10.
pub const KERAS_TO_SNN_ARCH: &str = "conv32k3,conv64k3s2,dense10";

/// Test images NengoDL's example scores (`n_test`), the lesson's default on an IDX directory.
pub const KERAS_TO_SNN_SAMPLES: usize = 400;

/// What a raw pixel value means to the networks of the lesson.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum InputScale {
    /// The raw value itself (MNIST 0..255), as NengoDL's example, which feeds
    /// `mnist.load_data()` unnormalized: activations, and so rates in Keras units, are up to
    /// 255 times those of unit inputs.
    Raw,
    /// The data set's full scale means 1.0 (MNIST 255 -> 1.0, digits 16 -> 1.0).
    Unit,
}

/// Options of `picospike lesson`.
#[derive(Args, Clone, Debug)]
pub struct LessonArgs {
    /// The data to train and test on.
    #[command(flatten)]
    pub data: TrainDataArgs,
    /// The network, readout last (grammar as `picospike train --arch`; default: NengoDL's
    /// `conv32k3,conv64k3s2,dense10` on an IDX directory, the dense preset otherwise; e.g.
    /// `dense256,dense10` for a dense MNIST network).
    #[arg(long)]
    pub arch: Option<String>,
    /// Evaluate only the first N test samples (default: 400 on an IDX directory, as NengoDL;
    /// all otherwise).
    #[arg(long, value_parser = at_least_one)]
    pub samples: Option<usize>,
    /// Firing rate (Hz) of a unit activation in both trained networks (default: 1 on an IDX
    /// directory, NengoDL's converter without scaling; 10 otherwise).
    #[arg(long, value_parser = positive)]
    pub max_rate: Option<f32>,
    /// Firing rate (Hz) of a unit activation in the rate-regularized network only (default: as
    /// `--max-rate`). A higher value lets the regularizer reach its target in fewer steps: at
    /// Keras units (1) and learning rate 1e-3 the rates barely move in 600 steps
    /// (`host-tools/RESULTS.md`, section 3a).
    #[arg(long, value_parser = positive)]
    pub regularized_max_rate: Option<f32>,
    /// Input scale of both networks, training and conversion: `raw` feeds raw pixel values
    /// (MNIST 0..255, NengoDL's example; the model records `full_scale` 1), `unit` divides
    /// them by the data set's full scale (default: `raw` on an IDX directory, `unit` otherwise).
    #[arg(long, value_enum)]
    pub input_scale: Option<InputScale>,
    /// Synapse (s) of the filtered stages.
    #[arg(long, default_value_t = 0.01, value_parser = non_negative)]
    pub synapse: f32,
    /// Firing-rate scale of the third stage.
    #[arg(long, default_value_t = 10.0, value_parser = positive)]
    pub scale_firing_rates: f32,
    /// Rate-regularization target (Hz) of the last stage.
    #[arg(long, default_value_t = 250.0, value_parser = positive)]
    pub rate_target: f32,
    /// Weight of the rate-regularization loss (per hidden layer).
    #[arg(long, default_value_t = 1e-3, value_parser = non_negative)]
    pub rate_weight: f32,
    /// Time steps per inference.
    #[arg(long, default_value_t = 30, value_parser = steps())]
    pub timesteps: u16,
    /// Epochs of the plain network, 1..=100000 (default: 12 on an IDX directory, NengoDL's 600
    /// steps of 200 images; the preset's otherwise).
    #[arg(long, value_parser = epochs)]
    pub epochs: Option<usize>,
    /// Epochs of the rate-regularized network, 1..=100000 (default: as `--epochs`).
    #[arg(long, value_parser = epochs)]
    pub regularized_epochs: Option<usize>,
    /// Training seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Also write the table as JSON here (atomically).
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Also save the two trained networks in this directory (`plain.json`,
    /// `regularized.json`), so that `picospike convert` can reproduce or vary a row.
    #[arg(long)]
    pub out: Option<PathBuf>,
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
    /// Mean rate-mode firing rate of each hidden layer of the converted network (Hz): what
    /// NengoDL's probes show for the rate network and what the regularizer acts on.
    pub rate_mode_hz: Vec<f64>,
}

/// The lesson's table and what it cost.
#[derive(Clone, Debug, Serialize)]
pub struct Lesson {
    /// The four rows.
    pub rows: Vec<LessonRow>,
    /// Test samples scored.
    pub samples: usize,
    /// Steps per inference.
    pub timesteps: u16,
    /// Raw pixel value that meant 1.0 to both networks (1: raw inputs).
    pub full_scale: u16,
    /// Wall time of training the plain network (s).
    pub plain_train_s: f64,
    /// Wall time of training the rate-regularized network (s).
    pub regularized_train_s: f64,
    /// The plain network (rows 1-3).
    #[serde(skip)]
    pub plain: FloatNetwork,
    /// The rate-regularized network (row 4).
    #[serde(skip)]
    pub regularized: FloatNetwork,
}

/// The knobs of the lesson's stages.
#[derive(Clone, Copy, Debug)]
pub struct LessonOptions {
    /// Synapse (s) of the filtered stages.
    pub synapse: f32,
    /// Firing-rate scale of the third stage.
    pub scale: f32,
    /// Time steps per inference.
    pub timesteps: u16,
    /// What a raw pixel value means to both networks.
    pub input_scale: InputScale,
}

/// How the lesson trains its two networks (both with ReLU rate neurons).
#[derive(Clone, Debug, PartialEq)]
pub struct LessonTraining {
    /// The plain network of the first three rows.
    pub plain: TrainConfig,
    /// The network of the last row; its `rate_reg` is set.
    pub regularized: TrainConfig,
}

impl LessonTraining {
    /// NengoDL's keras-to-snn recipe on `train10k`.
    ///
    /// Both networks are Keras networks: ReLU with gain 1 and amplitude 1 (`max_rate` 1), so a
    /// rate in Hz *is* the activation, as in NengoDL's converter without `scale_firing_rates`.
    /// Plain: Adam, learning rate 1e-3 (constant), minibatch 200, no augmentation, no held-out
    /// part, 12 epochs of 10,000 images (the 600 steps of NengoDL's 2 epochs of 60,000).
    /// Regularized: trained from a fresh Keras initialization (NengoDL converts the untrained
    /// Keras model again) with RMSprop, learning rate 1e-3, minibatch 200, and
    /// `1e-3 * mean((rate_hz - 250)^2)` per hidden layer (NengoDL's `mse` on each conv layer's
    /// probe, loss weight 1e-3) added to the cross-entropy. NengoDL trains it 10 epochs of
    /// 60,000 (3000 steps); the default here is 12 epochs (600 steps) to keep the lesson short.
    pub fn keras_to_snn() -> Self {
        let plain = TrainConfig {
            arch: Some(KERAS_TO_SNN_ARCH.into()),
            neuron: train::NeuronParams {
                kind: train::NeuronKind::Relu,
                max_rate: 1.0,
                ..train::NeuronParams::default()
            },
            epochs: 12,
            batch_size: 200,
            optimizer: OptimizerKind::Adam,
            learning_rate: 1e-3,
            final_lr_fraction: 1.0,
            val_fraction: 0.0,
            augment_shift: 0,
            augment_rotate_deg: 0.0,
            augment_scale: 0.0,
            timesteps: 30,
            ..TrainConfig::digits()
        };
        let regularized = TrainConfig {
            optimizer: OptimizerKind::Rmsprop,
            rate_reg: Some(RateRegularization {
                target_hz: 250.0,
                weight: 1e-3,
            }),
            ..plain.clone()
        };
        LessonTraining { plain, regularized }
    }

    /// A preset's training for both networks (ReLU, `max_rate` 10), the regularized one with
    /// the same optimizer plus `1e-3 * mean((rate_hz - 250)^2)` per hidden layer.
    pub fn preset(mut config: TrainConfig) -> Self {
        config.neuron.kind = train::NeuronKind::Relu;
        config.neuron.max_rate = 10.0;
        let regularized = TrainConfig {
            rate_reg: Some(RateRegularization {
                target_hz: 250.0,
                weight: 1e-3,
            }),
            ..config.clone()
        };
        LessonTraining {
            plain: config,
            regularized,
        }
    }
}

/// `picospike lesson`: NengoDL's keras-to-snn lesson on a data set with spiking ReLU neurons:
/// naive swap, + synapse, + firing-rate scaling, + rate-regularized training.
///
/// # Errors
/// A one-line error if the data do not load or training fails.
pub fn lesson(
    spec: &DataSpec,
    training: &LessonTraining,
    options: &LessonOptions,
    samples: Option<usize>,
    progress: bool,
) -> Result<Lesson> {
    let LessonOptions {
        synapse,
        scale,
        timesteps,
        input_scale,
    } = *options;
    let (mut train_set, mut test_set) = spec.load()?;
    if input_scale == InputScale::Raw {
        // Raw value 1 means 1.0: the networks see 0..255 on MNIST, and the trained models
        // record full_scale 1, so conversion and the runtime feed the same values.
        train_set.full_scale = 1;
        test_set.full_scale = 1;
    }
    let test_set = limit(test_set, samples);
    let configure = |config: &TrainConfig| TrainConfig {
        progress,
        timesteps,
        ..config.clone()
    };
    let plain = train_network(&train_set, &configure(&training.plain))?;
    let regularized = train_network(&train_set, &configure(&training.regularized))?;
    let rate_target = training
        .regularized
        .rate_reg
        .map_or(0.0, |reg| reg.target_hz);
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
        let (spiking, _, report) =
            recipe::convert_and_check(network, &test_set, &options, progress)?;
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
            // Of the converted network, so that the scaled row shows its scaled rates.
            rate_mode_hz: hidden_rates(&spiking, &test_set.images),
        });
    }
    Ok(Lesson {
        rows,
        samples: test_set.len(),
        timesteps,
        full_scale: test_set.full_scale,
        plain_train_s: plain.seconds,
        regularized_train_s: regularized.seconds,
        plain: plain.network,
        regularized: regularized.network,
    })
}

/// Mean rate-mode rate of each hidden neuron layer (pools and the readout left out).
fn hidden_rates(network: &FloatNetwork, images: &[Vec<u8>]) -> Vec<f64> {
    let rates = crate::rate_float::mean_rates_hz(network, images);
    let hidden = network.layers.len().saturating_sub(1);
    rates
        .into_iter()
        .zip(&network.layers)
        .take(hidden)
        .filter(|(_, layer)| layer.kind.has_neurons())
        .map(|(rate, _)| rate)
        .collect()
}

/// The lesson table as text.
pub fn lesson_table(lesson: &Lesson) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "{:<55} {:>8} {:>14} {:>14} {:>16} {:>16}",
        "stage", "rate", "spiking float", "spiking fixed", "rate-mode Hz", "spiking Hz"
    );
    let join = |rates: &[f64]| {
        rates
            .iter()
            .map(|x| format!("{x:.0}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    for r in &lesson.rows {
        let _ = writeln!(
            t,
            "{:<55} {:>8} {:>14} {:>14} {:>16} {:>16}",
            r.stage,
            percent(r.rate_float),
            percent(r.spiking_float),
            percent(r.spiking_fixed),
            join(&r.rate_mode_hz),
            join(&r.mean_rate_hz),
        );
    }
    let _ = writeln!(
        t,
        "({} test samples, {} steps of 1 ms; input raw / {}; Hz per hidden layer; training {:.0} s plain, {:.0} s regularized)",
        lesson.samples,
        lesson.timesteps,
        lesson.full_scale,
        lesson.plain_train_s,
        lesson.regularized_train_s
    );
    t
}

/// The lesson's training for these options: NengoDL's recipe on an IDX directory, the preset
/// otherwise, then the command line's changes.
pub fn training(args: &LessonArgs, spec: &DataSpec) -> LessonTraining {
    let mut training = if spec.is_idx_dir() {
        LessonTraining::keras_to_snn()
    } else {
        LessonTraining::preset(TrainConfig::digits())
    };
    let plain_epochs = args.epochs.unwrap_or(training.plain.epochs);
    let regularized_epochs = args
        .regularized_epochs
        .or(args.epochs)
        .unwrap_or(training.regularized.epochs);
    for (config, epochs) in [
        (&mut training.plain, plain_epochs),
        (&mut training.regularized, regularized_epochs),
    ] {
        if let Some(arch) = &args.arch {
            config.arch = Some(arch.clone());
        }
        if let Some(max_rate) = args.max_rate {
            config.neuron.max_rate = max_rate;
        }
        config.epochs = epochs;
        config.seed = args.seed;
    }
    if let Some(max_rate) = args.regularized_max_rate {
        training.regularized.neuron.max_rate = max_rate;
    }
    training.regularized.rate_reg = Some(RateRegularization {
        target_hz: args.rate_target,
        weight: args.rate_weight,
    });
    training
}

/// Runs `picospike lesson`.
///
/// # Errors
/// A [`super::CommandError`] naming the file or option.
pub fn run(args: &LessonArgs) -> Result<()> {
    let spec = args.data.spec()?;
    let samples = args
        .samples
        .or(spec.is_idx_dir().then_some(KERAS_TO_SNN_SAMPLES));
    // Every output before the training, so that a bad path fails at once.
    let dirs: Vec<PathBuf> = args.out.iter().cloned().collect();
    let files: Vec<PathBuf> = args
        .json
        .iter()
        .cloned()
        .chain(
            dirs.iter()
                .flat_map(|d| dir_files(d, &["plain.json", "regularized.json"])),
        )
        .collect();
    output::check_plan(&data_inputs(&spec.source), &files, &dirs)?;
    let lesson = lesson(
        &spec,
        &training(args, &spec),
        &LessonOptions {
            synapse: args.synapse,
            scale: args.scale_firing_rates,
            timesteps: args.timesteps,
            input_scale: args.input_scale.unwrap_or(if spec.is_idx_dir() {
                InputScale::Raw
            } else {
                InputScale::Unit
            }),
        },
        samples,
        !args.quiet,
    )?;
    let table = lesson_table(&lesson);
    // With the JSON on standard output, the table goes to standard error.
    if args.json.as_deref().is_some_and(output::is_stdout) {
        let _ = std::io::Write::write_all(&mut std::io::stderr(), table.as_bytes());
    } else {
        print_stdout(&table)?;
    }
    if let Some(path) = &args.json {
        model_file::save_json(path, &lesson)?;
    }
    if let Some(dir) = &args.out {
        create_dir(dir)?;
        model_file::save_network(&dir.join("plain.json"), &lesson.plain)?;
        model_file::save_network(&dir.join("regularized.json"), &lesson.regularized)?;
    }
    Ok(())
}
