//! `picospike eval`: run an exported model through the fixed-point runtime on a data set.

use std::path::{Path, PathBuf};

use clap::Args;
use serde_json::json;

use picospike_runtime::Model;

use super::inspect::read_model;
use super::report::{evaluation_json, percent, write_confusion};
use super::{
    check_compatible, check_model_bounds, create_dir, data_inputs, dir_files, limit, print_stdout,
    steps, CommandError, Result, TestDataArgs,
};
use crate::evaluate::{self, SpikingEvaluation};
use crate::model_file;
use crate::output;

/// The files `eval --out DIR` writes into DIR.
pub const OUT_FILES: [&str; 3] = ["eval.json", "confusion_matrix.png", "confusion_matrix.json"];

/// Options of `picospike eval`.
#[derive(Args, Clone, Debug)]
pub struct EvalArgs {
    /// The model file (from `picospike export`).
    pub model: PathBuf,
    /// Which data, and which part of it, to score.
    #[command(flatten)]
    pub data: TestDataArgs,
    /// Time steps per inference, 1..=65535 (default: the model's; required for a model that
    /// records 0).
    #[arg(long, value_parser = steps())]
    pub timesteps: Option<u16>,
    /// Print one JSON object (accuracy, per-class accuracy, confusion matrix, rates).
    #[arg(long)]
    pub json: bool,
    /// Also write eval.json and the confusion matrix into this directory.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// No progress bar.
    #[arg(short, long)]
    pub quiet: bool,
}

/// `picospike eval`: accuracy and firing figures of a model file through the runtime.
///
/// # Errors
/// A one-line error naming the file if the model or the data do not load or do not match.
pub fn eval(
    path: &Path,
    data: &TestDataArgs,
    timesteps: Option<u16>,
    progress: bool,
) -> Result<(SpikingEvaluation, serde_json::Value)> {
    let invalid = |source| CommandError::InvalidModel {
        path: path.to_owned(),
        source,
    };
    let blob = read_model(path)?;
    let model: Model = Model::from_bytes(&blob).map_err(invalid)?;
    check_model_bounds(path, &model)?;
    let spec = data.spec(model.output_size())?;
    // The model's input size goes to the loader, which checks every row against it first.
    let test = spec.load_test(data.split, Some(model.input_size()))?;
    let test = limit(test, data.samples);
    check_compatible(
        model.input_size(),
        model.input().full_scale,
        &test,
        &spec.source,
    )?;
    // A model that records 0 steps needs --timesteps: never a silent 1.
    let steps = match timesteps.unwrap_or(model.default_timesteps()) {
        0 => {
            return Err(CommandError::NoSteps {
                path: path.to_owned(),
            })
        }
        n => n,
    };
    let evaluation = evaluate::fixed_spiking(&blob, &test, steps, progress).map_err(invalid)?;
    let mut value = evaluation_json(&evaluation);
    value["data"] = json!({
        "source": spec.source,
        "split": format!("{:?}", data.split).to_lowercase(),
        "classes": spec.classes,
    });
    Ok((evaluation, value))
}

/// Runs `picospike eval`.
///
/// # Errors
/// A [`CommandError`] naming the file or option.
pub fn run(args: &EvalArgs) -> Result<()> {
    let dirs: Vec<PathBuf> = args.out.iter().cloned().collect();
    let files: Vec<PathBuf> = dirs.iter().flat_map(|d| dir_files(d, &OUT_FILES)).collect();
    let mut inputs = data_inputs(&args.data.data);
    inputs.push(args.model.clone());
    output::check_plan(&inputs, &files, &dirs)?;
    let (evaluation, json) = eval(&args.model, &args.data, args.timesteps, !args.quiet)?;
    if let Some(out) = &args.out {
        create_dir(out)?;
        model_file::save_json(&out.join("eval.json"), &json)?;
        write_confusion(
            out,
            &format!("Confusion matrix of {}", args.model.display()),
            &evaluation.confusion_matrix,
        )?;
    }
    if args.json {
        return print_stdout(&format!("{json}\n"));
    }
    let mut text = format!(
        "accuracy {} on {} samples, {} steps; {:.0} synaptic events per inference",
        percent(evaluation.accuracy),
        evaluation.samples,
        evaluation.timesteps,
        evaluation.synaptic_events_per_inference
    );
    let per_class: Vec<String> = evaluation
        .per_class_accuracy
        .iter()
        .enumerate()
        .filter_map(|(c, a)| a.map(|a| format!("{c}: {}", percent(a))))
        .collect();
    text += &format!("\nper class: {}\n", per_class.join(", "));
    for layer in &evaluation.layers {
        text += &format!(
            "layer {}: {} neurons, mean rate {:.1} Hz, {:.1}% silent\n",
            layer.layer,
            layer.neurons,
            layer.mean_rate_hz,
            100.0 * layer.silent_fraction
        );
    }
    print_stdout(&text)
}
