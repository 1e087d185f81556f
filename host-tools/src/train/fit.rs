//! The training loop: data checks, epochs of minibatch steps, validation and the result.

use std::time::Instant;

use candle_core::{DType, Tensor, D};
use indicatif::{ProgressBar, ProgressStyle};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use picospike_runtime::format::InputEncoding;

use crate::arch::ResolvedLayer;
use crate::data::Dataset;
use crate::reference::{FloatKind, FloatNetwork, Shape};

use super::config::TrainConfig;
use super::dropout::dropout_masks;
use super::error::TrainError;
use super::model::{Model, Rates};
use super::optimizer::Descent;

/// Metrics of one epoch.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochStats {
    /// One-based epoch number.
    pub epoch: usize,
    /// Mean training loss (cross-entropy plus regularization) over the epoch's batches.
    pub train_loss: f64,
    /// Training accuracy of the surrogate model on the (augmented) batches, 0..=1.
    pub train_acc: f64,
    /// Validation accuracy with exact rate neurons after the epoch, 0..=1.
    pub val_acc: Option<f64>,
    /// Learning rate used in this epoch.
    pub learning_rate: f64,
    /// Seconds since training started.
    pub elapsed_s: f64,
}

/// The result of [`train`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainOutcome {
    /// The trained network, gain and bias folded.
    pub network: FloatNetwork,
    /// Per-epoch metrics.
    pub history: Vec<EpochStats>,
    /// Epoch (one-based) whose weights were kept.
    pub kept_epoch: usize,
    /// Wall time of the whole training in seconds.
    pub seconds: f64,
}

/// Pixels scaled to 0..=1, row-major `[sample][feature]`, in the given order.
pub(super) fn to_floats(images: &[Vec<u8>], order: &[usize], full_scale: u16) -> Vec<f32> {
    let s = 1.0 / f32::from(full_scale);
    order
        .iter()
        .flat_map(|&i| images[i].iter().map(move |&p| f32::from(p) * s))
        .collect()
}

fn check_data(data: &Dataset) -> Result<usize, TrainError> {
    let features = data.features();
    if data.is_empty() || features == 0 {
        return Err(TrainError::Data("no samples".into()));
    }
    if features > usize::from(u16::MAX) {
        return Err(TrainError::Data(format!(
            "{features} inputs, at most 65535 supported"
        )));
    }
    if let Some(i) = data.images.iter().position(|x| x.len() != features) {
        return Err(TrainError::Data(format!(
            "sample {i} has {} pixels, expected {features}",
            data.images[i].len()
        )));
    }
    if data.labels.len() != data.images.len() {
        return Err(TrainError::Data(format!(
            "{} images but {} labels",
            data.images.len(),
            data.labels.len()
        )));
    }
    if data.classes < 2 {
        return Err(TrainError::Data(format!(
            "{} classes, expected at least 2",
            data.classes
        )));
    }
    Ok(features)
}

/// Accuracy of the model with exact rates on a data set, 0..=1.
fn evaluate(model: &Model, data: &Dataset) -> candle_core::Result<f64> {
    let order: Vec<usize> = (0..data.len()).collect();
    let mut correct = 0u64;
    for chunk in order.chunks(1024) {
        let x = Tensor::from_vec(
            to_floats(&data.images, chunk, data.full_scale),
            (chunk.len(), data.features()),
            &model.device,
        )?;
        let (logits, _) = model.forward(&x, Rates::Exact, None)?;
        let pred: Vec<u32> = logits.argmax(D::Minus1)?.to_vec1()?;
        correct += pred
            .iter()
            .zip(chunk)
            .filter(|(&p, &i)| p == u32::from(data.labels[i]))
            .count() as u64;
    }
    Ok(correct as f64 / data.len() as f64)
}

/// The input encoding of a network whose layers are `layers`: an image shape when the first
/// layer is a convolution (the runtime checks it against the kernel's input), else a vector.
pub(super) fn input_encoding(
    layers: &[ResolvedLayer],
    full_scale: u16,
    timesteps: u16,
) -> InputEncoding {
    let shape = match layers.first() {
        Some(ResolvedLayer {
            kind: FloatKind::Conv2d { input, .. },
            ..
        }) => *input,
        first => Shape::vector(first.map_or(0, |l| l.inputs) as u16),
    };
    InputEncoding {
        shape,
        full_scale,
        timesteps,
        density: 0,
    }
}

/// Trains a dense or convolutional rate network on `data` and returns it with gain and bias folded in.
///
/// # Errors
/// [`TrainError::InvalidConfig`] for out-of-range options, [`TrainError::Data`] for unusable data
/// and [`TrainError::Candle`] if a tensor operation fails.
pub fn train(data: &Dataset, cfg: &TrainConfig) -> Result<TrainOutcome, TrainError> {
    cfg.validate()?;
    check_data(data)?;
    if cfg.augmentation().is_active() && data.shape.is_none() {
        return Err(TrainError::InvalidConfig {
            option: "augment_shift",
            value: cfg.augment_shift.to_string(),
            expected: "0 for data without a 2-D image shape",
        });
    }
    let start = Instant::now();
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let (train_set, val_set) = if cfg.val_fraction > 0.0 {
        let (t, v) = data.stratified_split(cfg.val_fraction, rng.random())?;
        (t, Some(v))
    } else {
        (data.clone(), None)
    };

    let layers = cfg.layers(data)?;
    let model = Model::new(&layers, cfg.neuron.clone(), &mut rng)?;
    let mut opt = Descent::new(cfg, model.vars())?;
    let input = input_encoding(&layers, data.full_scale, cfg.timesteps);

    let bar = epoch_bar(cfg);
    // Grown per epoch, not reserved: an epoch count is bounded by the command line, not here.
    let mut history = Vec::new();
    let mut best: Option<(f64, usize, Vec<Tensor>)> = None;
    let mut order: Vec<usize> = (0..train_set.len()).collect();
    for epoch in 0..cfg.epochs {
        let lr = cfg.learning_rate_at(epoch);
        opt.set_learning_rate(lr);
        order.shuffle(&mut rng);
        let (train_loss, train_acc) =
            run_epoch(&model, &mut opt, &train_set, &order, cfg, &mut rng)?;
        // Stop at the first diverged epoch rather than train on to the last one.
        if !train_loss.is_finite() {
            bar.abandon();
            return Err(TrainError::Diverged {
                epoch: epoch + 1,
                loss: train_loss,
            });
        }
        let val_acc = val_set.as_ref().map(|v| evaluate(&model, v)).transpose()?;
        let stats = EpochStats {
            epoch: epoch + 1,
            train_loss,
            train_acc,
            val_acc,
            learning_rate: lr,
            elapsed_s: start.elapsed().as_secs_f64(),
        };
        if let (true, Some(acc)) = (cfg.keep_best, val_acc) {
            if best.as_ref().is_none_or(|(b, _, _)| acc > *b) {
                best = Some((acc, epoch + 1, model.snapshot()?));
            }
        }
        bar.set_message(format!(
            "loss {:.4} train {:.2}% val {}",
            stats.train_loss,
            100.0 * stats.train_acc,
            val_acc.map_or("-".into(), |a| format!("{:.2}%", 100.0 * a)),
        ));
        bar.inc(1);
        history.push(stats);
    }
    bar.finish();
    let kept_epoch = match best {
        Some((_, epoch, saved)) => {
            model.restore(&saved)?;
            epoch
        }
        None => cfg.epochs,
    };
    Ok(TrainOutcome {
        network: model.export(cfg, input)?,
        history,
        kept_epoch,
        seconds: start.elapsed().as_secs_f64(),
    })
}

fn epoch_bar(cfg: &TrainConfig) -> ProgressBar {
    let bar = if cfg.progress {
        ProgressBar::new(cfg.epochs as u64)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} epochs {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_prefix("training");
    bar
}

/// One pass over `train_set` in `order` (augmented as configured): minibatch gradient steps.
/// Returns the mean batch loss and the training accuracy.
fn run_epoch(
    model: &Model,
    opt: &mut Descent,
    train_set: &Dataset,
    order: &[usize],
    cfg: &TrainConfig,
    rng: &mut ChaCha8Rng,
) -> Result<(f64, f64), TrainError> {
    let n = train_set.len();
    let features = train_set.features();
    let identity: Vec<usize> = (0..n).collect();
    let pixels = match cfg
        .augmentation()
        .apply(&train_set.images, order, train_set.shape, rng)
    {
        Some(distorted) => to_floats(&distorted, &identity, train_set.full_scale),
        None => to_floats(&train_set.images, order, train_set.full_scale),
    };
    let labels: Vec<u32> = order
        .iter()
        .map(|&i| u32::from(train_set.labels[i]))
        .collect();
    let x_all = Tensor::from_vec(pixels, (n, features), &model.device)?;
    let y_all = Tensor::from_vec(labels, n, &model.device)?;

    let (mut loss_sum, mut correct, mut batches) = (0f64, 0u64, 0usize);
    for b0 in (0..n).step_by(cfg.batch_size) {
        let len = cfg.batch_size.min(n - b0);
        let x = x_all.narrow(0, b0, len)?;
        let y = y_all.narrow(0, b0, len)?;
        let masks = dropout_masks(cfg, model, len, rng)?;
        let (logits, rates) = model.forward(&x, Rates::Smooth, masks.as_deref())?;
        let mut loss = candle_nn::loss::cross_entropy(&logits, &y)?;
        if let Some(reg) = cfg.rate_reg {
            for r in &rates {
                let penalty = r
                    .affine(1.0, -f64::from(reg.target_hz))?
                    .sqr()?
                    .mean_all()?;
                loss = (loss + penalty.affine(f64::from(reg.weight), 0.0)?)?;
            }
        }
        opt.backward_step(&loss)?;
        loss_sum += f64::from(loss.to_scalar::<f32>()?);
        correct += u64::from(
            logits
                .argmax(D::Minus1)?
                .eq(&y)?
                .to_dtype(DType::U32)?
                .sum_all()?
                .to_scalar::<u32>()?,
        );
        batches += 1;
    }
    Ok((
        loss_sum / batches.max(1) as f64,
        correct as f64 / n.max(1) as f64,
    ))
}
