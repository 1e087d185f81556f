//! picospike on QEMU `microbit` (nRF51822, Cortex-M0, 16 KiB RAM): the report program of
//! `picospike_firmware::qemu::report` (calibration, model load, one line per embedded sample,
//! summary, cost and memory lines over semihosting), then QEMU exits with status 0 if every
//! sample ran. Run with `cargo run --release` (the runner is in `.cargo/config.toml`).
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

// 16 KiB of RAM: 4 KiB for the stack and the statics, the rest for the network state.
picospike_firmware::qemu_board!("microbit", state_budget: 12 * 1024);

#[entry]
fn main() -> ! {
    let Some(state) = picospike_firmware::state_buffer!(<Board as qemu::Embedded>::STATE_WORDS)
    else {
        qemu::exit(false)
    };
    qemu::exit(qemu::report::<Board, { model::LAYERS }>(state, &CELLS))
}

#[exception]
fn SysTick() {
    SysTickCounter::on_wrap();
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    qemu::report_panic(info)
}
