//! The `picospike` subcommands, one module each: options (clap), what the command does, what it
//! prints.
//!
//! `main` only parses the command line and prints a [`CommandError`] as one line. Options are
//! validated when parsed (ranges through clap value parsers) and options that do not apply to
//! the chosen data are rejected ([`CommandError::NotApplicable`]), never ignored. Every command
//! checks all its outputs against its inputs before any work ([`crate::output::check_plan`]),
//! and writes its report with `print_stdout`, so a closed or full standard output is one
//! error, never a panic.

pub mod convert;
pub mod demo;
pub mod eval;
pub mod export;
pub mod inspect;
pub mod lesson;
mod options;
mod report;
pub mod sweep;
pub mod train;

use std::io::Write as _;
use std::path::{Path, PathBuf};

use clap::Args;
use picospike_runtime::{LoadError, Model};

use crate::data::{CsvHeader, DataError, Dataset, DEFAULT_CLASSES};
use crate::input::InputError;
use crate::model_file::ModelFileError;
use crate::output::OutputError;
use crate::plot::PlotError;
use crate::quantized::ExportError;
use crate::source::{DataSpec, SourceKind, Split};
use crate::train::{TrainConfig, TrainError, TrainOutcome};

pub(crate) use options::{
    at_least_one, classes, dt, epochs, fraction, fraction_or_zero, full_scale, non_negative,
    non_negative_f64, positive, positive_f64, steps,
};
pub use options::{MAX_DT_S, MAX_EPOCHS};

/// Why a command failed; every message names the file (and row, option) concerned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    /// Loading data failed.
    #[error(transparent)]
    Data(#[from] DataError),
    /// Reading a file failed or it is larger than its bound.
    #[error(transparent)]
    Input(#[from] InputError),
    /// Writing a file failed.
    #[error(transparent)]
    Output(#[from] OutputError),
    /// Loading or saving a float network failed.
    #[error(transparent)]
    Network(#[from] ModelFileError),
    /// Quantizing or writing a model failed.
    #[error(transparent)]
    Export(#[from] ExportError),
    /// A conversion sweep failed.
    #[error("sweep: {0}")]
    Sweep(#[from] crate::sweep::SweepError),
    /// Training failed.
    #[error("training: {0}")]
    Train(#[from] TrainError),
    /// Writing a plot failed.
    #[error(transparent)]
    Plot(#[from] PlotError),
    /// Measuring or recording a model's activity failed.
    #[error("activity: {0}")]
    Activity(#[from] crate::cost::ActivityError),
    /// `inspect --board` on a model that records no activity.
    #[error("{path}: the model records no firing activity, so its cost cannot be predicted: export it with --data (the activity is measured on the test samples)")]
    NoActivity {
        /// The model file.
        path: PathBuf,
    },
    /// A model file does not load.
    #[error("{path}: not a valid picospike model: {source}")]
    InvalidModel {
        /// The file.
        path: PathBuf,
        /// Why the runtime rejects it.
        source: LoadError,
    },
    /// A network does not fit the fixed-point format.
    #[error("{path}: cannot export: {source}")]
    NotExportable {
        /// The network file.
        path: PathBuf,
        /// What does not fit.
        source: crate::quantize::QuantizeError,
    },
    /// The runtime refused an input (a sample of the wrong size).
    #[error("cannot run the model: {source}")]
    Run {
        /// The runtime's error.
        source: picospike_runtime::RunError,
    },
    /// The data's samples do not have the network's input size.
    #[error("{data}: samples have {found} values, the network takes {expected}")]
    InputSize {
        /// The `--data` argument.
        data: String,
        /// Values per sample.
        found: usize,
        /// The network's input size.
        expected: usize,
    },
    /// The data's pixels are not scaled as the network expects.
    #[error(
        "{data}: raw pixel value {found} means 1.0, the network was trained with {expected} \
         meaning 1.0 (--full-scale {expected} rescales IDX and CSV data)"
    )]
    FullScale {
        /// The `--data` argument.
        data: String,
        /// The data's full scale.
        found: u16,
        /// The network's full scale.
        expected: u16,
    },
    /// An option was given where it has no meaning.
    #[error("{option} does not apply {reason}")]
    NotApplicable {
        /// The option.
        option: &'static str,
        /// Why, in words (`"to the built-in digits"`).
        reason: String,
    },
    /// Training produced a non-finite loss or weight.
    #[error("training diverged: {what} at epoch {epoch}; nothing was saved (lower --lr, --weight-decay or --rate-weight)")]
    Diverged {
        /// The one-based epoch.
        epoch: usize,
        /// What was not finite.
        what: String,
    },
    /// The validation part cannot be split off the training part.
    #[error("--val-fraction {fraction}: cannot hold out that part of {samples} training samples for validation (every class needs samples on both sides); lower it, or 0 for no validation")]
    ValidationSplit {
        /// Training samples.
        samples: usize,
        /// The fraction asked for.
        fraction: f64,
    },
    /// A model declares more state than any tool here allocates.
    #[error("{path}: the model declares {words} state words ({bytes} bytes), more than the {limit}-byte bound of the host tools (MAX_STATE_BYTES)")]
    StateTooLarge {
        /// The model file.
        path: PathBuf,
        /// State words declared.
        words: usize,
        /// Their size in bytes.
        bytes: usize,
        /// The bound.
        limit: usize,
    },
    /// A model's header says 0 steps per inference and no `--timesteps` was given.
    #[error("{path}: the model records 0 time steps per inference; give --timesteps N")]
    NoSteps {
        /// The model file.
        path: PathBuf,
    },
    /// The network has more layers than the runtime runs.
    #[error("{path}: {layers} layers, the runtime runs at most {limit} (picospike_runtime::format::DEFAULT_MAX_LAYERS)")]
    TooManyLayers {
        /// The network or model file.
        path: PathBuf,
        /// Its layers.
        layers: usize,
        /// The runtime's bound.
        limit: usize,
    },
    /// The report could not be written to standard output (a closed pipe, a full disk).
    #[error("cannot write to standard output: {source}")]
    Stdout {
        /// The underlying error.
        source: std::io::Error,
    },
    /// A directory could not be created.
    #[error("cannot create directory {path}: {source}")]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// Result of a command.
pub type Result<T, E = CommandError> = std::result::Result<T, E>;

/// Data to score (`eval`, `convert`): classes come from the model, the split is chosen.
#[derive(Args, Clone, Debug)]
pub struct TestDataArgs {
    /// `digits` (built-in 8x8 digits), an IDX directory (its t10k-* test files), an IDX images
    /// file (`*-images-idx3-ubyte[.gz]`, scored whole, labels file beside it), or a CSV file
    /// (`.csv`/`.csv.gz`: pixels then label per row, optional header line).
    #[arg(long, default_value = "digits")]
    pub data: String,
    /// Which part to score: `seeded` = the test part of the seeded stratified split that `train`
    /// uses (digits and CSV); `none` = every row of the file (a file used only for testing).
    #[arg(long, value_enum, default_value_t = Split::Seeded)]
    pub split: Split,
    /// Seed of the stratified split (digits and CSV with `--split seeded`; default 0).
    #[arg(long)]
    pub split_seed: Option<u64>,
    /// Test fraction of the stratified split, in (0, 1) (digits and CSV with `--split seeded`;
    /// default 0.2).
    #[arg(long, value_parser = fraction)]
    pub test_fraction: Option<f64>,
    /// Raw value meaning 1.0, 1..=255 (CSV: default 16 if no pixel exceeds 16, else 255; IDX:
    /// default 255, 1 for a model trained on raw pixels such as `picospike lesson`'s).
    #[arg(long, value_parser = full_scale)]
    pub full_scale: Option<u16>,
    /// Whether the CSV file's first line is a header (CSV only; default: detected).
    #[arg(long, value_enum)]
    pub header: Option<CsvHeader>,
    /// Evaluate only the first N samples.
    #[arg(long, value_parser = at_least_one)]
    pub samples: Option<usize>,
}

impl TestDataArgs {
    /// The data spec for a model with `classes` outputs, after rejecting options that do not
    /// apply to the data.
    ///
    /// # Errors
    /// [`CommandError::NotApplicable`] naming the option, or a [`DataError`] for a missing
    /// source.
    pub fn spec(&self, classes: usize) -> Result<DataSpec> {
        let kind = SourceKind::of(&self.data)?;
        let seeded = kind.has_seeded_split() && self.split == Split::Seeded;
        for (given, option) in [
            (self.split_seed.is_some(), "--split-seed"),
            (self.test_fraction.is_some(), "--test-fraction"),
        ] {
            if given && !seeded {
                return Err(CommandError::NotApplicable {
                    option,
                    reason: format!(
                        "to {}: it sets the seeded split of the digits and CSV files (with --split seeded)",
                        self.data
                    ),
                });
            }
        }
        // IDX data may be rescaled too: a model trained on raw MNIST pixels records full_scale 1.
        let idx = matches!(kind, SourceKind::IdxDir(_) | SourceKind::IdxFile { .. });
        check_csv_only(
            &kind,
            &self.data,
            self.full_scale.is_some() && !idx,
            self.header,
        )?;
        Ok(DataSpec {
            source: self.data.clone(),
            split_seed: self.split_seed.unwrap_or(0),
            test_fraction: self.test_fraction.unwrap_or(0.2),
            classes,
            full_scale: self.full_scale,
            header: self.header.unwrap_or_default(),
        })
    }
}

/// Data to train on (`train`, `lesson`): split into a training and a test part.
#[derive(Args, Clone, Debug)]
pub struct TrainDataArgs {
    /// `digits` (built-in 8x8 digits), an IDX directory (MNIST: train-* or train10k-*, and
    /// t10k-*), or a CSV file (`.csv`/`.csv.gz`: pixels then label per row, optional header).
    #[arg(long, default_value = "digits")]
    pub data: String,
    /// Seed of the stratified train/test split (digits and CSV; default 0).
    #[arg(long)]
    pub split_seed: Option<u64>,
    /// Test fraction of the stratified split, in (0, 1) (digits and CSV; default 0.2).
    #[arg(long, value_parser = fraction)]
    pub test_fraction: Option<f64>,
    /// Number of classes, 2..=256; labels must be smaller (CSV and IDX; default 10).
    #[arg(long, value_parser = classes)]
    pub classes: Option<usize>,
    /// Raw value meaning 1.0, 1..=255 (CSV only; default: 16 if no pixel exceeds 16, else 255).
    #[arg(long, value_parser = full_scale)]
    pub full_scale: Option<u16>,
    /// Whether the CSV file's first line is a header (CSV only; default: detected).
    #[arg(long, value_enum)]
    pub header: Option<CsvHeader>,
}

impl TrainDataArgs {
    /// The data spec, after rejecting options that do not apply to the data.
    ///
    /// # Errors
    /// [`CommandError::NotApplicable`] naming the option, or a [`DataError`] for a missing
    /// source.
    pub fn spec(&self) -> Result<DataSpec> {
        let kind = SourceKind::of(&self.data)?;
        for (given, option) in [
            (self.split_seed.is_some(), "--split-seed"),
            (self.test_fraction.is_some(), "--test-fraction"),
        ] {
            if given && !kind.has_seeded_split() {
                return Err(CommandError::NotApplicable {
                    option,
                    reason: format!(
                        "to {}: an IDX directory has its own train and t10k files",
                        self.data
                    ),
                });
            }
        }
        if self.classes.is_some() && kind == SourceKind::Digits {
            return Err(CommandError::NotApplicable {
                option: "--classes",
                reason: "to the built-in digits (10 classes)".into(),
            });
        }
        check_csv_only(&kind, &self.data, self.full_scale.is_some(), self.header)?;
        Ok(DataSpec {
            source: self.data.clone(),
            split_seed: self.split_seed.unwrap_or(0),
            test_fraction: self.test_fraction.unwrap_or(0.2),
            classes: self.classes.unwrap_or(DEFAULT_CLASSES),
            full_scale: self.full_scale,
            header: self.header.unwrap_or_default(),
        })
    }
}

fn check_csv_only(
    kind: &SourceKind,
    data: &str,
    full_scale: bool,
    header: Option<CsvHeader>,
) -> Result<()> {
    if matches!(kind, SourceKind::Csv(_)) {
        return Ok(());
    }
    for (given, option) in [(full_scale, "--full-scale"), (header.is_some(), "--header")] {
        if given {
            return Err(CommandError::NotApplicable {
                option,
                reason: format!("to {data}: it is for CSV files"),
            });
        }
    }
    Ok(())
}

/// Keep the first `limit` samples (all if `None`).
pub fn limit(data: Dataset, limit: Option<usize>) -> Dataset {
    match limit {
        Some(n) if n < data.len() => {
            let indices: Vec<usize> = (0..n).collect();
            data.subset(&indices)
        }
        _ => data,
    }
}

/// Checks that `data` fits a network with `inputs` inputs and `full_scale`.
fn check_compatible(inputs: usize, full_scale: u16, data: &Dataset, source: &str) -> Result<()> {
    if data.features() != inputs {
        return Err(CommandError::InputSize {
            data: source.into(),
            found: data.features(),
            expected: inputs,
        });
    }
    if data.full_scale != full_scale {
        return Err(CommandError::FullScale {
            data: source.into(),
            found: data.full_scale,
            expected: full_scale,
        });
    }
    Ok(())
}

/// Writes a command's report to standard output and flushes it.
///
/// # Errors
/// [`CommandError::Stdout`] if standard output is closed (`EPIPE`) or full: one `error:` line
/// and exit status 1, never a panic.
pub(crate) fn print_stdout(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|source| CommandError::Stdout { source })
}

/// Prints a warning line on standard error; a closed or full standard error is ignored.
pub(crate) fn warn(message: &str) {
    let _ = writeln!(std::io::stderr(), "warning: {message}");
}

/// The files a `--data` argument reads: none for the digits, the CSV file, the IDX images and
/// labels files, or every IDX file of a directory.
pub(crate) fn data_inputs(source: &str) -> Vec<PathBuf> {
    match SourceKind::of(source) {
        Ok(SourceKind::Csv(path)) => vec![path],
        Ok(SourceKind::IdxFile { images, labels }) => vec![images, labels],
        Ok(SourceKind::IdxDir(dir)) => std::fs::read_dir(&dir)
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.to_string_lossy().contains("-idx"))
                    .collect()
            })
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// `names` inside `dir`.
pub(crate) fn dir_files(dir: &Path, names: &[&str]) -> Vec<PathBuf> {
    names.iter().map(|name| dir.join(name)).collect()
}

/// Most bytes of state a model may declare: 64 MiB (16 Mi `i32` words), hundreds of times what
/// any microcontroller has, so that a small hostile file cannot make `eval` allocate gigabytes
/// per worker.
pub const MAX_STATE_BYTES: usize = 64 << 20;

/// Checks a loaded model's declared state against [`MAX_STATE_BYTES`].
///
/// # Errors
/// [`CommandError::StateTooLarge`] naming the file and the bound.
pub(crate) fn check_model_bounds(path: &Path, model: &Model<'_>) -> Result<()> {
    let words = model.state_words();
    let bytes = words.saturating_mul(4);
    if bytes > MAX_STATE_BYTES {
        return Err(CommandError::StateTooLarge {
            path: path.to_owned(),
            words,
            bytes,
            limit: MAX_STATE_BYTES,
        });
    }
    Ok(())
}

/// Checks that a network has no more layers than the runtime runs.
///
/// # Errors
/// [`CommandError::TooManyLayers`] naming the file and the runtime's bound.
pub(crate) fn check_layers(path: &Path, network: &crate::reference::FloatNetwork) -> Result<()> {
    let limit = picospike_runtime::DEFAULT_MAX_LAYERS;
    if network.layers.len() > limit {
        return Err(CommandError::TooManyLayers {
            path: path.to_owned(),
            layers: network.layers.len(),
            limit,
        });
    }
    Ok(())
}

/// Quantize `spiking` (converted from the network in `network_path`) into a model blob and its
/// sizes, refusing a model whose state is beyond [`MAX_STATE_BYTES`]; errors name the file.
pub(crate) fn build_bounded_blob(
    network_path: &Path,
    spiking: &crate::reference::FloatNetwork,
) -> Result<(Vec<u8>, crate::quantized::ModelSizes)> {
    use crate::quantized::{build_blob, ExportError};
    let (blob, sizes) = build_blob(spiking).map_err(|e| match e {
        ExportError::Quantize(q) => CommandError::NotExportable {
            path: network_path.to_owned(),
            source: q,
        },
        other => other.into(),
    })?;
    if sizes.ram_bytes > MAX_STATE_BYTES {
        return Err(CommandError::StateTooLarge {
            path: network_path.to_owned(),
            words: sizes.state_words,
            bytes: sizes.ram_bytes,
            limit: MAX_STATE_BYTES,
        });
    }
    Ok((blob, sizes))
}

/// Trains `cfg` on `data` and checks the result: a loss or weight that is not finite is an
/// error naming the epoch, so a diverged run is never saved as a success.
///
/// # Errors
/// [`CommandError::Train`], [`CommandError::ValidationSplit`] if the validation part cannot be
/// split off, [`CommandError::Diverged`].
pub(crate) fn train_network(data: &Dataset, cfg: &TrainConfig) -> Result<TrainOutcome> {
    let outcome = crate::train::train(data, cfg).map_err(|e| match e {
        // train's only split is the validation split (TrainError::Split's doc).
        TrainError::Split(DataError::BadSplit { samples, fraction }) => {
            CommandError::ValidationSplit { samples, fraction }
        }
        TrainError::Diverged { epoch, loss } => CommandError::Diverged {
            epoch,
            what: format!("the training loss is {loss}"),
        },
        other => other.into(),
    })?;
    if let Some(e) = outcome.history.iter().find(|e| !e.train_loss.is_finite()) {
        return Err(CommandError::Diverged {
            epoch: e.epoch,
            what: format!("the training loss is {}", e.train_loss),
        });
    }
    for (i, layer) in outcome.network.layers.iter().enumerate() {
        let bad = layer
            .weights
            .iter()
            .chain(&layer.biases)
            .find(|x| !x.is_finite());
        if let Some(x) = bad {
            return Err(CommandError::Diverged {
                epoch: outcome.kept_epoch,
                what: format!("layer {i} has a weight or bias of {x}"),
            });
        }
    }
    Ok(outcome)
}

fn create_dir(path: &Path) -> Result<()> {
    std::fs::create_dir_all(path).map_err(|source| CommandError::CreateDir {
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_parsers_check_ranges() {
        assert!(fraction("0.2").is_ok());
        for bad in ["0", "1", "-0.1", "nan", "x"] {
            assert!(fraction(bad).is_err(), "{bad}");
        }
        assert!(positive("0.005").is_ok());
        for bad in ["0", "-1", "inf", "nan"] {
            assert!(positive(bad).is_err(), "{bad}");
        }
        assert_eq!(non_negative("0"), Ok(0.0));
        assert!(classes("1").is_err() && classes("257").is_err() && classes("2").is_ok());
        assert!(full_scale("0").is_err() && full_scale("256").is_err());
        assert!(at_least_one("0").is_err());
    }
}
