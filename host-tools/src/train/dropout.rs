//! Inverted dropout on the hidden layers during training.

use candle_core::Tensor;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::config::TrainConfig;
use super::model::Model;

/// Inverted-dropout masks for a batch of `len` samples (one per hidden neuron layer), or `None`.
pub(super) fn dropout_masks(
    cfg: &TrainConfig,
    model: &Model,
    len: usize,
    rng: &mut ChaCha8Rng,
) -> candle_core::Result<Option<Vec<Tensor>>> {
    if cfg.dropout <= 0.0 {
        return Ok(None);
    }
    let keep = 1.0 - cfg.dropout;
    let hidden = model.layers.len().saturating_sub(1);
    model.layers[..hidden]
        .iter()
        .filter(|(layer, _)| layer.has_neurons())
        .map(|(_, spec)| spec.outputs)
        .map(|h| {
            let v: Vec<f32> = (0..len * h)
                .map(|_| {
                    if rng.random::<f32>() < keep {
                        1.0 / keep
                    } else {
                        0.0
                    }
                })
                .collect();
            Tensor::from_vec(v, (len, h), &model.device)
        })
        .collect::<candle_core::Result<Vec<_>>>()
        .map(Some)
}
