//! picospike on QEMU `microbit` (nRF51822, Cortex-M0, 16 KiB RAM).
//!
//! Paints the stack, calibrates SysTick against a loop of known instruction count, loads the
//! embedded model, classifies every embedded sample, and prints over semihosting:
//!
//! ```text
//! board=microbit model=demo model_bytes=2770 state_words=158 inputs=64 outputs=10 steps=20
//! calibration instructions=2000000 ticks=50000 instructions_per_tick=40
//! load ticks=... instructions=...
//! sample=0 label=0 class=0 outputs=... spikes=83,0 events=... ticks=... instructions=...
//! ...
//! summary samples=10 correct=10 errors=0 steps=20 ticks_total=... instructions_per_inference=... instructions_per_step=...
//! cost steps=20,40 ticks=...,... ticks_per_step=... ticks_fixed=... instructions_per_step=... instructions_fixed=...
//! memory stack_peak=... stack_load=... stack_run=... stack_inference=... stack_model_load=... stack_size=... state_bytes=632 model_struct=... network_struct=...
//! ```
//!
//! then exits QEMU with status 0 if every sample ran (non-zero on a load or run error, or panic).
//! Run with `cargo run --release` (the runner is in `.cargo/config.toml`).
#![no_std]
#![no_main]

use core::fmt::Write as _;

use cortex_m_rt::{entry, exception};
use cortex_m_semihosting::{debug, hio};
use picospike_firmware::classifier::NetworkClassifier;
use picospike_firmware::cortex_m::{self as cm, SysTickCounter};
use picospike_firmware::{run_samples, step_cost, LineWriter, RunConfig, TickCounter};
use picospike_runtime::{Model, Network};

/// The embedded model, samples and sizes (see `picospike_board_build`).
#[allow(dead_code, missing_docs)]
mod model {
    include!(env!("PICOSPIKE_MODEL_RS"));
}

const BOARD: &str = "microbit";

/// Output over semihosting, one host call per line.
type Out = LineWriter<hio::HostStream, 256>;

#[entry]
fn main() -> ! {
    cm::paint_stack();
    let Ok(stream) = hio::hstdout() else {
        exit(false)
    };
    let mut out: Out = LineWriter::new(stream);
    let ok = run(&mut out).unwrap_or(false);
    let _ = out.flush();
    exit(ok)
}

/// Everything after the output is set up; `Ok(false)` when a sample or the model failed.
fn run(out: &mut Out) -> Result<bool, core::fmt::Error> {
    let Some(core) = cortex_m::Peripherals::take() else {
        return Ok(false);
    };
    let mut ticks = SysTickCounter::start(core.SYST);

    let state: &'static mut [i32] = {
        static mut STATE: [i32; model::STATE_WORDS] = [0; model::STATE_WORDS];
        // SAFETY: `run` is called once, from `main`, and this block is the only place that
        // names STATE, so this is the one and only reference to it.
        unsafe { &mut *core::ptr::addr_of_mut!(STATE) }
    };

    let calibration = cm::calibrate(&mut ticks, 10_000, 1_010_000);
    let per_tick = calibration.instructions_per_tick();
    write!(
        out,
        "calibration instructions={} ticks={}",
        calibration.instructions, calibration.ticks
    )?;
    match per_tick {
        Some(ratio) => writeln!(out, " instructions_per_tick={ratio}")?,
        None => writeln!(out)?,
    }

    let stack_boot = cm::stack_peak();
    // What validating the blob needs below its caller, and how long it takes.
    let ((loaded, load_ticks), stack_model_load) =
        cm::measure_stack(|| ticks.measure(|| Model::from_bytes(model::MODEL)));
    let model = match loaded {
        Ok(model) => model,
        Err(e) => {
            writeln!(out, "error stage=load message=\"{e}\"")?;
            return Ok(false);
        }
    };
    writeln!(
        out,
        "board={BOARD} model={} model_bytes={} state_words={} inputs={} outputs={} steps={}",
        env!("PICOSPIKE_MODEL_NAME"),
        model::MODEL.len(),
        model.state_words(),
        model.input_size(),
        model.output_size(),
        model.default_timesteps()
    )?;

    let network = match Network::new(&model, state) {
        Ok(network) => network,
        Err(e) => {
            writeln!(out, "error stage=state message=\"{e}\"")?;
            return Ok(false);
        }
    };
    // Validating the blob (checksum, shapes, parameters) happens once per boot.
    write!(out, "load ticks={load_ticks}")?;
    if let Some(ratio) = per_tick {
        write!(out, " instructions={}", ratio.apply(load_ticks))?;
    }
    writeln!(out)?;
    let mut classifier = NetworkClassifier::new(&model, network);
    // Peak so far: boot, output setup, model validation, network construction. Repaint so that
    // the peak measured at the end is that of the inference loop alone.
    let stack_load = cm::stack_peak().max(stack_boot);
    cm::paint_stack();
    let config = RunConfig {
        steps: None,
        instructions_per_tick: per_tick,
    };
    let summary = run_samples(
        &mut classifier,
        model::SAMPLES,
        config,
        &mut ticks,
        out,
        |_| {},
    )?;
    let stack_run = cm::stack_peak();

    // Fixed versus per-step cost, from the first sample at the default steps and twice that.
    // It also measures the stack one inference needs below its caller (`stack_inference`).
    let mut stack_inference = 0;
    if let Some((input, _)) = model::SAMPLES.first() {
        let steps = model.default_timesteps();
        let (cost, stack) =
            cm::measure_stack(|| step_cost(&mut classifier, input, steps, &mut ticks));
        stack_inference = stack;
        match cost {
            Ok(cost) => {
                write!(out, "{cost}")?;
                if let Some(ratio) = per_tick {
                    let instructions = cost.scaled(ratio);
                    write!(
                        out,
                        " instructions_per_step={} instructions_fixed={}",
                        instructions.per_step(),
                        instructions.fixed()
                    )?;
                }
                writeln!(out)?;
            }
            Err(e) => writeln!(out, "cost error=\"{e}\"")?,
        }
    }

    writeln!(
        out,
        "memory stack_peak={} stack_load={stack_load} stack_run={stack_run} stack_inference={stack_inference} stack_model_load={stack_model_load} stack_size={} state_bytes={} model_struct={} network_struct={}",
        stack_load.max(stack_run),
        cm::stack_size(),
        model::STATE_WORDS * 4,
        core::mem::size_of::<Model<'static>>(),
        core::mem::size_of::<Network<'static, 'static>>(),
    )?;
    Ok(summary.errors == 0)
}

fn exit(ok: bool) -> ! {
    debug::exit(if ok {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    // Only reached if the host ignored the exit request.
    loop {
        cortex_m::asm::wfi();
    }
}

#[exception]
fn SysTick() {
    SysTickCounter::on_wrap();
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    if let Ok(mut stream) = hio::hstderr() {
        let _ = writeln!(stream, "panic: {info}");
    }
    exit(false)
}
