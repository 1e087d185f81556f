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
#[derive(Debug)]
pub struct NbRx<R>(pub R);

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
        let Some((first, rest)) = buf.split_first_mut() else {
            return Ok(0);
        };
        *first = nb::block!(self.0.read()).map_err(NbError)?;
        let mut n = 1;
        for slot in rest {
            match self.0.read() {
                Ok(byte) => *slot = byte,
                Err(nb::Error::WouldBlock) => break,
                Err(nb::Error::Other(e)) => return Err(NbError(e)),
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
        let mut rx = NbRx(Slow {
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
        rx.0.ready = true;
        assert_eq!(rx.read(&mut buf).unwrap(), 1);
        assert_eq!(rx.read(&mut buf).unwrap(), 1);
        assert_eq!(buf[0], 3);
        assert_eq!(rx.read(&mut buf), Err(NbError(serial::ErrorKind::Overrun)));
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
