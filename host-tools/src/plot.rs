//! PNG charts (line charts, histograms, spike rasters) drawn without system fonts.
//!
//! Everything is rasterised here into an RGB buffer ([`Image`]): anti-aliased strokes and
//! markers, filled rectangles, and text from the public-domain 8x8 bitmap font of the `font8x8`
//! crate (scaled 1x or 2x). The `png` crate encodes the result, so no fontconfig, font files or
//! graphics libraries are needed and the output is identical on every machine.
//!
//! Files are written atomically: a temporary file in the destination's directory is renamed over
//! the destination, so a failed write never leaves a half-written PNG behind. Non-finite values
//! (NaN, ±∞) are skipped; a chart with nothing to show says "no data" instead of failing.

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// Default image width in pixels.
pub const WIDTH: u32 = 800;
/// Default image height in pixels.
pub const HEIGHT: u32 = 500;

/// Series colours, in order of use (the "tab10" palette); series `i` gets `PALETTE[i % 10]`.
pub const PALETTE: [[u8; 3]; 10] = [
    [0x1f, 0x77, 0xb4], // blue
    [0xff, 0x7f, 0x0e], // orange
    [0x2c, 0xa0, 0x2c], // green
    [0xd6, 0x27, 0x28], // red
    [0x94, 0x67, 0xbd], // purple
    [0x8c, 0x56, 0x4b], // brown
    [0xe3, 0x77, 0xc2], // pink
    [0x7f, 0x7f, 0x7f], // grey
    [0xbc, 0xbd, 0x22], // olive
    [0x17, 0xbe, 0xcf], // cyan
];

const BACKGROUND: [u8; 3] = [0xff, 0xff, 0xff];
const INK: [u8; 3] = [0x22, 0x22, 0x22];
const AXIS: [u8; 3] = [0x55, 0x55, 0x55];
const GRID: [u8; 3] = [0xe4, 0xe4, 0xe4];
const MUTED: [u8; 3] = [0x77, 0x77, 0x77];

/// Most bins a [`histogram`] uses (more would be thinner than a pixel anyway).
pub const MAX_BINS: usize = 4096;

/// Glyph cell size of the bitmap font at scale 1.
const GLYPH: i64 = 8;
/// Longest label shown in a legend or beside a raster band; longer ones are cut with "..".
const MAX_LABEL_CHARS: usize = 24;

/// Errors from writing a chart.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlotError {
    /// Creating, writing or renaming the file failed (e.g. the directory does not exist).
    #[error("cannot write plot {path}: {source}")]
    Io {
        /// The destination file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The PNG encoder failed.
    #[error("cannot encode plot {path} as PNG: {source}")]
    Encode {
        /// The destination file.
        path: PathBuf,
        /// The encoder's error.
        #[source]
        source: png::EncodingError,
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

/// Renders a line chart of `series` and writes it to `path` as an 800x500 PNG.
///
/// Each series gets a palette colour, a legend entry and (when it has few points) point markers;
/// the axes get "nice" round ticks, grid lines and the given labels.
///
/// # Errors
/// [`PlotError`] naming `path` if the file cannot be written; nothing is left behind then.
pub fn line_chart(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
) -> Result<(), PlotError> {
    render_line_chart(title, x_label, y_label, series).write_png(path)
}

/// Renders histograms of several groups over their common range and writes them to `path`.
///
/// The range of all finite values is split into `bins` equal bins (clamped to `1..=MAX_BINS`). Groups are drawn
/// side by side within each bin when the bars stay at least a few pixels wide, otherwise overlaid
/// as translucent bars with a solid outline.
///
/// # Errors
/// [`PlotError`] naming `path` if the file cannot be written; nothing is left behind then.
pub fn histogram(
    path: &Path,
    title: &str,
    x_label: &str,
    groups: &[(String, Vec<f64>)],
    bins: usize,
) -> Result<(), PlotError> {
    render_histogram(title, x_label, groups, bins).write_png(path)
}

/// Renders a spike raster and writes it to `path`.
///
/// Layers are stacked top to bottom, each in its own colour and labelled on the left with its
/// name and size; within a layer neuron `i` is row `i`, and a mark is drawn at each step it
/// spiked. `layers[l].1[neuron]` lists the step indices; steps `>= steps` are ignored.
///
/// # Errors
/// [`PlotError`] naming `path` if the file cannot be written; nothing is left behind then.
pub fn raster(
    path: &Path,
    title: &str,
    steps: usize,
    layers: &[(String, Vec<Vec<u32>>)],
) -> Result<(), PlotError> {
    render_raster(title, steps, layers).write_png(path)
}

/// An RGB image (8 bits per channel, row-major, no alpha) that charts are drawn into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    width: u32,
    height: u32,
    rgb: Vec<u8>,
}

impl Image {
    /// A `width` x `height` image filled with `color`.
    pub fn new(width: u32, height: u32, color: [u8; 3]) -> Self {
        let n = width as usize * height as usize;
        let mut rgb = Vec::with_capacity(n * 3);
        for _ in 0..n {
            rgb.extend_from_slice(&color);
        }
        Self { width, height, rgb }
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// The colour at `(x, y)`, or `None` outside the image.
    pub fn pixel(&self, x: u32, y: u32) -> Option<[u8; 3]> {
        if x >= self.width || y >= self.height {
            return None;
        }
        let i = (y as usize * self.width as usize + x as usize) * 3;
        Some([self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]])
    }

    /// The raw pixels: `width * height` RGB triples, row by row from the top.
    pub fn as_rgb(&self) -> &[u8] {
        &self.rgb
    }

    /// Encodes the image as PNG into `w`.
    ///
    /// # Errors
    /// The encoder's error (including I/O errors of `w`).
    pub fn encode_png<W: Write>(&self, w: W) -> Result<(), png::EncodingError> {
        let mut enc = png::Encoder::new(w, self.width, self.height);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_compression(png::Compression::High);
        let mut writer = enc.write_header()?;
        writer.write_image_data(&self.rgb)?;
        writer.finish()
    }

    /// Writes the image as a PNG file at `path`, atomically (temporary file + rename).
    ///
    /// # Errors
    /// [`PlotError`] naming `path`; on error no file (temporary or final) is left behind.
    pub fn write_png(&self, path: &Path) -> Result<(), PlotError> {
        let io_err = |source| PlotError::Io {
            path: path.to_owned(),
            source,
        };
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let mut builder = tempfile::Builder::new();
        builder.prefix(".plot-").suffix(".png.tmp");
        // Temporary files are private by default; a plot is an ordinary file (umask applies).
        #[cfg(unix)]
        builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644));
        let tmp = builder.tempfile_in(dir).map_err(io_err)?;
        {
            let mut w = BufWriter::new(tmp.as_file());
            self.encode_png(&mut w).map_err(|e| match e {
                png::EncodingError::IoError(source) => io_err(source),
                source => PlotError::Encode {
                    path: path.to_owned(),
                    source,
                },
            })?;
            w.flush().map_err(io_err)?;
        }
        tmp.as_file().sync_all().map_err(io_err)?;
        tmp.persist(path).map_err(|e| io_err(e.error))?;
        Ok(())
    }

    fn put(&mut self, x: i64, y: i64, c: [u8; 3]) {
        if x >= 0 && y >= 0 && x < i64::from(self.width) && y < i64::from(self.height) {
            let i = (y as usize * self.width as usize + x as usize) * 3;
            self.rgb[i..i + 3].copy_from_slice(&c);
        }
    }

    /// Paints `c` over `(x, y)` with opacity `a` in `[0, 1]`.
    fn blend(&mut self, x: i64, y: i64, c: [u8; 3], a: f32) {
        if a <= 0.0 || x < 0 || y < 0 || x >= i64::from(self.width) || y >= i64::from(self.height) {
            return;
        }
        let a = a.min(1.0);
        let i = (y as usize * self.width as usize + x as usize) * 3;
        for (dst, &src) in self.rgb[i..i + 3].iter_mut().zip(&c) {
            let old = f32::from(*dst);
            let new = old + (f32::from(src) - old) * a;
            *dst = new.round().clamp(0.0, 255.0) as u8;
        }
    }

    /// Fills the pixels `x0..x1` x `y0..y1` (clipped to the image).
    fn fill_rect(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, c: [u8; 3]) {
        self.blend_rect(x0, y0, x1, y1, c, 1.0);
    }

    /// Paints `c` with opacity `a` over the pixels `x0..x1` x `y0..y1` (clipped to the image).
    fn blend_rect(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, c: [u8; 3], a: f32) {
        let (x0, x1) = (x0.max(0), x1.min(i64::from(self.width)));
        let (y0, y1) = (y0.max(0), y1.min(i64::from(self.height)));
        for y in y0..y1 {
            for x in x0..x1 {
                if a >= 1.0 {
                    self.put(x, y, c);
                } else {
                    self.blend(x, y, c, a);
                }
            }
        }
    }

    fn hline(&mut self, x0: i64, x1: i64, y: i64, c: [u8; 3]) {
        self.fill_rect(x0, y, x1 + 1, y + 1, c);
    }

    fn vline(&mut self, x: i64, y0: i64, y1: i64, c: [u8; 3]) {
        self.fill_rect(x, y0, x + 1, y1 + 1, c);
    }

    /// One-pixel outline of the rectangle with corners `(x0, y0)` and `(x1, y1)` (inclusive).
    fn rect_outline(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, c: [u8; 3]) {
        self.hline(x0, x1, y0, c);
        self.hline(x0, x1, y1, c);
        self.vline(x0, y0, y1, c);
        self.vline(x1, y0, y1, c);
    }

    /// Draws `text` with its top-left corner at `(x, y)` using the 8x8 font scaled by `scale`.
    fn text(&mut self, x: i64, y: i64, text: &str, scale: i64, c: [u8; 3]) {
        for (n, ch) in text.chars().enumerate() {
            let g = glyph(ch);
            let gx = x + n as i64 * GLYPH * scale;
            for (row, bits) in g.iter().enumerate() {
                for col in 0..8 {
                    if bits & (1 << col) != 0 {
                        let px = gx + col * scale;
                        let py = y + row as i64 * scale;
                        self.fill_rect(px, py, px + scale, py + scale, c);
                    }
                }
            }
        }
    }

    /// Draws `text` rotated a quarter turn anticlockwise (reading bottom to top); `(x, y)` is the
    /// bottom-left corner of the first character.
    fn text_up(&mut self, x: i64, y: i64, text: &str, scale: i64, c: [u8; 3]) {
        for (n, ch) in text.chars().enumerate() {
            let g = glyph(ch);
            let base = y - n as i64 * GLYPH * scale;
            for (row, bits) in g.iter().enumerate() {
                for col in 0..8 {
                    if bits & (1 << col) != 0 {
                        let px = x + row as i64 * scale;
                        let py = base - (col + 1) * scale;
                        self.fill_rect(px, py, px + scale, py + scale, c);
                    }
                }
            }
        }
    }

    /// Draws `text` centred horizontally on `cx` with its top at `y`.
    fn text_centered(&mut self, cx: i64, y: i64, text: &str, scale: i64, c: [u8; 3]) {
        self.text(cx - text_width(text, scale) / 2, y, text, scale, c);
    }

    /// Draws `text` ending at `right` with its top at `y`.
    fn text_right(&mut self, right: i64, y: i64, text: &str, scale: i64, c: [u8; 3]) {
        self.text(right - text_width(text, scale), y, text, scale, c);
    }

    /// Paints `c` through the coverage mask `m` (whose origin is at `(m.x0, m.y0)`).
    fn composite(&mut self, m: &Mask, c: [u8; 3], opacity: f32) {
        for y in 0..m.h {
            for x in 0..m.w {
                let a = m.cov[(y * m.w + x) as usize];
                if a > 0.0 {
                    self.blend(m.x0 + x, m.y0 + y, c, a * opacity);
                }
            }
        }
    }
}

/// The 8x8 bitmap of `ch` (bit `i` of row `r` is column `i`); non-ASCII characters show as '?'.
fn glyph(ch: char) -> [u8; 8] {
    let basic = &font8x8::legacy::BASIC_LEGACY;
    let i = ch as usize;
    if i < basic.len() {
        basic[i]
    } else {
        basic[usize::from(b'?')]
    }
}

/// Width in pixels of `text` at `scale`.
fn text_width(text: &str, scale: i64) -> i64 {
    text.chars().count() as i64 * GLYPH * scale
}

/// `label` cut to `max` characters (ending in "..") if longer.
fn ellipsize(label: &str, max: usize) -> String {
    if label.chars().count() <= max {
        label.to_owned()
    } else {
        let mut s: String = label.chars().take(max.saturating_sub(2)).collect();
        s.push_str("..");
        s
    }
}

/// Anti-aliased coverage (0..1) over a rectangle of the image; strokes take the maximum
/// coverage so overlapping segments of one polyline do not darken at the joints.
struct Mask {
    x0: i64,
    y0: i64,
    w: i64,
    h: i64,
    cov: Vec<f32>,
}

impl Mask {
    fn new(r: &Rect) -> Self {
        let (w, h) = (r.w().max(0), r.h().max(0));
        Self {
            x0: r.x0,
            y0: r.y0,
            w,
            h,
            cov: vec![0.0; (w * h) as usize],
        }
    }

    /// Raises the coverage of the pixel at image coordinates `(x, y)` to at least `c`.
    fn cover(&mut self, x: i64, y: i64, c: f64) {
        let (x, y) = (x - self.x0, y - self.y0);
        if c > 0.0 && x >= 0 && y >= 0 && x < self.w && y < self.h {
            let cell = &mut self.cov[(y * self.w + x) as usize];
            *cell = cell.max(c.min(1.0) as f32);
        }
    }

    /// A stroke of half-width `hw` with round caps from `a` to `b` (pixel centres at integers).
    fn segment(&mut self, a: (f64, f64), b: (f64, f64), hw: f64) {
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let len2 = dx * dx + dy * dy;
        let reach = hw + 1.0;
        let dist = |px: f64, py: f64| {
            let t = if len2 > 0.0 {
                (((px - a.0) * dx + (py - a.1) * dy) / len2).clamp(0.0, 1.0)
            } else {
                0.0
            };
            let (qx, qy) = (a.0 + t * dx - px, a.1 + t * dy - py);
            (qx * qx + qy * qy).sqrt()
        };
        // Walk the major axis; on each step only a short window across the line can be covered.
        let steep = dy.abs() > dx.abs();
        let (lo, hi, major0, dmajor, minor0, dminor) = if steep {
            (a.1.min(b.1), a.1.max(b.1), a.1, dy, a.0, dx)
        } else {
            (a.0.min(b.0), a.0.max(b.0), a.0, dx, a.1, dy)
        };
        let (lim_lo, lim_hi) = if steep {
            (self.y0, self.y0 + self.h - 1)
        } else {
            (self.x0, self.x0 + self.w - 1)
        };
        let start = ((lo - reach).floor() as i64).max(lim_lo);
        let end = ((hi + reach).ceil() as i64).min(lim_hi);
        let window = reach * 1.5 + 1.0;
        for m in start..=end {
            let t = if dmajor != 0.0 {
                ((m as f64 - major0) / dmajor).clamp(0.0, 1.0)
            } else {
                0.5
            };
            let centre = minor0 + t * dminor;
            let n0 = (centre - window).floor() as i64;
            let n1 = (centre + window).ceil() as i64;
            for n in n0..=n1 {
                let (x, y) = if steep { (n, m) } else { (m, n) };
                let c = hw + 0.5 - dist(x as f64, y as f64);
                self.cover(x, y, c);
            }
        }
    }

    /// A filled disc of radius `r` centred on `c`.
    fn disc(&mut self, c: (f64, f64), r: f64) {
        self.segment(c, c, r);
    }
}

/// A pixel rectangle `x0..x1` x `y0..y1` (exclusive ends).
#[derive(Debug, Clone, Copy)]
struct Rect {
    x0: i64,
    y0: i64,
    x1: i64,
    y1: i64,
}

impl Rect {
    fn w(&self) -> i64 {
        self.x1 - self.x0
    }
    fn h(&self) -> i64 {
        self.y1 - self.y0
    }
}

/// A linear axis: data interval `lo..hi`, tick values and their step.
#[derive(Debug, Clone)]
struct Axis {
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
    step: f64,
}

/// A "nice" step (1, 2, 2.5 or 5 times a power of ten) giving about `target` intervals.
fn nice_step(span: f64, target: usize) -> f64 {
    let raw = span / target.max(1) as f64;
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

/// `(lo, hi)` widened when empty or degenerate so that an axis can be drawn.
fn widen(lo: f64, hi: f64) -> (f64, f64) {
    if !(lo.is_finite() && hi.is_finite()) || lo > hi {
        return (0.0, 1.0);
    }
    if !(hi - lo).is_finite() {
        // Span overflows: halve everything so the axis arithmetic stays finite.
        return widen(lo / 2.0, hi / 2.0);
    }
    if hi - lo > f64::EPSILON * lo.abs().max(hi.abs()) * 16.0 {
        return (lo, hi);
    }
    let d = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
    (lo - d, hi + d)
}

impl Axis {
    /// Ticks covering `lo..hi`, with the interval extended outward to whole steps ("loose").
    fn loose(lo: f64, hi: f64, target: usize) -> Self {
        let (lo, hi) = widen(lo, hi);
        let step = nice_step(hi - lo, target);
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
        Self::with_step(lo, hi, nice_step(hi - lo, target))
    }

    fn with_step(lo: f64, hi: f64, step: f64) -> Self {
        let mut ticks = Vec::new();
        let first = (lo / step - 1e-9).ceil();
        let last = (hi / step + 1e-9).floor();
        if first.is_finite() && last.is_finite() && last - first < 100.0 {
            let mut k = first;
            while k <= last {
                ticks.push(k * step);
                k += 1.0;
            }
        }
        Self {
            lo,
            hi,
            ticks,
            step,
        }
    }

    /// Position of `v` in `0..=1` along the axis.
    fn frac(&self, v: f64) -> f64 {
        (v - self.lo) / (self.hi - self.lo)
    }

    /// Tick label for `v`: as many decimals as the step needs, or scientific for extremes.
    fn label(&self, v: f64) -> String {
        format_tick(v, self.step, self.lo.abs().max(self.hi.abs()))
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
        let s = format!("{v:.digits$e}");
        return s;
    }
    let decimals = (-step_exp + extra).clamp(0, 9) as usize;
    format!("{v:.decimals$}")
}

/// Layout shared by the charts: where the plot area is.
struct Frame {
    plot: Rect,
}

impl Frame {
    fn x_px(&self, axis: &Axis, v: f64) -> f64 {
        self.plot.x0 as f64 + axis.frac(v) * (self.plot.w() - 1) as f64
    }
    fn y_px(&self, axis: &Axis, v: f64) -> f64 {
        (self.plot.y1 - 1) as f64 - axis.frac(v) * (self.plot.h() - 1) as f64
    }
}

const TITLE_SCALE: i64 = 2;
const TITLE_TOP: i64 = 14;
const PLOT_TOP: i64 = 48;
const TICK_LEN: i64 = 5;
const LABEL_SCALE: i64 = 1;

/// Draws the title centred at the top of the image.
fn draw_title(img: &mut Image, title: &str) {
    let max_chars = (i64::from(img.width) / (GLYPH * TITLE_SCALE)).max(4) as usize;
    let t = ellipsize(title, max_chars);
    img.text_centered(i64::from(img.width) / 2, TITLE_TOP, &t, TITLE_SCALE, INK);
}

/// Width of the widest tick label of `axis`.
fn tick_label_width(axis: &Axis) -> i64 {
    axis.ticks
        .iter()
        .map(|&t| text_width(&axis.label(t), 1))
        .max()
        .unwrap_or(0)
}

/// Draws grid lines, the frame, ticks, tick labels and axis labels around `f.plot`.
fn draw_axes(img: &mut Image, f: &Frame, x: &Axis, y: Option<&Axis>, x_label: &str, y_label: &str) {
    let p = f.plot;
    // Grid first so that everything else is drawn over it.
    for &t in &x.ticks {
        let px = f.x_px(x, t).round() as i64;
        img.vline(px, p.y0, p.y1 - 1, GRID);
    }
    if let Some(y) = y {
        for &t in &y.ticks {
            let py = f.y_px(y, t).round() as i64;
            img.hline(p.x0, p.x1 - 1, py, GRID);
        }
    }
    img.rect_outline(p.x0 - 1, p.y0 - 1, p.x1, p.y1, AXIS);
    let mut last_right = i64::MIN;
    for &t in &x.ticks {
        let px = f.x_px(x, t).round() as i64;
        img.vline(px, p.y1, p.y1 + TICK_LEN, AXIS);
        let s = x.label(t);
        let w = text_width(&s, 1);
        // Skip a label that would overlap the previous one.
        if px - w / 2 > last_right + 6 {
            img.text_centered(px, p.y1 + TICK_LEN + 4, &s, 1, INK);
            last_right = px - w / 2 + w;
        }
    }
    if let Some(y) = y {
        for &t in &y.ticks {
            let py = f.y_px(y, t).round() as i64;
            img.hline(p.x0 - 1 - TICK_LEN, p.x0 - 1, py, AXIS);
            img.text_right(p.x0 - TICK_LEN - 5, py - 3, &y.label(t), 1, INK);
        }
    }
    if !x_label.is_empty() {
        let t = ellipsize(x_label, (p.w() / (GLYPH * LABEL_SCALE)).max(4) as usize);
        img.text_centered(
            (p.x0 + p.x1) / 2,
            p.y1 + TICK_LEN + 22,
            &t,
            LABEL_SCALE,
            INK,
        );
    }
    if !y_label.is_empty() {
        let t = ellipsize(y_label, (p.h() / (GLYPH * LABEL_SCALE)).max(4) as usize);
        let w = text_width(&t, LABEL_SCALE);
        img.text_up(12, (p.y0 + p.y1) / 2 + w / 2, &t, LABEL_SCALE, INK);
    }
}

/// Writes "no data" in the middle of the plot area.
fn draw_no_data(img: &mut Image, p: &Rect) {
    img.text_centered(
        (p.x0 + p.x1) / 2,
        (p.y0 + p.y1) / 2 - GLYPH,
        "no data",
        2,
        MUTED,
    );
}

/// How a legend entry's swatch looks.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Swatch {
    Line,
    Block,
}

/// Width of the legend column for `labels` (0 if there are none).
fn legend_width(labels: &[String]) -> i64 {
    labels
        .iter()
        .map(|l| text_width(l, 1))
        .max()
        .map_or(8, |w| w + 50)
}

/// Draws a legend to the right of the plot area, starting at its top.
fn draw_legend(img: &mut Image, p: &Rect, entries: &[(String, [u8; 3])], swatch: Swatch) {
    if entries.is_empty() {
        return;
    }
    let x0 = p.x1 + 14;
    let row = 18;
    let w = legend_width(&entries.iter().map(|e| e.0.clone()).collect::<Vec<_>>()) - 14;
    let h = row * entries.len() as i64 + 8;
    img.rect_outline(x0, p.y0 - 1, x0 + w, p.y0 - 1 + h, GRID);
    for (i, (label, c)) in entries.iter().enumerate() {
        let cy = p.y0 + 3 + row * i as i64 + row / 2;
        match swatch {
            Swatch::Line => {
                let r = Rect {
                    x0: x0 + 4,
                    y0: cy - 5,
                    x1: x0 + 26,
                    y1: cy + 6,
                };
                let mut m = Mask::new(&r);
                m.segment(
                    ((x0 + 6) as f64, cy as f64),
                    ((x0 + 23) as f64, cy as f64),
                    1.0,
                );
                m.disc(((x0 + 14) as f64 + 0.5, cy as f64), 3.0);
                img.composite(&m, *c, 1.0);
            }
            Swatch::Block => img.fill_rect(x0 + 6, cy - 5, x0 + 24, cy + 5, *c),
        }
        img.text(x0 + 30, cy - 4, label, 1, INK);
    }
}

/// Renders a line chart into an [`Image`] (see [`line_chart`]).
pub fn render_line_chart(title: &str, x_label: &str, y_label: &str, series: &[Series]) -> Image {
    let mut img = Image::new(WIDTH, HEIGHT, BACKGROUND);
    draw_title(&mut img, title);
    let finite = |&&(x, y): &&(f64, f64)| x.is_finite() && y.is_finite();
    let mut bounds: Option<(f64, f64, f64, f64)> = None;
    for &(x, y) in series.iter().flat_map(|s| s.points.iter()).filter(finite) {
        bounds = Some(match bounds {
            None => (x, x, y, y),
            Some((a, b, c, d)) => (a.min(x), b.max(x), c.min(y), d.max(y)),
        });
    }
    let (xa, ya) = match bounds {
        Some((x0, x1, y0, y1)) => (Axis::loose(x0, x1, 8), Axis::loose(y0, y1, 6)),
        None => (Axis::loose(0.0, 1.0, 5), Axis::loose(0.0, 1.0, 5)),
    };
    let labels: Vec<String> = series
        .iter()
        .enumerate()
        .map(|(i, s)| {
            if s.label.trim().is_empty() {
                format!("series {}", i + 1)
            } else {
                ellipsize(&s.label, MAX_LABEL_CHARS)
            }
        })
        .collect();
    let left = 12 + GLYPH * LABEL_SCALE + 10 + tick_label_width(&ya) + TICK_LEN + 6;
    let right = i64::from(WIDTH) - 16 - legend_width(&labels);
    let f = Frame {
        plot: Rect {
            x0: left,
            y0: PLOT_TOP,
            x1: right.max(left + 10),
            y1: i64::from(HEIGHT) - 56,
        },
    };
    draw_axes(&mut img, &f, &xa, Some(&ya), x_label, y_label);
    if bounds.is_none() {
        draw_no_data(&mut img, &f.plot);
    }
    let mut entries = Vec::new();
    for (i, s) in series.iter().enumerate() {
        let c = PALETTE[i % PALETTE.len()];
        entries.push((labels[i].clone(), c));
        let mut m = Mask::new(&f.plot);
        let n_finite = s.points.iter().filter(finite).count();
        let markers = n_finite <= 40;
        let mut prev: Option<(f64, f64)> = None;
        for &(x, y) in &s.points {
            if !(x.is_finite() && y.is_finite()) {
                prev = None;
                continue;
            }
            let p = (f.x_px(&xa, x), f.y_px(&ya, y));
            match prev {
                Some(q) => m.segment(q, p, 1.0),
                // A lone point still shows up.
                None if !markers => m.disc(p, 1.5),
                None => {}
            }
            if markers {
                m.disc(p, 3.0);
            }
            prev = Some(p);
        }
        img.composite(&m, c, 1.0);
    }
    draw_legend(&mut img, &f.plot, &entries, Swatch::Line);
    img
}

/// Renders histograms into an [`Image`] (see [`histogram`]).
pub fn render_histogram(
    title: &str,
    x_label: &str,
    groups: &[(String, Vec<f64>)],
    bins: usize,
) -> Image {
    let mut img = Image::new(WIDTH, HEIGHT, BACKGROUND);
    draw_title(&mut img, title);
    let bins = bins.clamp(1, MAX_BINS);
    let mut range: Option<(f64, f64)> = None;
    for &v in groups.iter().flat_map(|g| g.1.iter()) {
        if v.is_finite() {
            range = Some(range.map_or((v, v), |(a, b)| (a.min(v), b.max(v))));
        }
    }
    let (lo, hi) = match range {
        Some((a, b)) => widen(a, b),
        None => (0.0, 1.0),
    };
    let counts: Vec<Vec<u64>> = groups
        .iter()
        .map(|(_, vals)| {
            let mut c = vec![0u64; bins];
            for &v in vals.iter().filter(|v| v.is_finite()) {
                let b = ((v - lo) / (hi - lo) * bins as f64).floor();
                let b = if b.is_finite() && b > 0.0 {
                    (b as usize).min(bins - 1)
                } else {
                    0
                };
                c[b] += 1;
            }
            c
        })
        .collect();
    let max_count = counts.iter().flatten().copied().max().unwrap_or(0);
    let xa = Axis::tight(lo, hi, 8);
    let mut ya = Axis::loose(0.0, (max_count as f64).max(1.0), 6);
    if ya.step < 1.0 {
        // Counts are whole numbers.
        ya = Axis::with_step(0.0, ya.hi.ceil().max(1.0), 1.0);
    }
    let labels: Vec<String> = groups
        .iter()
        .enumerate()
        .map(|(i, (name, _))| {
            if name.trim().is_empty() {
                format!("group {}", i + 1)
            } else {
                ellipsize(name, MAX_LABEL_CHARS)
            }
        })
        .collect();
    let left = 12 + GLYPH * LABEL_SCALE + 10 + tick_label_width(&ya) + TICK_LEN + 6;
    let right = i64::from(WIDTH) - 16 - legend_width(&labels);
    let f = Frame {
        plot: Rect {
            x0: left,
            y0: PLOT_TOP,
            x1: right.max(left + 10),
            y1: i64::from(HEIGHT) - 56,
        },
    };
    let p = f.plot;
    // Bars go under the grid's frame but over the grid lines: draw the grid, bars, then axes.
    draw_axes(&mut img, &f, &xa, Some(&ya), x_label, "count");
    let bin_px = |b: usize| p.x0 + ((b as f64 / bins as f64) * p.w() as f64).round() as i64;
    let y_of = |n: u64| f.y_px(&ya, n as f64).round() as i64;
    let n_groups = groups.len().max(1) as i64;
    let side_by_side = p.w() / bins as i64 / n_groups >= 4;
    for (g, c) in counts.iter().enumerate() {
        let colour = PALETTE[g % PALETTE.len()];
        if side_by_side {
            for (b, &n) in c.iter().enumerate() {
                if n == 0 {
                    continue;
                }
                let (bx0, bx1) = (bin_px(b), bin_px(b + 1));
                let gap = if bx1 - bx0 >= 8 { 1 } else { 0 };
                let inner = (bx1 - bx0 - 2 * gap).max(1);
                let x0 = bx0 + gap + inner * g as i64 / n_groups;
                let x1 = bx0 + gap + inner * (g as i64 + 1) / n_groups;
                img.fill_rect(x0, y_of(n), x1.max(x0 + 1), p.y1, colour);
            }
        } else {
            // Translucent fill plus a solid step outline keeps overlapping groups readable.
            let mut m = Mask::new(&Rect {
                x0: p.x0 - 2,
                y0: p.y0 - 2,
                x1: p.x1 + 2,
                y1: p.y1 + 2,
            });
            let base = (p.y1 - 1) as f64;
            let mut prev_top = base;
            for (b, &n) in c.iter().enumerate() {
                let (x0, x1) = (bin_px(b), bin_px(b + 1));
                let top = y_of(n);
                if n > 0 {
                    img.blend_rect(x0, top, x1, p.y1, colour, 0.3);
                }
                let top = if n > 0 { top as f64 } else { base };
                m.segment((x0 as f64, prev_top), (x0 as f64, top), 0.75);
                m.segment((x0 as f64, top), ((x1 - 1).max(x0) as f64, top), 0.75);
                prev_top = top;
            }
            let xe = (p.x1 - 1) as f64;
            m.segment((xe, prev_top), (xe, base), 0.75);
            img.composite(&m, colour, 1.0);
        }
    }
    // Redraw the frame over the bars.
    img.rect_outline(p.x0 - 1, p.y0 - 1, p.x1, p.y1, AXIS);
    if range.is_none() {
        draw_no_data(&mut img, &p);
    }
    let entries: Vec<(String, [u8; 3])> = labels
        .into_iter()
        .enumerate()
        .map(|(i, l)| (l, PALETTE[i % PALETTE.len()]))
        .collect();
    draw_legend(&mut img, &p, &entries, Swatch::Block);
    img
}

/// Renders a spike raster into an [`Image`] (see [`raster`]).
pub fn render_raster(title: &str, steps: usize, layers: &[(String, Vec<Vec<u32>>)]) -> Image {
    let mut img = Image::new(WIDTH, HEIGHT, BACKGROUND);
    draw_title(&mut img, title);
    let names: Vec<String> = layers
        .iter()
        .enumerate()
        .map(|(i, (name, _))| {
            if name.trim().is_empty() {
                format!("layer {}", i + 1)
            } else {
                ellipsize(name, 16)
            }
        })
        .collect();
    let subs: Vec<String> = layers
        .iter()
        .map(|(_, n)| format!("{} neurons", n.len()))
        .collect();
    let label_w = names
        .iter()
        .chain(subs.iter())
        .map(|s| text_width(s, 1))
        .max()
        .unwrap_or(0);
    let xa = Axis::loose(0.0, steps.max(1) as f64, 8);
    // The x axis spans exactly 0..steps (each step one column), ticks at nice step numbers.
    let xa = Axis::with_step(0.0, steps.max(1) as f64, xa.step);
    let f = Frame {
        plot: Rect {
            x0: 16 + label_w + 12,
            y0: PLOT_TOP,
            x1: i64::from(WIDTH) - 24,
            y1: i64::from(HEIGHT) - 56,
        },
    };
    let p = f.plot;
    draw_axes(&mut img, &f, &xa, None, "time step", "");
    let shown: Vec<usize> = (0..layers.len())
        .filter(|&l| !layers[l].1.is_empty())
        .collect();
    if steps == 0 || shown.is_empty() {
        draw_no_data(&mut img, &p);
        return img;
    }
    // Band heights: a floor so that small layers stay visible, the rest shared by size.
    let total_h = p.h();
    let min_band = (total_h / (3 * shown.len() as i64)).min(36);
    let neurons: usize = shown.iter().map(|&l| layers[l].1.len()).sum();
    let spare = (total_h - min_band * shown.len() as i64).max(0);
    let mut y = p.y0;
    let mut consumed = 0usize;
    let step_w = p.w() as f64 / steps as f64;
    for (k, &l) in shown.iter().enumerate() {
        let rows = &layers[l].1;
        consumed += rows.len();
        let y_end = if k + 1 == shown.len() {
            p.y1
        } else {
            p.y0 + min_band * (k as i64 + 1) + spare * consumed as i64 / neurons as i64
        };
        let colour = PALETTE[l % PALETTE.len()];
        let band_h = (y_end - y) as f64;
        let row_h = band_h / rows.len() as f64;
        let row_gap = if row_h >= 4.0 { 1 } else { 0 };
        let col_gap = if step_w >= 4.0 { 1 } else { 0 };
        for (i, spikes) in rows.iter().enumerate() {
            let ry0 = y + (i as f64 * row_h).floor() as i64;
            let ry1 = (y + ((i + 1) as f64 * row_h).floor() as i64 - row_gap).max(ry0 + 1);
            for &s in spikes {
                if (s as usize) >= steps {
                    continue;
                }
                let sx0 = p.x0 + (f64::from(s) * step_w).floor() as i64;
                let sx1 =
                    (p.x0 + ((f64::from(s) + 1.0) * step_w).floor() as i64 - col_gap).max(sx0 + 1);
                img.fill_rect(sx0, ry0, sx1, ry1, colour);
            }
        }
        // Name and size when the band is tall enough, else just the name, else nothing.
        let mid = (y + y_end) / 2;
        if y_end - y >= 22 {
            img.text_right(p.x0 - 10, mid - 9, &names[l], 1, colour);
            img.text_right(p.x0 - 10, mid + 2, &subs[l], 1, MUTED);
        } else if y_end - y >= 9 {
            img.text_right(p.x0 - 10, mid - 4, &names[l], 1, colour);
        }
        if k + 1 < shown.len() {
            img.hline(p.x0, p.x1 - 1, y_end, AXIS);
        }
        y = y_end;
    }
    img.rect_outline(p.x0 - 1, p.y0 - 1, p.x1, p.y1, AXIS);
    img
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(path: &Path) -> (u32, u32, Vec<u8>) {
        let file = std::fs::File::open(path).unwrap();
        let dec = png::Decoder::new(io::BufReader::new(file));
        let mut reader = dec.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!(info.color_type, png::ColorType::Rgb);
        buf.truncate(info.buffer_size());
        (info.width, info.height, buf)
    }

    fn has_colour(rgb: &[u8], c: [u8; 3]) -> bool {
        rgb.chunks_exact(3).any(|p| p == c)
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
        line_chart(&path, "Sines", "x", "y", &series).unwrap();
        let (w, h, rgb) = decode(&path);
        assert_eq!((w, h), (WIDTH, HEIGHT));
        assert!(rgb.chunks_exact(3).any(|p| p != BACKGROUND));
        for c in &PALETTE[..series.len()] {
            assert!(has_colour(&rgb, *c), "colour {c:?} missing");
        }
        // Only the PNG is left in the directory, no temporary file.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn histogram_and_raster_png_decode_with_group_colours() {
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
            histogram(&path, "Rates", "Hz", &groups, bins).unwrap();
            let (w, h, rgb) = decode(&path);
            assert_eq!((w, h), (WIDTH, HEIGHT));
            for c in &PALETTE[..2] {
                assert!(has_colour(&rgb, *c), "bins {bins}: colour {c:?} missing");
            }
        }
        let layers = vec![
            ("in".to_owned(), vec![vec![0, 3, 9], vec![], vec![5]]),
            ("out".to_owned(), vec![vec![1, 2]]),
        ];
        let path = dir.path().join("raster.png");
        raster(&path, "Spikes", 10, &layers).unwrap();
        let (w, h, rgb) = decode(&path);
        assert_eq!((w, h), (WIDTH, HEIGHT));
        for c in &PALETTE[..2] {
            assert!(has_colour(&rgb, *c), "raster colour {c:?} missing");
        }
    }

    #[test]
    fn empty_and_non_finite_data_do_not_panic() {
        let dir = tempfile::tempdir().unwrap();
        let p = |n: &str| dir.path().join(n);
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
        line_chart(&p("all.png"), "t", "x", "y", &weird).unwrap();
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
        let (w, h, _) = decode(&p("h0.png"));
        assert_eq!((w, h), (WIDTH, HEIGHT));
    }

    #[test]
    fn missing_directory_is_an_error_naming_the_path_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing").join("chart.png");
        let err = line_chart(&path, "t", "x", "y", &sine_series()).unwrap_err();
        assert!(matches!(err, PlotError::Io { .. }));
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "{err}"
        );
        assert!(!path.exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
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
        assert_eq!(a.step, 2.0);
        assert_eq!(a.ticks, vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        let a = Axis::loose(-0.031, 0.047, 6);
        assert_eq!(a.step, 0.01);
        assert_eq!(a.label(a.ticks[0]), "-0.04");
        assert_eq!(a.label(0.0), "0");
        let a = Axis::tight(0.0, 1.0e7, 5);
        assert_eq!(a.label(2.0e6), "2e6");
        let a = Axis::loose(0.0, 10.0, 4);
        assert_eq!(a.step, 2.5);
        assert_eq!(a.label(7.5), "7.5");
    }

    #[test]
    fn font_draws_ascii_and_replaces_other_characters() {
        let mut img = Image::new(40, 10, BACKGROUND);
        img.text(0, 0, "A", 1, INK);
        assert!(img.as_rgb().chunks_exact(3).any(|p| p == INK));
        assert_eq!(glyph('é'), glyph('?'));
        assert_eq!(text_width("abc", 2), 48);
    }

    /// Renders sample charts into `$PLOT_SAMPLES_DIR` for looking at (`cargo test -- --ignored`).
    #[test]
    #[ignore = "writes sample PNGs for manual inspection"]
    fn write_samples() {
        let dir = PathBuf::from(std::env::var("PLOT_SAMPLES_DIR").unwrap_or("/tmp".into()));
        let loss: Vec<(f64, f64)> = (0..60)
            .map(|e| {
                let e = f64::from(e);
                (e, 2.3 * (-e / 12.0).exp() + 0.08 + 0.03 * (e * 1.7).sin())
            })
            .collect();
        let val: Vec<(f64, f64)> = loss.iter().map(|&(e, l)| (e, l * 1.1 + 0.05)).collect();
        let acc: Vec<(f64, f64)> = (0..12)
            .map(|e| {
                (
                    f64::from(e) * 5.0,
                    2.4 * (1.0 - (-f64::from(e) / 3.0).exp()),
                )
            })
            .collect();
        line_chart(
            &dir.join("picospike-plot-line.png"),
            "Training loss",
            "epoch",
            "cross-entropy",
            &[
                Series::new("train loss", loss),
                Series::new("validation loss", val),
                Series::new("accuracy (scaled)", acc),
            ],
        )
        .unwrap();
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
                "input".into(),
                (0..784).map(|_| gauss(40.0, 15.0).max(0.0)).collect(),
            ),
            (
                "hidden 1".into(),
                (0..256).map(|_| gauss(90.0, 25.0).max(0.0)).collect(),
            ),
            (
                "output".into(),
                (0..100).map(|_| gauss(150.0, 30.0).max(0.0)).collect(),
            ),
        ];
        histogram(
            &dir.join("picospike-plot-hist.png"),
            "Firing rates per layer",
            "firing rate (Hz)",
            &groups,
            30,
        )
        .unwrap();
        histogram(
            &dir.join("picospike-plot-hist-few.png"),
            "Firing rates per layer (8 bins)",
            "firing rate (Hz)",
            &groups,
            8,
        )
        .unwrap();
        let steps = 100u32;
        let mut layer = |n: usize, p: f64| -> Vec<Vec<u32>> {
            (0..n)
                .map(|i| {
                    let rate = p * (0.3 + (i % 7) as f64 / 5.0);
                    (0..steps).filter(|_| rnd() < rate).collect()
                })
                .collect()
        };
        let layers = vec![
            ("input".to_owned(), layer(64, 0.08)),
            ("hidden".to_owned(), layer(32, 0.12)),
            ("output".to_owned(), layer(10, 0.2)),
        ];
        raster(
            &dir.join("picospike-plot-raster.png"),
            "Spike raster (digit 7)",
            steps as usize,
            &layers,
        )
        .unwrap();
        line_chart(
            &dir.join("picospike-plot-empty.png"),
            "Nothing yet",
            "x",
            "y",
            &[],
        )
        .unwrap();
        histogram(
            &dir.join("picospike-plot-hist-overlaid.png"),
            "Firing rates per layer (120 bins, overlaid)",
            "firing rate (Hz)",
            &groups,
            120,
        )
        .unwrap();
        line_chart(
            &dir.join("picospike-plot-edge.png"),
            "Edge cases: tiny values, NaN gap, one point",
            "time (s)",
            "membrane potential (V)",
            &[
                Series::new(
                    "tiny",
                    (0..200)
                        .map(|i| {
                            let t = f64::from(i) * 1e-4;
                            let v = if i == 90 {
                                f64::NAN
                            } else {
                                3e-5 * (t * 3e3).sin()
                            };
                            (t, v)
                        })
                        .collect(),
                ),
                Series::new("single point", vec![(0.01, 1e-5)]),
                Series::new("", vec![(0.0, -2e-5), (0.02, 2e-5)]),
            ],
        )
        .unwrap();
        let big = vec![
            ("input".to_owned(), layer(784, 0.02)),
            (
                "a layer with a very long name indeed".to_owned(),
                layer(300, 0.05),
            ),
            ("out".to_owned(), layer(10, 0.1)),
        ];
        let many: Vec<(String, Vec<Vec<u32>>)> = (0..12)
            .map(|l| (format!("L{l}"), layer(4 + l * 3, 0.1)))
            .collect();
        raster(
            &dir.join("picospike-plot-raster-many.png"),
            "12 layers",
            40,
            &many,
        )
        .unwrap();
        raster(
            &dir.join("picospike-plot-raster-big.png"),
            "Big raster",
            100,
            &big,
        )
        .unwrap();
    }
}
