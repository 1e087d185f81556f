//! The real boards' UART protocol server (`picospike_firmware::serve`), on QEMU `mps2-an386`'s
//! CMSDK UART0, so that the host client `tools/pspk_uart.py` can be tested end to end without
//! hardware. Run it with UART0 on QEMU's stdio and nothing else there:
//!
//! ```sh
//! boards/tools/pspk_uart.py --exec "qemu-system-arm -M mps2-an386 -display none -monitor none \
//!     -serial stdio -semihosting-config enable=on,target=native -icount shift=0 \
//!     -kernel target/thumbv7em-none-eabihf/release/uart-server" run
//! ```
//!
//! (`boards/run-qemu.sh qemu-mps2-an386 --uart` does this.) The log goes to semihosting stderr.
#![no_std]
#![no_main]

use cortex_m_rt::{entry, exception};
use picospike_firmware::cortex_m::SysTickCounter;
use picospike_firmware::qemu;

/// The embedded model, samples and sizes (see `picospike_board_build`).
#[allow(dead_code, missing_docs)]
mod model {
    include!(env!("PICOSPIKE_MODEL_RS"));
}

/// Longest request frame accepted, as on the real boards.
const MAX_FRAME: usize = model::INPUT_SIZE + 32;

#[entry]
fn main() -> ! {
    let Some(state) = picospike_firmware::state_buffer!(model::STATE_WORDS) else {
        qemu::exit(false)
    };
    qemu::exit(qemu::uart_server::<MAX_FRAME, { model::LAYERS }>(
        model::MODEL,
        state,
    ))
}

#[exception]
fn SysTick() {
    SysTickCounter::on_wrap();
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    qemu::report_panic(info)
}
