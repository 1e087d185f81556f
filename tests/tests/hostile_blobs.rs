//! Property tests: no byte sequence makes the loader or the runner panic, and hostile bytes
//! reach the checks they are aimed at.
//!
//! 50,000 random byte strings, each tried four ways: as they are; behind the current preamble
//! (magic and format version, from the public constants of `picospike_runtime::format`); the
//! same followed by a correct CRC; and framed as a whole container (preamble, a header with
//! a supported layer kind set, a layer count within capacity and the exact body length, CRC)
//! around the random bytes as the body, so that they reach the body decoder and the layer
//! validation. Plus 50,000 mutated real blobs (half of them resealed so that the mutations reach
//! the body checks); a mutated blob that was not resealed must be rejected.
//!
//! Each test tallies where its cases stopped (preamble, framing, body checks, loaded) and
//! asserts a minimum share past the preamble and the framing: a blob prefix that no longer
//! matches the format (a version bump) would stop every case at `UnsupportedVersion` and fail
//! here instead of silently testing nothing.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::OnceLock;

use picospike_host::quantize::quantize;
use picospike_runtime::format::{FORMAT_VERSION, MAGIC};
use picospike_runtime::synapse::Synapse;
use picospike_runtime::{LoadError, Model, ModelBuilder, Network};
use picospike_tests::{
    golden_conv_blob, golden_layers, load_both, reseal, small_network, GOLDEN_INPUT,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// Load `blob`; if it loads, run a few steps on `input` (resized to the model's input).
fn exercise(blob: &[u8], input: &[u8]) -> Result<(), LoadError> {
    // `load_both` also checks that `Model::load_into` agrees with `Model::from_bytes`.
    let model = load_both::<8>(blob)?;
    let mut state = vec![0i32; model.state_words()];
    let mut network = Network::new(&model, &mut state).expect("state sized by the model");
    let mut input = input.to_vec();
    input.resize(model.input_size(), 0xff);
    let prediction = network.run(&input, 5).expect("input sized by the model");
    assert!(usize::from(prediction.class) < model.output_size().max(1));
    Ok(())
}

/// Where a case stopped, in the loader's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    /// Magic or format version.
    Preamble,
    /// Header, layer kinds, capacity, length or checksum.
    Framing,
    /// Body decoder or layer validation.
    Body,
    /// Loaded and ran.
    Loaded,
}

/// The stage and the error's name, for the tallies.
fn classify(result: &Result<(), LoadError>) -> (Stage, &'static str) {
    use LoadError::*;
    match result {
        Ok(()) => (Stage::Loaded, "loaded"),
        Err(BadMagic { .. }) => (Stage::Preamble, "BadMagic"),
        Err(UnsupportedVersion { .. }) => (Stage::Preamble, "UnsupportedVersion"),
        Err(UnknownLayerKind { .. }) => (Stage::Framing, "UnknownLayerKind"),
        Err(TooManyLayers { .. }) => (Stage::Framing, "TooManyLayers"),
        Err(Truncated { .. }) => (Stage::Framing, "Truncated"),
        Err(TrailingBytes { .. }) => (Stage::Framing, "TrailingBytes"),
        Err(ChecksumMismatch { .. }) => (Stage::Framing, "ChecksumMismatch"),
        // Also the kind set disagreeing with the decoded layers (checked last), counted here
        // to stay on the safe side of the thresholds.
        Err(Malformed { part: "header" }) => (Stage::Framing, "Malformed(header)"),
        Err(Malformed { .. }) => (Stage::Body, "Malformed(body)"),
        Err(ShapeMismatch { .. }) => (Stage::Body, "ShapeMismatch"),
        Err(AccumulatorOverflow { .. }) => (Stage::Body, "AccumulatorOverflow"),
        Err(WrongLength { .. }) => (Stage::Body, "WrongLength"),
        Err(ParameterOutOfRange { .. }) => (Stage::Body, "ParameterOutOfRange"),
        Err(other) => panic!("the loader returned {other:?}, which no blob should give"),
    }
}

/// Outcomes of one way of building the cases: count per stage and per error name.
#[derive(Debug, Default)]
struct Tally {
    stages: BTreeMap<Stage, usize>,
    errors: BTreeMap<&'static str, usize>,
}

impl Tally {
    fn add(&mut self, result: &Result<(), LoadError>) {
        let (stage, name) = classify(result);
        *self.stages.entry(stage).or_default() += 1;
        *self.errors.entry(name).or_default() += 1;
    }

    fn total(&self) -> usize {
        self.stages.values().sum()
    }

    /// Fraction of the cases that stopped at `stage` or later.
    fn reached(&self, stage: Stage) -> f64 {
        let at_least: usize = self.stages.range(stage..).map(|(_, n)| n).sum();
        at_least as f64 / self.total().max(1) as f64
    }
}

/// Magic and format version as this runtime writes them.
fn preamble() -> Vec<u8> {
    let mut bytes = MAGIC.to_vec();
    bytes.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    bytes
}

/// LEB128, postcard's varint (runtime/FORMAT.md).
fn push_varint(out: &mut Vec<u8>, mut value: u32) {
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn read_varint(bytes: &[u8], at: &mut usize) -> u32 {
    let mut value = 0u32;
    for shift in (0..35).step_by(7) {
        let byte = bytes[*at];
        *at += 1;
        value |= u32::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            break;
        }
    }
    value
}

/// A whole container around `body`: preamble, header (kind set, layer count, state words,
/// the body's exact length), body, CRC-32.
fn framed(kinds: u32, layer_count: u8, state_words: u32, body: &[u8]) -> Vec<u8> {
    let mut blob = preamble();
    push_varint(&mut blob, kinds);
    blob.push(layer_count);
    push_varint(&mut blob, state_words);
    push_varint(&mut blob, body.len() as u32);
    blob.extend_from_slice(body);
    blob.extend_from_slice(&[0; 4]);
    reseal(&mut blob);
    blob
}

fn real_blobs() -> &'static [Vec<u8>] {
    static BLOBS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    BLOBS.get_or_init(|| {
        let golden = ModelBuilder {
            dt: 0.001,
            input: GOLDEN_INPUT,
            layers: &golden_layers(),
        }
        .to_vec()
        .unwrap();
        let lif = quantize(&small_network(
            8,
            6,
            3,
            false,
            Synapse::Lowpass { tau: 0.005 },
        ))
        .unwrap();
        let relu = quantize(&small_network(8, 6, 3, true, Synapse::None)).unwrap();
        vec![golden, lif, relu, golden_conv_blob()]
    })
}

fn runner() -> TestRunner {
    TestRunner::new(Config {
        cases: 50_000,
        failure_persistence: None,
        ..Config::default()
    })
}

/// `framed` builds the container exactly as `ModelBuilder` does: the prefix the random cases
/// use is the writer's, not a copy of an old version's bytes.
#[test]
fn framing_matches_the_writer() {
    for blob in real_blobs() {
        let model: Model = Model::from_bytes(blob).unwrap();
        let mut at = preamble().len();
        assert_eq!(blob[..at], preamble()[..]);
        let kinds = read_varint(blob, &mut at);
        let layer_count = blob[at];
        at += 1;
        let state_words = read_varint(blob, &mut at);
        let body_len = read_varint(blob, &mut at) as usize;
        assert_eq!(usize::from(layer_count), model.layers().len());
        assert_eq!(state_words as usize, model.state_words());
        assert_eq!(at + body_len + 4, blob.len());
        let body = &blob[at..at + body_len];
        assert_eq!(&framed(kinds, layer_count, state_words, body), blob);
    }
}

#[test]
fn random_bytes_never_panic_and_reach_the_body_checks() {
    // raw, behind the preamble, resealed, framed
    let tallies: RefCell<[Tally; 4]> = RefCell::default();
    let strategy = (
        proptest::collection::vec(any::<u8>(), 0..400),
        proptest::collection::vec(any::<u8>(), 0..16),
        0u32..8,
        0u8..=8,
        0u32..4096,
    );
    runner()
        .run(
            &strategy,
            |(bytes, input, kinds, layer_count, state_words)| {
                let mut with_preamble = preamble();
                with_preamble.extend_from_slice(&bytes);
                let raw = exercise(&bytes, &input);
                let behind_preamble = exercise(&with_preamble, &input);
                // A correct CRC after the random bytes (not over their last four, which for a
                // short string would overwrite the preamble).
                with_preamble.extend_from_slice(&[0; 4]);
                reseal(&mut with_preamble);
                let resealed = exercise(&with_preamble, &input);
                let whole = framed(kinds, layer_count, state_words, &bytes);
                let framed = exercise(&whole, &input);
                let mut tallies = tallies.borrow_mut();
                for (tally, result) in
                    tallies
                        .iter_mut()
                        .zip([raw, behind_preamble, resealed, framed])
                {
                    tally.add(&result);
                }
                Ok(())
            },
        )
        .unwrap();
    let [raw, behind_preamble, resealed, framed] = tallies.into_inner();
    for (name, tally) in [
        ("raw", &raw),
        ("behind the preamble", &behind_preamble),
        ("behind the preamble, resealed", &resealed),
        ("framed", &framed),
    ] {
        println!("{name}: {:?} {:?}", tally.stages, tally.errors);
    }
    // Behind the writer's preamble nothing stops at the magic or the version.
    assert_eq!(
        behind_preamble.reached(Stage::Framing),
        1.0,
        "{behind_preamble:?}"
    );
    assert_eq!(resealed.reached(Stage::Framing), 1.0, "{resealed:?}");
    // A valid container gets random bodies to the decoder and validation.
    assert!(framed.reached(Stage::Body) >= 0.95, "{framed:?}");
}

#[test]
fn mutated_models_never_panic_and_resealed_ones_reach_the_body_checks() {
    let (sealed, unsealed): (RefCell<Tally>, RefCell<Tally>) = Default::default();
    let strategy = (
        0usize..real_blobs().len(),
        proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
        proptest::option::of(any::<usize>()),
        any::<bool>(),
        proptest::collection::vec(any::<u8>(), 0..16),
    );
    runner()
        .run(&strategy, |(which, edits, cut, seal, input)| {
            let original = &real_blobs()[which];
            let mut blob = original.clone();
            for (position, value) in edits {
                let len = blob.len();
                blob[position % len] = value;
            }
            if let Some(cut) = cut {
                blob.truncate(cut % (blob.len() + 1));
            }
            if seal {
                reseal(&mut blob);
            }
            let result = exercise(&blob, &input);
            // Without a reseal, any change must be caught (by the CRC, or earlier by the
            // preamble or framing checks; a CRC collision is 2^-32 per case).
            if !seal && blob != *original {
                prop_assert!(
                    result.is_err(),
                    "a modified blob that was not resealed loaded"
                );
            }
            let tally = if seal { &sealed } else { &unsealed };
            tally.borrow_mut().add(&result);
            Ok(())
        })
        .unwrap();
    let (sealed, unsealed) = (sealed.into_inner(), unsealed.into_inner());
    println!("resealed: {:?} {:?}", sealed.stages, sealed.errors);
    println!("not resealed: {:?} {:?}", unsealed.stages, unsealed.errors);
    // Half of the cases are cut short (those stop at the length check); most of the others
    // reach the body checks, and the loader must both accept and refuse some of them.
    assert!(sealed.reached(Stage::Body) >= 0.3, "{sealed:?}");
    assert!(sealed.reached(Stage::Loaded) >= 0.05, "{sealed:?}");
    let validation: usize = ["ShapeMismatch", "WrongLength", "ParameterOutOfRange"]
        .iter()
        .filter_map(|name| sealed.errors.get(name))
        .sum();
    assert!(
        validation > 0,
        "no resealed mutation reached the layer validation: {sealed:?}"
    );
    // Unsealed edits stop before the body, at the CRC at the latest (edits that rewrote a byte
    // with its own value leave the original, which loads).
    assert_eq!(unsealed.stages.get(&Stage::Body), None, "{unsealed:?}");
    assert!(unsealed.reached(Stage::Loaded) < 0.05, "{unsealed:?}");
}

#[test]
fn real_blobs_load_and_run() {
    for blob in real_blobs() {
        assert_eq!(exercise(blob, &[200; 8]), Ok(()));
    }
}
