//! Shared pieces of the picospike fuzz targets: re-framing mutated blobs so that mutations reach
//! the deep checks, and the invariants every accepted model and every run must satisfy.
//!
//! A random mutation of a model almost never keeps its CRC-32 and its header's `body_len`
//! right, so on their own the fuzzers would only ever exercise the framing checks. Each target
//! therefore also tries [`reseal`]ed and [`refit`]ted copies of its input, which get past the
//! length and checksum checks to the body decoder, the layer validation and the network.

use picospike_runtime::{LayeredNetwork, LoadError, Model, ModelBuilder, Network, RunError};

/// Layer capacity the targets load with (the runtime's default).
pub const MAX_LAYERS: usize = 8;

const CRC32: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

/// Recompute the trailing CRC-32 of `blob` in place (no-op below 4 bytes).
pub fn reseal(blob: &mut [u8]) {
    if let Some(end) = blob.len().checked_sub(4) {
        let crc = CRC32.checksum(&blob[..end]);
        blob[end..].copy_from_slice(&crc.to_le_bytes());
    }
}

/// Read a postcard `u32` varint at `*at`, advancing it; `None` if it runs off the end.
fn skip_varint(bytes: &[u8], at: &mut usize) -> Option<()> {
    for _ in 0..5 {
        let byte = *bytes.get(*at)?;
        *at += 1;
        if byte & 0x80 == 0 {
            return Some(());
        }
    }
    Some(())
}

/// Rewrite the header's `body_len` to the number of body bytes `blob` actually holds (all bytes
/// between the header and the last 4) and recompute the CRC-32.
///
/// `None` if the blob is too short to hold a header and a checksum.
pub fn refit(blob: &[u8]) -> Option<Vec<u8>> {
    let mut at = 6; // magic and version
    skip_varint(blob, &mut at)?; // layer kinds
    at += 1; // layer count, one raw byte
    skip_varint(blob, &mut at)?; // state words
    let body_len_at = at;
    skip_varint(blob, &mut at)?; // body length
    let body = blob.get(at..blob.len().checked_sub(4)?)?;
    let mut out = Vec::with_capacity(blob.len() + 4);
    out.extend_from_slice(&blob[..body_len_at]);
    let mut len = u32::try_from(body.len()).ok()?;
    loop {
        let low = (len & 0x7f) as u8;
        len >>= 7;
        if len == 0 {
            out.push(low);
            break;
        }
        out.push(low | 0x80);
    }
    out.extend_from_slice(body);
    out.extend_from_slice(&[0; 4]);
    reseal(&mut out);
    Some(out)
}

/// Check the invariants of a model the loader accepted from `blob`.
///
/// The shapes chain, the state size is what the layers imply, only the last layer reads out,
/// and the model survives a round trip through [`ModelBuilder`] (which itself re-validates).
/// Byte equality is not required: postcard accepts over-long varints, so the same model can be
/// written in more than one way.
pub fn check_model(model: &Model<'_, MAX_LAYERS>, blob: &[u8]) {
    let layers = model.layers();
    assert!(!layers.is_empty(), "an accepted model has layers");
    assert_eq!(layers[0].inputs(), model.input_size());
    assert_eq!(layers[0].input_shape(), model.input().shape);
    for pair in layers.windows(2) {
        assert_eq!(
            pair[0].output_shape(),
            pair[1].input_shape(),
            "shapes chain"
        );
    }
    let last = layers.len() - 1;
    for (index, layer) in layers.iter().enumerate() {
        let readout = layer.neuron() == Some(picospike_runtime::neuron::Neuron::Readout);
        assert_eq!(readout, index == last, "readout last, only");
        assert!(layer.inputs() > 0 && layer.outputs() > 0);
    }
    assert_eq!(layers[last].outputs(), model.output_size());
    let words: usize = layers.iter().map(|l| l.state_words()).sum();
    assert_eq!(model.state_words(), words);
    assert!(model.dt().is_finite() && model.dt() > 0.0 && model.dt() <= 1.0);

    let mut buffer = vec![0u8; blob.len() + 32];
    let written = ModelBuilder {
        dt: model.dt(),
        input: model.input(),
        layers,
    }
    .to_slice(&mut buffer)
    .expect("an accepted model re-encodes");
    assert!(
        written.len() <= blob.len(),
        "canonical form is never longer"
    );
    let again = Model::<'_, MAX_LAYERS>::from_bytes(written).expect("re-encoded model loads");
    assert_eq!(again.layers(), model.layers());
    assert_eq!(again.input(), model.input());
    assert_eq!(again.dt().to_bits(), model.dt().to_bits());
    assert_eq!(again.state_words(), model.state_words());
}

/// Load `blob`; if accepted, check it with [`check_model`]. Returns whether it loaded.
pub fn load(blob: &[u8]) -> bool {
    match Model::<'_, MAX_LAYERS>::from_bytes(blob) {
        Ok(model) => {
            check_model(&model, blob);
            true
        }
        Err(error) => {
            // Every error renders (Display must not panic either).
            let _ = error.to_string();
            false
        }
    }
}

/// Bind `model` to a state buffer and run `input` (cycled or cut to the model's input size)
/// for `steps` steps, twice, checking the results.
pub fn run(model: &Model<'_, MAX_LAYERS>, input: &[u8], steps: u16) {
    let words = model.state_words();
    let mut state = vec![0x5a5a_5a5a_i32; words];
    // One word short is refused, with the sizes.
    assert_eq!(
        Network::new(model, &mut state[..words - 1]).err(),
        Some(LoadError::StateTooSmall {
            needed: words,
            given: words - 1
        })
    );
    let mut network = Network::new(model, &mut state).expect("state sized by the model");
    let size = model.input_size();
    let input: Vec<u8> = if input.is_empty() {
        vec![0xff; size]
    } else {
        input.iter().copied().cycle().take(size).collect()
    };
    let mut longer = input.clone();
    longer.push(0);
    assert_eq!(
        network.run(&longer, steps).err(),
        Some(RunError::InputLength {
            found: size + 1,
            expected: size
        })
    );

    let first = network
        .run(&input, steps)
        .expect("input sized by the model");
    let (class, outputs, spikes) = (
        first.class,
        first.outputs.to_vec(),
        first.spike_counts.clone(),
    );
    assert_eq!(first.steps, steps);
    assert_eq!(outputs.len(), model.output_size());
    assert_eq!(spikes.len(), model.layers().len());
    assert_eq!(spikes.last(), Some(&0), "the readout does not spike");
    let best = outputs.iter().copied().max().expect("at least one output");
    assert_eq!(
        outputs.iter().position(|&v| v == best),
        Some(usize::from(class)),
        "class is the first largest output"
    );
    for (layer, &count) in model.layers().iter().zip(&spikes) {
        let per_step = if matches!(
            layer.neuron(),
            Some(picospike_runtime::neuron::Neuron::Lif { .. })
        ) {
            1
        } else {
            255
        };
        let bound = u64::from(steps) * layer.outputs() as u64 * per_step;
        assert!(u64::from(count) <= bound, "{count} spikes > {bound}");
    }

    // `run` resets: the same input gives the same result.
    let second = network
        .run(&input, steps)
        .expect("input sized by the model");
    assert_eq!(second.class, class);
    assert_eq!(second.outputs, &outputs[..]);
    assert_eq!(second.spike_counts, spikes);
    let expected = second.clone();

    // The layer-major order gives the same bits, in exactly the state it asks for.
    let words = LayeredNetwork::state_words(model, steps);
    let mut layered_state = vec![0x5a5a_5a5a_i32; words];
    if let Some(short) = words.checked_sub(1) {
        assert!(LayeredNetwork::new(model, &mut layered_state[..short], steps).is_err());
    }
    let mut layered =
        LayeredNetwork::new(model, &mut layered_state, steps).expect("state sized by the model");
    assert_eq!(
        layered.run(&input, steps.saturating_add(1)).err(),
        Some(RunError::TooManySteps {
            found: steps.saturating_add(1),
            most: steps
        })
    );
    assert_eq!(
        layered
            .run(&input, steps)
            .expect("input sized by the model"),
        expected,
        "layer by layer vs step by step"
    );
}

/// Layout of a `load_and_run` input: a flags byte, the blob length (`u16` LE), the blob, then
/// the input bytes.
///
/// Flags: bit 0 reseal the blob, bit 1 refit it (see [`refit`]; implies a reseal), bits 2..=5
/// the number of steps (0..=15).
#[derive(Debug)]
pub struct RunInput<'d> {
    /// The model bytes.
    pub blob: &'d [u8],
    /// The input bytes.
    pub input: &'d [u8],
    /// Recompute the CRC-32.
    pub reseal: bool,
    /// Rewrite `body_len` and recompute the CRC-32.
    pub refit: bool,
    /// Steps to run.
    pub steps: u16,
}

impl<'d> RunInput<'d> {
    /// Split fuzz data into its parts; missing parts are empty.
    pub fn parse(data: &'d [u8]) -> Self {
        let flags = data.first().copied().unwrap_or(0);
        let len = match data.get(1..3) {
            Some(&[lo, hi]) => usize::from(u16::from_le_bytes([lo, hi])),
            _ => 0,
        };
        let rest = data.get(3..).unwrap_or(&[]);
        let (blob, input) = rest.split_at(len.min(rest.len()));
        RunInput {
            blob,
            input,
            reseal: flags & 1 != 0,
            refit: flags & 2 != 0,
            steps: u16::from((flags >> 2) & 0x0f),
        }
    }
}
