//! The execution engine: a model bound to a state buffer, stepped in fixed point.
//!
//! Each step runs the layers first to last. A layer first turns the previous layer's events
//! into integer sums (the crate's `drive` kernels; nothing for a layer that received no
//! events), then forms its Q16.16 currents in place (scaled sums plus bias, through the
//! synapse), then steps its neurons, appending an event for the next layer per neuron that
//! spiked. The first layer's input is static: its current is computed once per input
//! ([`Network::set_input`]), and a first LIF layer without a synapse runs on spike clocks
//! (`runtime/src/clock.rs`) instead of stepping its voltages. The neuron kind, the current's
//! source and the synapse are dispatched once per layer, not per neuron.

use crate::clock;
use crate::drive::{self, event, pixel_position, MAX_COUNT};
use crate::error::{LoadError, RunError};
use crate::fixed_point::{mul_gain, mul_small_gain, scale, Q16};
use crate::format::{LayerConstants, Model, DEFAULT_MAX_LAYERS};
use crate::layer::{Layer, Shape, StatePlan};
use crate::neuron::{self, Dynamics, LifConstants};

/// One layer's slices of the state buffer (see [`StatePlan`]).
#[derive(Debug)]
struct LayerState<'s> {
    /// Per output channel: `multiplier | shift << 16`, then the Q16.16 bias.
    constants: &'s mut [i32],
    /// Integer sums of this step's input; for the first layer its static Q16.16 current (on
    /// spike clocks: the timing wheel's links of the neurons that fire, see [`crate::clock`]).
    sums: &'s mut [i32],
    /// Q16.16 synapse filter state plus the bias (empty when unfiltered): the neurons' current.
    ///
    /// Nengo filters the weighted input `x` and adds the bias `b` after: `J = y + b` with
    /// `y += g (x - y)`. Keeping `z = y + b` instead (`z += g ((x + b) - z)`, the same
    /// difference, so the same rounding) makes `z` the current itself, and a layer's current
    /// always one slice: the filter when there is one, the sums otherwise.
    filter: &'s mut [i32],
    /// Neuron state: Q16.16 voltage and (LIF) refractory time left in steps, interleaved.
    neurons: &'s mut [i32],
    /// Events emitted this step (`u32` bit patterns); the first `emitted` are valid.
    events: &'s mut [i32],
    /// The readout's Q16.16 values.
    outputs: &'s mut [i32],
}

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
    /// The first layer's spike clock, while its neurons run on one (see [`crate::clock`]).
    clock: Option<clock::Wheel>,
    input_shape: Shape,
    synaptic_events: u32,
    steps: u16,
}

/// `slice` in runs of `n` (a last shorter run left out; `n` of 0 counts as 1): `chunks_exact`
/// where a division is an instruction, and on Cortex-M0, where it is a library call and these
/// run every step, an iterator that splits as it goes instead of dividing for the remainder.
#[inline(always)]
fn runs<T>(slice: &[T], n: usize) -> impl Iterator<Item = &[T]> {
    let n = n.max(1);
    #[cfg(any(picospike_long_multiply, not(target_arch = "arm")))]
    {
        slice.chunks_exact(n)
    }
    #[cfg(not(any(picospike_long_multiply, not(target_arch = "arm"))))]
    {
        let mut rest = slice;
        core::iter::from_fn(move || {
            let (run, tail) = rest.split_at_checked(n)?;
            rest = tail;
            Some(run)
        })
    }
}

/// [`runs`] of a mutable slice.
#[inline(always)]
fn runs_mut<T>(slice: &mut [T], n: usize) -> impl Iterator<Item = &mut [T]> {
    let n = n.max(1);
    #[cfg(any(picospike_long_multiply, not(target_arch = "arm")))]
    {
        slice.chunks_exact_mut(n)
    }
    #[cfg(not(any(picospike_long_multiply, not(target_arch = "arm"))))]
    {
        let mut rest = slice;
        core::iter::from_fn(move || {
            let (run, tail) = core::mem::take(&mut rest).split_at_mut_checked(n)?;
            rest = tail;
            Some(run)
        })
    }
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
        let too_small = LoadError::StateTooSmall {
            needed: model.state_words(),
            given: state.len(),
        };
        if state.len() < model.state_words() {
            return Err(too_small);
        }
        let mut rest = state;
        // The stages are pushed into the network itself, not into a vector that is then moved:
        // one network-sized value less on the stack.
        let mut network = Network {
            stages: heapless::Vec::new(),
            clock: None,
            input_shape: model.input().shape,
            synaptic_events: 0,
            steps: 0,
        };
        for (layer, constants) in model.layers().iter().zip(model.constants()) {
            let plan: StatePlan = layer.state_plan();
            let mut take = |words| carve(&mut rest, words).ok_or(too_small);
            let state = LayerState {
                constants: take(plan.constants)?,
                sums: take(plan.accumulators)?,
                filter: take(plan.filter)?,
                neurons: take(plan.neurons)?,
                events: take(plan.events)?,
                outputs: take(plan.outputs)?,
            };
            let mut stage = Stage {
                layer,
                output: layer.output_shape(),
                constants,
                state,
                emitted: 0,
                spikes: 0,
            };
            decode_constants(&mut stage);
            if network.stages.push(stage).is_err() {
                return Err(LoadError::TooManyLayers {
                    found: model.layers().len(),
                    capacity: MAX_LAYERS,
                });
            }
        }
        network.reset();
        Ok(network)
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
                Some(Dynamics::Lif(lif)) if first.constants.synapse_gain.is_none() => Some(lif),
                _ => None,
            };
            let clock = lif.and_then(|lif| Some((lif, lif.clock.as_ref()?)));
            // A running clock goes back to voltages under the current it ran with.
            if let (Some(running), Some((lif, constants))) = (self.clock.take(), clock) {
                clock::unwind(&running, s.neurons, s.sums, constants, lif);
            }
            s.sums.fill(0);
            if let (Layer::Dense(dense), true) = (first.layer, shape.is_vector()) {
                dense.accumulate(drive::vector_events(input), s.sums);
            } else {
                let events = drive::input_events(shape, input);
                accumulate(first.layer, first.constants, events, s.sums);
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
                neuron::mark_at_rest(state, s.sums, lif);
                #[cfg(not(target_arch = "arm"))]
                let _ = (state, lif);
            }
        }
        Ok(())
    }

    /// Advance every layer by one time step, first to last.
    pub fn step(&mut self) {
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
                        let additions = accumulate(
                            layer,
                            stage.constants,
                            previous.iter().map(|&e| e as u32),
                            s.sums,
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
                index: drive::flat_index(e >> drive::COUNT_BITS, shape),
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

/// Where a layer's input current comes from this step.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    /// The first layer: `sums` holds the static current (the filter's target if filtered).
    Static,
    /// `sums` holds this step's integer sums.
    Events,
    /// No input events arrived: the drive is zero (`sums` holds last step's currents).
    Silent,
}

/// Pack a channel's multiplier and shift into one state word.
const fn pack_scale(multiplier: u16, shift: u8) -> i32 {
    (multiplier as u32 | (shift as u32) << 16) as i32
}

/// The multiplier and (signed) shift of a packed scale word.
#[inline(always)]
const fn unpack_scale(word: i32) -> (u16, i8) {
    (word as u32 as u16, ((word as u32) >> 16) as u8 as i8)
}

/// Decode a weighted layer's per-channel multipliers, shifts and biases into its state.
fn decode_constants(stage: &mut Stage<'_, '_>) {
    let Some((_, scaling)) = stage.layer.weighted() else {
        return;
    };
    let channels = stage.state.constants.len() / 2;
    let (scales, biases) = stage.state.constants.split_at_mut(channels);
    for ((word, multiplier), &shift) in scales
        .iter_mut()
        .zip(scaling.multipliers.chunks_exact(2))
        .zip(scaling.shifts)
    {
        *word = pack_scale(u16::from_le_bytes([multiplier[0], multiplier[1]]), shift);
    }
    for (word, bias) in biases.iter_mut().zip(scaling.biases.chunks_exact(4)) {
        *word = i32::from_le_bytes([bias[0], bias[1], bias[2], bias[3]]);
    }
}

/// Run the drive kernel of a weighted layer.
fn accumulate(
    layer: &Layer<'_>,
    constants: &LayerConstants,
    events: impl Iterator<Item = u32>,
    sums: &mut [i32],
) -> u32 {
    match layer {
        Layer::Dense(dense) => dense.accumulate(events, sums),
        Layer::Conv2d(conv) => conv.accumulate(events, sums, constants.divisor_reciprocal),
        Layer::SumPool(_) => 0,
    }
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
    if let (Some(Dynamics::Lif(lif)), Some(gain), Source::Static) =
        (&constants.dynamics, constants.synapse_gain, source)
    {
        if filter.len() == sums.len() {
            let (state, _) = neuron_state.as_chunks_mut::<2>();
            let currents = neuron::FilteredCurrents {
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
    match constants.dynamics {
        Some(Dynamics::Lif(lif)) => {
            let (state, _) = neuron_state.as_chunks_mut::<2>();
            let noted = lif_common_pass(state, currents, &lif, out.events);
            lif_finish(shape, state, currents, noted, &lif, &mut out);
        }
        Some(Dynamics::SpikingRectifiedLinear) => {
            for_each_pixel(shape, currents, &mut out, |run, currents, out| {
                if let Some(voltage) = neuron_state.get_mut(run) {
                    for (c, (v, &current)) in voltage.iter_mut().zip(currents).enumerate() {
                        let count = neuron::spiking_relu_step(v, current);
                        if count != 0 {
                            out.emit(c, count as u32);
                        }
                    }
                }
            });
        }
        Some(Dynamics::Readout) | None => {
            for (out, &current) in outputs.iter_mut().zip(currents) {
                *out = current;
            }
        }
    }
    (out.emitted, out.spikes)
}

/// The currents of an unfiltered layer, in place in `sums`: `bias + scale(sum)`.
fn unfiltered_currents(
    sums: &mut [i32],
    scales: &[i32],
    biases: &[i32],
    source: Source,
    channels: usize,
) {
    for sums in runs_mut(sums, channels) {
        match source {
            // The static current is already complete.
            Source::Static => return,
            Source::Events => {
                for (sum, (&packed, &bias)) in sums.iter_mut().zip(scales.iter().zip(biases)) {
                    *sum = drive(*sum, packed).saturating_add(bias);
                }
            }
            Source::Silent => {
                for (sum, &bias) in sums.iter_mut().zip(biases) {
                    *sum = bias;
                }
            }
        }
    }
}

/// The currents of a filtered layer, in place in `filter`: `z += g * (target - z)` with the
/// target `bias + scale(sum)` (see [`LayerState::filter`]). The product by the gain is chosen
/// once per layer: [`mul_small_gain`] (one `SMMULR` on Cortex-M4) for every gain below
/// [`SMALL_GAIN_LIMIT`](crate::fixed_point::SMALL_GAIN_LIMIT), [`mul_gain`] above; both give
/// the same bits.
fn filter_currents(
    sums: &[i32],
    filter: &mut [i32],
    scales: &[i32],
    biases: &[i32],
    gain: i32,
    source: Source,
    channels: usize,
) {
    // Cores without a long multiply have one product for every gain.
    #[cfg(picospike_long_multiply)]
    if gain < crate::fixed_point::SMALL_GAIN_LIMIT {
        return filter_with::<true>(sums, filter, scales, biases, gain, source, channels);
    }
    filter_with::<false>(sums, filter, scales, biases, gain, source, channels);
}

/// [`filter_currents`] with the product [`mul_small_gain`] (`SMALL`) or [`mul_gain`].
#[inline(always)]
fn filter_with<const SMALL: bool>(
    sums: &[i32],
    filter: &mut [i32],
    scales: &[i32],
    biases: &[i32],
    gain: i32,
    source: Source,
    channels: usize,
) {
    let lowpass = |z: &mut i32, target: i32| {
        let difference = target.saturating_sub(*z);
        let step = if SMALL {
            mul_small_gain(difference, gain)
        } else {
            mul_gain(difference, gain)
        };
        *z = z.saturating_add(step);
    };
    let run = |sums: &[i32], filter: &mut [i32]| match source {
        Source::Static => {
            for (z, &target) in filter.iter_mut().zip(sums) {
                lowpass(z, target);
            }
        }
        Source::Events => {
            for ((z, &sum), (&packed, &bias)) in
                filter.iter_mut().zip(sums).zip(scales.iter().zip(biases))
            {
                lowpass(z, drive(sum, packed).saturating_add(bias));
            }
        }
        Source::Silent => {
            for (z, &bias) in filter.iter_mut().zip(biases) {
                lowpass(z, bias);
            }
        }
    };
    if sums.len() == channels {
        // A vector: one run, without the runs' iterators.
        run(sums, filter);
    } else {
        for (sums, filter) in runs(sums, channels).zip(runs_mut(filter, channels)) {
            run(sums, filter);
        }
    }
}

/// A step's integer sum as a Q16.16 drive.
#[inline(always)]
fn drive(sum: i32, packed: i32) -> i32 {
    if sum == 0 {
        0
    } else {
        let (multiplier, shift) = unpack_scale(packed);
        scale(sum, multiplier, shift)
    }
}

/// Collects a layer's output events.
struct Emitter<'e> {
    events: &'e mut [i32],
    emitted: usize,
    spikes: u32,
}

impl Emitter<'_> {
    #[inline(always)]
    fn emit(&mut self, position: usize, count: u32) {
        if let Some(slot) = self.events.get_mut(self.emitted) {
            *slot = event(position as u32, count.min(MAX_COUNT)) as i32;
            self.emitted += 1;
        }
        self.spikes = self.spikes.saturating_add(count);
    }
}

/// Run `neurons(run, currents, out)` over every pixel's run of channels, with `out` emitting
/// events at the pixel's positions.
#[inline(always)]
fn for_each_pixel(
    shape: Shape,
    currents: &[i32],
    out: &mut Emitter<'_>,
    mut neurons: impl FnMut(core::ops::Range<usize>, &[i32], &mut PixelEmitter<'_, '_>),
) {
    let channels = usize::from(shape.channels).max(1);
    let vector = shape.is_vector();
    let (mut x, mut y) = (0u32, 0u32);
    for (pixel, currents) in runs(currents, channels).enumerate() {
        let base = pixel * channels;
        let tag = if vector {
            0
        } else {
            pixel_position(y, x) as usize
        };
        let mut pixel_out = PixelEmitter {
            out: &mut *out,
            tag,
        };
        neurons(base..base + channels, currents, &mut pixel_out);
        if !vector {
            x += 1;
            if x == u32::from(shape.width) {
                x = 0;
                y += 1;
            }
        }
    }
}

/// An [`Emitter`] for one pixel's run of channels: channel `c` is position `tag + c`.
struct PixelEmitter<'p, 'e> {
    out: &'p mut Emitter<'e>,
    tag: usize,
}

impl PixelEmitter<'_, '_> {
    #[inline(always)]
    fn emit(&mut self, channel: usize, count: u32) {
        self.out.emit(self.tag + channel, count);
    }
}

/// The first of a LIF layer's two passes: the common case, in a loop with no calls
/// ([`neuron::lif_common_steps`]). A neuron that is neither refractory nor about to spike
/// integrates; one whose refractory period goes on counts down (or ends without a spike).
/// Every other neuron (a spike, or a refractory period ending in one) is noted in `notes` (the
/// layer's event buffer: its index and which case it is); returns how many.
fn lif_common_pass(
    state: &mut [[i32; 2]],
    currents: impl neuron::Currents,
    constants: &LifConstants,
    notes: &mut [i32],
) -> usize {
    if constants.gain_shift == 0 {
        neuron::lif_common_steps::<true, _>(state, currents, constants, notes)
    } else {
        neuron::lif_common_steps::<false, _>(state, currents, constants, notes)
    }
}

/// The second pass of a LIF layer: each of the `noted` neurons is finished by
/// [`neuron::lif_finish_noted`] under this step's `currents`, and emits its event if it
/// spiked. The two passes leave exactly the state [`neuron::lif_step`] alone would.
#[inline(always)]
fn lif_finish(
    shape: Shape,
    state: &mut [[i32; 2]],
    currents: &[i32],
    noted: usize,
    constants: &LifConstants,
    out: &mut Emitter<'_>,
) {
    let (emitted, spikes) = if shape.is_vector() {
        lif_finish_vector(state, currents, noted, constants, out.events)
    } else {
        lif_finish_pixels(shape, state, currents, noted, constants, out.events)
    };
    out.emitted = emitted;
    out.spikes = out.spikes.saturating_add(spikes);
}

/// The noted neurons of `state` finish their step; returns (events, spikes). `events` holds
/// the `noted` notes on entry and this step's events (count 1, at the position
/// `position(index)`) on return. In place: the k-th note is read before the k-th event (at or
/// before it) is written, so events overwrite only notes already read.
#[inline(always)]
fn finish_notes(
    state: &mut [[i32; 2]],
    currents: &[i32],
    noted: usize,
    constants: &LifConstants,
    events: &mut [i32],
    mut position: impl FnMut(usize) -> u32,
) -> (usize, u32) {
    let mut emitted = 0;
    // At most one spike per note: no overflow.
    let mut spikes = 0u32;
    for k in 0..noted.min(events.len()) {
        let note = events[k];
        let index = (note & !neuron::REFRACTORY_ENDS) as usize;
        let (Some([voltage, refractory]), Some(&current)) =
            (state.get_mut(index), currents.get(index))
        else {
            continue;
        };
        if neuron::lif_finish_noted(voltage, refractory, current, note, constants) == 0 {
            continue;
        }
        // emitted <= k < events.len(): as `Emitter::emit` for a count of 1.
        if let Some(slot) = events.get_mut(emitted) {
            *slot = event(position(index), 1) as i32;
            emitted += 1;
        }
        spikes += 1;
    }
    (emitted, spikes)
}

/// [`lif_finish`] for a vector layer: a neuron's position is its index. Not inlined (nor the
/// pixel variant): inside the layer loop the pass ran short of registers and reloaded its
/// values from the stack around every call.
#[inline(never)]
fn lif_finish_vector(
    state: &mut [[i32; 2]],
    currents: &[i32],
    noted: usize,
    constants: &LifConstants,
    events: &mut [i32],
) -> (usize, u32) {
    finish_notes(state, currents, noted, constants, events, |index| {
        index as u32
    })
}

/// [`lif_finish`] for a feature map: the notes are in index order, so the pixel (and its
/// position) is found by walking along with them instead of dividing.
#[inline(never)]
fn lif_finish_pixels(
    shape: Shape,
    state: &mut [[i32; 2]],
    currents: &[i32],
    noted: usize,
    constants: &LifConstants,
    events: &mut [i32],
) -> (usize, u32) {
    finish_notes(
        state,
        currents,
        noted,
        constants,
        events,
        drive::positions(shape),
    )
}
