//! PNG charts (line charts, histograms, spike rasters, confusion matrices) drawn with `plotters`.
//!
//! `plotters` draws into an in-memory RGB buffer (its bitmap backend) and the `png` crate encodes
//! it. Text uses DejaVu Sans, compiled into the binary (`assets/fonts/DejaVuSans.ttf`, Bitstream
//! Vera licence): it is registered with plotters' `ab_glyph` font support, and the labels this
//! module writes are laid out with `ab_glyph` directly, because plotters 0.3.7 drops each glyph's
//! side bearing and spaces letters unevenly. No system fonts or fontconfig are involved, and the
//! same input gives the same PNG bytes on every machine.
//!
//! Files are written atomically: a temporary file in the destination's directory is renamed over
//! the destination, so a failed write never leaves a half-written PNG behind. Non-finite values
//! (NaN, ±∞) are skipped; a chart with nothing to show says "no data" instead of failing.
//!
//! One concept per file: `canvas` holds the colours, the bundled font and the drawing area type;
//! `text` lays out and draws labels; `render` draws a chart on a pixel buffer and encodes the PNG; `axes` picks ticks and draws the frame around a plot;
//! `lines`, `histogram`, `raster` and `confusion` each draw one kind of chart.

use std::error::Error;
use std::path::{Path, PathBuf};

use crate::output::{self, OutputError};

mod axes;
mod canvas;
mod confusion;
mod histogram;
mod lines;
mod raster;
mod render;
#[cfg(test)]
mod tests;
mod text;

use confusion::render_confusion_matrix;
use histogram::render_histogram;
use lines::{render_line_chart, render_line_panels};
use raster::render_raster;

/// Width in pixels of line charts, histograms and rasters.
pub const WIDTH: u32 = 960;
/// Height in pixels of line charts and rasters (histograms grow with the number of groups).
pub const HEIGHT: u32 = 600;
/// Most bins a [`histogram`] uses (more would be thinner than a pixel anyway).
pub const MAX_BINS: usize = 4096;
/// Most panels a [`histogram`] or [`line_panels`] chart draws (one per group or panel); further
/// ones are left out (a histogram's title says so).
pub const MAX_PANELS: usize = 16;

/// Errors from writing a chart.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlotError {
    /// Writing the file failed (e.g. the directory does not exist); nothing was left behind.
    #[error(transparent)]
    Write(#[from] OutputError),
    /// The PNG encoder failed.
    #[error("cannot encode plot {path} as PNG: {source}")]
    Encode {
        /// The destination file.
        path: PathBuf,
        /// The encoder's error.
        #[source]
        source: png::EncodingError,
    },
    /// Drawing the chart failed (plotters reported an error, or the bundled font was rejected).
    #[error("cannot draw plot {path}: {source}")]
    Draw {
        /// The destination file.
        path: PathBuf,
        /// The drawing library's error.
        #[source]
        source: Box<dyn Error + Send + Sync>,
    },
}

/// One line of a [`line_chart`]: a legend label and `(x, y)` points joined in the given order.
///
/// Points with a non-finite coordinate are skipped and break the line there.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Series {
    /// Legend label (an empty label is shown as "series N").
    pub label: String,
    /// The points, joined in order.
    pub points: Vec<(f64, f64)>,
}

impl Series {
    /// A series from a label and points.
    pub fn new(label: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Self {
            label: label.into(),
            points,
        }
    }
}

/// Renders a line chart of `series` and writes it to `path` as a PNG.
///
/// Each series gets a palette colour and an entry in the legend row above the plot (so that the
/// legend never covers data); series with few points also get point markers. The axes get
/// "nice" round ticks, grid lines and the given labels (put the unit in them, e.g. "accuracy (%)").
///
/// # Errors
/// [`PlotError`] naming `path` if the chart cannot be drawn or the file cannot be written; nothing
/// is left behind then.
pub fn line_chart(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
) -> Result<(), PlotError> {
    let png = render_line_chart(title, x_label, y_label, series).map_err(|e| e.at(path))?;
    write_png_atomically(path, &png)
}

/// Renders line charts stacked over a shared x axis (one per panel) and writes them to `path`.
///
/// `panels[k]` is a y-axis label and its series, for quantities with different units that share
/// an x axis (e.g. loss and accuracy per epoch). Series colours run on across panels and one
/// legend row above the plots lists them all. At most [`MAX_PANELS`] panels are drawn; the image
/// grows taller with each panel.
///
/// # Errors
/// [`PlotError`] naming `path` if the chart cannot be drawn or the file cannot be written; nothing
/// is left behind then.
pub fn line_panels(
    path: &Path,
    title: &str,
    x_label: &str,
    panels: &[(String, Vec<Series>)],
) -> Result<(), PlotError> {
    let png = render_line_panels(title, x_label, panels).map_err(|e| e.at(path))?;
    write_png_atomically(path, &png)
}

/// Renders one histogram per group, stacked over a shared x axis, and writes them to `path`.
///
/// The range of all finite values is split into `bins` equal bins (clamped to `1..=MAX_BINS`);
/// each group (e.g. a layer) gets its own panel with its own count axis, headed by its name and
/// number of values, so that a small layer is not flattened by a large one. At most
/// [`MAX_PANELS`] groups are drawn.
///
/// # Errors
/// [`PlotError`] naming `path` if the chart cannot be drawn or the file cannot be written; nothing
/// is left behind then.
pub fn histogram(
    path: &Path,
    title: &str,
    x_label: &str,
    groups: &[(String, Vec<f64>)],
    bins: usize,
) -> Result<(), PlotError> {
    let png = render_histogram(title, x_label, groups, bins).map_err(|e| e.at(path))?;
    write_png_atomically(path, &png)
}

/// Renders a spike raster and writes it to `path`.
///
/// Layers are stacked top to bottom, each in its own colour and labelled on the left with its
/// name and size; within a layer neuron `i` is row `i`, and a mark is drawn at each step it
/// spiked. `layers[l].1[neuron]` lists the step indices; steps `>= steps` are ignored.
///
/// # Errors
/// [`PlotError`] naming `path` if the chart cannot be drawn or the file cannot be written; nothing
/// is left behind then.
pub fn raster(
    path: &Path,
    title: &str,
    steps: usize,
    layers: &[(String, Vec<Vec<u32>>)],
) -> Result<(), PlotError> {
    let png = render_raster(title, steps, layers).map_err(|e| e.at(path))?;
    write_png_atomically(path, &png)
}

/// Renders a confusion matrix and writes it to `path`.
///
/// Row `r` is the true class `r`, column `c` the predicted class `c`; `matrix[r][c]` counts the
/// samples of class `r` classified as `c` (rows may differ in length; missing cells count 0).
/// Each cell is coloured by its share of its row (white 0% to dark blue 100%, with a colour bar)
/// and shows its count when the cell is large enough to hold it.
///
/// # Errors
/// [`PlotError`] naming `path` if the chart cannot be drawn or the file cannot be written; nothing
/// is left behind then.
pub fn confusion_matrix(path: &Path, title: &str, matrix: &[Vec<u64>]) -> Result<(), PlotError> {
    let png = render_confusion_matrix(title, matrix).map_err(|e| e.at(path))?;
    write_png_atomically(path, &png)
}

/// Writes `png` to `path` through the crate's one file writer ([`output::write_atomic`]).
fn write_png_atomically(path: &Path, png: &[u8]) -> Result<(), PlotError> {
    Ok(output::write_atomic(path, png)?)
}
