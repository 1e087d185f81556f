//! The Cortex-M4/M7 fan-out kernels: four weights per 32-bit load, through the ARMv7E-M DSP
//! instructions (`SXTAB`; `SXTB16` with `SMLABB`/`SMLATB`), and the four-row `asm!` loops.
//!
//! Written against [`Isa`]: on `thumbv7em` the instructions themselves (`super::arm`), on the
//! host their portable twins ([`super::isa::Twins`]), so that the tests run this very code.

use core::marker::PhantomData;

use super::fan_out::FanOut;
use super::isa::Isa;
use super::slices::{same_length, same_length3, same_length5, word};

/// The DSP kernels on the instructions `I`, as a [`FanOut`] implementation.
pub(crate) struct Dsp<I>(PhantomData<I>);

impl<I: Isa> FanOut for Dsp<I> {
    const GROUPS_OF_FOUR: bool = true;

    #[inline(always)]
    fn add_weights(sums: &mut [i32], weights: &[u8]) {
        add_weights::<I>(sums, weights);
    }

    #[inline(always)]
    fn add_weights_scaled(sums: &mut [i32], weights: &[u8], count: u8) {
        add_weights_scaled::<I>(sums, weights, count);
    }

    #[inline(always)]
    fn add_two_weights(sums: &mut [i32], a: &[u8], b: &[u8]) {
        add_two_weights::<I>(sums, a, b);
    }

    #[inline(always)]
    fn add_two_weights_scaled(sums: &mut [i32], a: &[u8], count_a: u8, b: &[u8], count_b: u8) {
        add_two_weights_scaled::<I>(sums, a, count_a, b, count_b);
    }

    /// The four-row loop with a fourth row of count zero (2.7 instructions per multiply-add,
    /// against 3.8 for a two-row and a one-row pass).
    #[inline(always)]
    fn add_three_weights_scaled(sums: &mut [i32], rows: [&[u8]; 3], counts: [u8; 3]) {
        let [a, b, c] = rows;
        add_four_weights_scaled::<I>(sums, [a, b, c, c], [counts[0], counts[1], counts[2], 0]);
    }

    #[inline(always)]
    fn add_four_weights(sums: &mut [i32], rows: [&[u8]; 4]) {
        add_four_weights::<I>(sums, rows);
    }

    #[inline(always)]
    fn add_four_weights_scaled(sums: &mut [i32], rows: [&[u8]; 4], counts: [u8; 4]) {
        add_four_weights_scaled::<I>(sums, rows, counts);
    }
}

/// [`add_weights`] with one `SXTAB` per weight.
#[inline(always)]
pub(super) fn add_weights<I: Isa>(sums: &mut [i32], weights: &[u8]) {
    let (sums, weights) = same_length(sums, weights);
    let mut sum4 = sums.chunks_exact_mut(4);
    let mut weight4 = weights.chunks_exact(4);
    for (s, w) in (&mut sum4).zip(&mut weight4) {
        let w = word(w);
        s[0] = I::sxtab::<0>(s[0], w);
        s[1] = I::sxtab::<8>(s[1], w);
        s[2] = I::sxtab::<16>(s[2], w);
        s[3] = I::sxtab::<24>(s[3], w);
    }
    for (s, &w) in sum4.into_remainder().iter_mut().zip(weight4.remainder()) {
        *s = I::sxtab::<0>(*s, u32::from(w));
    }
}

/// [`add_weights_scaled`] with two `SXTB16` and four `SMLABB`/`SMLATB` per four weights.
#[inline(always)]
pub(super) fn add_weights_scaled<I: Isa>(sums: &mut [i32], weights: &[u8], count: u8) {
    let count = u32::from(count);
    let (sums, weights) = same_length(sums, weights);
    let mut sum4 = sums.chunks_exact_mut(4);
    let mut weight4 = weights.chunks_exact(4);
    for (s, w) in (&mut sum4).zip(&mut weight4) {
        let w = word(w);
        // Halves (w0, w2) and (w1, w3), each sign-extended to 16 bits.
        let even = I::sxtb16::<0>(w);
        let odd = I::sxtb16::<8>(w);
        s[0] = I::smlabb(even, count, s[0]);
        s[1] = I::smlabb(odd, count, s[1]);
        s[2] = I::smlatb(even, count, s[2]);
        s[3] = I::smlatb(odd, count, s[3]);
    }
    for (s, &w) in sum4.into_remainder().iter_mut().zip(weight4.remainder()) {
        *s = I::smlabb(I::sxtb16::<0>(u32::from(w)), count, *s);
    }
}

/// [`add_two_weights`] with two `SXTAB` per sum.
#[inline(never)]
pub(super) fn add_two_weights<I: Isa>(sums: &mut [i32], a: &[u8], b: &[u8]) {
    let (sums, a, b) = same_length3(sums, a, b);
    let mut sum4 = sums.chunks_exact_mut(4);
    let mut a4 = a.chunks_exact(4);
    let mut b4 = b.chunks_exact(4);
    for ((s, wa), wb) in (&mut sum4).zip(&mut a4).zip(&mut b4) {
        let (wa, wb) = (word(wa), word(wb));
        s[0] = I::sxtab::<0>(I::sxtab::<0>(s[0], wa), wb);
        s[1] = I::sxtab::<8>(I::sxtab::<8>(s[1], wa), wb);
        s[2] = I::sxtab::<16>(I::sxtab::<16>(s[2], wa), wb);
        s[3] = I::sxtab::<24>(I::sxtab::<24>(s[3], wa), wb);
    }
    for ((s, &wa), &wb) in sum4
        .into_remainder()
        .iter_mut()
        .zip(a4.remainder())
        .zip(b4.remainder())
    {
        *s = I::sxtab::<0>(I::sxtab::<0>(*s, u32::from(wa)), u32::from(wb));
    }
}

/// [`add_two_weights_scaled`] with four `SXTB16` and eight `SMLABB`/`SMLATB` per four sums:
/// about 3 instructions per multiply-add with the loads and stores, against 4.5 for one
/// row at a time ([`add_weights_scaled`]). Not inlined, as the portable loops: inlined
/// into a large caller, the loop spills its partial sums.
#[inline(never)]
pub(super) fn add_two_weights_scaled<I: Isa>(
    sums: &mut [i32],
    a: &[u8],
    count_a: u8,
    b: &[u8],
    count_b: u8,
) {
    let (count_a, count_b) = (u32::from(count_a), u32::from(count_b));
    let (sums, a, b) = same_length3(sums, a, b);
    let mut sum4 = sums.chunks_exact_mut(4);
    let mut a4 = a.chunks_exact(4);
    let mut b4 = b.chunks_exact(4);
    for ((s, wa), wb) in (&mut sum4).zip(&mut a4).zip(&mut b4) {
        let (wa, wb) = (word(wa), word(wb));
        // Even outputs (0, 2) first, then odd (1, 3): fewer values live at once.
        let (a_even, b_even) = (I::sxtb16::<0>(wa), I::sxtb16::<0>(wb));
        s[0] = I::smlabb(b_even, count_b, I::smlabb(a_even, count_a, s[0]));
        s[2] = I::smlatb(b_even, count_b, I::smlatb(a_even, count_a, s[2]));
        let (a_odd, b_odd) = (I::sxtb16::<8>(wa), I::sxtb16::<8>(wb));
        s[1] = I::smlabb(b_odd, count_b, I::smlabb(a_odd, count_a, s[1]));
        s[3] = I::smlatb(b_odd, count_b, I::smlatb(a_odd, count_a, s[3]));
    }
    for ((s, &wa), &wb) in sum4
        .into_remainder()
        .iter_mut()
        .zip(a4.remainder())
        .zip(b4.remainder())
    {
        let acc = I::smlabb(I::sxtb16::<0>(u32::from(wa)), count_a, *s);
        *s = I::smlabb(I::sxtb16::<0>(u32::from(wb)), count_b, acc);
    }
}

/// [`add_four_weights`] with four `SXTAB` per row and four sums, all in [`Isa::four_rows`]:
/// per chunk of four sums one `LDM`, four `LDR`, sixteen `SXTAB`, one `STM` and the loop test
/// (1.5 instructions per addition), then a pair of sums (`LDRD`, a halfword per row, `STRD`)
/// and a last sum, so that a short row (a 10-output readout) pays little beyond its additions.
#[inline(never)]
pub(super) fn add_four_weights<I: Isa>(sums: &mut [i32], rows: [&[u8]; 4]) {
    I::four_rows(sums, rows);
}

/// [`add_four_weights_scaled`] with `SXTB16` and `SMLAxy`: the whole chunks of four sums in
/// [`Isa::four_rows_scaled`] (one `LDM`, four `LDR`, eight `SXTB16`, sixteen `SMLAxy`, one
/// `STM` and the loop test: 2 instructions per multiply-add), the last up to three sums
/// element by element.
#[inline(never)]
pub(super) fn add_four_weights_scaled<I: Isa>(sums: &mut [i32], rows: [&[u8]; 4], counts: [u8; 4]) {
    let (sums, rows) = same_length5(sums, rows);
    let whole = sums.len() & !3;
    let (head, tail) = sums.split_at_mut(whole);
    // Two counts per register, one per half: `SMLAxB` reads the first, `SMLAxT` the second.
    let [ca, cb, cc, cd] = counts.map(u32::from);
    let (ab, cd) = (ca | cb << 16, cc | cd << 16);
    I::four_rows_scaled(head, rows.map(|row| &row[..whole]), ab, cd);
    let [a, b, c, d] = rows.map(|row| &row[whole..]);
    for ((((s, &wa), &wb), &wc), &wd) in tail.iter_mut().zip(a).zip(b).zip(c).zip(d) {
        let acc = I::smlabb(I::sxtb16::<0>(u32::from(wa)), ab, *s);
        let acc = I::smlabt(I::sxtb16::<0>(u32::from(wb)), ab, acc);
        let acc = I::smlabb(I::sxtb16::<0>(u32::from(wc)), cd, acc);
        *s = I::smlabt(I::sxtb16::<0>(u32::from(wd)), cd, acc);
    }
}
