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
//! - `cortex_m` (feature `cortex-m`): stack painting, a 64-bit SysTick counter, a calibration
//!   loop and (feature `dwt`) the DWT cycle counter.
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
pub mod report;
pub mod runner;
pub mod ticks;

pub use classifier::{Classifier, Inference};
pub use leds::ClassLeds;
pub use report::{LineWriter, SampleReport, Summary};
pub use runner::{run_samples, step_cost, RunConfig, StepCost};
pub use ticks::{Calibration, Ratio, TickCounter};
