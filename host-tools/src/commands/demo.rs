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
    /// No progress bars.
    #[arg(short, long)]
    pub quiet: bool,
}

/// Everything `picospike demo` produced.
#[derive(Debug, Serialize)]
pub struct DemoSummary {
    /// The stage report.
    #[serde(skip)]
    pub report: StageReport,
    /// Files written.
    pub files: Vec<PathBuf>,
}

/// `picospike demo`: the whole recipe on the built-in digits, into `out`.
///
/// # Errors
/// A one-line error naming what failed.
pub fn demo(out: &Path, seed: u64, progress: bool) -> Result<DemoSummary> {
    create_dir(out)?;
    let spec = DataSpec::digits();
    let (train_set, test_set) = spec.load()?;
    let mut config = TrainConfig::digits();
    config.seed = seed;
    config.progress = progress;
    let options = ConvertOptions {
        timesteps: 30,
        ..ConvertOptions::default()
    };
    config.timesteps = options.timesteps;
    let outcome = train::train(&train_set, &config)?;
    let (_, blob, report) =
        recipe::convert_and_check(&outcome.network, &test_set, &options, progress)?;
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
    Ok(DemoSummary { report, files })
}

/// Runs `picospike demo`.
///
/// # Errors
/// A [`super::CommandError`] naming what failed.
pub fn run(args: &DemoArgs) -> Result<()> {
    let started = std::time::Instant::now();
    let summary = demo(&args.out, args.seed, !args.quiet)?;
    print!("{}", stage_table(&summary.report));
    for warning in &summary.report.warnings {
        eprintln!("warning: {warning}");
    }
    println!("\nwrote, in {:.0} s:", started.elapsed().as_secs_f64());
    for file in &summary.files {
        println!("  {}", file.display());
    }
    Ok(())
}
