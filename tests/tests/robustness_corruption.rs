//! Corruption of real exported models: every single-bit flip and every truncation of a
//! digits-sized model (64 -> 64 LIF -> 10, lowpass synapses, quantized here) and of the models
//! committed for the boards (`boards/models/*/model.pspk`, the trained digits model among them)
//! is rejected with a [`LoadError`], and nothing panics.
//!
//! CRC-32 detects every error burst of up to 32 bits, so no single-bit flip may pass, wherever
//! it lands (magic, version, header, body or the checksum itself), and each is refused by the
//! check the loader's order gives it: a flip in the magic is `BadMagic` naming the bytes found,
//! in the version `UnsupportedVersion`, behind the header (body or checksum: the framing is
//! intact) `ChecksumMismatch` with the stored and computed CRCs; in the header, any error. Every
//! truncation is `Truncated`, saying how much is there and (once the header is whole) the exact
//! length it records. Flips whose CRC-32 is recomputed ("resealed",
//! as a buggy writer or an attacker would) must still either load into a model that runs, or be
//! rejected by the body checks.

use std::collections::BTreeMap;
use std::fs;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use picospike_host::quantize::quantize;
use picospike_runtime::format::FORMAT_VERSION;
use picospike_runtime::layer::Layer;
use picospike_runtime::{LoadError, Model, Network};
use picospike_tests::{digits_like_network, reseal, sample_input};

fn exported_model() -> Vec<u8> {
    let blob = quantize(&digits_like_network()).expect("the digits-like network quantizes");
    {
        let model: Model = Model::from_bytes(&blob).expect("the exported model loads");
        assert_eq!(model.input_size(), 64);
        assert_eq!(model.output_size(), 10);
    }
    blob
}

/// Board models larger than this are loaded but not swept.
const MAX_SWEPT_BYTES: usize = 16 * 1024;

/// The digits-sized model and every board model in the checkout up to [`MAX_SWEPT_BYTES`], by
/// name.
fn exported_models() -> Vec<(String, Vec<u8>)> {
    let mut models = vec![("digits-like (quantized here)".to_string(), exported_model())];
    let boards = Path::new(env!("CARGO_MANIFEST_DIR")).join("../boards/models");
    let mut paths: Vec<PathBuf> = fs::read_dir(boards)
        .map(|dir| {
            dir.filter_map(|entry| Some(entry.ok()?.path().join("model.pspk")))
                .filter(|path| path.is_file())
                .collect()
        })
        .unwrap_or_default();
    paths.sort();
    for path in paths {
        let blob = fs::read(&path).unwrap();
        if let Err(error) = Model::<'_, 8>::from_bytes(&blob) {
            panic!("{}: {error}", path.display());
        }
        // Every bit flip of a 200 KB model re-checks a 200 KB CRC 1.6 million times (hours);
        // the container and its checks are the same for any size, so large models only load.
        if blob.len() > MAX_SWEPT_BYTES {
            continue;
        }
        models.push((format!("boards/models/{}", name_of(&path)), blob));
    }
    models
}

fn name_of(model_file: &Path) -> String {
    let dir = model_file.parent().and_then(Path::file_name);
    dir.map(|d| d.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The variant name of a load error, for the tallies.
fn kind(error: &LoadError) -> &'static str {
    match error {
        LoadError::BadMagic { .. } => "BadMagic",
        LoadError::UnsupportedVersion { .. } => "UnsupportedVersion",
        LoadError::UnknownLayerKind { .. } => "UnknownLayerKind",
        LoadError::ChecksumMismatch { .. } => "ChecksumMismatch",
        LoadError::Truncated { .. } => "Truncated",
        LoadError::TrailingBytes { .. } => "TrailingBytes",
        LoadError::Malformed { .. } => "Malformed",
        LoadError::ShapeMismatch { .. } => "ShapeMismatch",
        LoadError::WrongLength { .. } => "WrongLength",
        LoadError::ParameterOutOfRange { .. } => "ParameterOutOfRange",
        LoadError::StateTooSmall { .. } => "StateTooSmall",
        LoadError::TooManyLayers { .. } => "TooManyLayers",
        _ => "other",
    }
}

/// A postcard varint (LEB128) at `*at`, advancing it.
fn read_varint(blob: &[u8], at: &mut usize) -> usize {
    let mut value = 0usize;
    for shift in (0..35).step_by(7) {
        let byte = blob[*at];
        *at += 1;
        value |= usize::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            break;
        }
    }
    value
}

/// Where the header ends (the body starts) in a well-formed blob: after the 6-byte preamble,
/// the header's layer kinds (varint), layer count (one byte), state words (varint) and body
/// length (varint), as runtime/FORMAT.md lays them out; checked against the blob's length.
fn header_end(blob: &[u8]) -> usize {
    let mut at = 6;
    read_varint(blob, &mut at); // layer kinds
    at += 1; // layer count
    read_varint(blob, &mut at); // state words
    let body_len = read_varint(blob, &mut at);
    assert_eq!(at + body_len + 4, blob.len(), "header parsed wrong");
    at
}

/// The stored CRC-32 (the last four bytes).
fn stored_crc(blob: &[u8]) -> u32 {
    u32::from_le_bytes(blob[blob.len() - 4..].try_into().unwrap())
}

/// Load `blob`, turning a panic into a test failure that names `what`.
fn load<'b>(blob: &'b [u8], what: &dyn Fn() -> String) -> Result<Model<'b>, LoadError> {
    catch_unwind(AssertUnwindSafe(|| Model::from_bytes(blob)))
        .unwrap_or_else(|_| panic!("Model::from_bytes panicked on {}", what()))
}

#[test]
fn every_single_bit_flip_is_rejected() {
    for (name, original) in exported_models() {
        let body = header_end(&original);
        let mut blob = original.clone();
        let mut tally = BTreeMap::new();
        for byte in 0..blob.len() {
            for bit in 0..8 {
                blob[byte] ^= 1 << bit;
                let what = || format!("{name}: byte {byte} bit {bit} flipped");
                let error = match load(&blob, &what) {
                    Ok(_) => panic!("{} was accepted", what()),
                    Err(error) => error,
                };
                // The loader's order: magic, version, header, checksum. A flip behind the
                // header leaves the framing intact, so only the CRC can catch it.
                let expected = match byte {
                    0..4 => Some(LoadError::BadMagic {
                        found: blob[..4].try_into().unwrap(),
                    }),
                    4..6 => Some(LoadError::UnsupportedVersion {
                        found: u16::from_le_bytes([blob[4], blob[5]]),
                        supported: FORMAT_VERSION,
                    }),
                    _ if byte < body => None, // header: any error
                    _ => Some(LoadError::ChecksumMismatch {
                        stored: stored_crc(&blob),
                        computed: {
                            let mut resealed = blob.clone();
                            reseal(&mut resealed);
                            stored_crc(&resealed)
                        },
                    }),
                };
                if let Some(expected) = expected {
                    assert_eq!(error, expected, "{}", what());
                }
                *tally.entry(kind(&error)).or_insert(0usize) += 1;
                blob[byte] ^= 1 << bit;
            }
        }
        println!(
            "{name}: every bit of {} bytes flipped and rejected: {tally:?}",
            original.len()
        );
    }
}

#[test]
fn every_32_bit_burst_is_rejected() {
    for (name, original) in exported_models() {
        let body = header_end(&original);
        let mut blob = original.clone();
        for start in 0..=blob.len() - 4 {
            for b in &mut blob[start..start + 4] {
                *b = !*b;
            }
            let what = || format!("{name}: bytes {start}..{} inverted", start + 4);
            let error = load(&blob, &what).err();
            let error = error.unwrap_or_else(|| panic!("{} was accepted", what()));
            if start < 4 {
                assert!(
                    matches!(error, LoadError::BadMagic { .. }),
                    "{}: {error:?}",
                    what()
                );
            } else if start >= body {
                assert!(
                    matches!(error, LoadError::ChecksumMismatch { .. }),
                    "{}: {error:?}",
                    what()
                );
            }
            for b in &mut blob[start..start + 4] {
                *b = !*b;
            }
        }
        println!("{name}: every 32-bit burst rejected");
    }
}

#[test]
fn every_truncation_and_extension_is_rejected() {
    for (name, original) in exported_models() {
        let body = header_end(&original);
        for len in 0..original.len() {
            let what = || format!("{name}: truncation to {len} bytes");
            // Every cut is `Truncated`, with what is there and a need beyond it: the preamble's
            // 6 bytes, more header, or (once the header is whole) the exact length it records.
            match load(&original[..len], &what) {
                Err(LoadError::Truncated { needed, available }) => {
                    assert_eq!(available, len, "{}", what());
                    match len {
                        0..6 => assert_eq!(needed, 6, "{}", what()),
                        _ if len < body => assert!(needed > len, "{}", what()),
                        _ => assert_eq!(needed, original.len(), "{}", what()),
                    }
                }
                other => panic!("{}: {other:?}", what()),
            }
        }
        println!(
            "{name}: every truncation (lengths 0..{}) is Truncated",
            original.len()
        );

        // Bytes after the checksum (flash padding, a concatenated second model) are refused too.
        for extra in [&[0u8][..], &[0xff; 3], &original[..]] {
            let mut longer = original.clone();
            longer.extend_from_slice(extra);
            let what = || format!("{name}: {} bytes appended", extra.len());
            assert_eq!(
                load(&longer, &what).err(),
                Some(LoadError::TrailingBytes { extra: extra.len() })
            );
        }
    }
}

#[test]
fn resealed_bit_flips_load_and_run_or_are_rejected() {
    let original = exported_model();
    // Where the first layer's 4096 weights sit in the blob (the model borrows them in place).
    let weights = {
        let model: Model = Model::from_bytes(&original).unwrap();
        let Layer::Dense(first) = model.layers()[0] else {
            panic!("not dense")
        };
        let start = first.weights.as_ptr() as usize - original.as_ptr() as usize;
        start..start + first.weights.len()
    };
    let input: Vec<u8> = sample_input(64, 3).into_iter().map(|x| x % 17).collect();
    let mut state = vec![0i32; 4096];
    let (mut tried, mut accepted, mut rejected) = (0usize, 0usize, BTreeMap::new());
    let mut weight_flips = 0usize;
    let mut blob = original.clone();
    // Flipping a bit of the checksum itself is undone by resealing: skip those.
    let body_end = original.len() - 4;
    for byte in 0..body_end {
        for bit in 0..8 {
            // Any i8 is a valid weight: of the first layer's 4096 weights, try only the sign
            // flips (to keep this test fast); try every bit of every other byte.
            if weights.contains(&byte) && bit != 7 {
                continue;
            }
            tried += 1;
            blob.copy_from_slice(&original);
            blob[byte] ^= 1 << bit;
            reseal(&mut blob);
            let what = || format!("byte {byte} bit {bit} flipped and resealed");
            let loaded = load(&blob, &what);
            // A resealed flip of the magic or version is still refused by them.
            if byte < 6 {
                assert!(
                    matches!(
                        loaded,
                        Err(LoadError::BadMagic { .. } | LoadError::UnsupportedVersion { .. })
                    ),
                    "{}: {:?}",
                    what(),
                    loaded.as_ref().map(|_| ())
                );
            }
            match loaded {
                Ok(model) => {
                    accepted += 1;
                    // The model borrows its weights from the blob: a flipped weight is what
                    // the network uses.
                    if weights.contains(&byte) {
                        let Layer::Dense(first) = model.layers()[0] else {
                            panic!("not dense")
                        };
                        assert_eq!(first.weights[byte - weights.start], blob[byte]);
                        weight_flips += 1;
                    }
                    let words = model.state_words();
                    let mut network = Network::new(&model, &mut state[..words])
                        .unwrap_or_else(|e| panic!("{}: {e}", what()));
                    let size = model.input_size();
                    let outcome = catch_unwind(AssertUnwindSafe(|| {
                        let input: Vec<u8> = input.iter().copied().cycle().take(size).collect();
                        network.run(&input, 3).map(|p| p.class)
                    }));
                    match outcome {
                        Ok(Ok(class)) => assert!(usize::from(class) < model.output_size()),
                        Ok(Err(e)) => panic!("{}: {e}", what()),
                        Err(_) => panic!("running panicked: {}", what()),
                    }
                }
                Err(error) => {
                    // Any i8 is a valid weight: no weight flip may be refused.
                    assert!(!weights.contains(&byte), "{}: {error}", what());
                    *rejected.entry(kind(&error)).or_insert(0usize) += 1;
                }
            }
        }
    }
    assert_eq!(
        weight_flips,
        weights.len(),
        "every weight's sign flip loads"
    );
    println!(
        "resealed bit flips tried: {tried}; accepted and ran 3 steps: {accepted}; \
         rejected: {rejected:?}"
    );
    // Weights, multipliers and biases are most of the bytes, and any value is valid there.
    assert!(accepted > tried / 2, "{accepted} of {tried}");
}
