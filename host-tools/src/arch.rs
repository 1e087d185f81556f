//! Network architectures written as short strings: `conv8k5s2,conv16k5s2,dense10`.
//!
//! One comma-separated item per layer, first to last; the last item is the readout and must be a
//! dense layer with one output per class. Items:
//!
//! - `conv<F>k<K>[s<S>][p<P>|same|valid]`: a 2-D convolution with `F` filters of `K x K`, stride
//!   `S` (default 1) and zero padding. `valid` (the default) pads nothing, so the output has
//!   `floor((H - K) / S) + 1` rows; `p<P>` pads `P` rows and columns on every side (the output
//!   has `floor((H + 2P - K) / S) + 1` rows, and the bottom and right padding is whatever that
//!   size uses); `same` is Keras' `padding="same"`: `ceil(H / S)` rows, the padding split with the
//!   extra row at the bottom and right. Examples: `conv8k5s2`, `conv32k3s1p1`, `conv16k5s2same`.
//! - `avgpool<N>`: average pooling over `N x N` windows with stride `N` (rows and columns that do
//!   not fill a window are dropped). Linear: no neurons. Not first, not last, not twice in a row.
//! - `dense<N>`: fully connected with `N` outputs; it reads any shape flattened in HWC order.
//!   After a dense layer only dense layers may follow.
//!
//! [`Architecture::resolve`] checks the string against the data (image shape and classes) and
//! computes every layer's shapes; every problem is one [`ArchError`] naming the item.

use std::fmt;
use std::str::FromStr;

use crate::reference::{FloatKind, Shape};

/// Why an architecture string cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ArchError {
    /// The string has no layers.
    #[error("architecture is empty: expected items such as conv8k5s2,dense10")]
    Empty,
    /// An item does not parse.
    #[error("architecture item {index} '{item}': {reason}")]
    Syntax {
        /// One-based position of the item.
        index: usize,
        /// The item as written.
        item: String,
        /// What was expected.
        reason: String,
    },
    /// An item parses but does not fit the data or the layers before it.
    #[error("architecture item {index} '{item}': {reason}")]
    Misfit {
        /// One-based position of the item.
        index: usize,
        /// The item.
        item: String,
        /// What does not fit.
        reason: String,
    },
}

/// Zero padding of a convolution (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Padding {
    /// No padding.
    Valid,
    /// Keras `same`: `ceil(H / stride)` output rows.
    Same,
    /// This many zero rows and columns on every side.
    Explicit(u8),
}

/// One item of an architecture string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayerSpec {
    /// 2-D convolution.
    Conv {
        /// Output channels.
        filters: u16,
        /// Kernel side.
        kernel: u8,
        /// Stride on both axes.
        stride: u8,
        /// Zero padding.
        padding: Padding,
    },
    /// Average pooling with window and stride `size`.
    AvgPool {
        /// Window side.
        size: u8,
    },
    /// Fully connected.
    Dense {
        /// Outputs.
        units: u16,
    },
}

impl fmt::Display for LayerSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            LayerSpec::Conv {
                filters,
                kernel,
                stride,
                padding,
            } => {
                write!(f, "conv{filters}k{kernel}s{stride}")?;
                match padding {
                    Padding::Valid => Ok(()),
                    Padding::Same => write!(f, "same"),
                    Padding::Explicit(p) => write!(f, "p{p}"),
                }
            }
            LayerSpec::AvgPool { size } => write!(f, "avgpool{size}"),
            LayerSpec::Dense { units } => write!(f, "dense{units}"),
        }
    }
}

/// A parsed architecture: the layers first to last, the readout last.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Architecture {
    /// The layers.
    pub layers: Vec<LayerSpec>,
}

impl fmt::Display for Architecture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, layer) in self.layers.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{layer}")?;
        }
        Ok(())
    }
}

/// A layer with its shapes worked out: what the trainer builds and the exporter writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResolvedLayer {
    /// The layer kind with its shapes (dense layers carry only the sizes below).
    pub kind: FloatKind,
    /// Input values.
    pub inputs: usize,
    /// Output values.
    pub outputs: usize,
}

/// Splits `digits` off the front of `s`: the number and the rest.
fn number(s: &str) -> Option<(u64, &str)> {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    if end == 0 || end > 9 {
        return None;
    }
    Some((s[..end].parse().ok()?, &s[end..]))
}

fn parse_item(index: usize, item: &str) -> Result<LayerSpec, ArchError> {
    let syntax = |reason: &str| ArchError::Syntax {
        index,
        item: item.to_string(),
        reason: reason.to_string(),
    };
    let zero = |what: &str| ArchError::Misfit {
        index,
        item: item.to_string(),
        reason: format!("zero {what}"),
    };
    let fits_u8 = |v: u64, what: &str| {
        u8::try_from(v).map_err(|_| ArchError::Misfit {
            index,
            item: item.to_string(),
            reason: format!("{what} {v} is larger than 255"),
        })
    };
    let fits_u16 = |v: u64, what: &str| {
        u16::try_from(v).map_err(|_| ArchError::Misfit {
            index,
            item: item.to_string(),
            reason: format!("{what} {v} is larger than 65535"),
        })
    };
    if let Some(rest) = item.strip_prefix("conv") {
        const FORM: &str =
            "expected conv<filters>k<kernel>[s<stride>][p<pad>|same|valid], e.g. conv8k5s2";
        let (filters, rest) = number(rest).ok_or_else(|| syntax(FORM))?;
        let rest = rest.strip_prefix('k').ok_or_else(|| syntax(FORM))?;
        let (kernel, mut rest) = number(rest).ok_or_else(|| syntax(FORM))?;
        let mut stride = 1;
        if let Some(r) = rest.strip_prefix('s').filter(|r| !r.starts_with('a')) {
            let (s, r) = number(r).ok_or_else(|| syntax(FORM))?;
            stride = s;
            rest = r;
        }
        let padding = match rest {
            "" | "valid" => Padding::Valid,
            "same" => Padding::Same,
            _ => match rest.strip_prefix('p').and_then(number) {
                Some((p, "")) => Padding::Explicit(fits_u8(p, "padding")?),
                _ => return Err(syntax(FORM)),
            },
        };
        if filters == 0 {
            return Err(zero("channels (filters)"));
        }
        if kernel == 0 {
            return Err(zero("kernel size"));
        }
        if stride == 0 {
            return Err(zero("stride"));
        }
        return Ok(LayerSpec::Conv {
            filters: fits_u16(filters, "filters")?,
            kernel: fits_u8(kernel, "kernel")?,
            stride: fits_u8(stride, "stride")?,
            padding,
        });
    }
    if let Some(rest) = item.strip_prefix("avgpool") {
        let (size, rest) =
            number(rest).ok_or_else(|| syntax("expected avgpool<size>, e.g. avgpool2"))?;
        if !rest.is_empty() {
            return Err(syntax("expected avgpool<size>, e.g. avgpool2"));
        }
        if size == 0 {
            return Err(zero("pool size"));
        }
        return Ok(LayerSpec::AvgPool {
            size: fits_u8(size, "pool size")?,
        });
    }
    if let Some(rest) = item.strip_prefix("dense") {
        let (units, rest) =
            number(rest).ok_or_else(|| syntax("expected dense<outputs>, e.g. dense10"))?;
        if !rest.is_empty() {
            return Err(syntax("expected dense<outputs>, e.g. dense10"));
        }
        if units == 0 {
            return Err(zero("outputs"));
        }
        return Ok(LayerSpec::Dense {
            units: fits_u16(units, "outputs")?,
        });
    }
    Err(syntax("expected conv..., avgpool... or dense..."))
}

impl FromStr for Architecture {
    type Err = ArchError;

    fn from_str(s: &str) -> Result<Self, ArchError> {
        if s.trim().is_empty() {
            return Err(ArchError::Empty);
        }
        let layers = s
            .split(',')
            .enumerate()
            .map(|(i, item)| parse_item(i + 1, &item.trim().to_ascii_lowercase()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Architecture { layers })
    }
}

impl Architecture {
    /// Dense hidden layers of the given sizes and a readout of `classes` outputs.
    pub fn dense(hidden: &[usize], classes: usize) -> Self {
        let units = |n: usize| u16::try_from(n).unwrap_or(u16::MAX);
        Architecture {
            layers: hidden
                .iter()
                .chain(std::iter::once(&classes))
                .map(|&n| LayerSpec::Dense { units: units(n) })
                .collect(),
        }
    }

    /// Whether any layer is a convolution or a pool (which need a 2-D input).
    pub fn is_shaped(&self) -> bool {
        self.layers
            .iter()
            .any(|l| !matches!(l, LayerSpec::Dense { .. }))
    }

    /// Every layer's shapes for an input of `input` and `classes` classes.
    ///
    /// # Errors
    /// [`ArchError::Misfit`] naming the first item that does not fit: a kernel or pool larger
    /// than its input, a convolution after a dense layer, a pool first, last or twice in a row,
    /// a readout that is not dense or has the wrong number of outputs, or a layer too large for
    /// the model format (65535 values).
    pub fn resolve(&self, input: Shape, classes: usize) -> Result<Vec<ResolvedLayer>, ArchError> {
        if self.layers.is_empty() {
            return Err(ArchError::Empty);
        }
        let mut shape = input;
        let mut seen_dense = None;
        let mut out = Vec::with_capacity(self.layers.len());
        let last = self.layers.len() - 1;
        for (i, spec) in self.layers.iter().enumerate() {
            let misfit = |reason: String| ArchError::Misfit {
                index: i + 1,
                item: spec.to_string(),
                reason,
            };
            let (kind, output) = match *spec {
                LayerSpec::Conv {
                    filters,
                    kernel,
                    stride,
                    padding,
                } => {
                    if let Some(d) = seen_dense {
                        return Err(misfit(format!(
                            "a convolution cannot follow the dense layer {d} (dense layers come last)"
                        )));
                    }
                    let k = u16::from(kernel);
                    if k > shape.height || k > shape.width {
                        return Err(misfit(format!(
                            "kernel {kernel}x{kernel} is larger than its {}x{} input",
                            shape.height, shape.width
                        )));
                    }
                    let axis = |n: u16| -> Option<(u16, u8)> {
                        let (n, k, s) = (u32::from(n), u32::from(kernel), u32::from(stride));
                        let (out, before) = match padding {
                            Padding::Valid => ((n - k) / s + 1, 0),
                            Padding::Explicit(p) => {
                                let p = u32::from(p);
                                if p >= k {
                                    return None;
                                }
                                ((n + 2 * p - k) / s + 1, p)
                            }
                            Padding::Same => {
                                let out = n.div_ceil(s);
                                let total = ((out - 1) * s + k).saturating_sub(n);
                                (out, total / 2)
                            }
                        };
                        Some((u16::try_from(out).ok()?, u8::try_from(before).ok()?))
                    };
                    let (Some((oh, pt)), Some((ow, pl))) = (axis(shape.height), axis(shape.width))
                    else {
                        return Err(misfit(
                            "padding must be smaller than the kernel".to_string(),
                        ));
                    };
                    let output = Shape {
                        height: oh,
                        width: ow,
                        channels: filters,
                    };
                    (
                        FloatKind::Conv2d {
                            input: shape,
                            output,
                            kernel_height: kernel,
                            kernel_width: kernel,
                            stride,
                            padding_top: pt,
                            padding_left: pl,
                        },
                        output,
                    )
                }
                LayerSpec::AvgPool { size } => {
                    if i == 0 || i == last {
                        return Err(misfit(
                            "a pool cannot be the first or the last layer".to_string(),
                        ));
                    }
                    if matches!(self.layers[i - 1], LayerSpec::AvgPool { .. }) {
                        return Err(misfit(
                            "two pools in a row: use one pool of the combined size".to_string(),
                        ));
                    }
                    if let Some(d) = seen_dense {
                        return Err(misfit(format!(
                            "a pool cannot follow the dense layer {d} (dense layers come last)"
                        )));
                    }
                    let s = u16::from(size);
                    if s > shape.height || s > shape.width {
                        return Err(misfit(format!(
                            "pool {size}x{size} is larger than its {}x{} input",
                            shape.height, shape.width
                        )));
                    }
                    let output = FloatKind::pool_output(shape, size);
                    (FloatKind::AvgPool { input: shape, size }, output)
                }
                LayerSpec::Dense { units } => {
                    seen_dense.get_or_insert(i + 1);
                    (FloatKind::Dense, Shape::vector(units))
                }
            };
            if i == last {
                match *spec {
                    LayerSpec::Dense { units } if usize::from(units) == classes => {}
                    LayerSpec::Dense { units } => {
                        return Err(misfit(format!(
                            "the readout (last layer) has {units} outputs, the data has {classes} classes"
                        )))
                    }
                    _ => {
                        return Err(misfit(format!(
                            "the last layer is the readout and must be dense{classes}"
                        )))
                    }
                }
            }
            if output.len() > usize::from(u16::MAX) {
                return Err(misfit(format!(
                    "{}x{}x{} = {} outputs, at most 65535 per layer",
                    output.height,
                    output.width,
                    output.channels,
                    output.len()
                )));
            }
            out.push(ResolvedLayer {
                kind,
                inputs: shape.len(),
                outputs: output.len(),
            });
            shape = output;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mnist() -> Shape {
        Shape {
            height: 28,
            width: 28,
            channels: 1,
        }
    }

    fn resolve(s: &str) -> Result<Vec<ResolvedLayer>, ArchError> {
        s.parse::<Architecture>()?.resolve(mnist(), 10)
    }

    fn conv_output(layer: &ResolvedLayer) -> (Shape, u8, u8) {
        match layer.kind {
            FloatKind::Conv2d {
                output,
                padding_top,
                padding_left,
                ..
            } => (output, padding_top, padding_left),
            other => panic!("not a conv: {other:?}"),
        }
    }

    #[test]
    fn parses_and_prints_every_item_form() {
        let a: Architecture =
            "conv8k5s2, conv32k3s1p1,conv16k5s2same,CONV4k3valid,avgpool2,dense128,dense10"
                .parse()
                .unwrap();
        assert_eq!(
            a.to_string(),
            "conv8k5s2,conv32k3s1p1,conv16k5s2same,conv4k3s1,avgpool2,dense128,dense10"
        );
        assert_eq!(
            a.layers[1],
            LayerSpec::Conv {
                filters: 32,
                kernel: 3,
                stride: 1,
                padding: Padding::Explicit(1)
            }
        );
        assert!(a.is_shaped());
        assert!(!Architecture::dense(&[256], 10).is_shaped());
    }

    #[test]
    fn shapes_follow_valid_explicit_and_same_padding() {
        let l = resolve("conv8k5s2,conv16k5s2,dense10").unwrap();
        // valid: (28 - 5) / 2 + 1 = 12, then (12 - 5) / 2 + 1 = 4.
        assert_eq!(
            conv_output(&l[0]).0,
            Shape {
                height: 12,
                width: 12,
                channels: 8
            }
        );
        assert_eq!(
            conv_output(&l[1]).0,
            Shape {
                height: 4,
                width: 4,
                channels: 16
            }
        );
        assert_eq!((l[2].inputs, l[2].outputs), (256, 10));
        let l = resolve("conv8k5s2same,conv16k3s1p1,avgpool2,dense10").unwrap();
        // same: ceil(28 / 2) = 14 rows, total padding 13 * 2 + 5 - 28 = 3, 1 on top.
        assert_eq!(
            conv_output(&l[0]),
            (
                Shape {
                    height: 14,
                    width: 14,
                    channels: 8
                },
                1,
                1
            )
        );
        assert_eq!(
            conv_output(&l[1]),
            (
                Shape {
                    height: 14,
                    width: 14,
                    channels: 16
                },
                1,
                1
            )
        );
        assert_eq!((l[2].inputs, l[2].outputs), (14 * 14 * 16, 7 * 7 * 16));
        assert_eq!(l[3].inputs, 7 * 7 * 16);
        // Every resolved layer is consistent for the float reference's own check.
        for layer in &l {
            if let FloatKind::Conv2d {
                input,
                output,
                kernel_height,
                kernel_width,
                ..
            } = layer.kind
            {
                let n = usize::from(input.channels)
                    * usize::from(kernel_height)
                    * usize::from(kernel_width)
                    * usize::from(output.channels);
                let f = crate::reference::FloatLayer {
                    kind: layer.kind,
                    inputs: layer.inputs,
                    outputs: layer.outputs,
                    weights: vec![0.0; n],
                    biases: vec![0.0; usize::from(output.channels)],
                    neuron: picospike_runtime::neuron::Neuron::Readout,
                    synapse: picospike_runtime::synapse::Synapse::None,
                };
                assert_eq!(f.problem(), None, "{layer:?}");
            }
        }
    }

    #[test]
    fn bad_strings_name_the_problem() {
        let msg = |s: &str| resolve(s).unwrap_err().to_string();
        assert!(msg("conv8k29,dense10").contains("kernel 29x29 is larger than its 28x28 input"));
        assert!(msg("dense64,conv8k3,dense10").contains("cannot follow the dense layer 1"));
        assert!(msg("conv0k3,dense10").contains("zero channels"));
        assert!(msg("conv8k3,dense0").contains("zero outputs"));
        assert!(msg("conv8k5s2,dense12").contains("12 outputs, the data has 10 classes"));
        assert!(msg("conv8k5,avgpool2").contains("first or the last"));
        assert!(msg("avgpool2,dense10").contains("first or the last"));
        assert!(msg("conv8k3,avgpool2,avgpool2,dense10").contains("two pools in a row"));
        assert!(msg("conv8k3p3,dense10").contains("padding must be smaller than the kernel"));
        assert!(msg("conv8k3s2x,dense10").contains("item 1 'conv8k3s2x'"));
        assert!(msg("lstm4,dense10").contains("expected conv..., avgpool... or dense..."));
        assert!(msg("conv8k300,dense10").contains("kernel 300 is larger than 255"));
        assert_eq!(msg(" "), ArchError::Empty.to_string());
        assert!(msg("conv255k1,dense10").contains("at most 65535 per layer"));
        for s in [
            "conv8k29,dense10",
            "dense64,conv8k3,dense10",
            "conv0k3,dense10",
        ] {
            assert!(!msg(s).contains('\n'), "one line: {s}");
        }
    }
}
