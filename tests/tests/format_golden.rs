//! Golden bytes: the container format of `runtime/FORMAT.md`, byte for byte.

use picospike_runtime::layer::Layer;
use picospike_runtime::neuron::Neuron;
use picospike_runtime::synapse::Synapse;
use picospike_runtime::{Model, ModelBuilder};
use picospike_tests::{golden_layers, GOLDEN_INPUT};

/// The golden model, segment by segment as FORMAT.md describes it.
fn golden_bytes() -> Vec<u8> {
    let segments: &[&[u8]] = &[
        b"PSPK",                          // magic
        &[1, 0],                          // version 1, u16 LE
        &[1, 2, 11, 76], // header: kinds {Dense}, 2 layers, 11 state words, body 76 bytes
        &[111, 18, 131, 58], // dt = 0.001 f32 LE
        &[2, 16, 30],    // input: size 2, full scale 16, 30 time steps
        &[2],            // 2 layers
        &[0, 2, 2],      // Dense, 2 inputs, 2 outputs
        &[0],            // Lif
        &[10, 215, 163, 60], //   tau_rc 0.02
        &[111, 18, 3, 59], //   tau_ref 0.002
        &[0, 0, 0, 0],   //   min_voltage 0
        &[10, 215, 35, 60], //   amplitude 0.01
        &[0],            // synapse None
        &[16],           // shift
        &[4, 1, 255, 127, 128], // weights: 4 bytes
        &[8, 1, 0, 0, 0, 2, 0, 0, 0], // multipliers: 1, 2
        &[8, 0, 0, 1, 0, 0, 0, 255, 255], // biases: 1.0, -1.0 in Q16.16
        &[0, 2, 1],      // Dense, 2 inputs, 1 output
        &[2],            // Readout
        &[1, 10, 215, 163, 59], // synapse Lowpass, tau 0.005
        &[8],            // shift
        &[2, 3, 4],      // weights
        &[4, 0, 1, 0, 0], // multipliers: 256
        &[4, 0, 0, 0, 0], // biases: 0
        &[110, 14, 252, 64], // CRC-32 of everything above, u32 LE
    ];
    segments.concat()
}

#[test]
fn builder_writes_the_golden_bytes() {
    let layers = golden_layers();
    let blob = ModelBuilder {
        dt: 0.001,
        input: GOLDEN_INPUT,
        layers: &layers,
    }
    .to_vec()
    .unwrap();
    assert_eq!(blob, golden_bytes());
}

#[test]
fn golden_bytes_load_to_the_same_model_and_borrow_the_weights() {
    let bytes = golden_bytes();
    let model: Model = Model::from_bytes(&bytes).unwrap();
    assert_eq!(model.state_words(), 11);
    assert_eq!(model.input_size(), 2);
    assert_eq!(model.output_size(), 1);
    assert_eq!(model.default_timesteps(), 30);
    assert_eq!(model.dt(), 0.001);
    assert_eq!(model.layers(), &golden_layers()[..]);
    let Layer::Dense(first) = model.layers()[0] else {
        panic!("not dense")
    };
    // Zero-copy: the weights are a view into the blob itself.
    let blob_range = bytes.as_ptr_range();
    assert!(blob_range.contains(&first.weights.as_ptr()));
    assert_eq!(first.neuron, picospike_tests::LIF);
    assert_eq!(model.layers()[1].neuron(), Neuron::Readout);
    assert_eq!(model.layers()[1].synapse(), Synapse::Lowpass { tau: 0.005 });
}

#[test]
fn to_slice_reports_a_short_buffer() {
    let layers = golden_layers();
    let builder = ModelBuilder {
        dt: 0.001,
        input: GOLDEN_INPUT,
        layers: &layers,
    };
    let mut small = [0u8; 40];
    assert_eq!(
        builder.to_slice(&mut small).unwrap_err(),
        picospike_runtime::EncodeError::BufferTooSmall
    );
    let mut exact = vec![0u8; 200];
    let written = builder.to_slice(&mut exact).unwrap().len();
    assert_eq!(written, golden_bytes().len());
}
