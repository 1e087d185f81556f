//! Fixed-point spiking neural network inference for microcontrollers.
//!
//! `picospike-runtime` loads a model blob produced by the `picospike` host tools straight from
//! flash (weights are borrowed, never copied), checks every shape and parameter once, and then
//! runs spiking inference in integer arithmetic on a caller-provided state buffer whose exact
//! size the model header records. It never allocates and never panics.
//!
//! ```
//! use picospike_runtime::format::InputEncoding;
//! use picospike_runtime::layer::{Dense, Layer, Scaling, Shape};
//! use picospike_runtime::neuron::Neuron;
//! use picospike_runtime::synapse::Synapse;
//! use picospike_runtime::{Model, ModelBuilder, Network};
//!
//! // Host tools write models with `ModelBuilder`; a device would `include_bytes!` the result.
//! let hidden = Scaling {
//!     multipliers: &[10, 0, 10, 0], // u16 per output: current per weight x input unit 10 / 2^16
//!     shifts: &[0, 0],
//!     biases: &[0; 8],              // i32 Q16.16 per output
//! };
//! let readout = Scaling { multipliers: &[1, 0, 1, 0], shifts: &[0, 0], biases: &[0; 8] };
//! let layers = [
//!     Layer::Dense(Dense {
//!         input: Shape::vector(2), outputs: 2, synapse: Synapse::None,
//!         neuron: Neuron::Lif { tau_rc: 0.02, tau_ref: 0.002, min_voltage: 0.0, amplitude: 0.01 },
//!         weights: &[100, 0, 0, 100], // i8, input-major
//!         scaling: hidden, activity: 0,
//!     }),
//!     Layer::Dense(Dense {
//!         input: Shape::vector(2), outputs: 2, synapse: Synapse::Lowpass { tau: 0.005 },
//!         neuron: Neuron::Readout,
//!         weights: &[127, 0, 0, 127],
//!         scaling: readout, activity: 0,
//!     }),
//! ];
//! let input = InputEncoding::vector(2, 255, 50);
//! let mut flash = [0u8; 256];
//! let blob = ModelBuilder { dt: 0.001, input, layers: &layers }.to_slice(&mut flash)?;
//!
//! let model: Model = Model::from_bytes(blob)?;
//! let mut state = [0i32; 32]; // a `static` on a device; the model says how much it needs
//! assert_eq!(model.state_words(), 22);
//! let mut network = Network::new(&model, &mut state)?;
//! let prediction = network.run(&[20, 200], 50)?; // the second input is stronger
//! assert_eq!(prediction.class, 1);
//! assert!(prediction.spike_counts[0] > 0);
//! # Ok::<(), Box<dyn core::error::Error>>(())
//! ```
#![cfg_attr(not(any(test, feature = "std")), no_std)]
#![deny(missing_docs)]
// Only `kernels::arm` (thumbv7em) allows it: the one-instruction `asm!` wrappers and the
// four-row `asm!` loops.
#![deny(unsafe_code)]

// Bottom-up, as `runtime/ARCHITECTURE.md` draws them: a module imports only modules of the
// groups before its own (the check: `python3 .ci/module-cycles.py runtime/src`).
pub mod fixed_point;
mod kernels;
mod runs;
mod shape;

mod current;
pub mod error;
mod event;
mod integer;
pub mod synapse;

pub mod neuron;

pub mod layer;

pub mod format;

mod plan;

mod model;

pub mod network;

pub mod layered;

pub use error::{EncodeError, LoadError, RunError};
#[cfg(feature = "std")]
#[doc(hidden)]
pub use kernels::KernelSet;
pub use layered::{LayeredNetwork, StateFormula, StateTerm};
pub use model::{Model, ModelBuilder, DEFAULT_MAX_LAYERS, WRITER_MAX_LAYERS};
pub use network::{Network, Prediction, Spike};
