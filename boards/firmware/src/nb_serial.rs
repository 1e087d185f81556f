//! embedded-io over embedded-hal-nb serial halves, for HALs that only offer the latter
//! (stm32f4xx-hal's `Rx` has no `embedded_io::Read`).

use embedded_hal_nb::nb;
use embedded_hal_nb::serial;

/// An embedded-hal-nb serial error as an embedded-io error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NbError<E>(pub E);

impl<E: core::fmt::Debug> core::fmt::Display for NbError<E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "serial error: {:?}", self.0)
    }
}

impl<E: core::fmt::Debug> core::error::Error for NbError<E> {}

impl<E: core::fmt::Debug> embedded_io::Error for NbError<E> {
    fn kind(&self) -> embedded_io::ErrorKind {
        embedded_io::ErrorKind::Other
    }
}

/// `embedded_io::Read` over a `serial::Read<u8>`: blocks for the first byte, then returns what
/// is already there.
///
/// A UART error that follows bytes already read is kept and returned by the next `read`, so
/// those bytes are delivered and the error is still seen (and counted) once.
#[derive(Debug)]
pub struct NbRx<R: serial::ErrorType> {
    inner: R,
    pending: Option<R::Error>,
}

impl<R: serial::ErrorType> NbRx<R> {
    /// Wrap the receiving half of a serial port.
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            pending: None,
        }
    }

    /// The receiving half.
    pub fn inner_mut(&mut self) -> &mut R {
        &mut self.inner
    }
}

/// `embedded_io::Write` over a `serial::Write<u8>`: blocks until every byte is accepted.
#[derive(Debug)]
pub struct NbTx<W>(pub W);

impl<R: serial::ErrorType> embedded_io::ErrorType for NbRx<R> {
    type Error = NbError<R::Error>;
}

impl<W: serial::ErrorType> embedded_io::ErrorType for NbTx<W> {
    type Error = NbError<W::Error>;
}

impl<R: serial::Read<u8>> embedded_io::Read for NbRx<R> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        if let Some(e) = self.pending.take() {
            return Err(NbError(e));
        }
        let Some((first, rest)) = buf.split_first_mut() else {
            return Ok(0);
        };
        *first = nb::block!(self.inner.read()).map_err(NbError)?;
        let mut n = 1;
        for slot in rest {
            match self.inner.read() {
                Ok(byte) => *slot = byte,
                Err(nb::Error::WouldBlock) => break,
                Err(nb::Error::Other(e)) => {
                    // Deliver what was read; report the error on the next call.
                    self.pending = Some(e);
                    break;
                }
            }
            n += 1;
        }
        Ok(n)
    }
}

impl<W: serial::Write<u8>> embedded_io::Write for NbTx<W> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        for &byte in buf {
            nb::block!(self.0.write(byte)).map_err(NbError)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        nb::block!(self.0.flush()).map_err(NbError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use embedded_io::{Read, Write};

    /// Yields `WouldBlock` once before each byte, like a slow UART.
    struct Slow {
        rx: std::collections::VecDeque<u8>,
        ready: bool,
        tx: Vec<u8>,
    }
    impl serial::ErrorType for Slow {
        type Error = serial::ErrorKind;
    }
    impl serial::Read<u8> for Slow {
        fn read(&mut self) -> nb::Result<u8, Self::Error> {
            let ready = self.ready;
            self.ready = !ready;
            if !ready {
                return Err(nb::Error::WouldBlock);
            }
            self.rx
                .pop_front()
                .ok_or(nb::Error::Other(serial::ErrorKind::Overrun))
        }
    }
    impl serial::Write<u8> for Slow {
        fn write(&mut self, word: u8) -> nb::Result<(), Self::Error> {
            self.tx.push(word);
            Ok(())
        }
        fn flush(&mut self) -> nb::Result<(), Self::Error> {
            Ok(())
        }
    }

    #[test]
    fn read_blocks_for_one_byte_and_returns_what_is_ready() {
        let mut rx = NbRx::new(Slow {
            rx: [1, 2, 3].into(),
            ready: false,
            tx: vec![],
        });
        let mut buf = [0; 8];
        assert_eq!(
            rx.read(&mut buf).unwrap(),
            1,
            "the next byte is not ready yet"
        );
        assert_eq!(buf[0], 1);
        assert_eq!(rx.read(&mut []).unwrap(), 0);
        rx.inner_mut().ready = true;
        assert_eq!(rx.read(&mut buf).unwrap(), 1);
        assert_eq!(rx.read(&mut buf).unwrap(), 1);
        assert_eq!(buf[0], 3);
        assert_eq!(rx.read(&mut buf), Err(NbError(serial::ErrorKind::Overrun)));
    }

    /// Yields its script: bytes and errors, then `WouldBlock`.
    struct Script(std::collections::VecDeque<Result<u8, serial::ErrorKind>>);
    impl serial::ErrorType for Script {
        type Error = serial::ErrorKind;
    }
    impl serial::Read<u8> for Script {
        fn read(&mut self) -> nb::Result<u8, Self::Error> {
            match self.0.pop_front() {
                Some(Ok(byte)) => Ok(byte),
                Some(Err(e)) => Err(nb::Error::Other(e)),
                None => Err(nb::Error::WouldBlock),
            }
        }
    }

    #[test]
    fn bytes_before_an_error_are_kept_and_the_error_reported_next() {
        let overrun = serial::ErrorKind::Overrun;
        let mut rx = NbRx::new(Script(
            [Ok(5), Ok(6), Err(overrun), Ok(7)].into_iter().collect(),
        ));
        let mut buf = [0; 8];
        assert_eq!(rx.read(&mut buf), Ok(2));
        assert_eq!(buf[..2], [5, 6]);
        assert_eq!(rx.read(&mut buf), Err(NbError(overrun)));
        assert_eq!(rx.read(&mut buf), Ok(1));
        assert_eq!(buf[0], 7);
    }

    #[test]
    fn write_sends_every_byte() {
        let mut tx = NbTx(Slow {
            rx: [].into(),
            ready: true,
            tx: vec![],
        });
        tx.write_all(&[9, 8, 7]).unwrap();
        tx.flush().unwrap();
        assert_eq!(tx.0.tx, [9, 8, 7]);
    }
}
