//! The one file writer of the host tools: models, Rust modules, reports, CSV and plots.
//!
//! What happens depends on what the destination is:
//!
//! - **A regular file, or nothing yet**: the bytes go to a temporary file with a unique name in the
//!   same directory, which is synced and then renamed over the destination. A reader never sees
//!   a half-written file, and a failed write (full disk, I/O error, no permission) leaves the old
//!   file untouched and no temporary file behind. A new file gets mode `0644` minus the umask,
//!   like any tool's output; an existing file keeps its mode. A symbolic link to a regular file
//!   is followed: the file it points to is replaced, the link stays.
//! - **Anything else** (a character or block device such as `/dev/null` or `/dev/full`, a FIFO,
//!   a socket, `/dev/stdout` when it is a pipe or a terminal): the bytes are written directly
//!   into the existing node, opened for writing without creating or truncating it, so the node is
//!   never replaced. A write error (e.g. `ENOSPC` from `/dev/full`) is an error. Opening a FIFO
//!   waits for a reader, as `cat > fifo` does.
//! - **Standard output** (`-`, `/dev/stdout`, `/dev/fd/1`): written to this process's standard
//!   output, whatever it is (a terminal, a pipe, a file the shell opened), never renamed over.
//!   Commands print their reports to standard error then (see [`is_stdout`]).
//! - **A directory**: an error.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Errors from [`write_atomic`] and [`write_with`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutputError {
    /// Creating, writing, syncing or renaming failed; nothing was left behind.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The destination as given.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The destination is a directory.
    #[error("cannot write {path}: it is a directory, expected a file name")]
    IsDirectory {
        /// The destination as given.
        path: PathBuf,
    },
}

/// Writes `bytes` to `path`: atomically for a regular file, directly for a device, FIFO or
/// socket (see the module docs).
///
/// # Errors
/// [`OutputError`] naming `path`; after an error no partial or temporary file is left behind
/// and an existing regular file is unchanged.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), OutputError> {
    write_with(path, |w| w.write_all(bytes))
}

/// Writes whatever `write` produces to `path`, like [`write_atomic`] (the streaming variant).
///
/// # Errors
/// [`OutputError`] naming `path`, including an error returned by `write`.
pub fn write_with(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<(), OutputError> {
    let io_err = |source| OutputError::Io {
        path: path.to_owned(),
        source,
    };
    if is_stdout(path) {
        let mut out = io::stdout().lock();
        return write(&mut out).and_then(|()| out.flush()).map_err(io_err);
    }
    match fs::metadata(path) {
        Ok(meta) if meta.is_dir() => Err(OutputError::IsDirectory {
            path: path.to_owned(),
        }),
        Ok(meta) if meta.is_file() => {
            // Replace what a symbolic link points to, not the link itself.
            let target = if fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
                fs::canonicalize(path).map_err(io_err)?
            } else {
                path.to_owned()
            };
            replace_regular(&target, Some(meta.permissions()), write).map_err(io_err)
        }
        Ok(_) => write_special(path, write).map_err(io_err),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            replace_regular(path, None, write).map_err(io_err)
        }
        Err(e) => Err(io_err(e)),
    }
}

/// Whether `path` names standard output: `-`, `/dev/stdout`, `/dev/fd/1` or `/proc/self/fd/1`.
///
/// A command writing its result there prints its own report to standard error instead, so the
/// two never mix.
pub fn is_stdout(path: &Path) -> bool {
    ["-", "/dev/stdout", "/dev/fd/1", "/proc/self/fd/1"]
        .iter()
        .any(|name| path == Path::new(name))
}

/// Writes into an existing node that is not a regular file, without creating or truncating it.
fn write_special(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let file = OpenOptions::new().write(true).open(path)?;
    let mut w = BufWriter::new(file);
    write(&mut w)?;
    w.flush()
}

/// Distinguishes temporary files of concurrent writes in one process.
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Creates a new, uniquely named file beside `path` (mode 0644 minus the umask).
fn create_temp(path: &Path) -> io::Result<(File, PathBuf)> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let base = path.file_name().unwrap_or_default();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let mut last = None;
    for _ in 0..64 {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let mut name = OsString::from(".");
        name.push(base);
        name.push(format!(".{}.{nanos:x}.{n}.tmp", std::process::id()));
        let tmp = dir.join(name);
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o644);
        match options.open(&tmp) {
            Ok(file) => return Ok((file, tmp)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no free temporary file name")))
}

/// Temporary file, write, sync, rename; the temporary file is removed on any error.
fn replace_regular(
    path: &Path,
    keep: Option<fs::Permissions>,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let (file, tmp) = create_temp(path)?;
    let result = (|| {
        let mut w = BufWriter::new(&file);
        write(&mut w)?;
        w.flush()?;
        drop(w);
        if let Some(permissions) = keep {
            file.set_permissions(permissions)?;
        }
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
        return result;
    }
    // Make the rename itself durable; not every file system can sync a directory, so this is
    // best effort (the data are already synced).
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(unix)]
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn standard_output_names() {
        for name in ["-", "/dev/stdout", "/dev/fd/1"] {
            assert!(is_stdout(Path::new(name)), "{name}");
        }
        assert!(!is_stdout(Path::new("./-")) && !is_stdout(Path::new("out.pspk")));
    }

    #[test]
    fn new_and_existing_files_are_replaced_without_leftovers() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a.bin");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(names(d.path()), vec!["a.bin"]);
    }

    #[cfg(unix)]
    #[test]
    fn new_files_are_not_private_and_existing_modes_are_kept() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("m.pspk");
        write_atomic(&p, b"x").unwrap();
        let mode = fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        // 0644 minus whatever the umask removes: never more, and readable by its owner.
        assert_eq!(mode & !0o644, 0, "{mode:o}");
        assert_ne!(mode & 0o600, 0, "{mode:o}");
        fs::set_permissions(&p, fs::Permissions::from_mode(0o640)).unwrap();
        write_atomic(&p, b"y").unwrap();
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o640
        );
    }

    #[test]
    fn a_failing_writer_leaves_the_old_file_and_no_temp_file() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("r.json");
        write_atomic(&p, b"old").unwrap();
        let e = write_with(&p, |w| {
            w.write_all(b"partial")?;
            Err(io::Error::other("disk on fire"))
        })
        .unwrap_err();
        assert!(e.to_string().contains("r.json"), "{e}");
        assert_eq!(fs::read(&p).unwrap(), b"old");
        assert_eq!(names(d.path()), vec!["r.json"]);
    }

    #[test]
    fn directories_and_missing_parents_are_errors() {
        let d = tempfile::tempdir().unwrap();
        assert!(matches!(
            write_atomic(d.path(), b"x"),
            Err(OutputError::IsDirectory { .. })
        ));
        let e = write_atomic(&d.path().join("no/such/x"), b"x").unwrap_err();
        assert!(e.to_string().contains("no/such/x"), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn devices_are_written_in_place_and_full_disks_are_errors() {
        write_atomic(Path::new("/dev/null"), b"discarded").unwrap();
        assert!(fs::metadata("/dev/null")
            .unwrap()
            .file_type()
            .is_char_device());
        if Path::new("/dev/full").exists() {
            let e = write_atomic(Path::new("/dev/full"), &[0u8; 100_000]).unwrap_err();
            assert!(e.to_string().contains("/dev/full"), "{e}");
            assert!(!fs::metadata("/dev/full").unwrap().is_file());
        }
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_to_files_are_followed() {
        let d = tempfile::tempdir().unwrap();
        let target = d.path().join("target.csv");
        fs::write(&target, b"old").unwrap();
        let link = d.path().join("link.csv");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        write_atomic(&link, b"new").unwrap();
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(fs::read(&target).unwrap(), b"new");
    }
}
