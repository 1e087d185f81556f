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
use picospike_firmware::cortex_m::{self as cm, DwtCycles};
use picospike_firmware::nb_serial::{NbRx, NbTx};
use picospike_firmware::serve::{serve, DefmtEvents};
use picospike_firmware::ClassLeds;
use stm32f4xx_hal::{pac, prelude::*, rcc::Config};

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
    let dp = pac::Peripherals::take().unwrap();
    let mut rcc = dp.RCC.freeze(Config::hsi().sysclk(100.MHz()));
    let ticks = DwtCycles::start(&mut core.DCB, &mut core.DWT);

    let gpioa = dp.GPIOA.split(&mut rcc);
    let gpiob = dp.GPIOB.split(&mut rcc);
    let leds = ClassLeds::new(
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
        // RX pulled up: an idle, unconnected line then reads as idle, not as noise.
        .serial::<u8>(
            (gpioa.pa2, gpioa.pa3.internal_pull_up(true)),
            115_200.bps(),
            &mut rcc,
        )
        .unwrap();
    let (tx, rx) = serial.split();
    let (mut tx, mut rx) = (NbTx(tx), NbRx::new(rx));

    let state = picospike_firmware::state_buffer!(model::STATE_WORDS).unwrap();
    let mut events = DefmtEvents {
        board: "stm32f411",
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
