//! `picospike`: command-line front end of the picospike host tools.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};

use picospike_host::data::{Dataset, DEFAULT_CLASSES};
use picospike_host::model_file;
use picospike_host::network::{mean_rates_hz, rate_accuracy, FloatNetwork};
use picospike_host::pipeline;
use picospike_host::recipe::ConvertOptions;
use picospike_host::train::{self, NeuronKind, RateRegularization, TrainConfig, TrainOutcome};

/// Train spiking neural networks and prepare them for fixed-point inference on microcontrollers.
#[derive(Parser)]
#[command(name = "picospike", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a dense rate network (NengoDL recipe, step 1) and save it as a float network (JSON).
    Train(TrainArgs),
    /// Convert a trained network to spiking neurons and report accuracy and firing rates at each
    /// stage: rate (float) -> spiking (float reference) -> spiking (fixed point, the runtime).
    Convert(ConvertArgs),
    /// Quantize a trained network and write the postcard model (and optionally a firmware module).
    Export(ExportArgs),
    /// Run an exported model through the fixed-point runtime on a data set.
    Eval(EvalArgs),
    /// Validate and describe an exported model.
    Inspect(InspectArgs),
    /// The whole recipe on the built-in 8x8 digits: train, convert, quantize, export, report, plot.
    Demo(DemoArgs),
    /// NengoDL's conversion lesson with spiking ReLU: naive swap, + synapse, + firing-rate
    /// scaling, + rate-regularized training, each with its accuracy.
    Lesson(LessonArgs),
}

#[derive(Args)]
struct LessonArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Firing rate (Hz) of a unit activation in the plain rate network.
    #[arg(long, default_value_t = 10.0)]
    max_rate: f32,
    /// Synapse (s) of the filtered stages.
    #[arg(long, default_value_t = 0.01)]
    synapse: f32,
    /// Firing-rate scale of the third stage.
    #[arg(long, default_value_t = 10.0)]
    scale_firing_rates: f32,
    /// Rate-regularization target (Hz) of the last stage.
    #[arg(long, default_value_t = 250.0)]
    rate_target: f32,
    /// Weight of the rate-regularization loss.
    #[arg(long, default_value_t = 1e-3)]
    rate_weight: f32,
    /// Time steps per inference.
    #[arg(long, default_value_t = 30)]
    timesteps: u16,
    /// Epochs (default: the data set's preset).
    #[arg(long)]
    epochs: Option<usize>,
    /// Training seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Also write the table as JSON here (atomically).
    #[arg(long)]
    json: Option<PathBuf>,
    /// No progress bars.
    #[arg(short, long)]
    quiet: bool,
}

/// Where evaluation data come from.
#[derive(Args)]
struct DataArgs {
    /// `digits` (built-in 8x8 digits), an IDX directory (MNIST: its t10k-* test set is used), or a
    /// CSV file (`.csv`/`.csv.gz`: pixels then label per row).
    #[arg(long, default_value = "digits")]
    data: String,
    /// Seed of the stratified train/test split (digits and CSV).
    #[arg(long, default_value_t = 0)]
    split_seed: u64,
    /// Test fraction of the stratified split (digits and CSV).
    #[arg(long, default_value_t = 0.2)]
    test_fraction: f64,
    /// Number of classes; labels must be smaller.
    #[arg(long, default_value_t = DEFAULT_CLASSES)]
    classes: usize,
    /// Raw value meaning 1.0 for CSV data (default: 16 if no pixel exceeds 16, else 255).
    #[arg(long)]
    full_scale: Option<u16>,
    /// Evaluate only the first N test samples.
    #[arg(long)]
    samples: Option<usize>,
}

impl DataArgs {
    fn spec(&self) -> pipeline::DataSpec {
        pipeline::DataSpec {
            source: self.data.clone(),
            split_seed: self.split_seed,
            test_fraction: self.test_fraction,
            classes: self.classes,
            full_scale: self.full_scale,
        }
    }
}

/// How a rate network becomes a spiking one.
#[derive(Args)]
struct ConversionArgs {
    /// Lowpass synapse (s) between spiking layers; 0 for none.
    #[arg(long, default_value_t = 0.005)]
    synapse: f32,
    /// Lowpass synapse (s) on the readout; 0 for none.
    #[arg(long, default_value_t = 0.005)]
    output_synapse: f32,
    /// Multiply each spiking layer's rates by K (input x K, amplitude / K).
    #[arg(long, default_value_t = 1.0)]
    scale_firing_rates: f32,
    /// Time steps per inference.
    #[arg(long, default_value_t = 30)]
    timesteps: u16,
}

impl ConversionArgs {
    fn options(&self) -> Result<ConvertOptions> {
        if !(self.scale_firing_rates.is_finite() && self.scale_firing_rates > 0.0) {
            bail!(
                "--scale-firing-rates {}: expected a positive number",
                self.scale_firing_rates
            );
        }
        if self.timesteps == 0 {
            bail!("--timesteps 0: expected at least 1 step");
        }
        for (name, tau) in [
            ("--synapse", self.synapse),
            ("--output-synapse", self.output_synapse),
        ] {
            if !(tau.is_finite() && tau >= 0.0) {
                bail!("{name} {tau}: expected a time constant >= 0 seconds");
            }
        }
        Ok(ConvertOptions {
            synapse_tau: (self.synapse > 0.0).then_some(self.synapse),
            output_synapse_tau: (self.output_synapse > 0.0).then_some(self.output_synapse),
            scale_firing_rates: self.scale_firing_rates,
            timesteps: self.timesteps,
        })
    }
}

#[derive(Args)]
struct ConvertArgs {
    /// Trained network (JSON from `picospike train`).
    network: PathBuf,
    #[command(flatten)]
    data: DataArgs,
    #[command(flatten)]
    conversion: ConversionArgs,
    /// Write report.json, model.pspk and the plots into this directory.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print the report as one JSON object.
    #[arg(long)]
    json: bool,
    /// No progress bar.
    #[arg(short, long)]
    quiet: bool,
}

#[derive(Args)]
struct ExportArgs {
    /// Trained network (JSON from `picospike train`).
    network: PathBuf,
    /// The model file to write (postcard, written atomically).
    #[arg(short, long)]
    output: PathBuf,
    #[command(flatten)]
    conversion: ConversionArgs,
    /// Also write DIR/model.pspk and DIR/model.rs (constants and test samples) for firmware.
    #[arg(long)]
    rust_module: Option<PathBuf>,
    /// Test samples to put into the Rust module, from --data.
    #[arg(long, default_value_t = 0)]
    module_samples: usize,
    /// Data set for --module-samples.
    #[arg(long)]
    data: Option<String>,
    /// Seed of the stratified split for --data (digits and CSV).
    #[arg(long, default_value_t = 0)]
    split_seed: u64,
}

#[derive(Args)]
struct EvalArgs {
    /// The model file (from `picospike export`).
    model: PathBuf,
    #[command(flatten)]
    data: DataArgs,
    /// Time steps per inference (default: the model's).
    #[arg(long)]
    timesteps: Option<u16>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
    /// No progress bar.
    #[arg(short, long)]
    quiet: bool,
}

#[derive(Args)]
struct InspectArgs {
    /// The model file.
    model: PathBuf,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct DemoArgs {
    /// Directory for the model, report.json and the plots.
    #[arg(long, default_value = "out/demo")]
    out: PathBuf,
    /// Training seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// No progress bars.
    #[arg(short, long)]
    quiet: bool,
}

/// Options of `picospike train`; unset training options take the data set's preset.
#[derive(Args)]
struct TrainArgs {
    /// `digits` (built-in 8x8 digits), an IDX directory (MNIST: train-* or train10k-*, and t10k-*), or a CSV
    /// file (`.csv`/`.csv.gz`: pixels then label per row).
    #[arg(long)]
    data: String,
    /// Where to write the trained network (JSON; written atomically).
    #[arg(short, long)]
    output: PathBuf,
    /// Also write the per-epoch history as CSV here.
    #[arg(long)]
    history: Option<PathBuf>,
    /// Hidden layer sizes, comma separated (preset: digits 100, MNIST 256).
    #[arg(long, value_delimiter = ',')]
    hidden: Option<Vec<usize>>,
    /// Hidden neuron type.
    #[arg(long, value_enum)]
    neuron: Option<NeuronKind>,
    /// Nengo max_rate in Hz (rate at input 1).
    #[arg(long)]
    max_rate: Option<f32>,
    /// Nengo intercept.
    #[arg(long)]
    intercept: Option<f32>,
    /// Output amplitude (default 1/max_rate).
    #[arg(long)]
    amplitude: Option<f32>,
    /// LIF membrane time constant (s).
    #[arg(long)]
    tau_rc: Option<f32>,
    /// LIF refractory period (s).
    #[arg(long)]
    tau_ref: Option<f32>,
    /// SoftLIFRate smoothing.
    #[arg(long)]
    sigma: Option<f32>,
    /// Number of epochs.
    #[arg(long)]
    epochs: Option<usize>,
    /// Minibatch size.
    #[arg(long)]
    batch_size: Option<usize>,
    /// Initial Adam learning rate (cosine-decayed).
    #[arg(long)]
    lr: Option<f64>,
    /// Decoupled weight decay (AdamW).
    #[arg(long)]
    weight_decay: Option<f64>,
    /// Fraction of the training set held out for validation (0 disables).
    #[arg(long)]
    val_fraction: Option<f64>,
    /// Keep the epoch with the best validation accuracy.
    #[arg(long)]
    keep_best: bool,
    /// Firing-rate regularization target in Hz.
    #[arg(long, requires = "rate_weight")]
    rate_target: Option<f32>,
    /// Firing-rate regularization weight.
    #[arg(long, requires = "rate_target")]
    rate_weight: Option<f32>,
    /// Random shift augmentation in pixels (preset: MNIST 2, digits 0).
    #[arg(long)]
    augment_shift: Option<usize>,
    /// Random rotation augmentation in degrees either way (preset: MNIST 10, digits 0).
    #[arg(long)]
    augment_rotate: Option<f32>,
    /// Random scale augmentation, relative (preset: MNIST 0.1 for +-10%, digits 0).
    #[arg(long)]
    augment_scale: Option<f32>,
    /// Dropout probability on hidden outputs during training.
    #[arg(long)]
    dropout: Option<f32>,
    /// Training seed (initialization, batches, augmentation, validation split).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Seed of the stratified train/test split (digits and CSV).
    #[arg(long, default_value_t = 0)]
    split_seed: u64,
    /// Test fraction of the stratified split (digits and CSV).
    #[arg(long, default_value_t = 0.2)]
    test_fraction: f64,
    /// Number of classes; labels must be smaller.
    #[arg(long, default_value_t = DEFAULT_CLASSES)]
    classes: usize,
    /// Raw value meaning 1.0 for CSV data (default: 16 if no pixel exceeds 16, else 255).
    #[arg(long)]
    full_scale: Option<u16>,
    /// Simulation time step recorded in the network (s).
    #[arg(long)]
    dt: Option<f32>,
    /// Spiking steps per inference recorded in the network.
    #[arg(long)]
    timesteps: Option<u16>,
    /// Lowpass synapse between spiking layers (s); 0 for none.
    #[arg(long)]
    synapse_tau: Option<f32>,
    /// No progress bar.
    #[arg(short, long)]
    quiet: bool,
}

/// Loads `(train, test, preset)` for a `--data` argument.
fn load_data(args: &TrainArgs) -> Result<(Dataset, Dataset, TrainConfig)> {
    let spec = pipeline::DataSpec {
        source: args.data.clone(),
        split_seed: args.split_seed,
        test_fraction: args.test_fraction,
        classes: args.classes,
        full_scale: args.full_scale,
    };
    let (train_set, test_set) = spec.load()?;
    let preset = if spec.is_idx_dir() {
        TrainConfig::mnist()
    } else {
        TrainConfig::digits()
    };
    Ok((train_set, test_set, preset))
}

fn config(args: &TrainArgs, mut cfg: TrainConfig) -> TrainConfig {
    macro_rules! set {
        ($($field:ident).+ = $opt:expr) => {
            if let Some(v) = $opt.clone() {
                cfg.$($field).+ = v;
            }
        };
    }
    set!(hidden = args.hidden);
    set!(neuron.kind = args.neuron);
    set!(neuron.max_rate = args.max_rate);
    set!(neuron.intercept = args.intercept);
    set!(neuron.tau_rc = args.tau_rc);
    set!(neuron.tau_ref = args.tau_ref);
    set!(neuron.sigma = args.sigma);
    set!(epochs = args.epochs);
    set!(batch_size = args.batch_size);
    set!(learning_rate = args.lr);
    set!(weight_decay = args.weight_decay);
    set!(val_fraction = args.val_fraction);
    set!(augment_shift = args.augment_shift);
    set!(augment_rotate_deg = args.augment_rotate);
    set!(augment_scale = args.augment_scale);
    set!(dropout = args.dropout);
    set!(dt = args.dt);
    set!(timesteps = args.timesteps);
    if args.amplitude.is_some() {
        cfg.neuron.amplitude = args.amplitude;
    }
    if let Some(tau) = args.synapse_tau {
        cfg.synapse_tau = (tau > 0.0).then_some(tau);
    }
    if let (Some(target_hz), Some(weight)) = (args.rate_target, args.rate_weight) {
        cfg.rate_reg = Some(RateRegularization { target_hz, weight });
    }
    cfg.keep_best |= args.keep_best;
    cfg.seed = args.seed;
    cfg.progress = !args.quiet;
    cfg
}

fn write_history(path: &Path, out: &TrainOutcome) -> Result<()> {
    let mut csv = String::from("epoch,train_loss,train_acc,val_acc,learning_rate,elapsed_s\n");
    for e in &out.history {
        let val = e.val_acc.map_or(String::new(), |v| format!("{v:.6}"));
        csv += &format!(
            "{},{:.6},{:.6},{},{:.6e},{:.3}\n",
            e.epoch, e.train_loss, e.train_acc, val, e.learning_rate, e.elapsed_s
        );
    }
    let tmp = path.with_extension("csv.tmp");
    std::fs::write(&tmp, csv).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}

fn report(net: &FloatNetwork, test: &Dataset, out: &TrainOutcome) {
    let acc = rate_accuracy(net, &test.images, &test.labels);
    let params: usize = net
        .layers
        .iter()
        .map(|l| l.weights.len() + l.biases.len())
        .sum();
    let weights: usize = net.layers.iter().map(|l| l.weights.len()).sum();
    let hidden: usize = net.layers.iter().rev().skip(1).map(|l| l.outputs).sum();
    let sizes: Vec<String> = std::iter::once(net.input.size.to_string())
        .chain(net.layers.iter().map(|l| l.outputs.to_string()))
        .collect();
    println!(
        "network {}: {params} parameters (~{:.1} KiB of int8 weights), {hidden} hidden neurons",
        sizes.join("-"),
        weights as f64 / 1024.0
    );
    println!(
        "trained {} epochs in {:.1} s (kept epoch {})",
        out.history.len(),
        out.seconds,
        out.kept_epoch
    );
    println!(
        "rate-mode test accuracy: {:.2}% ({} samples)",
        100.0 * acc,
        test.len()
    );
    let window = f64::from(net.input.timesteps) * f64::from(net.dt);
    for (i, r) in mean_rates_hz(net, &test.images).iter().enumerate() {
        println!(
            "hidden layer {i}: mean rate {r:.1} Hz ({:.1} spikes per {}-step window)",
            r * window,
            net.input.timesteps
        );
        if r * window < 2.0 {
            eprintln!(
                "warning: hidden layer {i} fires too little for {} steps; raise --max-rate or use --rate-target",
                net.input.timesteps
            );
        }
    }
}

fn run_train(args: &TrainArgs) -> Result<()> {
    let (train_set, test_set, preset) = load_data(args)?;
    let cfg = config(args, preset);
    eprintln!(
        "data: {} training and {} test samples, {} inputs, full scale {}",
        train_set.len(),
        test_set.len(),
        train_set.features(),
        train_set.full_scale
    );
    let out = train::train(&train_set, &cfg).context("training")?;
    model_file::save_network(&args.output, &out.network).context("saving the network")?;
    if let Some(h) = &args.history {
        write_history(h, &out)?;
    }
    report(&out.network, &test_set, &out);
    println!("saved {}", args.output.display());
    Ok(())
}

fn run_convert(args: &ConvertArgs) -> Result<()> {
    let options = args.conversion.options()?;
    let spec = args.data.spec();
    let (spiking, blob, report) = pipeline::convert(
        &args.network,
        &spec,
        &options,
        args.data.samples,
        !args.quiet,
    )?;
    if let Some(out) = &args.out {
        std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
        model_file::write_atomic(&out.join("model.pspk"), &blob)?;
        model_file::save_network(&out.join("spiking.json"), &spiking)?;
        model_file::save_json(&out.join("report.json"), &pipeline::report_json(&report))?;
        let (_, test) = spec.load()?;
        pipeline::write_plots(out, None, &report, &blob, &test.images[0])?;
    }
    if args.json {
        println!("{}", pipeline::report_json(&report));
    } else {
        print!("{}", pipeline::stage_table(&report));
    }
    for warning in &report.warnings {
        eprintln!("warning: {warning}");
    }
    Ok(())
}

fn run_export(args: &ExportArgs) -> Result<()> {
    let options = args.conversion.options()?;
    let spec = args.data.as_ref().map(|source| pipeline::DataSpec {
        source: source.clone(),
        split_seed: args.split_seed,
        ..pipeline::DataSpec::digits()
    });
    if args.module_samples > 0 && spec.is_none() {
        bail!(
            "--module-samples {} needs --data to take the samples from",
            args.module_samples
        );
    }
    let module = args
        .rust_module
        .as_deref()
        .map(|dir| (dir, spec.as_ref(), args.module_samples));
    let sizes = pipeline::export_network(&args.network, &options, &args.output, module)?;
    println!(
        "wrote {}: {} bytes flash, {} bytes state RAM ({} words), {} inputs, {} outputs",
        args.output.display(),
        sizes.flash_bytes,
        sizes.ram_bytes,
        sizes.state_words,
        sizes.input_size,
        sizes.output_size
    );
    if let Some(dir) = &args.rust_module {
        println!(
            "wrote {}/model.rs and {}/model.pspk",
            dir.display(),
            dir.display()
        );
    }
    Ok(())
}

fn run_eval(args: &EvalArgs) -> Result<()> {
    let (evaluation, json) = pipeline::eval(
        &args.model,
        &args.data.spec(),
        args.timesteps,
        args.data.samples,
        !args.quiet,
    )?;
    if args.json {
        println!("{json}");
        return Ok(());
    }
    println!(
        "accuracy {:.2}% on {} samples, {} steps; {:.0} synaptic events per inference",
        100.0 * evaluation.accuracy,
        evaluation.samples,
        evaluation.timesteps,
        evaluation.synaptic_events_per_inference
    );
    for layer in &evaluation.layers {
        println!(
            "layer {}: {} neurons, mean rate {:.1} Hz, {:.1}% silent",
            layer.layer,
            layer.neurons,
            layer.mean_rate_hz,
            100.0 * layer.silent_fraction
        );
    }
    Ok(())
}

fn run_demo(args: &DemoArgs) -> Result<()> {
    let started = std::time::Instant::now();
    let summary = pipeline::demo(&args.out, args.seed, !args.quiet)?;
    print!("{}", pipeline::stage_table(&summary.report));
    for warning in &summary.report.warnings {
        eprintln!("warning: {warning}");
    }
    println!("\nwrote, in {:.0} s:", started.elapsed().as_secs_f64());
    for file in &summary.files {
        println!("  {}", file.display());
    }
    Ok(())
}

fn run_lesson(args: &LessonArgs) -> Result<()> {
    let spec = args.data.spec();
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
    let rows = pipeline::lesson(
        &spec,
        config,
        &pipeline::LessonOptions {
            synapse: args.synapse,
            scale: args.scale_firing_rates,
            rate_target: args.rate_target,
            rate_weight: args.rate_weight,
            timesteps: args.timesteps,
        },
        args.data.samples,
        !args.quiet,
    )?;
    let (_, test) = spec.load()?;
    let samples = args.data.samples.map_or(test.len(), |n| n.min(test.len()));
    print!("{}", pipeline::lesson_table(&rows, args.timesteps, samples));
    if let Some(path) = &args.json {
        model_file::save_json(path, &rows)?;
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Train(args) => run_train(args),
        Command::Convert(args) => run_convert(args),
        Command::Export(args) => run_export(args),
        Command::Eval(args) => run_eval(args),
        Command::Inspect(args) => pipeline::inspect(&args.model, args.json).map(|t| print!("{t}")),
        Command::Demo(args) => run_demo(args),
        Command::Lesson(args) => run_lesson(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
