//! Training tests: toy data sets, determinism, presets and the rate functions.

use candle_core::{Device, Tensor, Var};
use candle_nn::Optimizer;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use picospike_runtime::neuron::Neuron;
use picospike_runtime::synapse::Synapse;

use crate::data::Dataset;
use crate::rate_float::{lif_rate, mean_rates_hz, rate_accuracy};
use crate::reference::{FloatKind, FloatNetwork, Shape};

use super::config::*;
use super::error::*;
use super::fit::*;
use super::model::*;
use super::neuron::*;
use super::optimizer::*;

/// Two Gaussian-ish blobs per class on a 4x4 grid: easy but not trivially separable.
fn toy(n: usize, seed: u64) -> Dataset {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut images = Vec::new();
    let mut labels = Vec::new();
    for i in 0..n {
        let label = (i % 3) as u8;
        let img: Vec<u8> = (0..16)
            .map(|p| {
                let hot = p / 4 == usize::from(label) || p % 4 == usize::from(label) + 1;
                let base = if hot { 10 } else { 2 };
                (base + rng.random_range(0..5)) as u8
            })
            .collect();
        images.push(img);
        labels.push(label);
    }
    Dataset {
        images,
        labels,
        full_scale: 16,
        classes: 3,
        shape: Some((4, 4)),
    }
}

fn quick(kind: NeuronKind) -> TrainConfig {
    TrainConfig {
        hidden: vec![12],
        neuron: NeuronParams {
            kind,
            ..NeuronParams::default()
        },
        epochs: 8,
        batch_size: 16,
        progress: false,
        ..TrainConfig::digits()
    }
}

/// Two RMSprop steps on `loss = 3 * w` against Keras' formulas worked by hand.
#[test]
fn rmsprop_follows_keras() {
    let w = Var::from_vec(vec![1.0f32], 1, &Device::Cpu).unwrap();
    let mut opt = RmsProp::new(vec![w.clone()], 0.01).unwrap();
    let (mut ms, mut want) = (0.0f64, 1.0f64);
    for _ in 0..2 {
        let loss = w.as_tensor().affine(3.0, 0.0).unwrap().sum_all().unwrap();
        opt.backward_step(&loss).unwrap();
        ms = 0.9 * ms + 0.1 * 9.0;
        want -= 0.01 * 3.0 / (ms.sqrt() + 1e-7);
    }
    let got = f64::from(w.as_tensor().to_vec1::<f32>().unwrap()[0]);
    // The first step is sqrt(10) times the learning rate (the mean square starts at 0).
    assert!((got - want).abs() < 1e-6, "{got} vs {want}");
    assert!((1.0 - got) > 0.05, "moved only {}", 1.0 - got);
}

#[test]
fn rmsprop_rejects_weight_decay() {
    let cfg = TrainConfig {
        optimizer: OptimizerKind::Rmsprop,
        weight_decay: 1e-4,
        ..quick(NeuronKind::Relu)
    };
    assert!(matches!(
        cfg.validate(),
        Err(TrainError::InvalidConfig {
            option: "weight_decay",
            ..
        })
    ));
}

#[test]
fn gain_bias_match_nengo_formulas() {
    let p = NeuronParams {
        max_rate: 100.0,
        ..NeuronParams::default()
    };
    let (gain, bias) = p.gain_bias().unwrap();
    assert_eq!(bias, 1.0);
    // The rate at x = 1 is max_rate.
    assert!((lif_rate(gain + bias, 0.02, 0.002) - 100.0).abs() < 1e-3);
    let p = NeuronParams {
        max_rate: 100.0,
        intercept: 0.25,
        ..NeuronParams::default()
    };
    let (gain, bias) = p.gain_bias().unwrap();
    assert!(
        (gain * 0.25 + bias - 1.0).abs() < 1e-6,
        "threshold at the intercept"
    );
    assert!((lif_rate(gain + bias, 0.02, 0.002) - 100.0).abs() < 1e-2);
    let relu = NeuronParams {
        kind: NeuronKind::Relu,
        max_rate: 250.0,
        ..NeuronParams::default()
    };
    assert_eq!(relu.gain_bias().unwrap(), (250.0, 0.0));
    assert_eq!(relu.amplitude(), 1.0 / 250.0);
    let too_fast = NeuronParams {
        max_rate: 600.0,
        ..NeuronParams::default()
    };
    assert!(matches!(
        too_fast.gain_bias(),
        Err(TrainError::InvalidConfig {
            option: "max_rate",
            ..
        })
    ));
}

#[test]
fn soft_lif_approaches_lif_rate_and_has_gradients() {
    let js: Vec<f32> = vec![-5.0, 0.5, 0.99, 1.0, 1.01, 1.1, 1.5, 2.0, 5.0, 100.0];
    let t = Tensor::new(js.as_slice(), &Device::Cpu).unwrap();
    let soft: Vec<f32> = soft_lif_rate(&t, 0.001, 0.02, 0.002)
        .unwrap()
        .to_vec1()
        .unwrap();
    for (j, s) in js.iter().zip(&soft) {
        let exact = lif_rate(*j, 0.02, 0.002);
        assert!(s.is_finite());
        // Away from the threshold the smoothing is negligible.
        if (*j - 1.0).abs() > 0.05 {
            assert!(
                (s - exact).abs() < 0.5 + 0.01 * exact,
                "J={j}: {s} vs {exact}"
            );
        }
    }
    // Smooth and monotone, with finite non-zero gradients everywhere (also far below threshold).
    let v = Var::new(js.as_slice(), &Device::Cpu).unwrap();
    let r = soft_lif_rate(v.as_tensor(), 0.02, 0.02, 0.002).unwrap();
    let grads = r.sum_all().unwrap().backward().unwrap();
    let g: Vec<f32> = grads.get(v.as_tensor()).unwrap().to_vec1().unwrap();
    assert!(g.iter().all(|x| x.is_finite() && *x > 0.0), "{g:?}");
    let r: Vec<f32> = r.to_vec1().unwrap();
    assert!(r.windows(2).all(|w| w[0] <= w[1]), "{r:?}");
}

#[test]
fn learns_a_toy_problem_with_lif_and_relu() {
    let data = toy(300, 1);
    let test = toy(150, 2);
    for kind in [NeuronKind::Lif, NeuronKind::Relu] {
        let out = train(&data, &quick(kind)).unwrap();
        let acc = rate_accuracy(&out.network, &test.images, &test.labels);
        assert!(acc > 0.9, "{kind:?}: {acc}");
        assert_eq!(out.history.len(), 8);
        let h = &out.history;
        assert!(h[7].train_loss < h[0].train_loss, "{h:?}");
        assert!(h.iter().all(|e| e.val_acc.is_some()));
    }
}

#[test]
fn same_seed_gives_bit_identical_weights() {
    let data = toy(200, 3);
    let mut cfg = quick(NeuronKind::Lif);
    cfg.epochs = 3;
    cfg.augment_shift = 1;
    cfg.augment_rotate_deg = 5.0;
    cfg.dropout = 0.2;
    let a = train(&data, &cfg).unwrap();
    let b = train(&data, &cfg).unwrap();
    assert_eq!(a.network, b.network);
    cfg.seed = 1;
    let c = train(&data, &cfg).unwrap();
    assert_ne!(a.network, c.network);
}

/// The exported network evaluated by the float reference must agree with the candle model
/// using exact rates, which applies gain and bias separately (and gathers convolution
/// patches instead of scattering inputs).
fn assert_export_matches(data: &Dataset, arch: &str, kind: NeuronKind) -> FloatNetwork {
    let cfg = TrainConfig {
        arch: Some(arch.into()),
        ..quick(kind)
    };
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let layers = cfg.layers(data).unwrap();
    let model = Model::new(&layers, cfg.neuron.clone(), &mut rng).unwrap();
    let features = data.features();
    let input = input_encoding(&layers, data.full_scale, 10);
    let net = model.export(&cfg, input).unwrap();
    for (i, layer) in net.layers.iter().enumerate() {
        assert_eq!(layer.problem(), None, "{arch} layer {i}");
    }
    let ident: Vec<usize> = (0..data.len()).collect();
    let x = Tensor::from_vec(
        to_floats(&data.images, &ident, data.full_scale),
        (data.len(), features),
        &Device::Cpu,
    )
    .unwrap();
    let (logits, _) = model.forward(&x, Rates::Exact, None).unwrap();
    let logits: Vec<Vec<f32>> = logits.to_vec2().unwrap();
    let mut spread = 0.0f64;
    for (img, want) in data.images.iter().zip(&logits) {
        let got = net.rate_outputs(img);
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(want) {
            let w = f64::from(*w);
            spread = spread.max(w.abs());
            assert!(
                (g - w).abs() < 1e-4 * (1.0 + w.abs()),
                "{arch} {kind:?}: {g} vs {w}"
            );
        }
    }
    assert!(
        spread > 1e-3,
        "{arch}: outputs all zero, the test would prove nothing"
    );
    net
}

#[test]
fn export_folds_gain_and_bias_exactly() {
    let data = toy(90, 4);
    for kind in [NeuronKind::Lif, NeuronKind::Relu] {
        let net = assert_export_matches(&data, "dense7,dense3", kind);
        assert_eq!(net.layers[0].synapse, Synapse::None);
        assert_eq!(net.layers[1].synapse, Synapse::Lowpass { tau: 0.005 });
        assert_eq!(net.layers[1].neuron, Neuron::Readout);
    }
}

#[test]
fn conv_export_matches_the_float_reference() {
    // Non-square images, asymmetric "same" padding, a padded stride-1 conv over several
    // channels and a pool that drops a row: every index convention is exercised.
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let data = Dataset {
        images: (0..40)
            .map(|_| (0..42).map(|_| rng.random_range(0..=255u8)).collect())
            .collect(),
        labels: (0..40).map(|i| (i % 3) as u8).collect(),
        full_scale: 255,
        classes: 3,
        shape: Some((7, 6)),
    };
    for kind in [NeuronKind::Lif, NeuronKind::Relu] {
        let net = assert_export_matches(&data, "conv3k3s2same,conv4k2s1p1,avgpool2,dense3", kind);
        assert!(matches!(
            net.layers[0].kind,
            FloatKind::Conv2d {
                output: Shape {
                    height: 4,
                    width: 3,
                    channels: 3
                },
                padding_top: 1,
                padding_left: 0,
                ..
            }
        ));
        assert_eq!(net.layers[2].neuron, Neuron::Readout);
        assert_eq!(net.layers[2].outputs, 2 * 2 * 4);
        assert_eq!(net.layers[1].synapse, Synapse::Lowpass { tau: 0.005 });
    }
}

#[test]
fn rate_regularization_pulls_rates_toward_target() {
    let data = toy(300, 6);
    let mut cfg = quick(NeuronKind::Relu);
    cfg.epochs = 15;
    let rates =
        |cfg: &TrainConfig| mean_rates_hz(&train(&data, cfg).unwrap().network, &data.images)[0];
    let plain = rates(&cfg);
    cfg.rate_reg = Some(RateRegularization {
        target_hz: 20.0,
        weight: 1e-2,
    });
    let reg = rates(&cfg);
    eprintln!("plain {plain} Hz, regularized {reg} Hz");
    assert!(
        (reg - 20.0).abs() < 0.5 * (plain - 20.0).abs(),
        "plain {plain} Hz, regularized {reg} Hz"
    );
}

#[test]
fn rejects_bad_config_and_data() {
    let data = toy(30, 7);
    let mut cfg = quick(NeuronKind::Lif);
    cfg.hidden = vec![];
    assert!(matches!(
        train(&data, &cfg),
        Err(TrainError::InvalidConfig {
            option: "hidden",
            ..
        })
    ));
    let mut cfg = quick(NeuronKind::Lif);
    cfg.batch_size = 0;
    assert!(matches!(
        train(&data, &cfg),
        Err(TrainError::InvalidConfig { .. })
    ));
    let mut empty = data.clone();
    empty.images.clear();
    empty.labels.clear();
    assert!(matches!(
        train(&empty, &quick(NeuronKind::Lif)),
        Err(TrainError::Data(_))
    ));
    let mut ragged = data.clone();
    ragged.images[3].pop();
    let e = train(&ragged, &quick(NeuronKind::Lif)).unwrap_err();
    assert!(e.to_string().contains("sample 3"), "{e}");
    let mut flat = data;
    flat.shape = None;
    let mut cfg = quick(NeuronKind::Lif);
    cfg.augment_shift = 1;
    assert!(matches!(
        train(&flat, &cfg),
        Err(TrainError::InvalidConfig { .. })
    ));
}

/// A diverging run stops at its first non-finite epoch with an error, rather than training on
/// to the last epoch and returning weights that are not numbers.
#[test]
fn divergence_stops_training_at_its_epoch() {
    let data = toy(120, 3);
    let cfg = TrainConfig {
        epochs: 1000,
        weight_decay: 1e6,
        ..quick(NeuronKind::Lif)
    };
    match train(&data, &cfg) {
        Err(TrainError::Diverged { epoch, loss }) => {
            assert!(epoch < 1000, "stopped only at epoch {epoch}");
            assert!(!loss.is_finite(), "{loss}");
        }
        other => panic!(
            "expected a divergence error, got {:?}",
            other.map(|o| o.kept_epoch)
        ),
    }
}
