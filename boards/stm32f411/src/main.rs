//! picospike on an STM32F411 (Nucleo-F411RE; a Black Pill works with the pin notes in README.md).
//!
//! Runs at 100 MHz from the internal oscillator, loads the embedded model, then serves the UART
//! protocol (`boards/PROTOCOL.md`) on USART2 (TX PA2, RX PA3: the ST-LINK virtual COM port,
//! 115200 8N1): each `Infer` request is answered with the class, outputs, spike counts and the
//! core cycles spent (DWT `CYCCNT`). Every reply is logged with defmt over RTT and its class shown
//! in binary on PA5 (LD2, bit 0), PA6, PA7 and PB6 (bits 1-3, external LEDs, active high).
#![no_std]
#![no_main]

use defmt_rtt as _;
use panic_probe as _;

use cortex_m_rt::entry;
use picospike_firmware::classifier::NetworkClassifier;
use picospike_firmware::cortex_m::{self as cm, DwtCycles};
use picospike_firmware::nb_serial::{NbRx, NbTx};
use picospike_firmware::protocol::{Response, Server};
use picospike_firmware::ClassLeds;
use picospike_runtime::{Model, Network};
use stm32f4xx_hal::{pac, prelude::*, rcc::Config};

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
    let dp = pac::Peripherals::take().unwrap();
    let mut rcc = dp.RCC.freeze(Config::hsi().sysclk(100.MHz()));
    let ticks = DwtCycles::start(&mut core.DCB, &mut core.DWT);

    let gpioa = dp.GPIOA.split(&mut rcc);
    let gpiob = dp.GPIOB.split(&mut rcc);
    let mut leds = ClassLeds::new(
        [
            gpioa.pa5.into_push_pull_output().erase(),
            gpioa.pa6.into_push_pull_output().erase(),
            gpioa.pa7.into_push_pull_output().erase(),
            gpiob.pb6.into_push_pull_output().erase(),
        ],
        false,
    );

    let serial = dp
        .USART2
        .serial::<u8>((gpioa.pa2, gpioa.pa3), 115_200.bps(), &mut rcc)
        .unwrap();
    let (tx, rx) = serial.split();
    let (mut tx, mut rx) = (NbTx(tx), NbRx(rx));

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
        "board=stm32f411 model={=str} inputs={} outputs={} steps={} state_words={}",
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
