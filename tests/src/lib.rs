//! Shared helpers for picospike's cross-crate tests: hand-built networks and blob utilities.

use picospike_host::reference::{FloatKind, FloatLayer, FloatNetwork};
use picospike_runtime::format::InputEncoding;
use picospike_runtime::layer::{Conv2d, Dense, Layer, Scaling, Shape, SumPool};
use picospike_runtime::neuron::Neuron;
use picospike_runtime::synapse::Synapse;
use picospike_runtime::{LoadError, Model};

/// The LIF neuron of the NengoDL recipe: `max_rate` 100 Hz would give amplitude 0.01.
pub const LIF: Neuron = Neuron::Lif {
    tau_rc: 0.02,
    tau_ref: 0.002,
    min_voltage: 0.0,
    amplitude: 0.01,
};

/// A two-layer model written field by field (no quantizer involved), for golden bytes.
pub fn golden_layers() -> [Layer<'static>; 2] {
    [
        Layer::Dense(Dense {
            input: Shape::vector(2),
            outputs: 2,
            neuron: LIF,
            synapse: Synapse::None,
            weights: &[1, 0xff, 127, 0x80],
            scaling: Scaling {
                multipliers: &[1, 0, 2, 0],
                shifts: &[0, 1],
                biases: &[0, 0, 1, 0, 0, 0, 0xff, 0xff],
            },
            activity: 0x1234,
        }),
        Layer::Dense(Dense {
            input: Shape::vector(2),
            outputs: 1,
            neuron: Neuron::Readout,
            synapse: Synapse::Lowpass { tau: 0.005 },
            weights: &[3, 4],
            scaling: Scaling {
                multipliers: &[0, 1],
                shifts: &[8],
                biases: &[0, 0, 0, 0],
            },
            activity: 0,
        }),
    ]
}

/// A three-layer convolutional model written field by field, for golden bytes: a 4x4x1 input,
/// a 2x2 stride-2 "valid" convolution to 2x2x2 LIF, a 2x2 sum pool to 1x1x2, and a dense
/// readout of 2.
pub fn golden_conv_layers() -> [Layer<'static>; 3] {
    [
        Layer::Conv2d(Conv2d {
            input: Shape::image(4, 4, 1),
            output: Shape::image(2, 2, 2),
            kernel_height: 2,
            kernel_width: 2,
            stride: 2,
            padding_top: 0,
            padding_left: 0,
            neuron: LIF,
            synapse: Synapse::None,
            weights: &[1, 2, 3, 4, 5, 6, 7, 0xf8],
            scaling: Scaling {
                multipliers: &[0, 0x80, 0, 0x40],
                shifts: &[3, 2],
                biases: &[0, 0x80, 0, 0, 0, 0, 0, 0],
            },
            activity: 0x0100,
        }),
        Layer::SumPool(SumPool {
            input: Shape::image(2, 2, 2),
            size: 2,
        }),
        Layer::Dense(Dense {
            input: Shape::vector(2),
            outputs: 2,
            neuron: Neuron::Readout,
            synapse: Synapse::None,
            weights: &[10, 0xf6, 0xf6, 10],
            scaling: Scaling {
                multipliers: &[0, 1, 0, 1],
                shifts: &[4, 4],
                biases: &[0; 8],
            },
            activity: 0,
        }),
    ]
}

/// The golden convolutional model as a blob.
pub fn golden_conv_blob() -> Vec<u8> {
    picospike_runtime::ModelBuilder {
        dt: 0.001,
        input: GOLDEN_CONV_INPUT,
        layers: &golden_conv_layers(),
    }
    .to_vec()
    .expect("the golden convolutional model encodes")
}

/// The input encoding of [`golden_conv_layers`].
pub const GOLDEN_CONV_INPUT: InputEncoding = InputEncoding {
    shape: Shape::image(4, 4, 1),
    full_scale: 255,
    timesteps: 20,
    density: 0x8000,
};

/// The input encoding of [`golden_layers`].
pub const GOLDEN_INPUT: InputEncoding = InputEncoding::vector(2, 16, 30);

/// A small float network: `inputs` -> `hidden` LIF (or spiking ReLU) -> `outputs` readout,
/// with deterministic pseudo-random weights chosen so that hidden neurons fire at 20..200 Hz.
pub fn small_network(
    inputs: usize,
    hidden: usize,
    outputs: usize,
    relu: bool,
    synapse: Synapse,
) -> FloatNetwork {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed >> 11) as f64 / (1u64 << 53) as f64
    };
    let neuron = if relu {
        Neuron::SpikingRectifiedLinear { amplitude: 0.01 }
    } else {
        LIF
    };
    // Currents of about 1..5 (LIF) or 20..150 Hz (ReLU, J is the rate) for inputs around 0.5.
    let (w_scale, b_base) = if relu {
        (200.0 / inputs as f64, 20.0)
    } else {
        (6.0 / inputs as f64, 0.8)
    };
    let hidden_layer = FloatLayer {
        kind: FloatKind::Dense,
        inputs,
        outputs: hidden,
        weights: (0..inputs * hidden)
            .map(|_| (next() * 2.0 * w_scale) as f32)
            .collect(),
        biases: (0..hidden).map(|_| (b_base * next()) as f32).collect(),
        neuron,
        synapse: Synapse::None,
    };
    let readout = FloatLayer {
        kind: FloatKind::Dense,
        inputs: hidden,
        outputs,
        weights: (0..hidden * outputs)
            .map(|_| (next() * 2.0 - 1.0) as f32)
            .collect(),
        biases: (0..outputs).map(|_| (next() * 0.1) as f32).collect(),
        neuron: Neuron::Readout,
        synapse,
    };
    FloatNetwork {
        dt: 0.001,
        input: InputEncoding::vector(inputs as u16, 255, 100),
        layers: vec![hidden_layer, readout],
    }
}

/// A small convolutional float network on a 10x9x2 image: conv 6 filters of 3x3 stride 2
/// padding 1 (5x5x6), optionally an average pool of 2 (2x2x6), conv 8 filters of 3x3 stride 1
/// padding 1, and a dense readout of 5. Deterministic pseudo-random weights chosen so that the
/// neurons fire at tens to hundreds of Hz; `synapse` filters the layers after the first.
pub fn small_conv_network(relu: bool, pool: bool, synapse: Synapse) -> FloatNetwork {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed >> 11) as f64 / (1u64 << 53) as f64
    };
    let neuron = if relu {
        Neuron::SpikingRectifiedLinear { amplitude: 0.01 }
    } else {
        LIF
    };
    // LIF currents of about 1..6; spiking-ReLU currents are rates, about 20..300 Hz.
    let gain = if relu { 60.0 } else { 1.0 };
    let mut conv = |input: Shape, filters: u16, stride: u8, synapse: Synapse, typical_x: f64| {
        let output = Shape::image(
            (input.height - 1) / u16::from(stride) + 1,
            (input.width - 1) / u16::from(stride) + 1,
            filters,
        );
        let fan_in = usize::from(input.channels) * 9;
        let w_scale = 4.0 / (fan_in as f64 * typical_x);
        FloatLayer {
            kind: FloatKind::Conv2d {
                input,
                output,
                kernel_height: 3,
                kernel_width: 3,
                stride,
                padding_top: 1,
                padding_left: 1,
            },
            inputs: input.len(),
            outputs: output.len(),
            weights: (0..fan_in * usize::from(filters))
                .map(|_| (gain * (next() * 2.0 - 0.5) * w_scale) as f32)
                .collect(),
            biases: (0..filters).map(|_| (gain * 0.8 * next()) as f32).collect(),
            neuron,
            synapse,
        }
    };
    let image = Shape::image(10, 9, 2);
    let first = conv(image, 6, 2, Synapse::None, 0.5);
    let mut layers = vec![first];
    let mut fed = Shape::image(5, 5, 6);
    if pool {
        layers.push(FloatLayer {
            kind: FloatKind::AvgPool {
                input: fed,
                size: 2,
            },
            inputs: fed.len(),
            outputs: 2 * 2 * 6,
            weights: Vec::new(),
            biases: Vec::new(),
            neuron: Neuron::Readout,
            synapse: Synapse::None,
        });
        fed = Shape::image(2, 2, 6);
    }
    // Spike trains of ~100 Hz with amplitude 0.01 carry about 1 (LIF) or 1 per 100 Hz (ReLU).
    let second = conv(fed, 8, 1, synapse, 0.5);
    let fed = Shape::image(fed.height, fed.width, 8);
    layers.push(second);
    let mut readout_weights = Vec::with_capacity(fed.len() * 5);
    for _ in 0..fed.len() * 5 {
        readout_weights.push((next() * 2.0 - 1.0) as f32);
    }
    layers.push(FloatLayer {
        kind: FloatKind::Dense,
        inputs: fed.len(),
        outputs: 5,
        weights: readout_weights,
        biases: (0..5).map(|_| (next() * 0.1) as f32).collect(),
        neuron: Neuron::Readout,
        synapse,
    });
    FloatNetwork {
        dt: 0.001,
        input: InputEncoding {
            shape: image,
            full_scale: 255,
            timesteps: 100,
            density: 0,
        },
        layers,
    }
}

/// Deterministic pseudo-random input bytes.
pub fn sample_input(size: usize, salt: u64) -> Vec<u8> {
    (0..size as u64)
        .map(|i| ((i.wrapping_mul(2654435761) ^ salt.wrapping_mul(40503)) % 256) as u8)
        .collect()
}

/// Recompute the trailing CRC-32 of a blob after editing it, so edits reach the body checks.
pub fn reseal(blob: &mut [u8]) {
    if blob.len() < 4 {
        return;
    }
    let end = blob.len() - 4;
    let crc = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC).checksum(&blob[..end]);
    blob[end..].copy_from_slice(&crc.to_le_bytes());
}

/// A digits-sized network like the 8x8 digits model: 64 inputs (full scale 16) -> 64 LIF ->
/// 10 readout, with a lowpass synapse on both layers.
pub fn digits_like_network() -> FloatNetwork {
    let mut network = small_network(64, 64, 10, false, Synapse::Lowpass { tau: 0.005 });
    network.input.full_scale = 16;
    network.layers[0].synapse = Synapse::Lowpass { tau: 0.002 };
    network
}

/// The models the fuzz targets are seeded with: the golden model, small LIF and spiking-ReLU
/// networks with and without synapses, a digits-sized network, a readout-only model and an
/// 8-layer chain.
pub fn fuzz_seed_models() -> Vec<(&'static str, Vec<u8>)> {
    use picospike_host::quantize::quantize;
    let lowpass = Synapse::Lowpass { tau: 0.005 };
    let golden = picospike_runtime::ModelBuilder {
        dt: 0.001,
        input: GOLDEN_INPUT,
        layers: &golden_layers(),
    }
    .to_vec()
    .expect("the golden model encodes");
    let networks = [
        ("lif", small_network(8, 6, 3, false, Synapse::None)),
        ("lif-lowpass", small_network(8, 6, 3, false, lowpass)),
        ("relu", small_network(8, 6, 3, true, Synapse::None)),
        ("relu-lowpass", small_network(8, 6, 3, true, lowpass)),
        ("digits-like", digits_like_network()),
        ("readout-only", chain_network(1)),
        ("deep-8", chain_network(8)),
    ];
    let mut seeds = vec![("golden", golden), ("golden-conv", golden_conv_blob())];
    for (name, network) in networks {
        seeds.push((name, quantize(&network).expect("seed network quantizes")));
    }
    seeds
}

/// A chain of `depth` layers, 4 wide, ending in a 3-wide lowpass readout: the hidden layers
/// alternate LIF (every other one behind a lowpass) and spiking ReLU, all biased to fire.
/// `depth` 8 is the runtime's default layer capacity.
pub fn chain_network(depth: usize) -> FloatNetwork {
    let width = 4;
    let mut layers = Vec::with_capacity(depth);
    for index in 0..depth {
        let last = index + 1 == depth;
        let outputs = if last { 3 } else { width };
        let (neuron, synapse, bias) = if last {
            (Neuron::Readout, Synapse::Lowpass { tau: 0.005 }, 0.0)
        } else if index % 2 == 0 {
            let synapse = if index % 4 == 0 {
                Synapse::None
            } else {
                Synapse::Lowpass { tau: 0.002 }
            };
            (LIF, synapse, 6.0)
        } else {
            (
                Neuron::SpikingRectifiedLinear { amplitude: 0.01 },
                Synapse::None,
                400.0,
            )
        };
        layers.push(FloatLayer {
            kind: FloatKind::Dense,
            inputs: width,
            outputs,
            weights: (0..width * outputs)
                .map(|k| ((k * 7 % 11) as f32 - 3.0) * 0.1)
                .collect(),
            biases: vec![bias; outputs],
            neuron,
            synapse,
        });
    }
    FloatNetwork {
        dt: 0.001,
        input: InputEncoding::vector(width as u16, 255, 50),
        layers,
    }
}

/// Frame a `load_and_run` fuzz input (see `fuzz/src/lib.rs`, `RunInput`): a flags byte
/// (bit 0 reseal, bit 1 refit, bits 2..=5 steps), the blob length as `u16` LE, the blob, the
/// input bytes.
pub fn fuzz_run_input(flags: u8, blob: &[u8], input: &[u8]) -> Vec<u8> {
    let len = u16::try_from(blob.len()).expect("seed blobs fit a u16 length");
    let mut out = vec![flags];
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(blob);
    out.extend_from_slice(input);
    out
}

/// Load `blob` with [`Model::from_bytes`] and with [`Model::load_into`] and return the first
/// result, after asserting that the two agree: the same error (the place left empty), or models
/// with the same time step, input, layers and state size.
pub fn load_both<const L: usize>(blob: &[u8]) -> Result<Model<'_, L>, LoadError> {
    let loaded = Model::<'_, L>::from_bytes(blob);
    let mut place: Option<Model<'_, L>> = None;
    match (&loaded, Model::load_into(&mut place, blob)) {
        (Ok(model), Ok(in_place)) => {
            assert_eq!(model.dt().to_bits(), in_place.dt().to_bits());
            assert_eq!(model.input(), in_place.input());
            assert_eq!(model.layers(), in_place.layers());
            assert_eq!(model.state_words(), in_place.state_words());
        }
        (Err(error), Err(in_place)) => assert_eq!(*error, in_place),
        (loaded, in_place) => panic!("from_bytes: {loaded:?}, load_into: {in_place:?}"),
    }
    assert_eq!(place.is_some(), loaded.is_ok());
    loaded
}
