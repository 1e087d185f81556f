//! The quantized model: a float network turned into the runtime's blob, its sizes, and the
//! firmware Rust module that embeds it (`picospike export` is its command).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use picospike_runtime::{LoadError, Model};

use crate::data::Dataset;
use crate::output::{write_atomic, OutputError};
use crate::quantize::{quantize, QuantizeError};
use crate::reference::FloatNetwork;

/// Errors from exporting a model.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// The network does not fit the fixed-point format.
    #[error("cannot quantize the network: {0}")]
    Quantize(#[from] QuantizeError),
    /// Writing a file failed.
    #[error(transparent)]
    File(#[from] OutputError),
    /// The model file does not load.
    #[error("{path}: {source}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Why the runtime rejects it.
        source: LoadError,
    },
}

/// Sizes of an exported model as the device sees them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ModelSizes {
    /// Bytes of the model blob (flash).
    pub flash_bytes: usize,
    /// `i32` words of state the network needs.
    pub state_words: usize,
    /// Bytes of state RAM (`4 * state_words`).
    pub ram_bytes: usize,
    /// Input bytes per sample.
    pub input_size: usize,
    /// Output values (classes).
    pub output_size: usize,
}

impl ModelSizes {
    /// The sizes of a loaded model.
    pub fn of(model: &Model<'_>, blob_len: usize) -> Self {
        ModelSizes {
            flash_bytes: blob_len,
            state_words: model.state_words(),
            ram_bytes: 4 * model.state_words(),
            input_size: model.input_size(),
            output_size: model.output_size(),
        }
    }
}

/// Quantize `network` to a model blob and report its sizes.
///
/// # Errors
/// [`ExportError::Quantize`] if a weight or bias does not fit the format.
pub fn build_blob(network: &FloatNetwork) -> Result<(Vec<u8>, ModelSizes), ExportError> {
    let blob = quantize(network)?;
    let sizes = {
        let model: Model = Model::from_bytes(&blob).map_err(|source| ExportError::Invalid {
            path: PathBuf::from("<quantized model>"),
            source,
        })?;
        ModelSizes::of(&model, blob.len())
    };
    Ok((blob, sizes))
}

/// Write `blob` to `path` atomically.
///
/// # Errors
/// [`ExportError::File`] naming the path.
pub fn write_blob(path: &Path, blob: &[u8]) -> Result<(), ExportError> {
    write_atomic(path, blob)?;
    Ok(())
}

/// The `model.rs` item `pub const fn layered_state_words(steps: u16) -> usize`: the state words
/// of the layer-major order (`picospike_runtime::LayeredNetwork::state_words`) as a formula of
/// the step count, so that firmware sizes its buffer at compile time for its own step count.
pub fn layered_state_words_fn(model: &Model) -> String {
    let formula = picospike_runtime::LayeredNetwork::state_formula(model);
    let term = |t: &picospike_runtime::StateTerm| match t.bits {
        32 => format!("{} * steps", t.values),
        1 => format!("({} * steps).div_ceil(32)", t.values),
        bits => format!("({} * steps * {bits}).div_ceil(32)", t.values),
    };
    // The largest of a region's terms, nested `max` calls.
    let region = |terms: &[picospike_runtime::StateTerm]| -> String {
        let mut terms = terms.iter().map(term);
        let first = terms.next().unwrap_or_else(|| "0".into());
        terms.fold(first, |acc, t| format!("max({acc}, {t})"))
    };
    let group = match (formula.group, formula.group_per_step) {
        (g, 0) => format!("{g}"),
        (0, per_step) => format!("{per_step} * steps"),
        (g, per_step) => format!("max({g}, {per_step} * steps)"),
    };
    format!(
        "/// `i32` words of state the layer-major order (`picospike_runtime::LayeredNetwork`) needs\n\
         /// for up to `steps` steps: the readout's values, the gather buffer and the two regions\n\
         /// the layers' boundaries alternate between.\n\
         pub const fn layered_state_words(steps: u16) -> usize {{\n    \
         const fn max(a: usize, b: usize) -> usize {{\n        \
         if a > b {{\n            a\n        }} else {{\n            b\n        }}\n    }}\n    \
         let steps = steps as usize;\n    \
         let gather = {group};\n    \
         let even = {};\n    \
         let odd = {};\n    \
         {} + gather + even + odd\n}}\n",
        region(&formula.regions[0]),
        region(&formula.regions[1]),
        formula.fixed,
    )
}

/// Write `DIR/model.pspk` and `DIR/model.rs` for firmware: the blob, its sizes as constants, and
/// up to `samples` labelled test inputs.
///
/// `model.rs` has the layout the board crates `include!`: `MODEL`, `STATE_WORDS`, `LAYERS`,
/// `INPUT_SIZE`, `OUTPUT_SIZE`, `TIMESTEPS`, `SAMPLES: &[(&[u8], u8)]` and
/// [`layered_state_words_fn`]. The firmware sizes its buffers from `STATE_WORDS` (or, in the
/// layer-major order, `layered_state_words`) and its `Model` and `Network` from `LAYERS`.
///
/// # Errors
/// [`ExportError`] if the blob does not load or a file cannot be written.
pub fn write_rust_module(
    dir: &Path,
    blob: &[u8],
    data: Option<&Dataset>,
    samples: usize,
) -> Result<ModelSizes, ExportError> {
    let blob_path = dir.join("model.pspk");
    let model: Model = Model::from_bytes(blob).map_err(|source| ExportError::Invalid {
        path: blob_path.clone(),
        source,
    })?;
    let sizes = ModelSizes::of(&model, blob.len());
    let mut rs = String::new();
    let _ = writeln!(
        rs,
        "// Generated by `picospike export --rust-module`; do not edit.\n\
         /// The model blob (postcard, checksummed; see runtime/FORMAT.md).\n\
         pub static MODEL: &[u8] = include_bytes!(\"model.pspk\");\n\
         /// `i32` words of network state the model needs.\n\
         pub const STATE_WORDS: usize = {};\n\
         /// Layers of the model (the layer capacity the firmware gives `Model` and `Network`).\n\
         pub const LAYERS: usize = {};\n\
         /// Bytes per input sample.\n\
         pub const INPUT_SIZE: usize = {};\n\
         /// Output values (classes).\n\
         pub const OUTPUT_SIZE: usize = {};\n\
         /// Time steps the model was converted for.\n\
         pub const TIMESTEPS: u16 = {};\n\
         /// Test samples: input bytes and label.\n\
         pub static SAMPLES: &[(&[u8], u8)] = &[",
        sizes.state_words,
        model.layers().len(),
        sizes.input_size,
        sizes.output_size,
        model.default_timesteps()
    );
    if let Some(data) = data {
        for (image, label) in data.images.iter().zip(&data.labels).take(samples) {
            let _ = writeln!(rs, "    (&{image:?}, {label}),");
        }
    }
    rs.push_str("];\n");
    rs.push_str(&layered_state_words_fn(&model));
    write_atomic(&blob_path, blob)?;
    write_atomic(&dir.join("model.rs"), rs.as_bytes())?;
    Ok(sizes)
}
