//! Everything the QEMU boards (`qemu-mps2-an386`, `qemu-microbit`) run, once for both.
//!
//! A QEMU board crate keeps its memory map, its `model` module and three items of glue that
//! must live in the binary (`#[entry]`, the SysTick exception, the panic handler); the programs
//! themselves are here:
//!
//! - [`report`]: calibrate SysTick, load the embedded model, classify every sample and print
//!   the report lines over semihosting (the boards' default binary);
//! - [`panic_never`]: the same inference path printed without `core::fmt`, for the bin whose
//!   panic handler cannot be linked;
//! - [`uart_server`]: the real boards' protocol server on the CMSDK UART of `mps2-an386`;
//! - [`exit`] and [`report_panic`]: the way out, with QEMU's exit status.

use core::fmt::Write as _;

use cortex_m_semihosting::{debug, hio};
use picospike_runtime::{LayeredNetwork, LoadError, Model, Network, RunError};

use crate::classifier::{Classifier, LayeredClassifier, NetworkClassifier};
use crate::cortex_m::{self as cm, SysTickCounter};
use crate::ticks::Ratio;
use crate::{
    run_samples, static_cost, step_cost, LineWriter, RunConfig, StaticCost, StepCost, TickCounter,
};

pub mod cmsdk_uart;
pub mod panic_never;
mod uart_server;

pub use uart_server::uart_server;

/// The statics of the report program, sized for a model of `L` layers.
///
/// The board declares them (through [`qemu_board!`](crate::qemu_board)) with `L` the embedded
/// model module's `LAYERS`, so that `Model` and `Network` hold exactly the model's layers: any
/// model whose state fits the board's RAM runs on it without a build flag, and no RAM goes to
/// layers the model does not have. (Statics cannot be generic, hence this struct.)
pub struct Cells<const L: usize> {
    model: static_cell::StaticCell<Option<Model<'static, L>>>,
    network: static_cell::StaticCell<Option<Network<'static, 'static, L>>>,
    classifier: static_cell::StaticCell<NetworkClassifier<'static, 'static, 'static, L>>,
    layered: static_cell::StaticCell<LayeredNetwork<'static, 'static, L>>,
    layered_classifier: static_cell::StaticCell<LayeredClassifier<'static, 'static, 'static, L>>,
}

impl<const L: usize> Cells<L> {
    /// Empty cells, for a `static`.
    #[allow(clippy::new_without_default)] // a `static` needs a const fn
    pub const fn new() -> Self {
        Cells {
            model: static_cell::StaticCell::new(),
            network: static_cell::StaticCell::new(),
            classifier: static_cell::StaticCell::new(),
            layered: static_cell::StaticCell::new(),
            layered_classifier: static_cell::StaticCell::new(),
        }
    }
}

/// What a QEMU board embeds: its name and the generated `model` module's contents.
///
/// A trait rather than a value so that the programs are compiled for the board's own model:
/// the blob stays a constant that the optimizer sees through, as when each board had its copy.
pub trait Embedded {
    /// Board name printed on the `board=` line.
    const BOARD: &'static str;
    /// Model name printed on the `board=` line (`PICOSPIKE_MODEL_NAME`).
    const MODEL_NAME: &'static str;
    /// Timesteps per sample instead of the model's default (`PICOSPIKE_STEPS`), if set.
    const STEPS: Option<u16> = None;
    /// Whether the model runs in the layer-major order (`picospike_runtime::LayeredNetwork`):
    /// when its step-by-step state does not fit the board ([`qemu_board!`](crate::qemu_board)
    /// decides at compile time).
    const LAYERED: bool = false;
    /// Words of the state buffer, for the order the model runs in.
    const STATE_WORDS: usize;
    /// The model blob (`model::MODEL`).
    fn model() -> &'static [u8];
    /// Labelled samples (`model::SAMPLES`).
    fn samples() -> &'static [(&'static [u8], u8)];
}

/// Declare `struct Board` implementing [`Embedded`] from the calling crate's `model` module
/// (`MODEL`, `SAMPLES`, `STATE_WORDS`, `TIMESTEPS`, `layered_state_words`),
/// `PICOSPIKE_MODEL_NAME` and `PICOSPIKE_STEPS` (both set by `picospike_board_build::model`),
/// for a board named `$board` that gives at most `$budget` bytes of RAM to the network state,
/// and `static CELLS`, the report's [`Cells`] for the model's `LAYERS`:
///
/// ```ignore
/// mod model { include!(env!("PICOSPIKE_MODEL_RS")); }
/// picospike_firmware::qemu_board!("microbit", state_budget: 12 * 1024);
/// let state = picospike_firmware::state_buffer!(<Board as qemu::Embedded>::STATE_WORDS);
/// // then: picospike_firmware::qemu::report::<Board, { model::LAYERS }>(state, &CELLS)
/// ```
///
/// The execution order is chosen here, at compile time: step by step when the model's state
/// fits the budget, else layer by layer (`runtime/SEMANTICS.md`, "Execution orders") with the
/// state for the run's step count; a model that fits in neither order fails the build with a
/// message.
#[macro_export]
macro_rules! qemu_board {
    ($board:literal, state_budget: $budget:expr) => {
        /// This board and its model, for the shared programs of `picospike_firmware::qemu`.
        struct Board;

        /// The report program's statics, for the model's layer count.
        #[allow(dead_code)] // bins other than the report do not use them
        static CELLS: $crate::qemu::Cells<{ model::LAYERS }> = $crate::qemu::Cells::new();

        impl $crate::qemu::Embedded for Board {
            const BOARD: &'static str = $board;
            const MODEL_NAME: &'static str = env!("PICOSPIKE_MODEL_NAME");
            const STEPS: Option<u16> = $crate::parse_steps(env!("PICOSPIKE_STEPS"));
            const LAYERED: bool = model::STATE_WORDS * 4 > $budget;
            const STATE_WORDS: usize = if Self::LAYERED {
                model::layered_state_words(match Self::STEPS {
                    Some(steps) => steps,
                    None => model::TIMESTEPS,
                })
            } else {
                model::STATE_WORDS
            };
            fn model() -> &'static [u8] {
                model::MODEL
            }
            fn samples() -> &'static [(&'static [u8], u8)] {
                model::SAMPLES
            }
        }

        const _: () = assert!(
            <Board as $crate::qemu::Embedded>::STATE_WORDS * 4 <= $budget,
            "the model's state does not fit this board's RAM budget in either execution order \
             (step by step: model::STATE_WORDS; layer by layer: model::layered_state_words)"
        );
    };
}

/// Output over semihosting, one host call per line.
type Out = LineWriter<hio::HostStream, 256>;

/// Run the report program and say whether every sample ran.
///
/// Paints the stack, calibrates SysTick against a loop of known instruction count, loads the
/// model, classifies every sample and prints over semihosting:
///
/// ```text
/// calibration instructions=2000000 ticks=50000 instructions_per_tick=40
/// board=mps2-an386 model=demo model_bytes=2770 state_words=158 order=steps inputs=64 outputs=10 steps=20
/// load ticks=... instructions=...
/// sample=0 label=0 class=0 outputs=... spikes=83,0 events=... ticks=... instructions=...
/// ...
/// summary samples=10 correct=10 errors=0 steps=20 ticks_total=... instructions_per_inference=... instructions_per_step=...
/// cost steps=20,40 ticks=...,... ticks_per_step=... ticks_fixed=... instructions_per_step=... instructions_fixed=...
/// static samples=10 ticks_total=... ticks_per_inference=... instructions_per_inference=...
/// memory stack_peak=... stack_load=... stack_run=... stack_inference=... stack_model_load=... stack_size=... state_bytes=632 model_struct=... network_struct=...
/// ```
///
/// `state` is the network state buffer (`model::STATE_WORDS` words, from
/// [`state_buffer!`](crate::state_buffer)), `cells` the statics for a model of `L` layers
/// (`model::LAYERS`, declared by [`qemu_board!`](crate::qemu_board)). Call it once, from
/// `main`; the board's SysTick handler must call [`SysTickCounter::on_wrap`].
pub fn report<E: Embedded, const L: usize>(
    state: &'static mut [i32],
    cells: &'static Cells<L>,
) -> bool {
    cm::paint_stack();
    let Ok(stream) = hio::hstdout() else {
        return false;
    };
    // In a static rather than in a frame, like the model and the classifier.
    let Some(out) = cortex_m::singleton!(: Out = LineWriter::new(stream)) else {
        return false;
    };
    // Two calls that are never inlined, so that the load's frames and the sample loop's frames
    // are never on the stack together.
    // The order is a constant: the optimizer drops the other branch.
    let ok = if E::LAYERED {
        match setup::<E, L, _>(out, state, cells, bind_layered::<E, L>) {
            Ok(Some(setup)) => run::<E, L, _>(out, setup).unwrap_or(false),
            _ => false,
        }
    } else {
        match setup::<E, L, _>(out, state, cells, bind::<L>) {
            Ok(Some(setup)) => run::<E, L, _>(out, setup).unwrap_or(false),
            _ => false,
        }
    };
    let _ = out.flush();
    ok
}

/// What [`setup`] hands to [`run`].
struct Setup<const L: usize, C: 'static> {
    ticks: SysTickCounter,
    per_tick: Option<Ratio>,
    model: &'static Model<'static, L>,
    classifier: &'static mut C,
    /// Bytes of the network state and of the network's struct, for the `memory` line.
    state_bytes: usize,
    network_struct: usize,
    stack_model_load: usize,
    stack_load: usize,
}

/// A way to bind the model to its state and wrap it in a classifier, in `Cells`' statics.
type Bind<const L: usize, C> = fn(
    &'static Model<'static, L>,
    &'static mut [i32],
    &'static Cells<L>,
) -> Result<Option<&'static mut C>, LoadError>;

/// Calibrate, load the model, build the network with `bind`; `Ok(None)` when the model failed.
#[inline(never)]
fn setup<E: Embedded, const L: usize, C: Classifier<Error = RunError> + 'static>(
    out: &mut Out,
    state: &'static mut [i32],
    cells: &'static Cells<L>,
    bind: Bind<L, C>,
) -> Result<Option<Setup<L, C>>, core::fmt::Error> {
    let Some(core) = cortex_m::Peripherals::take() else {
        return Ok(None);
    };
    let mut ticks = SysTickCounter::start(core.SYST);

    let per_tick = calibrate_and_print(out, &mut ticks)?;

    let stack_boot = cm::stack_peak();
    let (loaded, load_ticks, stack_model_load) = load::<E, L>(&mut ticks, cells);
    let model = match loaded {
        Some(Ok(model)) => model,
        Some(Err(e)) => return error_line(out, "load", &e).map(|()| None),
        None => return Ok(None),
    };
    board_line::<E, L>(out, model)?;

    let state_bytes = state.len() * 4;
    let network_struct = if E::LAYERED {
        core::mem::size_of::<LayeredNetwork<'static, 'static, L>>()
    } else {
        core::mem::size_of::<Network<'static, 'static, L>>()
    };
    let classifier = match bind(model, state, cells) {
        Ok(Some(classifier)) => classifier,
        Ok(None) => return Ok(None),
        Err(e) => return error_line(out, "state", &e).map(|()| None),
    };
    load_line(out, load_ticks, per_tick)?;
    // Peak so far: boot, output setup, model validation, network construction.
    let stack_load = cm::stack_peak().max(stack_boot);
    Ok(Some(Setup {
        ticks,
        per_tick,
        model,
        classifier,
        state_bytes,
        network_struct,
        stack_model_load,
        stack_load,
    }))
}

/// Calibrate SysTick against instructions and print the `calibration` line.
///
/// This and the other line printers of [`setup`] are never inlined: their formatting frames
/// would otherwise be part of `setup`'s, which is live under the model load and the network
/// construction.
#[inline(never)]
fn calibrate_and_print(
    out: &mut Out,
    ticks: &mut SysTickCounter,
) -> Result<Option<Ratio>, core::fmt::Error> {
    let calibration = cm::calibrate(ticks, 10_000, 1_010_000);
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
    Ok(per_tick)
}

/// Print the `board` line.
#[inline(never)]
fn board_line<E: Embedded, const L: usize>(
    out: &mut Out,
    model: &Model<'_, L>,
) -> core::fmt::Result {
    writeln!(
        out,
        "board={} model={} model_bytes={} state_words={} order={} inputs={} outputs={} steps={}",
        E::BOARD,
        E::MODEL_NAME,
        E::model().len(),
        E::STATE_WORDS,
        if E::LAYERED { "layers" } else { "steps" },
        model.input_size(),
        model.output_size(),
        E::STEPS.unwrap_or(model.default_timesteps())
    )
}

/// Print the `error` line of a failed `stage`.
#[inline(never)]
fn error_line(out: &mut Out, stage: &str, error: &LoadError) -> core::fmt::Result {
    writeln!(out, "error stage={stage} message=\"{error}\"")
}

/// Print the `load` line: validating the blob (checksum, shapes, parameters) happens once per
/// boot.
#[inline(never)]
fn load_line(out: &mut Out, load_ticks: u64, per_tick: Option<Ratio>) -> core::fmt::Result {
    write!(out, "load ticks={load_ticks}")?;
    if let Some(ratio) = per_tick {
        write!(out, " instructions={}", ratio.apply(load_ticks))?;
    }
    writeln!(out)
}

/// Validate the embedded model into a static (`None` if called twice); also returns the ticks
/// it took and the stack `Model::load_into` needed below its caller. The model is built in the
/// static itself, so that no frame holds a copy of it.
#[inline(never)]
fn load<E: Embedded, const L: usize>(
    ticks: &mut SysTickCounter,
    cells: &'static Cells<L>,
) -> (
    Option<Result<&'static Model<'static, L>, LoadError>>,
    u64,
    usize,
) {
    let Some(place) = cells.model.try_init(None) else {
        return (None, 0, 0);
    };
    let ((loaded, load_ticks), stack) =
        cm::measure_stack(|| ticks.measure(|| Model::load_into(place, E::model())));
    (Some(loaded), load_ticks, stack)
}

/// Bind the model to its state in a static and wrap the network in a classifier, in a static
/// too (`None` if called twice). The network is built in its static itself
/// (`Network::new_into`): built by `Network::new` and moved into a `singleton!` inside the
/// classifier, it had three copies in this frame (1,048 bytes on the Cortex-M0).
#[inline(never)]
fn bind<const L: usize>(
    model: &'static Model<'static, L>,
    state: &'static mut [i32],
    cells: &'static Cells<L>,
) -> Result<Option<&'static mut NetworkClassifier<'static, 'static, 'static, L>>, LoadError> {
    let Some(place) = cells.network.try_init(None) else {
        return Ok(None);
    };
    let network = Network::new_into(place, model, state)?;
    Ok(cells
        .classifier
        .try_init(NetworkClassifier::with_capacity(model, network)))
}

/// [`bind`] for the layer-major order, with the state for the run's steps.
#[inline(never)]
fn bind_layered<E: Embedded, const L: usize>(
    model: &'static Model<'static, L>,
    state: &'static mut [i32],
    cells: &'static Cells<L>,
) -> Result<Option<&'static mut LayeredClassifier<'static, 'static, 'static, L>>, LoadError> {
    let steps = E::STEPS.unwrap_or(model.default_timesteps());
    let network = LayeredNetwork::new(model, state, steps)?;
    let Some(network) = cells.layered.try_init(network) else {
        return Ok(None);
    };
    Ok(cells
        .layered_classifier
        .try_init(LayeredClassifier::with_capacity(model, network)))
}

/// Classify every sample and print the figures; `Ok(false)` when a sample failed.
///
/// Each part is a call that is never inlined, and so is each line it prints: the formatting
/// frames then sit beside the inferences rather than above them (the `memory` line's alone
/// made this frame 320 bytes on the Cortex-M0, all of it live under every inference).
#[inline(never)]
fn run<E: Embedded, const L: usize, C: Classifier<Error = RunError>>(
    out: &mut Out,
    setup: Setup<L, C>,
) -> Result<bool, core::fmt::Error> {
    let Setup {
        mut ticks,
        per_tick,
        model,
        classifier,
        state_bytes,
        network_struct,
        stack_model_load,
        stack_load,
    } = setup;
    // Repaint so that the peak measured at the end is that of the inference loop alone.
    cm::paint_stack();
    let errors = samples::<E, C>(out, classifier, &mut ticks, per_tick)?;
    let stack_run = cm::stack_peak();
    let stack_inference = cost_line::<E, L, C>(out, classifier, model, &mut ticks, per_tick)?;
    static_line::<E, C>(out, classifier, &mut ticks, per_tick)?;
    memory_line::<L>(
        out,
        Stacks {
            load: stack_load,
            run: stack_run,
            inference: stack_inference,
            model_load: stack_model_load,
        },
        state_bytes,
        network_struct,
    )?;
    Ok(errors == 0)
}

/// Classify every sample, print a line for each and the summary; returns the failed samples.
#[inline(never)]
fn samples<E: Embedded, C: Classifier<Error = RunError>>(
    out: &mut Out,
    classifier: &mut C,
    ticks: &mut SysTickCounter,
    per_tick: Option<Ratio>,
) -> Result<usize, core::fmt::Error> {
    let config = RunConfig {
        steps: E::STEPS,
        instructions_per_tick: per_tick,
    };
    let summary = run_samples(classifier, E::samples(), config, ticks, out, |_| {})?;
    Ok(summary.errors)
}

/// Print the `cost` line: fixed versus per-step cost, from the first sample at the default
/// steps and twice that. Returns the stack one inference needs below its caller
/// (`stack_inference`), measured on the way. The printing is a call that is never inlined, for
/// the reason of [`static_line`].
#[inline(never)]
fn cost_line<E: Embedded, const L: usize, C: Classifier<Error = RunError>>(
    out: &mut Out,
    classifier: &mut C,
    model: &Model<'static, L>,
    ticks: &mut SysTickCounter,
    per_tick: Option<Ratio>,
) -> Result<usize, core::fmt::Error> {
    let Some((input, _)) = E::samples().first() else {
        return Ok(0);
    };
    let steps = E::STEPS.unwrap_or(model.default_timesteps());
    // The runs at `steps` and twice that, or, when the classifier's state holds no more than
    // `steps` (the layer-major order), at half of it and `steps`.
    let steps = match classifier.max_timesteps() {
        Some(most) if steps.saturating_mul(2) > most => (most / 2).max(1),
        _ => steps,
    };
    // Here, in a function generic over the board like the sample loop, and not in a helper
    // of its own: a function that is not generic is compiled in this crate, the sample loop
    // in the board's, and each had its own copy of `classify` (8 KB more on the Cortex-M4).
    let (cost, stack) = cm::measure_stack(|| step_cost(classifier, input, steps, ticks));
    print_cost(out, cost, per_tick)?;
    Ok(stack)
}

/// Print the `cost` line of [`cost_line`].
#[inline(never)]
fn print_cost(
    out: &mut Out,
    cost: Result<StepCost, RunError>,
    per_tick: Option<Ratio>,
) -> core::fmt::Result {
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
            writeln!(out)
        }
        Err(e) => writeln!(out, "cost error=\"{e}\""),
    }
}

/// The stack figures of the `memory` line, in bytes.
struct Stacks {
    /// Peak from the top of the stack up to the end of [`setup`].
    load: usize,
    /// Peak from the top of the stack over the sample loop.
    run: usize,
    /// One inference below its caller.
    inference: usize,
    /// `Model::load_into` below its caller.
    model_load: usize,
}

/// Print the `memory` line.
#[inline(never)]
fn memory_line<const L: usize>(
    out: &mut Out,
    stacks: Stacks,
    state_bytes: usize,
    network_struct: usize,
) -> core::fmt::Result {
    writeln!(
        out,
        "memory stack_peak={} stack_load={} stack_run={} stack_inference={} stack_model_load={} stack_size={} state_bytes={} model_struct={} network_struct={}",
        stacks.load.max(stacks.run),
        stacks.load,
        stacks.run,
        stacks.inference,
        stacks.model_load,
        cm::stack_size(),
        state_bytes,
        core::mem::size_of::<Model<'static, L>>(),
        network_struct,
    )
}

/// Print the `static` line: every sample at 0 steps, i.e. the part of an inference before its
/// first step (reset, static input drive) and the readout (`boards/bench.sh` divides it by the
/// static-input MACs). The printing is a call that is never inlined, so that the line's
/// formatting frame is not live under the inferences.
#[inline(never)]
fn static_line<E: Embedded, C: Classifier<Error = RunError>>(
    out: &mut Out,
    classifier: &mut C,
    ticks: &mut SysTickCounter,
    per_tick: Option<Ratio>,
) -> core::fmt::Result {
    print_static(out, measure_static::<E, C>(classifier, ticks), per_tick)
}

/// [`static_cost`] of every sample.
fn measure_static<E: Embedded, C: Classifier<Error = RunError>>(
    classifier: &mut C,
    ticks: &mut SysTickCounter,
) -> Result<StaticCost, RunError> {
    static_cost(classifier, E::samples(), ticks)
}

/// Print the `static` line of [`static_line`].
#[inline(never)]
fn print_static(
    out: &mut Out,
    cost: Result<StaticCost, RunError>,
    per_tick: Option<Ratio>,
) -> core::fmt::Result {
    match cost {
        Ok(cost) => {
            write!(out, "{cost}")?;
            if let Some(ratio) = per_tick {
                let total = ratio.apply(cost.ticks_total);
                write!(
                    out,
                    " instructions_per_inference={}",
                    total / u64::from(cost.samples.max(1))
                )?;
            }
            writeln!(out)
        }
        Err(e) => writeln!(out, "static error=\"{e}\""),
    }
}

/// Exit QEMU with status 0 if `ok`, 1 otherwise (semihosting `SYS_EXIT`).
pub fn exit(ok: bool) -> ! {
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

/// Print `panic: ...` on semihosting stderr and exit QEMU with a failure status; the boards'
/// `#[panic_handler]` calls this.
pub fn report_panic(info: &core::panic::PanicInfo) -> ! {
    if let Ok(mut stream) = hio::hstderr() {
        let _ = writeln!(stream, "panic: {info}");
    }
    exit(false)
}
