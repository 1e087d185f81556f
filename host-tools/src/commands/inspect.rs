//! `picospike inspect`: validate and describe an exported model.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::Args;
use serde_json::json;

use picospike_runtime::layer::Layer;
use picospike_runtime::neuron::Neuron;
use picospike_runtime::synapse::Synapse;
use picospike_runtime::Model;

use super::{CommandError, Result};
use crate::cost::Workload;
use crate::input::{read_bounded, MAX_MODEL_BYTES};
use crate::quantized::ModelSizes;

/// Options of `picospike inspect`.
#[derive(Args, Clone, Debug)]
pub struct InspectArgs {
    /// The model file.
    pub model: PathBuf,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Reads a model file, at most [`MAX_MODEL_BYTES`].
///
/// # Errors
/// [`CommandError::Input`] naming the file and the bound.
pub fn read_model(path: &Path) -> Result<Vec<u8>> {
    Ok(read_bounded(path, MAX_MODEL_BYTES, "picospike model")?)
}

/// `picospike inspect`: a loaded model's description (text or JSON).
///
/// # Errors
/// A one-line error naming the file if it cannot be read or does not validate.
pub fn inspect(path: &Path, as_json: bool) -> Result<String> {
    let blob = read_model(path)?;
    let model: Model = Model::from_bytes(&blob).map_err(|source| CommandError::InvalidModel {
        path: path.to_owned(),
        source,
    })?;
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
        "workload": Workload::of(&model),
    });
    if as_json {
        return Ok(format!("{value:#}\n"));
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

/// Runs `picospike inspect`.
///
/// # Errors
/// A [`CommandError`] naming the file.
pub fn run(args: &InspectArgs) -> Result<()> {
    print!("{}", inspect(&args.model, args.json)?);
    Ok(())
}
