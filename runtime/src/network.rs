//! The execution engine: a model bound to a state buffer, stepped in fixed point.

use crate::error::{LoadError, RunError};
use crate::fixed_point::{mul_q16, saturate, Q16};
use crate::format::{LayerConstants, Model, DEFAULT_MAX_LAYERS};
use crate::layer::{read_i32, Layer};
use crate::neuron::{self, Dynamics};

/// One layer's slices of the state buffer.
#[derive(Debug)]
struct LayerState<'s> {
    /// Q16.16 weighted input; for the first layer it holds the static input's drive.
    drive: &'s mut [i32],
    /// Q16.16 synapse filter state (empty when unfiltered).
    filter: &'s mut [i32],
    /// Q16.16 membrane voltage (empty for the readout).
    voltage: &'s mut [i32],
    /// Q16.16 refractory time left in steps (LIF only).
    refractory: &'s mut [i32],
    /// Spike counts of this step, or the Q16.16 output values of the readout.
    output: &'s mut [i32],
}

#[derive(Debug)]
struct Stage<'m, 's> {
    layer: &'m Layer<'m>,
    constants: &'m LayerConstants,
    state: LayerState<'s>,
    /// Spikes emitted since the last reset.
    spikes: u32,
}

/// The result of one inference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prediction<'n, const MAX_LAYERS: usize = DEFAULT_MAX_LAYERS> {
    /// Index of the largest output value (the lowest index on a tie).
    pub class: u16,
    /// Output values at the last step, Q16.16 raw bits.
    pub outputs: &'n [i32],
    /// Spikes each layer emitted during the run (0 for the readout).
    pub spike_counts: heapless::Vec<u32, MAX_LAYERS>,
    /// Weight additions triggered by spikes during the run.
    pub synaptic_events: u32,
    /// Time steps run.
    pub steps: u16,
}

impl<const MAX_LAYERS: usize> Prediction<'_, MAX_LAYERS> {
    /// Output `index` as a [`Q16`] number (`None` past the last output).
    ///
    /// ```
    /// # use picospike_runtime::Prediction;
    /// let p: Prediction = Prediction {
    ///     class: 1,
    ///     outputs: &[-65536, 98304],
    ///     spike_counts: heapless::Vec::new(),
    ///     synaptic_events: 0,
    ///     steps: 1,
    /// };
    /// assert_eq!(p.output(1).map(|q| q.to_num::<f32>()), Some(1.5));
    /// assert_eq!(p.output(2), None);
    /// ```
    pub fn output(&self, index: usize) -> Option<Q16> {
        self.outputs.get(index).map(|&bits| Q16::from_bits(bits))
    }
}

/// A model bound to its state buffer, ready to run.
///
/// All memory is the caller's: the model's weights stay in the blob (flash), the validated
/// [`Model`] is borrowed, the state lives in the buffer passed to [`Network::new`] (a `static` on
/// a device), and the network itself is a dozen words per layer.
#[derive(Debug)]
pub struct Network<'m, 's, const MAX_LAYERS: usize = DEFAULT_MAX_LAYERS> {
    stages: heapless::Vec<Stage<'m, 's>, MAX_LAYERS>,
    synaptic_events: u32,
    steps: u16,
}

/// Split `n` words off the front of `rest`.
fn carve<'s>(rest: &mut &'s mut [i32], n: usize) -> Option<&'s mut [i32]> {
    let (head, tail) = core::mem::take(rest).split_at_mut_checked(n)?;
    *rest = tail;
    Some(head)
}

impl<'m, 's, const MAX_LAYERS: usize> Network<'m, 's, MAX_LAYERS> {
    /// Bind `model` to `state`, which must hold at least [`Model::state_words`] words.
    ///
    /// # Errors
    /// [`LoadError::StateTooSmall`] if `state` is too short.
    ///
    /// ```
    /// # use picospike_runtime::format::InputEncoding;
    /// # use picospike_runtime::layer::{Dense, Layer};
    /// # use picospike_runtime::{neuron::Neuron, synapse::Synapse, Model, ModelBuilder, Network};
    /// # let layers = [Layer::Dense(Dense {
    /// #     inputs: 2, outputs: 2, shift: 16, synapse: Synapse::None, neuron: Neuron::Readout,
    /// #     weights: &[1, 0, 0, 1], multipliers: &65_536i32.to_le_bytes().repeat(2),
    /// #     biases: &0i32.to_le_bytes().repeat(2),
    /// # })];
    /// # let input = InputEncoding { size: 2, full_scale: 255, timesteps: 10 };
    /// # let mut flash = [0u8; 128];
    /// # let blob = ModelBuilder { dt: 0.001, input, layers: &layers }.to_slice(&mut flash)?;
    /// // `blob`: a one-layer readout model, 2 inputs -> 2 outputs (identity weights).
    /// use picospike_runtime::LoadError;
    /// let model: Model = Model::from_bytes(blob)?;
    /// let mut tiny = [0i32; 1];
    /// assert_eq!(
    ///     Network::new(&model, &mut tiny).err(),
    ///     Some(LoadError::StateTooSmall { needed: model.state_words(), given: 1 })
    /// );
    /// let mut state = [0i32; 16];
    /// assert!(Network::new(&model, &mut state).is_ok());
    /// # Ok::<(), Box<dyn core::error::Error>>(())
    /// ```
    pub fn new(model: &'m Model<'m, MAX_LAYERS>, state: &'s mut [i32]) -> Result<Self, LoadError> {
        let too_small = LoadError::StateTooSmall {
            needed: model.state_words(),
            given: state.len(),
        };
        if state.len() < model.state_words() {
            return Err(too_small);
        }
        let mut rest = state;
        let mut stages = heapless::Vec::new();
        for (layer, constants) in model.layers().iter().zip(model.constants()) {
            let n = usize::from(layer.outputs());
            let filter_words = if constants.synapse_gain.is_some() {
                n
            } else {
                0
            };
            let (voltage_words, refractory_words) = match constants.dynamics {
                Dynamics::Lif(_) => (n, n),
                Dynamics::SpikingRectifiedLinear => (n, 0),
                Dynamics::Readout => (0, 0),
            };
            let mut take = |words| carve(&mut rest, words).ok_or(too_small);
            let state = LayerState {
                drive: take(n)?,
                filter: take(filter_words)?,
                voltage: take(voltage_words)?,
                refractory: take(refractory_words)?,
                output: take(n)?,
            };
            let stage = Stage {
                layer,
                constants,
                state,
                spikes: 0,
            };
            if stages.push(stage).is_err() {
                return Err(LoadError::TooManyLayers {
                    found: model.layers().len(),
                    capacity: MAX_LAYERS,
                });
            }
        }
        let mut network = Network {
            stages,
            synaptic_events: 0,
            steps: 0,
        };
        network.reset();
        Ok(network)
    }

    /// Number of input bytes [`Network::run`] takes.
    pub fn input_size(&self) -> usize {
        self.stages
            .first()
            .map_or(0, |s| usize::from(s.layer.inputs()))
    }

    /// Zero every voltage, filter, refractory counter, input drive and statistic.
    pub fn reset(&mut self) {
        for stage in &mut self.stages {
            let s = &mut stage.state;
            for words in [
                &mut *s.drive,
                &mut *s.filter,
                &mut *s.voltage,
                &mut *s.refractory,
                &mut *s.output,
            ] {
                words.fill(0);
            }
            stage.spikes = 0;
        }
        self.synaptic_events = 0;
        self.steps = 0;
    }

    /// Present a static input vector (raw bytes, scaled by the model's input encoding).
    ///
    /// Its weighted sum is computed once here rather than every step. The network keeps its
    /// state, so a stream of inputs can be fed without [`Network::reset`].
    ///
    /// # Errors
    /// [`RunError::InputLength`] if `input` does not have [`Network::input_size`] bytes.
    ///
    /// ```
    /// # use picospike_runtime::format::InputEncoding;
    /// # use picospike_runtime::layer::{Dense, Layer};
    /// # use picospike_runtime::{neuron::Neuron, synapse::Synapse, Model, ModelBuilder, Network};
    /// # let layers = [Layer::Dense(Dense {
    /// #     inputs: 2, outputs: 2, shift: 16, synapse: Synapse::None, neuron: Neuron::Readout,
    /// #     weights: &[1, 0, 0, 1], multipliers: &65_536i32.to_le_bytes().repeat(2),
    /// #     biases: &0i32.to_le_bytes().repeat(2),
    /// # })];
    /// # let input = InputEncoding { size: 2, full_scale: 255, timesteps: 10 };
    /// # let mut flash = [0u8; 128];
    /// # let blob = ModelBuilder { dt: 0.001, input, layers: &layers }.to_slice(&mut flash)?;
    /// // `blob`: a one-layer readout model, 2 inputs -> 2 outputs (identity weights).
    /// use picospike_runtime::RunError;
    /// let model: Model = Model::from_bytes(blob)?;
    /// let mut state = [0i32; 16];
    /// let mut network = Network::new(&model, &mut state)?;
    /// assert_eq!(network.set_input(&[1]), Err(RunError::InputLength { found: 1, expected: 2 }));
    /// // A stream: change the input between steps without resetting.
    /// network.set_input(&[255, 0])?;
    /// network.step();
    /// assert!(network.outputs()[0] > network.outputs()[1]);
    /// network.set_input(&[0, 255])?;
    /// network.step();
    /// assert!(network.outputs()[1] > network.outputs()[0]);
    /// # Ok::<(), Box<dyn core::error::Error>>(())
    /// ```
    pub fn set_input(&mut self, input: &[u8]) -> Result<(), RunError> {
        let expected = self.input_size();
        if input.len() != expected {
            return Err(RunError::InputLength {
                found: input.len(),
                expected,
            });
        }
        if let Some(first) = self.stages.first_mut() {
            first.layer.drive_from_input(input, first.state.drive);
        }
        Ok(())
    }

    /// Advance every layer by one time step, first to last.
    pub fn step(&mut self) {
        let mut previous: Option<&[i32]> = None;
        for stage in self.stages.iter_mut() {
            let s = &mut stage.state;
            if let Some(spikes) = previous {
                let events = stage.layer.drive_from_spikes(spikes, s.drive);
                self.synaptic_events = self.synaptic_events.saturating_add(events);
            }
            let emitted = update_neurons(stage.layer, stage.constants, s);
            stage.spikes = stage.spikes.saturating_add(emitted);
            previous = Some(&*stage.state.output);
        }
        self.steps = self.steps.saturating_add(1);
    }

    /// Number of layers.
    pub fn layer_count(&self) -> usize {
        self.stages.len()
    }

    /// This step's output of layer `index`: spike counts for a spiking layer, Q16.16 raw values
    /// for the readout; `None` past the last layer.
    ///
    /// Reading it after every [`Network::step`] gives per-neuron firing rates and spike rasters.
    pub fn layer_output(&self, index: usize) -> Option<&[i32]> {
        self.stages.get(index).map(|s| &*s.state.output)
    }

    /// The readout's current values, Q16.16 raw bits.
    pub fn outputs(&self) -> &[i32] {
        self.stages.last().map_or(&[], |s| &*s.state.output)
    }

    /// Stateless inference: reset, present `input`, run `steps` steps, read out.
    ///
    /// # Errors
    /// [`RunError::InputLength`] if `input` has the wrong size.
    pub fn run(
        &mut self,
        input: &[u8],
        steps: u16,
    ) -> Result<Prediction<'_, MAX_LAYERS>, RunError> {
        self.reset();
        self.set_input(input)?;
        for _ in 0..steps {
            self.step();
        }
        Ok(self.prediction())
    }

    /// The class, outputs and statistics since the last reset.
    pub fn prediction(&self) -> Prediction<'_, MAX_LAYERS> {
        let outputs = self.outputs();
        let mut class = 0u16;
        let mut best = i32::MIN;
        for (index, &value) in outputs.iter().enumerate() {
            if value > best {
                best = value;
                class = index as u16;
            }
        }
        let mut spike_counts = heapless::Vec::new();
        for stage in &self.stages {
            // Capacity equals the number of stages, so this cannot fail.
            let _ = spike_counts.push(stage.spikes);
        }
        Prediction {
            class,
            outputs,
            spike_counts,
            synaptic_events: self.synaptic_events,
            steps: self.steps,
        }
    }
}

/// Filter the drive, add the bias and step the neurons of one layer; returns spikes emitted.
fn update_neurons(layer: &Layer<'_>, constants: &LayerConstants, s: &mut LayerState<'_>) -> u32 {
    let mut filter = s.filter.iter_mut();
    let mut voltage = s.voltage.iter_mut();
    let mut refractory = s.refractory.iter_mut();
    let mut spikes = 0u32;
    let biases = layer.biases().chunks_exact(4);
    for ((&drive, bias), output) in s.drive.iter().zip(biases).zip(s.output.iter_mut()) {
        let mut input = drive;
        if let (Some(gain), Some(state)) = (constants.synapse_gain, filter.next()) {
            let error = saturate(i64::from(input) - i64::from(*state));
            *state = state.saturating_add(mul_q16(error, gain));
            input = *state;
        }
        let current = input.saturating_add(read_i32(bias));
        *output = match constants.dynamics {
            Dynamics::Lif(ref lif) => match (voltage.next(), refractory.next()) {
                (Some(v), Some(r)) => neuron::lif_step(v, r, current, lif),
                _ => 0,
            },
            Dynamics::SpikingRectifiedLinear => match voltage.next() {
                Some(v) => neuron::spiking_relu_step(v, current),
                None => 0,
            },
            Dynamics::Readout => current,
        };
        if !matches!(constants.dynamics, Dynamics::Readout) {
            spikes = spikes.saturating_add(*output as u32);
        }
    }
    spikes
}
