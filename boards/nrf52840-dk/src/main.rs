//! picospike on the nRF52840-DK.
//!
//! Loads the embedded model, then serves the UART protocol (`boards/PROTOCOL.md`) on the
//! J-Link virtual COM port (UARTE0, TX P0.06, RX P0.08, 115200 8N1): each `Infer` request is
//! answered with the class, outputs, spike counts and the core cycles spent (DWT `CYCCNT`,
//! 64 MHz). Every reply is logged with defmt over RTT and its class shown in binary on LED1-LED4
//! (P0.13-P0.16, active low, LED1 = bit 0). At boot it keeps the debug port open on chips of
//! build code F and later (see `keep_debug_port_open`) and pulls the RX line up. See README.md.
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

/// FICR INFO.VARIANT byte that holds the build code letter (`AAF0`: bits 15:8 = `F`).
const BUILD_CODE_SHIFT: u32 = 8;
/// UICR.APPROTECT / APPROTECT.DISABLE value that leaves the debug port open (`HwDisabled`,
/// `SwDisable`).
const APPROTECT_OPEN: u32 = 0x5A;
/// APPROTECT.DISABLE, the register the firmware of build code F and later writes at every boot
/// (not in nrf52840-pac 0.12).
const APPROTECT_DISABLE: usize = 0x4000_0558;
/// P0.PIN_CNF\[8\], the UART RX pin's configuration.
const P0_PIN_CNF_8: usize = 0x5000_0000 + 0x700 + 4 * 8;
/// PIN_CNF.PULL = pull-up.
const PULL_UP: u32 = 3 << 2;

/// Keep the SWD port open on nRF52840 build code F and later (DK v3): those chips lock it again
/// at every reset unless UICR.APPROTECT holds `HwDisabled` and the firmware writes
/// APPROTECT.DISABLE at boot, and probe-rs then reports "core is locked" (recover with
/// `probe-rs erase --allow-erase-all`). UICR is written once (it needs a reset to take effect);
/// older chips are left alone, as any UICR value but `0xFF` would lock them.
fn keep_debug_port_open(ficr: &pac::FICR, uicr: &pac::UICR, nvmc: &pac::NVMC) {
    let build_code = (ficr.info.variant.read().bits() >> BUILD_CODE_SHIFT) as u8;
    if build_code < b'F' {
        return;
    }
    if uicr.approtect.read().bits() != APPROTECT_OPEN {
        let wait = || while nvmc.ready.read().ready().is_busy() {};
        nvmc.config.write(|w| w.wen().wen());
        wait();
        // SAFETY: any 32-bit value is valid for UICR.APPROTECT; 0x5A is `HwDisabled`.
        uicr.approtect.write(|w| unsafe { w.bits(APPROTECT_OPEN) });
        wait();
        nvmc.config.write(|w| w.wen().ren());
        wait();
        cortex_m::peripheral::SCB::sys_reset();
    }
    // SAFETY: APPROTECT.DISABLE is a write-only 32-bit register of this chip (build code F and
    // later, checked above); writing `SwDisable` only opens the debug port.
    unsafe { (APPROTECT_DISABLE as *mut u32).write_volatile(APPROTECT_OPEN) };
}

/// Pull the RX line up: P0.08 floats until a terminal opens the J-Link VCOM port, and the UART
/// would read noise. (nrf-hal's `uarte::Pins` wants a floating input, so the pull is set after.)
fn pull_up_rx() {
    let cnf = P0_PIN_CNF_8 as *mut u32;
    // SAFETY: P0.PIN_CNF[8] is the configuration register of the RX pin, which this firmware
    // configured as an input and hands to nothing else; only its PULL field changes.
    unsafe { cnf.write_volatile((cnf.read_volatile() & !(3 << 2)) | PULL_UP) };
}

#[entry]
fn main() -> ! {
    cm::paint_stack();
    let mut core = cortex_m::Peripherals::take().unwrap();
    let p = pac::Peripherals::take().unwrap();
    keep_debug_port_open(&p.FICR, &p.UICR, &p.NVMC);
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
    pull_up_rx();
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
