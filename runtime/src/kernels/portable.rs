//! The portable fan-out kernels: plain Rust element loops, for Cortex-M0/M0+, the host, and any
//! core when the `portable-kernels` feature asks for them.

use super::fan_out::FanOut;
use super::slices::{same_length, same_length5};

/// The portable kernels, as a [`FanOut`] implementation.
pub(crate) struct Portable;

impl FanOut for Portable {
    const GROUPS_OF_FOUR: bool = false;

    #[inline(always)]
    fn add_weights(sums: &mut [i32], weights: &[u8]) {
        add_weights(sums, weights);
    }

    #[inline(always)]
    fn add_weights_scaled(sums: &mut [i32], weights: &[u8], count: u8) {
        add_weights_scaled(sums, weights, count);
    }

    #[inline(always)]
    fn add_two_weights(sums: &mut [i32], a: &[u8], b: &[u8]) {
        add_two_weights(sums, a, b);
    }

    #[inline(always)]
    fn add_two_weights_scaled(sums: &mut [i32], a: &[u8], count_a: u8, b: &[u8], count_b: u8) {
        add_two_weights_scaled(sums, a, count_a, b, count_b);
    }

    /// Two passes: a two-row and a one-row one.
    #[inline(always)]
    fn add_three_weights_scaled(sums: &mut [i32], rows: [&[u8]; 3], counts: [u8; 3]) {
        let (sums, [a, b, c, _]) = same_length5(sums, [rows[0], rows[1], rows[2], rows[2]]);
        add_two_weights_scaled(sums, a, counts[0], b, counts[1]);
        add_weights_scaled(sums, c, counts[2]);
    }

    #[inline(always)]
    fn add_four_weights(sums: &mut [i32], rows: [&[u8]; 4]) {
        add_four_weights(sums, rows);
    }

    #[inline(always)]
    fn add_four_weights_scaled(sums: &mut [i32], rows: [&[u8]; 4], counts: [u8; 4]) {
        add_four_weights_scaled(sums, rows, counts);
    }
}

/// [`add_weights`] in plain Rust.
///
/// A plain element loop: LLVM unrolls it by 16 for Cortex-M0 (`LDRSB` + `LDR` + `ADDS` +
/// `STR` and an offset constant, about 5 instructions per weight); hand-unrolled variants
/// measured worse there, because Thumb-1 `LDRSB` has no immediate offset.
#[inline(never)]
fn add_weights(sums: &mut [i32], weights: &[u8]) {
    let (sums, weights) = same_length(sums, weights);
    let mut sum4 = sums.chunks_exact_mut(4);
    let mut weight4 = weights.chunks_exact(4);
    for (s, w) in (&mut sum4).zip(&mut weight4) {
        s[0] = s[0].wrapping_add(i32::from(w[0] as i8));
        s[1] = s[1].wrapping_add(i32::from(w[1] as i8));
        s[2] = s[2].wrapping_add(i32::from(w[2] as i8));
        s[3] = s[3].wrapping_add(i32::from(w[3] as i8));
    }
    for (s, &w) in sum4.into_remainder().iter_mut().zip(weight4.remainder()) {
        *s = s.wrapping_add(i32::from(w as i8));
    }
}

/// [`add_weights_scaled`] in plain Rust (one `MULS` more per weight than [`add_weights`]).
#[inline(never)]
fn add_weights_scaled(sums: &mut [i32], weights: &[u8], count: u8) {
    let count = i32::from(count);
    let (sums, weights) = same_length(sums, weights);
    let mut sum4 = sums.chunks_exact_mut(4);
    let mut weight4 = weights.chunks_exact(4);
    for (s, w) in (&mut sum4).zip(&mut weight4) {
        s[0] = s[0].wrapping_add(count * i32::from(w[0] as i8));
        s[1] = s[1].wrapping_add(count * i32::from(w[1] as i8));
        s[2] = s[2].wrapping_add(count * i32::from(w[2] as i8));
        s[3] = s[3].wrapping_add(count * i32::from(w[3] as i8));
    }
    for (s, &w) in sum4.into_remainder().iter_mut().zip(weight4.remainder()) {
        *s = s.wrapping_add(count * i32::from(w as i8));
    }
}

/// [`add_two_weights`] in plain Rust (not inlined: alone, the loop keeps its pointers in the
/// eight low registers of Cortex-M0).
#[inline(never)]
fn add_two_weights(sums: &mut [i32], a: &[u8], b: &[u8]) {
    for ((s, &wa), &wb) in sums.iter_mut().zip(a).zip(b) {
        *s = s
            .wrapping_add(i32::from(wa as i8))
            .wrapping_add(i32::from(wb as i8));
    }
}

/// [`add_two_weights_scaled`] in plain Rust (not inlined, as [`add_two_weights`]).
///
/// Measured on Cortex-M0 (qemu-microbit, digits demo at 6 steps): 80,434 instructions per
/// inference with this loop, 82,662 with two passes of the unrolled one-row loop instead.
#[inline(never)]
fn add_two_weights_scaled(sums: &mut [i32], a: &[u8], count_a: u8, b: &[u8], count_b: u8) {
    let (count_a, count_b) = (i32::from(count_a), i32::from(count_b));
    for ((s, &wa), &wb) in sums.iter_mut().zip(a).zip(b) {
        *s = s
            .wrapping_add(count_a * i32::from(wa as i8))
            .wrapping_add(count_b * i32::from(wb as i8));
    }
}

/// The four-row kernel in plain Rust: two passes of [`add_two_weights`] (the
/// Cortex-M0 has too few low registers for four row pointers, four sums and a weight).
#[inline(always)]
fn add_four_weights(sums: &mut [i32], rows: [&[u8]; 4]) {
    let (sums, rows) = same_length5(sums, rows);
    add_two_weights(sums, rows[0], rows[1]);
    add_two_weights(sums, rows[2], rows[3]);
}

/// The scaled four-row kernel in plain Rust: two passes of
/// [`add_two_weights_scaled`].
#[inline(always)]
fn add_four_weights_scaled(sums: &mut [i32], rows: [&[u8]; 4], counts: [u8; 4]) {
    let (sums, rows) = same_length5(sums, rows);
    add_two_weights_scaled(sums, rows[0], counts[0], rows[1], counts[1]);
    add_two_weights_scaled(sums, rows[2], counts[2], rows[3], counts[3]);
}
