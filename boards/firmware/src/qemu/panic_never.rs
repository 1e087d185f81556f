//! The inference path printed without `core::fmt`, for the QEMU boards' `panic-never` bin.
//!
//! That bin's `#[panic_handler]` references a symbol that exists nowhere, so if any panic path
//! (bounds check, `unwrap`, overflow check, `core::fmt` slicing, ...) survives optimization in
//! model load or inference, the link fails. [`run`] therefore avoids `core::fmt`, whose
//! formatting machinery has panic paths inside `core`, and prints one line per sample with a
//! small hand-written integer formatter:
//!
//! ```text
//! sample=0 label=0 class=0 outputs=8639,7970,... spikes=83,0 events=830
//! ```
//!
//! the `sample=` lines of [`report`](super::report) without timing, which `boards/run-qemu.sh
//! <board> --panic-never` compares with the host reference.

use cortex_m_semihosting::hio;
use picospike_runtime::{LayeredNetwork, Model, Network, Prediction};

use super::Embedded;
use crate::classifier::Engine;

/// Load the model (of at most `L` layers: the model module's `LAYERS`), classify and print every
/// sample, in the order [`Embedded::LAYERED`] names; `true` if all of it worked.
#[inline(never)]
pub fn run<E: Embedded, const L: usize>(state: &'static mut [i32]) -> bool {
    let Ok(mut out) = hio::hstdout() else {
        return false;
    };
    let Ok(model) = Model::<'static, L>::from_bytes(E::model()) else {
        return false;
    };
    let steps = E::STEPS.unwrap_or(model.default_timesteps());
    if E::LAYERED {
        match LayeredNetwork::new(&model, state, steps) {
            Ok(mut network) => samples::<E, L>(&mut out, &mut network, steps),
            Err(_) => false,
        }
    } else {
        match Network::new(&model, state) {
            Ok(mut network) => samples::<E, L>(&mut out, &mut network, steps),
            Err(_) => false,
        }
    }
}

/// Classify and print every sample with `network`, in either order; `false` at the first
/// failure.
fn samples<E: Embedded, const L: usize>(
    out: &mut hio::HostStream,
    network: &mut impl Engine<L>,
    steps: u16,
) -> bool {
    for (index, &(input, label)) in E::samples().iter().enumerate() {
        let Ok(prediction) = network.infer(input, steps) else {
            return false;
        };
        if !print(out, index, label, &prediction) {
            return false;
        }
    }
    true
}

/// Print the line of sample `index`; `false` if it did not fit or could not be written.
fn print<const L: usize>(
    out: &mut hio::HostStream,
    index: usize,
    label: u8,
    prediction: &Prediction<'_, L>,
) -> bool {
    let mut line = Line::new();
    line.field(b"sample=", index as i64);
    line.field(b" label=", i64::from(label));
    line.field(b" class=", i64::from(prediction.class));
    line.list(
        b" outputs=",
        prediction.outputs.iter().map(|&v| i64::from(v)),
    );
    line.list(
        b" spikes=",
        prediction.spike_counts.iter().map(|&v| i64::from(v)),
    );
    line.field(b" events=", i64::from(prediction.synaptic_events));
    line.push(b"\n");
    !line.overflowed && out.write_all(line.bytes()).is_ok()
}

/// One output line, built without `core::fmt`.
struct Line {
    buf: [u8; 256],
    len: usize,
    overflowed: bool,
}

impl Line {
    fn new() -> Self {
        Self {
            buf: [0; 256],
            len: 0,
            overflowed: false,
        }
    }

    fn push(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            match self.buf.get_mut(self.len) {
                Some(slot) => {
                    *slot = byte;
                    self.len += 1;
                }
                None => self.overflowed = true,
            }
        }
    }

    /// Decimal, with a leading `-` if negative.
    fn int(&mut self, value: i64) {
        if value < 0 {
            self.push(b"-");
        }
        let mut magnitude = value.unsigned_abs();
        let mut digits = [0u8; 20];
        let mut start = digits.len();
        for slot in digits.iter_mut().rev() {
            *slot = b'0' + (magnitude % 10) as u8;
            start -= 1;
            magnitude /= 10;
            if magnitude == 0 {
                break;
            }
        }
        self.push(digits.get(start..).unwrap_or(&[]));
    }

    fn field(&mut self, key: &[u8], value: i64) {
        self.push(key);
        self.int(value);
    }

    fn list(&mut self, key: &[u8], values: impl Iterator<Item = i64>) {
        self.push(key);
        for (index, value) in values.enumerate() {
            if index > 0 {
                self.push(b",");
            }
            self.int(value);
        }
    }

    fn bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }
}
