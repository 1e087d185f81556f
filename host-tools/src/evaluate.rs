//! Accuracy and firing-rate measurement of a network on a data set, in each recipe stage.
//!
//! Three executors, one set of figures: the rate network in float (the trained function), the
//! spiking network in float (the reference simulator, Nengo semantics) and the spiking network in
//! fixed point (the same runtime that runs on the device). Spiking evaluations record the
//! accuracy after every step, so one pass gives the accuracy-versus-steps curve.

use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use serde::Serialize;

use picospike_runtime::{LoadError, Model, Network};

use crate::data::Dataset;
use crate::reference::{argmax, FloatNetwork};

/// Firing statistics of one spiking layer.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LayerRates {
    /// Index of the layer.
    pub layer: usize,
    /// Number of neurons.
    pub neurons: usize,
    /// Mean firing rate over neurons and samples, in Hz.
    pub mean_rate_hz: f64,
    /// Fraction of neurons that did not spike during an inference, averaged over samples.
    pub silent_fraction: f64,
    /// Mean spikes per neuron per inference (what a reader of the window actually sees).
    pub spikes_per_neuron: f64,
    /// Each neuron's mean rate in Hz (for histograms).
    #[serde(skip)]
    pub neuron_rates_hz: Vec<f64>,
}

/// What a spiking evaluation measured.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SpikingEvaluation {
    /// Samples evaluated.
    pub samples: usize,
    /// Steps per inference.
    pub timesteps: usize,
    /// Accuracy (0..=1) after the last step.
    pub accuracy: f64,
    /// Accuracy after step `t + 1`, for every `t < timesteps`.
    pub accuracy_by_step: Vec<f64>,
    /// Firing statistics of each spiking layer (pools, which have no neurons, are left out;
    /// `LayerRates::layer` is the index in the network).
    pub layers: Vec<LayerRates>,
    /// Weight additions triggered by spikes per inference (0 for the float reference, which is
    /// not event-driven).
    pub synaptic_events_per_inference: f64,
    /// Accuracy of each class after the last step (`None` for a class without samples).
    pub per_class_accuracy: Vec<Option<f64>>,
    /// Counts after the last step: row = true class, column = predicted class, for the
    /// classes below the model's output count and the data's class count, at most
    /// [`MAX_CONFUSION_CLASSES`].
    pub confusion_matrix: Vec<Vec<u64>>,
    /// Predictions of a class at or above [`MAX_CONFUSION_CLASSES`] (only a model with more
    /// outputs makes them): wrong, and not in the matrix.
    pub predictions_beyond_matrix: u64,
}

/// What one spiking inference contributes to the totals (dropped once added: memory is set by
/// the model's layer sizes and the step count, never by the number of samples).
struct SampleTrace {
    /// Whether the class after each step was right.
    correct_by_step: Vec<bool>,
    /// Spikes per neuron, per spiking layer.
    neuron_spikes: Vec<Vec<u32>>,
    synaptic_events: u64,
    /// The true class and the class after the last step.
    label: usize,
    predicted: usize,
}

/// Most classes a confusion matrix has rows and columns for: labels are bytes, so every true
/// class fits; a prediction of a class at or above it (only from a model with more outputs) is
/// counted in [`SpikingEvaluation::predictions_beyond_matrix`]. The matrix is at most 256 x 256
/// counts (512 KiB) whatever the model declares.
pub const MAX_CONFUSION_CLASSES: usize = 256;

/// Running totals of many inferences; two halves of a data set merge.
#[derive(Clone, Debug, Default)]
struct Totals {
    samples: usize,
    /// Samples right after each step.
    correct_by_step: Vec<u64>,
    /// Spikes of each neuron over all samples, per spiking layer (empty for pools).
    spikes: Vec<Vec<u64>>,
    /// Per layer: (sample, neuron) pairs without a spike.
    silent: Vec<u64>,
    synaptic_events: u64,
    confusion: Vec<Vec<u64>>,
    beyond: u64,
}

impl Totals {
    /// Empty totals with a `classes` x `classes` confusion matrix (at most
    /// [`MAX_CONFUSION_CLASSES`]).
    fn new(classes: usize) -> Self {
        let classes = classes.min(MAX_CONFUSION_CLASSES);
        Totals {
            confusion: vec![vec![0; classes]; classes],
            ..Totals::default()
        }
    }

    fn add(mut self, trace: SampleTrace) -> Self {
        if self.samples == 0 && self.spikes.is_empty() {
            self.correct_by_step = vec![0; trace.correct_by_step.len()];
            self.spikes = trace
                .neuron_spikes
                .iter()
                .map(|l| vec![0; l.len()])
                .collect();
            self.silent = vec![0; trace.neuron_spikes.len()];
        }
        self.samples += 1;
        for (total, &right) in self.correct_by_step.iter_mut().zip(&trace.correct_by_step) {
            *total += u64::from(right);
        }
        for ((totals, silent), counts) in self
            .spikes
            .iter_mut()
            .zip(&mut self.silent)
            .zip(&trace.neuron_spikes)
        {
            for (t, &c) in totals.iter_mut().zip(counts) {
                *t += u64::from(c);
                *silent += u64::from(c == 0);
            }
        }
        self.synaptic_events = self.synaptic_events.saturating_add(trace.synaptic_events);
        match self
            .confusion
            .get_mut(trace.label)
            .and_then(|row| row.get_mut(trace.predicted))
        {
            Some(cell) => *cell += 1,
            None if trace.predicted >= MAX_CONFUSION_CLASSES && trace.predicted != usize::MAX => {
                self.beyond += 1;
            }
            None => {}
        }
        self
    }

    fn merge(self, other: Totals) -> Totals {
        if other.samples == 0 {
            return self;
        }
        if self.samples == 0 {
            return other;
        }
        let mut sum = self;
        let add = |a: &mut Vec<u64>, b: &[u64]| {
            for (x, &y) in a.iter_mut().zip(b) {
                *x += y;
            }
        };
        sum.samples += other.samples;
        add(&mut sum.correct_by_step, &other.correct_by_step);
        for (a, b) in sum.spikes.iter_mut().zip(&other.spikes) {
            add(a, b);
        }
        add(&mut sum.silent, &other.silent);
        sum.synaptic_events = sum.synaptic_events.saturating_add(other.synaptic_events);
        for (a, b) in sum.confusion.iter_mut().zip(&other.confusion) {
            add(a, b);
        }
        sum.beyond += other.beyond;
        sum
    }
}

/// A progress bar of `len` items labelled `label`, hidden unless `show`.
pub(crate) fn progress_bar(len: usize, label: &str, show: bool) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len as u64);
    bar.set_style(
        ProgressStyle::with_template("{msg:>18} [{bar:30}] {pos}/{len} ({eta} left)")
            .expect("static template")
            .progress_chars("=> "),
    );
    bar.set_message(label.to_string());
    bar
}

/// Spiking accuracy and rates of the float reference simulator.
pub fn float_spiking(
    network: &FloatNetwork,
    data: &Dataset,
    timesteps: usize,
    progress: bool,
) -> SpikingEvaluation {
    let bar = progress_bar(data.len(), "spiking float", progress);
    let outputs = network.layers.last().map_or(0, |l| l.outputs);
    let classes = outputs.max(data.classes);
    let totals = data
        .images
        .par_iter()
        .zip(&data.labels)
        .map(|(image, &label)| {
            let mut sim = network.simulator(image);
            let mut correct_by_step = Vec::with_capacity(timesteps);
            let mut predicted = 0;
            for _ in 0..timesteps {
                sim.step();
                predicted = argmax(sim.outputs());
                correct_by_step.push(predicted == usize::from(label));
            }
            bar.inc(1);
            let mut neuron_spikes = sim.run().neuron_spikes;
            neuron_spikes.pop(); // the readout does not spike
                                 // Pools have no neurons: no rates of their own (summarize skips empty layers).
            for (spikes, layer) in neuron_spikes.iter_mut().zip(&network.layers) {
                if !layer.kind.has_neurons() {
                    spikes.clear();
                }
            }
            SampleTrace {
                correct_by_step,
                neuron_spikes,
                synaptic_events: 0,
                label: usize::from(label),
                predicted,
            }
        })
        .fold(|| Totals::new(classes), Totals::add)
        .reduce(|| Totals::new(classes), Totals::merge);
    bar.finish_and_clear();
    summarize(totals, timesteps, f64::from(network.dt))
}

/// Spiking accuracy, rates and synaptic events of the fixed-point runtime on a model blob.
///
/// # Errors
/// The runtime's [`LoadError`] if the blob does not load.
pub fn fixed_spiking(
    blob: &[u8],
    data: &Dataset,
    timesteps: u16,
    progress: bool,
) -> Result<SpikingEvaluation, LoadError> {
    let model: Model = Model::from_bytes(blob)?;
    let linear: Vec<bool> = model
        .layers()
        .iter()
        .map(|l| l.neuron().is_none())
        .collect();
    let bar = progress_bar(data.len(), "spiking fixed", progress);
    let classes = model.output_size().max(data.classes);
    let totals = data
        .images
        .par_iter()
        .zip(&data.labels)
        .map_init(
            || vec![0i32; model.state_words()],
            |state, (image, &label)| {
                let mut network = Network::new(&model, state)?;
                let trace = fixed_trace(&mut network, &linear, image, label, timesteps);
                bar.inc(1);
                Ok::<_, LoadError>(trace)
            },
        )
        .try_fold(
            || Totals::new(classes),
            |totals, trace| Ok::<_, LoadError>(totals.add(trace?)),
        )
        .try_reduce(|| Totals::new(classes), |a, b| Ok(a.merge(b)));
    bar.finish_and_clear();
    Ok(summarize(
        totals?,
        usize::from(timesteps),
        f64::from(model.dt()),
    ))
}

/// One inference; `linear[l]` marks layers without neurons (pools), whose pooled sums are not
/// spikes of their own and are not counted.
fn fixed_trace(
    network: &mut Network<'_, '_>,
    linear: &[bool],
    image: &[u8],
    label: u8,
    timesteps: u16,
) -> SampleTrace {
    network.reset();
    let spiking = network.layer_count().saturating_sub(1);
    let mut neuron_spikes: Vec<Vec<u32>> = (0..spiking)
        .map(|l| match linear.get(l) {
            Some(true) => Vec::new(),
            _ => vec![0; network.layer_len(l).unwrap_or(0)],
        })
        .collect();
    let mut correct_by_step = Vec::with_capacity(usize::from(timesteps));
    if network.set_input(image).is_err() {
        // A wrong-sized image counts as wrong at every step rather than aborting the run.
        return SampleTrace {
            correct_by_step: vec![false; usize::from(timesteps)],
            neuron_spikes,
            synaptic_events: 0,
            label: usize::from(label),
            predicted: usize::MAX,
        };
    }
    for _ in 0..timesteps {
        network.step();
        for (l, counts) in neuron_spikes.iter_mut().enumerate() {
            for spike in network.layer_spikes(l).into_iter().flatten() {
                if let Some(c) = counts.get_mut(spike.index) {
                    *c += spike.count;
                }
            }
        }
        correct_by_step.push(network.prediction().class == u16::from(label));
    }
    let prediction = network.prediction();
    SampleTrace {
        correct_by_step,
        neuron_spikes,
        synaptic_events: u64::from(prediction.synaptic_events),
        label: usize::from(label),
        predicted: usize::from(prediction.class),
    }
}

/// Each row's diagonal share (`None` for an empty row).
pub fn per_class_accuracy(matrix: &[Vec<u64>]) -> Vec<Option<f64>> {
    matrix
        .iter()
        .enumerate()
        .map(|(c, row)| {
            let total: u64 = row.iter().sum();
            (total > 0).then(|| row.get(c).copied().unwrap_or(0) as f64 / total as f64)
        })
        .collect()
}

fn summarize(totals: Totals, timesteps: usize, dt: f64) -> SpikingEvaluation {
    let samples = totals.samples.max(1) as f64;
    let accuracy_by_step: Vec<f64> = (0..timesteps)
        .map(|t| totals.correct_by_step.get(t).copied().unwrap_or(0) as f64 / samples)
        .collect();
    let window = timesteps as f64 * dt;
    let layers = totals
        .spikes
        .iter()
        .zip(&totals.silent)
        .enumerate()
        .filter(|(_, (spikes, _))| !spikes.is_empty())
        .map(|(l, (spikes, &silent))| {
            let neurons = spikes.len();
            let neuron_rates_hz: Vec<f64> = spikes
                .iter()
                .map(|&t| t as f64 / samples / window.max(f64::MIN_POSITIVE))
                .collect();
            let total: u64 = spikes.iter().sum();
            LayerRates {
                layer: l,
                neurons,
                mean_rate_hz: neuron_rates_hz.iter().sum::<f64>() / neurons.max(1) as f64,
                silent_fraction: silent as f64 / (samples * neurons.max(1) as f64),
                spikes_per_neuron: total as f64 / (samples * neurons.max(1) as f64),
                neuron_rates_hz,
            }
        })
        .collect();
    SpikingEvaluation {
        samples: totals.samples,
        timesteps,
        accuracy: accuracy_by_step.last().copied().unwrap_or(0.0),
        accuracy_by_step,
        layers,
        synaptic_events_per_inference: totals.synaptic_events as f64 / samples,
        per_class_accuracy: per_class_accuracy(&totals.confusion),
        confusion_matrix: totals.confusion,
        predictions_beyond_matrix: totals.beyond,
    }
}

/// Firing-rate problems worth telling the user about, in words they can act on.
pub fn rate_warnings(evaluation: &SpikingEvaluation, network: &FloatNetwork) -> Vec<String> {
    let dt = network.dt;
    let window_ms = evaluation.timesteps as f64 * f64::from(dt) * 1000.0;
    let mut warnings = Vec::new();
    for layer in &evaluation.layers {
        if layer.spikes_per_neuron < 1.0 {
            warnings.push(format!(
                "layer {} fires at {:.1} Hz on average: in a {window_ms:.0} ms window ({} steps) a neuron emits \
                 {:.2} spikes, too few to carry information ({:.0}% of neurons stay silent). Raise --max-rate, \
                 use --scale-firing-rates (e.g. 10) or train with --rate-target 250 --rate-weight 1e-4.",
                layer.layer,
                layer.mean_rate_hz,
                evaluation.timesteps,
                layer.spikes_per_neuron,
                layer.silent_fraction * 100.0
            ));
        }
        let Some(float_layer) = network.layers.get(layer.layer) else {
            continue;
        };
        let ceiling = crate::rate_float::rate_ceiling(&float_layer.neuron, dt);
        if layer.mean_rate_hz > 0.8 * ceiling {
            warnings.push(format!(
                "layer {} fires at {:.0} Hz on average, near its ceiling of {ceiling:.0} Hz: neurons saturate and \
                 stop encoding differences. Lower --scale-firing-rates or the rate target.",
                layer.layer, layer.mean_rate_hz
            ));
        }
    }
    warnings
}
