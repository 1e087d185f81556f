//! The layer-major execution order: each layer runs the whole time window before the next.
//!
//! [`Network`](crate::Network) steps every layer once per time step, so every neuron's state is
//! live for the whole inference (44 KB for the conv MNIST network). Under a static input a
//! feed-forward network does not need that order: a layer's neurons at step `t` depend only on
//! their own past and on the previous layer's output of steps up to `t`. So [`LayeredNetwork`]
//! runs the first layer over all the steps, then the second, and so on, one output pixel at a
//! time: the pixel's integer sums of every step are gathered into a small buffer (up to 32
//! channels at a time), then each of its neurons runs the whole window with its state in
//! registers. What a layer passes to the next is kept in one of two forms, whichever is smaller
//! (a *boundary*):
//!
//! - a **raster**: each output's spike count at every step, in as few bits as the largest count
//!   the layer can emit (proven at load: one bit for LIF neurons, for spiking ReLU neurons what
//!   their largest possible current allows, for a pool its window's sum); the next layer gathers
//!   from it through its kind's `for_each_input_row` and the step order's fan-out kernels;
//! - the next layer's **sums** at every step: each spike count is scattered into them as soon as
//!   it is known, by the next layer's own drive kernel (a weighted next layer only).
//!
//! Only two boundaries are live at a time (the one a layer reads and the one it writes), so
//! boundaries alternate between two regions of the state buffer.
//!
//! The integer sums are the same numbers in both orders (exact `i32` additions, in a range
//! checked at load), and the rest of each step runs the same functions on one neuron that the
//! step order runs on a whole layer. The two orders therefore give the same outputs, spike
//! counts and synaptic event count, and the same spikes of every layer at every step, which the
//! tests check on every committed model (`runtime/SEMANTICS.md`, "Execution orders"). An input
//! that changes during the run (a stream) needs the step order.

use core::ops::Range;

use crate::current::{lowpass, pack_scale, scaled_sum};
use crate::error::{LoadError, RunError};
use crate::event::{event, pixel_position, MAX_COUNT};
use crate::fixed_point::{scale, ONE};
use crate::kernels::{add_scaled, Selected};
use crate::layer::Layer;
use crate::model::{Model, DEFAULT_MAX_LAYERS};
use crate::network::{class_of, Prediction};
use crate::neuron::clock::{first_crossing, ClockConstants};
use crate::neuron::lif::{lif_step, LifConstants};
use crate::neuron::{spiking_relu, Dynamics};
use crate::plan::LayerConstants;
use crate::shape::{places, Place};

/// Most channels of one output pixel gathered at a time: the gather buffer holds their sums
/// of every step.
const GROUP: usize = 32;

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

/// One term of a [`StateFormula`]: `values` numbers of `bits` bits per step, in whole words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StateTerm {
    /// Values per step.
    pub values: usize,
    /// Bits per value.
    pub bits: u8,
}

impl StateTerm {
    /// Words of this term over `steps` steps.
    pub const fn words(&self, steps: u16) -> usize {
        (self.values * steps as usize * self.bits as usize).div_ceil(32)
    }
}

/// The state words of the layer-major order as a formula of the step count, for code that
/// sizes a buffer at compile time (`picospike export --rust-module` writes it into `model.rs`
/// as `const fn layered_state_words`):
/// `fixed + max(group, steps * group_per_step) + max(even terms) + max(odd terms)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateFormula<const MAX_LAYERS: usize = DEFAULT_MAX_LAYERS> {
    /// Words that do not depend on the steps: the readout's values.
    pub fixed: usize,
    /// Words of the gather buffer for the first layer's static sums.
    pub group: usize,
    /// Words of the gather buffer per step for a layer that reads a raster.
    pub group_per_step: usize,
    /// The boundaries of the even layers (0, 2, ...) and of the odd ones: each set shares one
    /// region, as big as its largest.
    pub regions: [heapless::Vec<StateTerm, MAX_LAYERS>; 2],
}

impl<const L: usize> StateFormula<L> {
    /// The formula's words at `steps` steps.
    pub fn words(&self, steps: u16) -> usize {
        self.fixed
            + self.group_words(steps)
            + region_words(&self.regions[0], steps)
            + region_words(&self.regions[1], steps)
    }

    /// Words of the gather buffer at `steps` steps.
    fn group_words(&self, steps: u16) -> usize {
        self.group.max(usize::from(steps) * self.group_per_step)
    }
}

/// A model bound to a state buffer for the layer-major order, for up to a number of steps.
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
    /// Whether every boundary has a region of its own (else the even and the odd ones share).
    separate: bool,
    /// The gather buffer: one output pixel's sums of every step, for a group of channels.
    group: &'s mut [i32],
    /// The readout's Q16.16 values after the last step.
    outputs: &'s mut [i32],
    /// The boundaries' regions.
    passed: &'s mut [i32],
    spike_counts: heapless::Vec<u32, MAX_LAYERS>,
    synaptic_events: u32,
}

impl<'m, 's, const MAX_LAYERS: usize> LayeredNetwork<'m, 's, MAX_LAYERS> {
    /// Exact size in words of the state buffer that [`LayeredNetwork::new`] needs for `model`
    /// run for up to `steps` steps ([`LayeredNetwork::state_formula`] at `steps`).
    pub fn state_words(model: &Model<'_, MAX_LAYERS>, steps: u16) -> usize {
        Self::state_formula(model).words(steps)
    }

    /// [`LayeredNetwork::state_words`] as a formula of the step count.
    pub fn state_formula(model: &Model<'_, MAX_LAYERS>) -> StateFormula<MAX_LAYERS> {
        formula(model, &boundaries(model, false))
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

    /// [`LayeredNetwork::new`] with a raster at every boundary, each in a region of its own, so
    /// that [`LayeredNetwork::count`] answers for every layer (host tests; it needs more state,
    /// [`LayeredNetwork::state_words_with_rasters`]).
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
        separate_words(model, &boundaries(model, true), steps)
    }

    fn bind(
        model: &'m Model<'m, MAX_LAYERS>,
        state: &'s mut [i32],
        max_steps: u16,
        separate: bool,
    ) -> Result<Self, LoadError> {
        let boundaries = boundaries(model, separate);
        let formula = formula(model, &boundaries);
        let needed = if separate {
            separate_words(model, &boundaries, max_steps)
        } else {
            formula.words(max_steps)
        };
        let too_small = LoadError::StateTooSmall {
            needed,
            given: state.len(),
        };
        let group_words = formula.group_words(max_steps);
        let (group, rest) = state.split_at_mut_checked(group_words).ok_or(too_small)?;
        let (outputs, rest) = rest.split_at_mut_checked(formula.fixed).ok_or(too_small)?;
        let passed = needed - group_words - formula.fixed;
        let (passed, _) = rest.split_at_mut_checked(passed).ok_or(too_small)?;
        Ok(LayeredNetwork {
            model,
            max_steps,
            steps: 0,
            boundaries,
            separate,
            group,
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
        self.spike_counts.clear();
        self.synaptic_events = 0;
        let layers = self.model.layers();
        let constants = self.model.constants();
        let mut previous: Option<(Range<usize>, Boundary)> = None;
        for (index, (layer, own)) in layers.iter().zip(constants).enumerate() {
            let boundary = self
                .boundaries
                .get(index)
                .copied()
                .unwrap_or(Boundary::Readout);
            let next = layers.get(index + 1).zip(constants.get(index + 1));
            let words =
                boundary_term(boundary, layer, next.map(|(n, _)| n)).map_or(0, |t| t.words(steps));
            let start = self.boundary_start(index, steps);
            let written = start..start + words;
            let read = previous.as_ref().map_or(0..0, |(range, _)| range.clone());
            let (read_words, region) = disjoint(&mut *self.passed, read, written.clone());
            let received = match previous {
                None => Received::Static(input),
                Some((_, Boundary::Raster { bits })) => {
                    Received::Raster(Raster::new(read_words, u32::from(bits), u32::from(steps)))
                }
                Some((_, Boundary::Sums)) => Received::Sums(read_words),
                Some((_, Boundary::Readout)) => Received::Static(&[]),
            };
            region.fill(0);
            let mut out = Passed {
                to: match (boundary, next) {
                    (Boundary::Raster { bits }, _) => {
                        To::Raster(Raster::new(region, u32::from(bits), u32::from(steps)))
                    }
                    (Boundary::Sums, Some((next, next_constants))) => To::Sums {
                        sums: region,
                        next,
                        divisor_reciprocal: next_constants.divisor_reciprocal,
                        outputs: next.outputs(),
                        vector: next.input_shape().is_vector(),
                    },
                    _ => To::Readout(&mut *self.outputs),
                },
                spikes: 0,
                additions: 0,
            };
            let pass = LayerPass {
                layer,
                constants: own,
                group: &mut *self.group,
                steps: u32::from(steps),
            };
            let gathered = pass.run(&received, &mut out);
            self.synaptic_events = self
                .synaptic_events
                .saturating_add(gathered)
                .saturating_add(out.additions);
            // One count per layer, as many as the model holds.
            let _ = self.spike_counts.push(out.spikes);
            previous = Some((written, boundary));
        }
        Ok(Prediction {
            class: class_of(self.outputs),
            outputs: self.outputs,
            spike_counts: self.spike_counts.clone(),
            synaptic_events: self.synaptic_events,
            steps,
        })
    }

    /// Where layer `index`'s boundary starts in the boundary area at `steps` steps: after the
    /// earlier boundaries when each has a region of its own, else at the start (even layers) or
    /// after the largest even boundary (odd layers).
    fn boundary_start(&self, index: usize, steps: u16) -> usize {
        let layers = self.model.layers();
        if self.separate {
            let earlier = layers.iter().zip(&self.boundaries).enumerate().take(index);
            earlier
                .map(|(i, (l, &b))| {
                    boundary_term(b, l, layers.get(i + 1)).map_or(0, |t| t.words(steps))
                })
                .sum()
        } else if index.is_multiple_of(2) {
            0
        } else {
            region_words(&formula(self.model, &self.boundaries).regions[0], steps)
        }
    }

    /// The spike count of value `value` of layer `layer` at step `step` of the last run: the
    /// raster the step order's [`Network::layer_spikes`](crate::Network::layer_spikes) gives
    /// step by step. `None` out of range, for a layer without a raster (see
    /// [`LayeredNetwork::count_bits`]) and for one whose raster a later layer's boundary has
    /// taken the place of (only [`LayeredNetwork::with_rasters`] keeps them all).
    pub fn count(&self, layer: usize, value: usize, step: u16) -> Option<u32> {
        let layers = self.model.layers();
        let Boundary::Raster { bits } = *self.boundaries.get(layer)? else {
            return None;
        };
        let last_in_region = layer + 2 >= layers.len();
        if value >= layers.get(layer)?.outputs()
            || step >= self.steps
            || !(self.separate || last_in_region)
        {
            return None;
        }
        let raster = Raster::new(
            self.passed.get(self.boundary_start(layer, self.steps)..)?,
            u32::from(bits),
            u32::from(self.steps),
        );
        Some(raster.counts(value, u32::from(step), 1))
    }
}

/// The words at `read` (shared) and at `write` (exclusive) of `area`, two ranges that do not
/// overlap (empty slices for a range outside the area).
fn disjoint(area: &mut [i32], read: Range<usize>, write: Range<usize>) -> (&[i32], &mut [i32]) {
    if read.end <= write.start {
        let (before, from) = area.split_at_mut(write.start.min(area.len()));
        let read = before.get(read).unwrap_or(&[]);
        (
            read,
            from.get_mut(..write.end - write.start).unwrap_or(&mut []),
        )
    } else {
        let (before, from) = area.split_at_mut(read.start.min(area.len()));
        let read = from.get(..read.end - read.start).unwrap_or(&[]);
        (read, before.get_mut(write).unwrap_or(&mut []))
    }
}

/// The words per step of `boundary` after `layer`, followed by `next` (`None` for the readout).
fn boundary_term(
    boundary: Boundary,
    layer: &Layer<'_>,
    next: Option<&Layer<'_>>,
) -> Option<StateTerm> {
    match boundary {
        Boundary::Raster { bits } => Some(StateTerm {
            values: layer.outputs(),
            bits,
        }),
        Boundary::Sums => next.map(|next| StateTerm {
            values: next.outputs(),
            bits: 32,
        }),
        Boundary::Readout => None,
    }
}

/// The state formula of `model` with `boundaries`, the even and odd boundaries sharing a region
/// each.
fn formula<const L: usize>(model: &Model<'_, L>, boundaries: &[Boundary]) -> StateFormula<L> {
    let layers = model.layers();
    let mut formula = StateFormula {
        fixed: model.output_size(),
        group: 0,
        group_per_step: 0,
        regions: [heapless::Vec::new(), heapless::Vec::new()],
    };
    let mut received_raster = false;
    for (index, (layer, &boundary)) in layers.iter().zip(boundaries).enumerate() {
        let group = if layer.weighted().is_some() {
            usize::from(layer.output_shape().channels).min(GROUP)
        } else {
            // A pool sums one value's window at a time.
            1
        };
        if index == 0 {
            formula.group = formula.group.max(group);
        } else if received_raster {
            formula.group_per_step = formula.group_per_step.max(group);
        }
        if let Some(term) = boundary_term(boundary, layer, layers.get(index + 1)) {
            // As many terms as layers at most.
            let _ = formula.regions[index % 2].push(term);
        }
        received_raster = matches!(boundary, Boundary::Raster { .. });
    }
    formula
}

/// The words of the state with `boundaries` each in a region of its own, at `steps` steps.
fn separate_words<const L: usize>(
    model: &Model<'_, L>,
    boundaries: &[Boundary],
    steps: u16,
) -> usize {
    let formula = formula(model, boundaries);
    let boundaries: usize = formula
        .regions
        .iter()
        .flatten()
        .map(|t| t.words(steps))
        .sum();
    formula.fixed + formula.group_words(steps) + boundaries
}

/// The words of a region shared by `terms` at `steps` steps: the largest's.
fn region_words(terms: &[StateTerm], steps: u16) -> usize {
    terms.iter().map(|t| t.words(steps)).max().unwrap_or(0)
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
        (Some(crate::neuron::Neuron::SpikingRectifiedLinear { .. }), Some((weights, scaling))) => {
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
                let (multiplier, shift, bias) = scaling.channel(channel);
                most = most.max(scale(sum, multiplier, shift).saturating_add(bias));
            }
            if most <= 0 {
                0
            } else {
                (most as u32).div_ceil(ONE as u32).min(MAX_COUNT)
            }
        }
        // LIF: one spike a step; a pool: its window's sum (which the loader bounds by the
        // largest count an event carries).
        _ => layer.output_max(fed_max).min(MAX_COUNT),
    }
}

/// A layer's spike counts: `bits` bits per count, each value's `steps` counts contiguous
/// (step 0 lowest), packed into words.
struct Raster<W> {
    words: W,
    bits: u32,
    steps: u32,
    /// `log2(bits)`, and the steps whose counts one 32-bit read brings: `32 / bits` (no
    /// division per read: a library call on Cortex-M0).
    log_bits: u32,
    per_read: u32,
}

impl<W> Raster<W> {
    /// The raster of `words` with counts of `bits` bits (1, 2, 4 or 8) over `steps` steps.
    fn new(words: W, bits: u32, steps: u32) -> Self {
        let log_bits = bits.trailing_zeros();
        Raster {
            words,
            bits,
            steps,
            log_bits,
            per_read: 32 >> log_bits,
        }
    }
}

impl<W> Raster<W> {
    /// The bit where the count of `value` at `step` starts.
    #[inline(always)]
    fn bit(&self, value: usize, step: u32) -> usize {
        (value * self.steps as usize + step as usize) * self.bits as usize
    }
}

impl<W: AsRef<[i32]>> Raster<W> {
    /// The counts of `value` at steps `first..first + n` (`n * bits <= 32`), step `first` lowest.
    #[inline(always)]
    fn counts(&self, value: usize, first: u32, n: u32) -> u32 {
        let words = self.words.as_ref();
        let bit = self.bit(value, first);
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

    /// Call `visit(step, count)` for every non-zero count of `value`.
    #[inline(always)]
    fn for_each_count(&self, value: usize, mut visit: impl FnMut(u32, u32)) {
        let (width, mask) = (self.log_bits, (1u32 << self.bits) - 1);
        let mut first = 0;
        while first < self.steps {
            let n = self.per_read.min(self.steps - first);
            let mut counts = self.counts(value, first, n);
            while counts != 0 {
                let at = counts.trailing_zeros() >> width;
                let shift = at << width;
                visit(first + at, (counts >> shift) & mask);
                counts &= !(mask << shift);
            }
            first += n;
        }
    }
}

impl Raster<&mut [i32]> {
    /// Record `count` (at most the width's maximum, proven at load) for `value` at `step`.
    #[inline(always)]
    fn put(&mut self, value: usize, step: u32, count: u32) {
        // Counts are aligned to their width, a divisor of 32: one never straddles two words.
        let bit = self.bit(value, step);
        let most = (1u32 << self.bits) - 1;
        debug_assert!(count <= most, "count {count} beyond the proven {most}");
        if let Some(word) = self.words.get_mut(bit / 32) {
            *word |= (count.min(most) << (bit % 32)) as i32;
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
    /// The next layer's sums at every step, through its drive kernel.
    Sums {
        sums: &'t mut [i32],
        next: &'n Layer<'n>,
        divisor_reciprocal: u32,
        /// The next layer's outputs (one step's sums), and whether it takes a vector (whose
        /// event positions are indices): per layer, not per spike.
        outputs: usize,
        vector: bool,
    },
    /// The readout's values.
    Readout(&'v mut [i32]),
}

/// A layer's output and its statistics.
struct Passed<'t, 'v, 'n> {
    to: To<'t, 'v, 'n>,
    /// Spikes emitted (pooled sums for a pool).
    spikes: u32,
    /// Weight additions of the next layer's drive into its sums.
    additions: u32,
}

impl Passed<'_, '_, '_> {
    /// Pass on `count` spikes of the value at `place` at `step`.
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
                outputs,
                vector,
            } => {
                let n = *outputs;
                let at = step as usize * n;
                let position = if *vector {
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
    /// The gather buffer.
    group: &'p mut [i32],
    steps: u32,
}

impl LayerPass<'_> {
    /// Run every neuron (or pooled value) of the layer over every step; returns the weight
    /// additions of its own gather (a weighted layer reading a raster).
    fn run(mut self, received: &Received<'_>, out: &mut Passed<'_, '_, '_>) -> u32 {
        let shape = self.layer.output_shape();
        let channels = usize::from(shape.channels);
        if self.layer.weighted().is_none() {
            if let Received::Raster(raster) = received {
                self.pool(raster, out);
            }
            return 0;
        }
        let mut additions = 0u32;
        // Each output pixel (its channel 0), in groups of channels.
        for pixel in places(shape).step_by(channels.max(1)) {
            let mut first = 0;
            while first < channels {
                let group = GROUP.min(channels - first);
                additions = additions.wrapping_add(self.group(received, pixel, first, group, out));
                first += group;
            }
        }
        additions
    }

    /// The channels `first..first + n` of the output pixel at `pixel` (its channel 0); returns
    /// the weight additions of the gather.
    fn group(
        &mut self,
        received: &Received<'_>,
        pixel: Place,
        first: usize,
        n: usize,
        out: &mut Passed<'_, '_, '_>,
    ) -> u32 {
        let Some((_, scaling)) = self.layer.weighted() else {
            return 0;
        };
        let gain = self.constants.synapse_gain;
        let steps = self.steps;
        let layer = self.layer;
        let mut additions = 0u32;
        let rows = n * match received {
            Received::Raster(_) => steps as usize,
            Received::Static(_) => 1,
            // The sums are in the boundary already.
            Received::Sums(_) => 0,
        };
        let Some(sums) = self.group.get_mut(..rows) else {
            return 0;
        };
        sums.fill(0);
        match received {
            Received::Static(input) => layer.for_each_input_row(pixel, |i, row| {
                let x = input.get(i).copied().unwrap_or(0);
                if let (true, Some(row)) = (x != 0, row.get(first..first + n)) {
                    add_scaled::<Selected>(sums, row, u32::from(x));
                }
            }),
            Received::Raster(raster) => layer.for_each_input_row(pixel, |i, row| {
                let Some(row) = row.get(first..first + n) else {
                    return;
                };
                raster.for_each_count(i, |step, count| {
                    let at = step as usize * n;
                    if let Some(sums) = sums.get_mut(at..at + n) {
                        add_scaled::<Selected>(sums, row, count);
                        additions = additions.wrapping_add(n as u32);
                    }
                });
            }),
            Received::Sums(_) => {}
        }
        let sums: &[i32] = sums;
        for k in 0..n {
            let c = first + k;
            let place = Place {
                index: pixel.index + c,
                c: c as u16,
                ..pixel
            };
            let (multiplier, shift, bias) = scaling.channel(c);
            let neuron = Neuron {
                constants: self.constants,
                gain,
                bias,
                steps,
            };
            let mut emit = |step: u32, count: u32| out.emit(place, step, count);
            let value = match received {
                Received::Static(_) => {
                    let sum = sums.get(k).copied().unwrap_or(0);
                    // The step order's static current: scaled even when the sum is zero.
                    let current = scale(sum, multiplier, shift).saturating_add(bias);
                    neuron.run(|_| current, Some(current), &mut emit)
                }
                // This neuron's sums: every `stride`-th word from `start`.
                Received::Raster(_) | Received::Sums(_) => {
                    let (words, start, stride) = match received {
                        Received::Sums(all) => (*all, place.index, layer.outputs()),
                        _ => (sums, k, n),
                    };
                    let packed = pack_scale(multiplier, shift as u8);
                    let target = |step: u32| {
                        let sum = words.get(start + step as usize * stride).copied();
                        scaled_sum(sum.unwrap_or(0), packed).saturating_add(bias)
                    };
                    neuron.run(target, None, &mut emit)
                }
            };
            if let Some(value) = value {
                out.value(place, value);
            }
        }
        additions
    }

    /// A pool: each output's window sum of the previous layer's counts at every step.
    fn pool(&mut self, raster: &Raster<&[i32]>, out: &mut Passed<'_, '_, '_>) {
        let steps = self.steps as usize;
        for place in places(self.layer.output_shape()) {
            let Some(sums) = self.group.get_mut(..steps) else {
                return;
            };
            sums.fill(0);
            self.layer.for_each_fan_in(place, |i| {
                raster.for_each_count(i, |step, count| {
                    if let Some(sum) = sums.get_mut(step as usize) {
                        *sum = sum.wrapping_add(count as i32);
                    }
                });
            });
            for (step, &sum) in sums.iter().enumerate() {
                out.emit(place, step as u32, sum as u32 & MAX_COUNT);
            }
        }
    }
}

/// One neuron's run over the whole window: its synapse and its dynamics, dispatched once, each
/// combination a loop of its own (with a dispatch per step, the conv MNIST network at 10 steps
/// took 7.6 M instructions on the Cortex-M0; with a loop per combination, 5.9 M).
struct Neuron<'c> {
    constants: &'c LayerConstants,
    /// The synapse's gain (its filter rests at the bias).
    gain: Option<i32>,
    bias: i32,
    steps: u32,
}

impl Neuron<'_> {
    /// Run from rest under the unfiltered current `target(step)` of each step, emitting each
    /// step's spikes; returns the readout's value after the last step (`None` for spiking
    /// neurons). `static_current` is the first layer's constant current, under which a LIF
    /// neuron without a synapse runs on its spike clock as in the step order.
    #[inline(always)]
    fn run(
        &self,
        target: impl Fn(u32) -> i32,
        static_current: Option<i32>,
        emit: &mut impl FnMut(u32, u32),
    ) -> Option<i32> {
        match (&self.constants.dynamics, static_current, self.gain) {
            (
                Some(Dynamics::Lif {
                    lif,
                    clock: Some(clock),
                }),
                Some(current),
                None,
            ) => {
                clocked(current, clock, lif, self.steps, emit);
                None
            }
            (Some(Dynamics::Lif { lif, .. }), _, _) => {
                let (mut voltage, mut refractory) = (0, 0);
                self.each_step(target, emit, |current| {
                    lif_step(&mut voltage, &mut refractory, current, lif) as u32
                });
                None
            }
            // Under a constant current of at most 0 (and no synapse) a spiking ReLU neuron at rest
            // stays at rest: `spiking_relu::step` adds `max(J, 0)`. Most of a conv network's first
            // layer sees the blank background of an image.
            (Some(Dynamics::SpikingRectifiedLinear), Some(current), None) if current <= 0 => None,
            (Some(Dynamics::SpikingRectifiedLinear), _, _) => {
                let mut voltage = 0;
                self.each_step(target, emit, |current| {
                    spiking_relu::step(&mut voltage, current) as u32
                });
                None
            }
            _ => {
                let mut value = 0;
                self.each_step(target, emit, |current| {
                    value = current;
                    0
                });
                Some(value)
            }
        }
    }

    /// Each step: the current through the synapse, then `fire` (the spikes it returns are
    /// emitted).
    #[inline(always)]
    fn each_step(
        &self,
        target: impl Fn(u32) -> i32,
        emit: &mut impl FnMut(u32, u32),
        mut fire: impl FnMut(i32) -> u32,
    ) {
        match self.gain {
            Some(gain) => {
                let mut z = self.bias;
                for step in 0..self.steps {
                    z = lowpass(z, target(step), gain);
                    let count = fire(z);
                    if count != 0 {
                        emit(step, count);
                    }
                }
            }
            None => {
                for step in 0..self.steps {
                    let count = fire(target(step));
                    if count != 0 {
                        emit(step, count);
                    }
                }
            }
        }
    }
}

/// A LIF neuron on its spike clock under `current` from rest, as `neuron::clock::start` and
/// `neuron::clock::step` run it: first crossing `t1`, then one every period; a crossing in a
/// step's span (before its end) is that step's spike.
fn clocked(
    current: i32,
    clock: &ClockConstants,
    lif: &LifConstants,
    steps: u32,
    emit: &mut impl FnMut(u32, u32),
) {
    if current <= ONE {
        return;
    }
    let t1 = first_crossing(current, clock);
    let period = lif.refractory.wrapping_add(t1) as u32;
    let mut next = t1 as u32;
    for step in 0..steps {
        // The end of this step on the clock, which started at 0.
        let now = step.wrapping_add(1).wrapping_mul(ONE as u32);
        if (next.wrapping_sub(now) as i32) < 0 {
            next = next.wrapping_add(period);
            emit(step, 1);
        }
    }
}
