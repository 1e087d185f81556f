//! Every `LoadError` variant (and `RunError`) is produced by a concrete bad model or buffer.

use picospike_runtime::layer::{Conv2d, Dense, Layer, Scaling, Shape, SumPool};
use picospike_runtime::neuron::Neuron;
use picospike_runtime::{EncodeError, LoadError, Model, ModelBuilder, Network, RunError};
use picospike_tests::{
    golden_conv_layers, golden_layers, load_both, reseal, GOLDEN_CONV_INPUT, GOLDEN_INPUT,
};

fn golden() -> Vec<u8> {
    ModelBuilder {
        dt: 0.001,
        input: GOLDEN_INPUT,
        layers: &golden_layers(),
    }
    .to_vec()
    .unwrap()
}

/// The loader's verdict; `Model::from_bytes` and `Model::load_into` must agree on it.
fn load(bytes: &[u8]) -> Result<Model<'_>, LoadError> {
    load_both(bytes)
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

/// Encode `layers` with the golden convolutional input encoding and return the verdict.
fn conv_error(layers: &[Layer<'_>]) -> LoadError {
    match (ModelBuilder {
        dt: 0.001,
        input: GOLDEN_CONV_INPUT,
        layers,
    })
    .to_vec()
    {
        Err(EncodeError::Invalid(e)) => e,
        other => panic!("expected an invalid model, got {other:?}"),
    }
}

fn first_conv() -> Conv2d<'static> {
    match golden_conv_layers()[0] {
        Layer::Conv2d(c) => c,
        _ => unreachable!(),
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
    blob[4] = 3;
    assert_eq!(
        load(&blob).unwrap_err(),
        LoadError::UnsupportedVersion {
            found: 3,
            supported: 2
        }
    );
}

#[test]
fn unknown_layer_kind_is_rejected_before_the_checksum() {
    let mut blob = golden();
    blob[6] = 0b1001; // Dense and kind 3
    assert_eq!(
        load(&blob).unwrap_err(),
        LoadError::UnknownLayerKind { kind: 3 }
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
    // The first layer's neuron tag (byte 26) becomes an unknown variant.
    assert_eq!(blob[26], 0);
    blob[26] = 9;
    reseal(&mut blob);
    assert_eq!(
        load(&blob).unwrap_err(),
        LoadError::Malformed { part: "body" }
    );
}

#[test]
fn shape_mismatch() {
    let mut blob = golden();
    // The model's input channels (byte 16) no longer match the first layer.
    assert_eq!(blob[14..17], [1, 1, 2]);
    blob[16] = 3;
    reseal(&mut blob);
    assert_eq!(
        load(&blob).unwrap_err(),
        LoadError::ShapeMismatch {
            layer: 0,
            found: Shape::vector(2),
            expected: Shape::vector(3)
        }
    );
    // A convolution fed a vector where it expects an image.
    let mut layers = golden_conv_layers();
    layers[0] = Layer::Conv2d(Conv2d {
        input: Shape::image(2, 2, 4),
        ..first_conv()
    });
    assert_eq!(
        conv_error(&layers),
        LoadError::ShapeMismatch {
            layer: 0,
            found: Shape::image(2, 2, 4),
            expected: Shape::image(4, 4, 1)
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
    dense.scaling.shifts = &[0, 48];
    layers[0] = Layer::Dense(dense);
    assert_eq!(
        encode_error(&layers),
        LoadError::ParameterOutOfRange {
            layer: Some(0),
            parameter: "shifts"
        }
    );
    // A spiking last layer cannot be read out.
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
    let mut state = [0i32; 16];
    assert_eq!(
        Network::new(&model, &mut state).unwrap_err(),
        LoadError::StateTooSmall {
            needed: 17,
            given: 16
        }
    );
    let mut state = [0i32; 17];
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
    let mut state = [0i32; 17];
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

#[test]
fn convolution_parameters_out_of_range() {
    let out_of_range = |parameter| LoadError::ParameterOutOfRange {
        layer: Some(0),
        parameter,
    };
    let with = |conv: Conv2d<'static>| {
        let mut layers = golden_conv_layers();
        layers[0] = Layer::Conv2d(conv);
        conv_error(&layers)
    };
    let conv = first_conv();
    assert_eq!(
        with(Conv2d {
            kernel_height: 0,
            ..conv
        }),
        out_of_range("kernel")
    );
    assert_eq!(with(Conv2d { stride: 0, ..conv }), out_of_range("stride"));
    // A third output row would start past the input's last row (rows 4, 5 of a 4-row input).
    assert_eq!(
        with(Conv2d {
            output: Shape::image(3, 2, 2),
            ..conv
        }),
        out_of_range("output height")
    );
    // Padding as wide as the kernel reaches nothing.
    assert_eq!(
        with(Conv2d {
            padding_left: 2,
            ..conv
        }),
        out_of_range("output width")
    );
    assert_eq!(
        with(Conv2d {
            weights: &[1, 2, 3],
            ..conv
        }),
        LoadError::WrongLength {
            layer: 0,
            field: "weights",
            found: 3,
            expected: 8
        }
    );
    assert_eq!(
        with(Conv2d {
            output: Shape::image(2, 2, 0),
            ..conv
        }),
        out_of_range("output shape")
    );
}

#[test]
fn pooling_cannot_start_or_end_a_network_and_its_sums_must_fit_an_event() {
    let layers = golden_conv_layers();
    let pool_first = [layers[1], layers[2]];
    let input = GOLDEN_CONV_INPUT;
    let first = ModelBuilder {
        dt: 0.001,
        input: picospike_runtime::format::InputEncoding {
            shape: Shape::image(2, 2, 2),
            ..input
        },
        layers: &pool_first,
    }
    .to_vec();
    assert_eq!(
        first.unwrap_err(),
        EncodeError::Invalid(LoadError::ParameterOutOfRange {
            layer: Some(0),
            parameter: "kind"
        })
    );
    assert_eq!(
        conv_error(&layers[..2]),
        LoadError::ParameterOutOfRange {
            layer: Some(1),
            parameter: "kind"
        }
    );
    // Spiking ReLU counts (up to 255) summed over 2x2 windows could exceed an event's 8 bits.
    let mut relu = layers;
    relu[0] = Layer::Conv2d(Conv2d {
        neuron: Neuron::SpikingRectifiedLinear { amplitude: 0.01 },
        ..first_conv()
    });
    assert_eq!(
        conv_error(&relu),
        LoadError::ParameterOutOfRange {
            layer: Some(1),
            parameter: "size"
        }
    );
    // LIF spikes (at most 1 per step): a 15x15 window sums to at most 225 and fits, 16x16 can
    // reach 256 and does not. A 16x16 LIF map, pooled, then read out.
    let pooled = |size: u8| {
        let lif_map = Layer::Conv2d(Conv2d {
            input: Shape::image(16, 16, 1),
            output: Shape::image(16, 16, 1),
            kernel_height: 1,
            kernel_width: 1,
            stride: 1,
            weights: &[1],
            scaling: Scaling {
                multipliers: &[0, 0x80],
                shifts: &[3],
                biases: &[0; 4],
            },
            ..first_conv()
        });
        let pool = Layer::SumPool(SumPool {
            input: Shape::image(16, 16, 1),
            size,
        });
        let readout = Layer::Dense(Dense {
            input: Shape::vector(1),
            outputs: 1,
            weights: &[1],
            scaling: Scaling {
                multipliers: &[0, 1],
                shifts: &[4],
                biases: &[0; 4],
            },
            ..match golden_layers()[1] {
                Layer::Dense(d) => d,
                _ => unreachable!(),
            }
        });
        ModelBuilder {
            dt: 0.001,
            input: picospike_runtime::format::InputEncoding {
                shape: Shape::image(16, 16, 1),
                ..GOLDEN_CONV_INPUT
            },
            layers: &[lif_map, pool, readout],
        }
        .to_vec()
        .map(|blob| load(&blob).map(|model| model.output_size()))
    };
    assert_eq!(pooled(15), Ok(Ok(1)));
    assert_eq!(
        pooled(16),
        Err(EncodeError::Invalid(LoadError::ParameterOutOfRange {
            layer: Some(1),
            parameter: "size"
        }))
    );
}

#[test]
fn accumulator_overflow() {
    // 65535 inputs of spiking ReLU counts (255) into a second layer: 65535 * 255 * 128 fits,
    // one more input channel of a 2-pixel image does not.
    let mut layers = golden_layers();
    let wide = Shape::image(2, 256, 256);
    let weights = vec![0u8; wide.len() * 2];
    layers[0] = Layer::Dense(Dense {
        input: wide,
        weights: &weights,
        ..first_dense()
    });
    let input = picospike_runtime::format::InputEncoding {
        shape: wide,
        ..GOLDEN_INPUT
    };
    let error = ModelBuilder {
        dt: 0.001,
        input,
        layers: &layers,
    }
    .to_vec()
    .unwrap_err();
    assert_eq!(
        error,
        EncodeError::Invalid(LoadError::AccumulatorOverflow {
            layer: 0,
            worst_case: 131_072 * 255 * 128
        })
    );
}

#[test]
fn load_into_replaces_or_empties_the_place() {
    let blob = golden();
    // The body's last byte ends a varint (the last layer's `activity`); with its continuation
    // bit set the decoder runs past the body after the layers went in. Resealed so that the
    // container checks pass.
    let mut damaged = blob.clone();
    let last = damaged.len() - 5;
    damaged[last] |= 0x80;
    reseal(&mut damaged);
    let mut place: Option<Model<'_>> = None;
    let outputs = Model::load_into(&mut place, &blob).map(Model::output_size);
    assert!(outputs.is_ok());
    assert_eq!(outputs, load(&blob).map(|model| model.output_size()));
    // A failed load must not leave the previous (or a half-decoded) model behind.
    let truncated = Model::load_into(&mut place, &blob[..blob.len() - 1]).map(|_| ());
    assert!(matches!(truncated, Err(LoadError::Truncated { .. })));
    assert!(place.is_none());
    assert!(Model::load_into(&mut place, &blob).is_ok());
    let decoded = Model::load_into(&mut place, &damaged).map(|_| ());
    assert_eq!(decoded, Err(LoadError::Malformed { part: "body" }));
    assert!(place.is_none());
}
