//! Cortex-M helpers shared by the board crates: stack painting, a 64-bit SysTick counter, a
//! calibration loop and (feature `dwt`) the DWT cycle counter.
//!
//! The stack helpers rely on cortex-m-rt's memory layout: the stack grows down from
//! `_stack_start` towards `_stack_end`, which is the end of `.bss`/`.uninit` (nothing else lives
//! there, the firmware has no heap). Linked with flip-link (the real boards), the stack sits
//! below `.data`/`.bss` instead, from `_stack_start` down to the start of RAM, where flip-link
//! puts `_stack_end`: the helpers work unchanged. Should a layout ever put `_stack_end` above
//! `_stack_start`, they paint nothing and report 0 instead of writing over `.bss`.
#![allow(unsafe_code)]

use core::ptr::{addr_of, addr_of_mut};
use core::sync::atomic::{AtomicU32, Ordering};

use cortex_m::peripheral::{syst::SystClkSource, SYST};

use crate::ticks::Calibration;
use crate::TickCounter;

/// The word written over the free stack at boot.
pub const STACK_PAINT: u32 = 0x5A5A_A5A5;

/// Bytes just below the stack pointer that [`paint_stack`] leaves alone, for its own frame.
const PAINT_MARGIN: usize = 64;

extern "C" {
    /// Highest stack address (initial SP), from cortex-m-rt's `link.x`.
    static _stack_start: u32;
    /// Lowest address the stack may use (end of `.bss` and `.uninit`), from `link.x`.
    static mut _stack_end: u32;
}

fn stack_top() -> usize {
    // Taking the address of an extern static is safe; the symbol is never read.
    addr_of!(_stack_start) as usize
}

fn stack_bottom() -> *mut u32 {
    // Taking the address of an extern static is safe; no reference to it is created.
    addr_of_mut!(_stack_end)
}

/// Fill the unused stack with [`STACK_PAINT`], so that [`stack_peak`] can later tell how deep it
/// was used. Call it first thing in `main`; calling it again later (from `main`) starts a new
/// measurement for the code that runs after it.
#[inline(never)]
pub fn paint_stack() {
    if stack_size() == 0 {
        return; // no stack region below `_stack_start` that the helpers know (module docs)
    }
    let sp = cortex_m::register::msp::read() as usize;
    let mut word = stack_bottom();
    let end = sp.saturating_sub(PAINT_MARGIN);
    while (word as usize) < end {
        // SAFETY: `word` lies in [_stack_end, sp - margin): RAM reserved for the stack by the
        // linker script and below every live frame, so it holds no live object (the firmware
        // has no heap; an interrupt handler that runs meanwhile pushes its frame below `sp`
        // and is finished before this loop continues), and 4-byte aligned (link.x asserts it).
        unsafe {
            word.write_volatile(STACK_PAINT);
            word = word.add(1);
        }
    }
}

/// Peak stack use in bytes since [`paint_stack`]: the distance from the top of the stack to the
/// lowest word that no longer holds the paint. Includes the frames above `main` (reset
/// handler), which were live before painting.
pub fn stack_peak() -> usize {
    if stack_size() == 0 {
        return 0;
    }
    let top = stack_top();
    let mut word = stack_bottom();
    while (word as usize) < top {
        // SAFETY: `word` lies in [_stack_end, _stack_start), the stack region, which is mapped
        // RAM; reading a stale stack word is fine, it is only compared.
        let value = unsafe { word.read_volatile() };
        if value != STACK_PAINT {
            break;
        }
        // SAFETY: still within the same region, bounded by `top` above.
        word = unsafe { word.add(1) };
    }
    top - word as usize
}

/// Size of the stack region in bytes (from `_stack_end` to `_stack_start`); 0 when the stack
/// is not above `.bss` (flip-link).
pub fn stack_size() -> usize {
    stack_top().saturating_sub(stack_bottom() as usize)
}

/// SysTick wraps counted by [`SysTickCounter::on_wrap`].
static WRAPS: AtomicU32 = AtomicU32::new(0);

/// SysTick extended to 64 bits by counting its wraps in the SysTick exception.
///
/// SysTick counts the core clock down from `0xFF_FFFF`; the board's SysTick handler must call
/// [`SysTickCounter::on_wrap`]:
///
/// ```ignore
/// #[cortex_m_rt::exception]
/// fn SysTick() {
///     picospike_firmware::cortex_m::SysTickCounter::on_wrap();
/// }
/// ```
pub struct SysTickCounter {
    _syst: SYST,
}

/// SysTick reload value: the full 24 bits.
const RELOAD: u32 = 0x00FF_FFFF;

impl SysTickCounter {
    /// Start SysTick on the core clock with the full 24-bit period and its interrupt enabled.
    pub fn start(mut syst: SYST) -> Self {
        syst.disable_counter();
        syst.set_clock_source(SystClkSource::Core);
        syst.set_reload(RELOAD);
        syst.clear_current();
        syst.enable_interrupt();
        syst.enable_counter();
        Self { _syst: syst }
    }

    /// Count one wrap; call from the SysTick exception handler and nowhere else.
    pub fn on_wrap() {
        // Only this handler writes WRAPS and it cannot preempt itself, so load + store is
        // atomic enough (and works on thumbv6m, which has no read-modify-write atomics).
        WRAPS.store(
            WRAPS.load(Ordering::Relaxed).wrapping_add(1),
            Ordering::Relaxed,
        );
    }
}

impl TickCounter for SysTickCounter {
    fn now(&mut self) -> u64 {
        loop {
            let before = WRAPS.load(Ordering::Relaxed);
            let current = SYST::get_current();
            let pending = cortex_m::peripheral::SCB::is_pendst_pending();
            if WRAPS.load(Ordering::Relaxed) == before {
                // A wrap whose exception has not been taken yet (it is entered a few cycles
                // after the reload): the counter already restarted near the top.
                let unrecorded = u64::from(pending && current > RELOAD / 2);
                let elapsed_in_period = u64::from(RELOAD - current);
                return ((u64::from(before) + unrecorded) << 24) + elapsed_in_period;
            }
        }
    }
}

/// Run a loop of exactly `2 * iterations` instructions (`subs` + `bne`), plus a constant
/// overhead that [`calibrate`] cancels out. `iterations` must be at least 1.
#[inline(never)]
pub fn spin(iterations: u32) {
    let n = iterations.max(1);
    // SAFETY: the loop only decrements a scratch register; it touches no memory and no stack
    // and leaves the flags clobbered, which `asm!` assumes by default.
    unsafe {
        core::arch::asm!(
            "2:",
            "subs {0}, #1",
            "bne 2b",
            inout(reg) n => _,
            options(nomem, nostack),
        );
    }
}

/// Measure instructions per tick: time [`spin`] loops of `short` and `long` iterations and
/// divide the difference in instructions by the difference in ticks (the call overhead
/// cancels). Only meaningful where an instruction takes a fixed time, as in QEMU with
/// `-icount`; on silicon, branches cost extra cycles.
///
/// The measurement is taken three times and the median kept: under QEMU the first one after
/// SysTick starts reads about 1 % long (seen on mps2-an386 and microbit alike).
pub fn calibrate(ticks: &mut impl TickCounter, short: u32, long: u32) -> Calibration {
    let mut once = || {
        let ((), t_short) = ticks.measure(|| spin(short));
        let ((), t_long) = ticks.measure(|| spin(long));
        t_long.saturating_sub(t_short)
    };
    let mut runs = [once(), once(), once()];
    runs.sort_unstable();
    Calibration {
        instructions: 2 * u64::from(long.saturating_sub(short)),
        ticks: runs[1],
    }
}

/// The DWT cycle counter (Cortex-M3 and up), extended to 64 bits.
///
/// `CYCCNT` wraps every 2³² core cycles (67 s at 64 MHz); the extension counts a wrap whenever a
/// reading is below the previous one, so [`TickCounter::now`] must be called at least once per
/// wrap period, which reading it around each inference does.
#[cfg(feature = "dwt")]
pub struct DwtCycles {
    last: u32,
    high: u64,
}

#[cfg(feature = "dwt")]
impl DwtCycles {
    /// Enable tracing and start the cycle counter.
    pub fn start(dcb: &mut cortex_m::peripheral::DCB, dwt: &mut cortex_m::peripheral::DWT) -> Self {
        dcb.enable_trace();
        cortex_m::peripheral::DWT::unlock();
        dwt.enable_cycle_counter();
        Self {
            last: cortex_m::peripheral::DWT::cycle_count(),
            high: 0,
        }
    }
}

#[cfg(feature = "dwt")]
impl TickCounter for DwtCycles {
    fn now(&mut self) -> u64 {
        let count = cortex_m::peripheral::DWT::cycle_count();
        if count < self.last {
            self.high += 1 << 32;
        }
        self.last = count;
        self.high + u64::from(count)
    }
}

/// Bytes of stack in use right now (from the top of the stack to the stack pointer); with
/// [`stack_peak`] after a call, `peak - depth` is what that call needed below its caller.
#[inline(always)]
pub fn stack_depth() -> usize {
    stack_top().saturating_sub(cortex_m::register::msp::read() as usize)
}

/// Run `f` and measure the stack it needs below the caller, in bytes. Repaints the free
/// stack first, so [`stack_peak`] afterwards covers only what ran since.
///
/// `f` runs in a function that is never inlined, so its locals (and whatever the optimizer
/// inlines into it) live below the measuring point and are counted.
pub fn measure_stack<R>(f: impl FnOnce() -> R) -> (R, usize) {
    paint_stack();
    let depth = stack_depth();
    let result = call_outlined(f);
    (result, stack_peak().saturating_sub(depth))
}

#[inline(never)]
fn call_outlined<R>(f: impl FnOnce() -> R) -> R {
    f()
}
