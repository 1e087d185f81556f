//! Measuring the cost of an inference.
//!
//! A board provides a [`TickCounter`]: a free-running, monotonic counter (SysTick extended to 64
//! bits on the QEMU boards, DWT `CYCCNT` or a hardware timer on real ones). How a tick relates to
//! instructions or core cycles is board knowledge, measured by calibration and passed around as a
//! [`Ratio`].

/// A monotonic counter read around each inference.
pub trait TickCounter {
    /// Current count. Must never go backwards.
    fn now(&mut self) -> u64;

    /// Ticks elapsed while running `f`, together with its result.
    fn measure<R>(&mut self, f: impl FnOnce() -> R) -> (R, u64) {
        let start = self.now();
        let result = f();
        let end = self.now();
        (result, end.saturating_sub(start))
    }
}

impl<T: TickCounter + ?Sized> TickCounter for &mut T {
    fn now(&mut self) -> u64 {
        (**self).now()
    }
}

/// A counter that always reads zero, for boards that cannot measure time.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoTicks;

impl TickCounter for NoTicks {
    fn now(&mut self) -> u64 {
        0
    }
}

/// An exact rational scale factor `num / den`, e.g. instructions per tick.
///
/// ```
/// use picospike_firmware::Ratio;
/// // mps2-an386 under `-icount shift=0`: SysTick runs at 25 MHz, one instruction per ns.
/// let instructions_per_tick = Ratio::new(40, 1);
/// assert_eq!(instructions_per_tick.apply(1_000), 40_000);
/// // microbit: 16 MHz SysTick, so 62.5 instructions per tick.
/// assert_eq!(Ratio::new(125, 2).apply(3), 187);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Ratio {
    /// Numerator.
    pub num: u32,
    /// Denominator (never zero).
    pub den: u32,
}

impl Ratio {
    /// `num / den`.
    ///
    /// # Panics
    ///
    /// If `den` is zero.
    pub const fn new(num: u32, den: u32) -> Self {
        assert!(den != 0, "Ratio denominator must not be zero");
        Self { num, den }
    }

    /// `value * num / den`, rounded down, computed without overflow for any `u64` value that
    /// fits the result.
    // Never inlined: the 128-bit product and quotient are a long routine on Cortex-M0, and the
    // report prints several figures through it (one copy: 4 KB less flash on the micro:bit,
    // where the MNIST image had 20 bytes to spare).
    #[inline(never)]
    pub fn apply(self, value: u64) -> u64 {
        let wide = u128::from(value) * u128::from(self.num) / u128::from(self.den);
        u64::try_from(wide).unwrap_or(u64::MAX)
    }
}

impl core::fmt::Display for Ratio {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        if self.den == 1 {
            write!(f, "{}", self.num)
        } else {
            write!(f, "{}/{}", self.num, self.den)
        }
    }
}

/// Result of timing two loops of known instruction count against a tick counter
/// (`cortex_m::calibrate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Calibration {
    /// Instructions the longer loop ran beyond the shorter one.
    pub instructions: u64,
    /// Ticks the longer loop took beyond the shorter one.
    pub ticks: u64,
}

impl Calibration {
    /// Instructions per tick: the measured fraction snapped to the nearest `n / d` with
    /// `d <= 8` when that is within the measurement's resolution (the two ends of a measurement
    /// can each be off by part of a tick, so `ticks` is only known to about ±1), the exact
    /// reduced fraction otherwise; `None` if no tick elapsed.
    pub fn instructions_per_tick(&self) -> Option<Ratio> {
        if self.ticks == 0 {
            return None;
        }
        let (instructions, ticks) = (u128::from(self.instructions), u128::from(self.ticks));
        for den in 1..=8u128 {
            let num = (instructions * den + ticks / 2) / ticks;
            // |num/den - i/t| <= 1.5 * (i/t) / t  <=>  2 * |num*t - i*den| * t <= 3 * i * den
            let diff = (num * ticks).abs_diff(instructions * den);
            if num > 0 && 2 * diff * ticks <= 3 * instructions * den {
                return Some(Ratio::new(u32::try_from(num).ok()?, den as u32));
            }
        }
        let g = gcd(self.instructions, self.ticks);
        let num = u32::try_from(self.instructions / g).ok()?;
        let den = u32::try_from(self.ticks / g).ok()?;
        Some(Ratio::new(num, den))
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Stepper(u64);
    impl TickCounter for Stepper {
        fn now(&mut self) -> u64 {
            self.0 += 7;
            self.0
        }
    }

    #[test]
    fn measure_returns_result_and_elapsed() {
        let mut t = Stepper(0);
        let (r, dt) = t.measure(|| 5);
        assert_eq!((r, dt), (5, 7));
        let by_ref = &mut t;
        assert_eq!(by_ref.measure(|| ()).1, 7);
        assert_eq!(NoTicks.measure(|| ()).1, 0);
    }

    #[test]
    fn ratio_is_exact_and_saturates() {
        assert_eq!(Ratio::new(125, 2).apply(2), 125);
        assert_eq!(Ratio::new(1, 3).apply(10), 3);
        assert_eq!(Ratio::new(u32::MAX, 1).apply(u64::MAX), u64::MAX);
        assert_eq!(format!("{}", Ratio::new(40, 1)), "40");
        assert_eq!(format!("{}", Ratio::new(125, 2)), "125/2");
    }

    #[test]
    fn calibration_snaps_to_small_fractions() {
        let per_tick = |instructions, ticks| {
            Calibration {
                instructions,
                ticks,
            }
            .instructions_per_tick()
        };
        assert_eq!(per_tick(2_000_000, 49_999), Some(Ratio::new(40, 1)));
        assert_eq!(per_tick(2_000_000, 32_001), Some(Ratio::new(125, 2)));
        assert_eq!(per_tick(1_000_500, 100_000), Some(Ratio::new(2001, 200)));
        assert_eq!(per_tick(1000, 0), None);
    }
}
