//! Why training failed, and the range checks that reject options.

use crate::arch::ArchError;
use crate::data::DataError;

/// Errors from [`train`](super::train).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrainError {
    /// A configuration value is out of its valid range.
    #[error("invalid training option {option} = {value}: expected {expected}")]
    InvalidConfig {
        /// The option's name.
        option: &'static str,
        /// The value given.
        value: String,
        /// The valid range.
        expected: &'static str,
    },
    /// The training set cannot be used (empty, inconsistent image sizes, ...).
    #[error("unusable training data: {0}")]
    Data(String),
    /// Splitting off the validation set failed.
    #[error(transparent)]
    Split(#[from] DataError),
    /// The architecture string does not parse or does not fit the data.
    #[error(transparent)]
    Arch(#[from] ArchError),
    /// The training loss left the finite numbers: training stops at that epoch (a learning
    /// rate or weight decay too large), and nothing is returned to be saved.
    #[error("training diverged at epoch {epoch}: the training loss is {loss}")]
    Diverged {
        /// The epoch (1-based) whose loss is not finite.
        epoch: usize,
        /// That loss.
        loss: f64,
    },
    /// A tensor operation failed (a bug or out of memory).
    #[error("tensor operation failed: {0}")]
    Candle(#[from] candle_core::Error),
}

/// Whether `x` is finite and greater than 0 (false for NaN).
pub(super) fn positive(x: f64) -> bool {
    x.is_finite() && x > 0.0
}

/// Whether `x` is finite and at least 0 (false for NaN).
pub(super) fn non_negative(x: f64) -> bool {
    x.is_finite() && x >= 0.0
}
