//! Option values checked when the command line is parsed (clap value parsers): each range is
//! stated once, here, and an option outside it is an error naming the option.

fn parse_f64(s: &str) -> std::result::Result<f64, String> {
    s.trim()
        .parse::<f64>()
        .map_err(|_| format!("{s:?} is not a number"))
}

/// A fraction strictly between 0 and 1.
pub(crate) fn fraction(s: &str) -> std::result::Result<f64, String> {
    let x = parse_f64(s)?;
    if x > 0.0 && x < 1.0 {
        Ok(x)
    } else {
        Err(format!("{s}: expected a fraction strictly between 0 and 1"))
    }
}

/// A fraction in [0, 1) (0 disables).
pub(crate) fn fraction_or_zero(s: &str) -> std::result::Result<f64, String> {
    let x = parse_f64(s)?;
    if (0.0..1.0).contains(&x) {
        Ok(x)
    } else {
        Err(format!("{s}: expected a number in [0, 1)"))
    }
}

/// A finite number greater than 0 (time constants, rates, scales).
pub(crate) fn positive(s: &str) -> std::result::Result<f32, String> {
    let x = parse_f64(s)?;
    if x.is_finite() && x > 0.0 && x as f32 > 0.0 {
        Ok(x as f32)
    } else {
        Err(format!("{s}: expected a positive number"))
    }
}

/// A finite number at least 0 (a synapse of 0 means none).
pub(crate) fn non_negative(s: &str) -> std::result::Result<f32, String> {
    let x = parse_f64(s)?;
    if x.is_finite() && x >= 0.0 {
        Ok(x as f32)
    } else {
        Err(format!("{s}: expected a number >= 0"))
    }
}

/// A finite number at least 0, as f64 (weight decay).
pub(crate) fn non_negative_f64(s: &str) -> std::result::Result<f64, String> {
    non_negative(s).and_then(|_| parse_f64(s))
}

/// A finite positive number, as f64 (learning rate).
pub(crate) fn positive_f64(s: &str) -> std::result::Result<f64, String> {
    positive(s).and_then(|_| parse_f64(s))
}

/// Most epochs `--epochs` and `--regularized-epochs` take: far beyond any useful run, and
/// small enough that nothing sized by the epoch count can exhaust memory.
pub const MAX_EPOCHS: usize = 100_000;

/// Number of epochs: 1 to [`MAX_EPOCHS`].
pub(crate) fn epochs(s: &str) -> std::result::Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if (1..=MAX_EPOCHS).contains(&n) => Ok(n),
        _ => Err(format!(
            "{s}: expected a number of epochs from 1 to {MAX_EPOCHS}"
        )),
    }
}

/// Largest time step a model may record, in seconds (the runtime's model loader refuses more).
pub const MAX_DT_S: f32 = 1.0;

/// A simulation time step: greater than 0 and at most [`MAX_DT_S`] seconds, the bound that
/// `export` (the runtime's loader) applies.
pub(crate) fn dt(s: &str) -> std::result::Result<f32, String> {
    match positive(s) {
        Ok(x) if x <= MAX_DT_S => Ok(x),
        _ => Err(format!(
            "{s}: expected a time step in seconds, greater than 0 and at most {MAX_DT_S}"
        )),
    }
}

/// A count of at least 1.
pub(crate) fn at_least_one(s: &str) -> std::result::Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("{s}: expected a whole number >= 1")),
    }
}

/// Time steps per inference: 1 to the runtime's maximum (65535, its step counter is a `u16`).
pub(crate) fn steps() -> clap::builder::RangedI64ValueParser<u16> {
    clap::value_parser!(u16).range(1..)
}

/// Number of classes: 2 to 256 (labels are bytes).
pub(crate) fn classes(s: &str) -> std::result::Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if (2..=256).contains(&n) => Ok(n),
        _ => Err(format!("{s}: expected a number of classes from 2 to 256")),
    }
}

/// Full scale of raw pixels: 1 to 255.
pub(crate) fn full_scale(s: &str) -> std::result::Result<u16, String> {
    match s.trim().parse::<u16>() {
        Ok(n) if (1..=255).contains(&n) => Ok(n),
        _ => Err(format!("{s}: expected a raw pixel value from 1 to 255")),
    }
}

// ---- data options ----
