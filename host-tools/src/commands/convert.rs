//! `picospike convert`: swap in spiking neurons, add synapses, scale firing rates, and report
//! accuracy and firing rates at every stage (rate float, spiking float, spiking fixed point).

use std::path::{Path, PathBuf};

use clap::Args;

use super::report::{report_json, stage_table, write_plots, PLOT_FILES};
use super::{
    check_compatible, create_dir, data_inputs, dir_files, limit, non_negative, non_negative_f64,
    positive, print_stdout, steps, warn, Result, TestDataArgs,
};
use crate::model_file;
use crate::output;
use crate::recipe::{self, ConvertOptions, StageReport};
use crate::reference::FloatNetwork;

/// The files `convert --out DIR` writes into DIR, besides the plots.
pub const OUT_FILES: [&str; 3] = ["model.pspk", "spiking.json", "report.json"];

/// How a rate network becomes a spiking one (shared with `export`).
#[derive(Args, Clone, Debug)]
pub struct ConversionArgs {
    /// Lowpass synapse (s) between spiking layers; 0 for none.
    #[arg(long, default_value_t = 0.005, value_parser = non_negative)]
    pub synapse: f32,
    /// Lowpass synapse (s) on the readout; 0 for none.
    #[arg(long, default_value_t = 0.005, value_parser = non_negative)]
    pub output_synapse: f32,
    /// Multiply each spiking layer's rates by K > 0 (input x K, amplitude / K).
    #[arg(long, default_value_t = 1.0, value_parser = positive)]
    pub scale_firing_rates: f32,
    /// Time steps per inference, 1..=65535.
    #[arg(long, default_value_t = 30, value_parser = steps())]
    pub timesteps: u16,
}

impl ConversionArgs {
    /// The conversion options (ranges were checked when parsing).
    pub fn options(&self) -> ConvertOptions {
        ConvertOptions {
            synapse_tau: (self.synapse > 0.0).then_some(self.synapse),
            output_synapse_tau: (self.output_synapse > 0.0).then_some(self.output_synapse),
            scale_firing_rates: self.scale_firing_rates,
            timesteps: self.timesteps,
        }
    }
}

/// Options of `picospike convert`.
#[derive(Args, Clone, Debug)]
pub struct ConvertArgs {
    /// Trained network (JSON from `picospike train`).
    pub network: PathBuf,
    /// Which data, and which part of it, to score.
    #[command(flatten)]
    pub data: TestDataArgs,
    /// How the network becomes a spiking one.
    #[command(flatten)]
    pub conversion: ConversionArgs,
    /// Write report.json, model.pspk, spiking.json, the plots and the confusion matrix into this
    /// directory.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print the report as one JSON object (with per-class accuracy and confusion matrices).
    #[arg(long)]
    pub json: bool,
    /// No progress bar.
    #[arg(short, long)]
    pub quiet: bool,
    /// Search for the cheapest conversion instead: every combination of --sweep-scales,
    /// --sweep-timesteps and --sweep-synapses is converted and run in fixed point, its cost on
    /// --board predicted; prints accuracy against cost with the Pareto front, picks the cheapest
    /// within --max-drop of the rate network, and with --out writes sweep.json, pareto.png and the
    /// pick's model.pspk and spiking.json.
    #[arg(long)]
    pub sweep: bool,
    /// Firing-rate scales the sweep tries (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "1,2,3,5,8", value_parser = positive)]
    pub sweep_scales: Vec<f32>,
    /// Step counts the sweep tries (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "10,15,20,30", value_parser = steps())]
    pub sweep_timesteps: Vec<u16>,
    /// Synapse time constants (s) between spiking layers the sweep tries, 0 for none
    /// (comma-separated; default: the --synapse value).
    #[arg(long, value_delimiter = ',', value_parser = non_negative)]
    pub sweep_synapses: Vec<f32>,
    /// The board whose cost the sweep predicts.
    #[arg(long, value_enum, default_value = "cortex-m4")]
    pub board: crate::cost::Board,
    /// Largest accuracy drop of the sweep's pick below the rate network, in percentage points.
    #[arg(long, default_value_t = 0.5, value_parser = non_negative_f64)]
    pub max_drop: f64,
}

/// `picospike convert`: every stage's accuracy and firing rates for a trained network.
///
/// # Errors
/// A one-line error naming the file if the network or the data do not load or do not match.
pub fn convert(
    network_path: &Path,
    data: &TestDataArgs,
    options: &ConvertOptions,
    progress: bool,
) -> Result<(FloatNetwork, Vec<u8>, StageReport, Vec<u8>)> {
    let (network, test) = load_network_and_test(network_path, data, options)?;
    let (spiking, blob, report) = recipe::convert_and_check(&network, &test, options, progress)?;
    let first = test.images.first().cloned().unwrap_or_default();
    Ok((spiking, blob, report, first))
}

/// The trained network and the test data, checked against each other; the state the
/// evaluation allocates per worker bounded before it runs.
pub(crate) fn load_network_and_test(
    network_path: &Path,
    data: &TestDataArgs,
    options: &ConvertOptions,
) -> Result<(FloatNetwork, crate::data::Dataset)> {
    let network = model_file::load_network(network_path)?;
    super::check_layers(network_path, &network)?;
    super::build_bounded_blob(network_path, &recipe::to_spiking(&network, options))?;
    let classes = network.layers.last().map_or(0, |l| l.outputs);
    let spec = data.spec(classes)?;
    let test = spec.load_test(data.split, Some(network.input.size()))?;
    let test = limit(test, data.samples);
    check_compatible(
        network.input.size(),
        network.input.full_scale,
        &test,
        &spec.source,
    )?;
    Ok((network, test))
}

/// Runs `picospike convert`.
///
/// # Errors
/// A [`super::CommandError`] naming the file or option.
pub fn run(args: &ConvertArgs) -> Result<()> {
    let dirs: Vec<PathBuf> = args.out.iter().cloned().collect();
    let files: Vec<PathBuf> = dirs
        .iter()
        .flat_map(|d| [dir_files(d, &OUT_FILES), dir_files(d, &PLOT_FILES)].concat())
        .collect();
    let mut inputs = data_inputs(&args.data.data);
    inputs.push(args.network.clone());
    output::check_plan(&inputs, &files, &dirs)?;
    let (spiking, blob, report, first) = convert(
        &args.network,
        &args.data,
        &args.conversion.options(),
        !args.quiet,
    )?;
    if let Some(out) = &args.out {
        create_dir(out)?;
        output::write_atomic(&out.join("model.pspk"), &blob)?;
        model_file::save_network(&out.join("spiking.json"), &spiking)?;
        model_file::save_json(&out.join("report.json"), &report_json(&report))?;
        write_plots(out, None, &report, &blob, &first)?;
    }
    if args.json {
        print_stdout(&format!("{}\n", report_json(&report)))?;
    } else {
        print_stdout(&stage_table(&report))?;
    }
    for warning in &report.warnings {
        warn(warning);
    }
    Ok(())
}
