//! The host's answer for the embedded model: the `sample=` and `summary` lines a board prints,
//! computed with the same firmware logic and runtime on the host, with `ticks=0`.
//!
//! `boards/run-qemu.sh` compares a board's output with this, ignoring the timing fields.

use std::process::ExitCode;

use picospike_firmware::classifier::NetworkClassifier;
use picospike_firmware::ticks::NoTicks;
use picospike_firmware::{run_samples, RunConfig};
use picospike_runtime::{Model, Network};

/// The embedded model, samples and sizes (see `picospike_board_build`).
#[allow(dead_code, missing_docs)]
mod model {
    include!(env!("PICOSPIKE_MODEL_RS"));
}

/// `fmt::Write` to stdout.
struct Stdout(String);

impl std::fmt::Write for Stdout {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.push_str(s);
        Ok(())
    }
}

fn main() -> ExitCode {
    let model = match Model::from_bytes(model::MODEL) {
        Ok(model) => model,
        Err(e) => {
            eprintln!("error stage=load message=\"{e}\"");
            return ExitCode::FAILURE;
        }
    };
    let mut state = vec![0i32; model::STATE_WORDS];
    let network = match Network::new(&model, &mut state) {
        Ok(network) => network,
        Err(e) => {
            eprintln!("error stage=state message=\"{e}\"");
            return ExitCode::FAILURE;
        }
    };
    let mut classifier = NetworkClassifier::new(&model, network);
    let mut out = Stdout(String::new());
    let summary = run_samples(
        &mut classifier,
        model::SAMPLES,
        RunConfig::default(),
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
