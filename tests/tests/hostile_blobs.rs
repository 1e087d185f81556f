//! Property tests: no byte sequence makes the loader or the runner panic.
//!
//! 50,000 random blobs plus 50,000 mutated real blobs (half of them resealed with a correct
//! CRC so that the mutations reach the body decoder and the layer validation). A mutated blob that
//! was not resealed must be rejected.

use picospike_host::quantize::quantize;
use picospike_runtime::synapse::Synapse;
use picospike_runtime::{ModelBuilder, Network};
use picospike_tests::{
    golden_conv_blob, golden_layers, load_both, reseal, small_network, GOLDEN_INPUT,
};
use proptest::prelude::*;

/// Load `blob`; if it loads, run a few steps on `input` (resized to the model's input).
fn exercise(blob: &[u8], input: &[u8]) -> bool {
    // `load_both` also checks that `Model::load_into` agrees with `Model::from_bytes`.
    let Ok(model) = load_both::<8>(blob) else {
        return false;
    };
    let mut state = vec![0i32; model.state_words()];
    let mut network = Network::new(&model, &mut state).expect("state sized by the model");
    let mut input = input.to_vec();
    input.resize(model.input_size(), 0xff);
    let prediction = network.run(&input, 5).expect("input sized by the model");
    assert!(usize::from(prediction.class) < model.output_size().max(1));
    true
}

fn real_blobs() -> Vec<Vec<u8>> {
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
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 50_000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(blob in proptest::collection::vec(any::<u8>(), 0..400), input in proptest::collection::vec(any::<u8>(), 0..16)) {
        // Random bytes with the right magic and version get past the first checks.
        let mut with_magic = b"PSPK\x01\x00".to_vec();
        with_magic.extend_from_slice(&blob);
        exercise(&blob, &input);
        exercise(&with_magic, &input);
        reseal(&mut with_magic);
        exercise(&with_magic, &input);
    }

    #[test]
    fn mutated_models_never_panic(
        which in 0usize..3,
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
        cut in proptest::option::of(any::<usize>()),
        seal in any::<bool>(),
        input in proptest::collection::vec(any::<u8>(), 0..16),
    ) {
        let original = real_blobs().swap_remove(which);
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
        let loaded = exercise(&blob, &input);
        // Without a reseal, any change must be caught by the CRC (a collision is 2^-32 per case).
        if !seal && blob != original {
            prop_assert!(!loaded, "a modified blob that was not resealed loaded");
        }
    }
}

#[test]
fn real_blobs_load_and_run() {
    for blob in real_blobs() {
        assert!(exercise(&blob, &[200; 8]));
    }
}
