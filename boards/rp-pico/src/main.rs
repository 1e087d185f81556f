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
use picospike_firmware::classifier::NetworkClassifier;
use picospike_firmware::cortex_m as cm;
use picospike_firmware::protocol::{Response, Server};
use picospike_firmware::{ClassLeds, TickCounter};
use picospike_runtime::{Model, Network};
use rp2040_hal::clocks::{init_clocks_and_plls, Clock};
use rp2040_hal::gpio::{FunctionUart, Pins};
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
    let mut leds = ClassLeds::new(
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
        pins.gpio1.into_function::<FunctionUart>(),
    );
    let uart = UartPeripheral::new(pac.UART0, uart_pins, &mut pac.RESETS)
        .enable(
            UartConfig::new(115_200.Hz(), DataBits::Eight, None, StopBits::One),
            clocks.peripheral_clock.freq(),
        )
        .unwrap();
    let (mut rx, mut tx) = uart.split();

    let state: &'static mut [i32] = {
        // In .bss, zeroed by the runtime: never built on the stack, whatever the model's size.
        static mut STATE: [i32; model::STATE_WORDS] = [0; model::STATE_WORDS];
        // SAFETY: `main` runs once and this block is the only place that names STATE, so this
        // is the one and only reference to it.
        unsafe { &mut *core::ptr::addr_of_mut!(STATE) }
    };
    let model = match Model::from_bytes(model::MODEL) {
        Ok(model) => model,
        Err(e) => defmt::panic!("model does not load: {}", e),
    };
    let network = match Network::new(&model, state) {
        Ok(network) => network,
        Err(e) => defmt::panic!("state buffer: {}", e),
    };
    defmt::info!(
        "board=rp-pico model={=str} inputs={} outputs={} steps={} state_words={}",
        env!("PICOSPIKE_MODEL_NAME"),
        model.input_size(),
        model.output_size(),
        model.default_timesteps(),
        model.state_words()
    );
    let mut server: Server<_, _, MAX_FRAME> =
        Server::new(NetworkClassifier::new(&model, network), Micros(timer));

    loop {
        let result = server.poll(&mut rx, &mut tx, |response| {
            if let Response::Inferred(reply) = response {
                let _ = leds.show(reply.class);
                defmt::info!(
                    "id={} class={} outputs={} spikes={} events={} micros={} stack_peak={}",
                    reply.id,
                    reply.class,
                    reply.outputs.as_slice(),
                    reply.spike_counts.as_slice(),
                    reply.synaptic_events,
                    reply.ticks,
                    cm::stack_peak()
                );
            } else {
                defmt::info!("{}", response);
            }
        });
        if let Err(e) = result {
            defmt::warn!("uart: {}", defmt::Debug2Format(&e));
        }
    }
}
