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

use std::error::Error;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ab_glyph::{Font, FontRef, ScaleFont};
use plotters::coord::ranged1d::{KeyPointHint, NoDefaultFormatting, Ranged, ValueFormatter};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use crate::output::{self, OutputError};

/// Width in pixels of line charts, histograms and rasters.
pub const WIDTH: u32 = 960;
/// Height in pixels of line charts and rasters (histograms grow with the number of groups).
pub const HEIGHT: u32 = 600;
/// Most bins a [`histogram`] uses (more would be thinner than a pixel anyway).
pub const MAX_BINS: usize = 4096;
/// Most panels a [`histogram`] or [`line_panels`] chart draws (one per group or panel); further
/// ones are left out (a histogram's title says so).
pub const MAX_PANELS: usize = 16;

/// Series colours, in order of use (the "tab10" palette); series `i` gets `PALETTE[i % 10]`.
const PALETTE: [RGBColor; 10] = [
    RGBColor(0x1f, 0x77, 0xb4), // blue
    RGBColor(0xff, 0x7f, 0x0e), // orange
    RGBColor(0x2c, 0xa0, 0x2c), // green
    RGBColor(0xd6, 0x27, 0x28), // red
    RGBColor(0x94, 0x67, 0xbd), // purple
    RGBColor(0x8c, 0x56, 0x4b), // brown
    RGBColor(0xe3, 0x77, 0xc2), // pink
    RGBColor(0x7f, 0x7f, 0x7f), // grey
    RGBColor(0xbc, 0xbd, 0x22), // olive
    RGBColor(0x17, 0xbe, 0xcf), // cyan
];

const INK: RGBColor = RGBColor(0x22, 0x22, 0x22);
const AXIS: RGBColor = RGBColor(0x55, 0x55, 0x55);
const GRID: RGBColor = RGBColor(0xe4, 0xe4, 0xe4);
const MUTED: RGBColor = RGBColor(0x70, 0x70, 0x70);
const FAINT: RGBColor = RGBColor(0xb0, 0xb0, 0xb0);

/// Confusion-matrix colour ramp (white to dark blue), sampled at fractions 0, 0.5 and 1.
const RAMP: [RGBColor; 3] = [
    RGBColor(0xf7, 0xfb, 0xff),
    RGBColor(0x6b, 0xae, 0xd6),
    RGBColor(0x08, 0x30, 0x6b),
];

/// The bundled font: DejaVu Sans 2.37 (see `assets/fonts/README.md` for origin and licence).
static FONT_TTF: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
/// Family name the bundled font is registered under in plotters (its default family).
const FONT_FAMILY: &str = "sans-serif";

const TITLE_PX: f32 = 24.0;
const DESC_PX: f32 = 17.0;
const LABEL_PX: f32 = 15.0;

/// Longest label shown in a legend or beside a raster band, in characters.
const MAX_LABEL_CHARS: usize = 32;

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

/// Why rendering failed, before the destination path is attached.
#[derive(Debug)]
enum RenderError {
    Draw(Box<dyn Error + Send + Sync>),
    Encode(png::EncodingError),
}

impl RenderError {
    fn at(self, path: &Path) -> PlotError {
        let path = path.to_owned();
        match self {
            Self::Draw(source) => PlotError::Draw { path, source },
            Self::Encode(source) => PlotError::Encode { path, source },
        }
    }
}

impl<E: Error + Send + Sync + 'static> From<DrawingAreaErrorKind<E>> for RenderError {
    fn from(e: DrawingAreaErrorKind<E>) -> Self {
        Self::Draw(Box::new(e))
    }
}

/// The bundled font was not accepted (cannot happen with the committed file; tested).
#[derive(Debug, thiserror::Error)]
#[error("the bundled font (DejaVu Sans) could not be parsed")]
struct FontRejected;

/// The bundled font, parsed once; also registered with plotters, so that any text plotters draws
/// itself uses it rather than failing to find a system font.
fn face() -> Result<&'static FontRef<'static>, RenderError> {
    static FACE: OnceLock<Option<FontRef<'static>>> = OnceLock::new();
    FACE.get_or_init(|| {
        let registered =
            plotters::style::register_font(FONT_FAMILY, FontStyle::Normal, FONT_TTF).is_ok();
        FontRef::try_from_slice(FONT_TTF)
            .ok()
            .filter(|_| registered)
    })
    .as_ref()
    .ok_or_else(|| RenderError::Draw(Box::new(FontRejected)))
}

type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

/// Draws with `draw` on a white `width` x `height` canvas and returns the PNG bytes.
fn render(
    width: u32,
    height: u32,
    draw: impl FnOnce(&Area<'_>, &Fonts) -> Result<(), RenderError>,
) -> Result<Vec<u8>, RenderError> {
    let fonts = Fonts { face: face()? };
    let mut rgb = vec![0u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
        root.fill(&WHITE)?;
        draw(&root, &fonts)?;
        root.present()?;
    }
    encode_png(width, height, &rgb).map_err(RenderError::Encode)
}

/// Encodes 8-bit RGB pixels as PNG (no metadata such as timestamps, so the bytes are reproducible).
fn encode_png(width: u32, height: u32, rgb: &[u8]) -> Result<Vec<u8>, png::EncodingError> {
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, width, height);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    enc.set_compression(png::Compression::High);
    let mut writer = enc.write_header()?;
    writer.write_image_data(rgb)?;
    writer.finish()?;
    Ok(out)
}

/// How a piece of text is drawn: size (line height in pixels), colour, anchor, orientation.
#[derive(Clone, Copy)]
struct Style {
    px: f32,
    colour: RGBColor,
    h: HPos,
    v: VPos,
    /// Read bottom to top (rotated a quarter turn anticlockwise), centred on the anchor.
    vertical: bool,
}

impl Style {
    fn new(px: f32) -> Self {
        Self {
            px,
            colour: INK,
            h: HPos::Left,
            v: VPos::Top,
            vertical: false,
        }
    }
    fn colour(self, colour: RGBColor) -> Self {
        Self { colour, ..self }
    }
    fn at(self, h: HPos, v: VPos) -> Self {
        Self { h, v, ..self }
    }
    fn vertical(self) -> Self {
        Self {
            vertical: true,
            h: HPos::Center,
            v: VPos::Center,
            ..self
        }
    }
}

/// Text layout with the bundled font.
struct Fonts {
    face: &'static FontRef<'static>,
}

impl Fonts {
    /// Glyphs of `text` on a baseline at y = 0 starting at x = 0, and the advance width.
    fn layout(&self, text: &str, px: f32) -> (Vec<ab_glyph::Glyph>, f32) {
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
    fn width(&self, text: &str, px: f32) -> i32 {
        self.layout(text, px).1.ceil() as i32
    }

    /// `text` cut with "…" so that it is at most `max_w` pixels wide.
    fn fit(&self, text: &str, px: f32, max_w: i32) -> String {
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
    fn draw(
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
fn label_or(label: &str, fallback: impl FnOnce() -> String) -> String {
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

fn width_of(area: &Area<'_>) -> i32 {
    i32::try_from(area.dim_in_pixel().0).unwrap_or(i32::MAX)
}

/// Draws the title centred at the top; returns the y just below it.
fn draw_title(root: &Area<'_>, fonts: &Fonts, title: &str) -> Result<i32, RenderError> {
    let w = width_of(root);
    let t = fonts.fit(title, TITLE_PX, w - 40);
    let style = Style::new(TITLE_PX).at(HPos::Center, VPos::Top);
    fonts.draw(root, &t, (w / 2, 12), style)?;
    Ok(48)
}

/// Writes "no data" in the middle of the pixel rectangle `(x0, y0)..(x1, y1)`.
fn draw_no_data(
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
fn draw_legend_rows(
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

/// A linear axis with its own ticks and tick labels, used as a plotters coordinate.
///
/// Plotters' built-in float axes pick their own ticks, assert on NaN and format labels with code
/// that misbehaves on extreme ranges; this type keeps tick choice and formatting here, for any
/// finite data.
#[derive(Debug, Clone)]
struct Axis {
    lo: f64,
    hi: f64,
    /// Tick positions and their labels.
    ticks: Vec<(f64, String)>,
}

/// A "nice" step (1, 2, 2.5 or 5 times a power of ten) giving about `target` intervals of `lo..hi`.
fn nice_step(lo: f64, hi: f64, target: usize) -> f64 {
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
fn whole_step(lo: f64, hi: f64, target: usize) -> f64 {
    let s = nice_step(lo, hi, target).max(1.0);
    if s.fract() == 0.0 {
        s
    } else {
        // 2.5 -> 5: half steps would fall between whole numbers.
        s * 2.0
    }
}

/// `(lo, hi)` widened when empty or degenerate so that an axis can be drawn.
fn widen(lo: f64, hi: f64) -> (f64, f64) {
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
    fn loose(lo: f64, hi: f64, target: usize) -> Self {
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
    fn tight(lo: f64, hi: f64, target: usize) -> Self {
        let (lo, hi) = widen(lo, hi);
        Self::with_step(lo, hi, nice_step(lo, hi, target))
    }

    /// Ticks at the multiples of `step` within `lo..hi` (none if there would be 100 or more).
    fn with_step(lo: f64, hi: f64, step: f64) -> Self {
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
    fn labelled(lo: f64, hi: f64, ticks: Vec<(f64, String)>) -> Self {
        Self { lo, hi, ticks }
    }

    /// Position of `v` in `0..=1` along the axis (halved operands keep the span finite).
    fn frac(&self, v: f64) -> f64 {
        let span = self.hi * 0.5 - self.lo * 0.5;
        if span > 0.0 {
            (v * 0.5 - self.lo * 0.5) / span
        } else {
            0.5
        }
    }

    /// Label of the tick at `v` (empty for a value that is not a tick).
    fn label(&self, v: f64) -> String {
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
fn x_label_area(desc: &str) -> i32 {
    if desc.is_empty() {
        34
    } else {
        62
    }
}

/// Room left of the plot: the widest tick label, the tick, the rotated axis description.
fn y_label_area(fonts: &Fonts, axis: &Axis, desc: &str) -> i32 {
    widest_tick(fonts, axis) + 14 + if desc.is_empty() { 4 } else { 30 }
}

fn widest_tick(fonts: &Fonts, axis: &Axis) -> i32 {
    axis.ticks
        .iter()
        .map(|t| fonts.width(&t.1, LABEL_PX))
        .max()
        .unwrap_or(0)
}

type Chart<'a, 'b> = ChartContext<'a, BitMapBackend<'b>, Cartesian2d<Axis, Axis>>;

/// Pixel rectangle (top-left, bottom-right, exclusive) of `chart`'s plotting area.
fn plot_rect(chart: &Chart<'_, '_>) -> ((i32, i32), (i32, i32)) {
    let (xr, yr) = chart.plotting_area().get_pixel_range();
    ((xr.start, yr.start), (xr.end, yr.end))
}

/// Grid lines, axis lines and tick marks through plotters' mesh (tick labels and descriptions are
/// drawn by [`draw_axis_labels`]).
fn draw_mesh(chart: &mut Chart<'_, '_>, grid: bool) -> Result<(), RenderError> {
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
fn draw_axis_labels(
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

fn render_line_chart(
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

fn render_line_panels(
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

fn render_histogram(
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

/// A count axis from 0 to at least `max` with whole-number ticks.
fn count_axis(max: u64) -> Axis {
    let top = (max as f64).max(1.0);
    let step = whole_step(0.0, top, 5);
    Axis::with_step(0.0, (top / step).ceil() * step, step)
}

fn render_raster(
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

/// Confusion-matrix image size.
const CM_WIDTH: u32 = 820;
const CM_HEIGHT: u32 = 780;

fn render_confusion_matrix(title: &str, matrix: &[Vec<u64>]) -> Result<Vec<u8>, RenderError> {
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
fn ramp(f: f64) -> RGBColor {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(path: &Path) -> (u32, u32, Vec<u8>) {
        let file = std::fs::File::open(path).unwrap();
        let dec = png::Decoder::new(std::io::BufReader::new(file));
        let mut reader = dec.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!(info.color_type, png::ColorType::Rgb);
        buf.truncate(info.buffer_size());
        (info.width, info.height, buf)
    }

    fn count_colour(rgb: &[u8], c: RGBColor) -> usize {
        rgb.chunks_exact(3)
            .filter(|p| p[0] == c.0 && p[1] == c.1 && p[2] == c.2)
            .count()
    }

    fn sine_series() -> Vec<Series> {
        (0..3)
            .map(|k| {
                Series::new(
                    format!("s{k}"),
                    (0..100)
                        .map(|i| {
                            let x = f64::from(i) / 10.0;
                            (x, (x + f64::from(k)).sin() * f64::from(k + 1))
                        })
                        .collect(),
                )
            })
            .collect()
    }

    #[test]
    fn line_chart_png_decodes_with_every_series_colour() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("line.png");
        let series = sine_series();
        line_chart(&path, "Sines", "x (s)", "y (V)", &series).unwrap();
        let (w, h, rgb) = decode(&path);
        assert_eq!((w, h), (WIDTH, HEIGHT));
        for c in &PALETTE[..series.len()] {
            assert!(count_colour(&rgb, *c) > 100, "colour {c:?} missing");
        }
        // Only the PNG is left in the directory, no temporary file.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn histogram_draws_one_panel_per_group_and_raster_one_band_per_layer() {
        let dir = tempfile::tempdir().unwrap();
        let groups = vec![
            (
                "a".to_owned(),
                (0..200).map(|i| f64::from(i % 37)).collect(),
            ),
            (
                "b".to_owned(),
                (0..200).map(|i| f64::from(i % 23) + 5.0).collect(),
            ),
        ];
        for bins in [1, 10, 200] {
            let path = dir.path().join(format!("hist{bins}.png"));
            histogram(&path, "Rates", "rate (Hz)", &groups, bins).unwrap();
            let (w, h, rgb) = decode(&path);
            assert_eq!((w, h), (WIDTH, HEIGHT));
            for c in &PALETTE[..2] {
                assert!(
                    count_colour(&rgb, *c) > 50,
                    "bins {bins}: colour {c:?} missing"
                );
            }
        }
        // Many groups make the image taller (each panel stays readable), up to a cap.
        let many: Vec<(String, Vec<f64>)> = (0..10)
            .map(|g| (format!("g{g}"), vec![f64::from(g); 5]))
            .collect();
        let path = dir.path().join("hist-many.png");
        histogram(&path, "Rates", "rate (Hz)", &many, 10).unwrap();
        let (_, h10, rgb) = decode(&path);
        assert!(h10 > HEIGHT, "{h10}");
        assert!(count_colour(&rgb, PALETTE[9]) > 0);
        let too_many: Vec<(String, Vec<f64>)> = (0..40)
            .map(|g| (format!("g{g}"), vec![f64::from(g); 5]))
            .collect();
        histogram(&path, "Rates", "rate (Hz)", &too_many, 10).unwrap();
        let (_, h40, _) = decode(&path);
        let (_, h16, _) = {
            histogram(&path, "Rates", "rate (Hz)", &too_many[..16], 10).unwrap();
            decode(&path)
        };
        assert_eq!(h40, h16);

        let layers = vec![
            ("in".to_owned(), vec![vec![0, 3, 9], vec![], vec![5]]),
            ("out".to_owned(), vec![vec![1, 2]]),
        ];
        let path = dir.path().join("raster.png");
        raster(&path, "Spikes", 10, &layers).unwrap();
        let (w, h, rgb) = decode(&path);
        assert_eq!((w, h), (WIDTH, HEIGHT));
        // Four spikes of layer 0, two of layer 1; each mark is a solid block of many pixels.
        let (n0, n1) = (
            count_colour(&rgb, PALETTE[0]),
            count_colour(&rgb, PALETTE[1]),
        );
        assert!(n0 > 4 * 500 && n1 > 2 * 500, "{n0} {n1}");
        // A spike at or past `steps` is not drawn.
        let layers = vec![("in".to_owned(), vec![vec![10, 11, u32::MAX]])];
        raster(&path, "Spikes", 10, &layers).unwrap();
        let (_, _, rgb) = decode(&path);
        assert!(count_colour(&rgb, PALETTE[0]) < 100);
    }

    #[test]
    fn confusion_matrix_colours_cells_by_row_share_and_prints_counts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cm.png");
        // Row 0: 25% / 75%; row 1: all correct; row 2: no samples.
        confusion_matrix(
            &path,
            "Confusion",
            &[vec![1, 3, 0], vec![0, 0, 8], vec![0, 0, 0]],
        )
        .unwrap();
        let (w, h, rgb) = decode(&path);
        assert_eq!((w, h), (CM_WIDTH, CM_HEIGHT));
        for f in [0.0, 0.25, 0.75, 1.0] {
            assert!(count_colour(&rgb, ramp(f)) > 1000, "share {f} missing");
        }
        // The count is printed: different counts with the same shares give different images.
        let a = render_confusion_matrix("t", &[vec![5]]).unwrap();
        let b = render_confusion_matrix("t", &[vec![7]]).unwrap();
        assert_ne!(a, b);
        assert_eq!(ramp(0.0), RAMP[0]);
        assert_eq!(ramp(1.0), RAMP[2]);
        assert_eq!(ramp(f64::NAN), RAMP[0]);
    }

    #[test]
    fn same_input_gives_the_same_png_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("line.png");
        let series = sine_series();
        let first = render_line_chart("Sines", "x", "y", &series).unwrap();
        // Other charts in between must not leave state behind.
        render_histogram("h", "x", &[("a".into(), vec![1.0, 2.0])], 4).unwrap();
        render_confusion_matrix("c", &[vec![1, 2], vec![3, 4]]).unwrap();
        let again = render_line_chart("Sines", "x", "y", &series).unwrap();
        let other_thread = std::thread::spawn(move || {
            render_line_chart("Sines", "x", "y", &sine_series()).unwrap()
        })
        .join()
        .unwrap();
        line_chart(&path, "Sines", "x", "y", &series).unwrap();
        assert_eq!(first, again);
        assert_eq!(first, other_thread);
        assert_eq!(std::fs::read(&path).unwrap(), first);
        // And a different input does change the bytes.
        assert_ne!(
            first,
            render_line_chart("Sines!", "x", "y", &series).unwrap()
        );
    }

    #[test]
    fn bundled_font_draws_text() {
        assert!(face().is_ok());
        let empty = render_line_chart("", "", "", &[]).unwrap();
        let titled = render_line_chart("Title", "", "", &[]).unwrap();
        assert_ne!(empty, titled);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.png");
        std::fs::write(&path, &titled).unwrap();
        let (w, _, rgb) = decode(&path);
        // Dark text pixels in the title band, none at its far left.
        let dark = |x: u32, y: u32| {
            let i = ((y * w + x) * 3) as usize;
            rgb[i] < 0x80 && rgb[i + 1] < 0x80 && rgb[i + 2] < 0x80
        };
        let title_ink = (10..40)
            .flat_map(|y| (w / 2 - 60..w / 2 + 60).map(move |x| (x, y)))
            .filter(|&(x, y)| dark(x, y))
            .count();
        assert!(title_ink > 50, "{title_ink}");
        assert!(!(10..40).any(|y| (0..20).any(|x| dark(x, y))));
    }

    /// Writes into `$PLOT_SAMPLES_DIR` when set (to look at the PNGs), else into `tmp`.
    fn samples_dir(tmp: &tempfile::TempDir) -> PathBuf {
        let dir = std::env::var_os("PLOT_SAMPLES_DIR").map_or(tmp.path().to_owned(), PathBuf::from);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn empty_and_non_finite_data_do_not_panic() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = samples_dir(&tmp);
        let p = |n: &str| dir.join(format!("edge-{n}"));
        let nan = f64::NAN;
        let inf = f64::INFINITY;
        line_chart(&p("l0.png"), "", "", "", &[]).unwrap();
        line_chart(&p("l1.png"), "t", "x", "y", &[Series::default()]).unwrap();
        let weird = vec![
            Series::new("nan", vec![(nan, 1.0), (1.0, nan), (inf, -inf)]),
            Series::new("one", vec![(2.0, 3.0)]),
            Series::new("flat", vec![(2.0, 3.0), (2.0, 3.0), (nan, nan)]),
            Series::new("huge", vec![(-f64::MAX, f64::MAX), (f64::MAX, -f64::MAX)]),
            Series::new("tiny", vec![(0.0, 1e-300), (1e-300, 2e-300)]),
            Series::new("subnormal", vec![(0.0, 5e-324), (5e-324, 0.0)]),
            Series::new("é ü 漢字 \u{1F600} \t\n", vec![(0.0, 0.0), (1.0, 1.0)]),
            Series::new("x".repeat(10_000), vec![(0.0, 0.0)]),
        ];
        for (i, s) in weird.iter().enumerate() {
            line_chart(
                &p(&format!("w{i}.png")),
                "t",
                "x",
                "y",
                std::slice::from_ref(s),
            )
            .unwrap();
        }
        line_chart(&p("all.png"), &"long title ".repeat(100), "x", "y", &weird).unwrap();
        line_panels(&p("p0.png"), "t", "x", &[]).unwrap();
        line_panels(
            &p("p1.png"),
            "t",
            "x",
            &[("a".into(), vec![]), ("".into(), weird.clone())],
        )
        .unwrap();
        let panels: Vec<(String, Vec<Series>)> = (0..40)
            .map(|k| {
                (
                    format!("p{k}"),
                    vec![Series::new("s", vec![(0.0, 1.0), (1.0, 2.0)])],
                )
            })
            .collect();
        line_panels(&p("p2.png"), "t", "x", &panels).unwrap();
        let many: Vec<Series> = (0..300)
            .map(|i| Series::new(format!("series {i}"), vec![(0.0, f64::from(i))]))
            .collect();
        line_chart(&p("many.png"), "t", "x", "y", &many).unwrap();
        histogram(&p("h0.png"), "t", "x", &[], 0).unwrap();
        histogram(&p("h1.png"), "t", "x", &[("e".into(), vec![])], 5).unwrap();
        histogram(&p("h2.png"), "t", "x", &[("n".into(), vec![nan, inf])], 5).unwrap();
        histogram(&p("h3.png"), "t", "x", &[("c".into(), vec![4.0; 10])], 5).unwrap();
        histogram(
            &p("h4.png"),
            "t",
            "x",
            &[("m".into(), vec![-f64::MAX, f64::MAX])],
            3,
        )
        .unwrap();
        histogram(
            &p("h5.png"),
            "t",
            "x",
            &[("b".into(), vec![1.0, 2.0])],
            usize::MAX,
        )
        .unwrap();
        raster(&p("r0.png"), "t", 0, &[]).unwrap();
        raster(&p("r1.png"), "t", 0, &[("a".into(), vec![vec![0, 1]])]).unwrap();
        raster(&p("r2.png"), "t", 5, &[("a".into(), vec![])]).unwrap();
        raster(
            &p("r3.png"),
            "t",
            3,
            &[("a".into(), vec![vec![u32::MAX, 7]])],
        )
        .unwrap();
        let big = vec![("big".to_owned(), vec![vec![0, 1, 2]; 5000])];
        raster(&p("r4.png"), "t", 100_000, &big).unwrap();
        raster(&p("r5.png"), "t", usize::MAX, &big).unwrap();
        let layers: Vec<(String, Vec<Vec<u32>>)> =
            (0..50).map(|l| (format!("L{l}"), vec![vec![0]])).collect();
        raster(&p("r6.png"), "t", 1, &layers).unwrap();
        confusion_matrix(&p("c0.png"), "t", &[]).unwrap();
        confusion_matrix(&p("c1.png"), "t", &[vec![], vec![]]).unwrap();
        confusion_matrix(&p("c2.png"), "t", &[vec![0, 0], vec![0, 0]]).unwrap();
        confusion_matrix(&p("c3.png"), "t", &[vec![1], vec![2, 3, 4], vec![]]).unwrap();
        confusion_matrix(&p("c4.png"), "t", &vec![vec![u64::MAX; 3]; 3]).unwrap();
        let wide: Vec<Vec<u64>> = (0..300).map(|r| vec![r; 300]).collect();
        confusion_matrix(&p("c5.png"), "t", &wide).unwrap();
        let (w, h, _) = decode(&p("h0.png"));
        assert_eq!((w, h), (WIDTH, HEIGHT));
    }

    #[test]
    fn missing_directory_is_an_error_naming_the_path_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing").join("chart.png");
        let err = line_chart(&path, "t", "x", "y", &sine_series()).unwrap_err();
        assert!(matches!(err, PlotError::Write(_)));
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "{err}"
        );
        assert!(!path.exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        let err = confusion_matrix(&path, "t", &[vec![1]]).unwrap_err();
        assert!(matches!(err, PlotError::Write(_)));
    }

    #[test]
    fn failed_write_keeps_the_previous_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chart.png");
        std::fs::write(&path, b"old").unwrap();
        // A directory in the file's place makes the rename fail.
        let blocked = dir.path().join("blocked.png");
        std::fs::create_dir(&blocked).unwrap();
        std::fs::write(blocked.join("x"), b"").unwrap();
        assert!(line_chart(&blocked, "t", "x", "y", &[]).is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[test]
    fn nice_ticks_are_round() {
        let a = Axis::loose(0.13, 9.7, 6);
        assert_eq!(nice_step(0.13, 9.7, 6), 2.0);
        let values: Vec<f64> = a.ticks.iter().map(|t| t.0).collect();
        assert_eq!(values, vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        let a = Axis::loose(-0.031, 0.047, 6);
        assert_eq!(nice_step(-0.031, 0.047, 6), 0.01);
        assert_eq!(a.ticks[0].1, "-0.04");
        assert_eq!(a.label(0.0), "0");
        assert_eq!(a.label(0.005), "", "not a tick");
        let a = Axis::tight(0.0, 1.0e7, 5);
        assert_eq!(a.label(2.0e6), "2e6");
        let a = Axis::loose(0.0, 10.0, 4);
        assert_eq!(nice_step(0.0, 10.0, 4), 2.5);
        assert_eq!(whole_step(0.0, 10.0, 4), 5.0);
        assert_eq!(whole_step(0.0, 3.0, 10), 1.0);
        assert_eq!(a.label(7.5), "7.5");
        // The whole f64 range still gets an axis with finite ticks.
        let a = Axis::loose(-f64::MAX, f64::MAX, 8);
        assert!(!a.ticks.is_empty());
        assert!(a.ticks.iter().all(|t| t.0.is_finite()));
        assert_eq!(a.map(&-f64::MAX, (0, 100)), 0);
        assert_eq!(a.map(&f64::MAX, (0, 100)), 100);
        assert_eq!(count_axis(3).ticks.len(), 4, "0, 1, 2, 3");
    }

    /// Realistic charts, written to `$PLOT_SAMPLES_DIR` when set (for looking at them), else to a
    /// temporary directory.
    #[test]
    fn realistic_samples_render_with_their_colours() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = samples_dir(&tmp);
        let loss: Vec<(f64, f64)> = (1..=60)
            .map(|e| {
                let e = f64::from(e);
                (e, 2.3 * (-e / 12.0).exp() + 0.08 + 0.03 * (e * 1.7).sin())
            })
            .collect();
        let val: Vec<(f64, f64)> = loss.iter().map(|&(e, l)| (e, l * 1.1 + 0.05)).collect();
        let path = dir.join("sample-line.png");
        line_chart(
            &path,
            "Training loss",
            "epoch",
            "cross-entropy loss",
            &[Series::new("train", loss), Series::new("validation", val)],
        )
        .unwrap();
        let (_, _, rgb) = decode(&path);
        assert!(count_colour(&rgb, PALETTE[0]) > 100 && count_colour(&rgb, PALETTE[1]) > 100);

        let acc: Vec<(f64, f64)> = (1..=60)
            .map(|e| (f64::from(e), 100.0 - 40.0 * (-f64::from(e) / 5.0).exp()))
            .collect();
        let path = dir.join("sample-panels.png");
        let loss = Series::new("train loss", vec![(1.0, 2.0), (30.0, 0.5), (60.0, 0.1)]);
        line_panels(
            &path,
            "Training",
            "epoch",
            &[
                ("cross-entropy loss".into(), vec![loss]),
                (
                    "accuracy (%)".into(),
                    vec![Series::new("train accuracy", acc)],
                ),
            ],
        )
        .unwrap();
        let (_, h, rgb) = decode(&path);
        assert!(h > HEIGHT, "two panels make a taller image");
        // Colours run on across panels: the second panel's series is orange.
        assert!(count_colour(&rgb, PALETTE[0]) > 100 && count_colour(&rgb, PALETTE[1]) > 100);

        // Deterministic pseudo-random firing rates.
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut rnd = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut gauss = |m: f64, s: f64| {
            let u: f64 = (0..12).map(|_| rnd()).sum::<f64>() - 6.0;
            m + s * u
        };
        let groups: Vec<(String, Vec<f64>)> = vec![
            (
                "layer 0".into(),
                (0..256).map(|_| gauss(90.0, 25.0).max(0.0)).collect(),
            ),
            (
                "layer 1".into(),
                (0..10).map(|_| gauss(150.0, 30.0).max(0.0)).collect(),
            ),
        ];
        let path = dir.join("sample-hist.png");
        histogram(&path, "Firing rates per neuron", "rate (Hz)", &groups, 30).unwrap();
        let (_, _, rgb) = decode(&path);
        assert!(count_colour(&rgb, PALETTE[0]) > 100 && count_colour(&rgb, PALETTE[1]) > 100);

        let steps = 30u32;
        let mut layer = |n: usize, p: f64| -> Vec<Vec<u32>> {
            (0..n)
                .map(|i| {
                    let rate = p * (0.3 + (i % 7) as f64 / 5.0);
                    (0..steps).filter(|_| rnd() < rate).collect()
                })
                .collect()
        };
        let layers = vec![
            ("layer 0".to_owned(), layer(100, 0.12)),
            ("layer 1".to_owned(), layer(10, 0.2)),
        ];
        let path = dir.join("sample-raster.png");
        raster(
            &path,
            "Spike raster of test sample 0",
            steps as usize,
            &layers,
        )
        .unwrap();
        let (_, _, rgb) = decode(&path);
        assert!(count_colour(&rgb, PALETTE[0]) > 100 && count_colour(&rgb, PALETTE[1]) > 100);

        let matrix: Vec<Vec<u64>> = (0..10u64)
            .map(|r| {
                (0..10u64)
                    .map(|c| {
                        if r == c {
                            18 + r % 3
                        } else {
                            u64::from((r * 7 + c * 3) % 11 == 0)
                        }
                    })
                    .collect()
            })
            .collect();
        let path = dir.join("sample-confusion.png");
        confusion_matrix(
            &path,
            "Confusion matrix (fixed point, 200 test samples)",
            &matrix,
        )
        .unwrap();
        let (_, _, rgb) = decode(&path);
        assert!(count_colour(&rgb, RAMP[0]) > 1000);
    }
}
