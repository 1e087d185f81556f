//! picospike on QEMU `mps2-an386` (Cortex-M4F).
//!
//! Paints the stack, calibrates SysTick against a loop of known instruction count, loads the
//! embedded model, classifies every embedded sample, and prints over semihosting:
//!
//! ```text
//! board=mps2-an386 model=demo model_bytes=2770 state_words=158 inputs=64 outputs=10 steps=20
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
use core::mem::MaybeUninit;

use cortex_m_rt::{entry, exception};
use cortex_m_semihosting::{debug, hio};
use picospike_firmware::classifier::NetworkClassifier;
use picospike_firmware::cortex_m::{self as cm, SysTickCounter};
use picospike_firmware::ticks::Ratio;
use picospike_firmware::{run_samples, step_cost, LineWriter, RunConfig, TickCounter};
use picospike_runtime::{LoadError, Model, Network};

/// The embedded model, samples and sizes (see `picospike_board_build`).
#[allow(dead_code, missing_docs)]
mod model {
    include!(env!("PICOSPIKE_MODEL_RS"));
}

const BOARD: &str = "mps2-an386";

/// Layer capacity of `Model` and `Network` (the embedded models have two layers): the runtime's
/// default of 8 would cost stack at load time and RAM for nothing.
const LAYERS: usize = 3;

/// The network, as the runner sees it.
type Classifier = NetworkClassifier<'static, 'static, LAYERS>;

/// Output over semihosting, one host call per line.
type Out = LineWriter<hio::HostStream, 256>;

#[entry]
fn main() -> ! {
    cm::paint_stack();
    let Ok(stream) = hio::hstdout() else {
        exit(false)
    };
    // In a static rather than in main's frame, like the model and the classifier.
    let Some(out) = cortex_m::singleton!(: Out = LineWriter::new(stream)) else {
        exit(false)
    };
    // Two calls that are never inlined, so that the load's frames and the sample loop's frames
    // are never on the stack together.
    let ok = match setup(out) {
        Ok(Some(setup)) => run(out, setup).unwrap_or(false),
        _ => false,
    };
    let _ = out.flush();
    exit(ok)
}

/// What [`setup`] hands to [`run`].
struct Setup {
    ticks: SysTickCounter,
    per_tick: Option<Ratio>,
    model: &'static Model<'static, LAYERS>,
    classifier: &'static mut Classifier,
    stack_model_load: usize,
    stack_load: usize,
}

/// Calibrate, load the model, build the network; `Ok(None)` when the model failed.
#[inline(never)]
fn setup(out: &mut Out) -> Result<Option<Setup>, core::fmt::Error> {
    let Some(core) = cortex_m::Peripherals::take() else {
        return Ok(None);
    };
    let mut ticks = SysTickCounter::start(core.SYST);

    let state: &'static mut [i32] = {
        static mut STATE: [i32; model::STATE_WORDS] = [0; model::STATE_WORDS];
        // SAFETY: `setup` is called once, from `main`, and this block is the only place that
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
    let (loaded, load_ticks, stack_model_load) = load(&mut ticks);
    let model = match loaded {
        Ok(model) => model,
        Err(e) => {
            writeln!(out, "error stage=load message=\"{e}\"")?;
            return Ok(None);
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

    let classifier = match bind(model, state) {
        Ok(Some(classifier)) => classifier,
        Ok(None) => return Ok(None),
        Err(e) => {
            writeln!(out, "error stage=state message=\"{e}\"")?;
            return Ok(None);
        }
    };
    // Validating the blob (checksum, shapes, parameters) happens once per boot.
    write!(out, "load ticks={load_ticks}")?;
    if let Some(ratio) = per_tick {
        write!(out, " instructions={}", ratio.apply(load_ticks))?;
    }
    writeln!(out)?;
    // Peak so far: boot, output setup, model validation, network construction.
    let stack_load = cm::stack_peak().max(stack_boot);
    Ok(Some(Setup {
        ticks,
        per_tick,
        model,
        classifier,
        stack_model_load,
        stack_load,
    }))
}

/// Validate the embedded model into a static; also returns the ticks it took and the stack
/// `Model::from_bytes` needed below its caller. The result is written straight into the static
/// so that no frame holds a copy of the model.
#[inline(never)]
fn load(
    ticks: &mut SysTickCounter,
) -> (
    Result<&'static Model<'static, LAYERS>, LoadError>,
    u64,
    usize,
) {
    static mut LOADED: MaybeUninit<Result<Model<'static, LAYERS>, LoadError>> =
        MaybeUninit::uninit();
    // SAFETY: `load` is called once, from `setup`, and this is the only place that names
    // LOADED, so this is the one and only reference to it.
    let loaded = unsafe { &mut *core::ptr::addr_of_mut!(LOADED) };
    let ((loaded, load_ticks), stack) =
        cm::measure_stack(|| ticks.measure(|| &*loaded.write(Model::from_bytes(model::MODEL))));
    let model = match loaded {
        Ok(model) => Ok(model),
        Err(e) => Err(*e),
    };
    (model, load_ticks, stack)
}

/// Bind the model to its state and wrap the network in a classifier, in a static (`None` if
/// called twice).
#[inline(never)]
fn bind(
    model: &'static Model<'static, LAYERS>,
    state: &'static mut [i32],
) -> Result<Option<&'static mut Classifier>, LoadError> {
    let network = Network::new(model, state)?;
    Ok(cortex_m::singleton!(: Classifier = NetworkClassifier::with_capacity(model, network)))
}

/// Classify every sample and print the figures; `Ok(false)` when a sample failed.
#[inline(never)]
fn run(out: &mut Out, setup: Setup) -> Result<bool, core::fmt::Error> {
    let Setup {
        mut ticks,
        per_tick,
        model,
        classifier,
        stack_model_load,
        stack_load,
    } = setup;
    // Repaint so that the peak measured at the end is that of the inference loop alone.
    cm::paint_stack();
    let config = RunConfig {
        steps: None,
        instructions_per_tick: per_tick,
    };
    let summary = run_samples(classifier, model::SAMPLES, config, &mut ticks, out, |_| {})?;
    let stack_run = cm::stack_peak();

    // Fixed versus per-step cost, from the first sample at the default steps and twice that.
    // It also measures the stack one inference needs below its caller (`stack_inference`).
    let mut stack_inference = 0;
    if let Some((input, _)) = model::SAMPLES.first() {
        let steps = model.default_timesteps();
        let (cost, stack) = cm::measure_stack(|| step_cost(classifier, input, steps, &mut ticks));
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
        core::mem::size_of::<Model<'static, LAYERS>>(),
        core::mem::size_of::<Network<'static, 'static, LAYERS>>(),
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
