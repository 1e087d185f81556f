//! Host-side tools for picospike: load data, train a spiking network, convert, quantize and
//! evaluate it, and the `picospike` commands that tie these together.
//!
//! The pipeline follows the NengoDL recipe: [`train`] fits a rate network with Nengo neuron
//! parameters (SoftLIFRate surrogate for LIF), folds the Nengo gain and bias into the weights and
//! returns a [`reference::FloatNetwork`]; [`recipe`] turns it into a spiking network,
//! [`mod@reference`] simulates it in float, [`quantize`] turns it into fixed point and
//! [`quantized`] into the runtime's model blob and firmware module; [`evaluate`] measures every
//! stage. [`data`] and [`source`] load MNIST (IDX), CSV and the built-in 8x8 digits with bounded
//! reads; [`input`] reads model and network files with bounds; [`rate_float`] evaluates a float
//! network in rate mode; [`output`] is the one file writer. [`commands`] holds one module per
//! `picospike` subcommand; [`cost`] is a model's workload and its predicted cost on a Cortex-M
//! board (`inspect --board`).
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod arch;
pub mod augment;
#[cfg(feature = "cli")]
pub mod commands;
pub mod cost;
pub mod data;
pub mod evaluate;
pub mod input;
pub mod model_file;
pub mod output;
pub mod plot;
pub mod quantize;
pub mod quantized;
pub mod rate_float;
pub mod recipe;
pub mod reference;
pub mod source;
pub mod sweep;
#[cfg(feature = "cli")]
pub mod train;
