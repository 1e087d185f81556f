//! Shapes of layer inputs and outputs (height x width x channels, HWC order) and their bounds.

use core::fmt;

use serde::{Deserialize, Serialize};

/// Height, width and channels of a layer's input or output; a vector is `1 x 1 x n`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Shape {
    /// Rows.
    pub height: u16,
    /// Columns.
    pub width: u16,
    /// Values per pixel.
    pub channels: u16,
}

impl Shape {
    /// A flat vector of `n` values.
    pub const fn vector(n: u16) -> Self {
        Shape {
            height: 1,
            width: 1,
            channels: n,
        }
    }

    /// An image of `height x width` pixels with `channels` values each.
    pub const fn image(height: u16, width: u16, channels: u16) -> Self {
        Shape {
            height,
            width,
            channels,
        }
    }

    /// Number of values, `height * width * channels`.
    pub const fn len(&self) -> usize {
        self.height as usize * self.width as usize * self.channels as usize
    }

    /// Whether the shape holds no values.
    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of pixels, `height * width`.
    pub const fn pixels(&self) -> usize {
        self.height as usize * self.width as usize
    }

    /// Whether the shape is a flat vector (`1 x 1 x n`).
    pub const fn is_vector(&self) -> bool {
        self.height == 1 && self.width == 1
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}x{}", self.height, self.width, self.channels)
    }
}

/// One output value of a layer: its index in HWC order and its pixel and channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Place {
    /// Index in HWC order.
    pub(crate) index: usize,
    /// Row.
    pub(crate) y: u16,
    /// Column.
    pub(crate) x: u16,
    /// Channel.
    pub(crate) c: u16,
}

/// Every value of `shape` in HWC order, with its pixel found by counting rather than dividing
/// (a division is a library call on Cortex-M0).
pub(crate) fn places(shape: Shape) -> impl Iterator<Item = Place> {
    let (mut y, mut x, mut c) = (0u16, 0u16, 0u16);
    (0..shape.len()).map(move |index| {
        let place = Place { index, y, x, c };
        c += 1;
        if c == shape.channels {
            c = 0;
            x += 1;
            if x == shape.width {
                x = 0;
                y += 1;
            }
        }
        place
    })
}

/// Largest side and channel count of a non-vector shape: an event names its pixel and channel
/// in one byte each (see `runtime/FORMAT.md`).
pub const MAX_IMAGE_SIDE: u16 = 256;

/// Most values in one layer's output: an event names its position in 24 bits.
pub const MAX_LAYER_VALUES: usize = 1 << 24;
