//! The inference path with a panic handler that cannot be linked: proof that no panic is left.
//!
//! Build with `cargo build --release --features panic-never --bin panic-never`. The
//! `#[panic_handler]` below calls `picospike_panic_never_linked`, a symbol that exists nowhere,
//! so if any panic path survives optimization in model load or inference
//! (`picospike_firmware::qemu::panic_never`), the link fails with
//! `undefined symbol: picospike_panic_never_linked`. Exit status 0 if the model loaded and
//! every sample ran, 1 otherwise.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use picospike_firmware::qemu;

/// The embedded model, samples and sizes (see `picospike_board_build`).
#[allow(dead_code, missing_docs)]
mod model {
    include!(env!("PICOSPIKE_MODEL_RS"));
}

// 4 MiB of RAM.
picospike_firmware::qemu_board!("mps2-an386", state_budget: 3 * 1024 * 1024);

#[entry]
fn main() -> ! {
    let Some(state) = picospike_firmware::state_buffer!(<Board as qemu::Embedded>::STATE_WORDS)
    else {
        qemu::exit(false)
    };
    qemu::exit(qemu::panic_never::run::<Board, { model::LAYERS }>(state))
}

extern "C" {
    /// Defined nowhere: referencing it from the panic handler makes any panic a link error.
    fn picospike_panic_never_linked() -> !;
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    // SAFETY: never executed; the symbol does not exist, so a binary that can reach this
    // function does not link.
    unsafe { picospike_panic_never_linked() }
}
