//! The model container: framing, header, checksum, and the writer that produces it.
//!
//! ```text
//! offset  size  field
//! 0       4     magic "PSPK"
//! 4       2     format version, u16 little-endian (currently 2)
//! 6       var   header (postcard): layer kind set u32, layer count u8, state words u32, body length u32
//! ...     var   body (postcard): dt f32, input encoding (shape, full scale, steps, density), layers
//! end-4   4     CRC-32 (ISO-HDLC, as zlib) of every byte before it, u32 little-endian
//! ```
//!
//! `runtime/FORMAT.md` specifies every field; the golden-byte tests pin it. The loader checks,
//! in this order, magic, version, header, known layer kinds and capacity, length, checksum, and
//! only then decodes the body and validates every layer and how the layers connect (shapes,
//! worst-case sums), so an older runtime rejects a newer model by its kind set before it
//! touches any state. Version 1 blobs (Dense only, flat sizes) are rejected with
//! [`LoadError::UnsupportedVersion`]: re-export them with the current host tools.

use serde::de::{DeserializeSeed, Deserializer, Error as _, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::drive;
use crate::error::{EncodeError, LoadError};
use crate::layer::{Layer, Shape, SUPPORTED_KINDS};
use crate::neuron::{Dynamics, Neuron};

/// The first four bytes of every model.
pub const MAGIC: [u8; 4] = *b"PSPK";

/// The format version this runtime reads and writes.
pub const FORMAT_VERSION: u16 = 2;

/// Default layer capacity of [`Model`] and [`crate::Network`].
pub const DEFAULT_MAX_LAYERS: usize = 8;

const CRC32: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

/// Bytes before the postcard header: magic and version.
const PREAMBLE_LEN: usize = 6;

/// Bytes of the trailing checksum.
const CRC_LEN: usize = 4;

/// Longest encoding of the header (varints: 5 + 1 + 5 + 5 bytes).
const MAX_HEADER_LEN: usize = 16;

/// How the device's raw input bytes map to the trained network's input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct InputEncoding {
    /// Shape of one sample (bytes in HWC order); a vector is `1 x 1 x n`.
    pub shape: Shape,
    /// The raw value that means 1.0 to the trained network (16 for the 8x8 digits, 255 for MNIST).
    pub full_scale: u16,
    /// The number of time steps the model was converted and checked for.
    pub timesteps: u16,
    /// Mean fraction of non-zero input bytes recorded at export, times 65535 (0 if unknown);
    /// the static drive's cost is proportional to it.
    pub density: u16,
}

impl InputEncoding {
    /// A flat input of `size` bytes, with unknown density.
    pub const fn vector(size: u16, full_scale: u16, timesteps: u16) -> Self {
        InputEncoding {
            shape: Shape::vector(size),
            full_scale,
            timesteps,
            density: 0,
        }
    }

    /// Number of input bytes per sample.
    pub const fn size(&self) -> usize {
        self.shape.len()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Header {
    layer_kinds: u32,
    layer_count: u8,
    state_words: u32,
    body_len: u32,
}

/// The body as the writer encodes it; `Model::decode_body` reads the same fields in this order.
#[derive(Serialize)]
struct BodyRef<'b, 'a> {
    dt: f32,
    input: InputEncoding,
    #[serde(borrow)]
    layers: &'b [Layer<'a>],
}

/// Load-time constants of one layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LayerConstants {
    /// The neurons' constants, `None` for a linear layer.
    pub(crate) dynamics: Option<Dynamics>,
    /// Q16.16 `1 - exp(-dt/tau)` of the input synapse, `None` when unfiltered.
    pub(crate) synapse_gain: Option<i32>,
    /// [`drive::reciprocal`] of a convolution's stride or a pool's size.
    pub(crate) divisor_reciprocal: u32,
}

/// A validated model whose weights borrow the blob it was loaded from.
///
/// `MAX_LAYERS` is the capacity for layers, fixed at compile time.
#[derive(Clone, Debug)]
pub struct Model<'a, const MAX_LAYERS: usize = DEFAULT_MAX_LAYERS> {
    dt: f32,
    input: InputEncoding,
    state_words: usize,
    layers: heapless::Vec<Layer<'a>, MAX_LAYERS>,
    constants: heapless::Vec<LayerConstants, MAX_LAYERS>,
}

impl<'a, const MAX_LAYERS: usize> Model<'a, MAX_LAYERS> {
    /// Check a model blob completely and borrow its weights.
    ///
    /// # Errors
    /// A [`LoadError`] naming the first problem found; any byte sequence either loads or returns
    /// an error, none panics.
    ///
    /// ```
    /// # use picospike_runtime::format::InputEncoding;
    /// # use picospike_runtime::{Model, ModelBuilder};
    /// # let layers = picospike_runtime::format::doc_identity_layers();
    /// # let input = InputEncoding::vector(2, 255, 10);
    /// # let mut flash = [0u8; 128];
    /// # let blob = ModelBuilder { dt: 0.001, input, layers: &layers }.to_slice(&mut flash)?;
    /// // `blob`: a one-layer readout model, 2 inputs -> 2 outputs (identity weights).
    /// use picospike_runtime::LoadError;
    /// let model: Model = Model::from_bytes(blob)?;
    /// assert_eq!((model.input_size(), model.output_size()), (2, 2));
    ///
    /// let mut damaged = blob.to_vec();
    /// let middle = damaged.len() / 2;
    /// damaged[middle] ^= 0x01; // one flipped bit, caught by the CRC
    /// let error: Result<Model, _> = Model::from_bytes(&damaged);
    /// assert!(matches!(error, Err(LoadError::ChecksumMismatch { .. })));
    /// let error: Result<Model, _> = Model::from_bytes(b"GIF89a");
    /// assert!(matches!(error, Err(LoadError::BadMagic { found: [b'G', b'I', b'F', b'8'] })));
    /// # Ok::<(), Box<dyn core::error::Error>>(())
    /// ```
    pub fn from_bytes(blob: &'a [u8]) -> Result<Self, LoadError> {
        let (header, body) = open(blob, MAX_LAYERS)?;
        let mut model = Self::empty();
        model.fill(header, body)?;
        Ok(model)
    }

    /// Check a model blob completely, like [`Model::from_bytes`], building the model in
    /// `place` rather than returning it; `place` holds it after success and is `None` after an
    /// error.
    ///
    /// For a model that lives in a `static` on a small microcontroller: `from_bytes` returns
    /// the model by value, which costs about its size again in stack (`size_of::<Model>()`,
    /// about 150 bytes per layer of capacity on a 32-bit target), while here no frame holds a
    /// copy.
    ///
    /// # Errors
    /// The [`LoadError`] that [`Model::from_bytes`] returns for the same blob.
    ///
    /// ```
    /// # use picospike_runtime::format::InputEncoding;
    /// # use picospike_runtime::{Model, ModelBuilder};
    /// # let layers = picospike_runtime::format::doc_identity_layers();
    /// # let input = InputEncoding::vector(2, 255, 10);
    /// # let mut flash = [0u8; 128];
    /// # let blob = ModelBuilder { dt: 0.001, input, layers: &layers }.to_slice(&mut flash)?;
    /// // `blob`: a one-layer readout model, 2 inputs -> 2 outputs (identity weights).
    /// let mut place: Option<Model> = None; // on a board: a `static` (e.g. a `StaticCell`)
    /// let model = Model::load_into(&mut place, blob)?;
    /// assert_eq!(model.output_size(), 2);
    ///
    /// assert!(Model::load_into(&mut place, &blob[1..]).is_err());
    /// assert!(place.is_none());
    /// # Ok::<(), Box<dyn core::error::Error>>(())
    /// ```
    pub fn load_into<'p>(
        place: &'p mut Option<Self>,
        blob: &'a [u8],
    ) -> Result<&'p Self, LoadError> {
        *place = None;
        let (header, body) = open(blob, MAX_LAYERS)?;
        if let Err(e) = place.insert(Self::empty()).fill(header, body) {
            *place = None;
            return Err(e);
        }
        // Always `Some` here (just filled); the error only keeps this path free of panics.
        place.as_ref().ok_or(LoadError::Malformed { part: "body" })
    }

    /// A model with no layers, to be filled by [`Model::fill`]; never handed out unfilled.
    const fn empty() -> Self {
        Model {
            dt: 0.0,
            input: InputEncoding::vector(0, 0, 0),
            state_words: 0,
            layers: heapless::Vec::new(),
            constants: heapless::Vec::new(),
        }
    }

    /// Decode and validate the body of a blob whose container [`open`] accepted. The layers
    /// are decoded one at a time straight into `self.layers` and validated by reference, so
    /// that no frame holds a second copy of the layer list.
    fn fill(&mut self, header: Header, body: &'a [u8]) -> Result<(), LoadError> {
        self.decode_body(body)?;
        self.validate(header)
    }

    /// Decode the body's fields into `self` (still unvalidated); any byte sequence that is not
    /// exactly one body is [`LoadError::Malformed`].
    #[inline(never)]
    fn decode_body(&mut self, body: &'a [u8]) -> Result<(), LoadError> {
        let malformed = |_| LoadError::Malformed { part: "body" };
        let mut deserializer = postcard::Deserializer::from_bytes(body);
        // The fields of the body struct in their order, as the derived decoder read them.
        self.dt = f32::deserialize(&mut deserializer).map_err(malformed)?;
        self.input = InputEncoding::deserialize(&mut deserializer).map_err(malformed)?;
        LayerList(&mut self.layers)
            .deserialize(&mut deserializer)
            .map_err(malformed)?;
        match deserializer.finalize() {
            Ok([]) => Ok(()),
            _ => Err(LoadError::Malformed { part: "body" }),
        }
    }

    /// Check the decoded body against the header and layer by layer, and compute each layer's
    /// load-time constants.
    #[inline(never)]
    fn validate(&mut self, header: Header) -> Result<(), LoadError> {
        let model_parameter = |parameter| LoadError::ParameterOutOfRange {
            layer: None,
            parameter,
        };
        if self.layers.len() != usize::from(header.layer_count) {
            return Err(LoadError::Malformed { part: "body" });
        }
        let dt = self.dt;
        if !(dt.is_finite() && dt > 0.0 && dt <= 1.0) {
            return Err(model_parameter("dt"));
        }
        if self.input.full_scale == 0 {
            return Err(model_parameter("full_scale"));
        }
        let last = self
            .layers
            .len()
            .checked_sub(1)
            .ok_or(model_parameter("layer_count"))?;
        let mut kinds = 0u32;
        let mut fed = self.input.shape;
        // Largest value one input of the next layer carries in a step: raw bytes first.
        let mut fed_max = u32::from(u8::MAX);
        let mut state_words = 0usize;
        for (index, layer) in self.layers.iter().enumerate() {
            let layer_index = index as u8;
            if layer.input_shape() != fed {
                return Err(LoadError::ShapeMismatch {
                    layer: layer_index,
                    found: layer.input_shape(),
                    expected: fed,
                });
            }
            let position = (index == 0, index == last);
            fed_max = check_layer(
                layer,
                layer_index,
                position,
                fed_max,
                dt,
                &mut self.constants,
            )?;
            kinds |= layer.kind().bit();
            state_words = state_words.saturating_add(layer.state_words());
            fed = layer.output_shape();
        }
        if kinds != header.layer_kinds {
            return Err(LoadError::Malformed { part: "header" });
        }
        if state_words != header.state_words as usize {
            return Err(model_parameter("state_words"));
        }
        self.state_words = state_words;
        Ok(())
    }

    /// Time step in seconds.
    pub fn dt(&self) -> f32 {
        self.dt
    }

    /// The input encoding recorded by the exporter.
    pub fn input(&self) -> InputEncoding {
        self.input
    }

    /// Number of input bytes per sample.
    pub fn input_size(&self) -> usize {
        self.input.size()
    }

    /// Number of output values (classes).
    pub fn output_size(&self) -> usize {
        self.layers.last().map_or(0, Layer::outputs)
    }

    /// Number of time steps the model was converted for.
    pub fn default_timesteps(&self) -> u16 {
        self.input.timesteps
    }

    /// Exact size of the state buffer [`crate::Network::new`] needs, in `i32` words.
    pub fn state_words(&self) -> usize {
        self.state_words
    }

    /// The layers, first to last.
    pub fn layers(&self) -> &[Layer<'a>] {
        &self.layers
    }

    pub(crate) fn constants(&self) -> &[LayerConstants] {
        &self.constants
    }
}

/// Check a blob's container (magic, version, header, kind set, layer count against
/// `capacity`, length, checksum) and return its header and body bytes.
///
/// Not generic and never inlined, so that its frame is gone before the body is decoded.
#[inline(never)]
fn open(blob: &[u8], capacity: usize) -> Result<(Header, &[u8]), LoadError> {
    if blob.len() < PREAMBLE_LEN {
        let mut found = [0u8; 4];
        for (dst, src) in found.iter_mut().zip(blob) {
            *dst = *src;
        }
        let present = blob.len().min(MAGIC.len());
        if found[..present] != MAGIC[..present] {
            return Err(LoadError::BadMagic { found });
        }
        return Err(LoadError::Truncated {
            needed: PREAMBLE_LEN,
            available: blob.len(),
        });
    }
    let (preamble, rest) = blob.split_at(PREAMBLE_LEN);
    let magic = [preamble[0], preamble[1], preamble[2], preamble[3]];
    if magic != MAGIC {
        return Err(LoadError::BadMagic { found: magic });
    }
    let version = u16::from_le_bytes([preamble[4], preamble[5]]);
    if version != FORMAT_VERSION {
        return Err(LoadError::UnsupportedVersion {
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    let (header, body_and_crc) =
        postcard::take_from_bytes::<Header>(rest).map_err(|e| match e {
            postcard::Error::DeserializeUnexpectedEnd => LoadError::Truncated {
                needed: blob.len() + 1,
                available: blob.len(),
            },
            _ => LoadError::Malformed { part: "header" },
        })?;
    let unknown = header.layer_kinds & !SUPPORTED_KINDS;
    if unknown != 0 {
        return Err(LoadError::UnknownLayerKind {
            kind: unknown.trailing_zeros() as u8,
        });
    }
    let layer_count = usize::from(header.layer_count);
    if layer_count > capacity {
        return Err(LoadError::TooManyLayers {
            found: layer_count,
            capacity,
        });
    }
    let header_end = blob.len() - body_and_crc.len();
    let body_len = header.body_len as usize;
    let needed = header_end.saturating_add(body_len).saturating_add(CRC_LEN);
    if blob.len() < needed {
        return Err(LoadError::Truncated {
            needed,
            available: blob.len(),
        });
    }
    if blob.len() > needed {
        return Err(LoadError::TrailingBytes {
            extra: blob.len() - needed,
        });
    }
    // `blob.len() == needed` now. Checked slicing all the same: this function is not inlined
    // into a caller whose blob is a constant, so the optimizer cannot see that, and a slice
    // that could panic would keep a panic path in the firmware.
    let body_end = needed.saturating_sub(CRC_LEN);
    let (Some(payload), Some(body), Some(&[a, b, c, d])) = (
        blob.get(..body_end),
        blob.get(header_end..body_end),
        blob.get(body_end..),
    ) else {
        return Err(LoadError::Truncated {
            needed,
            available: blob.len(),
        });
    };
    let stored = u32::from_le_bytes([a, b, c, d]);
    let computed = CRC32.checksum(payload);
    if stored != computed {
        return Err(LoadError::ChecksumMismatch { stored, computed });
    }
    Ok((header, body))
}

/// Check one layer whose input shape is already known to fit: its own parameters, its place
/// (`(first, last)`: only the last reads out), its worst-case sums for an input of at most
/// `fed_max` per value; push its load-time constants onto `constants` and return the largest
/// value it passes on.
///
/// Never inlined: the neuron constants' computation has a frame of its own that is gone
/// before the next layer is checked.
#[inline(never)]
fn check_layer<const L: usize>(
    layer: &Layer<'_>,
    layer_index: u8,
    (first, last): (bool, bool),
    fed_max: u32,
    dt: f32,
    constants: &mut heapless::Vec<LayerConstants, L>,
) -> Result<u32, LoadError> {
    let parameter = |parameter| LoadError::ParameterOutOfRange {
        layer: Some(layer_index),
        parameter,
    };
    layer.validate(layer_index)?;
    // Only the last layer reads out, and it must: the class is taken from it. A linear
    // layer neither starts (its input would be raw bytes) nor ends the network.
    match layer.neuron() {
        Some(neuron) => {
            if last != (neuron == Neuron::Readout) {
                return Err(parameter("neuron"));
            }
        }
        None => {
            if first || last {
                return Err(parameter("kind"));
            }
        }
    }
    // Every weighted sum must fit an i32 (the kernels add without checks), and a
    // pooled sum must fit an event's count.
    let worst_case = (layer.fan_in() as u64) * u64::from(fed_max) * 128;
    if layer.neuron().is_some() && worst_case > i32::MAX as u64 {
        return Err(LoadError::AccumulatorOverflow {
            layer: layer_index,
            worst_case,
        });
    }
    let produced_max = layer.output_max(fed_max);
    if layer.neuron().is_none() && produced_max > drive::MAX_COUNT {
        return Err(parameter("size"));
    }
    let dynamics = match layer.neuron() {
        Some(neuron) => Some(neuron.dynamics(dt).map_err(|bad| parameter(bad.name()))?),
        None => None,
    };
    let synapse_gain = layer
        .synapse()
        .fixed_gain(dt)
        .map_err(|()| parameter("synapse"))?
        .map(|gain| gain.to_bits());
    let divisor = match layer {
        Layer::Conv2d(conv) => conv.stride,
        Layer::SumPool(pool) => pool.size,
        _ => 1,
    };
    let layer_constants = LayerConstants {
        dynamics,
        synapse_gain,
        divisor_reciprocal: drive::reciprocal(divisor),
    };
    // Never full: one entry per layer, and the layers have the same capacity.
    if constants.push(layer_constants).is_err() {
        return Err(LoadError::TooManyLayers {
            found: usize::from(layer_index) + 1,
            capacity: L,
        });
    }
    Ok(produced_max)
}

/// Decodes the body's layer list (a postcard sequence: length, then each layer) straight into
/// the model's vector, one layer at a time; the same bytes a `heapless::Vec<Layer>` field
/// reads, with no second vector on the stack.
struct LayerList<'m, 'a, const L: usize>(&'m mut heapless::Vec<Layer<'a>, L>);

impl<'de: 'a, 'a, const L: usize> DeserializeSeed<'de> for LayerList<'_, 'a, L> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de: 'a, 'a, const L: usize> Visitor<'de> for LayerList<'_, 'a, L> {
    type Value = ();

    fn expecting(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        formatter.write_str("a sequence of layers")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while push_layer(&mut seq, self.0)? {}
        Ok(())
    }
}

/// Decode the sequence's next layer, if any, onto `layers`; `Ok(false)` at its end.
///
/// Never inlined: the derived decoders keep several layer-sized temporaries, in a frame that
/// is gone before the next layer (and that the layer list's caller does not share).
#[inline(never)]
fn push_layer<'de: 'a, 'a, A: SeqAccess<'de>, const L: usize>(
    seq: &mut A,
    layers: &mut heapless::Vec<Layer<'a>, L>,
) -> Result<bool, A::Error> {
    match seq.next_element::<Layer<'a>>()? {
        Some(layer) => match layers.push(layer) {
            Ok(()) => Ok(true),
            Err(_) => Err(A::Error::invalid_length(
                L + 1,
                &"at most the capacity in layers",
            )),
        },
        None => Ok(false),
    }
}

/// Most layers [`ModelBuilder`] writes: it validates what it wrote with a `Model` of this
/// capacity, which costs about 110 bytes of stack per layer.
pub const WRITER_MAX_LAYERS: usize = 32;

/// Writes a model in the container format; the host tools and the tests share it.
#[derive(Clone, Copy, Debug)]
pub struct ModelBuilder<'b, 'a> {
    /// Time step in seconds.
    pub dt: f32,
    /// How raw input bytes map to the network's input.
    pub input: InputEncoding,
    /// The layers, first to last.
    pub layers: &'b [Layer<'a>],
}

impl ModelBuilder<'_, '_> {
    /// State words the encoded model will declare.
    pub fn state_words(&self) -> usize {
        self.layers.iter().map(Layer::state_words).sum()
    }

    /// Encode the model into `out`, returning the written prefix.
    ///
    /// The result is loaded back with [`Model::from_bytes`] before it is returned, so a model
    /// this function writes is one the runtime accepts (with at most [`WRITER_MAX_LAYERS`]
    /// layers).
    ///
    /// # Errors
    /// [`EncodeError::BufferTooSmall`] if `out` is too short, [`EncodeError::Invalid`] with the
    /// loader's reason if the model is not valid.
    pub fn to_slice<'o>(&self, out: &'o mut [u8]) -> Result<&'o mut [u8], EncodeError> {
        let body_start = PREAMBLE_LEN + MAX_HEADER_LEN;
        let body = BodyRef {
            dt: self.dt,
            input: self.input,
            layers: self.layers,
        };
        let body_len = {
            let space = out
                .get_mut(body_start..)
                .ok_or(EncodeError::BufferTooSmall)?;
            postcard::to_slice(&body, space)
                .map_err(|_| EncodeError::BufferTooSmall)?
                .len()
        };
        let layer_count = u8::try_from(self.layers.len()).map_err(|_| {
            EncodeError::Invalid(LoadError::TooManyLayers {
                found: self.layers.len(),
                capacity: usize::from(u8::MAX),
            })
        })?;
        let header = Header {
            layer_kinds: self.layers.iter().fold(0, |k, l| k | l.kind().bit()),
            layer_count,
            state_words: u32::try_from(self.state_words()).unwrap_or(u32::MAX),
            body_len: u32::try_from(body_len).map_err(|_| EncodeError::BufferTooSmall)?,
        };
        let mut header_bytes = [0u8; MAX_HEADER_LEN];
        let header_len = postcard::to_slice(&header, &mut header_bytes)
            .map_err(|_| EncodeError::BufferTooSmall)?
            .len();
        let header_end = PREAMBLE_LEN + header_len;
        let total = header_end + body_len + CRC_LEN;
        if out.len() < total.max(body_start + body_len) {
            return Err(EncodeError::BufferTooSmall);
        }
        out.copy_within(body_start..body_start + body_len, header_end);
        out[..4].copy_from_slice(&MAGIC);
        out[4..PREAMBLE_LEN].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        out[PREAMBLE_LEN..header_end].copy_from_slice(&header_bytes[..header_len]);
        let crc = CRC32.checksum(&out[..header_end + body_len]);
        out[header_end + body_len..total].copy_from_slice(&crc.to_le_bytes());
        let blob = &mut out[..total];
        Model::<'_, WRITER_MAX_LAYERS>::from_bytes(blob).map_err(EncodeError::Invalid)?;
        Ok(blob)
    }

    /// Encode the model into a new vector (host only).
    ///
    /// # Errors
    /// [`EncodeError::Invalid`] if the loader would reject the model.
    #[cfg(feature = "std")]
    pub fn to_vec(&self) -> Result<std::vec::Vec<u8>, EncodeError> {
        let params: usize = self.layers.iter().map(Layer::parameter_bytes).sum();
        let mut out =
            std::vec![0u8; PREAMBLE_LEN + MAX_HEADER_LEN + params + 64 * self.layers.len() + 64];
        let len = self.to_slice(&mut out)?.len();
        out.truncate(len);
        Ok(out)
    }
}

/// The layers of a one-layer readout model, 2 inputs -> 2 outputs with identity weights and a
/// current of one Q16.16 ulp per unit of input: the examples in this crate's documentation.
#[doc(hidden)]
pub fn doc_identity_layers() -> [Layer<'static>; 1] {
    use crate::layer::{Dense, Scaling};
    use crate::synapse::Synapse;
    [Layer::Dense(Dense {
        input: Shape::vector(2),
        outputs: 2,
        neuron: Neuron::Readout,
        synapse: Synapse::None,
        weights: &[1, 0, 0, 1],
        scaling: Scaling {
            multipliers: &[1, 0, 1, 0],
            shifts: &[0, 0],
            biases: &[0; 8],
        },
        activity: 0,
    })]
}
