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
use picospike_firmware::classifier::NetworkClassifier;
use picospike_firmware::cortex_m::{self as cm, DwtCycles};
use picospike_firmware::protocol::{Response, Server};
use picospike_firmware::ClassLeds;
use picospike_runtime::{Model, Network};

/// The embedded model, samples and sizes (see `picospike_board_build`).
#[allow(dead_code, missing_docs)]
mod model {
    include!(env!("PICOSPIKE_MODEL_RS"));
}

/// Longest request frame accepted (an `Infer` carries the sample plus a few header bytes).
const MAX_FRAME: usize = model::INPUT_SIZE + 32;

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
    let mut leds = ClassLeds::new(
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
        "board=nrf52840-dk model={=str} inputs={} outputs={} steps={} state_words={}",
        env!("PICOSPIKE_MODEL_NAME"),
        model.input_size(),
        model.output_size(),
        model.default_timesteps(),
        model.state_words()
    );
    let mut server: Server<_, _, MAX_FRAME> =
        Server::new(NetworkClassifier::new(&model, network), ticks);

    loop {
        let result = server.poll(&mut rx, &mut tx, |response| {
            if let Response::Inferred(reply) = response {
                let _ = leds.show(reply.class);
                defmt::info!(
                    "id={} class={} outputs={} spikes={} events={} cycles={} stack_peak={}",
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
