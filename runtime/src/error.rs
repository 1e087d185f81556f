//! Typed errors for loading a model, running it and encoding it.

use core::fmt;

use crate::shape::Shape;

/// Why a model blob or a state buffer was rejected by [`Model::from_bytes`](crate::Model::from_bytes)
/// or [`Network::new`](crate::Network::new).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum LoadError {
    /// The blob does not start with the picospike magic bytes.
    BadMagic {
        /// The first four bytes found.
        found: [u8; 4],
    },
    /// The blob was written in a format version this runtime does not read.
    UnsupportedVersion {
        /// Version in the blob.
        found: u16,
        /// The version this runtime reads.
        supported: u16,
    },
    /// The model uses a layer kind this runtime does not implement.
    UnknownLayerKind {
        /// The kind's number (bit position in the header's kind set).
        kind: u8,
    },
    /// The CRC-32 stored after the payload does not match the payload.
    ChecksumMismatch {
        /// CRC-32 stored in the blob.
        stored: u32,
        /// CRC-32 computed over the blob.
        computed: u32,
    },
    /// The blob ends before the header says it should.
    Truncated {
        /// Bytes the blob must have at least.
        needed: usize,
        /// Bytes it has.
        available: usize,
    },
    /// The blob has bytes after the checksum.
    TrailingBytes {
        /// Number of extra bytes.
        extra: usize,
    },
    /// A field could not be decoded (bad varint, unknown enum tag, lengths that disagree).
    Malformed {
        /// Which part of the blob: `"header"` or `"body"`.
        part: &'static str,
    },
    /// A layer's input shape does not match the shape of what feeds it.
    ShapeMismatch {
        /// Index of the layer.
        layer: u8,
        /// Input shape the layer declares.
        found: Shape,
        /// Output shape of the previous layer (or the model's input shape for layer 0).
        expected: Shape,
    },
    /// A layer's weighted sum could leave the `i32` range for some input.
    AccumulatorOverflow {
        /// Index of the layer.
        layer: u8,
        /// Fan-in times the largest input value times 128, the worst-case magnitude.
        worst_case: u64,
    },
    /// A byte slice of a layer has the wrong length.
    WrongLength {
        /// Index of the layer.
        layer: u8,
        /// Which slice: `"weights"`, `"multipliers"`, `"shifts"` or `"biases"`.
        field: &'static str,
        /// Bytes found.
        found: usize,
        /// Bytes expected from the layer's shape.
        expected: usize,
    },
    /// A parameter is outside the range the runtime supports.
    ParameterOutOfRange {
        /// Index of the layer, or `None` for a model-wide parameter.
        layer: Option<u8>,
        /// The parameter's name.
        parameter: &'static str,
    },
    /// The state buffer is smaller than the model needs.
    StateTooSmall {
        /// Words (`i32`) the model needs.
        needed: usize,
        /// Words given.
        given: usize,
    },
    /// The model has more layers than this build's capacity.
    TooManyLayers {
        /// Layers in the model.
        found: usize,
        /// Layers this `Model`/`Network` type can hold.
        capacity: usize,
    },
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            LoadError::BadMagic { found } => write!(
                f,
                "not a picospike model: starts with {found:02x?}, expected the magic bytes \"PSPK\""
            ),
            LoadError::UnsupportedVersion { found, supported } => write!(
                f,
                "model format version {found} is not supported (this runtime reads version {supported})"
            ),
            LoadError::UnknownLayerKind { kind } => {
                write!(f, "model uses layer kind {kind}, which this runtime does not implement")
            }
            LoadError::ChecksumMismatch { stored, computed } => write!(
                f,
                "model is corrupt: stored CRC-32 {stored:#010x}, computed {computed:#010x}"
            ),
            LoadError::Truncated { needed, available } => write!(
                f,
                "model is truncated: needs at least {needed} bytes, has {available}"
            ),
            LoadError::TrailingBytes { extra } => {
                write!(f, "model has {extra} unexpected bytes after its checksum")
            }
            LoadError::Malformed { part } => write!(f, "model {part} could not be decoded"),
            LoadError::ShapeMismatch {
                layer,
                found,
                expected,
            } => write!(
                f,
                "layer {layer} takes a {found} input but is fed {expected} (height x width x channels)"
            ),
            LoadError::AccumulatorOverflow { layer, worst_case } => write!(
                f,
                "layer {layer}'s weighted sum can reach {worst_case}, beyond the i32 range: split \
                 the layer or lower its fan-in"
            ),
            LoadError::WrongLength {
                layer,
                field,
                found,
                expected,
            } => write!(
                f,
                "layer {layer} {field} are {found} bytes, expected {expected}"
            ),
            LoadError::ParameterOutOfRange {
                layer: Some(layer),
                parameter,
            } => write!(f, "layer {layer} parameter {parameter} is out of range"),
            LoadError::ParameterOutOfRange {
                layer: None,
                parameter,
            } => write!(f, "model parameter {parameter} is out of range"),
            LoadError::StateTooSmall { needed, given } => write!(
                f,
                "state buffer too small: the model needs {needed} words, {given} given"
            ),
            LoadError::TooManyLayers { found, capacity } => write!(
                f,
                "model has {found} layers, this build holds at most {capacity}"
            ),
        }
    }
}

impl core::error::Error for LoadError {}

/// Why [`Network::run`](crate::Network::run) refused an input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum RunError {
    /// The input has the wrong number of values.
    InputLength {
        /// Values given.
        found: usize,
        /// Values the model's first layer takes.
        expected: usize,
    },
    /// More steps than the layer-major order's state was sized for
    /// ([`LayeredNetwork::max_steps`](crate::LayeredNetwork::max_steps)).
    TooManySteps {
        /// Steps asked for.
        found: u16,
        /// Most steps the state holds.
        most: u16,
    },
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            RunError::InputLength { found, expected } => {
                write!(f, "input has {found} values, the model takes {expected}")
            }
            RunError::TooManySteps { found, most } => write!(
                f,
                "{found} steps asked for, the layer-major state holds at most {most}"
            ),
        }
    }
}

impl core::error::Error for RunError {}

/// Why [`ModelBuilder::to_slice`](crate::ModelBuilder::to_slice) could not write a model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum EncodeError {
    /// The output buffer is too small.
    BufferTooSmall,
    /// The model is one the loader would reject; the wrapped error says why.
    Invalid(LoadError),
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::BufferTooSmall => write!(f, "output buffer too small for the model"),
            EncodeError::Invalid(e) => write!(f, "invalid model: {e}"),
        }
    }
}

impl core::error::Error for EncodeError {}
