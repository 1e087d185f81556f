//! The model container: framing, header, checksum and postcard, read and written.
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

use crate::error::{EncodeError, LoadError};
use crate::layer::{Layer, SUPPORTED_KINDS};
use crate::shape::Shape;

/// The first four bytes of every model.
pub const MAGIC: [u8; 4] = *b"PSPK";

/// The format version this runtime reads and writes.
pub const FORMAT_VERSION: u16 = 2;

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
pub(crate) struct Header {
    /// Bit set of the layer kinds in the body.
    pub(crate) layer_kinds: u32,
    /// Number of layers.
    pub(crate) layer_count: u8,
    /// State words the model declares.
    pub(crate) state_words: u32,
    /// Bytes of the body.
    body_len: u32,
}

/// The body as the writer encodes it; [`decode_body`] reads the same fields in this order.
#[derive(Serialize)]
struct BodyRef<'b, 'a> {
    dt: f32,
    input: InputEncoding,
    #[serde(borrow)]
    layers: &'b [Layer<'a>],
}

/// Check a blob's container (magic, version, header, kind set, layer count against
/// `capacity`, length, checksum) and return its header and body bytes.
///
/// Not generic and never inlined, so that its frame is gone before the body is decoded.
#[inline(never)]
pub(crate) fn open(blob: &[u8], capacity: usize) -> Result<(Header, &[u8]), LoadError> {
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

/// Decode a body's fields (still unvalidated) into `dt`, `input` and `layers`; the layers are
/// decoded one at a time straight into `layers`, so that no frame holds a second copy of the
/// layer list. Any byte sequence that is not exactly one body is [`LoadError::Malformed`].
#[inline(never)]
pub(crate) fn decode_body<'a, const L: usize>(
    body: &'a [u8],
    dt: &mut f32,
    input: &mut InputEncoding,
    layers: &mut heapless::Vec<Layer<'a>, L>,
) -> Result<(), LoadError> {
    let malformed = |_| LoadError::Malformed { part: "body" };
    let mut deserializer = postcard::Deserializer::from_bytes(body);
    // The fields of the body struct in their order, as the derived decoder read them.
    *dt = f32::deserialize(&mut deserializer).map_err(malformed)?;
    *input = InputEncoding::deserialize(&mut deserializer).map_err(malformed)?;
    LayerList(layers)
        .deserialize(&mut deserializer)
        .map_err(malformed)?;
    match deserializer.finalize() {
        Ok([]) => Ok(()),
        _ => Err(LoadError::Malformed { part: "body" }),
    }
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

/// Write a model's container into `out`: magic, version, header, body and checksum; returns
/// the written prefix. It does not check the model: [`crate::ModelBuilder`] loads what it wrote
/// back before it returns it.
pub(crate) fn encode<'o>(
    dt: f32,
    input: InputEncoding,
    layers: &[Layer<'_>],
    state_words: usize,
    out: &'o mut [u8],
) -> Result<&'o mut [u8], EncodeError> {
    let body_start = PREAMBLE_LEN + MAX_HEADER_LEN;
    let body = BodyRef { dt, input, layers };
    let body_len = {
        let space = out
            .get_mut(body_start..)
            .ok_or(EncodeError::BufferTooSmall)?;
        postcard::to_slice(&body, space)
            .map_err(|_| EncodeError::BufferTooSmall)?
            .len()
    };
    let layer_count = u8::try_from(layers.len()).map_err(|_| {
        EncodeError::Invalid(LoadError::TooManyLayers {
            found: layers.len(),
            capacity: usize::from(u8::MAX),
        })
    })?;
    let header = Header {
        layer_kinds: layers.iter().fold(0, |k, l| k | l.kind().bit()),
        layer_count,
        state_words: u32::try_from(state_words).unwrap_or(u32::MAX),
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
    Ok(&mut out[..total])
}

/// A buffer size that holds the encoding of `layers` (for writers that allocate).
#[cfg(feature = "std")]
pub(crate) fn encoded_size_bound(layers: &[Layer<'_>]) -> usize {
    let params: usize = layers.iter().map(Layer::parameter_bytes).sum();
    PREAMBLE_LEN + MAX_HEADER_LEN + params + 64 * layers.len() + 64
}

/// The layers of a one-layer readout model, 2 inputs -> 2 outputs with identity weights and a
/// current of one Q16.16 ulp per unit of input: the examples in this crate's documentation.
#[doc(hidden)]
pub fn doc_identity_layers() -> [Layer<'static>; 1] {
    use crate::layer::{Dense, Scaling};
    use crate::neuron::Neuron;
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
