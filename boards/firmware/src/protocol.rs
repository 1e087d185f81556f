//! The UART protocol of the boards, version 2: COBS-framed postcard messages, each with a CRC-32.
//!
//! The host sends a [`Request`], the board answers each one with exactly one [`Response`] that
//! echoes the request's `id`. A frame on the wire is
//!
//! ```text
//! COBS( postcard(message) ++ CRC-32(postcard(message)) as u32 little-endian ) ++ 00
//! ```
//!
//! so a receiver can always resynchronise at the next zero, and a corrupted frame (a flipped,
//! lost, doubled or inserted byte, a cut) is rejected by the CRC (the zlib/PNG CRC-32, as in the
//! model container) instead of being decoded into a plausible message. The board answers such a
//! frame with [`Response::Rejected`], never with a class. The full wire format, with example
//! bytes pinned by the tests below and by `tools/test_pspk_uart.py`, is in `boards/PROTOCOL.md`.
//!
//! ```
//! use picospike_firmware::protocol::{decode, encode, Request};
//! let mut buf = [0u8; 32];
//! let frame = encode(&Request::Infer { id: 7, steps: 0, input: &[1, 2] }, &mut buf).unwrap();
//! // postcard 02 07 00 02 01 02, CRC-32 bb 58 bb ba, COBS-encoded, then the terminating zero.
//! assert_eq!(frame, &[0x03, 0x02, 0x07, 0x08, 0x02, 0x01, 0x02, 0xbb, 0x58, 0xbb, 0xba, 0x00]);
//! let mut frame = frame.to_vec();
//! let request: Request<'_> = decode(&mut frame).unwrap();
//! assert_eq!(request, Request::Infer { id: 7, steps: 0, input: &[1, 2] });
//! ```

use core::fmt::Write as _;

use embedded_io::{Read, Write};
use heapless::{String, Vec};
use serde::{Deserialize, Serialize};

use crate::{Classifier, TickCounter};

/// Version answered to [`Request::Ping`]; bumped on any incompatible change of the framing or
/// the messages (2: CRC per frame, ids on every request, [`Response::Rejected`], model identity
/// and link counters in [`ModelInfo`]).
pub const PROTOCOL_VERSION: u8 = 2;
/// Most output values a [`Reply`] carries.
pub const MAX_OUTPUTS: usize = 32;
/// Most layers whose spike counts a [`Reply`] carries.
pub const MAX_LAYERS: usize = 8;
/// Longest error message carried by [`ProtocolError::InferenceFailed`], in bytes.
pub const MAX_MESSAGE: usize = 48;
/// Bytes of the CRC at the end of every frame's payload.
pub const CRC_LEN: usize = 4;
/// Longest postcard encoding of a [`Response`] (checked by a test).
pub const MAX_RESPONSE_PAYLOAD: usize = 256;
/// Longest response frame on the wire (payload, CRC, COBS overhead, terminator); every
/// [`Response`] fits.
pub const MAX_RESPONSE_FRAME: usize = cobs::max_encoding_length(MAX_RESPONSE_PAYLOAD + CRC_LEN) + 1;
/// Size of the buffer [`encode`] needs for any [`Response`]: it serializes into one half and
/// frames into the other.
pub const RESPONSE_BUFFER: usize = 2 * MAX_RESPONSE_FRAME;

/// The CRC of the frames: CRC-32/ISO-HDLC, the model container's (and zlib's, PNG's).
const CRC32: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

/// CRC-32/ISO-HDLC of `bytes`, as frames and model containers carry it.
pub fn crc32(bytes: &[u8]) -> u32 {
    CRC32.checksum(bytes)
}

/// The identity of a model container: its stored CRC-32 (the blob's last four bytes,
/// little-endian), which [`ModelInfo::model_crc`] reports; `0` for a blob too short to have one.
pub fn model_id(blob: &[u8]) -> u32 {
    match blob
        .len()
        .checked_sub(CRC_LEN)
        .and_then(|at| blob.get(at..))
    {
        Some(&[a, b, c, d]) => u32::from_le_bytes([a, b, c, d]),
        _ => 0,
    }
}

/// A message from the host to the board. Every request carries an `id` that the response
/// echoes, so that the host can tell the answer to this request from a late one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Request<'a> {
    /// Is anyone there? Answered with [`Response::Pong`]; hosts resynchronise with it.
    Ping {
        /// Chosen by the host, echoed in the reply.
        id: u32,
    },
    /// Describe the model and the link. Answered with [`Response::Info`].
    Info {
        /// Chosen by the host, echoed in the reply.
        id: u32,
    },
    /// Classify one sample. Answered with [`Response::Inferred`] or [`Response::Error`].
    Infer {
        /// Chosen by the host, echoed in the reply.
        id: u32,
        /// Timesteps to run; `0` means the model's default.
        steps: u16,
        /// The sample, exactly `ModelInfo::input_size` bytes.
        input: &'a [u8],
    },
}

impl Request<'_> {
    /// The request's `id`.
    pub fn id(&self) -> u32 {
        match *self {
            Request::Ping { id } | Request::Info { id } | Request::Infer { id, .. } => id,
        }
    }
}

/// A message from the board to the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Response {
    /// Answer to [`Request::Ping`].
    Pong {
        /// The request's `id`.
        id: u32,
        /// [`PROTOCOL_VERSION`] of the board.
        version: u8,
    },
    /// Answer to [`Request::Info`].
    Info {
        /// The request's `id`.
        id: u32,
        /// The model and the link.
        info: ModelInfo,
    },
    /// Answer to a successful [`Request::Infer`].
    Inferred(Reply),
    /// A valid request that could not be served.
    Error {
        /// The request's `id`.
        id: u32,
        /// Why.
        error: ProtocolError,
    },
    /// A frame that was not a valid request (corrupted, cut, too long): no id can be trusted,
    /// so none is echoed, and nothing was computed.
    Rejected(FrameError),
}

/// What the host needs to know to send samples, and whether the link has been healthy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ModelInfo {
    /// Bytes per sample.
    pub input_size: u32,
    /// Output neurons.
    pub output_size: u32,
    /// Timesteps used when a request asks for `0`.
    pub default_timesteps: u16,
    /// Longest request frame the board accepts, including the terminating zero.
    pub max_request_frame: u32,
    /// The model's identity: the CRC-32 stored at the end of its container ([`model_id`]),
    /// which a host compares with the model it believes is flashed.
    pub model_crc: u32,
    /// Counters since boot.
    pub link: LinkStats,
}

/// Counters of what the board received since boot (saturating).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct LinkStats {
    /// Valid request frames.
    pub frames: u32,
    /// Frames whose CRC did not match.
    pub crc_errors: u32,
    /// Frames that were not valid COBS, too short for a CRC, or not one valid request.
    pub bad_frames: u32,
    /// Frames longer than the receive buffer.
    pub overflows: u32,
    /// Errors reported by the UART (framing, parity, overrun, noise).
    pub uart_errors: u32,
}

/// The result of one inference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Reply {
    /// The request's `id`.
    pub id: u32,
    /// Predicted class.
    pub class: u16,
    /// Output layer values (Q16.16 bits).
    pub outputs: Vec<i32, MAX_OUTPUTS>,
    /// Spikes per layer over the run.
    pub spike_counts: Vec<u32, MAX_LAYERS>,
    /// Synaptic events over the run.
    pub synaptic_events: u32,
    /// Board ticks spent in the inference (the board's README says what a tick is).
    pub ticks: u64,
}

/// Why a valid request was not served.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum ProtocolError {
    /// The sample had the wrong number of bytes.
    WrongInputSize {
        /// Bytes received.
        found: u32,
        /// Bytes the model takes.
        expected: u32,
    },
    /// The model has more outputs or layers than a [`Reply`] can carry.
    ReplyTooLarge {
        /// Outputs of the model.
        outputs: u32,
        /// Layers of the model.
        layers: u32,
    },
    /// The runtime reported an error.
    InferenceFailed {
        /// The error's `Display`, truncated to [`MAX_MESSAGE`] bytes.
        message: String<MAX_MESSAGE>,
    },
}

/// Why a frame was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum FrameError {
    /// The CRC did not match the payload.
    BadCrc,
    /// Not valid COBS, shorter than a CRC, or not exactly one valid message.
    BadFrame,
    /// Longer than the receiver's buffer.
    TooLong {
        /// Longest accepted frame, including the terminating zero.
        max: u32,
    },
}

/// Why [`encode`] failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum EncodeError {
    /// `buf` cannot hold the frame.
    BufferTooSmall,
}

impl core::fmt::Display for EncodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("frame buffer too small")
    }
}

impl core::error::Error for EncodeError {}

impl core::fmt::Display for FrameError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            FrameError::BadCrc => f.write_str("frame CRC does not match"),
            FrameError::BadFrame => f.write_str("frame is not one valid message"),
            FrameError::TooLong { max } => write!(f, "frame longer than {max} bytes"),
        }
    }
}

impl core::error::Error for FrameError {}

/// Serialize `message` into `buf` as one complete frame (payload, CRC, COBS, terminating zero).
///
/// `buf` is also the scratch space: the message is serialized into its second half and framed
/// into its first, so each half must hold the frame ([`RESPONSE_BUFFER`] bytes do for any
/// [`Response`]).
///
/// # Errors
///
/// [`EncodeError::BufferTooSmall`] if `buf` is too small.
pub fn encode<'b, T: Serialize + ?Sized>(
    message: &T,
    buf: &'b mut [u8],
) -> Result<&'b mut [u8], EncodeError> {
    // COBS needs its source and destination apart: serialize into the back half, frame into
    // the front half.
    let half = buf.len() / 2;
    let (front, back) = buf.split_at_mut(half);
    let payload_len = postcard::to_slice(message, back)
        .map_err(|_| EncodeError::BufferTooSmall)?
        .len();
    let crc = crc32(back.get(..payload_len).ok_or(EncodeError::BufferTooSmall)?);
    back.get_mut(payload_len..payload_len + CRC_LEN)
        .ok_or(EncodeError::BufferTooSmall)?
        .copy_from_slice(&crc.to_le_bytes());
    let raw = back
        .get(..payload_len + CRC_LEN)
        .ok_or(EncodeError::BufferTooSmall)?;
    let n = cobs::try_encode(raw, front).map_err(|_| EncodeError::BufferTooSmall)?;
    *front.get_mut(n).ok_or(EncodeError::BufferTooSmall)? = 0;
    front.get_mut(..=n).ok_or(EncodeError::BufferTooSmall)
}

/// Check and decode one frame in place (with or without its terminating zero); the result may
/// borrow from `frame`.
///
/// # Errors
///
/// [`FrameError::BadFrame`] if it is not valid COBS, too short to hold a CRC, or not exactly one
/// `T` (trailing bytes are an error); [`FrameError::BadCrc`] if the CRC does not match.
pub fn decode<'a, T: Deserialize<'a>>(frame: &'a mut [u8]) -> Result<T, FrameError> {
    let end = match frame.last() {
        Some(0) => frame.len() - 1,
        _ => frame.len(),
    };
    let frame = frame.get_mut(..end).ok_or(FrameError::BadFrame)?;
    let len = cobs::decode_in_place(frame).map_err(|_| FrameError::BadFrame)?;
    let raw = frame.get(..len).ok_or(FrameError::BadFrame)?;
    let payload_len = len.checked_sub(CRC_LEN).ok_or(FrameError::BadFrame)?;
    let (payload, stored) = raw.split_at(payload_len);
    let stored = match stored {
        &[a, b, c, d] => u32::from_le_bytes([a, b, c, d]),
        _ => return Err(FrameError::BadFrame),
    };
    if crc32(payload) != stored {
        return Err(FrameError::BadCrc);
    }
    match postcard::take_from_bytes(payload) {
        Ok((message, [])) => Ok(message),
        _ => Err(FrameError::BadFrame),
    }
}

/// What [`FrameAccumulator::feed`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Feed<'a> {
    /// No complete frame yet.
    Pending,
    /// A complete frame (its terminating zero excluded), valid until the next `feed`.
    Frame(&'a mut [u8]),
    /// A frame longer than the buffer ended here; its bytes were dropped.
    Overflow,
}

/// Collects bytes from a serial line into frames delimited by `0x00`.
///
/// A frame longer than `N` bytes is dropped whole and reported once, at its terminating zero;
/// empty frames (two zeros in a row) are skipped, which lets a host send a lone `0x00` first to
/// flush a half-received frame.
#[derive(Debug)]
pub struct FrameAccumulator<const N: usize> {
    buf: [u8; N],
    len: usize,
    overflowed: bool,
}

impl<const N: usize> Default for FrameAccumulator<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> FrameAccumulator<N> {
    /// An empty accumulator.
    pub const fn new() -> Self {
        Self {
            buf: [0; N],
            len: 0,
            overflowed: false,
        }
    }

    /// Take one received byte.
    pub fn feed(&mut self, byte: u8) -> Feed<'_> {
        if byte == 0 {
            let len = core::mem::take(&mut self.len);
            if core::mem::take(&mut self.overflowed) {
                return Feed::Overflow;
            }
            if len == 0 {
                return Feed::Pending;
            }
            return Feed::Frame(&mut self.buf[..len]);
        }
        if self.len < N {
            self.buf[self.len] = byte;
            self.len += 1;
        } else {
            self.overflowed = true;
        }
        Feed::Pending
    }
}

/// Answers requests with a classifier, timing each inference with a tick counter.
pub struct Engine<C, T> {
    /// The model.
    pub classifier: C,
    /// The clock around each inference.
    pub ticks: T,
    max_request_frame: u32,
    model_crc: u32,
    /// What was received so far.
    pub stats: LinkStats,
}

impl<C: Classifier, T: TickCounter> Engine<C, T> {
    /// Serve `classifier`, whose container CRC is `model_crc` ([`model_id`]), advertising
    /// `max_request_frame` (data bytes plus the zero) in [`ModelInfo`].
    pub fn new(classifier: C, ticks: T, max_request_frame: usize, model_crc: u32) -> Self {
        Self {
            classifier,
            ticks,
            max_request_frame: saturate(max_request_frame),
            model_crc,
            stats: LinkStats::default(),
        }
    }

    /// Check and decode one frame and compute the response; a frame that does not check is
    /// counted and answered with [`Response::Rejected`].
    pub fn handle_frame(&mut self, frame: &mut [u8]) -> Response {
        match decode::<Request<'_>>(frame) {
            Ok(request) => {
                bump(&mut self.stats.frames);
                self.handle(request)
            }
            Err(error) => self.reject(error),
        }
    }

    /// Count a rejected frame and build the answer to it.
    pub fn reject(&mut self, error: FrameError) -> Response {
        bump(match error {
            FrameError::BadCrc => &mut self.stats.crc_errors,
            FrameError::BadFrame => &mut self.stats.bad_frames,
            FrameError::TooLong { .. } => &mut self.stats.overflows,
        });
        Response::Rejected(error)
    }

    /// Compute the response to `request`.
    pub fn handle(&mut self, request: Request<'_>) -> Response {
        let clf = &mut self.classifier;
        match request {
            Request::Ping { id } => Response::Pong {
                id,
                version: PROTOCOL_VERSION,
            },
            Request::Info { id } => Response::Info {
                id,
                info: ModelInfo {
                    input_size: saturate(clf.input_size()),
                    output_size: saturate(clf.output_size()),
                    default_timesteps: clf.default_timesteps(),
                    max_request_frame: self.max_request_frame,
                    model_crc: self.model_crc,
                    link: self.stats,
                },
            },
            Request::Infer { id, steps, input } => {
                if input.len() != clf.input_size() {
                    return Response::Error {
                        id,
                        error: ProtocolError::WrongInputSize {
                            found: saturate(input.len()),
                            expected: saturate(clf.input_size()),
                        },
                    };
                }
                let steps = if steps == 0 {
                    clf.default_timesteps()
                } else {
                    steps
                };
                let start = self.ticks.now();
                let result = clf.classify(input, steps);
                let ticks = self.ticks.now().saturating_sub(start);
                let error = match result {
                    Ok(inf) => match (
                        Vec::from_slice(inf.outputs),
                        Vec::from_slice(inf.spike_counts),
                    ) {
                        (Ok(outputs), Ok(spike_counts)) => {
                            return Response::Inferred(Reply {
                                id,
                                class: inf.class,
                                outputs,
                                spike_counts,
                                synaptic_events: inf.synaptic_events,
                                ticks,
                            })
                        }
                        _ => ProtocolError::ReplyTooLarge {
                            outputs: saturate(inf.outputs.len()),
                            layers: saturate(inf.spike_counts.len()),
                        },
                    },
                    Err(err) => {
                        let mut message = String::new();
                        // Truncation is fine: `Truncate` stops at the capacity.
                        let _ = write!(Truncate(&mut message), "{err}");
                        ProtocolError::InferenceFailed { message }
                    }
                };
                Response::Error { id, error }
            }
        }
    }
}

fn saturate(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn bump(counter: &mut u32) {
    *counter = counter.saturating_add(1);
}

/// `fmt::Write` into a heapless string that keeps what fits and drops the rest.
struct Truncate<'a, const N: usize>(&'a mut String<N>);

impl<const N: usize> core::fmt::Write for Truncate<'_, N> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        for c in s.chars() {
            if self.0.push(c).is_err() {
                break;
            }
        }
        Ok(())
    }
}

/// A request/response server on a byte stream, receiving frames of at most `N` bytes.
pub struct Server<C, T, const N: usize> {
    rx: FrameAccumulator<N>,
    /// Computes the responses.
    pub engine: Engine<C, T>,
    tx: [u8; RESPONSE_BUFFER],
}

impl<C: Classifier, T: TickCounter, const N: usize> Server<C, T, N> {
    /// A server for `classifier` (container CRC `model_crc`), accepting request frames of up to
    /// `N` bytes before the zero.
    pub fn new(classifier: C, ticks: T, model_crc: u32) -> Self {
        Self {
            rx: FrameAccumulator::new(),
            engine: Engine::new(classifier, ticks, N + 1, model_crc),
            tx: [0; RESPONSE_BUFFER],
        }
    }

    /// Read what `rx` has (blocking until at least one byte), answer every frame it completes
    /// on `tx`, and call `on_response` with each response just before it is written.
    ///
    /// `rx` and `tx` are the two halves of one UART (HALs split them so they can be used apart).
    ///
    /// # Errors
    ///
    /// The first read or write error (a read error is also counted in
    /// [`LinkStats::uart_errors`]); bytes of a frame received so far are kept.
    pub fn poll<R: Read, W: Write>(
        &mut self,
        rx: &mut R,
        tx: &mut W,
        mut on_response: impl FnMut(&Response),
    ) -> Result<(), PollError<R::Error, W::Error>> {
        let mut chunk = [0u8; 32];
        let n = match rx.read(&mut chunk) {
            Ok(n) => n,
            Err(e) => {
                bump(&mut self.engine.stats.uart_errors);
                return Err(PollError::Read(e));
            }
        };
        for &byte in chunk.get(..n).unwrap_or(&[]) {
            let response = match self.rx.feed(byte) {
                Feed::Pending => continue,
                Feed::Frame(frame) => self.engine.handle_frame(frame),
                Feed::Overflow => {
                    let max = self.engine.max_request_frame;
                    self.engine.reject(FrameError::TooLong { max })
                }
            };
            // Before the reply: a host sends its next request as soon as it has the reply, and
            // by then the board must be reading again (a UART holds a byte or a few).
            on_response(&response);
            // Every response fits MAX_RESPONSE_FRAME (checked by a test), so this cannot fail.
            if let Ok(frame) = encode(&response, &mut self.tx) {
                tx.write_all(frame).map_err(PollError::Write)?;
                tx.flush().map_err(PollError::Write)?;
            }
        }
        Ok(())
    }
}

/// A serial error seen by [`Server::poll`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum PollError<R, W> {
    /// Receiving failed.
    Read(R),
    /// Sending a response failed.
    Write(W),
}

impl<R: core::fmt::Debug, W: core::fmt::Debug> core::fmt::Display for PollError<R, W> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            PollError::Read(e) => write!(f, "serial read failed: {e:?}"),
            PollError::Write(e) => write!(f, "serial write failed: {e:?}"),
        }
    }
}

impl<R: core::fmt::Debug, W: core::fmt::Debug> core::error::Error for PollError<R, W> {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classifier::tests::Scripted;
    use crate::ticks::NoTicks;

    fn hex(s: &str) -> std::vec::Vec<u8> {
        s.split_whitespace()
            .map(|b| u8::from_str_radix(b, 16).unwrap())
            .collect()
    }

    /// `message` encodes to exactly `payload` (postcard) and `wire` (framed), and decodes back.
    fn golden<T>(message: &T, payload: &str, wire: &str)
    where
        T: Serialize + PartialEq + core::fmt::Debug,
        for<'a> Decoded<'a, T>: Deserialize<'a>,
    {
        assert_eq!(
            postcard::to_stdvec(message).unwrap(),
            hex(payload),
            "{message:?}"
        );
        let mut buf = [0u8; RESPONSE_BUFFER];
        let frame = encode(message, &mut buf).unwrap().to_vec();
        assert_eq!(frame, hex(wire), "{message:?}");
        let mut copy = frame.clone();
        let decoded: Decoded<'_, T> = decode(&mut copy).unwrap();
        assert_eq!(format!("{:?}", decoded.0), format!("{message:?}"));
    }

    /// A `T` decoded from a buffer, whatever lifetime `T` borrows with (requests borrow their
    /// input from the frame).
    #[derive(Debug)]
    struct Decoded<'a, T>(
        std::boxed::Box<dyn core::fmt::Debug + 'a>,
        core::marker::PhantomData<T>,
    );

    impl<'de, T> Deserialize<'de> for Decoded<'de, T> {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            // Requests and responses start with the same variant index; tell them apart by
            // the type name, which is all a test needs.
            if core::any::type_name::<T>().contains("Request") {
                Ok(Decoded(
                    std::boxed::Box::new(Request::deserialize(d)?),
                    Default::default(),
                ))
            } else {
                Ok(Decoded(
                    std::boxed::Box::new(Response::deserialize(d)?),
                    Default::default(),
                ))
            }
        }
    }

    // The examples of PROTOCOL.md; tools/test_pspk_uart.py pins the same bytes.
    #[test]
    fn golden_request_bytes() {
        golden(&Request::Ping { id: 1 }, "00 01", "01 06 01 69 22 de 36 00");
        golden(&Request::Info { id: 2 }, "01 02", "07 01 02 92 42 cc b6 00");
        golden(
            &Request::Infer {
                id: 300,
                steps: 0,
                input: &[0, 5, 0],
            },
            "02 ac 02 00 03 00 05 00",
            "04 02 ac 02 02 03 02 05 05 ae 9b 06 85 00",
        );
        golden(
            &Request::Infer {
                id: 7,
                steps: 0,
                input: &[1, 2],
            },
            "02 07 00 02 01 02",
            "03 02 07 08 02 01 02 bb 58 bb ba 00",
        );
    }

    #[test]
    fn golden_response_bytes() {
        golden(
            &Response::Pong { id: 1, version: 2 },
            "00 01 02",
            "01 07 01 02 7f 89 54 08 00",
        );
        golden(
            &Response::Info {
                id: 2,
                info: ModelInfo {
                    input_size: 64,
                    output_size: 10,
                    default_timesteps: 20,
                    max_request_frame: 97,
                    model_crc: 0x1234_abcd,
                    link: LinkStats {
                        frames: 3,
                        crc_errors: 1,
                        ..LinkStats::default()
                    },
                },
            },
            "01 02 40 0a 14 61 cd d7 d2 91 01 03 01 00 00 00",
            "0e 01 02 40 0a 14 61 cd d7 d2 91 01 03 01 01 01 05 e1 0e 17 cb 00",
        );
        golden(
            &Response::Inferred(Reply {
                id: 7,
                class: 2,
                outputs: Vec::from_slice(&[-1, 65536]).unwrap(),
                spike_counts: Vec::from_slice(&[3]).unwrap(),
                synaptic_events: 9,
                ticks: 1000,
            }),
            "02 07 02 02 01 80 80 08 01 03 09 e8 07",
            "12 02 07 02 02 01 80 80 08 01 03 09 e8 07 2a db eb 4f 00",
        );
        golden(
            &Response::Error {
                id: 5,
                error: ProtocolError::WrongInputSize {
                    found: 3,
                    expected: 64,
                },
            },
            "03 05 00 03 40",
            "03 03 05 07 03 40 ac 6f ad eb 00",
        );
        golden(
            &Response::Rejected(FrameError::BadCrc),
            "04 00",
            "02 04 05 fb d7 b5 25 00",
        );
        golden(
            &Response::Rejected(FrameError::TooLong { max: 97 }),
            "04 02 61",
            "08 04 02 61 82 42 cb f0 00",
        );
    }

    #[test]
    fn model_id_is_the_containers_trailing_crc() {
        assert_eq!(model_id(&[9, 9, 0xcd, 0xab, 0x34, 0x12]), 0x1234_abcd);
        assert_eq!(model_id(&[1, 2, 3]), 0);
    }

    #[test]
    fn largest_response_fits_the_tx_buffer() {
        let worst = Response::Inferred(Reply {
            id: u32::MAX,
            class: u16::MAX,
            outputs: Vec::from_slice(&[i32::MIN; MAX_OUTPUTS]).unwrap(),
            spike_counts: Vec::from_slice(&[u32::MAX; MAX_LAYERS]).unwrap(),
            synaptic_events: u32::MAX,
            ticks: u64::MAX,
        });
        let error = Response::Error {
            id: u32::MAX,
            error: ProtocolError::InferenceFailed {
                message: String::try_from("\u{7ff}".repeat(MAX_MESSAGE / 2).as_str()).unwrap(),
            },
        };
        let stats = LinkStats {
            frames: u32::MAX,
            crc_errors: u32::MAX,
            bad_frames: u32::MAX,
            overflows: u32::MAX,
            uart_errors: u32::MAX,
        };
        let info = Response::Info {
            id: u32::MAX,
            info: ModelInfo {
                input_size: u32::MAX,
                output_size: u32::MAX,
                default_timesteps: u16::MAX,
                max_request_frame: u32::MAX,
                model_crc: u32::MAX,
                link: stats,
            },
        };
        for response in [worst, error, info] {
            assert!(postcard::to_stdvec(&response).unwrap().len() <= MAX_RESPONSE_PAYLOAD);
            let mut buf = [0u8; RESPONSE_BUFFER];
            assert!(encode(&response, &mut buf).unwrap().len() <= MAX_RESPONSE_FRAME);
        }
    }

    #[test]
    fn every_single_byte_error_is_rejected() {
        let mut buf = [0u8; 64];
        let request = Request::Infer {
            id: 77,
            steps: 3,
            input: &[1, 0, 16, 200],
        };
        let frame = encode(&request, &mut buf).unwrap().to_vec();
        let body = &frame[..frame.len() - 1];
        let mut engine = Engine::new(Scripted::new(), NoTicks, 65, 0);
        for at in 0..body.len() {
            for bit in 0..8 {
                let mut bad = body.to_vec();
                bad[at] ^= 1 << bit;
                if bad.contains(&0) {
                    continue; // a zero splits the frame; each part is checked on its own
                }
                assert!(
                    matches!(engine.handle_frame(&mut bad), Response::Rejected(_)),
                    "flip of bit {bit} in byte {at}"
                );
            }
            let mut dropped = body.to_vec();
            dropped.remove(at);
            assert!(matches!(
                engine.handle_frame(&mut dropped),
                Response::Rejected(_)
            ));
            let mut doubled = body.to_vec();
            doubled.insert(at, body[at]);
            assert!(matches!(
                engine.handle_frame(&mut doubled),
                Response::Rejected(_)
            ));
        }
        assert_eq!(engine.classifier.calls, 0, "nothing was classified");
        let stats = engine.stats;
        assert_eq!(stats.frames, 0);
        assert!(stats.crc_errors > 0 && stats.bad_frames > 0);
    }

    #[test]
    fn trailing_bytes_are_a_bad_frame() {
        // A valid Ping payload with one byte more, under a CRC that matches.
        let payload = [0x00, 0x01, 0x00];
        let mut raw = payload.to_vec();
        raw.extend_from_slice(&crc32(&payload).to_le_bytes());
        let mut framed = [0u8; 16];
        let n = cobs::try_encode(&raw, &mut framed).unwrap();
        assert_eq!(
            decode::<Request<'_>>(&mut framed[..n]),
            Err(FrameError::BadFrame)
        );
    }

    #[test]
    fn accumulator_splits_frames_and_reports_overflow() {
        let mut acc = FrameAccumulator::<4>::new();
        assert_eq!(acc.feed(0), Feed::Pending, "empty frames are skipped");
        for b in [1, 2, 3] {
            assert_eq!(acc.feed(b), Feed::Pending);
        }
        assert_eq!(acc.feed(0), Feed::Frame(&mut [1, 2, 3]));
        for b in [9; 5] {
            assert_eq!(acc.feed(b), Feed::Pending);
        }
        assert_eq!(acc.feed(0), Feed::Overflow);
        acc.feed(4);
        assert_eq!(acc.feed(0), Feed::Frame(&mut [4]));
    }

    #[test]
    fn engine_answers_each_request_with_its_id() {
        let mut engine = Engine::new(Scripted::new(), NoTicks, 65, 0xfeed);
        assert_eq!(
            engine.handle(Request::Ping { id: 41 }),
            Response::Pong {
                id: 41,
                version: PROTOCOL_VERSION
            }
        );
        assert_eq!(
            engine.handle(Request::Info { id: 42 }),
            Response::Info {
                id: 42,
                info: ModelInfo {
                    input_size: 3,
                    output_size: 4,
                    default_timesteps: 16,
                    max_request_frame: 65,
                    model_crc: 0xfeed,
                    link: LinkStats::default(),
                }
            }
        );
        let Response::Inferred(reply) = engine.handle(Request::Infer {
            id: 9,
            steps: 0,
            input: &[1, 1, 1],
        }) else {
            panic!("expected a reply")
        };
        assert_eq!((reply.id, reply.class, reply.synaptic_events), (9, 1, 160));
        assert_eq!(reply.outputs.as_slice(), &[0, 16 * 65536, -1, 0]);
        assert_eq!(
            engine.handle(Request::Infer {
                id: 1,
                steps: 3,
                input: &[1]
            }),
            Response::Error {
                id: 1,
                error: ProtocolError::WrongInputSize {
                    found: 1,
                    expected: 3
                }
            }
        );
        assert_eq!(
            engine.handle_frame(&mut [0x07, 0xff]),
            Response::Rejected(FrameError::BadFrame)
        );
        assert_eq!(engine.stats.bad_frames, 1);
    }

    /// Accepts any 3-byte input, then fails with a long message.
    struct Failing;
    impl Classifier for Failing {
        type Error = &'static str;
        fn input_size(&self) -> usize {
            3
        }
        fn output_size(&self) -> usize {
            1
        }
        fn default_timesteps(&self) -> u16 {
            1
        }
        fn classify(&mut self, _: &[u8], _: u16) -> Result<crate::Inference<'_>, &'static str> {
            Err("the membrane voltage left the Q16.16 range in layer 3 at step 17 of 20")
        }
    }

    #[test]
    fn runtime_errors_are_reported_truncated() {
        let mut engine = Engine::new(Failing, NoTicks, 16, 0);
        let Response::Error {
            id,
            error: ProtocolError::InferenceFailed { message },
        } = engine.handle(Request::Infer {
            id: 4,
            steps: 0,
            input: &[0; 3],
        })
        else {
            panic!("expected InferenceFailed")
        };
        assert_eq!(id, 4);
        assert_eq!(message.len(), MAX_MESSAGE);
        assert!(message.starts_with("the membrane voltage left"));
    }

    /// The receiving half of a scripted serial port; fails once where `fail_at` says.
    struct ScriptRx {
        bytes: std::collections::VecDeque<u8>,
        fail_at: Option<usize>,
        read: usize,
    }
    /// The sending half, recording what was written.
    struct RecordTx(std::vec::Vec<u8>);
    impl embedded_io::ErrorType for ScriptRx {
        type Error = embedded_io::ErrorKind;
    }
    impl embedded_io::ErrorType for RecordTx {
        type Error = core::convert::Infallible;
    }
    impl Read for ScriptRx {
        fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
            if self.fail_at == Some(self.read) {
                self.fail_at = None;
                return Err(embedded_io::ErrorKind::Other);
            }
            let n = buf.len().min(self.bytes.len()).min(5); // short reads on purpose
            for b in &mut buf[..n] {
                *b = self.bytes.pop_front().unwrap();
            }
            self.read += n;
            Ok(n)
        }
    }
    impl Write for RecordTx {
        fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
            self.0.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> Result<(), Self::Error> {
            Ok(())
        }
    }

    #[test]
    fn server_round_trip_over_a_byte_stream() {
        let mut rx = std::vec::Vec::new();
        let mut buf = [0u8; 64];
        // Half a frame from a killed session, then the host's flush: one Rejected.
        rx.extend_from_slice(&encode(&Request::Ping { id: 1 }, &mut buf).unwrap()[..3]);
        rx.push(0);
        rx.extend_from_slice(encode(&Request::Ping { id: 2 }, &mut buf).unwrap());
        rx.extend_from_slice(
            encode(
                &Request::Infer {
                    id: 5,
                    steps: 2,
                    input: &[3, 0, 1],
                },
                &mut buf,
            )
            .unwrap(),
        );
        rx.extend_from_slice(&[0x41; 20]); // too long for N = 16
        rx.push(0);
        rx.extend_from_slice(encode(&Request::Info { id: 6 }, &mut buf).unwrap());
        let mut rx = ScriptRx {
            bytes: rx.into(),
            fail_at: Some(10),
            read: 0,
        };
        let mut tx = RecordTx(std::vec::Vec::new());
        let mut server: Server<_, _, 16> = Server::new(Scripted::new(), NoTicks, 0xabc);
        let mut seen = std::vec::Vec::new();
        let mut errors = 0;
        while !rx.bytes.is_empty() {
            if server
                .poll(&mut rx, &mut tx, |r| seen.push(r.clone()))
                .is_err()
            {
                errors += 1;
            }
        }
        assert_eq!(errors, 1);
        assert_eq!(seen.len(), 5);
        assert!(matches!(seen[0], Response::Rejected(_)));
        assert_eq!(seen[1], Response::Pong { id: 2, version: 2 });
        assert!(matches!(
            &seen[2],
            Response::Inferred(Reply {
                id: 5,
                class: 3,
                ..
            })
        ));
        assert_eq!(seen[3], Response::Rejected(FrameError::TooLong { max: 17 }));
        let Response::Info { id: 6, info } = &seen[4] else {
            panic!("expected Info, got {:?}", seen[4])
        };
        assert_eq!(info.model_crc, 0xabc);
        assert_eq!(
            info.link,
            LinkStats {
                frames: 3,
                crc_errors: seen[0].eq(&Response::Rejected(FrameError::BadCrc)) as u32,
                bad_frames: seen[0].eq(&Response::Rejected(FrameError::BadFrame)) as u32,
                overflows: 1,
                uart_errors: 1,
            }
        );
        // What went out on the wire decodes to the same responses.
        let mut decoded = std::vec::Vec::new();
        for frame in tx.0.split_mut(|&b| b == 0).filter(|f| !f.is_empty()) {
            decoded.push(decode::<Response>(frame).unwrap());
        }
        assert_eq!(decoded, seen);
        assert_eq!(server.engine.classifier.calls, 1);
    }
}
