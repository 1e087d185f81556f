//! The real boards' UART protocol server, on QEMU `mps2-an386`'s CMSDK UART0.
//!
//! This is the code path of `nrf52840-dk`, `stm32f411` and `rp-pico` (the firmware's
//! `protocol::Server` polling an `embedded_io` UART), compiled for a Cortex-M and run under
//! emulation, so that the host client `tools/pspk_uart.py` can be tested end to end without
//! hardware. Run it with UART0 on QEMU's stdio and nothing else there:
//!
//! ```sh
//! boards/tools/pspk_uart.py --exec "qemu-system-arm -M mps2-an386 -display none -monitor none \
//!     -serial stdio -semihosting-config enable=on,target=native -icount shift=0 \
//!     -kernel target/thumbv7em-none-eabihf/release/uart-server" run
//! ```
//!
//! (`boards/run-qemu.sh qemu-mps2-an386 --uart` does this.) Replies carry SysTick ticks (40
//! instructions each under `-icount shift=0`); the log goes to semihosting stderr, as stdout
//! is the serial line.
#![no_std]
#![no_main]

use core::fmt::Write as _;

use cortex_m_rt::{entry, exception};
use cortex_m_semihosting::{debug, hio};
use picospike_firmware::classifier::NetworkClassifier;
use picospike_firmware::cortex_m::{self as cm, SysTickCounter};
use picospike_firmware::protocol::{Response, Server};
use picospike_runtime::{Model, Network};

/// The embedded model, samples and sizes (see `picospike_board_build`).
#[allow(dead_code, missing_docs)]
mod model {
    include!(env!("PICOSPIKE_MODEL_RS"));
}

/// Longest request frame accepted, as on the real boards.
const MAX_FRAME: usize = model::INPUT_SIZE + 32;

/// The Arm CMSDK APB UART as QEMU models it on mps2 boards, polled.
mod cmsdk_uart {
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
}

#[entry]
fn main() -> ! {
    cm::paint_stack();
    let mut log = hio::hstderr().ok();
    let Some(core) = cortex_m::Peripherals::take() else {
        exit(false)
    };
    let ticks = SysTickCounter::start(core.SYST);
    // SAFETY: UART0 is the CMSDK UART at its documented address and this is its only user.
    // 25 MHz / 217 = 115200 baud (QEMU ignores the rate but wants a divider >= 16).
    let uart = unsafe { cmsdk_uart::Uart::new(cmsdk_uart::UART0, 217) };
    let (mut rx, mut tx) = uart.split();

    let state: &'static mut [i32] = {
        static mut STATE: [i32; model::STATE_WORDS] = [0; model::STATE_WORDS];
        // SAFETY: `main` runs once and this block is the only place that names STATE.
        unsafe { &mut *core::ptr::addr_of_mut!(STATE) }
    };
    let model = match Model::from_bytes(model::MODEL) {
        Ok(model) => model,
        Err(e) => {
            if let Some(log) = log.as_mut() {
                let _ = writeln!(log, "error stage=load message=\"{e}\"");
            }
            exit(false)
        }
    };
    let Ok(network) = Network::new(&model, state) else {
        exit(false)
    };
    let mut server: Server<_, _, MAX_FRAME> =
        Server::new(NetworkClassifier::new(&model, network), ticks);
    loop {
        let Ok(()) = server.poll(&mut rx, &mut tx, |response| {
            if let (Some(log), Response::Inferred(reply)) = (log.as_mut(), response) {
                let _ = writeln!(
                    log,
                    "id={} class={} ticks={} stack_peak={}",
                    reply.id,
                    reply.class,
                    reply.ticks,
                    cm::stack_peak()
                );
            }
        });
    }
}

fn exit(ok: bool) -> ! {
    debug::exit(if ok {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    loop {
        cortex_m::asm::wfi();
    }
}

#[exception]
fn SysTick() {
    SysTickCounter::on_wrap();
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    if let Ok(mut stream) = hio::hstderr() {
        let _ = writeln!(stream, "panic: {info}");
    }
    exit(false)
}
