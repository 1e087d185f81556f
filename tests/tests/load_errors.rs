//! Every `LoadError` variant (and `RunError`) is produced by a concrete bad model or buffer.

use picospike_runtime::layer::{Dense, Layer};
use picospike_runtime::neuron::Neuron;
use picospike_runtime::{EncodeError, LoadError, Model, ModelBuilder, Network, RunError};
use picospike_tests::{golden_layers, reseal, GOLDEN_INPUT};

fn golden() -> Vec<u8> {
    ModelBuilder {
        dt: 0.001,
        input: GOLDEN_INPUT,
        layers: &golden_layers(),
    }
    .to_vec()
    .unwrap()
}

fn load(bytes: &[u8]) -> Result<Model<'_>, LoadError> {
    Model::from_bytes(bytes)
}

/// Encode `layers` with the golden input encoding and return the loader's verdict.
fn encode_error(layers: &[Layer<'_>]) -> LoadError {
    match (ModelBuilder {
        dt: 0.001,
        input: GOLDEN_INPUT,
        layers,
    })
    .to_vec()
    {
        Err(EncodeError::Invalid(e)) => e,
        other => panic!("expected an invalid model, got {other:?}"),
    }
}

fn first_dense() -> Dense<'static> {
    match golden_layers()[0] {
        Layer::Dense(d) => d,
        _ => unreachable!(),
    }
}

#[test]
fn bad_magic() {
    let mut blob = golden();
    blob[0] = b'X';
    assert_eq!(
        load(&blob).unwrap_err(),
        LoadError::BadMagic { found: *b"XSPK" }
    );
    assert_eq!(
        load(b"ELF").unwrap_err(),
        LoadError::BadMagic {
            found: [b'E', b'L', b'F', 0]
        }
    );
}

#[test]
fn unsupported_version() {
    let mut blob = golden();
    blob[4] = 2;
    assert_eq!(
        load(&blob).unwrap_err(),
        LoadError::UnsupportedVersion {
            found: 2,
            supported: 1
        }
    );
}

#[test]
fn unknown_layer_kind_is_rejected_before_the_checksum() {
    let mut blob = golden();
    blob[6] = 0b101; // Dense and kind 2
    assert_eq!(
        load(&blob).unwrap_err(),
        LoadError::UnknownLayerKind { kind: 2 }
    );
}

#[test]
fn checksum_mismatch() {
    let mut blob = golden();
    let last = blob.len() - 5;
    blob[last] ^= 0x10;
    assert!(matches!(
        load(&blob).unwrap_err(),
        LoadError::ChecksumMismatch { .. }
    ));
}

#[test]
fn truncated() {
    let blob = golden();
    assert_eq!(
        load(&blob[..blob.len() - 1]).unwrap_err(),
        LoadError::Truncated {
            needed: blob.len(),
            available: blob.len() - 1
        }
    );
    assert_eq!(
        load(b"PSP").unwrap_err(),
        LoadError::Truncated {
            needed: 6,
            available: 3
        }
    );
    assert!(matches!(
        load(&blob[..7]).unwrap_err(),
        LoadError::Truncated { .. }
    ));
}

#[test]
fn trailing_bytes() {
    let mut blob = golden();
    blob.push(0);
    assert_eq!(
        load(&blob).unwrap_err(),
        LoadError::TrailingBytes { extra: 1 }
    );
}

#[test]
fn malformed_body() {
    let mut blob = golden();
    // The first layer's neuron tag (byte 21) becomes an unknown variant.
    assert_eq!(blob[21], 0);
    blob[21] = 9;
    reseal(&mut blob);
    assert_eq!(
        load(&blob).unwrap_err(),
        LoadError::Malformed { part: "body" }
    );
}

#[test]
fn shape_mismatch() {
    let mut blob = golden();
    // The model's input size (byte 14) no longer matches the first layer.
    assert_eq!(blob[14], 2);
    blob[14] = 3;
    reseal(&mut blob);
    assert_eq!(
        load(&blob).unwrap_err(),
        LoadError::ShapeMismatch {
            layer: 0,
            found: 2,
            expected: 3
        }
    );
}

#[test]
fn wrong_length() {
    let mut layers = golden_layers();
    let mut dense = first_dense();
    dense.weights = &[1, 2, 3];
    layers[0] = Layer::Dense(dense);
    assert_eq!(
        encode_error(&layers),
        LoadError::WrongLength {
            layer: 0,
            field: "weights",
            found: 3,
            expected: 4
        }
    );
}

#[test]
fn parameter_out_of_range() {
    let mut layers = golden_layers();
    let mut dense = first_dense();
    dense.neuron = Neuron::Lif {
        tau_rc: -0.02,
        tau_ref: 0.002,
        min_voltage: 0.0,
        amplitude: 0.01,
    };
    layers[0] = Layer::Dense(dense);
    assert_eq!(
        encode_error(&layers),
        LoadError::ParameterOutOfRange {
            layer: Some(0),
            parameter: "tau_rc"
        }
    );
    let mut dense = first_dense();
    dense.shift = 0;
    layers[0] = Layer::Dense(dense);
    assert_eq!(
        encode_error(&layers),
        LoadError::ParameterOutOfRange {
            layer: Some(0),
            parameter: "shift"
        }
    );
    // A spiking last layer cannot be read out.
    assert_eq!(
        encode_error(&layers[..1]),
        LoadError::ParameterOutOfRange {
            layer: Some(0),
            parameter: "shift"
        }
    );
    assert_eq!(
        encode_error(&golden_layers()[..1]),
        LoadError::ParameterOutOfRange {
            layer: Some(0),
            parameter: "neuron"
        }
    );
}

#[test]
fn state_too_small() {
    let blob = golden();
    let model = load(&blob).unwrap();
    let mut state = [0i32; 10];
    assert_eq!(
        Network::new(&model, &mut state).unwrap_err(),
        LoadError::StateTooSmall {
            needed: 11,
            given: 10
        }
    );
    let mut state = [0i32; 11];
    assert!(Network::new(&model, &mut state).is_ok());
}

#[test]
fn too_many_layers() {
    let blob = golden();
    assert_eq!(
        Model::<'_, 1>::from_bytes(&blob).unwrap_err(),
        LoadError::TooManyLayers {
            found: 2,
            capacity: 1
        }
    );
}

#[test]
fn run_rejects_an_input_of_the_wrong_size() {
    let blob = golden();
    let model = load(&blob).unwrap();
    let mut state = [0i32; 11];
    let mut network = Network::new(&model, &mut state).unwrap();
    assert_eq!(
        network.run(&[1, 2, 3], 5).unwrap_err(),
        RunError::InputLength {
            found: 3,
            expected: 2
        }
    );
}

#[test]
fn messages_say_what_was_found_and_expected() {
    let cases = [
        (
            LoadError::StateTooSmall {
                needed: 11,
                given: 10,
            }
            .to_string(),
            "state buffer too small: the model needs 11 words, 10 given",
        ),
        (
            LoadError::UnsupportedVersion {
                found: 2,
                supported: 1,
            }
            .to_string(),
            "model format version 2 is not supported (this runtime reads version 1)",
        ),
        (
            RunError::InputLength {
                found: 3,
                expected: 2,
            }
            .to_string(),
            "input has 3 values, the model takes 2",
        ),
    ];
    for (got, want) in cases {
        assert_eq!(got, want);
    }
}
