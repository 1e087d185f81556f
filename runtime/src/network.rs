//! The execution engine: a model bound to a state buffer, stepped in fixed point.
//!
//! Each step runs the layers first to last. A layer first turns the previous layer's events
//! into integer sums ([`crate::drive`]), then updates its neurons in one pass that, per
//! neuron, scales the sum to a Q16.16 current, filters it, adds the bias, steps the neuron
//! and, if it spiked, appends an event for the next layer. The first layer's input is static:
//! its current is computed once per input ([`Network::set_input`]). The neuron kind and the
//! synapse are dispatched once per layer, not per neuron, and a layer that received no events
//! skips its sums.

use crate::drive::{self, event, pixel_position, MAX_COUNT};
use crate::error::{LoadError, RunError};
use crate::fixed_point::{mul_q16, saturate, scale, Q16};
use crate::format::{LayerConstants, Model, DEFAULT_MAX_LAYERS};
use crate::layer::{Layer, Shape, StatePlan};
use crate::neuron::{self, Dynamics, LifConstants};

/// One layer's slices of the state buffer (see [`StatePlan`]).
#[derive(Debug)]
struct LayerState<'s> {
    /// Per output channel: `multiplier | shift << 16`, then the Q16.16 bias.
    constants: &'s mut [i32],
    /// Integer sums of this step's input; for the first layer its static Q16.16 current.
    sums: &'s mut [i32],
    /// Q16.16 synapse filter state (empty when unfiltered).
    filter: &'s mut [i32],
    /// Q16.16 membrane voltage.
    voltage: &'s mut [i32],
    /// Q16.16 refractory time left in steps (LIF only).
    refractory: &'s mut [i32],
    /// Events emitted this step (`u32` bit patterns); the first `emitted` are valid.
    events: &'s mut [i32],
    /// The readout's Q16.16 values.
    outputs: &'s mut [i32],
}

#[derive(Debug)]
struct Stage<'m, 's> {
    layer: &'m Layer<'m>,
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
/// a device), and the network itself is a dozen words per layer.
#[derive(Debug)]
pub struct Network<'m, 's, const MAX_LAYERS: usize = DEFAULT_MAX_LAYERS> {
    stages: heapless::Vec<Stage<'m, 's>, MAX_LAYERS>,
    input_shape: Shape,
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
        let mut stages = heapless::Vec::new();
        for (layer, constants) in model.layers().iter().zip(model.constants()) {
            let plan: StatePlan = layer.state_plan();
            let mut take = |words| carve(&mut rest, words).ok_or(too_small);
            let state = LayerState {
                constants: take(plan.constants)?,
                sums: take(plan.accumulators)?,
                filter: take(plan.filter)?,
                voltage: take(plan.voltage)?,
                refractory: take(plan.refractory)?,
                events: take(plan.events)?,
                outputs: take(plan.outputs)?,
            };
            let mut stage = Stage {
                layer,
                constants,
                state,
                emitted: 0,
                spikes: 0,
            };
            decode_constants(&mut stage);
            if stages.push(stage).is_err() {
                return Err(LoadError::TooManyLayers {
                    found: model.layers().len(),
                    capacity: MAX_LAYERS,
                });
            }
        }
        let mut network = Network {
            stages,
            input_shape: model.input().shape,
            synaptic_events: 0,
            steps: 0,
        };
        network.reset();
        Ok(network)
    }

    /// Number of input bytes [`Network::set_input`] takes.
    pub fn input_size(&self) -> usize {
        self.input_shape.len()
    }

    /// Zero every voltage, filter, refractory counter, input current, event and statistic.
    pub fn reset(&mut self) {
        for stage in &mut self.stages {
            let s = &mut stage.state;
            for words in [
                &mut *s.sums,
                &mut *s.filter,
                &mut *s.voltage,
                &mut *s.refractory,
                &mut *s.outputs,
            ] {
                words.fill(0);
            }
            s.events.fill(0);
            stage.emitted = 0;
            stage.spikes = 0;
        }
        self.synaptic_events = 0;
        self.steps = 0;
    }

    /// Present a static input (raw bytes in HWC order, scaled by the model's input encoding).
    ///
    /// Its current into the first layer is computed once here rather than every step, and
    /// zero bytes cost nothing. The network keeps its state, so a stream of inputs can be fed
    /// without [`Network::reset`].
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
        if let Some(first) = self.stages.first_mut() {
            let s = &mut first.state;
            s.sums.fill(0);
            let events = drive::input_events(shape, input);
            accumulate(first.layer, first.constants, events, s.sums);
            let channels = usize::from(first.layer.output_shape().channels).max(1);
            let (scales, biases) = s.constants.split_at(channels);
            // The current is the scaled sum; with no synapse to filter it, the bias is folded
            // in here too, so each step reads one word per neuron.
            let fold_bias = first.constants.synapse_gain.is_none();
            for sums in s.sums.chunks_exact_mut(channels) {
                for ((sum, &packed), &bias) in sums.iter_mut().zip(scales).zip(biases) {
                    let (multiplier, shift) = unpack_scale(packed);
                    let current = scale(*sum, multiplier, shift);
                    *sum = if fold_bias {
                        current.saturating_add(bias)
                    } else {
                        current
                    };
                }
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
                    );
                    let emitted = emitted.min(s.events.len());
                    let out = &mut s.events[..emitted];
                    pool.finish(s.sums, out);
                    stage.emitted = out.len();
                    stage.spikes = out
                        .iter()
                        .fold(stage.spikes, |n, &e| n.saturating_add(e as u32 & MAX_COUNT));
                }
                layer => {
                    let has_input = !first && !previous.is_empty();
                    if has_input {
                        let additions = accumulate(
                            layer,
                            stage.constants,
                            previous.iter().map(|&e| e as u32),
                            s.sums,
                        );
                        self.synaptic_events = self.synaptic_events.saturating_add(additions);
                    }
                    let source = if first {
                        Source::Static
                    } else if has_input {
                        Source::Events
                    } else {
                        Source::Silent
                    };
                    let (emitted, spikes) = update_neurons(layer, stage.constants, s, source);
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
    /// non-zero), in HWC order; empty for the readout, `None` past the last layer.
    ///
    /// Collecting them after every [`Network::step`] gives per-neuron firing rates and spike
    /// rasters.
    pub fn layer_spikes(&self, index: usize) -> Option<impl Iterator<Item = Spike> + '_> {
        let stage = self.stages.get(index)?;
        let shape = stage.layer.output_shape();
        let events = &stage.state.events[..stage.emitted.min(stage.state.events.len())];
        Some(events.iter().map(move |&e| {
            let e = e as u32;
            let position = (e >> drive::COUNT_BITS) as usize;
            let index = if shape.is_vector() {
                position
            } else {
                ((position >> 16) * usize::from(shape.width) + ((position >> 8) & 0xff))
                    * usize::from(shape.channels)
                    + (position & 0xff)
            };
            Spike {
                index,
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
    /// The first layer: `sums` holds the static current (bias folded in when unfiltered).
    Static,
    /// `sums` holds this step's integer sums, to be scaled and cleared.
    Events,
    /// No input events arrived: every sum is zero.
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
fn update_neurons(
    layer: &Layer<'_>,
    constants: &LayerConstants,
    s: &mut LayerState<'_>,
    source: Source,
) -> (usize, u32) {
    let shape = layer.output_shape();
    let channels = usize::from(shape.channels).max(1);
    let (scales, biases) = s.constants.split_at(channels.min(s.constants.len()));
    let current = Current {
        scales,
        biases,
        filter_gain: constants.synapse_gain,
        source,
    };
    let walk = Walk::new(shape);
    match constants.dynamics {
        Some(Dynamics::Lif(lif)) => {
            let neurons = Lif {
                voltage: s.voltage,
                refractory: s.refractory,
                constants: lif,
            };
            run_layer(s.sums, s.filter, s.events, current, walk, neurons)
        }
        Some(Dynamics::SpikingRectifiedLinear) => {
            let neurons = Relu { voltage: s.voltage };
            run_layer(s.sums, s.filter, s.events, current, walk, neurons)
        }
        Some(Dynamics::Readout) | None => {
            let neurons = Readout { outputs: s.outputs };
            run_layer(s.sums, s.filter, s.events, current, walk, neurons)
        }
    }
}

/// How a layer's input current is formed from its sums.
struct Current<'c> {
    scales: &'c [i32],
    biases: &'c [i32],
    filter_gain: Option<i32>,
    source: Source,
}

/// Positions of a layer's outputs in HWC order, without dividing.
struct Walk {
    vector: bool,
    channels: u32,
    width: u32,
}

impl Walk {
    fn new(shape: Shape) -> Self {
        Walk {
            vector: shape.is_vector(),
            channels: u32::from(shape.channels).max(1),
            width: u32::from(shape.width).max(1),
        }
    }
}

/// A neuron model's per-neuron update: `current` in, spike count out.
trait Neurons {
    fn update(&mut self, index: usize, current: i32) -> u32;
}

struct Lif<'s> {
    voltage: &'s mut [i32],
    refractory: &'s mut [i32],
    constants: LifConstants,
}

impl Neurons for Lif<'_> {
    #[inline(always)]
    fn update(&mut self, index: usize, current: i32) -> u32 {
        match (self.voltage.get_mut(index), self.refractory.get_mut(index)) {
            (Some(v), Some(r)) => neuron::lif_step(v, r, current, &self.constants) as u32,
            _ => 0,
        }
    }
}

struct Relu<'s> {
    voltage: &'s mut [i32],
}

impl Neurons for Relu<'_> {
    #[inline(always)]
    fn update(&mut self, index: usize, current: i32) -> u32 {
        match self.voltage.get_mut(index) {
            Some(v) => neuron::spiking_relu_step(v, current) as u32,
            None => 0,
        }
    }
}

struct Readout<'s> {
    outputs: &'s mut [i32],
}

impl Neurons for Readout<'_> {
    #[inline(always)]
    fn update(&mut self, index: usize, current: i32) -> u32 {
        if let Some(out) = self.outputs.get_mut(index) {
            *out = current;
        }
        0
    }
}

/// The one neuron pass of a layer, monomorphised per neuron model.
#[inline(always)]
fn run_layer<N: Neurons>(
    sums: &mut [i32],
    filter: &mut [i32],
    events: &mut [i32],
    current: Current<'_>,
    walk: Walk,
    mut neurons: N,
) -> (usize, u32) {
    let mut emitted = 0usize;
    let mut spikes = 0u32;
    let (mut c, mut x, mut y) = (0u32, 0u32, 0u32);
    let mut pixel = 0u32;
    let fold_bias = current.source == Source::Static && current.filter_gain.is_none();
    for (index, sum) in sums.iter_mut().enumerate() {
        let channel = c as usize;
        let drive = match current.source {
            Source::Static => *sum,
            Source::Silent => 0,
            Source::Events => {
                let raw = *sum;
                if raw == 0 {
                    0
                } else {
                    *sum = 0;
                    let (multiplier, shift) =
                        unpack_scale(current.scales.get(channel).copied().unwrap_or(0));
                    scale(raw, multiplier, shift)
                }
            }
        };
        let mut input = drive;
        if let (Some(gain), Some(state)) = (current.filter_gain, filter.get_mut(index)) {
            let error = saturate(i64::from(input) - i64::from(*state));
            *state = state.saturating_add(mul_q16(error, gain));
            input = *state;
        }
        if !fold_bias {
            input = input.saturating_add(current.biases.get(channel).copied().unwrap_or(0));
        }
        let count = neurons.update(index, input);
        if count != 0 {
            let position = if walk.vector { index as u32 } else { pixel | c };
            if let Some(slot) = events.get_mut(emitted) {
                *slot = event(position, count.min(MAX_COUNT)) as i32;
                emitted += 1;
            }
            spikes = spikes.saturating_add(count);
        }
        c += 1;
        if c == walk.channels {
            c = 0;
            x += 1;
            if x == walk.width {
                x = 0;
                y += 1;
            }
            pixel = pixel_position(y, x);
        }
    }
    (emitted, spikes)
}
