//! Saving and loading a [`FloatNetwork`] as JSON, atomically.
//!
//! A save writes a temporary file in the destination's directory and renames it over the
//! destination, so a reader never sees a half-written file and a failed save leaves the old one.

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::network::FloatNetwork;

/// Errors from saving or loading a network file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelFileError {
    /// Reading or writing failed.
    #[error("cannot {action} {path}: {source}")]
    Io {
        /// `"read"` or `"write"`.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The file is not a JSON float network.
    #[error("{path}: not a picospike float network (JSON): {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, synced, then renamed.
///
/// # Errors
/// [`ModelFileError::Io`] naming `path` if the directory is not writable or the rename fails; the
/// previous file, if any, is then left unchanged.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ModelFileError> {
    write_atomic_with(path, |w| w.write_all(bytes))
}

/// Writes whatever `write` produces to `path` atomically: a temporary file in the same
/// directory, synced, then renamed over `path`. On error nothing is left behind and an existing
/// file is untouched.
///
/// # Errors
/// [`ModelFileError::Io`] naming `path` if the directory is not writable or the rename fails.
pub fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<(), ModelFileError> {
    let io_err = |source| ModelFileError::Io {
        action: "write",
        path: path.to_owned(),
        source,
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let tmp = tempfile::NamedTempFile::new_in(dir).map_err(io_err)?;
    {
        let mut w = BufWriter::new(tmp.as_file());
        write(&mut w).map_err(io_err)?;
        w.flush().map_err(io_err)?;
    }
    tmp.as_file().sync_all().map_err(io_err)?;
    tmp.persist(path).map_err(|e| io_err(e.error))?;
    Ok(())
}

/// Writes `value` as pretty JSON to `path` atomically.
///
/// # Errors
/// [`ModelFileError::Io`] naming `path` if the directory is not writable or the rename fails.
pub fn save_json<T: Serialize>(path: &Path, value: &T) -> Result<(), ModelFileError> {
    write_atomic_with(path, |w| {
        serde_json::to_writer_pretty(&mut *w, value)?;
        w.write_all(b"\n")
    })
}

/// Saves a network to `path` (JSON, atomic).
///
/// # Errors
/// See [`save_json`].
pub fn save_network(path: &Path, net: &FloatNetwork) -> Result<(), ModelFileError> {
    save_json(path, net)
}

/// Loads a network saved by [`save_network`].
///
/// # Errors
/// [`ModelFileError::Io`] if the file cannot be read, [`ModelFileError::Parse`] if it is not a network.
pub fn load_network(path: &Path) -> Result<FloatNetwork, ModelFileError> {
    let text = std::fs::read(path).map_err(|source| ModelFileError::Io {
        action: "read",
        path: path.to_owned(),
        source,
    })?;
    serde_json::from_slice(&text).map_err(|source| ModelFileError::Parse {
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::{FloatLayer, InputEncoding, Neuron, Synapse};

    fn net() -> FloatNetwork {
        FloatNetwork {
            dt: 0.001,
            input: InputEncoding {
                size: 1,
                full_scale: 16,
                timesteps: 50,
            },
            layers: vec![FloatLayer {
                inputs: 1,
                outputs: 2,
                weights: vec![0.1, -2.5e-7],
                biases: vec![1.0, f32::MIN_POSITIVE],
                neuron: Neuron::Readout,
                synapse: Synapse::Lowpass { tau: 0.005 },
            }],
        }
    }

    #[test]
    fn roundtrip_is_exact_and_leaves_no_temp_file() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("m.json");
        save_network(&p, &net()).unwrap();
        save_network(&p, &net()).unwrap(); // overwrite
        assert_eq!(load_network(&p).unwrap(), net());
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
        let b = d.path().join("blob.bin");
        write_atomic(&b, &[1, 2, 3]).unwrap();
        assert_eq!(std::fs::read(&b).unwrap(), vec![1, 2, 3]);
    }

    #[test]
    fn errors_name_the_file() {
        let d = tempfile::tempdir().unwrap();
        let e = save_network(&d.path().join("no/such/dir/m.json"), &net()).unwrap_err();
        assert!(e.to_string().contains("no/such/dir/m.json"), "{e}");
        let p = d.path().join("bad.json");
        std::fs::write(&p, b"{\"dt\": 1}").unwrap();
        let e = load_network(&p).unwrap_err();
        assert!(matches!(e, ModelFileError::Parse { .. }));
        assert!(e.to_string().contains("bad.json"), "{e}");
        assert!(matches!(
            load_network(&d.path().join("x")),
            Err(ModelFileError::Io { .. })
        ));
    }
}
