//! The firing-rate search of `picospike convert --sweep`: accuracy against predicted cost.
//!
//! The NengoDL recipe says that rates must be high enough to carry the information in the time
//! window; it does not say at what cost. Every spike is work on a microcontroller (a synaptic
//! event per target), and every step is work for every neuron, so the cheapest conversion that
//! keeps the accuracy is found by measuring: each candidate (firing-rate scale, step count,
//! synapse) is converted, quantized and run on the test data in the fixed-point runtime (the
//! boards' bit-exact twin), its activity measured, and its instructions on the chosen board
//! predicted by the cost model ([`crate::cost`]). The candidates that no other beats on both
//! accuracy and cost form the Pareto front; the pick is the cheapest candidate whose accuracy
//! is within `max_drop` percentage points of the rate network's.

use picospike_runtime::Model;
use serde::Serialize;

use crate::cost::{predict, Activity, ActivityError, Board, Workload};
use crate::data::Dataset;
use crate::evaluate;
use crate::quantized::{self, ExportError};
use crate::recipe::{self, ConvertOptions};
use crate::reference::FloatNetwork;

/// Most candidates one sweep runs (each is a full evaluation on the test data).
pub const MAX_CANDIDATES: usize = 100;

/// Samples the activity (for the cost prediction) is measured on, at most.
const ACTIVITY_SAMPLES: usize = 200;

/// Why a sweep could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SweepError {
    /// The grid is empty or has more than [`MAX_CANDIDATES`] points.
    #[error("the sweep has {found} candidates; expected 1 to {MAX_CANDIDATES} (fewer scales, step counts or synapses)")]
    Candidates {
        /// Candidates the grid makes.
        found: usize,
    },
    /// A candidate did not convert or quantize.
    #[error("candidate {candidate}: {source}")]
    Export {
        /// The candidate, as `scale x K, N steps, synapse S`.
        candidate: String,
        /// What failed.
        #[source]
        source: ExportError,
    },
    /// A candidate's activity could not be measured.
    #[error("candidate {candidate}: {source}")]
    Activity {
        /// The candidate.
        candidate: String,
        /// What failed.
        #[source]
        source: ActivityError,
    },
}

/// The points a sweep tries: every combination of the three lists.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SweepGrid {
    /// Firing-rate scales (`scale_firing_rates`).
    pub scales: Vec<f32>,
    /// Step counts.
    pub timesteps: Vec<u16>,
    /// Synapse time constants between spiking layers (`None`: no synapse).
    pub synapses: Vec<Option<f32>>,
}

impl SweepGrid {
    /// The conversion options of every point, `base` giving the rest (the readout's synapse).
    pub fn candidates(&self, base: &ConvertOptions) -> Vec<ConvertOptions> {
        let mut all = Vec::new();
        for &synapse_tau in &self.synapses {
            for &timesteps in &self.timesteps {
                for &scale_firing_rates in &self.scales {
                    all.push(ConvertOptions {
                        synapse_tau,
                        scale_firing_rates,
                        timesteps,
                        ..*base
                    });
                }
            }
        }
        all
    }

    /// [`SweepGrid::candidates`], or the error when there are none or more than
    /// [`MAX_CANDIDATES`].
    ///
    /// # Errors
    /// [`SweepError::Candidates`].
    pub fn checked_candidates(
        &self,
        base: &ConvertOptions,
    ) -> Result<Vec<ConvertOptions>, SweepError> {
        let all = self.candidates(base);
        if all.is_empty() || all.len() > MAX_CANDIDATES {
            return Err(SweepError::Candidates { found: all.len() });
        }
        Ok(all)
    }
}

/// One candidate's figures.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Candidate {
    /// How the network was converted.
    pub options: ConvertOptions,
    /// Fixed-point accuracy on the test data (0..=1).
    pub accuracy: f64,
    /// Synaptic events per inference, measured.
    pub synaptic_events: f64,
    /// Predicted instructions per inference on the board.
    pub instructions: f64,
    /// Network state in bytes.
    pub state_bytes: usize,
    /// Whether the state and the firmware fit the board's RAM.
    pub fits: bool,
    /// Whether no other candidate is at least as accurate and at most as costly (and better in
    /// one of the two).
    pub on_front: bool,
}

/// What a sweep found.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SweepReport {
    /// The board the cost is predicted for.
    pub board: Board,
    /// Accuracy of the rate network (0..=1), the reference of `max_drop_pp`.
    pub rate_accuracy: f64,
    /// The largest accuracy drop accepted, in percentage points.
    pub max_drop_pp: f64,
    /// Every candidate, cheapest first.
    pub candidates: Vec<Candidate>,
    /// Index (in `candidates`) of the cheapest candidate within the drop that fits the board,
    /// or failing that of the cheapest within the drop; `None` if none is within it.
    pub chosen: Option<usize>,
}

fn describe(options: &ConvertOptions) -> String {
    format!(
        "scale x{}, {} steps, synapse {}",
        options.scale_firing_rates,
        options.timesteps,
        options
            .synapse_tau
            .map_or("none".to_string(), |t| format!("{} ms", t * 1000.0))
    )
}

/// Convert, quantize and measure one candidate.
fn measure(
    network: &FloatNetwork,
    test: &Dataset,
    options: &ConvertOptions,
    board: Board,
) -> Result<Candidate, SweepError> {
    let candidate = || describe(options);
    let spiking = recipe::to_spiking(network, options);
    let (blob, sizes) = quantized::build_blob(&spiking).map_err(|source| SweepError::Export {
        candidate: candidate(),
        source,
    })?;
    let invalid = |source| SweepError::Export {
        candidate: candidate(),
        source: ExportError::Invalid {
            path: "<quantized model>".into(),
            source,
        },
    };
    let evaluation =
        evaluate::fixed_spiking(&blob, test, options.timesteps, false).map_err(invalid)?;
    let model: Model = Model::from_bytes(&blob).map_err(invalid)?;
    let inputs: Vec<&[u8]> = test
        .images
        .iter()
        .take(ACTIVITY_SAMPLES)
        .map(Vec::as_slice)
        .collect();
    let activity = Activity::measure(&model, &inputs, options.timesteps).map_err(|source| {
        SweepError::Activity {
            candidate: candidate(),
            source,
        }
    })?;
    let prediction = predict(
        &Workload::of(&model),
        &activity,
        &board.costs(),
        options.timesteps,
        None,
    );
    Ok(Candidate {
        options: *options,
        accuracy: evaluation.accuracy,
        synaptic_events: evaluation.synaptic_events_per_inference,
        instructions: prediction.instructions,
        state_bytes: sizes.ram_bytes,
        fits: board.memory().fits(sizes.ram_bytes),
        on_front: false,
    })
}

/// Mark the candidates on the Pareto front of accuracy (higher is better) against
/// instructions (lower is better).
pub fn mark_front(candidates: &mut [Candidate]) {
    let points: Vec<(f64, f64)> = candidates
        .iter()
        .map(|c| (c.accuracy, c.instructions))
        .collect();
    for (i, c) in candidates.iter_mut().enumerate() {
        let (accuracy, cost) = points[i];
        c.on_front = !points
            .iter()
            .enumerate()
            .any(|(j, &(a, k))| j != i && a >= accuracy && k <= cost && (a > accuracy || k < cost));
    }
}

/// The cheapest candidate at most `max_drop_pp` points below `reference`, preferring those that
/// fit the board; `candidates` must be sorted cheapest first.
pub fn choose(candidates: &[Candidate], reference: f64, max_drop_pp: f64) -> Option<usize> {
    let floor = reference - max_drop_pp / 100.0;
    // A little slack for the rounding of accuracies that are ratios of the same sample count.
    let within = |c: &Candidate| c.accuracy >= floor - 1e-12;
    candidates
        .iter()
        .position(|c| within(c) && c.fits)
        .or_else(|| candidates.iter().position(within))
}

/// Run every candidate of `grid` on `test` and predict its cost on `board`.
///
/// # Errors
/// [`SweepError`] if the grid is empty or too large, or a candidate does not convert.
pub fn sweep(
    network: &FloatNetwork,
    test: &Dataset,
    base: &ConvertOptions,
    grid: &SweepGrid,
    board: Board,
    max_drop_pp: f64,
    progress: bool,
) -> Result<SweepReport, SweepError> {
    let all = grid.checked_candidates(base)?;
    let bar = evaluate::progress_bar(all.len(), "sweep", progress);
    let rate_accuracy = crate::rate_float::rate_accuracy(network, &test.images, &test.labels);
    let mut candidates = Vec::with_capacity(all.len());
    for options in &all {
        bar.set_message(describe(options));
        candidates.push(measure(network, test, options, board)?);
        bar.inc(1);
    }
    bar.finish_and_clear();
    // Equal predictions (events the cost model folds into its neuron costs) go by events.
    candidates.sort_by(|a, b| {
        a.instructions
            .total_cmp(&b.instructions)
            .then(a.synaptic_events.total_cmp(&b.synaptic_events))
    });
    mark_front(&mut candidates);
    let chosen = choose(&candidates, rate_accuracy, max_drop_pp);
    Ok(SweepReport {
        board,
        rate_accuracy,
        max_drop_pp,
        candidates,
        chosen,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(accuracy: f64, instructions: f64, fits: bool) -> Candidate {
        Candidate {
            options: ConvertOptions::default(),
            accuracy,
            synaptic_events: 0.0,
            instructions,
            state_bytes: 0,
            fits,
            on_front: false,
        }
    }

    #[test]
    fn the_front_holds_what_nothing_beats() {
        let mut c = vec![
            candidate(0.90, 100.0, true),
            candidate(0.95, 200.0, true),
            candidate(0.94, 300.0, true), // beaten by the second
            candidate(0.97, 400.0, true),
            candidate(0.97, 500.0, true), // as accurate as the fourth, costlier
        ];
        mark_front(&mut c);
        let front: Vec<bool> = c.iter().map(|c| c.on_front).collect();
        assert_eq!(front, [true, true, false, true, false]);
    }

    #[test]
    fn the_pick_is_the_cheapest_within_the_drop_that_fits() {
        let c = vec![
            candidate(0.90, 100.0, true),
            candidate(0.965, 200.0, false),
            candidate(0.962, 300.0, true),
            candidate(0.97, 400.0, true),
        ];
        // Within 1 point of 0.97: 0.965 (does not fit) and 0.962 (fits).
        assert_eq!(choose(&c, 0.97, 1.0), Some(2));
        // None fits within 0.1 point but the last.
        assert_eq!(choose(&c, 0.97, 0.1), Some(3));
        assert_eq!(choose(&c, 0.99, 0.5), None);
        let none_fit = vec![candidate(0.97, 100.0, false)];
        assert_eq!(choose(&none_fit, 0.97, 0.5), Some(0));
    }

    #[test]
    fn the_grid_is_every_combination() {
        let grid = SweepGrid {
            scales: vec![1.0, 2.0],
            timesteps: vec![10, 20, 30],
            synapses: vec![None, Some(0.005)],
        };
        let all = grid.candidates(&ConvertOptions::default());
        assert_eq!(all.len(), 12);
        assert!(all.iter().all(|o| o.output_synapse_tau == Some(0.005)));
        assert_eq!(all[0].scale_firing_rates, 1.0);
        assert_eq!(all[1].scale_firing_rates, 2.0);
        assert_eq!(all[11].synapse_tau, Some(0.005));
    }
}
