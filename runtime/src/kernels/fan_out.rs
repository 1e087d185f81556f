//! What a set of fan-out kernels provides; `portable` and `dsp` each implement it.

/// A set of fan-out kernels. Each adds rows of `i8` weights, each times its count (`0..=255`,
/// an event's), to `sums`, up to the shortest of the lengths.
pub(crate) trait FanOut {
    /// Whether the layers' event loops take events four at a time (and give a vector input a
    /// loop of its own) for these kernels: the DSP set's four-row kernels pay for it; on a
    /// core without DSP the four-row kernel is two two-row passes, its four row pointers do
    /// not fit the low registers, and the second loop costs flash the micro:bit lacks.
    const GROUPS_OF_FOUR: bool;
    /// `sums[j] += weights[j] as i8`.
    fn add_weights(sums: &mut [i32], weights: &[u8]);
    /// `sums[j] += count * weights[j] as i8`.
    fn add_weights_scaled(sums: &mut [i32], weights: &[u8], count: u8);
    /// `sums[j] += a[j] as i8 + b[j] as i8`, one pass over the sums for two events.
    fn add_two_weights(sums: &mut [i32], a: &[u8], b: &[u8]);
    /// `sums[j] += count_a * a[j] as i8 + count_b * b[j] as i8`.
    fn add_two_weights_scaled(sums: &mut [i32], a: &[u8], count_a: u8, b: &[u8], count_b: u8);
    /// `sums[j] += counts[0] * rows[0][j] as i8 + ... + counts[2] * rows[2][j] as i8`.
    fn add_three_weights_scaled(sums: &mut [i32], rows: [&[u8]; 3], counts: [u8; 3]);
    /// `sums[j] += rows[0][j] as i8 + ... + rows[3][j] as i8`.
    fn add_four_weights(sums: &mut [i32], rows: [&[u8]; 4]);
    /// `sums[j] += counts[0] * rows[0][j] as i8 + ... + counts[3] * rows[3][j] as i8`.
    fn add_four_weights_scaled(sums: &mut [i32], rows: [&[u8]; 4], counts: [u8; 4]);
}
