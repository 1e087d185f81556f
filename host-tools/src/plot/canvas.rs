//! The drawing surface: colours, the bundled font, the drawing area type and the render error.

use std::error::Error;
use std::path::Path;
use std::sync::OnceLock;

use ab_glyph::FontRef;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::PlotError;

/// Series colours, in order of use (the "tab10" palette); series `i` gets `PALETTE[i % 10]`.
pub(super) const PALETTE: [RGBColor; 10] = [
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

pub(super) const INK: RGBColor = RGBColor(0x22, 0x22, 0x22);
pub(super) const AXIS: RGBColor = RGBColor(0x55, 0x55, 0x55);
pub(super) const GRID: RGBColor = RGBColor(0xe4, 0xe4, 0xe4);
pub(super) const MUTED: RGBColor = RGBColor(0x70, 0x70, 0x70);
pub(super) const FAINT: RGBColor = RGBColor(0xb0, 0xb0, 0xb0);

/// The bundled font: DejaVu Sans 2.37 (see `assets/fonts/README.md` for origin and licence).
static FONT_TTF: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
/// Family name the bundled font is registered under in plotters (its default family).
const FONT_FAMILY: &str = "sans-serif";

/// Why rendering failed, before the destination path is attached.
#[derive(Debug)]
pub(super) enum RenderError {
    Draw(Box<dyn Error + Send + Sync>),
    Encode(png::EncodingError),
}

impl RenderError {
    pub(super) fn at(self, path: &Path) -> PlotError {
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
pub(super) fn face() -> Result<&'static FontRef<'static>, RenderError> {
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

pub(super) type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;
