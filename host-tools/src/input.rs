//! Bounded reads of whole files: a model, a network, anything read into memory at once.
//!
//! Every file the tools read whole has an upper bound suited to its kind, and reading stops one
//! byte past it, so `/dev/zero`, a FIFO that never ends or a mistaken multi-gigabyte file fail at
//! once with an error naming the file and the bound, instead of filling memory. Data sets are
//! streamed with their own bounds (see [`crate::data`]).

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// Largest model file read: 16 MiB, far above the flash of any target the format serves.
pub const MAX_MODEL_BYTES: u64 = 16 << 20;

/// Largest network JSON read: 64 MiB (a few million float parameters as text).
pub const MAX_NETWORK_BYTES: u64 = 64 << 20;

/// Errors from [`read_bounded`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// The file could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The file holds more than the bound for its kind.
    #[error("{path}: not a {what} (larger than the {limit}-byte limit)")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// What the file was expected to be (`"picospike model"`, ...).
        what: &'static str,
        /// The bound in bytes.
        limit: u64,
    },
}

/// Reads the whole of `path` if it holds at most `limit` bytes; `what` names the expected kind
/// of file in the error.
///
/// A regular file's size is checked before reading; anything else (a device, a FIFO) is read up
/// to `limit + 1` bytes, and memory grows with what is actually read, never with a size claimed
/// by the file.
///
/// # Errors
/// [`InputError::Io`] if the file cannot be read (a directory among others),
/// [`InputError::TooLarge`] past the bound.
pub fn read_bounded(path: &Path, limit: u64, what: &'static str) -> Result<Vec<u8>, InputError> {
    let io_err = |source| InputError::Io {
        path: path.to_owned(),
        source,
    };
    let too_large = || InputError::TooLarge {
        path: path.to_owned(),
        what,
        limit,
    };
    let file = File::open(path).map_err(io_err)?;
    let meta = file.metadata().map_err(io_err)?;
    if meta.is_dir() {
        return Err(io_err(io::Error::other(
            "it is a directory, expected a file",
        )));
    }
    if meta.is_file() && meta.len() > limit {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io_err)?;
    if bytes.len() as u64 > limit {
        return Err(too_large());
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_small_files_and_refuses_large_ones() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("m.pspk");
        std::fs::write(&p, [7u8; 10]).unwrap();
        assert_eq!(read_bounded(&p, 10, "model").unwrap(), vec![7; 10]);
        let e = read_bounded(&p, 9, "picospike model").unwrap_err();
        assert!(matches!(e, InputError::TooLarge { limit: 9, .. }));
        assert!(e.to_string().contains("m.pspk") && e.to_string().contains("9-byte"));
        assert!(matches!(
            read_bounded(d.path(), 10, "model"),
            Err(InputError::Io { .. })
        ));
    }

    #[cfg(unix)]
    #[test]
    fn an_endless_device_stops_at_the_bound() {
        let e = read_bounded(Path::new("/dev/zero"), 1 << 20, "model").unwrap_err();
        assert!(matches!(e, InputError::TooLarge { .. }), "{e}");
    }
}
