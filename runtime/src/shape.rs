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

/// Largest side and channel count of a non-vector shape: an event names its pixel and channel
/// in one byte each (see `runtime/FORMAT.md`).
pub const MAX_IMAGE_SIDE: u16 = 256;

/// Most values in one layer's output: an event names its position in 24 bits.
pub const MAX_LAYER_VALUES: usize = 1 << 24;
