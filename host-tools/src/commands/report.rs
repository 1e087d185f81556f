//! What `convert`, `demo` and `eval` report: the stage table, the JSON report and the plots.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::json;

use picospike_runtime::{Model, Network};

use super::{CommandError, Result};
use crate::evaluate::SpikingEvaluation;
use crate::model_file;
use crate::plot::{self, Series};
use crate::recipe::StageReport;
use crate::train::TrainOutcome;

/// Every file [`write_plots`] may write into its directory (`training.png` only with a
/// training history, `channel_rates.png` only for convolutions).
pub(crate) const PLOT_FILES: [&str; 7] = [
    "training.png",
    "accuracy_vs_steps.png",
    "firing_rates.png",
    "channel_rates.png",
    "raster.png",
    "confusion_matrix.png",
    "confusion_matrix.json",
];

/// `0.9876` -> `98.76%`.
pub(crate) fn percent(x: f64) -> String {
    format!("{:.2}%", 100.0 * x)
}

/// A printable table of the recipe's stages.
pub(crate) fn stage_table(report: &StageReport) -> String {
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
    // Pools have no neurons and no row; `layer` is the index in the network.
    for layer in &report.spiking_fixed.layers {
        let rate_mode = report
            .rate_float_rates_hz
            .get(layer.layer)
            .copied()
            .unwrap_or(0.0);
        let _ = writeln!(
            t,
            "{:<8} {:>8} {:>10.1} Hz {:>10.1} Hz {:>8.1}%",
            layer.layer,
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

/// One evaluation as JSON: accuracy, rates, per-class accuracy and the confusion matrix.
pub(crate) fn evaluation_json(e: &SpikingEvaluation) -> serde_json::Value {
    json!({
        "accuracy": e.accuracy,
        "samples": e.samples,
        "timesteps": e.timesteps,
        "mean_rate_hz": e.layers.iter().map(|l| l.mean_rate_hz).collect::<Vec<_>>(),
        "silent_fraction": e.layers.iter().map(|l| l.silent_fraction).collect::<Vec<_>>(),
        "synaptic_events_per_inference": e.synaptic_events_per_inference,
        "accuracy_by_step": e.accuracy_by_step,
        "layers": e.layers,
        "per_class_accuracy": e.per_class_accuracy,
        "confusion_matrix": e.confusion_matrix,
        "predictions_beyond_matrix": e.predictions_beyond_matrix,
    })
}

/// The report of a conversion as JSON (the `report.json` of `demo` and `convert --out`).
pub(crate) fn report_json(report: &StageReport) -> serde_json::Value {
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
pub(crate) fn fixed_raster(blob: &[u8], input: &[u8], steps: u16) -> Result<Vec<Vec<Vec<u32>>>> {
    let invalid = |source| CommandError::InvalidModel {
        path: PathBuf::from("<quantized model>"),
        source,
    };
    let model: Model = Model::from_bytes(blob).map_err(invalid)?;
    let mut state = vec![0i32; model.state_words()];
    let mut network = Network::new(&model, &mut state).map_err(invalid)?;
    network
        .set_input(input)
        .map_err(|source| CommandError::Run { source })?;
    let spiking = network.layer_count().saturating_sub(1);
    let mut times: Vec<Vec<Vec<u32>>> = (0..spiking)
        .map(|l| vec![Vec::new(); network.layer_len(l).unwrap_or(0)])
        .collect();
    for step in 0..u32::from(steps) {
        network.step();
        for (l, neurons) in times.iter_mut().enumerate() {
            for spike in network.layer_spikes(l).into_iter().flatten() {
                if let Some(n) = neurons.get_mut(spike.index) {
                    n.push(step);
                }
            }
        }
    }
    Ok(times)
}

/// One panel per spiking layer with a 2-D feature map (convolutions): each channel's firing rate
/// averaged over its positions and the test samples. A channel that never fires, or one far
/// above the others, is easy to miss in the per-neuron histogram and plain here.
///
/// # Errors
/// If the blob does not load.
fn channel_rates(
    blob: &[u8],
    evaluation: &SpikingEvaluation,
) -> Result<Vec<(String, Vec<Series>)>> {
    let model: Model = Model::from_bytes(blob).map_err(|source| CommandError::InvalidModel {
        path: PathBuf::from("<quantized model>"),
        source,
    })?;
    let mut panels = Vec::new();
    for rates in &evaluation.layers {
        let Some(layer) = model.layers().get(rates.layer) else {
            continue;
        };
        let shape = layer.output_shape();
        let channels = usize::from(shape.channels);
        let positions = usize::from(shape.height) * usize::from(shape.width);
        if positions <= 1 || channels == 0 || rates.neuron_rates_hz.len() != positions * channels {
            continue;
        }
        // HWC: neuron `i` is in channel `i % channels`.
        let mut sums = vec![0.0; channels];
        for (i, rate) in rates.neuron_rates_hz.iter().enumerate() {
            sums[i % channels] += rate;
        }
        let points = sums
            .iter()
            .enumerate()
            .map(|(c, sum)| (c as f64, sum / positions as f64))
            .collect();
        panels.push((
            format!(
                "layer {} ({}x{}x{}), Hz",
                rates.layer, shape.height, shape.width, shape.channels
            ),
            vec![Series::new(
                format!("layer {} channels", rates.layer),
                points,
            )],
        ));
    }
    Ok(panels)
}

/// Write the standard plots of a conversion into `dir` (and `channel_rates.png` for a network
/// with convolutions).
///
/// # Errors
/// If a plot cannot be written.
pub(crate) fn write_plots(
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
    let channel_panels = channel_rates(blob, &report.spiking_fixed)?;
    if !channel_panels.is_empty() {
        let path = dir.join("channel_rates.png");
        plot::line_panels(
            &path,
            "Mean firing rate per channel of each feature map (fixed point)",
            "channel",
            &channel_panels,
        )?;
        written.push(path);
    }
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
    written.extend(write_confusion(
        dir,
        "Confusion matrix (fixed point, test samples)",
        &report.spiking_fixed.confusion_matrix,
    )?);
    Ok(written)
}

/// Writes a confusion matrix (rows true class, columns predicted) beside the other outputs of
/// `dir` as `confusion_matrix.png` (counts per cell, coloured by row share) and
/// `confusion_matrix.json` (the numbers), and returns both paths.
pub(crate) fn write_confusion(
    dir: &Path,
    title: &str,
    matrix: &[Vec<u64>],
) -> Result<[PathBuf; 2]> {
    let json_path = dir.join("confusion_matrix.json");
    model_file::save_json(
        &json_path,
        &json!({ "title": title, "rows": "true class", "columns": "predicted class", "matrix": matrix }),
    )?;
    let png_path = dir.join("confusion_matrix.png");
    plot::confusion_matrix(&png_path, title, matrix)?;
    Ok([png_path, json_path])
}
