//! Build-script helpers shared by the picospike board crates.
//!
//! A board's `build.rs` is two calls:
//!
//! ```no_run
//! picospike_board_build::memory_x();
//! picospike_board_build::model();
//! ```
//!
//! and its `main.rs` embeds the model with
//!
//! ```ignore
//! mod model {
//!     include!(env!("PICOSPIKE_MODEL_RS"));
//! }
//! ```
//!
//! # The model directory
//!
//! `PICOSPIKE_MODEL_DIR` names a directory written by `picospike export ... --rust-module` (or by
//! `boards/demo-model`): a `model.rs` with `pub static MODEL: &[u8] = include_bytes!("model.pspk");`,
//! `pub const STATE_WORDS: usize`, `pub const LAYERS: usize` (the firmware's layer capacity),
//! `pub const INPUT_SIZE: usize`, `pub const TIMESTEPS: u16`, `pub const fn
//! layered_state_words(steps: u16) -> usize` (the state of the layer-major order) and
//! `pub static SAMPLES: &[(&[u8], u8)]`, next to the `model.pspk` it includes. A relative path is
//! taken from the board crate's directory. Unset, it is `boards/models/demo`.
//!
//! # The step count
//!
//! `PICOSPIKE_STEPS`, when set, is the number of timesteps the QEMU boards and the host
//! reference run each sample for, instead of the model's default (`boards/bench.sh` measures one
//! model at several step counts this way). The crate sees it as `PICOSPIKE_STEPS` (empty when
//! unset; `picospike_firmware::parse_steps` reads it at compile time).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::path::{Path, PathBuf};
use std::{env, fs};

/// Environment variable naming the model directory.
pub const MODEL_DIR_VAR: &str = "PICOSPIKE_MODEL_DIR";

/// Environment variable overriding the model's default step count (see the crate docs).
pub const STEPS_VAR: &str = "PICOSPIKE_STEPS";

fn manifest_dir() -> PathBuf {
    PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR is set by cargo"))
}

/// Put the crate's `memory.x` where the linker (cortex-m-rt's `link.x`) finds it.
///
/// # Panics
///
/// If `memory.x` is missing or `OUT_DIR` is not writable.
pub fn memory_x() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR is set by cargo"));
    let source = manifest_dir().join("memory.x");
    fs::copy(&source, out.join("memory.x"))
        .unwrap_or_else(|e| panic!("cannot copy {}: {e}", source.display()));
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory.x");
}

/// Resolve the model directory and hand it to the crate as `PICOSPIKE_MODEL_RS` (path of
/// `model.rs`), `PICOSPIKE_MODEL_NAME` (the directory's name) and `PICOSPIKE_STEPS` (the step
/// override, empty if none), rebuilding when the variables or the files change. Returns the
/// directory.
///
/// # Panics
///
/// With a message naming the directory if it has no `model.rs`, or naming the value if
/// `PICOSPIKE_STEPS` is not a whole number in 1..=65535.
pub fn model() -> PathBuf {
    println!("cargo:rerun-if-env-changed={MODEL_DIR_VAR}");
    println!("cargo:rerun-if-env-changed={STEPS_VAR}");
    let steps = steps(env::var(STEPS_VAR).ok().as_deref())
        .unwrap_or_else(|bad| panic!("{STEPS_VAR}={bad:?}: expected a step count in 1..=65535"));
    println!(
        "cargo:rustc-env={STEPS_VAR}={}",
        steps.map_or_else(String::new, |s| s.to_string())
    );
    let dir = match env::var_os(MODEL_DIR_VAR) {
        Some(dir) => manifest_dir().join(dir),
        None => manifest_dir().join("../models/demo"),
    };
    let dir = dir.canonicalize().unwrap_or_else(|e| {
        panic!(
            "{MODEL_DIR_VAR}: model directory {} not found: {e}",
            dir.display()
        )
    });
    let module = dir.join("model.rs");
    if !module.is_file() {
        panic!(
            "{MODEL_DIR_VAR}: {} has no model.rs (write one with `picospike export ... --rust-module`)",
            dir.display()
        );
    }
    // A module written before the firmware took its layer capacity from it: say so here
    // rather than as an unresolved name in the board's `main.rs`.
    let text = fs::read_to_string(&module)
        .unwrap_or_else(|e| panic!("{MODEL_DIR_VAR}: cannot read {}: {e}", module.display()));
    for item in [
        "pub const LAYERS: usize",
        "pub const fn layered_state_words",
    ] {
        if !text.contains(item) {
            panic!(
                "{MODEL_DIR_VAR}: {} has no `{item}` (written by an older picospike): export it \
                 again with `picospike export ... --rust-module`",
                module.display()
            );
        }
    }
    for file in ["model.rs", "model.pspk"] {
        println!("cargo:rerun-if-changed={}", dir.join(file).display());
    }
    println!("cargo:rustc-env=PICOSPIKE_MODEL_RS={}", module.display());
    println!("cargo:rustc-env=PICOSPIKE_MODEL_NAME={}", name(&dir));
    dir
}

/// The step override from the variable's value: `Ok(None)` when unset or empty, the value back
/// as the error when it is not a step count.
fn steps(value: Option<&str>) -> Result<Option<u16>, String> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) => match text.parse::<u16>() {
            Ok(steps) if steps > 0 => Ok(Some(steps)),
            _ => Err(text.to_owned()),
        },
    }
}

fn name(dir: &Path) -> String {
    dir.file_name()
        .map_or_else(|| "model".into(), |n| n.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::steps;

    #[test]
    fn step_override_is_a_positive_u16_or_nothing() {
        assert_eq!(steps(None), Ok(None));
        assert_eq!(steps(Some("")), Ok(None));
        assert_eq!(steps(Some(" 6 ")), Ok(Some(6)));
        assert_eq!(steps(Some("65535")), Ok(Some(65535)));
        assert_eq!(steps(Some("0")), Err("0".into()));
        assert_eq!(steps(Some("65536")), Err("65536".into()));
        assert_eq!(steps(Some("six")), Err("six".into()));
    }
}
