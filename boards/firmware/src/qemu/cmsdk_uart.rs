//! The Arm CMSDK APB UART as QEMU models it on the mps2 boards, polled, as embedded-io halves.
#![allow(unsafe_code)]

use core::convert::Infallible;

/// UART0 on mps2-an385/an386, wired to QEMU's first `-serial`.
pub const UART0: usize = 0x4000_4000;

const DATA: usize = 0x00;
const STATE: usize = 0x04;
const CTRL: usize = 0x08;
const BAUDDIV: usize = 0x10;
const STATE_TX_FULL: u32 = 1 << 0;
const STATE_RX_FULL: u32 = 1 << 1;
const CTRL_TX_EN: u32 = 1 << 0;
const CTRL_RX_EN: u32 = 1 << 1;

/// One UART; `Rx` and `Tx` below are its two halves (the hardware needs no locking between
/// them: each register is touched by one half only, STATE is read-only here).
pub struct Uart {
    base: usize,
}

impl Uart {
    /// Enable transmitter and receiver at `bauddiv` (PCLK / baud rate; QEMU needs >= 16).
    ///
    /// # Safety
    ///
    /// `base` must be the address of a CMSDK APB UART that nothing else uses.
    pub unsafe fn new(base: usize, bauddiv: u32) -> Self {
        let uart = Self { base };
        uart.write(BAUDDIV, bauddiv);
        uart.write(CTRL, CTRL_TX_EN | CTRL_RX_EN);
        uart
    }

    /// The receiving and transmitting halves.
    pub fn split(self) -> (Rx, Tx) {
        (Rx(Uart { base: self.base }), Tx(self))
    }

    fn read(&self, offset: usize) -> u32 {
        // SAFETY: `new`'s contract: `base` is a CMSDK UART, whose registers at these
        // offsets are 32-bit, aligned, and side-effect free to read except DATA, which
        // only the receiving half reads.
        unsafe { ((self.base + offset) as *const u32).read_volatile() }
    }

    fn write(&self, offset: usize, value: u32) {
        // SAFETY: as in `read`; DATA is written only by the transmitting half, CTRL and
        // BAUDDIV only in `new`.
        unsafe { ((self.base + offset) as *mut u32).write_volatile(value) }
    }
}

/// Receiving half.
pub struct Rx(Uart);
/// Transmitting half.
pub struct Tx(Uart);

impl embedded_io::ErrorType for Rx {
    type Error = Infallible;
}
impl embedded_io::ErrorType for Tx {
    type Error = Infallible;
}

impl embedded_io::Read for Rx {
    /// Blocks for the first byte, then takes what has already arrived.
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        let mut n = 0;
        while n < buf.len() {
            if self.0.read(STATE) & STATE_RX_FULL == 0 {
                if n > 0 {
                    break;
                }
                continue;
            }
            buf[n] = self.0.read(DATA) as u8;
            n += 1;
        }
        Ok(n)
    }
}

impl embedded_io::Write for Tx {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        for &byte in buf {
            while self.0.read(STATE) & STATE_TX_FULL != 0 {}
            self.0.write(DATA, u32::from(byte));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> Result<(), Infallible> {
        while self.0.read(STATE) & STATE_TX_FULL != 0 {}
        Ok(())
    }
}
