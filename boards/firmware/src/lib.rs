//! Board-independent firmware logic for picospike.
//!
//! Every board crate under `boards/` is thin glue around this crate: it hands over its
//! peripherals through embedded-hal / embedded-io traits and a [`TickCounter`], and this crate
//! does the rest.
//!
//! - [`classifier`]: the [`Classifier`] trait that the firmware runs inference through, and (feature
//!   `runtime`) its implementation for `picospike_runtime::Network`.
//! - [`runner`]: run a model over the samples embedded in flash and emit one machine-readable
//!   [`report`] line per sample plus a summary (the QEMU boards use this).
//! - [`protocol`]: the UART protocol of the real boards, COBS-framed postcard messages
//!   (wire format in `boards/PROTOCOL.md`), with a [`protocol::Server`] that answers them.
//! - [`leds`]: show the predicted class on GPIO pins.
//! - [`ticks`]: measure cost through a small tick counter trait.
//! - `nb_serial` (feature `embedded-hal-nb`): embedded-io over embedded-hal-nb serial halves.
//! - `serve` (feature `runtime`): the serve loop of the boards that speak the protocol; each
//!   board hands over its UART halves, a tick counter and an `Events` sink.
//! - `cortex_m` (feature `cortex-m`): stack painting, a 64-bit SysTick counter, a calibration
//!   loop, (feature `dwt`) the DWT cycle counter, and `state_buffer!` for the network state.
//! - `qemu` (feature `qemu`): the QEMU boards' programs (report, panic-never, UART server).
//!
//! The crate is `no_std` and allocation-free; its unit tests run on the host.
#![cfg_attr(not(any(test, feature = "std")), no_std)]
#![deny(missing_docs)]
#![deny(unsafe_code)]

#[cfg(all(feature = "cortex-m", not(target_arch = "arm")))]
compile_error!(
    "feature `cortex-m` is for Cortex-M targets (thumbv6m-none-eabi, thumbv7em-none-eabihf, ...)"
);
#[cfg(all(feature = "dwt", target_arch = "arm", not(target_has_atomic = "32")))]
compile_error!(
    "feature `dwt` needs a Cortex-M3 or later: ARMv6-M (thumbv6m) has no DWT cycle counter"
);

pub mod classifier;
#[cfg(feature = "cortex-m")]
pub mod cortex_m;
pub mod leds;
#[cfg(any(test, feature = "embedded-hal-nb"))]
pub mod nb_serial;
pub mod protocol;
#[cfg(feature = "qemu")]
pub mod qemu;
pub mod report;
pub mod runner;
#[cfg(feature = "runtime")]
pub mod serve;
pub mod ticks;

pub use classifier::{Classifier, Inference};
pub use leds::ClassLeds;
pub use report::{LineWriter, SampleReport, Summary};
pub use runner::{
    parse_steps, run_samples, static_cost, step_cost, RunConfig, StaticCost, StepCost,
};
pub use ticks::{Calibration, Ratio, TickCounter};

/// Re-exported for [`state_buffer!`], so that board crates need no dependency of their own.
#[cfg(feature = "cortex-m")]
#[doc(hidden)]
pub use static_cell;

/// The network state buffer of `$words` `i32` words, in `.bss`, as a `&'static mut [i32]`:
/// `Some` the first time this expansion runs, `None` after.
///
/// The buffer is a zero-initialized static (a `ConstStaticCell`), so it is never built on the
/// stack whatever the model's size, and it is handed out once without `static mut`:
///
/// ```ignore
/// let state = picospike_firmware::state_buffer!(model::STATE_WORDS).unwrap();
/// ```
#[cfg(feature = "cortex-m")]
#[macro_export]
macro_rules! state_buffer {
    ($words:expr) => {{
        static STATE: $crate::static_cell::ConstStaticCell<[i32; $words]> =
            $crate::static_cell::ConstStaticCell::new([0; $words]);
        STATE
            .try_take()
            .map(|words| -> &'static mut [i32] { words })
    }};
}
