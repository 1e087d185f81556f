//! Text: label sizes, layout with the bundled font (`ab_glyph`), titles, "no data" and legends.

use std::ops::Range;

use ab_glyph::{Font, FontRef, ScaleFont};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::canvas::{Area, RenderError, INK, MUTED};

const TITLE_PX: f32 = 24.0;
pub(super) const DESC_PX: f32 = 17.0;
pub(super) const LABEL_PX: f32 = 15.0;

/// Longest label shown in a legend or beside a raster band, in characters.
const MAX_LABEL_CHARS: usize = 32;

/// How a piece of text is drawn: size (line height in pixels), colour, anchor, orientation.
#[derive(Clone, Copy)]
pub(super) struct Style {
    pub(super) px: f32,
    pub(super) colour: RGBColor,
    pub(super) h: HPos,
    pub(super) v: VPos,
    /// Read bottom to top (rotated a quarter turn anticlockwise), centred on the anchor.
    pub(super) vertical: bool,
}

impl Style {
    pub(super) fn new(px: f32) -> Self {
        Self {
            px,
            colour: INK,
            h: HPos::Left,
            v: VPos::Top,
            vertical: false,
        }
    }
    pub(super) fn colour(self, colour: RGBColor) -> Self {
        Self { colour, ..self }
    }
    pub(super) fn at(self, h: HPos, v: VPos) -> Self {
        Self { h, v, ..self }
    }
    pub(super) fn vertical(self) -> Self {
        Self {
            vertical: true,
            h: HPos::Center,
            v: VPos::Center,
            ..self
        }
    }
}

/// Text layout with the bundled font.
pub(super) struct Fonts {
    pub(super) face: &'static FontRef<'static>,
}

impl Fonts {
    /// Glyphs of `text` on a baseline at y = 0 starting at x = 0, and the advance width.
    pub(super) fn layout(&self, text: &str, px: f32) -> (Vec<ab_glyph::Glyph>, f32) {
        let scaled = self.face.as_scaled(px);
        let mut pen = 0.0f32;
        let mut prev = None;
        let mut glyphs = Vec::new();
        for c in text.chars().filter(|c| !c.is_control()) {
            let id = scaled.glyph_id(c);
            if let Some(p) = prev {
                pen += scaled.kern(p, id);
            }
            glyphs.push(id.with_scale_and_position(px, ab_glyph::point(pen, 0.0)));
            pen += scaled.h_advance(id);
            prev = Some(id);
        }
        (glyphs, pen)
    }

    /// Width of `text` in pixels.
    pub(super) fn width(&self, text: &str, px: f32) -> i32 {
        self.layout(text, px).1.ceil() as i32
    }

    /// `text` cut with "…" so that it is at most `max_w` pixels wide.
    pub(super) fn fit(&self, text: &str, px: f32, max_w: i32) -> String {
        if self.width(text, px) <= max_w {
            return text.to_owned();
        }
        let chars: Vec<char> = text.chars().collect();
        // Binary search for the longest prefix that fits with the ellipsis.
        let (mut lo, mut hi) = (0, chars.len());
        while lo < hi {
            let mid = (lo + hi).div_ceil(2);
            let s: String = chars[..mid].iter().chain(['…'].iter()).collect();
            if self.width(&s, px) <= max_w {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        chars[..lo].iter().chain(['…'].iter()).collect()
    }

    /// Draws `text` at `(x, y)` (root pixels) in `style`.
    ///
    /// Text is laid out here with `ab_glyph` rather than through plotters' `Text` element:
    /// plotters 0.3.7 places each glyph at its whole-pixel pen position without its left side
    /// bearing, which spaces letters unevenly ("n eur on s"); here glyphs sit at their exact
    /// positions (kerning included) and are blended by coverage.
    pub(super) fn draw(
        &self,
        root: &Area<'_>,
        text: &str,
        (x, y): (i32, i32),
        style: Style,
    ) -> Result<(), RenderError> {
        let (glyphs, width) = self.layout(text, style.px);
        let scaled = self.face.as_scaled(style.px);
        let dx = match style.h {
            HPos::Left => 0.0,
            HPos::Center => -width / 2.0,
            HPos::Right => -width,
        };
        // Baseline offset from the anchor; "centre" centres capital letters and digits.
        let dy = match style.v {
            VPos::Top => scaled.ascent(),
            VPos::Center => style.px * 0.31,
            VPos::Bottom => scaled.descent(),
        };
        let (dx, dy) = (dx.round() as i32, dy.round() as i32);
        let mut pixels = Vec::new();
        for g in glyphs {
            if let Some(outline) = self.face.outline_glyph(g) {
                let b = outline.px_bounds();
                let (bx, by) = (b.min.x as i32, b.min.y as i32);
                outline.draw(|gx, gy, c| {
                    if c > 0.0 {
                        let lx = bx + gx as i32 + dx;
                        let ly = by + gy as i32 + dy;
                        pixels.push((lx, ly, c.min(1.0)));
                    }
                });
            }
        }
        for (lx, ly, c) in pixels {
            let p = if style.vertical {
                (x + ly, y - lx)
            } else {
                (x + lx, y + ly)
            };
            root.draw_pixel(p, &style.colour.mix(f64::from(c)))?;
        }
        Ok(())
    }
}

/// `label` cut to `MAX_LABEL_CHARS` characters, or `fallback` if it is blank.
pub(super) fn label_or(label: &str, fallback: impl FnOnce() -> String) -> String {
    if label.trim().is_empty() {
        return fallback();
    }
    if label.chars().count() <= MAX_LABEL_CHARS {
        label.to_owned()
    } else {
        let mut s: String = label.chars().take(MAX_LABEL_CHARS - 1).collect();
        s.push('…');
        s
    }
}

pub(super) fn width_of(area: &Area<'_>) -> i32 {
    i32::try_from(area.dim_in_pixel().0).unwrap_or(i32::MAX)
}

/// Draws the title centred at the top; returns the y just below it.
pub(super) fn draw_title(root: &Area<'_>, fonts: &Fonts, title: &str) -> Result<i32, RenderError> {
    let w = width_of(root);
    let t = fonts.fit(title, TITLE_PX, w - 40);
    let style = Style::new(TITLE_PX).at(HPos::Center, VPos::Top);
    fonts.draw(root, &t, (w / 2, 12), style)?;
    Ok(48)
}

/// Writes "no data" in the middle of the pixel rectangle `(x0, y0)..(x1, y1)`.
pub(super) fn draw_no_data(
    root: &Area<'_>,
    fonts: &Fonts,
    ((x0, y0), (x1, y1)): ((i32, i32), (i32, i32)),
) -> Result<(), RenderError> {
    let style = Style::new(22.0)
        .colour(MUTED)
        .at(HPos::Center, VPos::Center);
    fonts.draw(root, "no data", ((x0 + x1) / 2, (y0 + y1) / 2), style)
}

/// Draws line-chart legend entries as centred rows starting at `top`, wrapping when a row would
/// be wider than the image; returns the y just below the legend (`top` if there are none).
pub(super) fn draw_legend_rows(
    root: &Area<'_>,
    fonts: &Fonts,
    top: i32,
    entries: &[(String, RGBColor)],
) -> Result<i32, RenderError> {
    if entries.is_empty() {
        return Ok(top);
    }
    let w = width_of(root);
    const SWATCH_W: i32 = 28;
    const GAP: i32 = 8;
    const SPACING: i32 = 28;
    const ROW_H: i32 = 24;
    let max_row = w - 40;
    let widths: Vec<i32> = entries
        .iter()
        .map(|(l, _)| SWATCH_W + GAP + fonts.width(l, LABEL_PX).min(max_row - SWATCH_W - GAP))
        .collect();
    // Greedy rows.
    let mut rows: Vec<Range<usize>> = Vec::new();
    let mut start = 0;
    let mut row_w = 0;
    for (i, &ew) in widths.iter().enumerate() {
        let add = if i == start { ew } else { SPACING + ew };
        if i > start && row_w + add > max_row {
            rows.push(start..i);
            start = i;
            row_w = ew;
        } else {
            row_w += add;
        }
    }
    rows.push(start..entries.len());
    // Enough rows for any sensible chart; more would squeeze the plot away.
    const MAX_ROWS: usize = 4;
    let left_out: usize = rows.iter().skip(MAX_ROWS).map(|r| r.len()).sum();
    rows.truncate(MAX_ROWS);
    for (r, range) in rows.iter().enumerate() {
        let total: i32 =
            widths[range.clone()].iter().sum::<i32>() + SPACING * (range.len() as i32 - 1);
        let mut x = (w - total) / 2;
        let cy = top + ROW_H * r as i32 + ROW_H / 2;
        for i in range.clone() {
            let (label, colour) = &entries[i];
            root.draw(&PathElement::new(
                vec![(x, cy), (x + SWATCH_W, cy)],
                colour.stroke_width(2),
            ))?;
            root.draw(&Circle::new((x + SWATCH_W / 2, cy), 4, colour.filled()))?;
            let text = fonts.fit(label, LABEL_PX, widths[i] - SWATCH_W - GAP);
            let style = Style::new(LABEL_PX).at(HPos::Left, VPos::Center);
            fonts.draw(root, &text, (x + SWATCH_W + GAP, cy), style)?;
            x += widths[i] + SPACING;
        }
    }
    if left_out > 0 {
        let cy = top + ROW_H * rows.len() as i32 + ROW_H / 2;
        let style = Style::new(LABEL_PX)
            .colour(MUTED)
            .at(HPos::Center, VPos::Center);
        let text = format!("… and {left_out} more series (not in the legend)");
        fonts.draw(root, &text, (w / 2, cy), style)?;
        rows.push(0..0);
    }
    Ok(top + ROW_H * rows.len() as i32 + 8)
}
