//! Line charts: one plot of several series, or panels stacked over a shared x axis.

use plotters::prelude::*;

use super::axes::{
    draw_axis_labels, draw_mesh, plot_rect, whole_step, widen, x_label_area, y_label_area, Axis,
    Chart,
};
use super::canvas::{RenderError, PALETTE};
use super::render::render;
use super::text::{draw_legend_rows, draw_no_data, draw_title, label_or};
use super::{Series, HEIGHT, MAX_PANELS, WIDTH};

pub(super) fn render_line_chart(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
) -> Result<Vec<u8>, RenderError> {
    render_line_panels(title, x_label, &[(y_label.to_owned(), series.to_vec())])
}

fn is_finite_point(p: &(f64, f64)) -> bool {
    p.0.is_finite() && p.1.is_finite()
}

/// Extent `(lo, hi)` of the finite values `pick` takes from the finite points of `series`.
fn extent<'a>(
    series: impl Iterator<Item = &'a Series>,
    pick: impl Fn(&(f64, f64)) -> f64,
) -> Option<(f64, f64)> {
    series
        .flat_map(|s| s.points.iter())
        .filter(|p| is_finite_point(p))
        .map(pick)
        .fold(None, |acc, v| {
            Some(acc.map_or((v, v), |(a, b): (f64, f64)| (a.min(v), b.max(v))))
        })
}

pub(super) fn render_line_panels(
    title: &str,
    x_label: &str,
    panels: &[(String, Vec<Series>)],
) -> Result<Vec<u8>, RenderError> {
    let shown = &panels[..panels.len().min(MAX_PANELS)];
    let n = shown.len().max(1) as u32;
    let height = HEIGHT + 220 * (n - 1);
    let all = || shown.iter().flat_map(|p| p.1.iter());
    // Whole-number x values (epochs, steps) get whole-number ticks.
    let whole_x = all()
        .flat_map(|s| s.points.iter())
        .filter(|p| is_finite_point(p))
        .all(|p| p.0.fract() == 0.0);
    let xa = match extent(all(), |p| p.0) {
        Some((lo, hi)) if whole_x => {
            let (lo, hi) = widen(lo, hi);
            let step = whole_step(lo, hi, 10);
            Axis::with_step((lo / step).floor() * step, (hi / step).ceil() * step, step)
        }
        Some((lo, hi)) => Axis::loose(lo, hi, 10),
        None => Axis::loose(0.0, 1.0, 5),
    };
    render(WIDTH, height, |root, fonts| {
        let top = draw_title(root, fonts, title)?;
        // Colours run on across panels, so that every series has its own legend entry.
        let entries: Vec<(String, RGBColor)> = all()
            .enumerate()
            .map(|(i, s)| {
                let label = label_or(&s.label, || format!("series {}", i + 1));
                (label, PALETTE[i % PALETTE.len()])
            })
            .collect();
        let top = draw_legend_rows(root, fonts, top, &entries)?;
        let area = root.margin(top, 12, 12, 28);
        let empty = Vec::new();
        let panels_or_one: Vec<(&str, &Vec<Series>)> = if shown.is_empty() {
            vec![("", &empty)]
        } else {
            shown.iter().map(|(l, s)| (l.as_str(), s)).collect()
        };
        let y_axes: Vec<Axis> = panels_or_one
            .iter()
            .map(|(_, series)| match extent(series.iter(), |p| p.1) {
                Some((lo, hi)) => Axis::loose(lo, hi, if n > 1 { 5 } else { 8 }),
                None => Axis::loose(0.0, 1.0, 5),
            })
            .collect();
        let left = panels_or_one
            .iter()
            .zip(&y_axes)
            .map(|((label, _), axis)| y_label_area(fonts, axis, label))
            .max()
            .unwrap_or(0);
        let areas = area.split_evenly((panels_or_one.len(), 1));
        let mut colour_index = 0;
        for (k, (panel, (y_label, series))) in areas.iter().zip(&panels_or_one).enumerate() {
            let last = k + 1 == panels_or_one.len();
            let mut chart = ChartBuilder::on(panel)
                .margin_top(if k == 0 { 0 } else { 28 })
                .x_label_area_size(if last { x_label_area(x_label) } else { 8 })
                .y_label_area_size(left)
                .build_cartesian_2d(xa.clone(), y_axes[k].clone())?;
            draw_mesh(&mut chart, true)?;
            for s in series.iter() {
                let colour = PALETTE[colour_index % PALETTE.len()];
                colour_index += 1;
                draw_line_series(&mut chart, s, colour)?;
            }
            let x_desc = if last { x_label } else { "" };
            draw_axis_labels(root, fonts, &chart, (x_desc, y_label), last)?;
            if extent(series.iter(), |p| p.1).is_none() {
                draw_no_data(root, fonts, plot_rect(&chart))?;
            }
        }
        Ok(())
    })
}

/// Draws one series as lines (broken at non-finite points), with markers when it has few points.
fn draw_line_series(
    chart: &mut Chart<'_, '_>,
    s: &Series,
    colour: RGBColor,
) -> Result<(), RenderError> {
    let markers = s.points.iter().filter(|p| is_finite_point(p)).count() <= 40;
    for run in s
        .points
        .split(|p| !is_finite_point(p))
        .filter(|r| !r.is_empty())
    {
        if run.len() > 1 {
            chart.draw_series(LineSeries::new(run.iter().copied(), colour.stroke_width(2)))?;
        } else if !markers {
            // A lone point still shows up.
            chart.draw_series(run.iter().map(|&p| Circle::new(p, 2, colour.filled())))?;
        }
        if markers {
            chart.draw_series(run.iter().map(|&p| Circle::new(p, 4, colour.filled())))?;
        }
    }
    Ok(())
}
