//! Golden bytes: the container format of `runtime/FORMAT.md`, byte for byte.

use picospike_runtime::layer::Layer;
use picospike_runtime::neuron::Neuron;
use picospike_runtime::synapse::Synapse;
use picospike_runtime::{Model, ModelBuilder};
use picospike_tests::{golden_conv_layers, golden_layers, GOLDEN_CONV_INPUT, GOLDEN_INPUT};

/// The LIF neuron of the golden models, as postcard writes it.
const LIF_BYTES: &[u8] = &[
    0, // Lif
    10, 215, 163, 60, //   tau_rc 0.02
    111, 18, 3, 59, //   tau_ref 0.002
    0, 0, 0, 0, //   min_voltage 0
    10, 215, 35, 60, //   amplitude 0.01
];

/// The golden model, segment by segment as FORMAT.md describes it.
fn golden_bytes() -> Vec<u8> {
    let segments: &[&[u8]] = &[
        b"PSPK",               // magic
        &[2, 0],               // version 2, u16 LE
        &[1, 2, 17, 83],       // header: kinds {Dense}, 2 layers, 17 state words, body 83 bytes
        &[111, 18, 131, 58],   // dt = 0.001 f32 LE
        &[1, 1, 2, 16, 30, 0], // input: shape 1x1x2, full scale 16, 30 steps, density unknown
        &[2],                  // 2 layers
        &[0, 1, 1, 2, 2],      // Dense, input 1x1x2, 2 outputs
        LIF_BYTES,
        &[0],                             // synapse None
        &[4, 1, 255, 127, 128],           // weights: 4 bytes
        &[4, 1, 0, 2, 0],                 // multipliers: 1, 2 (u16 LE)
        &[2, 0, 1],                       // shifts: 0, 1
        &[8, 0, 0, 1, 0, 0, 0, 255, 255], // biases: 1.0, -1.0 in Q16.16
        &[180, 36],                       // activity 0x1234 (varint)
        &[0, 1, 1, 2, 1],                 // Dense, input 1x1x2, 1 output
        &[2],                             // Readout
        &[1, 10, 215, 163, 59],           // synapse Lowpass, tau 0.005
        &[2, 3, 4],                       // weights
        &[2, 0, 1],                       // multipliers: 256
        &[1, 8],                          // shifts: 8
        &[4, 0, 0, 0, 0],                 // biases: 0
        &[0],                             // activity unknown
        &[160, 159, 32, 38],              // CRC-32 of everything above, u32 LE
    ];
    segments.concat()
}

/// The golden convolutional model ([`golden_conv_layers`]), segment by segment.
fn golden_conv_bytes() -> Vec<u8> {
    let segments: &[&[u8]] = &[
        b"PSPK",
        &[2, 0],
        &[7, 3, 48, 107], // kinds {Dense, Conv2d, SumPool}, 3 layers, 48 state words, 107 bytes
        &[111, 18, 131, 58],
        &[4, 4, 1, 255, 1, 20, 128, 128, 2], // input 4x4x1, full scale 255, 20 steps, density 0x8000
        &[3],
        &[1, 4, 4, 1, 2, 2, 2], // Conv2d, input 4x4x1, output 2x2x2
        &[2, 2, 2, 0, 0],       // kernel 2x2, stride 2, padding top 0, left 0
        LIF_BYTES,
        &[0],
        &[8, 1, 2, 3, 4, 5, 6, 7, 0xf8], // weights [in_c][ky][kx][out_c]
        &[4, 0, 0x80, 0, 0x40],          // multipliers per output channel
        &[2, 3, 2],                      // shifts
        &[8, 0, 0x80, 0, 0, 0, 0, 0, 0], // biases: 0.5, 0
        &[128, 2],                       // activity 0x0100
        &[2, 2, 2, 2, 2],                // SumPool, input 2x2x2, size 2
        &[0, 1, 1, 2, 2, 2, 0],          // Dense, input 1x1x2, 2 outputs, Readout, no synapse
        &[4, 10, 0xf6, 0xf6, 10],
        &[4, 0, 1, 0, 1],
        &[2, 4, 4],
        &[8, 0, 0, 0, 0, 0, 0, 0, 0],
        &[0],
        &[216, 129, 28, 6],
    ];
    segments.concat()
}

#[test]
fn builder_writes_the_golden_conv_bytes_and_they_load() {
    let layers = golden_conv_layers();
    let blob = ModelBuilder {
        dt: 0.001,
        input: GOLDEN_CONV_INPUT,
        layers: &layers,
    }
    .to_vec()
    .unwrap();
    assert_eq!(blob, golden_conv_bytes());
    let model: Model = Model::from_bytes(&blob).unwrap();
    assert_eq!(model.layers(), &layers[..]);
    assert_eq!(model.state_words(), 48);
    assert_eq!((model.input_size(), model.output_size()), (16, 2));
}

#[test]
fn a_version_1_blob_is_rejected_by_its_version() {
    let mut v1 = golden_bytes();
    v1[4] = 1;
    assert_eq!(
        Model::<8>::from_bytes(&v1).err(),
        Some(picospike_runtime::LoadError::UnsupportedVersion {
            found: 1,
            supported: 2
        })
    );
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
    assert_eq!(model.state_words(), 17);
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
    assert_eq!(model.layers()[1].neuron(), Some(Neuron::Readout));
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
