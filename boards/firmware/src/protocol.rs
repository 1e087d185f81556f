//! The UART protocol of the real boards: COBS-framed postcard messages.
//!
//! The host sends a [`Request`], the board answers each one with exactly one [`Response`]. Every
//! message is serialized with postcard, COBS-encoded, and terminated by one `0x00` byte, so a
//! receiver can always resynchronise at the next zero. The full wire format, with example bytes
//! pinned by the tests below, is in `boards/PROTOCOL.md`.
//!
//! ```
//! use picospike_firmware::protocol::{decode, encode, Request};
//! let mut buf = [0u8; 32];
//! let frame = encode(&Request::Infer { id: 7, steps: 0, input: &[1, 2] }, &mut buf).unwrap();
//! // postcard: 02 07 00 02 01 02, COBS-encoded, then the terminating zero.
//! assert_eq!(frame, &[0x03, 0x02, 0x07, 0x04, 0x02, 0x01, 0x02, 0x00]);
//! let request: Request<'_> = decode(frame).unwrap();
//! assert_eq!(request, Request::Infer { id: 7, steps: 0, input: &[1, 2] });
//! ```

use core::fmt::Write as _;

use embedded_io::{Read, Write};
use heapless::{String, Vec};
use serde::{Deserialize, Serialize};

use crate::{Classifier, TickCounter};

/// Version answered to [`Request::Ping`]; bumped on any incompatible change of the messages.
pub const PROTOCOL_VERSION: u8 = 1;
/// Most output values a [`Reply`] carries.
pub const MAX_OUTPUTS: usize = 32;
/// Most layers whose spike counts a [`Reply`] carries.
pub const MAX_LAYERS: usize = 8;
/// Longest error message carried by [`ProtocolError::InferenceFailed`], in bytes.
pub const MAX_MESSAGE: usize = 48;
/// Size of the buffer a response is encoded into; every [`Response`] fits.
pub const MAX_RESPONSE_FRAME: usize = 384;

/// A message from the host to the board.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Request<'a> {
    /// Is anyone there? Answered with [`Response::Pong`].
    Ping,
    /// Describe the model. Answered with [`Response::Info`].
    Info,
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

/// A message from the board to the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Response {
    /// Answer to [`Request::Ping`].
    Pong {
        /// [`PROTOCOL_VERSION`] of the board.
        version: u8,
    },
    /// Answer to [`Request::Info`].
    Info(ModelInfo),
    /// Answer to a successful [`Request::Infer`].
    Inferred(Reply),
    /// The request could not be served.
    Error(ProtocolError),
}

/// What the host needs to know to send samples.
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

/// Why a request was not served.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum ProtocolError {
    /// The frame was not valid COBS or not a valid postcard [`Request`].
    BadFrame,
    /// The frame was longer than the board's buffer.
    FrameTooLong {
        /// Longest accepted frame, including the terminating zero.
        max: u32,
    },
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
        /// The request's `id`.
        id: u32,
        /// The error's `Display`, truncated to [`MAX_MESSAGE`] bytes.
        message: String<MAX_MESSAGE>,
    },
}

/// Serialize `message` into `buf` as one complete frame (COBS, terminating zero included).
///
/// # Errors
///
/// If `buf` is too small.
pub fn encode<'b, T: Serialize + ?Sized>(
    message: &T,
    buf: &'b mut [u8],
) -> postcard::Result<&'b mut [u8]> {
    postcard::to_slice_cobs(message, buf)
}

/// Decode one frame in place (with or without its terminating zero); the result may borrow
/// from `frame`.
///
/// # Errors
///
/// If the frame is not valid COBS or not a valid postcard `T`.
pub fn decode<'a, T: Deserialize<'a>>(frame: &'a mut [u8]) -> postcard::Result<T> {
    postcard::from_bytes_cobs(frame)
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
}

impl<C: Classifier, T: TickCounter> Engine<C, T> {
    /// Serve `classifier`, advertising `max_request_frame` (data bytes plus the zero) in
    /// [`ModelInfo`].
    pub fn new(classifier: C, ticks: T, max_request_frame: usize) -> Self {
        let max_request_frame = u32::try_from(max_request_frame).unwrap_or(u32::MAX);
        Self {
            classifier,
            ticks,
            max_request_frame,
        }
    }

    /// Decode one frame and compute the response.
    pub fn handle_frame(&mut self, frame: &mut [u8]) -> Response {
        match decode::<Request<'_>>(frame) {
            Ok(request) => self.handle(request),
            Err(_) => Response::Error(ProtocolError::BadFrame),
        }
    }

    /// Compute the response to `request`.
    pub fn handle(&mut self, request: Request<'_>) -> Response {
        let clf = &mut self.classifier;
        match request {
            Request::Ping => Response::Pong {
                version: PROTOCOL_VERSION,
            },
            Request::Info => Response::Info(ModelInfo {
                input_size: saturate(clf.input_size()),
                output_size: saturate(clf.output_size()),
                default_timesteps: clf.default_timesteps(),
                max_request_frame: self.max_request_frame,
            }),
            Request::Infer { id, steps, input } => {
                if input.len() != clf.input_size() {
                    return Response::Error(ProtocolError::WrongInputSize {
                        found: saturate(input.len()),
                        expected: saturate(clf.input_size()),
                    });
                }
                let steps = if steps == 0 {
                    clf.default_timesteps()
                } else {
                    steps
                };
                let start = self.ticks.now();
                let result = clf.classify(input, steps);
                let ticks = self.ticks.now().saturating_sub(start);
                match result {
                    Ok(inf) => {
                        match (
                            Vec::from_slice(inf.outputs),
                            Vec::from_slice(inf.spike_counts),
                        ) {
                            (Ok(outputs), Ok(spike_counts)) => Response::Inferred(Reply {
                                id,
                                class: inf.class,
                                outputs,
                                spike_counts,
                                synaptic_events: inf.synaptic_events,
                                ticks,
                            }),
                            _ => Response::Error(ProtocolError::ReplyTooLarge {
                                outputs: saturate(inf.outputs.len()),
                                layers: saturate(inf.spike_counts.len()),
                            }),
                        }
                    }
                    Err(err) => {
                        let mut message = String::new();
                        // Truncation is fine: `Truncate` stops at the capacity.
                        let _ = write!(Truncate(&mut message), "{err}");
                        Response::Error(ProtocolError::InferenceFailed { id, message })
                    }
                }
            }
        }
    }
}

fn saturate(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
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
    tx: [u8; MAX_RESPONSE_FRAME],
}

impl<C: Classifier, T: TickCounter, const N: usize> Server<C, T, N> {
    /// A server for `classifier`, accepting request frames of up to `N` bytes before the zero.
    pub fn new(classifier: C, ticks: T) -> Self {
        Self {
            rx: FrameAccumulator::new(),
            engine: Engine::new(classifier, ticks, N + 1),
            tx: [0; MAX_RESPONSE_FRAME],
        }
    }

    /// Read what `rx` has (blocking until at least one byte), answer every frame it completes
    /// on `tx`, and call `on_response` with each response just before it is written.
    ///
    /// `rx` and `tx` are the two halves of one UART (HALs split them so they can be used apart).
    ///
    /// # Errors
    ///
    /// The first read or write error; bytes of a frame received so far are kept.
    pub fn poll<R: Read, W: Write>(
        &mut self,
        rx: &mut R,
        tx: &mut W,
        mut on_response: impl FnMut(&Response),
    ) -> Result<(), PollError<R::Error, W::Error>> {
        let mut chunk = [0u8; 32];
        let n = rx.read(&mut chunk).map_err(PollError::Read)?;
        for &byte in &chunk[..n] {
            let response = match self.rx.feed(byte) {
                Feed::Pending => continue,
                Feed::Frame(frame) => self.engine.handle_frame(frame),
                Feed::Overflow => Response::Error(ProtocolError::FrameTooLong {
                    max: self.engine.max_request_frame,
                }),
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

    fn roundtrip<T: Serialize + for<'a> Deserialize<'a> + PartialEq + core::fmt::Debug>(
        value: &T,
    ) -> std::vec::Vec<u8> {
        let mut buf = [0u8; 512];
        let frame = encode(value, &mut buf).unwrap().to_vec();
        assert_eq!(*frame.last().unwrap(), 0);
        assert!(!frame[..frame.len() - 1].contains(&0));
        let mut copy = frame.clone();
        assert_eq!(&decode::<T>(&mut copy).unwrap(), value);
        frame
    }

    #[test]
    fn golden_request_bytes() {
        let mut buf = [0u8; 32];
        assert_eq!(
            encode(&Request::Ping, &mut buf).unwrap(),
            &[0x01, 0x01, 0x00]
        );
        assert_eq!(
            encode(&Request::Info, &mut buf).unwrap(),
            &[0x02, 0x01, 0x00]
        );
        // Infer = variant 2, id 300 = varint ac 02, steps 00, len 03, bytes 00 05 00;
        // COBS: [04 02 ac 02] [02 03] [02 05] [01], then the terminating zero.
        assert_eq!(
            encode(
                &Request::Infer {
                    id: 300,
                    steps: 0,
                    input: &[0, 5, 0]
                },
                &mut buf
            )
            .unwrap(),
            &[0x04, 0x02, 0xac, 0x02, 0x02, 0x03, 0x02, 0x05, 0x01, 0x00]
        );
    }

    #[test]
    fn golden_response_bytes() {
        assert_eq!(
            roundtrip(&Response::Pong { version: 1 }),
            [0x01, 0x02, 0x01, 0x00]
        );
        let reply = Response::Inferred(Reply {
            id: 7,
            class: 2,
            outputs: Vec::from_slice(&[-1, 65536]).unwrap(),
            spike_counts: Vec::from_slice(&[3]).unwrap(),
            synaptic_events: 9,
            ticks: 1000,
        });
        // variant 2, id 7, class 2, 2 outputs zigzag(-1)=01 zigzag(65536)=80 80 08, 1 count 03,
        // events 09, ticks 1000 = e8 07. No zero inside, so COBS adds one leading length byte.
        assert_eq!(
            roundtrip(&reply),
            [
                0x0e, 0x02, 0x07, 0x02, 0x02, 0x01, 0x80, 0x80, 0x08, 0x01, 0x03, 0x09, 0xe8, 0x07,
                0x00
            ]
        );
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
        let mut buf = [0u8; MAX_RESPONSE_FRAME];
        assert!(encode(&worst, &mut buf).is_ok());
        let error = Response::Error(ProtocolError::InferenceFailed {
            id: u32::MAX,
            message: String::try_from("x".repeat(MAX_MESSAGE).as_str()).unwrap(),
        });
        assert!(encode(&error, &mut buf).is_ok());
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
    fn engine_answers_each_request() {
        let mut engine = Engine::new(Scripted::new(), NoTicks, 65);
        assert_eq!(
            engine.handle(Request::Ping),
            Response::Pong {
                version: PROTOCOL_VERSION
            }
        );
        assert_eq!(
            engine.handle(Request::Info),
            Response::Info(ModelInfo {
                input_size: 3,
                output_size: 4,
                default_timesteps: 16,
                max_request_frame: 65
            })
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
            Response::Error(ProtocolError::WrongInputSize {
                found: 1,
                expected: 3
            })
        );
        assert_eq!(
            engine.handle_frame(&mut [0x07, 0xff]),
            Response::Error(ProtocolError::BadFrame)
        );
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
        let mut engine = Engine::new(Failing, NoTicks, 16);
        let Response::Error(ProtocolError::InferenceFailed { id, message }) =
            engine.handle(Request::Infer {
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

    /// The receiving half of a scripted serial port.
    struct ScriptRx(std::collections::VecDeque<u8>);
    /// The sending half, recording what was written.
    struct RecordTx(std::vec::Vec<u8>);
    impl embedded_io::ErrorType for ScriptRx {
        type Error = core::convert::Infallible;
    }
    impl embedded_io::ErrorType for RecordTx {
        type Error = core::convert::Infallible;
    }
    impl Read for ScriptRx {
        fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
            let n = buf.len().min(self.0.len()).min(5); // short reads on purpose
            for b in &mut buf[..n] {
                *b = self.0.pop_front().unwrap();
            }
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
        rx.extend_from_slice(encode(&Request::Ping, &mut buf).unwrap());
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
        let (mut rx, mut tx) = (ScriptRx(rx.into()), RecordTx(std::vec::Vec::new()));
        let mut server: Server<_, _, 16> = Server::new(Scripted::new(), NoTicks);
        let mut seen = std::vec::Vec::new();
        while !rx.0.is_empty() {
            server
                .poll(&mut rx, &mut tx, |r| seen.push(r.clone()))
                .unwrap();
        }
        assert_eq!(seen.len(), 3);
        assert!(matches!(
            &seen[1],
            Response::Inferred(Reply {
                id: 5,
                class: 3,
                ..
            })
        ));
        assert_eq!(
            seen[2],
            Response::Error(ProtocolError::FrameTooLong { max: 17 })
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
