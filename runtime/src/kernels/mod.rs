//! Fan-out kernels: add one input's `i8` weight row (times its count) to a run of `i32` sums.
//!
//! These are the static-drive and spike-propagation kernels of every weighted layer (a Dense
//! row, each convolution tap's run of output channels). Two sets give the same results for
//! every input ([`FanOut`]):
//!
//! - [`portable`]: plain element loops (Cortex-M0/M0+, the host);
//! - [`dsp`]: four weights per 32-bit load, built from the ARMv7E-M DSP instructions `SXTAB`
//!   (add a sign-extended byte of a register: one instruction per synaptic event) and
//!   `SXTB16` + `SMLABB`/`SMLATB` (unpack two bytes into 16-bit halves, multiply-accumulate a
//!   half: one and a half instructions per multiply-add), and four-row loops that load and
//!   store four sums with one `LDM`/`STM` (1.5 instructions per addition, 2 per multiply-add).
//!   The instructions and loops come from an [`isa::Isa`]: `arm` (`asm!`, thumbv7em only)
//!   on the board, [`isa::Twins`] (their definitions in plain Rust) on the host, so the host
//!   tests run the very same kernel code against the portable loops, and the QEMU boards check
//!   the instructions themselves (their outputs equal the host's bit for bit).
//!
//! [`Selected`] is the one place that picks the set: the DSP kernels when `build.rs` sets
//! `cfg(picospike_dsp)` (target `thumbv7em`, without the `portable-kernels` feature), the
//! portable ones otherwise. `--features portable-kernels` on a Cortex-M4 is the A/B switch of
//! `boards/bench.sh --portable-kernels`.
//!
//! Sums never wrap: the loader bounds `fan_in * largest input * 128` by `i32::MAX`, and one
//! product `count * weight` has at most 16 bits (`255 * 128`), as `SMLAxy` needs.

#[cfg(picospike_dsp)]
mod arm;
// Both sets and the twins are compiled on every target, so that the host tests check them
// against each other; outside the tests, the set `Selected` does not name is unused.
#[cfg_attr(not(any(test, picospike_dsp)), allow(dead_code))]
pub(crate) mod dsp;
// The twins serve only the tests outside a `Dsp<Twins>` build.
mod fan_out;
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) mod isa;
#[cfg_attr(all(not(test), picospike_dsp), allow(dead_code))]
pub(crate) mod portable;
mod slices;

pub(crate) use fan_out::FanOut;

/// The DSP kernels with the plain-Rust twins of their instructions.
#[cfg(feature = "std")]
pub(crate) type DspTwins = dsp::Dsp<isa::Twins>;

/// A kernel set a host build can run instead of [`Selected`], to compare the sets on whole
/// networks (`Network::set_input_on`, `Network::step_on`).
#[cfg(feature = "std")]
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KernelSet {
    /// The portable loops, as a Cortex-M0 runs them.
    Portable,
    /// The DSP kernels, as a Cortex-M4 runs them, with the plain-Rust twins of the
    /// instructions.
    DspTwins,
}

/// The kernels this build runs.
#[cfg(picospike_dsp)]
pub(crate) type Selected = dsp::Dsp<arm::Arm>;
/// The kernels this build runs.
#[cfg(not(picospike_dsp))]
pub(crate) type Selected = portable::Portable;

/// [`FanOut::add_weights_scaled`], or [`FanOut::add_weights`] for a count of one, of the
/// kernels `K` behind a call: for the
/// events left over from the groups of four, once per layer and step, so that the one-row
/// loops are not inlined again at each of their call sites (760 bytes of flash on Cortex-M4).
#[inline(never)]
pub(crate) fn add_weights_outlined<K: FanOut>(sums: &mut [i32], weights: &[u8], count: u8) {
    if count == 1 {
        K::add_weights(sums, weights);
    } else {
        K::add_weights_scaled(sums, weights, count);
    }
}

/// Add `count * weights` to `sums`, element by element (`count` is an event's, `0..=255`).
#[inline(always)]
pub(crate) fn add_scaled<K: FanOut>(sums: &mut [i32], weights: &[u8], count: u32) {
    if count == 1 {
        // Spikes of LIF neurons: one per event, so the fan-out is additions only.
        K::add_weights(sums, weights);
    } else {
        K::add_weights_scaled(sums, weights, count as u8);
    }
}

/// Add `count_a * a + count_b * b` to `sums` in one pass (counts are events', `0..=255`).
#[inline(always)]
pub(crate) fn add_two_scaled<K: FanOut>(
    sums: &mut [i32],
    a: &[u8],
    count_a: u32,
    b: &[u8],
    count_b: u32,
) {
    if count_a == 1 && count_b == 1 {
        K::add_two_weights(sums, a, b);
    } else {
        K::add_two_weights_scaled(sums, a, count_a as u8, b, count_b as u8);
    }
}

/// Add `counts[0] * rows[0] + ... + counts[2] * rows[2]` to `sums`.
#[inline(always)]
pub(crate) fn add_three_scaled<K: FanOut>(sums: &mut [i32], rows: [&[u8]; 3], counts: [u8; 3]) {
    if u32::from_le_bytes([counts[0], counts[1], counts[2], 0]) == 0x01_0101 {
        // A two-row and a one-row pass of additions (cheaper than the four-row multiply loop
        // with a row of count zero).
        let n = rows.iter().fold(sums.len(), |n, row| n.min(row.len()));
        let sums = &mut sums[..n];
        K::add_two_weights(sums, rows[0], rows[1]);
        add_weights_outlined::<K>(sums, rows[2], 1);
    } else {
        K::add_three_weights_scaled(sums, rows, counts);
    }
}

/// Add `counts[0] * rows[0] + ... + counts[3] * rows[3]` to `sums` in one pass.
#[inline(always)]
pub(crate) fn add_four_scaled<K: FanOut>(sums: &mut [i32], rows: [&[u8]; 4], counts: [u8; 4]) {
    // One comparison of the four counts as a word (an array `==` can become a `memcmp`).
    if u32::from_le_bytes(counts) == 0x0101_0101 {
        K::add_four_weights(sums, rows);
    } else {
        K::add_four_weights_scaled(sums, rows, counts);
    }
}

#[cfg(test)]
mod tests {
    use super::dsp::Dsp;
    use super::isa::{Isa, Twins};
    use super::portable::Portable;
    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    /// Byte `n` of `word`, as the ARM ARM numbers them (`word<8n+7:8n>`).
    fn byte(word: u32, n: u32) -> u8 {
        (word >> (8 * n)) as u8
    }

    /// The ARM ARM pseudocode of SXTAB / SXTB16 / SMLAxB, spelled out bit by bit, for
    /// rotations 0, 8, 16, 24 (`ROR(Rm, rot)<7:0>` is byte `rot / 8`, `<23:16>` byte
    /// `rot / 8 + 2`, both mod 4).
    fn sign_extend_8(b: u8) -> i32 {
        if b & 0x80 != 0 {
            i32::from(b) - 256
        } else {
            i32::from(b)
        }
    }

    fn sign_extend_16(h: u32) -> i32 {
        let h = (h & 0xFFFF) as i32;
        if h & 0x8000 != 0 {
            h - 65_536
        } else {
            h
        }
    }

    fn check_word(word: u32, acc: i32) {
        let expected = |rot: u32| acc.wrapping_add(sign_extend_8(byte(word, rot / 8)));
        assert_eq!(Twins::sxtab::<0>(acc, word), expected(0));
        assert_eq!(Twins::sxtab::<8>(acc, word), expected(8));
        assert_eq!(Twins::sxtab::<16>(acc, word), expected(16));
        assert_eq!(Twins::sxtab::<24>(acc, word), expected(24));
        let halves = |rot: u32| {
            let low = sign_extend_8(byte(word, rot / 8)) as u32 & 0xFFFF;
            let high = sign_extend_8(byte(word, (rot / 8 + 2) % 4)) as u32 & 0xFFFF;
            high << 16 | low
        };
        assert_eq!(Twins::sxtb16::<0>(word), halves(0));
        assert_eq!(Twins::sxtb16::<8>(word), halves(8));
        assert_eq!(Twins::sxtb16::<16>(word), halves(16));
        assert_eq!(Twins::sxtb16::<24>(word), halves(24));
        let b = word.rotate_left(13);
        assert_eq!(
            Twins::smlabb(word, b, acc),
            acc.wrapping_add(sign_extend_16(word).wrapping_mul(sign_extend_16(b)))
        );
        assert_eq!(
            Twins::smlatb(word, b, acc),
            acc.wrapping_add(sign_extend_16(word >> 16).wrapping_mul(sign_extend_16(b)))
        );
        assert_eq!(
            Twins::smlabt(word, b, acc),
            acc.wrapping_add(sign_extend_16(word).wrapping_mul(sign_extend_16(b >> 16)))
        );
        assert_eq!(
            Twins::smlatt(word, b, acc),
            acc.wrapping_add(sign_extend_16(word >> 16).wrapping_mul(sign_extend_16(b >> 16)))
        );
    }

    #[test]
    fn portable_twins_follow_the_arm_definitions_on_edges() {
        assert_eq!(Twins::sxtb16::<0>(0x807F_01FF), 0x007F_FFFF);
        assert_eq!(Twins::sxtb16::<8>(0x807F_01FF), 0xFF80_0001);
        assert_eq!(Twins::sxtab::<24>(10, 0x8000_0000), 10 - 128);
        assert_eq!(Twins::smlabb(0xFFFF, 0x8000, 0), 32_768);
        assert_eq!(Twins::smlatb(0x8000_0000, 0x7FFF, 1), 1 - 32_768 * 32_767);
        assert_eq!(Twins::smlabt(0x7FFF, 0x8000_0000, 1), 1 - 32_768 * 32_767);
        assert_eq!(Twins::smlatt(0xFF80_0000, 0x00FF_1234, -5), -5 - 128 * 255);
        assert_eq!(
            Twins::smlabb(0x8000, 0x8000, i32::MAX),
            i32::MIN + (1 << 30) - 1
        );
        for b in 0..=255u32 {
            for acc in [0, 1, -1, 12_345, i32::MAX, i32::MIN] {
                check_word(b * 0x0101_0101, acc);
                check_word(b << 24 | 0x7F80, acc);
                check_word(b << 8 | 0x80FF_0001, acc);
            }
        }
    }

    proptest! {
        #[test]
        fn portable_twins_follow_the_arm_definitions(word: u32, acc: i32) {
            check_word(word, acc);
        }

        /// The loops the Cortex-M4 runs (here built from the portable twins) equal the
        /// portable loops for every length, count and weight pattern.
        #[test]
        fn dsp_loops_equal_portable_loops(
            weights in proptest::collection::vec(any::<u8>(), 0..40),
            start in proptest::collection::vec(-100_000i32..100_000, 40),
            extra in 0usize..3,
            count: u8,
        ) {
            // Sums may be longer than the row; only the row's length is touched.
            let n = (weights.len() + extra).min(start.len());
            let mut portable = start[..n].to_vec();
            let mut dsp = portable.clone();
            Portable::add_weights(&mut portable, &weights);
            Dsp::<Twins>::add_weights(&mut dsp, &weights);
            prop_assert_eq!(&portable, &dsp);
            let mut expected: Vec<i32> = start[..n].to_vec();
            for (s, &w) in expected.iter_mut().zip(&weights) {
                *s += i32::from(w as i8);
            }
            prop_assert_eq!(&portable, &expected);

            let mut portable = start[..n].to_vec();
            let mut dsp = portable.clone();
            Portable::add_weights_scaled(&mut portable, &weights, count);
            Dsp::<Twins>::add_weights_scaled(&mut dsp, &weights, count);
            prop_assert_eq!(&portable, &dsp);
            let mut expected: Vec<i32> = start[..n].to_vec();
            for (s, &w) in expected.iter_mut().zip(&weights) {
                *s += i32::from(count) * i32::from(w as i8);
            }
            prop_assert_eq!(&portable, &expected);
            let mut dispatched = start[..n].to_vec();
            Selected::add_weights_scaled(&mut dispatched, &weights, count);
            prop_assert_eq!(&dispatched, &expected);
        }

        /// The four- and three-row loops (DSP, here from the twins of the `asm!` loops and
        /// of the instructions, and portable) equal one-row passes, for every length, set of
        /// counts and weight pattern; the sums may be longer or shorter than the rows.
        #[test]
        fn four_row_loops_equal_one_row_passes(
            rows in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 4),
            start in proptest::collection::vec(-100_000i32..100_000, 40),
            sums_len in 0usize..=40,
            counts: [u8; 4],
        ) {
            let rows = [&rows[0][..], &rows[1][..], &rows[2][..], &rows[3][..]];
            let n = rows.iter().fold(sums_len, |n, row| n.min(row.len()));
            let expected = |counts: &[u8]| {
                let mut expected = start[..sums_len].to_vec();
                for (row, &count) in rows.iter().zip(counts) {
                    Portable::add_weights_scaled(&mut expected[..n], row, count);
                }
                expected
            };
            let ones = expected(&[1; 4]);
            for add in [Portable::add_four_weights, Dsp::<Twins>::add_four_weights, Selected::add_four_weights] {
                let mut got = start[..sums_len].to_vec();
                add(&mut got, rows);
                prop_assert_eq!(&got, &ones);
            }
            let scaled = expected(&counts);
            for add in [
                Portable::add_four_weights_scaled,
                Dsp::<Twins>::add_four_weights_scaled,
                Selected::add_four_weights_scaled,
            ] {
                let mut got = start[..sums_len].to_vec();
                add(&mut got, rows, counts);
                prop_assert_eq!(&got, &scaled);
            }
            let three = [rows[0], rows[1], rows[2]];
            let n3 = three.iter().fold(sums_len, |n, row| n.min(row.len()));
            let mut expected3 = start[..sums_len].to_vec();
            for (row, &count) in three.iter().zip(&counts) {
                Portable::add_weights_scaled(&mut expected3[..n3], row, count);
            }
            let mut got = start[..sums_len].to_vec();
            Selected::add_three_weights_scaled(&mut got, three, [counts[0], counts[1], counts[2]]);
            prop_assert_eq!(&got, &expected3);
        }

        /// The two-row loops (DSP, here from the portable twins, and portable) equal two
        /// one-row passes, for every length, pair of counts and weight pattern.
        #[test]
        fn two_row_loops_equal_two_one_row_passes(
            a in proptest::collection::vec(any::<u8>(), 0..40),
            b in proptest::collection::vec(any::<u8>(), 0..40),
            start in proptest::collection::vec(-100_000i32..100_000, 40),
            extra in 0usize..3,
            count_a: u8,
            count_b: u8,
        ) {
            let rows = a.len().min(b.len());
            let n = (rows + extra).min(start.len());
            let mut expected = start[..n].to_vec();
            Portable::add_weights(&mut expected[..rows.min(n)], &a);
            Portable::add_weights(&mut expected[..rows.min(n)], &b);
            for add in [Portable::add_two_weights, Dsp::<Twins>::add_two_weights, Selected::add_two_weights] {
                let mut got = start[..n].to_vec();
                add(&mut got, &a, &b);
                prop_assert_eq!(&got, &expected);
            }
            let mut expected = start[..n].to_vec();
            Portable::add_weights_scaled(&mut expected[..rows.min(n)], &a, count_a);
            Portable::add_weights_scaled(&mut expected[..rows.min(n)], &b, count_b);
            for add in [
                Portable::add_two_weights_scaled,
                Dsp::<Twins>::add_two_weights_scaled,
                Selected::add_two_weights_scaled,
            ] {
                let mut got = start[..n].to_vec();
                add(&mut got, &a, count_a, &b, count_b);
                prop_assert_eq!(&got, &expected);
            }
        }
    }
}
