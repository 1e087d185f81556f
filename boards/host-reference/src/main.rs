//! The host's answer for the embedded model, with the boards' own firmware logic.
//!
//! - `picospike-host-reference`: the `sample=` and `summary` lines a board prints, computed with
//!   the same firmware logic and runtime on the host, with `ticks=0`. `boards/run-qemu.sh`
//!   compares a board's output with this, ignoring the timing fields.
//! - `picospike-host-reference --serve`: a simulated board speaking the UART protocol
//!   (`boards/PROTOCOL.md`) on stdin/stdout, with ticks in nanoseconds of host time. The host
//!   client `boards/tools/pspk_uart.py --exec` talks to it the way it talks to a real board.

use std::io::{Read as _, Write as _};
use std::process::ExitCode;
use std::time::Instant;

use picospike_firmware::classifier::NetworkClassifier;
use picospike_firmware::protocol::{model_id, PollError, Server};
use picospike_firmware::ticks::NoTicks;
use picospike_firmware::{run_samples, RunConfig, TickCounter};
use picospike_runtime::{Model, Network};

/// The embedded model, samples and sizes (see `picospike_board_build`).
#[allow(dead_code, missing_docs)]
mod model {
    include!(env!("PICOSPIKE_MODEL_RS"));
}

/// Longest request frame the simulated board accepts, as on the real boards.
const MAX_FRAME: usize = model::INPUT_SIZE + 32;

/// `fmt::Write` into a `String`.
struct Text(String);

impl std::fmt::Write for Text {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.push_str(s);
        Ok(())
    }
}

/// Nanoseconds since start.
struct HostClock(Instant);

impl TickCounter for HostClock {
    fn now(&mut self) -> u64 {
        u64::try_from(self.0.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

/// stdin as the receiving half of a serial port; end of input is an error, to stop the loop.
struct StdinRx(std::io::Stdin);
/// stdout as the sending half.
struct StdoutTx(std::io::Stdout);

impl embedded_io::ErrorType for StdinRx {
    type Error = embedded_io::ErrorKind;
}
impl embedded_io::ErrorType for StdoutTx {
    type Error = embedded_io::ErrorKind;
}

impl embedded_io::Read for StdinRx {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        match self.0.lock().read(buf) {
            Ok(0) if !buf.is_empty() => Err(embedded_io::ErrorKind::BrokenPipe),
            Ok(n) => Ok(n),
            Err(_) => Err(embedded_io::ErrorKind::Other),
        }
    }
}

impl embedded_io::Write for StdoutTx {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        self.0
            .lock()
            .write(buf)
            .map_err(|_| embedded_io::ErrorKind::Other)
    }
    fn flush(&mut self) -> Result<(), Self::Error> {
        self.0
            .lock()
            .flush()
            .map_err(|_| embedded_io::ErrorKind::Other)
    }
}

fn main() -> ExitCode {
    let serve = match std::env::args().nth(1).as_deref() {
        None => false,
        Some("--serve") => true,
        Some(other) => {
            eprintln!("unknown argument {other}; usage: picospike-host-reference [--serve]");
            return ExitCode::from(2);
        }
    };
    let model = match Model::from_bytes(model::MODEL) {
        Ok(model) => model,
        Err(e) => {
            eprintln!("error stage=load message=\"{e}\"");
            return ExitCode::FAILURE;
        }
    };
    let mut state = vec![0i32; model::STATE_WORDS];
    let mut network = match Network::new(&model, &mut state) {
        Ok(network) => network,
        Err(e) => {
            eprintln!("error stage=state message=\"{e}\"");
            return ExitCode::FAILURE;
        }
    };
    let mut classifier = NetworkClassifier::new(&model, &mut network);

    if serve {
        let clock = HostClock(Instant::now());
        let mut server: Server<_, _, MAX_FRAME> =
            Server::new(classifier, clock, model_id(model::MODEL));
        let (mut rx, mut tx) = (StdinRx(std::io::stdin()), StdoutTx(std::io::stdout()));
        loop {
            match server.poll(&mut rx, &mut tx, |response| eprintln!("{response:?}")) {
                Ok(()) => {}
                Err(PollError::Read(embedded_io::ErrorKind::BrokenPipe)) => {
                    return ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::FAILURE;
                }
            }
        }
    }

    let mut out = Text(String::new());
    // The boards' step override (`PICOSPIKE_STEPS`, see picospike_board_build), so that the
    // lines stay comparable when `boards/bench.sh` runs a model at another step count.
    let config = RunConfig {
        steps: picospike_firmware::parse_steps(env!("PICOSPIKE_STEPS")),
        ..RunConfig::default()
    };
    let summary = run_samples(
        &mut classifier,
        model::SAMPLES,
        config,
        &mut NoTicks,
        &mut out,
        |_| {},
    )
    .expect("writing to a String cannot fail");
    print!("{}", out.0);
    if summary.errors == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
