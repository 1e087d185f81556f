//! Fixed-point spiking neural network inference for microcontrollers.
//!
//! `picospike-runtime` loads a model blob produced by the `picospike` host tools straight from
//! flash (weights are borrowed, never copied), checks every shape and parameter once, and then
//! runs spiking inference in integer arithmetic on a caller-provided state buffer whose exact
//! size the model header records. It never allocates and never panics.
//!
//! ```
//! # use picospike_runtime::{Network, ModelBuilder};
//! // A model exported by host-tools would normally come from `include_bytes!`.
//! # let blob: &[u8] = &[];
//! # let _ = blob;
//! ```
#![cfg_attr(not(any(test, feature = "std")), no_std)]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod error;
pub mod fixed_point;
pub mod format;
pub mod layer;
pub mod network;
pub mod neuron;
#[cfg(feature = "std")]
pub mod quantize;
#[cfg(feature = "std")]
pub mod reference;
pub mod synapse;

pub use error::{EncodeError, LoadError, RunError};
pub use format::{Model, ModelBuilder};
pub use network::{Network, Prediction};
