//! A slice in runs of `n` elements (a feature map's pixels, each a run of channels).

/// `slice` in runs of `n` (a last shorter run left out; `n` of 0 counts as 1): `chunks_exact`
/// where a division is an instruction, and on Cortex-M0, where it is a library call and these
/// run every step, an iterator that splits as it goes instead of dividing for the remainder.
#[inline(always)]
pub(crate) fn runs<T>(slice: &[T], n: usize) -> impl Iterator<Item = &[T]> {
    let n = n.max(1);
    #[cfg(any(picospike_long_multiply, not(target_arch = "arm")))]
    {
        slice.chunks_exact(n)
    }
    #[cfg(not(any(picospike_long_multiply, not(target_arch = "arm"))))]
    {
        let mut rest = slice;
        core::iter::from_fn(move || {
            let (run, tail) = rest.split_at_checked(n)?;
            rest = tail;
            Some(run)
        })
    }
}

/// [`runs`] of a mutable slice.
#[inline(always)]
pub(crate) fn runs_mut<T>(slice: &mut [T], n: usize) -> impl Iterator<Item = &mut [T]> {
    let n = n.max(1);
    #[cfg(any(picospike_long_multiply, not(target_arch = "arm")))]
    {
        slice.chunks_exact_mut(n)
    }
    #[cfg(not(any(picospike_long_multiply, not(target_arch = "arm"))))]
    {
        let mut rest = slice;
        core::iter::from_fn(move || {
            let (run, tail) = core::mem::take(&mut rest).split_at_mut_checked(n)?;
            rest = tail;
            Some(run)
        })
    }
}
