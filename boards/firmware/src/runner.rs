//! Run the model over samples stored in flash and report each result (the QEMU boards' job).

use core::fmt;

use crate::{Classifier, Ratio, SampleReport, Summary, TickCounter};

/// One stored sample: its input bytes and, if known, its label.
pub trait Sample {
    /// Input bytes, `Classifier::input_size` of them.
    fn input(&self) -> &[u8];
    /// Expected class.
    fn label(&self) -> Option<u16>;
}

/// The layout of the exporter's generated `SAMPLES: &[(&[u8], u8)]`.
impl Sample for (&[u8], u8) {
    fn input(&self) -> &[u8] {
        self.0
    }
    fn label(&self) -> Option<u16> {
        Some(u16::from(self.1))
    }
}

/// An unlabelled sample.
impl Sample for &[u8] {
    fn input(&self) -> &[u8] {
        self
    }
    fn label(&self) -> Option<u16> {
        None
    }
}

impl<S: Sample + ?Sized> Sample for &S {
    fn input(&self) -> &[u8] {
        (**self).input()
    }
    fn label(&self) -> Option<u16> {
        (**self).label()
    }
}

/// How to run the samples.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunConfig {
    /// Timesteps per inference; `None` uses the model's default.
    pub steps: Option<u16>,
    /// Board calibration, to report instructions besides ticks.
    pub instructions_per_tick: Option<Ratio>,
}

/// The step override `PICOSPIKE_STEPS` as the board crates see it (`env!`, set by
/// `picospike_board_build::model`): `None` for an empty or malformed value or 0, so that the
/// model's default applies. A `const fn`, so that boards read it at compile time.
///
/// ```
/// use picospike_firmware::parse_steps;
/// assert_eq!(parse_steps(""), None);
/// assert_eq!(parse_steps("20"), Some(20));
/// assert_eq!(parse_steps("0"), None);
/// assert_eq!(parse_steps("70000"), None);
/// ```
pub const fn parse_steps(text: &str) -> Option<u16> {
    let bytes = text.as_bytes();
    if bytes.is_empty() {
        return None;
    }
    let mut value: u32 = 0;
    let mut i = 0;
    while i < bytes.len() {
        let digit = bytes[i];
        if !digit.is_ascii_digit() {
            return None;
        }
        value = value * 10 + (digit - b'0') as u32;
        if value > u16::MAX as u32 {
            return None;
        }
        i += 1;
    }
    if value == 0 {
        None
    } else {
        Some(value as u16)
    }
}

/// Classify every sample, writing one [`SampleReport`] line per sample and a final [`Summary`]
/// line to `out`, and calling `on_class` with each predicted class (to drive LEDs).
///
/// A failed inference prints `sample=<i> error="<message>"` and counts in
/// [`Summary::errors`]; the run goes on with the next sample.
///
/// # Errors
///
/// Only if writing to `out` fails.
pub fn run_samples<C, T, W, I>(
    classifier: &mut C,
    samples: I,
    config: RunConfig,
    ticks: &mut T,
    out: &mut W,
    mut on_class: impl FnMut(u16),
) -> Result<Summary, fmt::Error>
where
    C: Classifier,
    T: TickCounter,
    W: fmt::Write,
    I: IntoIterator,
    I::Item: Sample,
{
    let steps = config
        .steps
        .unwrap_or_else(|| classifier.default_timesteps());
    let mut summary = Summary {
        steps,
        instructions_per_tick: config.instructions_per_tick,
        ..Summary::default()
    };
    for (index, sample) in samples.into_iter().enumerate() {
        summary.samples += 1;
        let label = sample.label();
        let start = ticks.now();
        let result = classifier.classify(sample.input(), steps);
        let elapsed = ticks.now().saturating_sub(start);
        match result {
            Ok(inference) => {
                summary.ticks_total += elapsed;
                summary.ticks_max = summary.ticks_max.max(elapsed);
                if label == Some(inference.class) {
                    summary.correct += 1;
                }
                on_class(inference.class);
                let report = SampleReport {
                    index,
                    label,
                    inference,
                    ticks: elapsed,
                    instructions_per_tick: config.instructions_per_tick,
                };
                write_line(out, &report)?;
            }
            Err(err) => {
                summary.errors += 1;
                write_error(out, index, &err)?;
            }
        }
    }
    write_line(out, &summary)?;
    Ok(summary)
}

// The lines of `run_samples` are written by functions that are never inlined: their formatting
// frames are then not part of the sample loop's, which is live under every inference (on the
// Cortex-M0 board the lines' frames now sit beside the inference, not below it).

/// `writeln!(out, "{line}")`.
#[inline(never)]
fn write_line<W: fmt::Write>(out: &mut W, line: &dyn fmt::Display) -> fmt::Result {
    writeln!(out, "{line}")
}

/// The line of a sample whose inference failed (its arguments would otherwise be in the loop's
/// frame).
#[inline(never)]
fn write_error<W: fmt::Write>(out: &mut W, index: usize, err: &dyn fmt::Display) -> fmt::Result {
    writeln!(out, "sample={index} error=\"{err}\"")
}

/// Fixed and per-step cost of an inference, from timing one input at two step counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepCost {
    /// The shorter run's timesteps (the longer one runs twice as many).
    pub steps: u16,
    /// Ticks of the shorter run.
    pub ticks_short: u64,
    /// Ticks of the longer run.
    pub ticks_long: u64,
}

impl StepCost {
    /// Ticks each extra timestep costs: `(long - short) / steps`.
    pub fn per_step(&self) -> u64 {
        self.ticks_long.saturating_sub(self.ticks_short) / u64::from(self.steps.max(1))
    }

    /// Ticks an inference costs besides its steps (reset, input encoding, readout):
    /// `short - steps * per_step`.
    pub fn fixed(&self) -> u64 {
        self.ticks_short
            .saturating_sub(u64::from(self.steps) * self.per_step())
    }
}

impl StepCost {
    /// The same measurement in other units, e.g. instructions with the board's calibration;
    /// converting the totals first keeps [`per_step`](Self::per_step) exact to the new unit.
    pub fn scaled(self, ratio: crate::Ratio) -> Self {
        Self {
            steps: self.steps,
            ticks_short: ratio.apply(self.ticks_short),
            ticks_long: ratio.apply(self.ticks_long),
        }
    }
}

impl fmt::Display for StepCost {
    /// `cost steps=S,2S ticks=T1,T2 ticks_per_step=P ticks_fixed=F`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cost steps={},{} ticks={},{} ticks_per_step={} ticks_fixed={}",
            self.steps,
            u32::from(self.steps) * 2,
            self.ticks_short,
            self.ticks_long,
            self.per_step(),
            self.fixed()
        )
    }
}

/// Cost of the part of an inference that does not depend on the step count: every sample
/// classified with 0 timesteps (reset, the static input drive, the readout).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StaticCost {
    /// Samples measured.
    pub samples: u32,
    /// Ticks of all of them.
    pub ticks_total: u64,
}

impl StaticCost {
    /// Mean ticks per sample (0 without samples).
    pub fn per_inference(&self) -> u64 {
        self.ticks_total / u64::from(self.samples.max(1))
    }
}

impl fmt::Display for StaticCost {
    /// `static samples=N ticks_total=T ticks_per_inference=M`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "static samples={} ticks_total={} ticks_per_inference={}",
            self.samples,
            self.ticks_total,
            self.per_inference()
        )
    }
}

/// Time every sample at 0 timesteps: what an inference costs before its first step (reset and
/// the static first-layer drive, computed once per inference), and the readout. With
/// [`step_cost`] and the mean of [`run_samples`] this separates the static-input MACs from the
/// per-step work in `boards/BENCH.md`.
///
/// # Errors
///
/// The classifier's error for the first sample that fails.
pub fn static_cost<C, T, I>(
    classifier: &mut C,
    samples: I,
    ticks: &mut T,
) -> Result<StaticCost, C::Error>
where
    C: Classifier,
    T: TickCounter,
    I: IntoIterator,
    I::Item: Sample,
{
    let mut cost = StaticCost {
        samples: 0,
        ticks_total: 0,
    };
    for sample in samples {
        let (result, elapsed) =
            ticks.measure(|| classifier.classify(sample.input(), 0).map(|_| ()));
        result?;
        cost.samples = cost.samples.saturating_add(1);
        cost.ticks_total = cost.ticks_total.saturating_add(elapsed);
    }
    Ok(cost)
}

/// Time `input` at `steps` and `2 * steps` timesteps, separating the per-step cost from the
/// fixed cost of an inference (the mean of [`Summary`] mixes the two).
///
/// # Errors
///
/// The classifier's error from either run.
pub fn step_cost<C: Classifier, T: TickCounter>(
    classifier: &mut C,
    input: &[u8],
    steps: u16,
    ticks: &mut T,
) -> Result<StepCost, C::Error> {
    let long = steps.saturating_mul(2);
    let (short_result, ticks_short) =
        ticks.measure(|| classifier.classify(input, steps).map(|_| ()));
    short_result?;
    let (long_result, ticks_long) = ticks.measure(|| classifier.classify(input, long).map(|_| ()));
    long_result?;
    Ok(StepCost {
        steps,
        ticks_short,
        ticks_long,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classifier::tests::Scripted;

    struct Clock(u64);
    impl TickCounter for Clock {
        fn now(&mut self) -> u64 {
            self.0 += 50;
            self.0
        }
    }

    static SAMPLES: &[(&[u8], u8)] = &[(&[1, 2, 3], 1), (&[6, 0, 0], 1), (&[7, 7], 3)];

    #[test]
    fn reports_every_sample_and_a_summary() {
        let mut out = String::new();
        let mut classes = Vec::new();
        let config = RunConfig {
            steps: Some(2),
            instructions_per_tick: Some(Ratio::new(40, 1)),
        };
        let summary = run_samples(
            &mut Scripted::new(),
            SAMPLES,
            config,
            &mut Clock(0),
            &mut out,
            |c| classes.push(c),
        )
        .unwrap();
        assert_eq!(
            out,
            "sample=0 label=1 class=1 outputs=0,131072,-1,0 spikes=4,3 events=20 ticks=50 instructions=2000\n\
             sample=1 label=1 class=2 outputs=0,0,131072,-1 spikes=0,0 events=20 ticks=50 instructions=2000\n\
             sample=2 error=\"input has 2 bytes, expected 3\"\n\
             summary samples=3 correct=1 errors=1 steps=2 ticks_total=100 ticks_max=50 \
             instructions_per_inference=2000 instructions_per_step=1000\n"
        );
        assert_eq!(classes, [1, 2]);
        assert_eq!(summary.correct, 1);
        assert!(!summary.all_correct());
    }

    #[test]
    fn step_cost_separates_fixed_and_per_step() {
        /// 100 ticks fixed + 7 per step: the clock advances by what the last call asked for.
        struct Linear {
            now: u64,
            pending: u64,
        }
        impl TickCounter for Linear {
            fn now(&mut self) -> u64 {
                self.now += core::mem::take(&mut self.pending);
                self.now
            }
        }
        struct Costly<'a>(&'a core::cell::Cell<u64>, Scripted);
        impl Classifier for Costly<'_> {
            type Error = crate::classifier::tests::WrongLength;
            fn input_size(&self) -> usize {
                3
            }
            fn output_size(&self) -> usize {
                4
            }
            fn default_timesteps(&self) -> u16 {
                16
            }
            fn classify(
                &mut self,
                input: &[u8],
                steps: u16,
            ) -> Result<crate::Inference<'_>, Self::Error> {
                self.0.set(100 + 7 * u64::from(steps));
                self.1.classify(input, steps)
            }
        }
        let cost = core::cell::Cell::new(0);
        let mut clf = Costly(&cost, Scripted::new());
        // The tick counter reads the cost the classifier just set.
        struct Shared<'a>(&'a core::cell::Cell<u64>, Linear);
        impl TickCounter for Shared<'_> {
            fn now(&mut self) -> u64 {
                self.1.pending = self.0.take();
                self.1.now()
            }
        }
        let mut ticks = Shared(&cost, Linear { now: 0, pending: 0 });
        let c = step_cost(&mut clf, &[1, 2, 3], 10, &mut ticks).unwrap();
        assert_eq!((c.ticks_short, c.ticks_long), (170, 240));
        assert_eq!((c.per_step(), c.fixed()), (7, 100));
        assert_eq!(
            c.to_string(),
            "cost steps=10,20 ticks=170,240 ticks_per_step=7 ticks_fixed=100"
        );
        assert!(step_cost(&mut clf, &[1], 10, &mut ticks).is_err());
        let scaled = c.scaled(crate::Ratio::new(5, 2));
        assert_eq!(
            (scaled.ticks_short, scaled.ticks_long, scaled.per_step()),
            (425, 600, 17)
        );
    }

    #[test]
    fn static_cost_times_every_sample_at_zero_steps() {
        /// Each `now` advances 30 ticks; records the step counts it was asked for.
        struct Steps(Vec<u16>, Scripted);
        impl Classifier for Steps {
            type Error = crate::classifier::tests::WrongLength;
            fn input_size(&self) -> usize {
                3
            }
            fn output_size(&self) -> usize {
                4
            }
            fn default_timesteps(&self) -> u16 {
                16
            }
            fn classify(
                &mut self,
                input: &[u8],
                steps: u16,
            ) -> Result<crate::Inference<'_>, Self::Error> {
                self.0.push(steps);
                self.1.classify(input, steps)
            }
        }
        struct Clock(u64);
        impl TickCounter for Clock {
            fn now(&mut self) -> u64 {
                self.0 += 30;
                self.0
            }
        }
        let mut clf = Steps(Vec::new(), Scripted::new());
        let cost = static_cost(&mut clf, &SAMPLES[..2], &mut Clock(0)).unwrap();
        assert_eq!(clf.0, [0, 0]);
        assert_eq!(
            (cost.samples, cost.ticks_total, cost.per_inference()),
            (2, 60, 30)
        );
        assert_eq!(
            cost.to_string(),
            "static samples=2 ticks_total=60 ticks_per_inference=30"
        );
        // The third sample has the wrong length: the error comes back.
        assert!(static_cost(&mut clf, SAMPLES, &mut Clock(0)).is_err());
    }

    #[test]
    fn parse_steps_reads_the_override() {
        assert_eq!(parse_steps("6"), Some(6));
        assert_eq!(parse_steps("65535"), Some(65535));
        for bad in ["", "0", "65536", "-1", " 6", "6x", "99999999999"] {
            assert_eq!(parse_steps(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn default_steps_and_unlabelled_samples() {
        let inputs: [&[u8]; 1] = [&[4, 1, 1]];
        let mut out = String::new();
        let s = run_samples(
            &mut Scripted::new(),
            &inputs,
            RunConfig::default(),
            &mut crate::ticks::NoTicks,
            &mut out,
            |_| {},
        )
        .unwrap();
        assert_eq!(s.steps, 16);
        assert!(out.starts_with("sample=0 class=0 "), "{out}");
        assert_eq!(s.correct, 0);
    }
}
