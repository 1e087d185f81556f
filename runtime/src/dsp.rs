//! Fan-out kernels: add one input's `i8` weight row (times its count) to a run of `i32` sums.
//!
//! These are the static-drive and spike-propagation kernels of every weighted layer (a Dense
//! row, each convolution tap's run of output channels). Each has two implementations with the
//! same results for every input:
//!
//! - a portable element loop (Cortex-M0/M0+, the host);
//! - on Cortex-M4/M7 (`cfg(picospike_dsp)`, set by `build.rs` for `thumbv7em`), a loop over four
//!   weights per 32-bit load, built from the ARMv7E-M DSP instructions `SXTAB` (add a
//!   sign-extended byte of a register: one instruction per synaptic event) and `SXTB16` +
//!   `SMLABB`/`SMLATB` (unpack two bytes into 16-bit halves, multiply-accumulate a half: one
//!   and a half instructions per multiply-add).
//!
//! The four-row kernels ([`add_four_weights`], [`add_four_weights_scaled`]: one pass over the
//! sums for four events, which is how `Dense::accumulate` feeds them on Cortex-M4) go further:
//! their inner loops ([`loops`]) are `asm!` blocks that load and store four sums with one
//! `LDM`/`STM` and keep four row pointers, four sums and the packed counts in registers, which
//! the compiler does not manage from Rust: 1.5 instructions per addition (`SXTAB`), 2 per
//! multiply-add (`SXTB16` + `SMLAxy`), against about 2.6 and 3.4 for the two-row Rust loops.
//!
//! Stable Rust has no intrinsics for these instructions, so [`isa`] wraps each in a one-line
//! `asm!` block; with the loops of [`loops`], these are the only `unsafe` code of the crate.
//! Every wrapper and every loop has a portable twin (the ARM ARM's definition, or the same
//! instruction sequence spelled with the twins); on every target but `thumbv7em` the DSP
//! kernels are built from the twins, so the host tests run the very same kernel code and check
//! it bit-identical to the portable loops, and the QEMU boards check the instructions
//! themselves (their outputs equal the host's bit for bit).
//!
//! Sums never wrap: the loader bounds `fan_in * largest input * 128` by `i32::MAX`, and one
//! product `count * weight` has at most 16 bits (`255 * 128`), as `SMLAxy` needs.

/// Add the `i8` weights to `sums`, element by element: `sums[j] += weights[j] as i8`
/// (up to the shorter length).
#[inline(always)]
pub(crate) fn add_weights(sums: &mut [i32], weights: &[u8]) {
    #[cfg(picospike_dsp)]
    {
        add_weights_dsp(sums, weights);
    }
    #[cfg(not(picospike_dsp))]
    {
        add_weights_portable(sums, weights);
    }
}

/// Add `count` times the `i8` weights to `sums`: `sums[j] += count * weights[j] as i8`, for
/// `count` in `0..=255` (an event's count).
#[inline(always)]
pub(crate) fn add_weights_scaled(sums: &mut [i32], weights: &[u8], count: u8) {
    #[cfg(picospike_dsp)]
    {
        add_weights_scaled_dsp(sums, weights, count);
    }
    #[cfg(not(picospike_dsp))]
    {
        add_weights_scaled_portable(sums, weights, count);
    }
}

/// [`add_weights_scaled`], or [`add_weights`] for a count of one, behind a call: for the
/// events left over from the groups of four, once per layer and step, so that the one-row
/// loops are not inlined again at each of their call sites (760 bytes of flash on Cortex-M4).
#[inline(never)]
pub(crate) fn add_weights_outlined(sums: &mut [i32], weights: &[u8], count: u8) {
    if count == 1 {
        add_weights(sums, weights);
    } else {
        add_weights_scaled(sums, weights, count);
    }
}

/// Add two rows at once: `sums[j] += a[j] as i8 + b[j] as i8` (up to the shortest length).
///
/// One pass over the sums for two events: each sum is loaded and stored once per two weights.
#[inline(always)]
pub(crate) fn add_two_weights(sums: &mut [i32], a: &[u8], b: &[u8]) {
    #[cfg(picospike_dsp)]
    {
        add_two_weights_dsp(sums, a, b);
    }
    #[cfg(not(picospike_dsp))]
    {
        add_two_weights_portable(sums, a, b);
    }
}

/// Add two scaled rows at once: `sums[j] += count_a * a[j] as i8 + count_b * b[j] as i8`
/// (up to the shortest length; counts in `0..=255`, an event's).
#[inline(always)]
pub(crate) fn add_two_weights_scaled(
    sums: &mut [i32],
    a: &[u8],
    count_a: u8,
    b: &[u8],
    count_b: u8,
) {
    #[cfg(picospike_dsp)]
    {
        add_two_weights_scaled_dsp(sums, a, count_a, b, count_b);
    }
    #[cfg(not(picospike_dsp))]
    {
        add_two_weights_scaled_portable(sums, a, count_a, b, count_b);
    }
}

/// Add four rows at once: `sums[j] += a[j] as i8 + b[j] as i8 + c[j] as i8 + d[j] as i8`
/// (up to the shortest length).
///
/// One pass over the sums for four events (Cortex-M4: one `LDM` and one `STM` per four sums
/// and four rows); elsewhere two passes of [`add_two_weights`].
#[inline(always)]
pub(crate) fn add_four_weights(sums: &mut [i32], rows: [&[u8]; 4]) {
    #[cfg(picospike_dsp)]
    {
        add_four_weights_dsp(sums, rows);
    }
    #[cfg(not(picospike_dsp))]
    {
        add_four_weights_portable(sums, rows);
    }
}

/// Add four scaled rows at once: `sums[j] += counts[0] * rows[0][j] as i8 + ...`
/// (up to the shortest length; counts in `0..=255`, events').
#[inline(always)]
pub(crate) fn add_four_weights_scaled(sums: &mut [i32], rows: [&[u8]; 4], counts: [u8; 4]) {
    #[cfg(picospike_dsp)]
    {
        add_four_weights_scaled_dsp(sums, rows, counts);
    }
    #[cfg(not(picospike_dsp))]
    {
        add_four_weights_scaled_portable(sums, rows, counts);
    }
}

/// Add three scaled rows: `sums[j] += counts[0] * rows[0][j] as i8 + ...` (up to the
/// shortest length; counts in `0..=255`).
///
/// On Cortex-M4 the four-row loop with a fourth row of count zero (2.7 instructions per
/// multiply-add, against 3.8 for a two-row and a one-row pass); elsewhere those two passes.
#[inline(always)]
pub(crate) fn add_three_weights_scaled(sums: &mut [i32], rows: [&[u8]; 3], counts: [u8; 3]) {
    #[cfg(picospike_dsp)]
    {
        let [a, b, c] = rows;
        add_four_weights_scaled_dsp(sums, [a, b, c, c], [counts[0], counts[1], counts[2], 0]);
    }
    #[cfg(not(picospike_dsp))]
    {
        let (sums, [a, b, c, _]) = same_length5(sums, [rows[0], rows[1], rows[2], rows[2]]);
        add_two_weights_scaled_portable(sums, a, counts[0], b, counts[1]);
        add_weights_scaled_portable(sums, c, counts[2]);
    }
}

/// [`add_four_weights`] in plain Rust: two passes of [`add_two_weights_portable`] (the
/// Cortex-M0 has too few low registers for four row pointers, four sums and a weight).
#[cfg_attr(picospike_dsp, allow(dead_code))]
#[inline(always)]
pub(crate) fn add_four_weights_portable(sums: &mut [i32], rows: [&[u8]; 4]) {
    let (sums, rows) = same_length5(sums, rows);
    add_two_weights_portable(sums, rows[0], rows[1]);
    add_two_weights_portable(sums, rows[2], rows[3]);
}

/// [`add_four_weights_scaled`] in plain Rust: two passes of
/// [`add_two_weights_scaled_portable`].
#[cfg_attr(picospike_dsp, allow(dead_code))]
#[inline(always)]
pub(crate) fn add_four_weights_scaled_portable(
    sums: &mut [i32],
    rows: [&[u8]; 4],
    counts: [u8; 4],
) {
    let (sums, rows) = same_length5(sums, rows);
    add_two_weights_scaled_portable(sums, rows[0], counts[0], rows[1], counts[1]);
    add_two_weights_scaled_portable(sums, rows[2], counts[2], rows[3], counts[3]);
}

/// The sums and four rows cut to the shortest length.
#[inline(always)]
fn same_length5<'s, 'w>(
    sums: &'s mut [i32],
    rows: [&'w [u8]; 4],
) -> (&'s mut [i32], [&'w [u8]; 4]) {
    let n = rows.iter().fold(sums.len(), |n, row| n.min(row.len()));
    let (sums, _) = sums.split_at_mut(n);
    (sums, rows.map(|row| &row[..n]))
}

/// [`add_four_weights`] with four `SXTAB` per row and four sums, all in [`loops::four_rows`]:
/// per chunk of four sums one `LDM`, four `LDR`, sixteen `SXTAB`, one `STM` and the loop test
/// (1.5 instructions per addition), then a pair of sums (`LDRD`, a halfword per row, `STRD`)
/// and a last sum, so that a short row (a 10-output readout) pays little beyond its additions.
#[cfg_attr(not(picospike_dsp), allow(dead_code))]
#[inline(never)]
pub(crate) fn add_four_weights_dsp(sums: &mut [i32], rows: [&[u8]; 4]) {
    loops::four_rows(sums, rows);
}

/// [`add_four_weights_scaled`] with `SXTB16` and `SMLAxy`: the whole chunks of four sums in
/// [`loops::four_rows_scaled`] (one `LDM`, four `LDR`, eight `SXTB16`, sixteen `SMLAxy`, one
/// `STM` and the loop test: 2 instructions per multiply-add), the last up to three sums
/// element by element.
#[cfg_attr(not(picospike_dsp), allow(dead_code))]
#[inline(never)]
pub(crate) fn add_four_weights_scaled_dsp(sums: &mut [i32], rows: [&[u8]; 4], counts: [u8; 4]) {
    let (sums, rows) = same_length5(sums, rows);
    let whole = sums.len() & !3;
    let (head, tail) = sums.split_at_mut(whole);
    // Two counts per register, one per half: `SMLAxB` reads the first, `SMLAxT` the second.
    let [ca, cb, cc, cd] = counts.map(u32::from);
    let (ab, cd) = (ca | cb << 16, cc | cd << 16);
    loops::four_rows_scaled(head, rows.map(|row| &row[..whole]), ab, cd);
    let [a, b, c, d] = rows.map(|row| &row[whole..]);
    for ((((s, &wa), &wb), &wc), &wd) in tail.iter_mut().zip(a).zip(b).zip(c).zip(d) {
        let acc = isa::smlabb(isa::sxtb16::<0>(u32::from(wa)), ab, *s);
        let acc = isa::smlabt(isa::sxtb16::<0>(u32::from(wb)), ab, acc);
        let acc = isa::smlabb(isa::sxtb16::<0>(u32::from(wc)), cd, acc);
        *s = isa::smlabt(isa::sxtb16::<0>(u32::from(wd)), cd, acc);
    }
}

/// [`add_two_weights`] in plain Rust (not inlined: alone, the loop keeps its pointers in the
/// eight low registers of Cortex-M0).
#[cfg_attr(picospike_dsp, allow(dead_code))]
#[inline(never)]
pub(crate) fn add_two_weights_portable(sums: &mut [i32], a: &[u8], b: &[u8]) {
    for ((s, &wa), &wb) in sums.iter_mut().zip(a).zip(b) {
        *s = s
            .wrapping_add(i32::from(wa as i8))
            .wrapping_add(i32::from(wb as i8));
    }
}

/// [`add_two_weights_scaled`] in plain Rust (not inlined, as [`add_two_weights_portable`]).
///
/// Measured on Cortex-M0 (qemu-microbit, digits demo at 6 steps): 80,434 instructions per
/// inference with this loop, 82,662 with two passes of the unrolled one-row loop instead.
#[cfg_attr(picospike_dsp, allow(dead_code))]
#[inline(never)]
pub(crate) fn add_two_weights_scaled_portable(
    sums: &mut [i32],
    a: &[u8],
    count_a: u8,
    b: &[u8],
    count_b: u8,
) {
    let (count_a, count_b) = (i32::from(count_a), i32::from(count_b));
    for ((s, &wa), &wb) in sums.iter_mut().zip(a).zip(b) {
        *s = s
            .wrapping_add(count_a * i32::from(wa as i8))
            .wrapping_add(count_b * i32::from(wb as i8));
    }
}

/// Three slices cut to the shortest length, so that their chunks and remainders line up.
#[inline(always)]
fn same_length3<'s, 'w>(
    sums: &'s mut [i32],
    a: &'w [u8],
    b: &'w [u8],
) -> (&'s mut [i32], &'w [u8], &'w [u8]) {
    let n = sums.len().min(a.len()).min(b.len());
    let (sums, _) = sums.split_at_mut(n);
    (sums, &a[..n], &b[..n])
}

/// [`add_two_weights`] with two `SXTAB` per sum.
#[cfg_attr(not(picospike_dsp), allow(dead_code))]
#[inline(never)]
pub(crate) fn add_two_weights_dsp(sums: &mut [i32], a: &[u8], b: &[u8]) {
    let (sums, a, b) = same_length3(sums, a, b);
    let mut sum4 = sums.chunks_exact_mut(4);
    let mut a4 = a.chunks_exact(4);
    let mut b4 = b.chunks_exact(4);
    for ((s, wa), wb) in (&mut sum4).zip(&mut a4).zip(&mut b4) {
        let (wa, wb) = (word(wa), word(wb));
        s[0] = isa::sxtab::<0>(isa::sxtab::<0>(s[0], wa), wb);
        s[1] = isa::sxtab::<8>(isa::sxtab::<8>(s[1], wa), wb);
        s[2] = isa::sxtab::<16>(isa::sxtab::<16>(s[2], wa), wb);
        s[3] = isa::sxtab::<24>(isa::sxtab::<24>(s[3], wa), wb);
    }
    for ((s, &wa), &wb) in sum4
        .into_remainder()
        .iter_mut()
        .zip(a4.remainder())
        .zip(b4.remainder())
    {
        *s = isa::sxtab::<0>(isa::sxtab::<0>(*s, u32::from(wa)), u32::from(wb));
    }
}

/// [`add_two_weights_scaled`] with four `SXTB16` and eight `SMLABB`/`SMLATB` per four sums:
/// about 3 instructions per multiply-add with the loads and stores, against 4.5 for one
/// row at a time ([`add_weights_scaled_dsp`]). Not inlined, as the portable loops: inlined
/// into a large caller, the loop spills its partial sums.
#[cfg_attr(not(picospike_dsp), allow(dead_code))]
#[inline(never)]
pub(crate) fn add_two_weights_scaled_dsp(
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
        let (a_even, b_even) = (isa::sxtb16::<0>(wa), isa::sxtb16::<0>(wb));
        s[0] = isa::smlabb(b_even, count_b, isa::smlabb(a_even, count_a, s[0]));
        s[2] = isa::smlatb(b_even, count_b, isa::smlatb(a_even, count_a, s[2]));
        let (a_odd, b_odd) = (isa::sxtb16::<8>(wa), isa::sxtb16::<8>(wb));
        s[1] = isa::smlabb(b_odd, count_b, isa::smlabb(a_odd, count_a, s[1]));
        s[3] = isa::smlatb(b_odd, count_b, isa::smlatb(a_odd, count_a, s[3]));
    }
    for ((s, &wa), &wb) in sum4
        .into_remainder()
        .iter_mut()
        .zip(a4.remainder())
        .zip(b4.remainder())
    {
        let acc = isa::smlabb(isa::sxtb16::<0>(u32::from(wa)), count_a, *s);
        *s = isa::smlabb(isa::sxtb16::<0>(u32::from(wb)), count_b, acc);
    }
}

/// [`add_weights`] in plain Rust.
///
/// A plain element loop: LLVM unrolls it by 16 for Cortex-M0 (`LDRSB` + `LDR` + `ADDS` +
/// `STR` and an offset constant, about 5 instructions per weight); hand-unrolled variants
/// measured worse there, because Thumb-1 `LDRSB` has no immediate offset.
#[cfg_attr(picospike_dsp, allow(dead_code))]
#[inline(never)]
pub(crate) fn add_weights_portable(sums: &mut [i32], weights: &[u8]) {
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
#[cfg_attr(picospike_dsp, allow(dead_code))]
#[inline(never)]
pub(crate) fn add_weights_scaled_portable(sums: &mut [i32], weights: &[u8], count: u8) {
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

/// Both slices cut to the shorter length, so that their chunks and remainders line up.
#[inline(always)]
fn same_length<'s, 'w>(sums: &'s mut [i32], weights: &'w [u8]) -> (&'s mut [i32], &'w [u8]) {
    let n = sums.len().min(weights.len());
    let (sums, _) = sums.split_at_mut(n);
    let (weights, _) = weights.split_at(n);
    (sums, weights)
}

/// Four weights as one little-endian word (one `LDR`; ARMv7-M loads unaligned words).
#[inline(always)]
fn word(w: &[u8]) -> u32 {
    u32::from_le_bytes([w[0], w[1], w[2], w[3]])
}

/// [`add_weights`] with one `SXTAB` per weight.
#[cfg_attr(not(picospike_dsp), allow(dead_code))]
#[inline(always)]
pub(crate) fn add_weights_dsp(sums: &mut [i32], weights: &[u8]) {
    let (sums, weights) = same_length(sums, weights);
    let mut sum4 = sums.chunks_exact_mut(4);
    let mut weight4 = weights.chunks_exact(4);
    for (s, w) in (&mut sum4).zip(&mut weight4) {
        let w = word(w);
        s[0] = isa::sxtab::<0>(s[0], w);
        s[1] = isa::sxtab::<8>(s[1], w);
        s[2] = isa::sxtab::<16>(s[2], w);
        s[3] = isa::sxtab::<24>(s[3], w);
    }
    for (s, &w) in sum4.into_remainder().iter_mut().zip(weight4.remainder()) {
        *s = isa::sxtab::<0>(*s, u32::from(w));
    }
}

/// [`add_weights_scaled`] with two `SXTB16` and four `SMLABB`/`SMLATB` per four weights.
#[cfg_attr(not(picospike_dsp), allow(dead_code))]
#[inline(always)]
pub(crate) fn add_weights_scaled_dsp(sums: &mut [i32], weights: &[u8], count: u8) {
    let count = u32::from(count);
    let (sums, weights) = same_length(sums, weights);
    let mut sum4 = sums.chunks_exact_mut(4);
    let mut weight4 = weights.chunks_exact(4);
    for (s, w) in (&mut sum4).zip(&mut weight4) {
        let w = word(w);
        // Halves (w0, w2) and (w1, w3), each sign-extended to 16 bits.
        let even = isa::sxtb16::<0>(w);
        let odd = isa::sxtb16::<8>(w);
        s[0] = isa::smlabb(even, count, s[0]);
        s[1] = isa::smlabb(odd, count, s[1]);
        s[2] = isa::smlatb(even, count, s[2]);
        s[3] = isa::smlatb(odd, count, s[3]);
    }
    for (s, &w) in sum4.into_remainder().iter_mut().zip(weight4.remainder()) {
        *s = isa::smlabb(isa::sxtb16::<0>(u32::from(w)), count, *s);
    }
}

/// The four-row loops over whole chunks of four sums: `asm!` on `thumbv7em` (one `LDM` and
/// one `STM` per chunk, which the compiler does not emit for `i32` slices, and a register for
/// each row pointer, two counts or a sum, which it runs out of), and everywhere their twins:
/// the same instruction sequence in plain Rust from the [`isa`] twins, which the host tests
/// run against the portable loops.
///
/// Each takes the sums and rows as slices and stays within the shortest length: the unscaled
/// loop handles all of it, the scaled one the whole chunks of four (its rows are the static
/// input's, long; the caller adds the last up to three sums).
mod loops {
    #[cfg(picospike_dsp)]
    pub(super) use arm::{four_rows, four_rows_scaled};
    #[cfg(not(picospike_dsp))]
    pub(super) use {four_rows_scaled_twin as four_rows_scaled, four_rows_twin as four_rows};

    #[cfg(not(picospike_dsp))]
    use super::{isa, word};

    /// `sums[j] += a[j] + b[j] + c[j] + d[j]` (weights as `i8`, up to the shortest length),
    /// four sums per pass (per row one word of weights and four `SXTAB`), then a pair of sums
    /// (per row a halfword and two `SXTAB`), then a last sum.
    #[cfg(not(picospike_dsp))]
    #[inline(always)]
    pub(super) fn four_rows_twin(sums: &mut [i32], rows: [&[u8]; 4]) {
        let (sums, rows) = super::same_length5(sums, rows);
        let [a, b, c, d] = rows.map(|row| row.chunks_exact(4));
        let whole = sums.len() & !3;
        for ((((s, a), b), c), d) in sums.chunks_exact_mut(4).zip(a).zip(b).zip(c).zip(d) {
            let mut acc = [s[0], s[1], s[2], s[3]];
            for w in [a, b, c, d] {
                let w = word(w);
                acc[0] = isa::sxtab::<0>(acc[0], w);
                acc[1] = isa::sxtab::<8>(acc[1], w);
                acc[2] = isa::sxtab::<16>(acc[2], w);
                acc[3] = isa::sxtab::<24>(acc[3], w);
            }
            s.copy_from_slice(&acc);
        }
        let mut at = whole;
        if sums.len() - at >= 2 {
            let (mut s0, mut s1) = (sums[at], sums[at + 1]);
            for row in rows {
                let half = u32::from(row[at]) | u32::from(row[at + 1]) << 8;
                s0 = isa::sxtab::<0>(s0, half);
                s1 = isa::sxtab::<8>(s1, half);
            }
            (sums[at], sums[at + 1]) = (s0, s1);
            at += 2;
        }
        if at < sums.len() {
            let s = rows
                .iter()
                .fold(sums[at], |s, row| isa::sxtab::<0>(s, u32::from(row[at])));
            sums[at] = s;
        }
    }

    /// `sums[j] += count_a * a[j] + ...` with the counts packed two per word (`ab` holds
    /// `count_a` in its bottom half, `count_b` in its top half; `cd` likewise), four sums per
    /// pass: per row one word of weights, two `SXTB16` and four `SMLAxy`.
    #[cfg(not(picospike_dsp))]
    #[inline(always)]
    pub(super) fn four_rows_scaled_twin(sums: &mut [i32], rows: [&[u8]; 4], ab: u32, cd: u32) {
        let [a, b, c, d] = rows.map(|row| row.chunks_exact(4));
        for ((((s, a), b), c), d) in sums.chunks_exact_mut(4).zip(a).zip(b).zip(c).zip(d) {
            let mut acc = [s[0], s[1], s[2], s[3]];
            for (w, counts, top) in [(a, ab, false), (b, ab, true), (c, cd, false), (d, cd, true)] {
                let w = word(w);
                let (even, odd) = (isa::sxtb16::<0>(w), isa::sxtb16::<8>(w));
                if top {
                    acc[0] = isa::smlabt(even, counts, acc[0]);
                    acc[2] = isa::smlatt(even, counts, acc[2]);
                    acc[1] = isa::smlabt(odd, counts, acc[1]);
                    acc[3] = isa::smlatt(odd, counts, acc[3]);
                } else {
                    acc[0] = isa::smlabb(even, counts, acc[0]);
                    acc[2] = isa::smlatb(even, counts, acc[2]);
                    acc[1] = isa::smlabb(odd, counts, acc[1]);
                    acc[3] = isa::smlatb(odd, counts, acc[3]);
                }
            }
            s.copy_from_slice(&acc);
        }
    }

    /// The loops themselves, each one `asm!` block over pointers derived from the slices.
    #[cfg(picospike_dsp)]
    #[allow(unsafe_code)]
    mod arm {
        use core::arch::asm;

        /// Elements the scaled loop may touch: the shortest length, rounded down to whole
        /// chunks.
        #[inline(always)]
        fn whole_chunks(sums: &[i32], rows: &[&[u8]; 4]) -> usize {
            rows.iter().fold(sums.len(), |n, row| n.min(row.len())) & !3
        }

        /// [`super::four_rows_twin`] in `asm!`: 24 instructions per chunk of four sums, 15 for
        /// a last pair, 11 for a last single sum.
        #[inline(always)]
        pub(in super::super) fn four_rows(sums: &mut [i32], rows: [&[u8]; 4]) {
            let n = rows.iter().fold(sums.len(), |n, row| n.min(row.len()));
            if n == 0 {
                return;
            }
            let [a, b, c, d] = rows.map(<[u8]>::as_ptr);
            let s = sums.as_mut_ptr();
            let tail = n & 3;
            // SAFETY: `n` is at most the length of `sums` and of every row, so `chunks_end`
            // (`n` rounded down to a multiple of 4) is in bounds. The chunk loop runs
            // `n / 4` times (none when `s == chunks_end`) and loads and stores the words
            // `sums[..n & !3]` (aligned, as `LDM`/`STM` need: `i32` slices are) and loads the
            // bytes `row[..n & !3]` of each row (`LDR` of a possibly unaligned word: ARMv7-M
            // allows it). Then, with `tail = n % 4`: when `tail >= 2`, the next two sums
            // (`LDRD`/`STRD`, word-aligned as they need) and two bytes of each row (`LDRH`,
            // unaligned allowed); when one more is left, one sum and one byte of each row. So
            // every access is below index `n`. `r0`-`r3` and every pointer register are
            // declared clobbered; no stack, and only the flags change.
            unsafe {
                let chunks_end = s.add(n & !3);
                asm!(
                    "cmp {s}, {end}",
                    "beq 3f",
                    "2:",
                    "ldm {s}, {{r0, r1, r2, r3}}",
                    "ldr {w}, [{a}], #4",
                    "sxtab r0, r0, {w}",
                    "sxtab r1, r1, {w}, ror #8",
                    "sxtab r2, r2, {w}, ror #16",
                    "sxtab r3, r3, {w}, ror #24",
                    "ldr {w}, [{b}], #4",
                    "sxtab r0, r0, {w}",
                    "sxtab r1, r1, {w}, ror #8",
                    "sxtab r2, r2, {w}, ror #16",
                    "sxtab r3, r3, {w}, ror #24",
                    "ldr {w}, [{c}], #4",
                    "sxtab r0, r0, {w}",
                    "sxtab r1, r1, {w}, ror #8",
                    "sxtab r2, r2, {w}, ror #16",
                    "sxtab r3, r3, {w}, ror #24",
                    "ldr {w}, [{d}], #4",
                    "sxtab r0, r0, {w}",
                    "sxtab r1, r1, {w}, ror #8",
                    "sxtab r2, r2, {w}, ror #16",
                    "sxtab r3, r3, {w}, ror #24",
                    "stmia {s}!, {{r0, r1, r2, r3}}",
                    "cmp {s}, {end}",
                    "bne 2b",
                    "3:",
                    // The last 0 to 3 sums: a pair, then a single one.
                    "cmp {tail}, #2",
                    "blo 4f",
                    "ldrd r0, r1, [{s}]",
                    "ldrh {w}, [{a}], #2",
                    "sxtab r0, r0, {w}",
                    "sxtab r1, r1, {w}, ror #8",
                    "ldrh {w}, [{b}], #2",
                    "sxtab r0, r0, {w}",
                    "sxtab r1, r1, {w}, ror #8",
                    "ldrh {w}, [{c}], #2",
                    "sxtab r0, r0, {w}",
                    "sxtab r1, r1, {w}, ror #8",
                    "ldrh {w}, [{d}], #2",
                    "sxtab r0, r0, {w}",
                    "sxtab r1, r1, {w}, ror #8",
                    "strd r0, r1, [{s}], #8",
                    "subs {tail}, {tail}, #2",
                    "4:",
                    "cmp {tail}, #0",
                    "beq 5f",
                    "ldr r0, [{s}]",
                    "ldrb {w}, [{a}]",
                    "sxtab r0, r0, {w}",
                    "ldrb {w}, [{b}]",
                    "sxtab r0, r0, {w}",
                    "ldrb {w}, [{c}]",
                    "sxtab r0, r0, {w}",
                    "ldrb {w}, [{d}]",
                    "sxtab r0, r0, {w}",
                    "str r0, [{s}]",
                    "5:",
                    s = inout(reg) s => _,
                    a = inout(reg) a => _,
                    b = inout(reg) b => _,
                    c = inout(reg) c => _,
                    d = inout(reg) d => _,
                    end = in(reg) chunks_end,
                    tail = inout(reg) tail => _,
                    w = out(reg) _,
                    out("r0") _,
                    out("r1") _,
                    out("r2") _,
                    out("r3") _,
                    options(nostack),
                );
            }
        }

        /// [`super::four_rows_scaled_twin`] in `asm!`: 32 instructions per chunk of four sums
        /// (sixteen multiply-adds).
        #[inline(always)]
        pub(in super::super) fn four_rows_scaled(
            sums: &mut [i32],
            rows: [&[u8]; 4],
            ab: u32,
            cd: u32,
        ) {
            let n = whole_chunks(sums, &rows);
            if n == 0 {
                return;
            }
            let [a, b, c, d] = rows.map(<[u8]>::as_ptr);
            let s = sums.as_mut_ptr();
            // SAFETY: the memory accesses are those of the chunk loop of `four_rows` (same
            // bounds argument, with `n` here already a non-zero multiple of 4).
            // The loop needs fourteen registers, one more than `asm!` may be given (`r7` is
            // the Thumb frame pointer, reserved to LLVM), so it saves `r7` on the stack, uses
            // it for the even halves of the weight word, and restores it before it ends: the
            // stack pointer returns to its value (nothing is called in between, so the
            // 4-byte push breaks no alignment rule), and no operand can live in `r7`. Only the
            // flags (and the sticky Q flag, which cannot be set: every product and sum fits,
            // see the module docs) change.
            unsafe {
                let end = s.add(n);
                asm!(
                    "push {{r7}}",
                    "2:",
                    "ldm {s}, {{r0, r1, r2, r3}}",
                    "ldr {w}, [{a}], #4",
                    "sxtb16 r7, {w}",
                    "sxtb16 {w}, {w}, ror #8",
                    "smlabb r0, r7, {ab}, r0",
                    "smlatb r2, r7, {ab}, r2",
                    "smlabb r1, {w}, {ab}, r1",
                    "smlatb r3, {w}, {ab}, r3",
                    "ldr {w}, [{b}], #4",
                    "sxtb16 r7, {w}",
                    "sxtb16 {w}, {w}, ror #8",
                    "smlabt r0, r7, {ab}, r0",
                    "smlatt r2, r7, {ab}, r2",
                    "smlabt r1, {w}, {ab}, r1",
                    "smlatt r3, {w}, {ab}, r3",
                    "ldr {w}, [{c}], #4",
                    "sxtb16 r7, {w}",
                    "sxtb16 {w}, {w}, ror #8",
                    "smlabb r0, r7, {cd}, r0",
                    "smlatb r2, r7, {cd}, r2",
                    "smlabb r1, {w}, {cd}, r1",
                    "smlatb r3, {w}, {cd}, r3",
                    "ldr {w}, [{d}], #4",
                    "sxtb16 r7, {w}",
                    "sxtb16 {w}, {w}, ror #8",
                    "smlabt r0, r7, {cd}, r0",
                    "smlatt r2, r7, {cd}, r2",
                    "smlabt r1, {w}, {cd}, r1",
                    "smlatt r3, {w}, {cd}, r3",
                    "stmia {s}!, {{r0, r1, r2, r3}}",
                    "cmp {s}, {end}",
                    "bne 2b",
                    "pop {{r7}}",
                    s = inout(reg) s => _,
                    a = inout(reg) a => _,
                    b = inout(reg) b => _,
                    c = inout(reg) c => _,
                    d = inout(reg) d => _,
                    end = in(reg) end,
                    ab = in(reg) ab,
                    cd = in(reg) cd,
                    w = out(reg) _,
                    out("r0") _,
                    out("r1") _,
                    out("r2") _,
                    out("r3") _,
                );
            }
        }
    }
}

/// The ARMv7E-M DSP instructions the kernels use: `asm!` on `thumbv7em`, and everywhere their
/// portable twins (the ARM Architecture Reference Manual's definitions, in plain Rust).
pub(crate) mod isa {
    #[cfg(picospike_dsp)]
    pub(crate) use arm::{smlabb, smlabt, smlatb, sxtab, sxtb16};
    #[cfg(not(picospike_dsp))]
    pub(crate) use {
        smlabb_portable as smlabb, smlabt_portable as smlabt, smlatb_portable as smlatb,
        sxtab_portable as sxtab, sxtb16_portable as sxtb16,
    };
    // `SMLATT` appears only in the `asm!` loops; its twin serves their twins.
    #[cfg(not(picospike_dsp))]
    pub(crate) use smlatt_portable as smlatt;

    /// `SXTAB Rd, Rn, Rm, ROR #ROT`: `acc` plus the sign-extended low byte of `word`
    /// rotated right by `ROT` (0, 8, 16 or 24).
    #[cfg_attr(picospike_dsp, allow(dead_code))]
    #[inline(always)]
    pub(crate) fn sxtab_portable<const ROT: u32>(acc: i32, word: u32) -> i32 {
        acc.wrapping_add(i32::from(word.rotate_right(ROT) as u8 as i8))
    }

    /// `SXTB16 Rd, Rm, ROR #ROT`: bytes 0 and 2 of `word` rotated right by `ROT`, each
    /// sign-extended into a 16-bit half.
    #[cfg_attr(picospike_dsp, allow(dead_code))]
    #[inline(always)]
    pub(crate) fn sxtb16_portable<const ROT: u32>(word: u32) -> u32 {
        let r = word.rotate_right(ROT);
        let low = i16::from(r as u8 as i8) as u16;
        let high = i16::from((r >> 16) as u8 as i8) as u16;
        u32::from(low) | u32::from(high) << 16
    }

    /// `SMLABB Rd, Rn, Rm, Ra`: `acc` plus the product of the signed bottom halves of `a`
    /// and `b` (wrapping; the instruction also sets the sticky Q flag, which nothing reads).
    #[cfg_attr(picospike_dsp, allow(dead_code))]
    #[inline(always)]
    pub(crate) fn smlabb_portable(a: u32, b: u32, acc: i32) -> i32 {
        acc.wrapping_add(i32::from(a as u16 as i16) * i32::from(b as u16 as i16))
    }

    /// `SMLATB Rd, Rn, Rm, Ra`: `acc` plus the product of the signed top half of `a` and the
    /// signed bottom half of `b`.
    #[cfg_attr(picospike_dsp, allow(dead_code))]
    #[inline(always)]
    pub(crate) fn smlatb_portable(a: u32, b: u32, acc: i32) -> i32 {
        acc.wrapping_add(i32::from((a >> 16) as u16 as i16) * i32::from(b as u16 as i16))
    }

    /// `SMLABT Rd, Rn, Rm, Ra`: `acc` plus the product of the signed bottom half of `a` and
    /// the signed top half of `b`.
    #[cfg_attr(picospike_dsp, allow(dead_code))]
    #[inline(always)]
    pub(crate) fn smlabt_portable(a: u32, b: u32, acc: i32) -> i32 {
        acc.wrapping_add(i32::from(a as u16 as i16) * i32::from((b >> 16) as u16 as i16))
    }

    /// `SMLATT Rd, Rn, Rm, Ra`: `acc` plus the product of the signed top halves of `a` and
    /// `b`.
    #[cfg_attr(picospike_dsp, allow(dead_code))]
    #[inline(always)]
    pub(crate) fn smlatt_portable(a: u32, b: u32, acc: i32) -> i32 {
        acc.wrapping_add(i32::from((a >> 16) as u16 as i16) * i32::from((b >> 16) as u16 as i16))
    }

    /// The instructions themselves. Each block reads its input registers and writes one
    /// output register, touching no memory, no stack and (except the sticky Q flag of the
    /// multiply-accumulates) no flags.
    #[cfg(picospike_dsp)]
    #[allow(unsafe_code)]
    mod arm {
        use core::arch::asm;

        /// `SXTAB`, see [`super::sxtab_portable`].
        #[inline(always)]
        pub(crate) fn sxtab<const ROT: u32>(acc: i32, word: u32) -> i32 {
            let out: i32;
            if ROT == 0 {
                // SAFETY: a register-only ARMv7E-M instruction (thumbv7em always has the DSP
                // extension): no memory access, no stack, flags untouched.
                unsafe {
                    asm!("sxtab {out}, {acc}, {word}", out = lateout(reg) out, acc = in(reg) acc,
                         word = in(reg) word, options(pure, nomem, nostack, preserves_flags));
                }
            } else {
                // SAFETY: as above; ROT is one of the encodable rotations 8, 16, 24.
                unsafe {
                    asm!("sxtab {out}, {acc}, {word}, ror #{rot}", out = lateout(reg) out,
                         acc = in(reg) acc, word = in(reg) word, rot = const ROT,
                         options(pure, nomem, nostack, preserves_flags));
                }
            }
            out
        }

        /// `SXTB16`, see [`super::sxtb16_portable`].
        #[inline(always)]
        pub(crate) fn sxtb16<const ROT: u32>(word: u32) -> u32 {
            let out: u32;
            if ROT == 0 {
                // SAFETY: a register-only ARMv7E-M instruction: no memory, no stack, no flags.
                unsafe {
                    asm!("sxtb16 {out}, {word}", out = lateout(reg) out, word = in(reg) word,
                         options(pure, nomem, nostack, preserves_flags));
                }
            } else {
                // SAFETY: as above; ROT is one of the encodable rotations 8, 16, 24.
                unsafe {
                    asm!("sxtb16 {out}, {word}, ror #{rot}", out = lateout(reg) out,
                         word = in(reg) word, rot = const ROT,
                         options(pure, nomem, nostack, preserves_flags));
                }
            }
            out
        }

        /// `SMLABB`, see [`super::smlabb_portable`].
        #[inline(always)]
        pub(crate) fn smlabb(a: u32, b: u32, acc: i32) -> i32 {
            let out: i32;
            // SAFETY: a register-only ARMv7E-M instruction: no memory, no stack; it may set
            // the sticky Q flag (flags are not declared preserved).
            unsafe {
                asm!("smlabb {out}, {a}, {b}, {acc}", out = lateout(reg) out, a = in(reg) a,
                     b = in(reg) b, acc = in(reg) acc, options(pure, nomem, nostack));
            }
            out
        }

        /// `SMLABT`, see [`super::smlabt_portable`].
        #[inline(always)]
        pub(crate) fn smlabt(a: u32, b: u32, acc: i32) -> i32 {
            let out: i32;
            // SAFETY: as for `smlabb`.
            unsafe {
                asm!("smlabt {out}, {a}, {b}, {acc}", out = lateout(reg) out, a = in(reg) a,
                     b = in(reg) b, acc = in(reg) acc, options(pure, nomem, nostack));
            }
            out
        }

        /// `SMLATB`, see [`super::smlatb_portable`].
        #[inline(always)]
        pub(crate) fn smlatb(a: u32, b: u32, acc: i32) -> i32 {
            let out: i32;
            // SAFETY: as for `smlabb`.
            unsafe {
                asm!("smlatb {out}, {a}, {b}, {acc}", out = lateout(reg) out, a = in(reg) a,
                     b = in(reg) b, acc = in(reg) acc, options(pure, nomem, nostack));
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::isa::*;
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
        assert_eq!(sxtab_portable::<0>(acc, word), expected(0));
        assert_eq!(sxtab_portable::<8>(acc, word), expected(8));
        assert_eq!(sxtab_portable::<16>(acc, word), expected(16));
        assert_eq!(sxtab_portable::<24>(acc, word), expected(24));
        let halves = |rot: u32| {
            let low = sign_extend_8(byte(word, rot / 8)) as u32 & 0xFFFF;
            let high = sign_extend_8(byte(word, (rot / 8 + 2) % 4)) as u32 & 0xFFFF;
            high << 16 | low
        };
        assert_eq!(sxtb16_portable::<0>(word), halves(0));
        assert_eq!(sxtb16_portable::<8>(word), halves(8));
        assert_eq!(sxtb16_portable::<16>(word), halves(16));
        assert_eq!(sxtb16_portable::<24>(word), halves(24));
        let b = word.rotate_left(13);
        assert_eq!(
            smlabb_portable(word, b, acc),
            acc.wrapping_add(sign_extend_16(word).wrapping_mul(sign_extend_16(b)))
        );
        assert_eq!(
            smlatb_portable(word, b, acc),
            acc.wrapping_add(sign_extend_16(word >> 16).wrapping_mul(sign_extend_16(b)))
        );
        assert_eq!(
            smlabt_portable(word, b, acc),
            acc.wrapping_add(sign_extend_16(word).wrapping_mul(sign_extend_16(b >> 16)))
        );
        assert_eq!(
            smlatt_portable(word, b, acc),
            acc.wrapping_add(sign_extend_16(word >> 16).wrapping_mul(sign_extend_16(b >> 16)))
        );
    }

    #[test]
    fn portable_twins_follow_the_arm_definitions_on_edges() {
        assert_eq!(sxtb16_portable::<0>(0x807F_01FF), 0x007F_FFFF);
        assert_eq!(sxtb16_portable::<8>(0x807F_01FF), 0xFF80_0001);
        assert_eq!(sxtab_portable::<24>(10, 0x8000_0000), 10 - 128);
        assert_eq!(smlabb_portable(0xFFFF, 0x8000, 0), 32_768);
        assert_eq!(smlatb_portable(0x8000_0000, 0x7FFF, 1), 1 - 32_768 * 32_767);
        assert_eq!(smlabt_portable(0x7FFF, 0x8000_0000, 1), 1 - 32_768 * 32_767);
        assert_eq!(
            smlatt_portable(0xFF80_0000, 0x00FF_1234, -5),
            -5 - 128 * 255
        );
        assert_eq!(
            smlabb_portable(0x8000, 0x8000, i32::MAX),
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
            add_weights_portable(&mut portable, &weights);
            add_weights_dsp(&mut dsp, &weights);
            prop_assert_eq!(&portable, &dsp);
            let mut expected: Vec<i32> = start[..n].to_vec();
            for (s, &w) in expected.iter_mut().zip(&weights) {
                *s += i32::from(w as i8);
            }
            prop_assert_eq!(&portable, &expected);

            let mut portable = start[..n].to_vec();
            let mut dsp = portable.clone();
            add_weights_scaled_portable(&mut portable, &weights, count);
            add_weights_scaled_dsp(&mut dsp, &weights, count);
            prop_assert_eq!(&portable, &dsp);
            let mut expected: Vec<i32> = start[..n].to_vec();
            for (s, &w) in expected.iter_mut().zip(&weights) {
                *s += i32::from(count) * i32::from(w as i8);
            }
            prop_assert_eq!(&portable, &expected);
            let mut dispatched = start[..n].to_vec();
            add_weights_scaled(&mut dispatched, &weights, count);
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
                    add_weights_scaled_portable(&mut expected[..n], row, count);
                }
                expected
            };
            let ones = expected(&[1; 4]);
            for add in [add_four_weights_portable, add_four_weights_dsp, add_four_weights] {
                let mut got = start[..sums_len].to_vec();
                add(&mut got, rows);
                prop_assert_eq!(&got, &ones);
            }
            let scaled = expected(&counts);
            for add in [
                add_four_weights_scaled_portable,
                add_four_weights_scaled_dsp,
                add_four_weights_scaled,
            ] {
                let mut got = start[..sums_len].to_vec();
                add(&mut got, rows, counts);
                prop_assert_eq!(&got, &scaled);
            }
            let three = [rows[0], rows[1], rows[2]];
            let n3 = three.iter().fold(sums_len, |n, row| n.min(row.len()));
            let mut expected3 = start[..sums_len].to_vec();
            for (row, &count) in three.iter().zip(&counts) {
                add_weights_scaled_portable(&mut expected3[..n3], row, count);
            }
            let mut got = start[..sums_len].to_vec();
            add_three_weights_scaled(&mut got, three, [counts[0], counts[1], counts[2]]);
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
            add_weights_portable(&mut expected[..rows.min(n)], &a);
            add_weights_portable(&mut expected[..rows.min(n)], &b);
            for add in [add_two_weights_portable, add_two_weights_dsp, add_two_weights] {
                let mut got = start[..n].to_vec();
                add(&mut got, &a, &b);
                prop_assert_eq!(&got, &expected);
            }
            let mut expected = start[..n].to_vec();
            add_weights_scaled_portable(&mut expected[..rows.min(n)], &a, count_a);
            add_weights_scaled_portable(&mut expected[..rows.min(n)], &b, count_b);
            for add in [
                add_two_weights_scaled_portable,
                add_two_weights_scaled_dsp,
                add_two_weights_scaled,
            ] {
                let mut got = start[..n].to_vec();
                add(&mut got, &a, count_a, &b, count_b);
                prop_assert_eq!(&got, &expected);
            }
        }
    }
}
