//! The commands after training: convert, export, evaluate, inspect, and the end-to-end demo.
//!
//! Each function here backs one `picospike` subcommand; `main` only parses arguments and prints
//! errors. Every file written goes through [`crate::model_file::write_atomic`], so a failed
//! command never leaves a half-written model, report or plot behind.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Serialize;
use serde_json::json;

use picospike_runtime::layer::Layer;
use picospike_runtime::neuron::Neuron;
use picospike_runtime::reference::FloatNetwork;
use picospike_runtime::synapse::Synapse;
use picospike_runtime::{Model, Network};

use crate::data::{self, Dataset};
use crate::evaluate::{self, SpikingEvaluation};
use crate::export::{self, ModelSizes};
use crate::model_file;
use crate::plot::{self, Series};
use crate::recipe::{self, ConvertOptions, StageReport};
use crate::train::{self, TrainConfig, TrainOutcome};

/// Where the evaluation data comes from and how it is split.
#[derive(Clone, Debug)]
pub struct DataSpec {
    /// `digits`, an IDX directory, or a CSV file.
    pub source: String,
    /// Seed of the stratified split (digits and CSV).
    pub split_seed: u64,
    /// Test fraction of the split (digits and CSV).
    pub test_fraction: f64,
    /// Number of classes.
    pub classes: usize,
    /// Raw value meaning 1.0 for CSV data.
    pub full_scale: Option<u16>,
}

impl DataSpec {
    /// The built-in digits with the default seeded 80/20 split.
    pub fn digits() -> Self {
        DataSpec {
            source: "digits".into(),
            split_seed: 0,
            test_fraction: 0.2,
            classes: data::DEFAULT_CLASSES,
            full_scale: None,
        }
    }

    /// Whether this is an IDX (MNIST-style) directory with its own test set.
    pub fn is_idx_dir(&self) -> bool {
        self.source != "digits" && Path::new(&self.source).is_dir()
    }

    /// Load `(train, test)`: MNIST's own split for an IDX directory, a seeded stratified split
    /// otherwise.
    ///
    /// # Errors
    /// A one-line error naming the file and what was expected.
    pub fn load(&self) -> Result<(Dataset, Dataset)> {
        if self.source == "digits" {
            let all = data::builtin_digits();
            return Ok(all.stratified_split(self.test_fraction, self.split_seed)?);
        }
        let path = Path::new(&self.source);
        if path.is_dir() {
            return Ok(data::load_mnist(path)?);
        }
        if !path.exists() {
            bail!(
                "{}: no such file or directory (expected `digits`, an IDX directory or a CSV file)",
                self.source
            );
        }
        let all = data::load_csv(path, self.classes, self.full_scale)?;
        all.stratified_split(self.test_fraction, self.split_seed)
            .with_context(|| format!("splitting {}", path.display()))
    }
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

fn check_compatible(
    network_inputs: usize,
    full_scale: u16,
    data: &Dataset,
    source: &str,
) -> Result<()> {
    if data.features() != network_inputs {
        bail!(
            "{source}: samples have {} values, the network takes {network_inputs}",
            data.features()
        );
    }
    if data.full_scale != full_scale {
        bail!(
            "{source}: pixels are scaled 0..{}, the network was trained on 0..{full_scale}",
            data.full_scale
        );
    }
    Ok(())
}

fn percent(x: f64) -> String {
    format!("{:.2}%", 100.0 * x)
}

/// A printable table of the recipe's stages.
pub fn stage_table(report: &StageReport) -> String {
    let mut t = String::new();
    let steps = report.spiking_fixed.timesteps;
    let _ = writeln!(t, "{:<34} {:>9}", "stage", "accuracy");
    let _ = writeln!(
        t,
        "{:<34} {:>9}",
        "rate network, float",
        percent(report.rate_float)
    );
    let _ = writeln!(
        t,
        "{:<34} {:>9}",
        format!("spiking, float reference, {steps} steps"),
        percent(report.spiking_float.accuracy)
    );
    let _ = writeln!(
        t,
        "{:<34} {:>9}",
        format!("spiking, fixed point, {steps} steps"),
        percent(report.spiking_fixed.accuracy)
    );
    let _ = writeln!(t);
    let _ = writeln!(
        t,
        "{:<8} {:>8} {:>13} {:>13} {:>9}",
        "layer", "neurons", "rate (rate)", "rate (fixed)", "silent"
    );
    for (i, layer) in report.spiking_fixed.layers.iter().enumerate() {
        let rate_mode = report.rate_float_rates_hz.get(i).copied().unwrap_or(0.0);
        let _ = writeln!(
            t,
            "{:<8} {:>8} {:>10.1} Hz {:>10.1} Hz {:>8.1}%",
            i,
            layer.neurons,
            rate_mode,
            layer.mean_rate_hz,
            100.0 * layer.silent_fraction
        );
    }
    let _ = writeln!(
        t,
        "\nmodel: {} bytes flash, {} bytes state RAM ({} words); {:.0} synaptic events per inference",
        report.sizes.flash_bytes,
        report.sizes.ram_bytes,
        report.sizes.state_words,
        report.spiking_fixed.synaptic_events_per_inference
    );
    t
}

fn evaluation_json(e: &SpikingEvaluation) -> serde_json::Value {
    json!({
        "accuracy": e.accuracy,
        "samples": e.samples,
        "timesteps": e.timesteps,
        "mean_rate_hz": e.layers.iter().map(|l| l.mean_rate_hz).collect::<Vec<_>>(),
        "silent_fraction": e.layers.iter().map(|l| l.silent_fraction).collect::<Vec<_>>(),
        "synaptic_events_per_inference": e.synaptic_events_per_inference,
        "accuracy_by_step": e.accuracy_by_step,
        "layers": e.layers,
    })
}

/// The report of a conversion as JSON (the `report.json` of `demo` and `convert --out`).
pub fn report_json(report: &StageReport) -> serde_json::Value {
    json!({
        "rate_float": report.rate_float,
        "spiking_float": report.spiking_float.accuracy,
        "spiking_fixed": report.spiking_fixed.accuracy,
        "timesteps": report.spiking_fixed.timesteps,
        "samples": report.spiking_fixed.samples,
        "rate_float_rates_hz": report.rate_float_rates_hz,
        "stages": {
            "spiking_float": evaluation_json(&report.spiking_float),
            "spiking_fixed": evaluation_json(&report.spiking_fixed),
        },
        "sizes": report.sizes,
        "warnings": report.warnings,
    })
}

/// Spike times of each neuron of each spiking layer for one input, from the fixed-point runtime.
///
/// # Errors
/// If the blob does not load or the input has the wrong size.
pub fn fixed_raster(blob: &[u8], input: &[u8], steps: u16) -> Result<Vec<Vec<Vec<u32>>>> {
    let model: Model = Model::from_bytes(blob)?;
    let mut state = vec![0i32; model.state_words()];
    let mut network = Network::new(&model, &mut state)?;
    network.set_input(input)?;
    let spiking = network.layer_count().saturating_sub(1);
    let mut times: Vec<Vec<Vec<u32>>> = (0..spiking)
        .map(|l| vec![Vec::new(); network.layer_output(l).map_or(0, <[i32]>::len)])
        .collect();
    for step in 0..u32::from(steps) {
        network.step();
        for (l, neurons) in times.iter_mut().enumerate() {
            for (n, &count) in neurons
                .iter_mut()
                .zip(network.layer_output(l).unwrap_or(&[]))
            {
                if count > 0 {
                    n.push(step);
                }
            }
        }
    }
    Ok(times)
}

/// Write the four standard plots of a conversion into `dir`.
///
/// # Errors
/// If a plot cannot be written.
pub fn write_plots(
    dir: &Path,
    history: Option<&TrainOutcome>,
    report: &StageReport,
    blob: &[u8],
    sample: &[u8],
) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    if let Some(history) = history {
        let path = dir.join("training.png");
        let loss = history
            .history
            .iter()
            .map(|e| (e.epoch as f64, e.train_loss))
            .collect();
        let train_acc = history
            .history
            .iter()
            .map(|e| (e.epoch as f64, 100.0 * e.train_acc))
            .collect();
        let val_acc = history
            .history
            .iter()
            .filter_map(|e| e.val_acc.map(|v| (e.epoch as f64, 100.0 * v)))
            .collect();
        // Loss and accuracy have different units: one panel each over the shared epoch axis.
        plot::line_panels(
            &path,
            "Training (rate network, SoftLIF / ReLU surrogate)",
            "epoch",
            &[
                (
                    "cross-entropy loss".to_owned(),
                    vec![Series::new("train loss", loss)],
                ),
                (
                    "accuracy (%)".to_owned(),
                    vec![
                        Series::new("train accuracy", train_acc),
                        Series::new("validation accuracy", val_acc),
                    ],
                ),
            ],
        )?;
        written.push(path);
    }
    let steps = report.spiking_fixed.timesteps;
    let curve = |e: &SpikingEvaluation| -> Vec<(f64, f64)> {
        e.accuracy_by_step
            .iter()
            .enumerate()
            .map(|(t, &a)| ((t + 1) as f64, 100.0 * a))
            .collect()
    };
    let path = dir.join("accuracy_vs_steps.png");
    plot::line_chart(
        &path,
        "Accuracy vs time steps",
        "time steps",
        "accuracy (%)",
        &[
            Series::new(
                "rate, float",
                vec![
                    (1.0, 100.0 * report.rate_float),
                    (steps as f64, 100.0 * report.rate_float),
                ],
            ),
            Series::new("spiking, float reference", curve(&report.spiking_float)),
            Series::new("spiking, fixed point", curve(&report.spiking_fixed)),
        ],
    )?;
    written.push(path);
    let path = dir.join("firing_rates.png");
    let groups: Vec<(String, Vec<f64>)> = report
        .spiking_fixed
        .layers
        .iter()
        .map(|l| (format!("layer {}", l.layer), l.neuron_rates_hz.clone()))
        .collect();
    plot::histogram(
        &path,
        "Firing rates per neuron (fixed point)",
        "rate (Hz)",
        &groups,
        30,
    )?;
    written.push(path);
    let path = dir.join("raster.png");
    let raster = fixed_raster(blob, sample, steps as u16)?;
    let layers: Vec<(String, Vec<Vec<u32>>)> = raster
        .into_iter()
        .enumerate()
        .map(|(l, n)| (format!("layer {l}"), n))
        .collect();
    plot::raster(
        &path,
        "Spike raster of test sample 0 (fixed point)",
        steps,
        &layers,
    )?;
    written.push(path);
    Ok(written)
}

/// `picospike inspect`: a loaded model's description (text or JSON).
///
/// # Errors
/// A one-line error naming the file if it cannot be read or does not validate.
pub fn inspect(path: &Path, as_json: bool) -> Result<String> {
    let blob = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let model: Model = Model::from_bytes(&blob)
        .with_context(|| format!("{}: not a valid picospike model", path.display()))?;
    let sizes = ModelSizes::of(&model, blob.len());
    let layers: Vec<serde_json::Value> = model
        .layers()
        .iter()
        .enumerate()
        .map(|(i, layer)| {
            let Layer::Dense(d) = layer else {
                return json!({ "index": i, "kind": format!("{:?}", layer.kind()) });
            };
            json!({
                "index": i,
                "kind": "dense",
                "inputs": d.inputs,
                "outputs": d.outputs,
                "neuron": neuron_json(&d.neuron),
                "synapse": match d.synapse { Synapse::None => json!(null), Synapse::Lowpass { tau } => json!({ "lowpass_tau_s": tau }) },
                "shift": d.shift,
                "parameter_bytes": layer.parameter_bytes(),
                "state_words": layer.state_words(),
            })
        })
        .collect();
    let input = model.input();
    let value = json!({
        "file": path.display().to_string(),
        "format_version": picospike_runtime::format::FORMAT_VERSION,
        "dt_s": model.dt(),
        "input": { "size": input.size, "full_scale": input.full_scale, "timesteps": input.timesteps },
        "layers": layers,
        "sizes": sizes,
    });
    if as_json {
        return Ok(serde_json::to_string_pretty(&value)?);
    }
    let mut t = String::new();
    let _ = writeln!(
        t,
        "{}: picospike model, format version {}",
        path.display(),
        picospike_runtime::format::FORMAT_VERSION
    );
    let _ = writeln!(
        t,
        "input: {} bytes, full scale {}, {} steps of {} ms",
        input.size,
        input.full_scale,
        input.timesteps,
        model.dt() * 1000.0
    );
    for (i, layer) in model.layers().iter().enumerate() {
        let synapse = match layer.synapse() {
            Synapse::None => "no synapse".to_string(),
            Synapse::Lowpass { tau } => format!("lowpass {:.1} ms", tau * 1000.0),
        };
        let _ = writeln!(
            t,
            "layer {i}: dense {} -> {}, {}, {synapse}, {} parameter bytes, {} state words",
            layer.inputs(),
            layer.outputs(),
            neuron_text(&layer.neuron()),
            layer.parameter_bytes(),
            layer.state_words()
        );
    }
    let _ = writeln!(
        t,
        "flash: {} bytes; state RAM: {} bytes ({} words)",
        sizes.flash_bytes, sizes.ram_bytes, sizes.state_words
    );
    Ok(t)
}

fn neuron_json(neuron: &Neuron) -> serde_json::Value {
    match *neuron {
        Neuron::Lif {
            tau_rc,
            tau_ref,
            min_voltage,
            amplitude,
        } => json!({
            "type": "lif", "tau_rc_s": tau_rc, "tau_ref_s": tau_ref, "min_voltage": min_voltage, "amplitude": amplitude
        }),
        Neuron::SpikingRectifiedLinear { amplitude } => {
            json!({ "type": "spiking_relu", "amplitude": amplitude })
        }
        Neuron::Readout => json!({ "type": "readout" }),
    }
}

fn neuron_text(neuron: &Neuron) -> String {
    match *neuron {
        Neuron::Lif {
            tau_rc,
            tau_ref,
            amplitude,
            ..
        } => format!(
            "LIF (tau_rc {:.1} ms, tau_ref {:.1} ms, amplitude {amplitude})",
            tau_rc * 1000.0,
            tau_ref * 1000.0
        ),
        Neuron::SpikingRectifiedLinear { amplitude } => {
            format!("spiking ReLU (amplitude {amplitude})")
        }
        Neuron::Readout => "readout".into(),
    }
}

/// `picospike eval`: accuracy and firing figures of a model file through the runtime.
///
/// # Errors
/// A one-line error naming the file if the model or the data do not load or do not match.
pub fn eval(
    path: &Path,
    spec: &DataSpec,
    timesteps: Option<u16>,
    samples: Option<usize>,
    progress: bool,
) -> Result<(SpikingEvaluation, serde_json::Value)> {
    let blob = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let model: Model = Model::from_bytes(&blob)
        .with_context(|| format!("{}: not a valid picospike model", path.display()))?;
    let (_, test) = spec.load()?;
    let test = limit(test, samples);
    if test.is_empty() {
        bail!("{}: no samples to evaluate", spec.source);
    }
    check_compatible(
        model.input_size(),
        model.input().full_scale,
        &test,
        &spec.source,
    )?;
    let steps = timesteps.unwrap_or(model.default_timesteps()).max(1);
    let evaluation = evaluate::fixed_spiking(&blob, &test, steps, progress)
        .with_context(|| format!("{}: not a valid picospike model", path.display()))?;
    let value = evaluation_json(&evaluation);
    Ok((evaluation, value))
}

/// `picospike export`: quantize a trained network and write the model (and the firmware module).
///
/// # Errors
/// A one-line error naming the file that could not be read or written.
pub fn export_network(
    network_path: &Path,
    options: &ConvertOptions,
    output: &Path,
    rust_module: Option<(&Path, Option<&DataSpec>, usize)>,
) -> Result<ModelSizes> {
    let network = model_file::load_network(network_path)?;
    let spiking = recipe::to_spiking(&network, options);
    let (blob, sizes) = export::build_blob(&spiking)
        .with_context(|| format!("{}: cannot export", network_path.display()))?;
    export::write_blob(output, &blob)?;
    if let Some((dir, spec, samples)) = rust_module {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let test = match spec {
            Some(spec) => Some(spec.load()?.1),
            None => None,
        };
        export::write_rust_module(dir, &blob, test.as_ref(), samples)?;
    }
    Ok(sizes)
}

/// `picospike convert`: every stage's accuracy and firing rates for a trained network.
///
/// # Errors
/// A one-line error naming the file if the network or the data do not load or do not match.
pub fn convert(
    network_path: &Path,
    spec: &DataSpec,
    options: &ConvertOptions,
    samples: Option<usize>,
    progress: bool,
) -> Result<(FloatNetwork, Vec<u8>, StageReport)> {
    let network = model_file::load_network(network_path)?;
    let (_, test) = spec.load()?;
    let test = limit(test, samples);
    if test.is_empty() {
        bail!("{}: no samples to evaluate", spec.source);
    }
    check_compatible(
        usize::from(network.input.size),
        network.input.full_scale,
        &test,
        &spec.source,
    )?;
    Ok(recipe::convert_and_check(
        &network, &test, options, progress,
    )?)
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
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
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
    let outcome = train::train(&train_set, &config).context("training")?;
    let (_, blob, report) =
        recipe::convert_and_check(&outcome.network, &test_set, &options, progress)?;
    let mut files = Vec::new();
    let network_path = out.join("network.json");
    model_file::save_network(&network_path, &outcome.network)?;
    files.push(network_path);
    export::write_rust_module(out, &blob, Some(&test_set), 100)?;
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
) -> Result<Vec<LessonRow>> {
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
    let plain = train::train(&train_set, &config).context("training the rate network")?;
    let regularized_config = TrainConfig {
        rate_reg: Some(train::RateRegularization {
            target_hz: rate_target,
            weight: rate_weight,
        }),
        ..config.clone()
    };
    let regularized = train::train(&train_set, &regularized_config)
        .context("training with rate regularization")?;
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
    Ok(rows)
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
