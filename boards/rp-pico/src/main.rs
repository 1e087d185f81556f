//! picospike on the Raspberry Pi Pico (RP2040, Cortex-M0+ at 125 MHz).
//!
//! Loads the embedded model, then serves the UART protocol (`boards/PROTOCOL.md`) on UART0
//! (TX GP0 = pin 1, RX GP1 = pin 2, 115200 8N1, 3.3 V): each `Infer` request is answered with
//! the class, outputs, spike counts and the microseconds spent (the RP2040 1 MHz timer; the
//! M0+ has no cycle counter). Every reply is logged with defmt over RTT and its class shown in
//! binary on GP25 (the on-board LED, bit 0) and GP2-GP4 (bits 1-3, external LEDs, active high).
#![no_std]
#![no_main]

use defmt_rtt as _;
use panic_probe as _;

use fugit::RateExtU32;
use picospike_firmware::cortex_m as cm;
use picospike_firmware::serve::{serve, DefmtEvents};
use picospike_firmware::{ClassLeds, TickCounter};
use rp2040_hal::clocks::{init_clocks_and_plls, Clock};
use rp2040_hal::gpio::{FunctionUart, Pins, PullUp};
use rp2040_hal::uart::{DataBits, StopBits, UartConfig, UartPeripheral};
use rp2040_hal::{pac, Sio, Timer, Watchdog};

/// The second-stage boot loader for the Pico's W25Q080-compatible flash.
#[link_section = ".boot2"]
#[used]
pub static BOOT2_FIRMWARE: [u8; 256] = rp2040_boot2::BOOT_LOADER_W25Q080;

/// The Pico's crystal.
const XOSC_HZ: u32 = 12_000_000;

/// The embedded model, samples and sizes (see `picospike_board_build`).
#[allow(dead_code, missing_docs)]
mod model {
    include!(env!("PICOSPIKE_MODEL_RS"));
}

/// Longest request frame accepted (an `Infer` carries the sample plus a few header bytes).
const MAX_FRAME: usize = model::INPUT_SIZE + 32;
/// Layer capacity of the model (the runtime's default).
const LAYERS: usize = 8;

/// The RP2040's free-running 1 MHz timer as the firmware's tick counter (1 tick = 1 µs).
struct Micros(Timer);

impl TickCounter for Micros {
    fn now(&mut self) -> u64 {
        self.0.get_counter().ticks()
    }
}

#[rp2040_hal::entry]
fn main() -> ! {
    cm::paint_stack();
    let mut pac = pac::Peripherals::take().unwrap();
    let mut watchdog = Watchdog::new(pac.WATCHDOG);
    let clocks = init_clocks_and_plls(
        XOSC_HZ,
        pac.XOSC,
        pac.CLOCKS,
        pac.PLL_SYS,
        pac.PLL_USB,
        &mut pac.RESETS,
        &mut watchdog,
    )
    .unwrap();
    let timer = Timer::new(pac.TIMER, &mut pac.RESETS, &clocks);

    let sio = Sio::new(pac.SIO);
    let pins = Pins::new(
        pac.IO_BANK0,
        pac.PADS_BANK0,
        sio.gpio_bank0,
        &mut pac.RESETS,
    );
    let leds = ClassLeds::new(
        [
            pins.gpio25.into_push_pull_output().into_dyn_pin(),
            pins.gpio2.into_push_pull_output().into_dyn_pin(),
            pins.gpio3.into_push_pull_output().into_dyn_pin(),
            pins.gpio4.into_push_pull_output().into_dyn_pin(),
        ],
        false,
    );

    let uart_pins = (
        pins.gpio0.into_function::<FunctionUart>(),
        // RX pulled up: with no adapter connected the line reads as idle, not as noise.
        pins.gpio1
            .into_function::<FunctionUart>()
            .into_pull_type::<PullUp>(),
    );
    let uart = UartPeripheral::new(pac.UART0, uart_pins, &mut pac.RESETS)
        .enable(
            UartConfig::new(115_200.Hz(), DataBits::Eight, None, StopBits::One),
            clocks.peripheral_clock.freq(),
        )
        .unwrap();
    let (mut rx, mut tx) = uart.split();

    let state = picospike_firmware::state_buffer!(model::STATE_WORDS).unwrap();
    let mut events = DefmtEvents {
        board: "rp-pico",
        model_name: env!("PICOSPIKE_MODEL_NAME"),
        tick_unit: "micros",
        leds,
    };
    let error = serve::<MAX_FRAME, LAYERS, _, _, _, _>(
        model::MODEL,
        state,
        Micros(timer),
        &mut rx,
        &mut tx,
        &mut events,
    );
    defmt::panic!("model does not load: {}", error)
}
