//! The machine-readable lines the firmware prints.
//!
//! One line per sample, then one summary line, each a `key=value` list separated by single
//! spaces, lists comma-separated without spaces. The QEMU runner (`boards/run-qemu.sh`) and the
//! host-side comparison parse exactly this format, so keys are never renamed, only added:
//!
//! ```text
//! sample=0 label=7 class=7 outputs=-65536,0,131072 spikes=31,12,4 events=5120 ticks=1203 instructions=48120
//! summary samples=10 correct=9 errors=0 steps=32 ticks_total=12030 ticks_max=1250 instructions_per_inference=48120 instructions_per_step=1503
//! ```
//!
//! `label=` is omitted for unlabelled samples, `instructions=` (and the `instructions_per_*`
//! summary keys) when the board has no tick-to-instruction calibration.

use core::fmt;

use crate::{Inference, Ratio};

/// Writes `items` comma-separated, `-` for an empty list.
struct CommaList<'a, T>(&'a [T]);

impl<T: fmt::Display> fmt::Display for CommaList<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("-");
        }
        for (i, item) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            // Not `write!`: a nested `fmt::write` is one more frame under the sample loop.
            item.fmt(f)?;
        }
        Ok(())
    }
}

/// One `sample=...` line.
#[derive(Debug, Clone, Copy)]
pub struct SampleReport<'a> {
    /// Index of the sample.
    pub index: usize,
    /// Expected class, if the sample is labelled.
    pub label: Option<u16>,
    /// What the classifier returned.
    pub inference: Inference<'a>,
    /// Ticks spent in the inference.
    pub ticks: u64,
    /// Instructions per tick, if calibrated.
    pub instructions_per_tick: Option<Ratio>,
}

impl fmt::Display for SampleReport<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sample={}", self.index)?;
        if let Some(label) = self.label {
            write!(f, " label={label}")?;
        }
        let inf = &self.inference;
        // Field by field, without a nested `write!` (each is one more `fmt::write` frame, under
        // the sample loop's): one `write!` of them all had a 232-byte frame on the Cortex-M0.
        f.write_str(" class=")?;
        inf.class.fmt(f)?;
        f.write_str(" outputs=")?;
        CommaList(inf.outputs).fmt(f)?;
        f.write_str(" spikes=")?;
        CommaList(inf.spike_counts).fmt(f)?;
        f.write_str(" events=")?;
        inf.synaptic_events.fmt(f)?;
        f.write_str(" ticks=")?;
        self.ticks.fmt(f)?;
        if let Some(ratio) = self.instructions_per_tick {
            write!(f, " instructions={}", ratio.apply(self.ticks))?;
        }
        Ok(())
    }
}

/// Totals over a run, printed as the `summary ...` line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Summary {
    /// Samples attempted.
    pub samples: usize,
    /// Labelled samples whose predicted class matched the label.
    pub correct: usize,
    /// Samples whose inference failed.
    pub errors: usize,
    /// Timesteps per inference.
    pub steps: u16,
    /// Sum of the ticks of all successful inferences.
    pub ticks_total: u64,
    /// Largest tick count of one inference.
    pub ticks_max: u64,
    /// Instructions per tick, if calibrated.
    pub instructions_per_tick: Option<Ratio>,
}

impl Summary {
    /// Mean instructions per successful inference, if calibrated and any succeeded.
    pub fn instructions_per_inference(&self) -> Option<u64> {
        let ok = (self.samples - self.errors) as u64;
        let ratio = self.instructions_per_tick?;
        (ok > 0).then(|| ratio.apply(self.ticks_total) / ok)
    }

    /// Mean instructions per timestep, if calibrated and any inference succeeded.
    pub fn instructions_per_step(&self) -> Option<u64> {
        let per_inference = self.instructions_per_inference()?;
        (self.steps > 0).then(|| per_inference / u64::from(self.steps))
    }

    /// Whether every sample ran and every labelled one was classified as labelled.
    pub fn all_correct(&self) -> bool {
        self.errors == 0 && self.correct == self.samples
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "summary samples={} correct={} errors={} steps={} ticks_total={} ticks_max={}",
            self.samples, self.correct, self.errors, self.steps, self.ticks_total, self.ticks_max
        )?;
        if let (Some(inf), Some(step)) = (
            self.instructions_per_inference(),
            self.instructions_per_step(),
        ) {
            write!(
                f,
                " instructions_per_inference={inf} instructions_per_step={step}"
            )?;
        }
        Ok(())
    }
}

/// A `fmt::Write` that collects text and passes it on one whole line at a time.
///
/// Semihosting and RTT pay per write call, and `write!` makes one call per formatted piece; this
/// turns a report line into one call. Lines longer than `N` bytes are passed on in `N`-byte
/// pieces.
pub struct LineWriter<W: fmt::Write, const N: usize> {
    inner: W,
    line: heapless::String<N>,
}

impl<W: fmt::Write, const N: usize> LineWriter<W, N> {
    /// Buffer lines for `inner`.
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            line: heapless::String::new(),
        }
    }

    /// Pass on whatever is buffered.
    ///
    /// # Errors
    ///
    /// The inner writer's error.
    pub fn flush(&mut self) -> fmt::Result {
        if !self.line.is_empty() {
            self.inner.write_str(&self.line)?;
            self.line.clear();
        }
        Ok(())
    }

    /// Flush and give the inner writer back.
    ///
    /// # Errors
    ///
    /// The inner writer's error.
    pub fn into_inner(mut self) -> Result<W, fmt::Error> {
        self.flush()?;
        Ok(self.inner)
    }
}

impl<W: fmt::Write, const N: usize> fmt::Write for LineWriter<W, N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for c in s.chars() {
            if self.line.push(c).is_err() {
                self.flush()?;
                self.line.push(c).map_err(|_| fmt::Error)?;
            }
            if c == '\n' {
                self.flush()?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records each write call separately.
    #[derive(Default)]
    struct Calls(Vec<String>);
    impl fmt::Write for Calls {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            self.0.push(s.to_owned());
            Ok(())
        }
    }

    #[test]
    fn line_writer_makes_one_call_per_line() {
        use fmt::Write as _;
        let mut w = LineWriter::<_, 8>::new(Calls::default());
        write!(w, "a={} b={}\nlong line here", 1, 2).unwrap();
        writeln!(w, "!").unwrap();
        write!(w, "tail").unwrap();
        let calls = w.into_inner().unwrap().0;
        assert_eq!(calls, ["a=1 b=2\n", "long lin", "e here!\n", "tail"]);
    }

    #[test]
    fn sample_line_golden() {
        let report = SampleReport {
            index: 3,
            label: Some(1),
            inference: Inference {
                class: 1,
                outputs: &[-65536, 0, 131_072],
                spike_counts: &[31, 12],
                synaptic_events: 5120,
            },
            ticks: 1203,
            instructions_per_tick: Some(Ratio::new(40, 1)),
        };
        assert_eq!(
            report.to_string(),
            "sample=3 label=1 class=1 outputs=-65536,0,131072 spikes=31,12 events=5120 ticks=1203 instructions=48120"
        );
        let bare = SampleReport {
            label: None,
            instructions_per_tick: None,
            ..report
        };
        assert_eq!(
            bare.to_string(),
            "sample=3 class=1 outputs=-65536,0,131072 spikes=31,12 events=5120 ticks=1203"
        );
    }

    #[test]
    fn empty_lists_print_a_dash() {
        let report = SampleReport {
            index: 0,
            label: None,
            inference: Inference {
                class: 0,
                outputs: &[],
                spike_counts: &[],
                synaptic_events: 0,
            },
            ticks: 0,
            instructions_per_tick: None,
        };
        assert_eq!(
            report.to_string(),
            "sample=0 class=0 outputs=- spikes=- events=0 ticks=0"
        );
    }

    #[test]
    fn summary_line_golden() {
        let s = Summary {
            samples: 4,
            correct: 3,
            errors: 0,
            steps: 10,
            ticks_total: 400,
            ticks_max: 120,
            instructions_per_tick: Some(Ratio::new(40, 1)),
        };
        assert_eq!(
            s.to_string(),
            "summary samples=4 correct=3 errors=0 steps=10 ticks_total=400 ticks_max=120 \
             instructions_per_inference=4000 instructions_per_step=400"
        );
        assert!(!s.all_correct());
        let uncalibrated = Summary {
            instructions_per_tick: None,
            ..s
        };
        assert_eq!(
            uncalibrated.to_string(),
            "summary samples=4 correct=3 errors=0 steps=10 ticks_total=400 ticks_max=120"
        );
        let all_failed = Summary {
            errors: 4,
            correct: 0,
            ..s
        };
        assert_eq!(all_failed.instructions_per_inference(), None);
    }
}
