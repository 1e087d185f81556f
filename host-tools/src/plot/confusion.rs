//! Confusion matrices: cells coloured by their share of the row, with counts and a colour bar.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::axes::{draw_axis_labels, draw_mesh, plot_rect, x_label_area, y_label_area, Axis};
use super::canvas::{Area, RenderError, AXIS, FAINT, INK, MUTED};
use super::render::render;
use super::text::{draw_no_data, draw_title, width_of, Fonts, Style, DESC_PX, LABEL_PX};

/// Confusion-matrix colour ramp (white to dark blue), sampled at fractions 0, 0.5 and 1.
pub(super) const RAMP: [RGBColor; 3] = [
    RGBColor(0xf7, 0xfb, 0xff),
    RGBColor(0x6b, 0xae, 0xd6),
    RGBColor(0x08, 0x30, 0x6b),
];

/// Confusion-matrix image size.
pub(super) const CM_WIDTH: u32 = 820;
pub(super) const CM_HEIGHT: u32 = 780;

pub(super) fn render_confusion_matrix(
    title: &str,
    matrix: &[Vec<u64>],
) -> Result<Vec<u8>, RenderError> {
    render(CM_WIDTH, CM_HEIGHT, |root, fonts| {
        let top = draw_title(root, fonts, title)?;
        let rows = matrix.len();
        let cols = matrix.iter().map(Vec::len).max().unwrap_or(0);
        let total: u128 = matrix.iter().flatten().map(|&n| u128::from(n)).sum();
        let correct: u128 = (0..rows.min(cols))
            .map(|i| u128::from(matrix[i].get(i).copied().unwrap_or(0)))
            .sum();
        if total > 0 {
            let subtitle = format!(
                "{total} samples, {:.1}% correct (on the diagonal)",
                correct as f64 / total as f64 * 100.0
            );
            let style = Style::new(LABEL_PX)
                .colour(MUTED)
                .at(HPos::Center, VPos::Top);
            fonts.draw(root, &subtitle, (width_of(root) / 2, top - 6), style)?;
        }
        let top = top + 24;
        let (main, bar) = root
            .margin(top, 12, 12, 12)
            .split_horizontally(CM_WIDTH - 24 - 110);
        let (rows_f, cols_f) = (rows.max(1) as f64, cols.max(1) as f64);
        // At most about 25 tick labels per axis; cells in between stay unlabelled.
        let every = |n: usize| n.div_ceil(25).max(1);
        let xa = Axis::labelled(
            0.0,
            cols_f,
            (0..cols)
                .step_by(every(cols))
                .map(|c| (c as f64 + 0.5, c.to_string()))
                .collect(),
        );
        // Row 0 at the top: row r spans y in (rows - r - 1)..(rows - r).
        let ya = Axis::labelled(
            0.0,
            rows_f,
            (0..rows)
                .step_by(every(rows))
                .map(|r| (rows_f - r as f64 - 0.5, r.to_string()))
                .collect(),
        );
        let y_area = y_label_area(fonts, &ya, "true class");
        let mut chart = ChartBuilder::on(&main)
            .x_label_area_size(x_label_area("predicted class"))
            .y_label_area_size(y_area)
            .build_cartesian_2d(xa, ya)?;
        draw_mesh(&mut chart, false)?;
        let ((x0, y0), (x1, y1)) = plot_rect(&chart);
        if total == 0 && matrix.iter().all(Vec::is_empty) {
            draw_axis_labels(root, fonts, &chart, ("predicted class", "true class"), true)?;
            return draw_no_data(root, fonts, plot_rect(&chart));
        }
        let cell_w = f64::from(x1 - x0) / cols_f;
        let cell_h = f64::from(y1 - y0) / rows_f;
        let text_px = (cell_h * 0.4).min(16.0) as f32;
        let gap = u32::from(cell_w >= 6.0 && cell_h >= 6.0);
        for (r, row) in matrix.iter().enumerate() {
            let row_total: u128 = row.iter().map(|&n| u128::from(n)).sum();
            let y = rows_f - r as f64;
            for c in 0..cols {
                let n = row.get(c).copied().unwrap_or(0);
                let frac = if row_total > 0 {
                    n as f64 / row_total as f64
                } else {
                    0.0
                };
                let x = c as f64;
                let mut cell = Rectangle::new([(x, y), (x + 1.0, y - 1.0)], ramp(frac).filled());
                cell.set_margin(0, gap, 0, gap);
                chart.draw_series(std::iter::once(cell))?;
                if text_px >= 9.0 {
                    // Zeros in a light grey so that the non-zero counts stand out.
                    let ink = match (n, frac > 0.55) {
                        (0, _) => FAINT,
                        (_, true) => WHITE,
                        (_, false) => INK,
                    };
                    let max_w = (cell_w - 4.0) as i32;
                    if let Some(label) = compact_count(fonts, n, text_px, max_w) {
                        let centre = chart.backend_coord(&(x + 0.5, y - 0.5));
                        let style = Style::new(text_px)
                            .colour(ink)
                            .at(HPos::Center, VPos::Center);
                        fonts.draw(root, &label, centre, style)?;
                    }
                }
            }
        }
        draw_axis_labels(root, fonts, &chart, ("predicted class", "true class"), true)?;
        draw_colour_bar(root, fonts, &bar, (y0, y1))
    })
}

/// The count `n` as text that fits in `max_w` pixels: plain digits, else scientific, else `None`.
fn compact_count(fonts: &Fonts, n: u64, px: f32, max_w: i32) -> Option<String> {
    let plain = n.to_string();
    let sci = format!("{:.1e}", n as f64);
    [plain, sci]
        .into_iter()
        .find(|s| fonts.width(s, px) <= max_w)
}

/// The colour of a row fraction `f` in `0..=1` on the white-to-blue ramp.
pub(super) fn ramp(f: f64) -> RGBColor {
    let f = if f.is_finite() {
        f.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (a, b, t) = if f < 0.5 {
        (RAMP[0], RAMP[1], f * 2.0)
    } else {
        (RAMP[1], RAMP[2], f * 2.0 - 1.0)
    };
    let mix = |p: u8, q: u8| (f64::from(p) + (f64::from(q) - f64::from(p)) * t).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// A vertical colour bar for the row share beside the confusion matrix, from `y0` (100%) to `y1`
/// (0%) in root pixels.
fn draw_colour_bar(
    root: &Area<'_>,
    fonts: &Fonts,
    bar: &Area<'_>,
    (y0, y1): (i32, i32),
) -> Result<(), RenderError> {
    let (bx, _) = bar.get_base_pixel();
    let x0 = bx + 16;
    let x1 = x0 + 18;
    let h = (y1 - y0).max(2);
    for y in y0..y1 {
        let f = f64::from(y1 - 1 - y) / f64::from(h - 1);
        root.draw(&Rectangle::new([(x0, y), (x1, y + 1)], ramp(f).filled()))?;
    }
    root.draw(&Rectangle::new(
        [(x0, y0), (x1, y1 - 1)],
        AXIS.stroke_width(1),
    ))?;
    let style = Style::new(LABEL_PX).at(HPos::Left, VPos::Center);
    for pct in [0, 25, 50, 75, 100] {
        let y = y1 - 1 - (h - 1) * pct / 100;
        root.draw(&PathElement::new(
            vec![(x1, y), (x1 + 4, y)],
            AXIS.stroke_width(1),
        ))?;
        fonts.draw(root, &format!("{pct}%"), (x1 + 8, y), style)?;
    }
    let desc = Style::new(DESC_PX).vertical();
    fonts.draw(
        root,
        "share of the true class",
        (x1 + 66, (y0 + y1) / 2),
        desc,
    )
}
