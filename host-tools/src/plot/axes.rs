//! Axes: tick choice and formatting, the plotters coordinate they define, and the frame, grid and
//! labels around a plot.

use std::ops::Range;

use plotters::coord::ranged1d::{KeyPointHint, NoDefaultFormatting, Ranged, ValueFormatter};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::canvas::{Area, RenderError, AXIS, GRID};
use super::text::{Fonts, Style, DESC_PX, LABEL_PX};

/// A linear axis with its own ticks and tick labels, used as a plotters coordinate.
///
/// Plotters' built-in float axes pick their own ticks, assert on NaN and format labels with code
/// that misbehaves on extreme ranges; this type keeps tick choice and formatting here, for any
/// finite data.
#[derive(Debug, Clone)]
pub(super) struct Axis {
    pub(super) lo: f64,
    pub(super) hi: f64,
    /// Tick positions and their labels.
    pub(super) ticks: Vec<(f64, String)>,
}

/// A "nice" step (1, 2, 2.5 or 5 times a power of ten) giving about `target` intervals of `lo..hi`.
pub(super) fn nice_step(lo: f64, hi: f64, target: usize) -> f64 {
    // Halving first keeps the span finite even for -f64::MAX..f64::MAX.
    let raw = (hi * 0.5 - lo * 0.5) * (2.0 / target.max(1) as f64);
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let f = if norm < 1.5 {
        1.0
    } else if norm < 2.25 {
        2.0
    } else if norm < 3.5 {
        2.5
    } else if norm < 7.5 {
        5.0
    } else {
        10.0
    };
    f * mag
}

/// A nice step for whole numbers (steps, counts): at least 1, and never a multiple of 2.5.
pub(super) fn whole_step(lo: f64, hi: f64, target: usize) -> f64 {
    let s = nice_step(lo, hi, target).max(1.0);
    if s.fract() == 0.0 {
        s
    } else {
        // 2.5 -> 5: half steps would fall between whole numbers.
        s * 2.0
    }
}

/// `(lo, hi)` widened when empty or degenerate so that an axis can be drawn.
pub(super) fn widen(lo: f64, hi: f64) -> (f64, f64) {
    if !(lo.is_finite() && hi.is_finite()) || lo > hi {
        return (0.0, 1.0);
    }
    if hi * 0.5 - lo * 0.5 > f64::EPSILON * lo.abs().max(hi.abs()) * 8.0 {
        return (lo, hi);
    }
    let d = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
    (lo - d, hi + d)
}

impl Axis {
    /// Ticks covering `lo..hi`, with the interval extended outward to whole steps ("loose").
    pub(super) fn loose(lo: f64, hi: f64, target: usize) -> Self {
        let (lo, hi) = widen(lo, hi);
        let step = nice_step(lo, hi, target);
        let (l, h) = ((lo / step).floor() * step, (hi / step).ceil() * step);
        if l.is_finite() && h.is_finite() && h > l {
            Self::with_step(l, h, step)
        } else {
            Self::with_step(lo, hi, step)
        }
    }

    /// Ticks within exactly `lo..hi` ("tight").
    pub(super) fn tight(lo: f64, hi: f64, target: usize) -> Self {
        let (lo, hi) = widen(lo, hi);
        Self::with_step(lo, hi, nice_step(lo, hi, target))
    }

    /// Ticks at the multiples of `step` within `lo..hi` (none if there would be 100 or more).
    pub(super) fn with_step(lo: f64, hi: f64, step: f64) -> Self {
        let mut ticks = Vec::new();
        let first = (lo / step - 1e-9).ceil();
        let last = (hi / step + 1e-9).floor();
        let max_abs = lo.abs().max(hi.abs());
        if first.is_finite() && last.is_finite() && last - first < 100.0 {
            let mut k = first;
            while k <= last {
                let v = k * step;
                ticks.push((v, format_tick(v, step, max_abs)));
                k += 1.0;
            }
        }
        Self { lo, hi, ticks }
    }

    /// An axis over `lo..hi` with the given ticks.
    pub(super) fn labelled(lo: f64, hi: f64, ticks: Vec<(f64, String)>) -> Self {
        Self { lo, hi, ticks }
    }

    /// Position of `v` in `0..=1` along the axis (halved operands keep the span finite).
    pub(super) fn frac(&self, v: f64) -> f64 {
        let span = self.hi * 0.5 - self.lo * 0.5;
        if span > 0.0 {
            (v * 0.5 - self.lo * 0.5) / span
        } else {
            0.5
        }
    }

    /// Label of the tick at `v` (empty for a value that is not a tick).
    pub(super) fn label(&self, v: f64) -> String {
        self.ticks
            .iter()
            .find(|t| t.0 == v)
            .map(|t| t.1.clone())
            .unwrap_or_default()
    }
}

impl Ranged for Axis {
    type FormatOption = NoDefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let px = f64::from(limit.0) + self.frac(*value) * f64::from(limit.1 - limit.0);
        // Saturating conversion; NaN (never passed here) would map to 0.
        px.round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        // Only bold grid lines (at the labelled ticks); no light lines in between.
        if hint.weight().allow_light_points() {
            return Vec::new();
        }
        self.ticks.iter().map(|t| t.0).collect()
    }

    fn range(&self) -> Range<f64> {
        self.lo..self.hi
    }
}

impl ValueFormatter<f64> for Axis {
    fn format(value: &f64) -> String {
        value.to_string()
    }

    fn format_ext(&self, value: &f64) -> String {
        self.label(*value)
    }
}

/// Formats a tick value `v` on an axis with tick spacing `step` and largest magnitude `max_abs`.
fn format_tick(v: f64, step: f64, max_abs: f64) -> String {
    if v.abs() < step * 1e-6 {
        return "0".to_owned();
    }
    let step_exp = step.log10().floor() as i64;
    // A 2.5-multiple step needs one more digit than its power of ten suggests.
    let mantissa = step / 10f64.powi(step_exp as i32);
    let extra = i64::from((mantissa - mantissa.round()).abs() > 1e-6);
    if !(1e-3..1e6).contains(&max_abs) {
        let exp = v.abs().log10().floor() as i64;
        let digits = (exp - step_exp + extra).clamp(0, 6) as usize;
        return format!("{v:.digits$e}");
    }
    let decimals = (-step_exp + extra).clamp(0, 9) as usize;
    format!("{v:.decimals$}")
}

/// Room below the plot for tick labels (and the axis description if there is one).
pub(super) fn x_label_area(desc: &str) -> i32 {
    if desc.is_empty() {
        34
    } else {
        62
    }
}

/// Room left of the plot: the widest tick label, the tick, the rotated axis description.
pub(super) fn y_label_area(fonts: &Fonts, axis: &Axis, desc: &str) -> i32 {
    widest_tick(fonts, axis) + 14 + if desc.is_empty() { 4 } else { 30 }
}

fn widest_tick(fonts: &Fonts, axis: &Axis) -> i32 {
    axis.ticks
        .iter()
        .map(|t| fonts.width(&t.1, LABEL_PX))
        .max()
        .unwrap_or(0)
}

pub(super) type Chart<'a, 'b> = ChartContext<'a, BitMapBackend<'b>, Cartesian2d<Axis, Axis>>;

/// Pixel rectangle (top-left, bottom-right, exclusive) of `chart`'s plotting area.
pub(super) fn plot_rect(chart: &Chart<'_, '_>) -> ((i32, i32), (i32, i32)) {
    let (xr, yr) = chart.plotting_area().get_pixel_range();
    ((xr.start, yr.start), (xr.end, yr.end))
}

/// Grid lines, axis lines and tick marks through plotters' mesh (tick labels and descriptions are
/// drawn by [`draw_axis_labels`]).
pub(super) fn draw_mesh(chart: &mut Chart<'_, '_>, grid: bool) -> Result<(), RenderError> {
    let mut mesh = chart.configure_mesh();
    mesh.x_label_formatter(&|_| String::new())
        .y_label_formatter(&|_| String::new())
        .bold_line_style(GRID.stroke_width(1))
        .light_line_style(TRANSPARENT)
        .axis_style(AXIS.stroke_width(1))
        .set_all_tick_mark_size(5);
    if !grid {
        mesh.disable_mesh();
    }
    mesh.draw()?;
    Ok(())
}

/// Tick labels and axis descriptions around `chart`, then a frame around its plotting area.
///
/// X tick labels that would overlap the previous one are skipped; `x_ticks = false` leaves the x
/// axis unlabelled (stacked panels).
pub(super) fn draw_axis_labels(
    root: &Area<'_>,
    fonts: &Fonts,
    chart: &Chart<'_, '_>,
    (x_desc, y_desc): (&str, &str),
    x_ticks: bool,
) -> Result<(), RenderError> {
    let ((x0, y0), (x1, y1)) = plot_rect(chart);
    let (xa, ya) = (chart.x_range(), chart.y_range());
    let (xs, ys) = (
        chart.as_coord_spec().x_spec(),
        chart.as_coord_spec().y_spec(),
    );
    let label = Style::new(LABEL_PX);
    if x_ticks {
        let mut last_right = i32::MIN;
        for (v, text) in &xs.ticks {
            let (px, _) = chart.backend_coord(&(*v, ya.start));
            let w = fonts.width(text, LABEL_PX);
            if px - w / 2 > last_right + 8 {
                let style = label.at(HPos::Center, VPos::Top);
                fonts.draw(root, text, (px, y1 + 9), style)?;
                last_right = px - w / 2 + w;
            }
        }
    }
    for (v, text) in &ys.ticks {
        let (_, py) = chart.backend_coord(&(xa.start, *v));
        fonts.draw(
            root,
            text,
            (x0 - 10, py),
            label.at(HPos::Right, VPos::Center),
        )?;
    }
    if !x_desc.is_empty() {
        let t = fonts.fit(x_desc, DESC_PX, x1 - x0);
        let style = Style::new(DESC_PX).at(HPos::Center, VPos::Top);
        fonts.draw(root, &t, ((x0 + x1) / 2, y1 + 34), style)?;
    }
    if !y_desc.is_empty() {
        let t = fonts.fit(y_desc, DESC_PX, y1 - y0);
        let x = x0 - 14 - widest_tick(fonts, ys) - 12;
        fonts.draw(root, &t, (x, (y0 + y1) / 2), Style::new(DESC_PX).vertical())?;
    }
    root.draw(&Rectangle::new(
        [(x0, y0), (x1 - 1, y1 - 1)],
        AXIS.stroke_width(1),
    ))?;
    Ok(())
}

/// A count axis from 0 to at least `max` with whole-number ticks.
pub(super) fn count_axis(max: u64) -> Axis {
    let top = (max as f64).max(1.0);
    let step = whole_step(0.0, top, 5);
    Axis::with_step(0.0, (top / step).ceil() * step, step)
}
