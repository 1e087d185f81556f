//! Shared helpers for picospike's cross-crate tests: hand-built networks and blob utilities.

use picospike_runtime::format::InputEncoding;
use picospike_runtime::layer::{Dense, Layer};
use picospike_runtime::neuron::Neuron;
use picospike_runtime::reference::{FloatKind, FloatLayer, FloatNetwork};
use picospike_runtime::synapse::Synapse;

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
            inputs: 2,
            outputs: 2,
            neuron: LIF,
            synapse: Synapse::None,
            shift: 16,
            weights: &[1, 0xff, 127, 0x80],
            multipliers: &[1, 0, 0, 0, 2, 0, 0, 0],
            biases: &[0, 0, 1, 0, 0, 0, 0xff, 0xff],
        }),
        Layer::Dense(Dense {
            inputs: 2,
            outputs: 1,
            neuron: Neuron::Readout,
            synapse: Synapse::Lowpass { tau: 0.005 },
            shift: 8,
            weights: &[3, 4],
            multipliers: &[0, 1, 0, 0],
            biases: &[0, 0, 0, 0],
        }),
    ]
}

/// The input encoding of [`golden_layers`].
pub const GOLDEN_INPUT: InputEncoding = InputEncoding {
    size: 2,
    full_scale: 16,
    timesteps: 30,
};

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
        input: InputEncoding {
            size: inputs as u16,
            full_scale: 255,
            timesteps: 100,
        },
        layers: vec![hidden_layer, readout],
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
    use picospike_runtime::quantize::quantize;
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
    let mut seeds = vec![("golden", golden)];
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
        input: InputEncoding {
            size: width as u16,
            full_scale: 255,
            timesteps: 50,
        },
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
