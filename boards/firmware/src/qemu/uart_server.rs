//! The real boards' UART protocol server on QEMU `mps2-an386`'s CMSDK UART0.

use core::fmt::Write as _;

use cortex_m_semihosting::hio;

use super::cmsdk_uart::{Uart, UART0};
use crate::cortex_m::{self as cm, SysTickCounter};
use crate::protocol::Response;
use crate::serve::{serve, Events};

/// Serve the protocol on UART0 of `mps2-an386` (QEMU's first `-serial`) with request frames of
/// up to `N` bytes, for models of up to `L` layers (the model module's `LAYERS`), logging each reply on semihosting stderr (stdout is the serial line).
///
/// This is the code path of the real boards ([`serve`]) compiled for a Cortex-M and run under
/// emulation, so that `tools/pspk_uart.py` can be tested end to end without hardware. Returns
/// `false` if the model does not load; otherwise never returns. The board's SysTick handler must
/// call [`SysTickCounter::on_wrap`]; replies carry SysTick ticks (40 instructions each under
/// `-icount shift=0`).
pub fn uart_server<const N: usize, const L: usize>(
    blob: &'static [u8],
    state: &'static mut [i32],
) -> bool {
    cm::paint_stack();
    let mut log = Log(hio::hstderr().ok());
    let Some(core) = cortex_m::Peripherals::take() else {
        return false;
    };
    let ticks = SysTickCounter::start(core.SYST);
    // SAFETY: UART0 is the CMSDK UART at its documented address and this is its only user (the
    // function takes the core peripherals above, so it cannot run twice).
    // 25 MHz / 217 = 115200 baud (QEMU ignores the rate but wants a divider >= 16).
    #[allow(unsafe_code)]
    let uart = unsafe { Uart::new(UART0, 217) };
    let (mut rx, mut tx) = uart.split();
    let error = serve::<N, L, _, _, _, _>(blob, state, ticks, &mut rx, &mut tx, &mut log);
    if let Some(log) = log.0.as_mut() {
        let _ = writeln!(log, "error stage=load message=\"{error}\"");
    }
    false
}

/// Semihosting stderr, if the host offers it.
struct Log(Option<hio::HostStream>);

impl Events for Log {
    fn response(&mut self, response: &Response) {
        if let (Some(log), Response::Inferred(reply)) = (self.0.as_mut(), response) {
            let _ = writeln!(
                log,
                "id={} class={} ticks={} stack_peak={}",
                reply.id,
                reply.class,
                reply.ticks,
                cm::stack_peak()
            );
        }
    }
}
