//! The ARMv7E-M DSP instructions and four-row loops the DSP kernels are built from, as a
//! trait: [`Twins`] spells each out in plain Rust (the ARM Architecture Reference Manual's
//! definitions), `super::arm::Arm` runs the instructions themselves on `thumbv7em`.

use super::slices::{same_length5, word};

/// The instructions and loops of [`super::dsp`]; every method of an implementation gives the
/// same result as [`Twins`]' for every input.
pub(crate) trait Isa {
    /// `SXTAB Rd, Rn, Rm, ROR #ROT`: `acc` plus the sign-extended low byte of `word` rotated
    /// right by `ROT` (0, 8, 16 or 24).
    fn sxtab<const ROT: u32>(acc: i32, word: u32) -> i32;
    /// `SXTB16 Rd, Rm, ROR #ROT`: bytes 0 and 2 of `word` rotated right by `ROT`, each
    /// sign-extended into a 16-bit half.
    fn sxtb16<const ROT: u32>(word: u32) -> u32;
    /// `SMLABB Rd, Rn, Rm, Ra`: `acc` plus the product of the signed bottom halves of `a` and
    /// `b` (wrapping; the instruction also sets the sticky Q flag, which nothing reads).
    fn smlabb(a: u32, b: u32, acc: i32) -> i32;
    /// `SMLATB`: `acc` plus the signed top half of `a` times the signed bottom half of `b`.
    fn smlatb(a: u32, b: u32, acc: i32) -> i32;
    /// `SMLABT`: `acc` plus the signed bottom half of `a` times the signed top half of `b`.
    fn smlabt(a: u32, b: u32, acc: i32) -> i32;
    /// `SMLATT`: `acc` plus the product of the signed top halves of `a` and `b`.
    fn smlatt(a: u32, b: u32, acc: i32) -> i32;
    /// `sums[j] += a[j] + b[j] + c[j] + d[j]` (weights as `i8`, up to the shortest length),
    /// four sums per pass (per row one word of weights and four `SXTAB`), then a pair of sums
    /// (per row a halfword and two `SXTAB`), then a last sum.
    fn four_rows(sums: &mut [i32], rows: [&[u8]; 4]);
    /// `sums[j] += count_a * a[j] + ...` over the whole chunks of four sums (the caller adds
    /// the last up to three), with the counts packed two per word (`ab` holds `count_a` in its
    /// bottom half, `count_b` in its top half; `cd` likewise): per row one word of weights, two
    /// `SXTB16` and four `SMLAxy`.
    fn four_rows_scaled(sums: &mut [i32], rows: [&[u8]; 4], ab: u32, cd: u32);
}

/// The instructions and loops in plain Rust: what the host (and every core without the DSP
/// extension) runs, and the specification the `asm!` versions are tested against on the boards.
pub(crate) struct Twins;

impl Isa for Twins {
    /// `SXTAB Rd, Rn, Rm, ROR #ROT`: `acc` plus the sign-extended low byte of `word`
    /// rotated right by `ROT` (0, 8, 16 or 24).
    #[inline(always)]
    fn sxtab<const ROT: u32>(acc: i32, word: u32) -> i32 {
        acc.wrapping_add(i32::from(word.rotate_right(ROT) as u8 as i8))
    }

    /// `SXTB16 Rd, Rm, ROR #ROT`: bytes 0 and 2 of `word` rotated right by `ROT`, each
    /// sign-extended into a 16-bit half.
    #[inline(always)]
    fn sxtb16<const ROT: u32>(word: u32) -> u32 {
        let r = word.rotate_right(ROT);
        let low = i16::from(r as u8 as i8) as u16;
        let high = i16::from((r >> 16) as u8 as i8) as u16;
        u32::from(low) | u32::from(high) << 16
    }

    /// `SMLABB Rd, Rn, Rm, Ra`: `acc` plus the product of the signed bottom halves of `a`
    /// and `b` (wrapping; the instruction also sets the sticky Q flag, which nothing reads).
    #[inline(always)]
    fn smlabb(a: u32, b: u32, acc: i32) -> i32 {
        acc.wrapping_add(i32::from(a as u16 as i16) * i32::from(b as u16 as i16))
    }

    /// `SMLATB Rd, Rn, Rm, Ra`: `acc` plus the product of the signed top half of `a` and the
    /// signed bottom half of `b`.
    #[inline(always)]
    fn smlatb(a: u32, b: u32, acc: i32) -> i32 {
        acc.wrapping_add(i32::from((a >> 16) as u16 as i16) * i32::from(b as u16 as i16))
    }

    /// `SMLABT Rd, Rn, Rm, Ra`: `acc` plus the product of the signed bottom half of `a` and
    /// the signed top half of `b`.
    #[inline(always)]
    fn smlabt(a: u32, b: u32, acc: i32) -> i32 {
        acc.wrapping_add(i32::from(a as u16 as i16) * i32::from((b >> 16) as u16 as i16))
    }

    /// `SMLATT Rd, Rn, Rm, Ra`: `acc` plus the product of the signed top halves of `a` and
    /// `b`.
    #[inline(always)]
    fn smlatt(a: u32, b: u32, acc: i32) -> i32 {
        acc.wrapping_add(i32::from((a >> 16) as u16 as i16) * i32::from((b >> 16) as u16 as i16))
    }

    /// `sums[j] += a[j] + b[j] + c[j] + d[j]` (weights as `i8`, up to the shortest length),
    /// four sums per pass (per row one word of weights and four `SXTAB`), then a pair of sums
    /// (per row a halfword and two `SXTAB`), then a last sum.
    #[inline(always)]
    fn four_rows(sums: &mut [i32], rows: [&[u8]; 4]) {
        let (sums, rows) = same_length5(sums, rows);
        let [a, b, c, d] = rows.map(|row| row.chunks_exact(4));
        let whole = sums.len() & !3;
        for ((((s, a), b), c), d) in sums.chunks_exact_mut(4).zip(a).zip(b).zip(c).zip(d) {
            let mut acc = [s[0], s[1], s[2], s[3]];
            for w in [a, b, c, d] {
                let w = word(w);
                acc[0] = Self::sxtab::<0>(acc[0], w);
                acc[1] = Self::sxtab::<8>(acc[1], w);
                acc[2] = Self::sxtab::<16>(acc[2], w);
                acc[3] = Self::sxtab::<24>(acc[3], w);
            }
            s.copy_from_slice(&acc);
        }
        let mut at = whole;
        if sums.len() - at >= 2 {
            let (mut s0, mut s1) = (sums[at], sums[at + 1]);
            for row in rows {
                let half = u32::from(row[at]) | u32::from(row[at + 1]) << 8;
                s0 = Self::sxtab::<0>(s0, half);
                s1 = Self::sxtab::<8>(s1, half);
            }
            (sums[at], sums[at + 1]) = (s0, s1);
            at += 2;
        }
        if at < sums.len() {
            let s = rows
                .iter()
                .fold(sums[at], |s, row| Self::sxtab::<0>(s, u32::from(row[at])));
            sums[at] = s;
        }
    }

    /// `sums[j] += count_a * a[j] + ...` with the counts packed two per word (`ab` holds
    /// `count_a` in its bottom half, `count_b` in its top half; `cd` likewise), four sums per
    /// pass: per row one word of weights, two `SXTB16` and four `SMLAxy`.
    #[inline(always)]
    fn four_rows_scaled(sums: &mut [i32], rows: [&[u8]; 4], ab: u32, cd: u32) {
        let [a, b, c, d] = rows.map(|row| row.chunks_exact(4));
        for ((((s, a), b), c), d) in sums.chunks_exact_mut(4).zip(a).zip(b).zip(c).zip(d) {
            let mut acc = [s[0], s[1], s[2], s[3]];
            for (w, counts, top) in [(a, ab, false), (b, ab, true), (c, cd, false), (d, cd, true)] {
                let w = word(w);
                let (even, odd) = (Self::sxtb16::<0>(w), Self::sxtb16::<8>(w));
                if top {
                    acc[0] = Self::smlabt(even, counts, acc[0]);
                    acc[2] = Self::smlatt(even, counts, acc[2]);
                    acc[1] = Self::smlabt(odd, counts, acc[1]);
                    acc[3] = Self::smlatt(odd, counts, acc[3]);
                } else {
                    acc[0] = Self::smlabb(even, counts, acc[0]);
                    acc[2] = Self::smlatb(even, counts, acc[2]);
                    acc[1] = Self::smlabb(odd, counts, acc[1]);
                    acc[3] = Self::smlatb(odd, counts, acc[3]);
                }
            }
            s.copy_from_slice(&acc);
        }
    }
}
