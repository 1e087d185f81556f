//! picospike on the nRF52840-DK.
//!
//! Loads the embedded model, then serves the UART protocol (`boards/PROTOCOL.md`) on the
//! J-Link virtual COM port (UARTE0, TX P0.06, RX P0.08, 115200 8N1): each `Infer` request is
//! answered with the class, outputs, spike counts and the core cycles spent (DWT `CYCCNT`,
//! 64 MHz). Every reply is logged with defmt over RTT and its class shown in binary on LED1-LED4
//! (P0.13-P0.16, active low, LED1 = bit 0). See README.md.
#![no_std]
#![no_main]

use defmt_rtt as _;
use panic_probe as _;

use cortex_m_rt::entry;
use nrf52840_hal::gpio::{p0, Level, Output, Pin, PushPull};
use nrf52840_hal::uarte::{Baudrate, Parity, Pins, Uarte};
use nrf52840_hal::{clocks::Clocks, pac};
use picospike_firmware::cortex_m::{self as cm, DwtCycles};
use picospike_firmware::serve::{serve, DefmtEvents};
use picospike_firmware::ClassLeds;

/// The embedded model, samples and sizes (see `picospike_board_build`).
#[allow(dead_code, missing_docs)]
mod model {
    include!(env!("PICOSPIKE_MODEL_RS"));
}

/// Longest request frame accepted (an `Infer` carries the sample plus a few header bytes).
const MAX_FRAME: usize = model::INPUT_SIZE + 32;
/// Layer capacity of the model (the runtime's default).
const LAYERS: usize = 8;

#[entry]
fn main() -> ! {
    cm::paint_stack();
    let mut core = cortex_m::Peripherals::take().unwrap();
    let p = pac::Peripherals::take().unwrap();
    // The 64 MHz crystal for an accurate UART baud rate.
    let _clocks = Clocks::new(p.CLOCK).enable_ext_hfosc();
    let ticks = DwtCycles::start(&mut core.DCB, &mut core.DWT);

    let port0 = p0::Parts::new(p.P0);
    let led = |pin: Pin<_>| -> Pin<Output<PushPull>> { pin.into_push_pull_output(Level::High) };
    let leds = ClassLeds::new(
        [
            led(port0.p0_13.degrade()),
            led(port0.p0_14.degrade()),
            led(port0.p0_15.degrade()),
            led(port0.p0_16.degrade()),
        ],
        true,
    );

    let pins = Pins {
        txd: port0.p0_06.into_push_pull_output(Level::High).degrade(),
        rxd: port0.p0_08.into_floating_input().degrade(),
        cts: None,
        rts: None,
    };
    let uarte = Uarte::new(p.UARTE0, pins, Parity::EXCLUDED, Baudrate::BAUD115200);
    let tx_buf = cortex_m::singleton!(: [u8; 64] = [0; 64]).unwrap();
    let rx_buf = cortex_m::singleton!(: [u8; 1] = [0; 1]).unwrap();
    let (mut tx, mut rx) = uarte.split(tx_buf, rx_buf).unwrap();

    let state = picospike_firmware::state_buffer!(model::STATE_WORDS).unwrap();
    let mut events = DefmtEvents {
        board: "nrf52840-dk",
        model_name: env!("PICOSPIKE_MODEL_NAME"),
        tick_unit: "cycles",
        leds,
    };
    let error = serve::<MAX_FRAME, LAYERS, _, _, _, _>(
        model::MODEL,
        state,
        ticks,
        &mut rx,
        &mut tx,
        &mut events,
    );
    defmt::panic!("model does not load: {}", error)
}
