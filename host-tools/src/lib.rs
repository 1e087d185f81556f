//! Host-side tools for picospike: load data, train a spiking network, save it for conversion.
//!
//! The pipeline follows the NengoDL recipe described in `docs/REFERENCE.md`: [`train`] fits a rate
//! network with Nengo neuron parameters (SoftLIFRate surrogate for LIF), folds the Nengo gain and
//! bias into the weights and returns a [`network::FloatNetwork`]; [`data`] loads MNIST (IDX), CSV
//! and the built-in 8x8 digits; [`model_file`] saves and loads networks atomically.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod data;
pub mod evaluate;
pub mod export;
pub mod model_file;
pub mod network;
pub mod pipeline;
pub mod plot;
pub mod recipe;
pub mod train;
