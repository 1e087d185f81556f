//! The execution engine: a model bound to a state buffer, stepped in fixed point.
//!
//! Each step runs the layers first to last. A layer first turns the previous layer's events
//! into integer sums (its kind's drive kernel, see [`crate::layer`]; nothing for a layer that
//! received no events), then forms its Q16.16 currents in place (`current.rs`: scaled sums
//! plus bias, through the synapse), then steps its neurons, appending an event for the next
//! layer per neuron that spiked. The first layer's input is static: its current is computed
//! once per input ([`Network::set_input`]), and a first LIF layer without a synapse runs on
//! spike clocks (`neuron/clock.rs`) instead of stepping its voltages. The neuron kind, the current's
//! source and the synapse are dispatched once per layer, not per neuron.

use crate::current::{filter_currents, unfiltered_currents, unpack_scale, Source};
use crate::error::{LoadError, RunError};
use crate::event::{flat_index, input_events, vector_events, Emitter, COUNT_BITS, MAX_COUNT};
use crate::fixed_point::{scale, Q16};
#[cfg(feature = "std")]
use crate::kernels::KernelSet;
use crate::kernels::{FanOut, Selected};
use crate::layer::Layer;
use crate::model::{Model, DEFAULT_MAX_LAYERS};
use crate::neuron::lif_layer::{lif_common_pass, lif_finish, FilteredCurrents};
use crate::neuron::{clock, Dynamics};
use crate::plan::{LayerConstants, LayerState};
use crate::runs::runs_mut;
use crate::shape::Shape;

#[derive(Debug)]
struct Stage<'m, 's> {
    layer: &'m Layer<'m>,
    /// The layer's output shape, computed once: a convolution's or a pool's needs a division,
    /// a library call on Cortex-M0.
    output: Shape,
    constants: &'m LayerConstants,
    state: LayerState<'s>,
    /// Events in `state.events` from the last step.
    emitted: usize,
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
    /// Spikes each layer emitted during the run (0 for the readout; pooled sums for a pool).
    pub spike_counts: heapless::Vec<u32, MAX_LAYERS>,
    /// Weight additions triggered by events during the run (static input excluded).
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

/// One event of a layer's output: which value, and how many spikes (or the pooled sum).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spike {
    /// Index of the value in the layer's output (HWC order).
    pub index: usize,
    /// Spikes this step (a pooled sum for a pooling layer).
    pub count: u32,
}

/// A model bound to its state buffer, ready to run.
///
/// All memory is the caller's: the model's weights stay in the blob (flash), the validated
/// [`Model`] is borrowed, the state lives in the buffer passed to [`Network::new`] (a `static` on
/// a device), and the network itself is a dozen words per layer plus, for a first layer on
/// spike clocks, its timing wheel (18 words).
#[derive(Debug)]
pub struct Network<'m, 's, const MAX_LAYERS: usize = DEFAULT_MAX_LAYERS> {
    stages: heapless::Vec<Stage<'m, 's>, MAX_LAYERS>,
    /// The first layer's spike clock, while its neurons run on one (see [`crate::neuron::clock`]).
    clock: Option<clock::Wheel>,
    input_shape: Shape,
    synaptic_events: u32,
    steps: u16,
}

impl<'m, 's, const MAX_LAYERS: usize> Network<'m, 's, MAX_LAYERS> {
    /// Bind `model` to `state`, which must hold at least [`Model::state_words`] words.
    ///
    /// The per-channel constants are decoded from the blob into the state buffer here, once.
    ///
    /// # Errors
    /// [`LoadError::StateTooSmall`] if `state` is too short.
    ///
    /// ```
    /// # use picospike_runtime::format::InputEncoding;
    /// # use picospike_runtime::{Model, ModelBuilder, Network};
    /// # let layers = picospike_runtime::format::doc_identity_layers();
    /// # let input = InputEncoding::vector(2, 255, 10);
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
        let mut network = Self::unbound(model);
        network.bind(model, state)?;
        Ok(network)
    }

    /// Bind `model` to `state` like [`Network::new`], building the network in `place` rather
    /// than returning it; `place` holds it after success and is `None` after an error.
    ///
    /// For a network that lives in a `static` on a small microcontroller, as
    /// [`Model::load_into`] is for the model: `new` returns the network by value, and moving
    /// it into its place costs its size again in stack (`size_of::<Network>()`, about 100 bytes
    /// per layer of capacity on a 32-bit target), while here no frame holds a copy.
    ///
    /// # Errors
    /// The [`LoadError`] that [`Network::new`] returns for the same model and state.
    ///
    /// ```
    /// # use picospike_runtime::format::InputEncoding;
    /// # use picospike_runtime::{Model, ModelBuilder, Network};
    /// # let layers = picospike_runtime::format::doc_identity_layers();
    /// # let input = InputEncoding::vector(2, 255, 10);
    /// # let mut flash = [0u8; 128];
    /// # let blob = ModelBuilder { dt: 0.001, input, layers: &layers }.to_slice(&mut flash)?;
    /// // `blob`: a one-layer readout model, 2 inputs -> 2 outputs (identity weights).
    /// let model: Model = Model::from_bytes(blob)?;
    /// let (mut state, mut tiny) = ([0i32; 16], [0i32; 1]);
    /// let mut place: Option<Network> = None; // on a board: a `static` (e.g. a `StaticCell`)
    /// let network = Network::new_into(&mut place, &model, &mut state)?;
    /// assert_eq!(network.input_size(), 2);
    ///
    /// assert!(Network::new_into(&mut place, &model, &mut tiny).is_err());
    /// assert!(place.is_none());
    /// # Ok::<(), Box<dyn core::error::Error>>(())
    /// ```
    pub fn new_into<'p>(
        place: &'p mut Option<Self>,
        model: &'m Model<'m, MAX_LAYERS>,
        state: &'s mut [i32],
    ) -> Result<&'p mut Self, LoadError> {
        *place = None;
        if let Err(e) = place.insert(Self::unbound(model)).bind(model, state) {
            *place = None;
            return Err(e);
        }
        // Always `Some` here (just bound); the error only keeps this path free of panics.
        place.as_mut().ok_or(LoadError::Malformed { part: "body" })
    }

    /// A network of no stages, to be bound by `Network::bind`; never handed out unbound.
    fn unbound(model: &Model<'m, MAX_LAYERS>) -> Self {
        Network {
            stages: heapless::Vec::new(),
            clock: None,
            input_shape: model.input().shape,
            synaptic_events: 0,
            steps: 0,
        }
    }

    /// Carve `state` into the stages of `model`'s layers, pushed into the network itself (not
    /// into a vector that is then moved: one network-sized value less on the stack), decode
    /// their constants and reset.
    fn bind(
        &mut self,
        model: &'m Model<'m, MAX_LAYERS>,
        state: &'s mut [i32],
    ) -> Result<(), LoadError> {
        let too_small = LoadError::StateTooSmall {
            needed: model.state_words(),
            given: state.len(),
        };
        if state.len() < model.state_words() {
            return Err(too_small);
        }
        let mut rest = state;
        for (layer, constants) in model.layers().iter().zip(model.constants()) {
            let state = LayerState::carve(&layer.state_plan(), &mut rest).ok_or(too_small)?;
            let mut stage = Stage {
                layer,
                output: layer.output_shape(),
                constants,
                state,
                emitted: 0,
                spikes: 0,
            };
            stage.state.decode_constants(layer);
            if self.stages.push(stage).is_err() {
                return Err(LoadError::TooManyLayers {
                    found: model.layers().len(),
                    capacity: MAX_LAYERS,
                });
            }
        }
        self.reset();
        Ok(())
    }

    /// Number of input bytes [`Network::set_input`] takes.
    pub fn input_size(&self) -> usize {
        self.input_shape.len()
    }

    /// Return to rest: zero every voltage, refractory counter, input current, event and
    /// statistic; synapse filters rest at their bias (`runtime/FORMAT.md`, state buffer).
    pub fn reset(&mut self) {
        for stage in &mut self.stages {
            let s = &mut stage.state;
            for words in [&mut *s.sums, &mut *s.neurons, &mut *s.outputs] {
                words.fill(0);
            }
            let channels = s.constants.len() / 2;
            if let Some(biases) = s.constants.get(channels..).filter(|_| channels > 0) {
                for run in runs_mut(s.filter, channels) {
                    for (z, &bias) in run.iter_mut().zip(biases) {
                        *z = bias;
                    }
                }
            }
            s.events.fill(0);
            stage.emitted = 0;
            stage.spikes = 0;
        }
        self.clock = None;
        self.synaptic_events = 0;
        self.steps = 0;
    }

    /// Present a static input (raw bytes in HWC order, scaled by the model's input encoding).
    ///
    /// Its current into the first layer is computed once here rather than every step, and
    /// zero bytes cost nothing. The network keeps its state, so a stream of inputs can be fed
    /// without [`Network::reset`]. A first LIF layer without a synapse presented an input at
    /// rest (after a reset) runs on spike clocks (see `runtime/SEMANTICS.md`) until the input
    /// changes mid-run.
    ///
    /// # Errors
    /// [`RunError::InputLength`] if `input` does not have [`Network::input_size`] bytes.
    ///
    /// ```
    /// # use picospike_runtime::format::InputEncoding;
    /// # use picospike_runtime::{Model, ModelBuilder, Network};
    /// # let layers = picospike_runtime::format::doc_identity_layers();
    /// # let input = InputEncoding::vector(2, 255, 10);
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
        self.set_input_with::<Selected>(input)
    }

    /// [`Network::set_input`] with the fan-out kernels `K`.
    #[inline(always)]
    fn set_input_with<K: FanOut>(&mut self, input: &[u8]) -> Result<(), RunError> {
        let expected = self.input_size();
        if input.len() != expected {
            return Err(RunError::InputLength {
                found: input.len(),
                expected,
            });
        }
        let shape = self.input_shape;
        let at_rest = self.steps == 0;
        if let Some(first) = self.stages.first_mut() {
            let s = &mut first.state;
            let lif = match &first.constants.dynamics {
                Some(Dynamics::Lif { lif, clock }) if first.constants.synapse_gain.is_none() => {
                    Some((lif, clock))
                }
                _ => None,
            };
            let clock = lif.and_then(|(lif, clock)| Some((lif, clock.as_ref()?)));
            let lif = lif.map(|(lif, _)| lif);
            // A running clock goes back to voltages under the current it ran with.
            if let (Some(running), Some((lif, constants))) = (self.clock.take(), clock) {
                clock::unwind(&running, s.neurons, s.sums, constants, lif);
            }
            s.sums.fill(0);
            if let (Layer::Dense(dense), true) = (first.layer, shape.is_vector()) {
                dense.accumulate::<K>(vector_events(input), s.sums);
            } else {
                let events = input_events(shape, input);
                let reciprocal = first.constants.divisor_reciprocal;
                first.layer.accumulate::<K>(events, s.sums, reciprocal);
            }
            let channels = usize::from(first.output.channels).max(1);
            let (scales, biases) = s.constants.split_at_checked(channels).unwrap_or((&[], &[]));
            // The current (the filter's target when there is a synapse), so that each step
            // reads one word per neuron.
            for sums in runs_mut(s.sums, channels) {
                for ((sum, &packed), &bias) in sums.iter_mut().zip(scales).zip(biases) {
                    let (multiplier, shift) = unpack_scale(packed);
                    *sum = scale(*sum, multiplier, shift).saturating_add(bias);
                }
            }
            if let (true, Some((lif, constants))) = (at_rest, clock) {
                let shape = first.output;
                self.clock = Some(clock::start(s.neurons, s.sums, shape, constants, lif));
            } else if let Some(lif) = lif {
                let (state, _) = s.neurons.as_chunks_mut::<2>();
                // On the microcontrollers only: their branches cost the same taken or not, so
                // the marks save the whole update of a resting neuron. A host core predicts
                // branches, and the mark's test, which follows the image, mispredicts: there
                // the marks made the digits benchmark about 15 % slower. Either way the results
                // are the same bits (the marks change no output, see `mark_at_rest`), so the
                // boards' comparison with the host also checks the marks.
                #[cfg(target_arch = "arm")]
                crate::neuron::lif_layer::mark_at_rest(state, s.sums, lif);
                #[cfg(not(target_arch = "arm"))]
                let _ = (state, lif);
            }
        }
        Ok(())
    }

    /// Advance every layer by one time step, first to last.
    pub fn step(&mut self) {
        self.step_with::<Selected>();
    }

    /// [`Network::step`] with the fan-out kernels `K`.
    #[inline(always)]
    fn step_with<K: FanOut>(&mut self) {
        let mut previous: &[i32] = &[];
        for (index, stage) in self.stages.iter_mut().enumerate() {
            let first = index == 0;
            let s = &mut stage.state;
            match stage.layer {
                Layer::SumPool(pool) => {
                    let emitted = pool.accumulate(
                        previous.iter().map(|&e| e as u32),
                        s.sums,
                        s.events,
                        stage.constants.divisor_reciprocal,
                        stage.output,
                    );
                    let emitted = emitted.min(s.events.len());
                    let out = &mut s.events[..emitted];
                    pool.finish(s.sums, out, stage.output);
                    stage.emitted = out.len();
                    stage.spikes = out
                        .iter()
                        .fold(stage.spikes, |n, &e| n.saturating_add(e as u32 & MAX_COUNT));
                }
                _ if first && self.clock.is_some() => {
                    if let Some(wheel) = self.clock.as_mut() {
                        let shape = stage.output;
                        stage.emitted = clock::step(wheel, s.neurons, s.sums, shape, s.events);
                        stage.spikes = stage.spikes.saturating_add(stage.emitted as u32);
                    }
                }
                layer => {
                    let source = if first {
                        Source::Static
                    } else if previous.is_empty() {
                        Source::Silent
                    } else {
                        s.sums.fill(0);
                        let additions = layer.accumulate::<K>(
                            previous.iter().map(|&e| e as u32),
                            s.sums,
                            stage.constants.divisor_reciprocal,
                        );
                        self.synaptic_events = self.synaptic_events.saturating_add(additions);
                        Source::Events
                    };
                    let (emitted, spikes) =
                        update_neurons(stage.output, stage.constants, s, source);
                    stage.emitted = emitted;
                    stage.spikes = stage.spikes.saturating_add(spikes);
                }
            }
            previous = &stage.state.events[..stage.emitted.min(stage.state.events.len())];
        }
        self.steps = self.steps.saturating_add(1);
    }

    /// [`Network::set_input`] with the kernel set `kernels` instead of the build's own: for
    /// differential tests on the host (`fuzz/host`'s `differential` target), which run every
    /// set on the same model and require the same bits.
    ///
    /// # Errors
    /// As [`Network::set_input`].
    #[cfg(feature = "std")]
    #[doc(hidden)]
    pub fn set_input_on(&mut self, input: &[u8], kernels: KernelSet) -> Result<(), RunError> {
        match kernels {
            KernelSet::Portable => self.set_input_with::<crate::kernels::portable::Portable>(input),
            KernelSet::DspTwins => self.set_input_with::<crate::kernels::DspTwins>(input),
        }
    }

    /// [`Network::step`] with the kernel set `kernels` (see [`Network::set_input_on`]).
    #[cfg(feature = "std")]
    #[doc(hidden)]
    pub fn step_on(&mut self, kernels: KernelSet) {
        match kernels {
            KernelSet::Portable => self.step_with::<crate::kernels::portable::Portable>(),
            KernelSet::DspTwins => self.step_with::<crate::kernels::DspTwins>(),
        }
    }

    /// Number of layers.
    pub fn layer_count(&self) -> usize {
        self.stages.len()
    }

    /// Number of values layer `index` outputs (`None` past the last layer).
    pub fn layer_len(&self, index: usize) -> Option<usize> {
        self.stages.get(index).map(|s| s.layer.outputs())
    }

    /// This step's events of layer `index`: the values that spiked (or pooled sums that are
    /// non-zero), in HWC order (for a first layer on spike clocks, in the order its timing
    /// wheel gives them); empty for the readout, `None` past the last layer.
    ///
    /// Collecting them after every [`Network::step`] gives per-neuron firing rates and spike
    /// rasters.
    pub fn layer_spikes(&self, index: usize) -> Option<impl Iterator<Item = Spike> + '_> {
        let stage = self.stages.get(index)?;
        let shape = stage.output;
        let events = &stage.state.events[..stage.emitted.min(stage.state.events.len())];
        Some(events.iter().map(move |&e| {
            let e = e as u32;
            Spike {
                index: flat_index(e >> COUNT_BITS, shape),
                count: e & MAX_COUNT,
            }
        }))
    }

    /// The readout's current values, Q16.16 raw bits.
    pub fn outputs(&self) -> &[i32] {
        self.stages.last().map_or(&[], |s| &*s.state.outputs)
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
        let class = class_of(outputs);
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

/// Index of the largest of `outputs` (the lowest on a tie; 0 when empty).
pub(crate) fn class_of(outputs: &[i32]) -> u16 {
    let mut class = 0u16;
    let mut best = i32::MIN;
    for (index, &value) in outputs.iter().enumerate() {
        if value > best {
            best = value;
            class = index as u16;
        }
    }
    class
}

/// Step the neurons of one weighted layer; returns (events emitted, spikes emitted).
///
/// First the currents of the whole layer are formed in place (scaled sums plus bias, through
/// the synapse), then each pixel's run of channels goes through the neuron model's loop. The
/// neuron kind, the source and the synapse are dispatched once per layer.
fn update_neurons(
    shape: Shape,
    constants: &LayerConstants,
    s: &mut LayerState<'_>,
    source: Source,
) -> (usize, u32) {
    let LayerState {
        constants: channel_constants,
        sums,
        filter,
        neurons: neuron_state,
        events,
        outputs,
    } = s;
    let channels = usize::from(shape.channels).max(1);
    let (scales, biases) = channel_constants.split_at(channels.min(channel_constants.len()));
    // A LIF layer under its static current (the first layer) steps its synapse in the
    // neurons' own pass; every other layer forms its currents first.
    if let (Some(Dynamics::Lif { lif, .. }), Some(gain), Source::Static) =
        (&constants.dynamics, constants.synapse_gain, source)
    {
        if filter.len() == sums.len() {
            let (state, _) = neuron_state.as_chunks_mut::<2>();
            let currents = FilteredCurrents {
                targets: sums,
                filter,
                gain,
            };
            let noted = lif_common_pass(state, currents, lif, events);
            let mut out = Emitter {
                events,
                emitted: 0,
                spikes: 0,
            };
            lif_finish(shape, state, filter, noted, lif, &mut out);
            return (out.emitted, out.spikes);
        }
    }
    let currents: &[i32] = match constants.synapse_gain {
        Some(gain) if filter.len() == sums.len() => {
            filter_currents(sums, filter, scales, biases, gain, source, channels);
            filter
        }
        _ => {
            unfiltered_currents(sums, scales, biases, source, channels);
            sums
        }
    };
    let mut out = Emitter {
        events,
        emitted: 0,
        spikes: 0,
    };
    match &constants.dynamics {
        Some(dynamics) => dynamics.step_layer(shape, currents, neuron_state, outputs, &mut out),
        // A linear layer has no outputs region (pools take their own branch of the step).
        None => {
            for (out, &current) in outputs.iter_mut().zip(currents) {
                *out = current;
            }
        }
    }
    (out.emitted, out.spikes)
}
