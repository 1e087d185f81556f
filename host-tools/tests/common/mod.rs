//! Helpers shared by the integration tests that run the `picospike` binary.

use std::process::{Command, Output};

/// The `picospike` binary built for these tests.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_picospike"))
}

/// Fails the test with the command's standard error unless it exited 0.
pub fn require_success(out: &Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
