//! `picospike inspect`: validate and describe an exported model.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::Args;
use serde_json::json;

use picospike_runtime::layer::{Layer, Shape};
use picospike_runtime::neuron::Neuron;
use picospike_runtime::synapse::Synapse;
use picospike_runtime::{LayeredNetwork, Model};

use super::{check_model_bounds, positive_f64, print_stdout, CommandError, Result};
use crate::cost::{predict, Activity, Board, CostPrediction, Workload};
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
    /// Predict instructions and latency per inference on this board, from the model's shapes,
    /// step count and the activity recorded at export (`export --data`), with the per-kind
    /// costs measured in boards/BENCH.md.
    #[arg(long, value_enum)]
    pub board: Option<Board>,
    /// Clock for the predicted latency in MHz (default: the QEMU board the costs were measured
    /// on: 25 for cortex-m4, 16 for cortex-m0).
    #[arg(long, requires = "board", value_parser = positive_f64)]
    pub clock_mhz: Option<f64>,
    /// Steps per inference for the prediction and the layer-by-layer state (default: the
    /// model's own).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub timesteps: Option<u16>,
}

/// Reads a model file, at most [`MAX_MODEL_BYTES`].
///
/// # Errors
/// [`CommandError::Input`] naming the file and the bound.
pub fn read_model(path: &Path) -> Result<Vec<u8>> {
    Ok(read_bounded(path, MAX_MODEL_BYTES, "picospike model")?)
}

/// The predicted cost of one inference of `model` on `board` (see [`crate::cost`]).
///
/// # Errors
/// [`CommandError::NoActivity`] if the model records no activity, [`CommandError::NoSteps`] if
/// it records 0 steps per inference.
pub fn prediction(
    path: &Path,
    model: &Model<'_>,
    board: Board,
    clock_mhz: Option<f64>,
    timesteps: Option<u16>,
) -> Result<CostPrediction> {
    let activity = Activity::recorded(model).ok_or_else(|| CommandError::NoActivity {
        path: path.to_owned(),
    })?;
    let steps = timesteps.unwrap_or(model.default_timesteps());
    if steps == 0 {
        return Err(CommandError::NoSteps {
            path: path.to_owned(),
        });
    }
    Ok(predict(
        &Workload::of(model),
        &activity,
        &board.costs(),
        steps,
        clock_mhz,
    ))
}

/// `picospike inspect`: a loaded model's description (text or JSON), and with `board` its
/// predicted cost per inference there (at `clock_mhz`, default the measured board's clock), at
/// `timesteps` steps (default the model's own).
///
/// # Errors
/// A one-line error naming the file if it cannot be read or does not validate, or (with
/// `board`) records no activity.
pub fn inspect(
    path: &Path,
    as_json: bool,
    board: Option<(Board, Option<f64>)>,
    timesteps: Option<u16>,
) -> Result<String> {
    let blob = read_model(path)?;
    let model: Model = Model::from_bytes(&blob).map_err(|source| CommandError::InvalidModel {
        path: path.to_owned(),
        source,
    })?;
    check_model_bounds(path, &model)?;
    let predicted = match board {
        Some((board, clock)) => Some((board, prediction(path, &model, board, clock, timesteps)?)),
        None => None,
    };
    let sizes = ModelSizes::of(&model, blob.len());
    let layers: Vec<serde_json::Value> = model
        .layers()
        .iter()
        .enumerate()
        .map(|(i, layer)| {
            let shape = |s: Shape| json!([s.height, s.width, s.channels]);
            let mut value = json!({
                "index": i,
                "kind": kind_name(layer),
                "input_shape": shape(layer.input_shape()),
                "output_shape": shape(layer.output_shape()),
                "neuron": layer.neuron().map(|n| neuron_json(&n)),
                "synapse": match layer.synapse() { Synapse::None => json!(null), Synapse::Lowpass { tau } => json!({ "lowpass_tau_s": tau }) },
                "activity": layer.activity(),
                "parameter_bytes": layer.parameter_bytes(),
                "state_words": layer.state_words(),
                "state_bytes": 4 * layer.state_words(),
            });
            match layer {
                Layer::Conv2d(c) => {
                    value["kernel"] = json!([c.kernel_height, c.kernel_width]);
                    value["stride"] = json!(c.stride);
                    value["padding"] = json!([c.padding_top, c.padding_left]);
                }
                Layer::SumPool(p) => value["size"] = json!(p.size),
                _ => {}
            }
            value
        })
        .collect();
    let input = model.input();
    let value = json!({
        "file": path.display().to_string(),
        "format_version": picospike_runtime::format::FORMAT_VERSION,
        "dt_s": model.dt(),
        "input": { "size": input.size(), "shape": [input.shape.height, input.shape.width, input.shape.channels], "full_scale": input.full_scale, "timesteps": input.timesteps, "density": f32::from(input.density) / 65535.0 },
        "layers": layers,
        "sizes": sizes,
        "workload": Workload::of(&model),
    });
    let mut value = value;
    // The layer-major order's state (a static input), at the steps of the prediction or the
    // model's own.
    let layered_steps = timesteps.unwrap_or(input.timesteps);
    let layered_bytes = 4 * LayeredNetwork::state_words(&model, layered_steps);
    value["layered"] = json!({ "steps": layered_steps, "state_bytes": layered_bytes });
    if let Some((board, p)) = &predicted {
        let memory = board.memory();
        value["memory"] = json!({
            "board": memory.board,
            "ram_bytes": memory.ram_bytes,
            "firmware_ram_bytes": memory.firmware_ram_bytes,
            "ram_needed": memory.ram_needed(sizes.ram_bytes),
            "fits": memory.fits(sizes.ram_bytes),
            "fits_layer_by_layer": memory.fits(layered_bytes),
        });
        value["prediction"] = json!({
            "board": board,
            "costs": board.costs(),
            "steps": p.steps,
            "instructions": p.instructions.round(),
            "static_part": p.static_part.round(),
            "step_part": p.step_part.round(),
            "synaptic_events": p.events.round(),
            "clock_mhz": p.clock_mhz,
            "latency_ms": p.latency_ms,
        });
    }
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
    let steps = match input.timesteps {
        0 => "0 steps (none recorded: eval needs --timesteps)".to_string(),
        n => format!("{n} steps"),
    };
    let _ = writeln!(
        t,
        "input: {} bytes ({}), full scale {}, {steps} of {} ms",
        input.size(),
        input.shape,
        input.full_scale,
        model.dt() * 1000.0
    );
    for (i, layer) in model.layers().iter().enumerate() {
        let synapse = match layer.synapse() {
            Synapse::None => "no synapse".to_string(),
            Synapse::Lowpass { tau } => format!("lowpass {:.1} ms", tau * 1000.0),
        };
        let _ = writeln!(
            t,
            "layer {i}: {} {} -> {}, {}, {synapse}, {} parameter bytes, {} state words ({} bytes)",
            kind_name(layer),
            layer.input_shape(),
            layer.output_shape(),
            layer
                .neuron()
                .map_or("linear".to_string(), |n| neuron_text(&n)),
            layer.parameter_bytes(),
            layer.state_words(),
            4 * layer.state_words()
        );
    }
    let _ = writeln!(
        t,
        "flash: {} bytes; state RAM: {} bytes ({} words); layer by layer (a static input, \
         runtime/SEMANTICS.md \"Execution orders\"): {layered_bytes} bytes at {layered_steps} steps",
        sizes.flash_bytes, sizes.ram_bytes, sizes.state_words
    );
    if let Some((board, p)) = &predicted {
        let costs = board.costs();
        let memory = board.memory();
        let needed = memory.ram_needed(sizes.ram_bytes);
        let fits = memory.fits(sizes.ram_bytes);
        let _ = writeln!(
            t,
            "{}: RAM {needed} bytes (state {} + firmware about {}) of the {} bytes of {}: {}",
            board_name(*board),
            sizes.ram_bytes,
            memory.firmware_ram_bytes,
            memory.ram_bytes,
            memory.board,
            if fits {
                "fits".to_string()
            } else if memory.fits(layered_bytes) {
                format!(
                    "does not fit step by step ({} bytes too many); fits layer by layer ({} \
                     bytes in all), the order the QEMU board then runs it in",
                    needed - memory.ram_bytes,
                    memory.ram_needed(layered_bytes)
                )
            } else {
                format!(
                    "does NOT fit ({} bytes too many, {} layer by layer; the model cannot load \
                     there)",
                    needed - memory.ram_bytes,
                    memory.ram_needed(layered_bytes) - memory.ram_bytes
                )
            }
        );
        let _ = writeln!(
            t,
            "{}: {}about {:.0} instructions per inference at {} steps ({:.0} reset and static \
             drive, {:.0} in the steps, about {:.0} synaptic events), {:.3} ms at {} MHz \
             (per-kind costs measured on {}, boards/BENCH.md; instructions, not cycles)",
            board_name(*board),
            if fits {
                ""
            } else {
                "step by step, if it fit: "
            },
            p.instructions,
            p.steps,
            p.static_part,
            p.step_part,
            p.events,
            p.latency_ms,
            p.clock_mhz,
            costs.measured_on
        );
    }
    Ok(t)
}

/// The board's name on the command line.
fn board_name(board: Board) -> &'static str {
    match board {
        Board::CortexM4 => "cortex-m4",
        Board::CortexM0 => "cortex-m0",
    }
}

/// The layer kind's name in `inspect`'s output.
fn kind_name(layer: &Layer<'_>) -> &'static str {
    match layer {
        Layer::Dense(_) => "dense",
        Layer::Conv2d(_) => "conv2d",
        Layer::SumPool(_) => "sum pool",
        _ => "unknown",
    }
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
    let board = args.board.map(|b| (b, args.clock_mhz));
    print_stdout(&inspect(&args.model, args.json, board, args.timesteps)?)
}
