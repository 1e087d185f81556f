//! The inference interface the firmware is written against.
//!
//! Boards never call the runtime directly: they hand a [`Classifier`] to the
//! [`runner`](crate::runner) or the protocol [`Server`](crate::protocol::Server). This keeps the
//! firmware logic testable on the host with a scripted classifier, and keeps the one place that
//! knows the runtime's API small (the `runtime` module, feature `runtime`).

/// The result of one inference, borrowed from the classifier until the next call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inference<'a> {
    /// Index of the winning output neuron.
    pub class: u16,
    /// Output layer values (Q16.16 bits for the picospike runtime), one per output neuron.
    pub outputs: &'a [i32],
    /// Number of spikes emitted by each layer over the whole run.
    pub spike_counts: &'a [u32],
    /// Number of synaptic events (weight accumulations triggered by a spike) over the run.
    pub synaptic_events: u32,
}

/// Something that maps an input sample to a class: the loaded network on a device, a script in tests.
pub trait Classifier {
    /// Why an inference could not run (bad input length, arithmetic trouble, ...).
    type Error: core::fmt::Debug + core::fmt::Display;

    /// Number of input bytes one sample must have.
    fn input_size(&self) -> usize;

    /// Number of output neurons (the length of [`Inference::outputs`]).
    fn output_size(&self) -> usize;

    /// The most timesteps one inference may run, when the classifier's memory bounds them (the
    /// layer-major order sizes its state for a step count); `None` for no bound.
    fn max_timesteps(&self) -> Option<u16> {
        None
    }

    /// Timesteps the model was exported with; used when a caller asks for `0` steps.
    fn default_timesteps(&self) -> u16;

    /// Reset the state and run `steps` timesteps on `input`.
    ///
    /// # Errors
    ///
    /// Whatever the implementation reports, for example an input of the wrong length.
    fn classify(&mut self, input: &[u8], steps: u16) -> Result<Inference<'_>, Self::Error>;
}

#[cfg(feature = "runtime")]
pub use self::runtime::{Engine, EngineClassifier, LayeredClassifier, NetworkClassifier};

#[cfg(feature = "runtime")]
mod runtime {
    use super::{Classifier, Inference};
    use picospike_runtime::DEFAULT_MAX_LAYERS;
    use picospike_runtime::{LayeredNetwork, Model, Network, Prediction, RunError};

    /// A bound `picospike_runtime` network, in either execution order: `Network` (step by step)
    /// or `LayeredNetwork` (layer by layer, `runtime/SEMANTICS.md`).
    pub trait Engine<const L: usize> {
        /// Inference from rest for `steps` steps.
        ///
        /// # Errors
        /// The runtime's [`RunError`].
        fn infer(&mut self, input: &[u8], steps: u16) -> Result<Prediction<'_, L>, RunError>;
        /// The most steps one inference may run (`None`: no bound).
        fn max_steps(&self) -> Option<u16>;
    }

    impl<const L: usize> Engine<L> for Network<'_, '_, L> {
        fn infer(&mut self, input: &[u8], steps: u16) -> Result<Prediction<'_, L>, RunError> {
            self.run(input, steps)
        }
        fn max_steps(&self) -> Option<u16> {
            None
        }
    }

    impl<const L: usize> Engine<L> for LayeredNetwork<'_, '_, L> {
        fn infer(&mut self, input: &[u8], steps: u16) -> Result<Prediction<'_, L>, RunError> {
            self.run(input, steps)
        }
        fn max_steps(&self) -> Option<u16> {
            Some(LayeredNetwork::max_steps(self))
        }
    }

    /// [`Classifier`] over a bound network `E` of a model of at most `L` layers (the runtime's
    /// default capacity unless a board picks a smaller one to save stack and RAM).
    ///
    /// The network is borrowed, not owned: it can then be built where it lives (a `static` on
    /// the boards, with `Network::new_into`) and never be moved, a copy of its size in stack
    /// saved (on the Cortex-M0 board, wrapping an owned network cost a 1 KB frame).
    pub struct EngineClassifier<'n, 'm, E, const L: usize = DEFAULT_MAX_LAYERS> {
        model: &'m Model<'m, L>,
        network: &'n mut E,
        spikes: heapless::Vec<u32, L>,
    }

    /// The step order's classifier (`picospike_runtime::Network`).
    pub type NetworkClassifier<'n, 'm, 's, const L: usize = DEFAULT_MAX_LAYERS> =
        EngineClassifier<'n, 'm, Network<'m, 's, L>, L>;

    /// The layer-major order's classifier (`picospike_runtime::LayeredNetwork`): for a model
    /// whose step-by-step state does not fit the board (the same outputs, bit for bit).
    pub type LayeredClassifier<'n, 'm, 's, const L: usize = DEFAULT_MAX_LAYERS> =
        EngineClassifier<'n, 'm, LayeredNetwork<'m, 's, L>, L>;

    impl<'n, 'm, 's> NetworkClassifier<'n, 'm, 's> {
        /// Wrap a network built from `model` (default layer capacity).
        pub fn new(model: &'m Model<'m>, network: &'n mut Network<'m, 's>) -> Self {
            Self::with_capacity(model, network)
        }
    }

    impl<'n, 'm, E, const L: usize> EngineClassifier<'n, 'm, E, L> {
        /// Wrap a network built from `model`, for a layer capacity `L` other than the default.
        pub fn with_capacity(model: &'m Model<'m, L>, network: &'n mut E) -> Self {
            Self {
                model,
                network,
                spikes: heapless::Vec::new(),
            }
        }
    }

    impl<E: Engine<L>, const L: usize> Classifier for EngineClassifier<'_, '_, E, L> {
        type Error = RunError;

        fn input_size(&self) -> usize {
            self.model.input_size()
        }

        fn output_size(&self) -> usize {
            self.model.output_size()
        }

        fn default_timesteps(&self) -> u16 {
            self.model.default_timesteps()
        }

        fn max_timesteps(&self) -> Option<u16> {
            self.network.max_steps()
        }

        fn classify(&mut self, input: &[u8], steps: u16) -> Result<Inference<'_>, RunError> {
            let prediction = self.network.infer(input, steps)?;
            self.spikes.clear();
            for &count in prediction.spike_counts.iter() {
                // Same capacity `L` on both sides: this never drops a layer.
                let _ = self.spikes.push(count);
            }
            Ok(Inference {
                class: prediction.class,
                outputs: prediction.outputs,
                spike_counts: &self.spikes,
                synaptic_events: prediction.synaptic_events,
            })
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A classifier for tests: class = first input byte modulo the output count.
    pub struct Scripted {
        pub outputs: [i32; 4],
        pub spikes: [u32; 2],
        pub calls: usize,
    }

    impl Scripted {
        pub fn new() -> Self {
            Self {
                outputs: [0; 4],
                spikes: [0; 2],
                calls: 0,
            }
        }
    }

    /// Error of [`Scripted`]: the input length was wrong.
    #[derive(Debug)]
    pub struct WrongLength(pub usize);

    impl core::fmt::Display for WrongLength {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            write!(f, "input has {} bytes, expected 3", self.0)
        }
    }

    impl Classifier for Scripted {
        type Error = WrongLength;
        fn input_size(&self) -> usize {
            3
        }
        fn output_size(&self) -> usize {
            4
        }
        fn default_timesteps(&self) -> u16 {
            16
        }
        fn classify(&mut self, input: &[u8], steps: u16) -> Result<Inference<'_>, WrongLength> {
            if input.len() != 3 {
                return Err(WrongLength(input.len()));
            }
            self.calls += 1;
            let class = u16::from(input[0]) % 4;
            self.outputs = [0; 4];
            self.outputs[usize::from(class)] = 65536 * i32::from(steps);
            self.outputs[(usize::from(class) + 1) % 4] = -1;
            self.spikes = [u32::from(input[1]) * u32::from(steps), u32::from(input[2])];
            Ok(Inference {
                class,
                outputs: &self.outputs,
                spike_counts: &self.spikes,
                synaptic_events: 10 * u32::from(steps),
            })
        }
    }

    #[test]
    fn scripted_classifier_borrows_results() {
        let mut c = Scripted::new();
        let r = c.classify(&[2, 1, 5], 4).unwrap();
        assert_eq!(r.class, 2);
        assert_eq!(r.outputs, &[0, 0, 262_144, -1]);
        assert_eq!(r.spike_counts, &[4, 5]);
        assert!(c.classify(&[1], 4).is_err());
    }
}
