//! Spike rasters: a mark per neuron and step it spiked, layers stacked in bands.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::axes::{draw_axis_labels, draw_mesh, plot_rect, whole_step, x_label_area, Axis};
use super::canvas::{RenderError, AXIS, MUTED, PALETTE};
use super::render::render;
use super::text::{draw_no_data, draw_title, label_or, Style, LABEL_PX};
use super::{HEIGHT, WIDTH};

pub(super) fn render_raster(
    title: &str,
    steps: usize,
    layers: &[(String, Vec<Vec<u32>>)],
) -> Result<Vec<u8>, RenderError> {
    render(WIDTH, HEIGHT, |root, fonts| {
        let top = draw_title(root, fonts, title)?;
        let names: Vec<String> = layers
            .iter()
            .enumerate()
            .map(|(i, (name, _))| label_or(name, || format!("layer {}", i + 1)))
            .collect();
        let subs: Vec<String> = layers
            .iter()
            .map(|(_, n)| match n.len() {
                1 => "1 neuron".to_owned(),
                k => format!("{k} neurons"),
            })
            .collect();
        let label_w = names
            .iter()
            .chain(subs.iter())
            .map(|s| fonts.width(s, LABEL_PX))
            .max()
            .unwrap_or(0)
            .min(260);
        let span = steps.max(1) as f64;
        // The x axis spans exactly 0..steps (step s is the column s..s+1), ticks at whole steps.
        let xa = Axis::with_step(0.0, span, whole_step(0.0, span, 10));
        let ya = Axis::labelled(0.0, 1.0, Vec::new());
        let area = root.margin(top, 12, 12, 28);
        let mut chart = ChartBuilder::on(&area)
            .x_label_area_size(x_label_area("time step"))
            .y_label_area_size(label_w + 18)
            .build_cartesian_2d(xa, ya)?;
        draw_mesh(&mut chart, true)?;
        let ((px0, py0), (px1, py1)) = plot_rect(&chart);
        let shown: Vec<usize> = (0..layers.len())
            .filter(|&l| !layers[l].1.is_empty())
            .collect();
        if steps == 0 || shown.is_empty() {
            draw_axis_labels(root, fonts, &chart, ("time step", ""), true)?;
            return draw_no_data(root, fonts, plot_rect(&chart));
        }
        // Band heights in pixels: a floor so that small layers stay visible, the rest by size.
        let total_h = f64::from(py1 - py0);
        let min_band = (total_h / (3 * shown.len()) as f64).min(36.0);
        let neurons: usize = shown.iter().map(|&l| layers[l].1.len()).sum();
        let spare = (total_h - min_band * shown.len() as f64).max(0.0);
        let step_px = f64::from(px1 - px0) / steps as f64;
        // Data y of a pixel offset from the top of the plot.
        let y_of = |off: f64| 1.0 - off / total_h;
        let mut band_top = 0.0;
        let mut consumed = 0usize;
        for (k, &l) in shown.iter().enumerate() {
            let rows = &layers[l].1;
            consumed += rows.len();
            let band_bottom = if k + 1 == shown.len() {
                total_h
            } else {
                (min_band * (k + 1) as f64 + spare * consumed as f64 / neurons as f64).round()
            };
            let colour = PALETTE[l % PALETTE.len()];
            let row_h = (band_bottom - band_top) / rows.len() as f64;
            let row_gap = u32::from(row_h >= 4.0);
            let col_gap = u32::from(step_px >= 4.0);
            let marks = rows.iter().enumerate().flat_map(|(i, spikes)| {
                let r0 = y_of(band_top + i as f64 * row_h);
                let r1 = y_of(band_top + (i + 1) as f64 * row_h);
                spikes
                    .iter()
                    .filter(|&&s| (s as usize) < steps)
                    .map(move |&s| {
                        let s = f64::from(s);
                        let mut r = Rectangle::new([(s, r0), (s + 1.0, r1)], colour.filled());
                        r.set_margin(0, row_gap, 0, col_gap);
                        r
                    })
            });
            chart.draw_series(marks)?;
            // Name and size when the band is tall enough, else just the name, else nothing.
            let mid = py0 + ((band_top + band_bottom) / 2.0) as i32;
            let x = px0 - 10;
            let name = fonts.fit(&names[l], LABEL_PX, label_w);
            let name_style = Style::new(LABEL_PX).colour(colour);
            if band_bottom - band_top >= 40.0 {
                fonts.draw(
                    root,
                    &name,
                    (x, mid - 2),
                    name_style.at(HPos::Right, VPos::Bottom),
                )?;
                let sub_style = Style::new(LABEL_PX)
                    .colour(MUTED)
                    .at(HPos::Right, VPos::Top);
                fonts.draw(root, &subs[l], (x, mid + 2), sub_style)?;
            } else if band_bottom - band_top >= 16.0 {
                fonts.draw(
                    root,
                    &name,
                    (x, mid),
                    name_style.at(HPos::Right, VPos::Center),
                )?;
            }
            if k + 1 < shown.len() {
                let y = y_of(band_bottom);
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(0.0, y), (steps as f64, y)],
                    AXIS.stroke_width(1),
                )))?;
            }
            band_top = band_bottom;
        }
        draw_axis_labels(root, fonts, &chart, ("time step", ""), true)
    })
}
