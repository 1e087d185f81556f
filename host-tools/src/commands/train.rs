//! `picospike train`: fit a dense rate network (NengoDL recipe, step 1) and save it as JSON.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;

use clap::Args;

use super::{
    at_least_one, data_inputs, dt, epochs, fraction_or_zero, non_negative, non_negative_f64,
    positive, positive_f64, print_stdout, steps, train_network, warn, Result, TrainDataArgs,
};
use crate::data::Dataset;
use crate::model_file;
use crate::output;
use crate::rate_float::{mean_rates_hz, rate_accuracy};
use crate::reference::{FloatKind, FloatNetwork};
use crate::train::{NeuronKind, OptimizerKind, RateRegularization, TrainConfig, TrainOutcome};

/// Options of `picospike train`; unset training options take the data set's preset.
#[derive(Args)]
pub struct TrainArgs {
    /// The data to train and test on.
    #[command(flatten)]
    pub data: TrainDataArgs,
    /// Where to write the trained network (JSON; written atomically).
    #[arg(short, long)]
    pub output: PathBuf,
    /// Also write the per-epoch history as CSV here.
    #[arg(long)]
    pub history: Option<PathBuf>,
    /// Training preset (default: `digits` for the digits and CSV data, `mnist` for an IDX
    /// directory). `mnist-conv` is the convolutional MNIST network (see `TrainConfig::mnist_conv`).
    #[arg(long, value_enum)]
    pub preset: Option<Preset>,
    /// Hidden layer sizes of a dense network, comma separated (preset: digits 100, MNIST 256).
    #[arg(long, value_delimiter = ',', value_parser = at_least_one, conflicts_with = "arch")]
    pub hidden: Option<Vec<usize>>,
    /// The whole network, readout last, e.g. `conv8k5s2,conv16k5s2,dense10`: `conv<F>k<K>[s<S>]
    /// [p<P>|same|valid]`, `avgpool<N>`, `dense<N>` (full grammar: `picospike_host::arch`).
    #[arg(long)]
    pub arch: Option<String>,
    /// Hidden neuron type.
    #[arg(long, value_enum)]
    pub neuron: Option<NeuronKind>,
    /// Nengo max_rate in Hz (rate at input 1).
    #[arg(long, value_parser = positive)]
    pub max_rate: Option<f32>,
    /// Nengo intercept.
    #[arg(long)]
    pub intercept: Option<f32>,
    /// Output amplitude (default 1/max_rate).
    #[arg(long, value_parser = positive)]
    pub amplitude: Option<f32>,
    /// LIF membrane time constant (s).
    #[arg(long, value_parser = positive)]
    pub tau_rc: Option<f32>,
    /// LIF refractory period (s).
    #[arg(long, value_parser = non_negative)]
    pub tau_ref: Option<f32>,
    /// SoftLIFRate smoothing.
    #[arg(long, value_parser = positive)]
    pub sigma: Option<f32>,
    /// Number of epochs, 1..=100000.
    #[arg(long, value_parser = epochs)]
    pub epochs: Option<usize>,
    /// Minibatch size.
    #[arg(long, value_parser = at_least_one)]
    pub batch_size: Option<usize>,
    /// Gradient-descent rule (default adam; rmsprop is Keras' RMSprop, what NengoDL's
    /// keras-to-snn example trains its rate-regularized network with).
    #[arg(long, value_enum)]
    pub optimizer: Option<OptimizerKind>,
    /// Initial learning rate (cosine-decayed).
    #[arg(long, value_parser = positive_f64)]
    pub lr: Option<f64>,
    /// Decoupled weight decay (AdamW).
    #[arg(long, value_parser = non_negative_f64)]
    pub weight_decay: Option<f64>,
    /// Fraction of the training set held out for validation, in [0, 1) (0 disables).
    #[arg(long, value_parser = fraction_or_zero)]
    pub val_fraction: Option<f64>,
    /// Keep the epoch with the best validation accuracy.
    #[arg(long)]
    pub keep_best: bool,
    /// Firing-rate regularization target in Hz.
    #[arg(long, requires = "rate_weight", value_parser = positive)]
    pub rate_target: Option<f32>,
    /// Firing-rate regularization weight.
    #[arg(long, requires = "rate_target", value_parser = non_negative)]
    pub rate_weight: Option<f32>,
    /// Random shift augmentation in pixels (preset: MNIST 2, digits 0).
    #[arg(long)]
    pub augment_shift: Option<usize>,
    /// Random rotation augmentation in degrees either way (preset: MNIST 10, digits 0).
    #[arg(long, value_parser = non_negative)]
    pub augment_rotate: Option<f32>,
    /// Random scale augmentation, relative (preset: MNIST 0.1 for +-10%, digits 0).
    #[arg(long, value_parser = non_negative)]
    pub augment_scale: Option<f32>,
    /// Dropout probability on hidden outputs during training.
    #[arg(long, value_parser = non_negative)]
    pub dropout: Option<f32>,
    /// Training seed (initialization, batches, augmentation, validation split).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Simulation time step recorded in the network (s), in (0, 1] (what `export` accepts).
    #[arg(long, value_parser = dt)]
    pub dt: Option<f32>,
    /// Spiking steps per inference recorded in the network.
    #[arg(long, value_parser = steps())]
    pub timesteps: Option<u16>,
    /// Lowpass synapse between spiking layers (s); 0 for none.
    #[arg(long, value_parser = non_negative)]
    pub synapse_tau: Option<f32>,
    /// No progress bar and no data summary on standard error (errors and warnings only).
    #[arg(short, long)]
    pub quiet: bool,
}

/// A named set of training options.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Preset {
    /// 64-100-10 LIF for the built-in 8x8 digits ([`TrainConfig::digits`]).
    Digits,
    /// 784-256-10 LIF for MNIST ([`TrainConfig::mnist`]).
    Mnist,
    /// Convolutional LIF network for MNIST ([`TrainConfig::mnist_conv`]).
    MnistConv,
}

impl Preset {
    /// The preset's configuration.
    pub fn config(self) -> TrainConfig {
        match self {
            Preset::Digits => TrainConfig::digits(),
            Preset::Mnist => TrainConfig::mnist(),
            Preset::MnistConv => TrainConfig::mnist_conv(),
        }
    }
}

/// The data set's preset with the options given on the command line.
fn config(args: &TrainArgs, mut cfg: TrainConfig) -> TrainConfig {
    macro_rules! set {
        ($($field:ident).+ = $opt:expr) => {
            if let Some(v) = $opt.clone() {
                cfg.$($field).+ = v;
            }
        };
    }
    if let Some(hidden) = &args.hidden {
        cfg.hidden = hidden.clone();
        cfg.arch = None;
    }
    if args.arch.is_some() {
        cfg.arch = args.arch.clone();
    }
    set!(neuron.kind = args.neuron);
    set!(neuron.max_rate = args.max_rate);
    set!(neuron.intercept = args.intercept);
    set!(neuron.tau_rc = args.tau_rc);
    set!(neuron.tau_ref = args.tau_ref);
    set!(neuron.sigma = args.sigma);
    set!(epochs = args.epochs);
    set!(batch_size = args.batch_size);
    set!(optimizer = args.optimizer);
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

/// Writes the per-epoch history as CSV.
fn write_history(path: &std::path::Path, out: &TrainOutcome) -> Result<()> {
    output::write_with(path, |w| {
        writeln!(
            w,
            "epoch,train_loss,train_acc,val_acc,learning_rate,elapsed_s"
        )?;
        for e in &out.history {
            let val = e.val_acc.map_or(String::new(), |v| format!("{v:.6}"));
            writeln!(
                w,
                "{},{:.6},{:.6},{},{:.6e},{:.3}",
                e.epoch, e.train_loss, e.train_acc, val, e.learning_rate, e.elapsed_s
            )?;
        }
        Ok(())
    })?;
    Ok(())
}

/// The network's size, the test accuracy and the hidden layers' rates, as text; warnings go to
/// standard error at once.
fn report(net: &FloatNetwork, arch: Option<&str>, test: &Dataset, out: &TrainOutcome) -> String {
    let mut t = String::new();
    let acc = rate_accuracy(net, &test.images, &test.labels);
    let params: usize = net
        .layers
        .iter()
        .map(|l| l.weights.len() + l.biases.len())
        .sum();
    let weights: usize = net.layers.iter().map(|l| l.weights.len()).sum();
    let hidden: usize = net
        .layers
        .iter()
        .rev()
        .skip(1)
        .filter(|l| l.kind.has_neurons())
        .map(|l| l.outputs)
        .sum();
    let shape = |kind: &FloatKind, outputs: usize| match *kind {
        FloatKind::Conv2d { output, .. } => {
            format!("{}x{}x{}", output.height, output.width, output.channels)
        }
        FloatKind::AvgPool { input, size } => {
            let o = FloatKind::pool_output(input, size);
            format!("{}x{}x{}", o.height, o.width, o.channels)
        }
        FloatKind::Dense => outputs.to_string(),
    };
    let input = match net.layers.first().map(|l| l.kind) {
        Some(FloatKind::Conv2d { input, .. }) => {
            format!("{}x{}x{}", input.height, input.width, input.channels)
        }
        _ => net.input.size().to_string(),
    };
    let sizes: Vec<String> = std::iter::once(input)
        .chain(net.layers.iter().map(|l| shape(&l.kind, l.outputs)))
        .collect();
    let name = arch.map_or(String::new(), |a| format!("{a} "));
    let _ = writeln!(
        t,
        "network {name}{}: {params} parameters (~{:.1} KiB of int8 weights), {hidden} hidden neurons",
        sizes.join("-"),
        weights as f64 / 1024.0
    );
    let _ = writeln!(
        t,
        "trained {} epochs in {:.1} s (kept epoch {})",
        out.history.len(),
        out.seconds,
        out.kept_epoch
    );
    let _ = writeln!(
        t,
        "rate-mode test accuracy: {:.2}% ({} samples)",
        100.0 * acc,
        test.len()
    );
    let window = f64::from(net.input.timesteps) * f64::from(net.dt);
    for (i, r) in mean_rates_hz(net, &test.images).iter().enumerate() {
        if !net.layers[i].kind.has_neurons() {
            continue;
        }
        let _ = writeln!(
            t,
            "hidden layer {i}: mean rate {r:.1} Hz ({:.1} spikes per {}-step window)",
            r * window,
            net.input.timesteps
        );
        if r * window < 2.0 {
            warn(&format!(
                "hidden layer {i} fires too little for {} steps; raise --max-rate or use --rate-target",
                net.input.timesteps
            ));
        }
    }
    t
}

/// Runs `picospike train`.
///
/// # Errors
/// A [`super::CommandError`] naming the file or option.
pub fn run(args: &TrainArgs) -> Result<()> {
    let spec = args.data.spec()?;
    // Every output before the training: a bad path fails now, not after minutes.
    let outputs: Vec<PathBuf> = std::iter::once(args.output.clone())
        .chain(args.history.clone())
        .collect();
    output::check_plan(&data_inputs(&spec.source), &outputs, &[])?;
    let (train_set, test_set) = spec.load()?;
    let preset = match args.preset {
        Some(p) => p.config(),
        None if spec.is_idx_dir() => TrainConfig::mnist(),
        None => TrainConfig::digits(),
    };
    let cfg = config(args, preset);
    if !args.quiet {
        let _ = writeln!(
            std::io::stderr(),
            "data: {} training and {} test samples, {} inputs, full scale {}",
            train_set.len(),
            test_set.len(),
            train_set.features(),
            train_set.full_scale
        );
    }
    let out = train_network(&train_set, &cfg)?;
    model_file::save_network(&args.output, &out.network)?;
    if let Some(h) = &args.history {
        write_history(h, &out)?;
    }
    let mut text = report(&out.network, cfg.arch.as_deref(), &test_set, &out);
    text += &format!("saved {}\n", args.output.display());
    // With the network on standard output, the report goes to standard error.
    if output::is_stdout(&args.output) {
        let _ = std::io::stderr().write_all(text.as_bytes());
        Ok(())
    } else {
        print_stdout(&text)
    }
}
