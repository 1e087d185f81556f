//! Data augmentation for training: random shifts, rotations and scalings of 2-D images.
//!
//! Every random number comes from the training generator passed in, in a fixed order per image
//! (rotation, scale, vertical and horizontal shift), so a seed reproduces an epoch exactly.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// How much each training image may be moved, turned and scaled (all 0: no augmentation).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Augmentation {
    /// Random shift in pixels per axis (integer shifts without rotation or scale).
    pub shift: usize,
    /// Random rotation in degrees either way.
    pub rotate_deg: f32,
    /// Random scale factor in `1 +- scale`.
    pub scale: f32,
}

impl Augmentation {
    /// Whether any augmentation is asked for.
    pub fn is_active(&self) -> bool {
        self.shift > 0 || self.is_affine()
    }

    fn is_affine(&self) -> bool {
        self.rotate_deg > 0.0 || self.scale > 0.0
    }

    /// The images at `order`, each distorted at random, or `None` when nothing applies (no
    /// augmentation, or no 2-D `shape` to distort).
    pub fn apply(
        &self,
        images: &[Vec<u8>],
        order: &[usize],
        shape: Option<(usize, usize)>,
        rng: &mut ChaCha8Rng,
    ) -> Option<Vec<Vec<u8>>> {
        let shape = shape?;
        if self.is_affine() {
            let shift = self.shift as f32;
            let (rot, scale) = (self.rotate_deg.to_radians(), self.scale);
            return Some(
                order
                    .iter()
                    .map(|&i| {
                        let warp = Warp {
                            angle: uniform(rng, rot),
                            scale: 1.0 + uniform(rng, scale),
                            dy: uniform(rng, shift),
                            dx: uniform(rng, shift),
                        };
                        warp_image(&images[i], shape, warp)
                    })
                    .collect(),
            );
        }
        if self.shift == 0 {
            return None;
        }
        let s = self.shift as i32;
        Some(
            order
                .iter()
                .map(|&i| {
                    let (dy, dx) = (rng.random_range(-s..=s), rng.random_range(-s..=s));
                    shift_image(&images[i], shape, dy as isize, dx as isize)
                })
                .collect(),
        )
    }
}

/// Moves an `h x w` image by `(dy, dx)` pixels, filling with zeros.
pub fn shift_image(img: &[u8], (h, w): (usize, usize), dy: isize, dx: isize) -> Vec<u8> {
    let mut out = vec![0u8; img.len()];
    for y in 0..h as isize {
        let sy = y - dy;
        if sy < 0 || sy >= h as isize {
            continue;
        }
        for x in 0..w as isize {
            let sx = x - dx;
            if sx >= 0 && sx < w as isize {
                out[(y as usize) * w + x as usize] = img[(sy as usize) * w + sx as usize];
            }
        }
    }
    out
}

/// Uniform in `[-a, a]` (exactly 0 for `a == 0`, without drawing).
fn uniform(rng: &mut ChaCha8Rng, a: f32) -> f32 {
    if a > 0.0 {
        rng.random_range(-a..=a)
    } else {
        0.0
    }
}

/// A small affine distortion: rotation (radians) and scale about the image centre, then a shift.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Warp {
    /// Rotation in radians (counter-clockwise in image coordinates).
    pub angle: f32,
    /// Scale factor (1 = unchanged).
    pub scale: f32,
    /// Shift down in pixels.
    pub dy: f32,
    /// Shift right in pixels.
    pub dx: f32,
}

/// Applies `warp` to an `h x w` image with bilinear resampling; outside pixels read as 0.
pub fn warp_image(img: &[u8], (h, w): (usize, usize), warp: Warp) -> Vec<u8> {
    let (cy, cx) = ((h as f32 - 1.0) / 2.0, (w as f32 - 1.0) / 2.0);
    let (sin, cos) = warp.angle.sin_cos();
    let inv = 1.0 / warp.scale;
    let at = |y: isize, x: isize| -> f32 {
        if y < 0 || x < 0 || y >= h as isize || x >= w as isize {
            0.0
        } else {
            f32::from(img[y as usize * w + x as usize])
        }
    };
    let mut out = vec![0u8; h * w];
    for y in 0..h {
        for x in 0..w {
            // Inverse map: undo the shift, then the rotation and scale about the centre.
            let (py, px) = (y as f32 - cy - warp.dy, x as f32 - cx - warp.dx);
            let sy = (cos * py - sin * px) * inv + cy;
            let sx = (sin * py + cos * px) * inv + cx;
            let (y0, x0) = (sy.floor(), sx.floor());
            let (fy, fx) = (sy - y0, sx - x0);
            let (y0, x0) = (y0 as isize, x0 as isize);
            let v = (1.0 - fy) * ((1.0 - fx) * at(y0, x0) + fx * at(y0, x0 + 1))
                + fy * ((1.0 - fx) * at(y0 + 1, x0) + fx * at(y0 + 1, x0 + 1));
            out[y * w + x] = v.round().clamp(0.0, 255.0) as u8;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shift_moves_pixels_and_zero_fills() {
        let img: Vec<u8> = (1..=9).collect();
        assert_eq!(shift_image(&img, (3, 3), 0, 0), img);
        assert_eq!(
            shift_image(&img, (3, 3), 1, 0),
            vec![0, 0, 0, 1, 2, 3, 4, 5, 6]
        );
        assert_eq!(
            shift_image(&img, (3, 3), 0, -1),
            vec![2, 3, 0, 5, 6, 0, 8, 9, 0]
        );
        assert_eq!(shift_image(&img, (3, 3), 5, 5), vec![0; 9]);
    }

    #[test]
    fn warp_identity_shift_and_rotation() {
        let img: Vec<u8> = (0..25).map(|v| v * 10).collect();
        let id = Warp {
            angle: 0.0,
            scale: 1.0,
            dy: 0.0,
            dx: 0.0,
        };
        assert_eq!(warp_image(&img, (5, 5), id), img);
        // An integer shift agrees with shift_image.
        let shifted = Warp {
            dy: 1.0,
            dx: -2.0,
            ..id
        };
        assert_eq!(
            warp_image(&img, (5, 5), shifted),
            shift_image(&img, (5, 5), 1, -2)
        );
        // A quarter turn moves the first row to the first or last column.
        let turned = warp_image(
            &img,
            (5, 5),
            Warp {
                angle: std::f32::consts::FRAC_PI_2,
                ..id
            },
        );
        let first_row: Vec<u8> = img[..5].to_vec();
        let col = |c: usize| (0..5).map(|r| turned[r * 5 + c]).collect::<Vec<u8>>();
        let (mut c0, mut c4) = (col(0), col(4));
        c0.sort_unstable();
        c4.sort_unstable();
        assert!(c0 == first_row || c4 == first_row, "{turned:?}");
    }
}
