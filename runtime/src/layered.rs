//! The layer-major execution order: each layer runs the whole time window before the next.
//!
//! [`Network`](crate::Network) steps every layer once per time step, so every neuron's state is
//! live for the whole inference (44 KB for the conv MNIST network). Under a static input a
//! feed-forward network does not need that order: a layer's neurons at step `t` depend only on
//! their own past and on the previous layer's output of steps up to `t`. So [`LayeredNetwork`]
//! runs the first layer over all the steps one neuron at a time, then the second, and so on. A
//! neuron's state lives in registers for its whole run; what a layer passes to the next is kept
//! in one of two forms, whichever is smaller (a *boundary*):
//!
//! - a **raster**: each neuron's spike count at every step, in as few bits as the largest count
//!   the layer can emit (proven at load: one bit for LIF neurons, for spiking ReLU neurons what
//!   their largest possible current allows, for a pool its window's sum); the next layer's
//!   neurons gather their inputs from it (their kind's `for_each_fan_in`);
//! - the next layer's **sums** at every step: each spike count is scattered into them as soon as
//!   it is known, by the step order's own fan-out kernels (a weighted next layer only).
//!
//! The integer sums are the same numbers in both orders (exact `i32` additions, in a range
//! checked at load), and the rest of each step runs the same functions on one neuron that the
//! step order runs on a whole layer. The two orders therefore give the same outputs, spike
//! counts and synaptic event count, and the same spikes of every layer at every step, which the
//! tests check on every committed model (`runtime/SEMANTICS.md`, "Execution orders"). An input
//! that changes during the run (a stream) needs the step order.

use crate::current::{lowpass, pack_scale, scaled_sum};
use crate::error::{LoadError, RunError};
use crate::event::{event, pixel_position, MAX_COUNT};
use crate::fixed_point::{scale, ONE};
use crate::kernels::Selected;
use crate::layer::{Layer, Scaling};
use crate::model::{Model, DEFAULT_MAX_LAYERS};
use crate::network::{class_of, Prediction};
use crate::neuron::clock::{first_crossing, ClockConstants};
use crate::neuron::lif::{lif_step, LifConstants};
use crate::neuron::{spiking_relu, Dynamics, Neuron};
use crate::plan::LayerConstants;
use crate::shape::{places, Place};

/// Words of a neuron's integer sums over a run of steps: a raster is read 32 bits at a time.
const RUN_WORDS: usize = 32;

/// What one layer passes to the next (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Boundary {
    /// Each output's count at every step, `bits` bits per count.
    Raster { bits: u8 },
    /// The next layer's integer sums at every step.
    Sums,
    /// The readout: its values only.
    Readout,
}

impl Boundary {
    /// Words this boundary takes for `layer` followed by `next`, over `steps` steps.
    fn words(self, layer: &Layer<'_>, next: Option<&Layer<'_>>, steps: u16) -> usize {
        match self {
            Boundary::Raster { bits } => raster_len(layer.outputs(), u32::from(bits), steps),
            Boundary::Sums => next.map_or(0, |n| n.outputs() * usize::from(steps)),
            Boundary::Readout => 0,
        }
    }
}

/// A model bound to a state buffer for the layer-major order, for a fixed number of steps.
///
/// ```
/// # use picospike_runtime::format::InputEncoding;
/// # use picospike_runtime::{Model, ModelBuilder, Network};
/// # let layers = picospike_runtime::format::doc_identity_layers();
/// # let input = InputEncoding::vector(2, 255, 10);
/// # let mut flash = [0u8; 128];
/// # let blob = ModelBuilder { dt: 0.001, input, layers: &layers }.to_slice(&mut flash)?;
/// use picospike_runtime::LayeredNetwork;
/// let model: Model = Model::from_bytes(blob)?;
/// let steps = 10;
/// let mut state = [0i32; 64];
/// let words = LayeredNetwork::state_words(&model, steps);
/// let mut layered = LayeredNetwork::new(&model, &mut state[..words], steps)?;
/// let by_layers = layered.run(&[200, 30], steps)?.outputs.to_vec();
///
/// let mut state = [0i32; 16];
/// let mut network = Network::new(&model, &mut state)?;
/// assert_eq!(network.run(&[200, 30], steps)?.outputs, &by_layers[..]);
/// # Ok::<(), Box<dyn core::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct LayeredNetwork<'m, 's, const MAX_LAYERS: usize = DEFAULT_MAX_LAYERS> {
    model: &'m Model<'m, MAX_LAYERS>,
    /// The most steps a run may take: the state was sized for them.
    max_steps: u16,
    /// Steps of the last run.
    steps: u16,
    /// What each layer passes on.
    boundaries: heapless::Vec<Boundary, MAX_LAYERS>,
    /// A neuron's integer sums over a run of steps.
    sums: &'s mut [i32],
    /// The readout's Q16.16 values after the last step.
    outputs: &'s mut [i32],
    /// Every layer's boundary, first to last.
    passed: &'s mut [i32],
    spike_counts: heapless::Vec<u32, MAX_LAYERS>,
    synaptic_events: u32,
}

impl<'m, 's, const MAX_LAYERS: usize> LayeredNetwork<'m, 's, MAX_LAYERS> {
    /// Exact size in words of the state buffer that [`LayeredNetwork::new`] needs for `model`
    /// run for up to `steps` steps: each layer's boundary, the readout's values and 32 words of
    /// sums (the formula of [`LayeredNetwork::state_terms`] at `steps`).
    pub fn state_words(model: &Model<'_, MAX_LAYERS>, steps: u16) -> usize {
        let boundaries = boundaries(model, false);
        RUN_WORDS
            + model.output_size()
            + boundary_words(model.layers(), &boundaries, steps, usize::MAX)
    }

    /// [`LayeredNetwork::state_words`] as a formula of the step count, for code that sizes a
    /// buffer at compile time (`picospike export --rust-module` writes it as a `const fn`):
    /// `fixed + sum of (values * steps * bits).div_ceil(32)` over the terms.
    pub fn state_terms(
        model: &Model<'_, MAX_LAYERS>,
    ) -> (usize, heapless::Vec<StateTerm, MAX_LAYERS>) {
        let layers = model.layers();
        let mut terms = heapless::Vec::new();
        for (index, boundary) in boundaries(model, false).iter().enumerate() {
            let term = match boundary {
                Boundary::Raster { bits } => layers.get(index).map(|l| StateTerm {
                    values: l.outputs(),
                    bits: *bits,
                }),
                Boundary::Sums => layers.get(index + 1).map(|next| StateTerm {
                    values: next.outputs(),
                    bits: 32,
                }),
                Boundary::Readout => None,
            };
            // As many terms as layers at most.
            if let Some(term) = term {
                let _ = terms.push(term);
            }
        }
        (RUN_WORDS + model.output_size(), terms)
    }

    /// Bind `model` to `state` for runs of up to `max_steps` steps.
    ///
    /// # Errors
    /// [`LoadError::StateTooSmall`] if `state` holds fewer than
    /// [`LayeredNetwork::state_words`] words for `max_steps`.
    pub fn new(
        model: &'m Model<'m, MAX_LAYERS>,
        state: &'s mut [i32],
        max_steps: u16,
    ) -> Result<Self, LoadError> {
        Self::bind(model, state, max_steps, false)
    }

    /// [`LayeredNetwork::new`] with a raster at every boundary, so that [`LayeredNetwork::count`]
    /// answers for every layer (host tests; it may need more state than `state_words`).
    #[cfg(feature = "std")]
    #[doc(hidden)]
    pub fn with_rasters(
        model: &'m Model<'m, MAX_LAYERS>,
        state: &'s mut [i32],
        max_steps: u16,
    ) -> Result<Self, LoadError> {
        Self::bind(model, state, max_steps, true)
    }

    /// The state words of [`LayeredNetwork::with_rasters`].
    #[cfg(feature = "std")]
    #[doc(hidden)]
    pub fn state_words_with_rasters(model: &Model<'_, MAX_LAYERS>, steps: u16) -> usize {
        let boundaries = boundaries(model, true);
        RUN_WORDS
            + model.output_size()
            + boundary_words(model.layers(), &boundaries, steps, usize::MAX)
    }

    fn bind(
        model: &'m Model<'m, MAX_LAYERS>,
        state: &'s mut [i32],
        max_steps: u16,
        rasters_only: bool,
    ) -> Result<Self, LoadError> {
        let boundaries = boundaries(model, rasters_only);
        let passed = boundary_words(model.layers(), &boundaries, max_steps, usize::MAX);
        let needed = RUN_WORDS + model.output_size() + passed;
        let too_small = LoadError::StateTooSmall {
            needed,
            given: state.len(),
        };
        let (sums, rest) = state.split_at_mut_checked(RUN_WORDS).ok_or(too_small)?;
        let (outputs, rest) = rest
            .split_at_mut_checked(model.output_size())
            .ok_or(too_small)?;
        let (passed, _) = rest.split_at_mut_checked(passed).ok_or(too_small)?;
        Ok(LayeredNetwork {
            model,
            max_steps,
            steps: 0,
            boundaries,
            sums,
            outputs,
            passed,
            spike_counts: heapless::Vec::new(),
            synaptic_events: 0,
        })
    }

    /// The most steps a run may take (the state was sized for them).
    pub fn max_steps(&self) -> u16 {
        self.max_steps
    }

    /// Bits of one spike count in layer `index`'s raster, `None` when the layer passes its
    /// spikes on as the next layer's sums (or is the readout, or is past the last layer).
    pub fn count_bits(&self, index: usize) -> Option<u8> {
        match self.boundaries.get(index)? {
            Boundary::Raster { bits } => Some(*bits),
            _ => None,
        }
    }

    /// Inference from rest: present `input` for `steps` steps, layer by layer, and read out;
    /// the same [`Prediction`] as [`Network::run`](crate::Network::run).
    ///
    /// # Errors
    /// [`RunError::InputLength`] if `input` does not have the model's input size,
    /// [`RunError::TooManySteps`] beyond [`LayeredNetwork::max_steps`].
    pub fn run(
        &mut self,
        input: &[u8],
        steps: u16,
    ) -> Result<Prediction<'_, MAX_LAYERS>, RunError> {
        let expected = self.model.input_size();
        if input.len() != expected {
            return Err(RunError::InputLength {
                found: input.len(),
                expected,
            });
        }
        if steps > self.max_steps {
            return Err(RunError::TooManySteps {
                found: steps,
                most: self.max_steps,
            });
        }
        // Laid out for this run's steps: no more words than for `max_steps`.
        self.steps = steps;
        self.outputs.fill(0);
        self.passed.fill(0);
        self.spike_counts.clear();
        self.synaptic_events = 0;
        let layers = self.model.layers();
        let constants = self.model.constants();
        let mut rest: &mut [i32] = &mut *self.passed;
        let mut received = Received::Static(input);
        for (index, (layer, own)) in layers.iter().zip(constants).enumerate() {
            let boundary = self
                .boundaries
                .get(index)
                .copied()
                .unwrap_or(Boundary::Readout);
            let next = layers.get(index + 1).zip(constants.get(index + 1));
            let words = boundary.words(layer, next.map(|(n, _)| n), steps);
            let all = core::mem::take(&mut rest);
            let (region, after) = all.split_at_mut(words.min(all.len()));
            rest = after;
            let mut out = Passed {
                to: match (boundary, next) {
                    (Boundary::Raster { bits }, _) => To::Raster(Raster {
                        words: region,
                        bits: u32::from(bits),
                        steps: u32::from(steps),
                    }),
                    (Boundary::Sums, Some((next, next_constants))) => To::Sums {
                        sums: region,
                        next,
                        divisor_reciprocal: next_constants.divisor_reciprocal,
                    },
                    _ => To::Readout(&mut *self.outputs),
                },
                spikes: 0,
                additions: 0,
            };
            let pass = LayerPass {
                layer,
                constants: own,
                run: &mut *self.sums,
                steps: u32::from(steps),
            };
            let gathered = pass.run(&received, &mut out);
            self.synaptic_events = self
                .synaptic_events
                .saturating_add(gathered)
                .saturating_add(out.additions);
            // One count per layer, as many as the model holds.
            let _ = self.spike_counts.push(out.spikes);
            received = match out.to {
                To::Raster(raster) => Received::Raster(raster.frozen()),
                To::Sums { sums, .. } => Received::Sums(sums),
                To::Readout(_) => Received::Static(&[]),
            };
        }
        Ok(Prediction {
            class: class_of(self.outputs),
            outputs: self.outputs,
            spike_counts: self.spike_counts.clone(),
            synaptic_events: self.synaptic_events,
            steps,
        })
    }

    /// The spike count of value `value` of layer `layer` at step `step` of the last run: the
    /// raster the step order's [`Network::layer_spikes`](crate::Network::layer_spikes) gives
    /// step by step. `None` out of range and for a layer without a raster (see
    /// [`LayeredNetwork::count_bits`]).
    pub fn count(&self, layer: usize, value: usize, step: u16) -> Option<u32> {
        let layers = self.model.layers();
        let Boundary::Raster { bits } = *self.boundaries.get(layer)? else {
            return None;
        };
        if value >= layers.get(layer)?.outputs() || step >= self.steps {
            return None;
        }
        let offset = boundary_words(layers, &self.boundaries, self.steps, layer);
        let raster = Raster {
            words: self.passed.get(offset..)?,
            bits: u32::from(bits),
            steps: u32::from(self.steps),
        };
        Some(raster.counts(value, u32::from(step), 1))
    }
}

/// One term of [`LayeredNetwork::state_terms`]: `values` counts of `bits` bits per step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StateTerm {
    /// Values per step.
    pub values: usize,
    /// Bits per value.
    pub bits: u8,
}

/// Words of a raster of `values` values over `steps` steps at `bits` bits per count.
fn raster_len(values: usize, bits: u32, steps: u16) -> usize {
    (values * usize::from(steps) * bits as usize).div_ceil(32)
}

/// Words of the boundaries of the first `count` of `layers`.
fn boundary_words(
    layers: &[Layer<'_>],
    boundaries: &[Boundary],
    steps: u16,
    count: usize,
) -> usize {
    let mut words = 0;
    for (index, (layer, boundary)) in layers.iter().zip(boundaries).enumerate().take(count) {
        words += boundary.words(layer, layers.get(index + 1), steps);
    }
    words
}

/// Each layer's boundary: a raster of the smallest of 1, 2, 4 and 8 bits that holds the largest
/// count the layer can emit in one step, or the next layer's sums when they take fewer bits per
/// step and the next layer is weighted (never with `rasters_only`). The same at every step
/// count.
fn boundaries<const L: usize>(
    model: &Model<'_, L>,
    rasters_only: bool,
) -> heapless::Vec<Boundary, L> {
    let mut boundaries = heapless::Vec::new();
    let layers = model.layers();
    // Largest value of the first layer's input: a raw byte.
    let mut fed_max = u32::from(u8::MAX);
    for (index, layer) in layers.iter().enumerate() {
        let most = largest_count(layer, fed_max);
        let bits = match most {
            0..=1 => 1,
            2..=3 => 2,
            4..=15 => 4,
            _ => 8,
        };
        let raster_bits = layer.outputs() * usize::from(bits);
        let boundary = match layers.get(index + 1) {
            None => Boundary::Readout,
            Some(next)
                if next.weighted().is_some()
                    && !rasters_only
                    && next.outputs() * 32 < raster_bits =>
            {
                Boundary::Sums
            }
            Some(_) => Boundary::Raster { bits },
        };
        // As many entries as layers, which the model holds.
        let _ = boundaries.push(boundary);
        fed_max = most;
    }
    boundaries
}

/// The largest count one output of `layer` emits in one step when each input carries at most
/// `fed_max`.
///
/// A spiking ReLU neuron keeps its voltage below 1 after each step as long as its current stays
/// at most 255, so it emits at most `ceil(J)` spikes under a current `J`; a channel's current is
/// at most its scale of the sum of its positive weights times `fed_max`, plus its bias (the
/// scale is monotonic, and a synapse's filter moves between its bias and its targets).
fn largest_count(layer: &Layer<'_>, fed_max: u32) -> u32 {
    match (layer.neuron(), layer.weighted()) {
        (None, _) => fed_max.saturating_mul(layer.fan_in() as u32).min(MAX_COUNT),
        (Some(Neuron::SpikingRectifiedLinear { .. }), Some((weights, scaling))) => {
            let channels = usize::from(layer.output_shape().channels).max(1);
            let mut most = 0i32;
            for channel in 0..channels {
                let positive: u64 = weights
                    .iter()
                    .skip(channel)
                    .step_by(channels)
                    .map(|&w| (w as i8).max(0) as u64)
                    .sum();
                let sum = (positive * u64::from(fed_max)).min(i32::MAX as u64) as i32;
                let (multiplier, shift, bias) = channel_scaling(&scaling, channel);
                most = most.max(scale(sum, multiplier, shift).saturating_add(bias));
            }
            let ceiling = (most as u32).div_ceil(ONE as u32);
            if most <= 0 {
                0
            } else {
                ceiling.min(MAX_COUNT)
            }
        }
        (Some(neuron), _) => neuron.max_count(),
    }
}

/// Channel `channel`'s multiplier, shift and Q16.16 bias (zeros past the stored ones; the
/// loader checked their lengths).
fn channel_scaling(scaling: &Scaling<'_>, channel: usize) -> (u16, i8, i32) {
    let multiplier = scaling
        .multipliers
        .get(2 * channel..2 * channel + 2)
        .map_or(0, |b| u16::from_le_bytes([b[0], b[1]]));
    let shift = scaling.shifts.get(channel).map_or(0, |&s| s as i8);
    let bias = scaling
        .biases
        .get(4 * channel..4 * channel + 4)
        .map_or(0, |b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    (multiplier, shift, bias)
}

/// A layer's spike counts: `bits` bits per count, each value's `steps` counts contiguous
/// (step 0 lowest), packed into words.
struct Raster<W> {
    words: W,
    bits: u32,
    steps: u32,
}

impl<W: AsRef<[i32]>> Raster<W> {
    /// The counts of `value` at steps `first..first + n` (`n * bits <= 32`), step `first` lowest.
    #[inline(always)]
    fn counts(&self, value: usize, first: u32, n: u32) -> u32 {
        let words = self.words.as_ref();
        let bit = (value * self.steps as usize + first as usize) * self.bits as usize;
        let (word, shift) = (bit / 32, (bit % 32) as u32);
        let low = words.get(word).map_or(0, |&w| w as u32) >> shift;
        let width = n * self.bits;
        let high = if shift != 0 && width > 32 - shift {
            words.get(word + 1).map_or(0, |&w| w as u32) << (32 - shift)
        } else {
            0
        };
        let mask = if width >= 32 {
            u32::MAX
        } else {
            (1 << width) - 1
        };
        (low | high) & mask
    }
}

impl<'r> Raster<&'r mut [i32]> {
    /// Record `count` (at most the width's maximum, proven at load) for `value` at `step`.
    #[inline(always)]
    fn put(&mut self, value: usize, step: u32, count: u32) {
        // Counts are aligned to their width, a divisor of 32: one never straddles two words.
        let bit = (value * self.steps as usize + step as usize) * self.bits as usize;
        let most = (1u32 << self.bits) - 1;
        debug_assert!(count <= most, "count {count} beyond the proven {most}");
        if let Some(word) = self.words.get_mut(bit / 32) {
            *word |= (count.min(most) << (bit % 32)) as i32;
        }
    }

    /// The raster, read-only, for the next layer.
    fn frozen(self) -> Raster<&'r [i32]> {
        Raster {
            words: self.words,
            bits: self.bits,
            steps: self.steps,
        }
    }
}

/// What a layer receives.
enum Received<'r> {
    /// The first layer: the raw input bytes.
    Static(&'r [u8]),
    /// The previous layer's raster.
    Raster(Raster<&'r [i32]>),
    /// This layer's sums at every step (`steps` runs of one word per output).
    Sums(&'r [i32]),
}

/// Where a layer's output goes.
enum To<'t, 'v, 'n> {
    Raster(Raster<&'t mut [i32]>),
    /// The next layer's sums at every step, through its fan-out kernel.
    Sums {
        sums: &'t mut [i32],
        next: &'n Layer<'n>,
        divisor_reciprocal: u32,
    },
    /// The readout's values.
    Readout(&'v mut [i32]),
}

/// A layer's output and its statistics.
struct Passed<'t, 'v, 'n> {
    to: To<'t, 'v, 'n>,
    /// Spikes emitted (pooled sums for a pool).
    spikes: u32,
    /// Weight additions of the next layer's fan-out into its sums.
    additions: u32,
}

impl Passed<'_, '_, '_> {
    /// Pass on `count` spikes of the value at `place` at `step`, or the readout's `value`.
    #[inline(always)]
    fn emit(&mut self, place: Place, step: u32, count: u32) {
        if count == 0 {
            return;
        }
        self.spikes = self.spikes.saturating_add(count);
        match &mut self.to {
            To::Raster(raster) => raster.put(place.index, step, count),
            To::Sums {
                sums,
                next,
                divisor_reciprocal,
            } => {
                let n = next.outputs();
                let at = step as usize * n;
                let position = if next.input_shape().is_vector() {
                    place.index as u32
                } else {
                    pixel_position(u32::from(place.y), u32::from(place.x)) | u32::from(place.c)
                };
                if let Some(sums) = sums.get_mut(at..at + n) {
                    let e = core::iter::once(event(position, count));
                    let added = next.accumulate::<Selected>(e, sums, *divisor_reciprocal);
                    self.additions = self.additions.wrapping_add(added);
                }
            }
            To::Readout(_) => {}
        }
    }

    /// The readout's value at `place` after a step.
    #[inline(always)]
    fn value(&mut self, place: Place, value: i32) {
        if let To::Readout(values) = &mut self.to {
            if let Some(slot) = values.get_mut(place.index) {
                *slot = value;
            }
        }
    }
}

/// One layer's run over the whole time window.
struct LayerPass<'p> {
    layer: &'p Layer<'p>,
    constants: &'p LayerConstants,
    /// A neuron's sums over a run of steps.
    run: &'p mut [i32],
    steps: u32,
}

impl LayerPass<'_> {
    /// Run every neuron (or pooled value) of the layer over every step; returns the weight
    /// additions of its own gather (a weighted layer reading a raster).
    fn run(self, received: &Received<'_>, out: &mut Passed<'_, '_, '_>) -> u32 {
        let LayerPass {
            layer,
            constants,
            run,
            steps,
        } = self;
        let weighted = layer.weighted();
        let gain = constants.synapse_gain;
        let mut additions = 0u32;
        for place in places(layer.output_shape()) {
            let (multiplier, shift, bias) = match &weighted {
                Some((_, scaling)) => channel_scaling(scaling, usize::from(place.c)),
                None => (0, 0, 0),
            };
            let packed = pack_scale(multiplier, shift as u8);
            let mut neuron = Cell::new(constants, gain, bias);
            // One step of this neuron under its integer sum of the step.
            let mut step = |step: u32, sum: i32, out: &mut Passed<'_, '_, '_>| {
                if weighted.is_none() {
                    // A pool passes its window's sum on.
                    out.emit(place, step, sum as u32 & MAX_COUNT);
                    return;
                }
                let target = scaled_sum(sum, packed).saturating_add(bias);
                let (count, value) = neuron.step(target, step);
                out.emit(place, step, count);
                if let Some(value) = value {
                    out.value(place, value);
                }
            };
            match received {
                Received::Static(input) => {
                    let mut sum = 0i32;
                    layer.for_each_fan_in(place, |i, weight| {
                        let x = input.get(i).copied().unwrap_or(0);
                        if x != 0 {
                            sum = sum.wrapping_add(weight * i32::from(x));
                        }
                    });
                    // The step order's static current: scaled even when the sum is zero.
                    let current = scale(sum, multiplier, shift).saturating_add(bias);
                    neuron.start_clock(current, constants);
                    for t in 0..steps {
                        let (count, value) = neuron.step(current, t);
                        out.emit(place, t, count);
                        if let Some(value) = value {
                            out.value(place, value);
                        }
                    }
                }
                Received::Sums(sums) => {
                    let n = layer.outputs();
                    for t in 0..steps {
                        let sum = sums.get(t as usize * n + place.index).copied().unwrap_or(0);
                        step(t, sum, out);
                    }
                }
                Received::Raster(raster) => {
                    // Steps whose counts one read of a value's raster brings.
                    let length = (32 / raster.bits).min(RUN_WORDS as u32).max(1);
                    let (width, mask) = (raster.bits.trailing_zeros(), (1u32 << raster.bits) - 1);
                    let mut first = 0;
                    while first < steps {
                        let n = length.min(steps - first);
                        let Some(run) = run.get_mut(..n as usize) else {
                            break;
                        };
                        run.fill(0);
                        layer.for_each_fan_in(place, |i, weight| {
                            let mut counts = raster.counts(i, first, n);
                            while counts != 0 {
                                let at = counts.trailing_zeros() >> width;
                                let count = (counts >> (at << width)) & mask;
                                counts &= !(mask << (at << width));
                                if let Some(sum) = run.get_mut(at as usize) {
                                    *sum = sum.wrapping_add(weight * count as i32);
                                }
                                additions = additions.wrapping_add(1);
                            }
                        });
                        for (k, &sum) in run.iter().enumerate() {
                            step(first + k as u32, sum, out);
                        }
                        first += n;
                    }
                }
            }
        }
        // The step order counts the additions of weighted layers only.
        if weighted.is_some() {
            additions
        } else {
            0
        }
    }
}

/// One neuron's state through its run: its synapse's filter and its dynamics.
struct Cell<'c> {
    /// The synapse's gain and its filter state, which rests at the bias.
    filter: Option<(i32, i32)>,
    dynamics: CellDynamics<'c>,
}

enum CellDynamics<'c> {
    Relu {
        voltage: i32,
    },
    Lif {
        voltage: i32,
        refractory: i32,
        lif: &'c LifConstants,
    },
    /// A first LIF layer without a synapse: the step order's spike clock, for one neuron.
    Clocked {
        /// Next crossing, Q16.16 steps (wrapping); `None` for a neuron that never fires.
        next: Option<u32>,
        period: u32,
    },
    Readout,
}

impl<'c> Cell<'c> {
    /// A neuron at rest.
    fn new(constants: &'c LayerConstants, gain: Option<i32>, bias: i32) -> Self {
        let dynamics = match &constants.dynamics {
            Some(Dynamics::Lif { lif, .. }) => CellDynamics::Lif {
                voltage: 0,
                refractory: 0,
                lif,
            },
            Some(Dynamics::SpikingRectifiedLinear) => CellDynamics::Relu { voltage: 0 },
            _ => CellDynamics::Readout,
        };
        Cell {
            filter: gain.map(|g| (g, bias)),
            dynamics,
        }
    }

    /// Under the first layer's constant `current`, a LIF neuron without a synapse runs on its
    /// spike clock, as the step order's first layer does (`neuron::clock::start`).
    fn start_clock(&mut self, current: i32, constants: &LayerConstants) {
        if let (
            Some(Dynamics::Lif {
                lif,
                clock: Some(clock),
            }),
            None,
        ) = (&constants.dynamics, self.filter)
        {
            self.dynamics = clocked(current, clock, lif);
        }
    }

    /// Step `step` (from 0) under the unfiltered current `target`: the spikes, and for the
    /// readout its value.
    #[inline(always)]
    fn step(&mut self, target: i32, step: u32) -> (u32, Option<i32>) {
        let current = match &mut self.filter {
            Some((gain, z)) => {
                *z = lowpass(*z, target, *gain);
                *z
            }
            None => target,
        };
        match &mut self.dynamics {
            CellDynamics::Relu { voltage } => (spiking_relu::step(voltage, current) as u32, None),
            CellDynamics::Lif {
                voltage,
                refractory,
                lif,
            } => (lif_step(voltage, refractory, current, lif) as u32, None),
            CellDynamics::Clocked { next, period } => {
                // The end of this step on the clock, which started at 0.
                let now = step.wrapping_add(1).wrapping_mul(ONE as u32);
                match next {
                    Some(at) if (at.wrapping_sub(now) as i32) < 0 => {
                        *at = at.wrapping_add(*period);
                        (1, None)
                    }
                    _ => (0, None),
                }
            }
            CellDynamics::Readout => (0, Some(current)),
        }
    }
}

/// A clocked neuron under `current` from rest, as `neuron::clock::start` sets it.
fn clocked<'c>(current: i32, clock: &ClockConstants, lif: &LifConstants) -> CellDynamics<'c> {
    let (next, period) = if current > ONE {
        let t1 = first_crossing(current, clock);
        (Some(t1 as u32), lif.refractory.wrapping_add(t1) as u32)
    } else {
        (None, 0)
    };
    CellDynamics::Clocked { next, period }
}
