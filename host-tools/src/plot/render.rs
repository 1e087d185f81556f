//! A chart rendered: a white in-memory RGB canvas, drawn on with the fonts, encoded as PNG.

use plotters::prelude::*;

use super::canvas::{face, Area, RenderError};
use super::text::Fonts;

/// Draws with `draw` on a white `width` x `height` canvas and returns the PNG bytes.
pub(super) fn render(
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
