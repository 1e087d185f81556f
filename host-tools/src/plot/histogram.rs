//! Histograms: one panel per group over a shared x axis, each with its own count axis.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::axes::{
    count_axis, draw_axis_labels, draw_mesh, plot_rect, widen, x_label_area, y_label_area, Axis,
};
use super::canvas::{RenderError, PALETTE};
use super::render::render;
use super::text::{draw_no_data, draw_title, label_or, Style, LABEL_PX};
use super::{HEIGHT, MAX_BINS, MAX_PANELS, WIDTH};

pub(super) fn render_histogram(
    title: &str,
    x_label: &str,
    groups: &[(String, Vec<f64>)],
    bins: usize,
) -> Result<Vec<u8>, RenderError> {
    let bins = bins.clamp(1, MAX_BINS);
    let shown = groups.len().min(MAX_PANELS);
    let panels = shown.max(1);
    // Panels share the height of a normal chart; many groups make the image taller instead of
    // squeezing each panel below readability.
    const CHROME: u32 = 48 + 72;
    let panel_h = ((HEIGHT - CHROME) / panels as u32).max(140);
    let height = CHROME + panel_h * panels as u32;
    let mut range: Option<(f64, f64)> = None;
    for &v in groups[..shown].iter().flat_map(|g| g.1.iter()) {
        if v.is_finite() {
            range = Some(range.map_or((v, v), |(a, b)| (a.min(v), b.max(v))));
        }
    }
    let (lo, hi) = match range {
        Some((a, b)) => widen(a, b),
        None => (0.0, 1.0),
    };
    let counts: Vec<Vec<u64>> = groups[..shown]
        .iter()
        .map(|(_, vals)| bin_counts(vals, lo, hi, bins))
        .collect();
    let title = if groups.len() > shown {
        format!("{title} (first {shown} of {} groups)", groups.len())
    } else {
        title.to_owned()
    };
    render(WIDTH, height, |root, fonts| {
        let top = draw_title(root, fonts, &title)?;
        let area = root.margin(top, 10, 12, 28);
        let areas = area.split_evenly((panels, 1));
        let y_axes: Vec<Axis> = (0..panels)
            .map(|g| {
                let max = counts
                    .get(g)
                    .and_then(|c| c.iter().max())
                    .copied()
                    .unwrap_or(0);
                count_axis(max)
            })
            .collect();
        // All panels share the left label width so that their x axes line up.
        let left = y_axes
            .iter()
            .map(|a| y_label_area(fonts, a, "count"))
            .max()
            .unwrap_or(0);
        for (g, panel) in areas.iter().enumerate() {
            let last = g + 1 == panels;
            let mut chart = ChartBuilder::on(panel)
                .margin_top(26)
                .x_label_area_size(if last { x_label_area(x_label) } else { 8 })
                .y_label_area_size(left)
                .build_cartesian_2d(Axis::tight(lo, hi, 10), y_axes[g].clone())?;
            draw_mesh(&mut chart, true)?;
            let colour = PALETTE[g % PALETTE.len()];
            let ((x0, y0), (x1, _)) = plot_rect(&chart);
            if let Some((name, vals)) = groups.get(g) {
                let name = label_or(name, || format!("group {}", g + 1));
                let finite = vals.iter().filter(|v| v.is_finite()).count();
                let mut header = format!("{name}: {finite} values");
                if finite < vals.len() {
                    header.push_str(&format!(" ({} not finite, left out)", vals.len() - finite));
                }
                let header = fonts.fit(&header, LABEL_PX, x1 - x0);
                let style = Style::new(LABEL_PX)
                    .colour(colour)
                    .at(HPos::Left, VPos::Bottom);
                fonts.draw(root, &header, (x0, y0 - 4), style)?;
                let bin_w_px = (x1 - x0) / bins as i32;
                let gap = u32::from(bin_w_px >= 6);
                let width = (hi - lo) / bins as f64;
                let bars = counts[g]
                    .iter()
                    .enumerate()
                    .filter(|(_, &n)| n > 0)
                    .map(|(b, &n)| {
                        let bx0 = lo + b as f64 * width;
                        let bx1 = if b + 1 == bins { hi } else { bx0 + width };
                        let mut r = Rectangle::new([(bx0, 0.0), (bx1, n as f64)], colour.filled());
                        r.set_margin(0, 0, gap, gap);
                        r
                    });
                chart.draw_series(bars)?;
            }
            let x_desc = if last { x_label } else { "" };
            draw_axis_labels(root, fonts, &chart, (x_desc, "count"), last)?;
            if range.is_none() && g == 0 {
                draw_no_data(root, fonts, plot_rect(&chart))?;
            }
        }
        Ok(())
    })
}

/// Counts of the finite `vals` in `bins` equal bins over `lo..hi` (the last bin includes `hi`).
fn bin_counts(vals: &[f64], lo: f64, hi: f64, bins: usize) -> Vec<u64> {
    let mut c = vec![0u64; bins];
    let span = hi * 0.5 - lo * 0.5;
    for &v in vals.iter().filter(|v| v.is_finite()) {
        let b = ((v * 0.5 - lo * 0.5) / span * bins as f64).floor();
        let b = if b.is_finite() && b > 0.0 {
            (b as usize).min(bins - 1)
        } else {
            0
        };
        c[b] = c[b].saturating_add(1);
    }
    c
}
