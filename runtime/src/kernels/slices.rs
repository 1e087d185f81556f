//! Slices cut to a common length, so that the kernels' chunks and remainders line up, and
//! four weights read as one word.

/// Both slices cut to the shorter length, so that their chunks and remainders line up.
#[inline(always)]
pub(super) fn same_length<'s, 'w>(
    sums: &'s mut [i32],
    weights: &'w [u8],
) -> (&'s mut [i32], &'w [u8]) {
    let n = sums.len().min(weights.len());
    let (sums, _) = sums.split_at_mut(n);
    let (weights, _) = weights.split_at(n);
    (sums, weights)
}

/// Three slices cut to the shortest length, so that their chunks and remainders line up.
#[inline(always)]
pub(super) fn same_length3<'s, 'w>(
    sums: &'s mut [i32],
    a: &'w [u8],
    b: &'w [u8],
) -> (&'s mut [i32], &'w [u8], &'w [u8]) {
    let n = sums.len().min(a.len()).min(b.len());
    let (sums, _) = sums.split_at_mut(n);
    (sums, &a[..n], &b[..n])
}

/// The sums and four rows cut to the shortest length.
#[inline(always)]
pub(super) fn same_length5<'s, 'w>(
    sums: &'s mut [i32],
    rows: [&'w [u8]; 4],
) -> (&'s mut [i32], [&'w [u8]; 4]) {
    let n = rows.iter().fold(sums.len(), |n, row| n.min(row.len()));
    let (sums, _) = sums.split_at_mut(n);
    (sums, rows.map(|row| &row[..n]))
}

/// Four weights as one little-endian word (one `LDR`; ARMv7-M loads unaligned words).
#[inline(always)]
pub(super) fn word(w: &[u8]) -> u32 {
    u32::from_le_bytes([w[0], w[1], w[2], w[3]])
}
