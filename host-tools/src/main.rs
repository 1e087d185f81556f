//! `picospike`: command-line front end of the picospike host tools.
//!
//! Exit status: 0 on success, 1 on any error, including a command line that does not parse or an
//! option out of its range (one `error:` line on standard error names the file, row or option),
//! a report that cannot be written to standard output (a closed pipe, a full disk) and SIGINT,
//! SIGTERM or SIGHUP, after which no temporary file is left.

use std::io::Write as _;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use picospike_host::commands::{convert, demo, eval, export, inspect, lesson, sweep, train};

/// Train spiking neural networks and prepare them for fixed-point inference on microcontrollers.
#[derive(Parser)]
#[command(
    name = "picospike",
    version,
    after_help = "Outputs: a regular file is replaced atomically (temporary file, fsync, rename), \
keeping its mode, owner and group, only if it could be opened for writing, has a write \
permission bit (`chmod 444` protects it, also from root) and has no other hard link; a device or FIFO is written in place; `-` is standard output. An output path that is a \
symbolic link (even a dangling one), a directory, an input of the command, or another output is \
refused with an error naming it. Every output is checked before any work starts. SIGINT, SIGTERM \
and SIGHUP remove temporary files and exit 1. Errors: one `error:` line, exit status 1."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a dense or convolutional rate network (NengoDL recipe, step 1) and save it as a float network (JSON).
    Train(Box<train::TrainArgs>),
    /// Convert a trained network to spiking neurons and report accuracy and firing rates at each
    /// stage: rate (float) -> spiking (float reference) -> spiking (fixed point, the runtime).
    Convert(convert::ConvertArgs),
    /// Quantize a trained network and write the postcard model (and optionally a firmware module).
    Export(export::ExportArgs),
    /// Run an exported model through the fixed-point runtime on a data set (the seeded test part,
    /// or with `--split none` every row of a file).
    Eval(eval::EvalArgs),
    /// Validate and describe an exported model.
    Inspect(inspect::InspectArgs),
    /// The whole recipe on the built-in 8x8 digits: train, convert, quantize, export, report, plot.
    Demo(demo::DemoArgs),
    /// NengoDL's conversion lesson with spiking ReLU: naive swap, + synapse, + firing-rate
    /// scaling, + rate-regularized training, each with its accuracy.
    Lesson(lesson::LessonArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version are not errors; everything else exits 1 like any error.
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    // A signal between a temporary file's creation and its rename must not leave it behind.
    if let Err(e) = ctrlc::set_handler(|| {
        picospike_host::output::exit_removing_temporary_files(
            1,
            "error: stopped by a signal (SIGINT, SIGTERM or SIGHUP); temporary files removed",
        )
    }) {
        let _ = writeln!(
            std::io::stderr(),
            "error: cannot install the signal handler: {e}"
        );
        return ExitCode::FAILURE;
    }
    let result = match &cli.command {
        Command::Train(args) => train::run(args),
        Command::Convert(args) if args.sweep => sweep::run(args),
        Command::Convert(args) => convert::run(args),
        Command::Export(args) => export::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Inspect(args) => inspect::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Lesson(args) => lesson::run(args),
    };
    match result.map_err(anyhow::Error::from) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Every library error already includes its cause in its message; print only the top.
            // Never a panic, even if standard error is closed or full.
            let _ = writeln!(std::io::stderr(), "error: {e}");
            ExitCode::FAILURE
        }
    }
}
