//! The one file writer of the host tools: models, Rust modules, reports, CSV and plots.
//!
//! What happens depends on what the destination is:
//!
//! - **Nothing yet**: the bytes go to a temporary file with a unique name in the same
//!   directory, which is synced and then renamed to the destination. A reader never sees a
//!   half-written file, and a failed write (full disk, I/O error, no permission) leaves no
//!   temporary file behind. A new file gets mode `0644` minus the umask, like any tool's output.
//! - **A regular file**: replaced the same way, keeping its mode, owner and group, but only if
//!   this process could open it for writing and its mode has a write bit (a write-protected
//!   file, `chmod 444`, is an error, also for root) and it has exactly one link: a file with
//!   hard links is an error, since a rename would cut it off from its other names. Write
//!   elsewhere, or remove it first.
//! - **A symbolic link**: always an error naming it, whether it points to a file, a directory or
//!   nothing; the link is neither followed nor replaced, so a link planted where an output goes
//!   can never redirect a write to an unrelated file. (Links among the *parent* directories of
//!   a path are followed as usual.) The same holds for a directory given to `--out` or
//!   `--rust-module`.
//! - **Anything else** (a character or block device such as `/dev/null` or `/dev/full`, a FIFO,
//!   a socket): the bytes are written directly into the existing node, opened for writing
//!   without following a link, creating or truncating, so the node is never replaced. A write
//!   error (e.g. `ENOSPC` from `/dev/full`) is an error. Opening a FIFO waits for a reader, as
//!   `cat > fifo` does.
//! - **Standard output** (`-`, `/dev/stdout`, `/dev/fd/1`, `/proc/self/fd/1`): written to this
//!   process's standard output, whatever it is, never renamed over. Commands print their reports
//!   to standard error then (see [`is_stdout`]).
//! - **A directory**: an error.
//!
//! **Checked before the work**: a command calls [`check_plan`] with every file it will read and
//! write before it loads data or trains, so a missing directory, a read-only file, a link or an
//! output that names one of the inputs fails at once, not after minutes of training.
//!
//! **No temporary file is ever left behind**, even on a signal: every temporary file is
//! registered while it exists, and `picospike` installs a handler for SIGINT, SIGTERM and SIGHUP
//! that calls [`exit_removing_temporary_files`]. Creating and registering a temporary file, and
//! renaming or removing and unregistering it, each happen under one lock that the handler takes
//! too (and keeps until the process exits), so the handler sees every temporary file that
//! exists and no rename happens after it ran. (SIGKILL cannot be caught: it can leave a
//! `.NAME.PID.*.tmp` file.)

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::{self, File, Metadata, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

/// Errors from [`write_atomic`], [`write_with`] and [`check_plan`].
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
    /// The destination is a symbolic link (refused, never followed nor replaced).
    #[error("cannot write {path}: it is a symbolic link (outputs are never written through or over a link; give the file's own path)")]
    Symlink {
        /// The destination as given.
        path: PathBuf,
    },
    /// The destination exists but this process cannot open it for writing.
    #[error(
        "cannot write {path}: the existing file is not writable ({source}); it is left as it is"
    )]
    NotWritable {
        /// The destination as given.
        path: PathBuf,
        /// The error of opening it for writing.
        #[source]
        source: io::Error,
    },
    /// The destination has more than one hard link.
    #[error("cannot write {path}: the existing file has {links} hard links, which replacing it would break; remove it first or write elsewhere")]
    HardLinks {
        /// The destination as given.
        path: PathBuf,
        /// Its link count.
        links: u64,
    },
    /// The directory an output goes into does not exist or is not a directory.
    #[error("cannot write {path}: {dir} is not an existing directory")]
    NoDirectory {
        /// The destination as given.
        path: PathBuf,
        /// Its parent.
        dir: PathBuf,
    },
    /// An output names one of the command's inputs.
    #[error("cannot write {path}: it is the input {input}, which would be lost")]
    IsInput {
        /// The destination as given.
        path: PathBuf,
        /// The input it names.
        input: PathBuf,
    },
    /// Two outputs of one command name the same file.
    #[error("cannot write {path} twice: it is also {other}")]
    Twice {
        /// One destination.
        path: PathBuf,
        /// The other destination naming the same file.
        other: PathBuf,
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
    match destination(path)? {
        Destination::New => replace_regular(path, None, write).map_err(io_err),
        Destination::Regular(meta) => replace_regular(path, Some(&meta), write).map_err(io_err),
        Destination::Special => write_special(path, write).map_err(io_err),
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

/// What an output path names now.
enum Destination {
    /// Nothing yet (its directory exists).
    New,
    /// A regular file that may be replaced (writable, one link).
    Regular(Metadata),
    /// A device, FIFO or socket: written in place.
    Special,
}

/// Classifies `path` and applies the rules of the module docs.
fn destination(path: &Path) -> Result<Destination, OutputError> {
    let owned = || path.to_owned();
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => Err(OutputError::Symlink { path: owned() }),
        Ok(meta) if meta.is_dir() => Err(OutputError::IsDirectory { path: owned() }),
        Ok(meta) if meta.is_file() => {
            // No write bit at all is a protection even root's runs respect (`chmod 444`).
            if write_protected(&meta) {
                return Err(OutputError::NotWritable {
                    path: owned(),
                    source: io::Error::new(
                        io::ErrorKind::PermissionDenied,
                        "write-protected: no write permission bit",
                    ),
                });
            }
            // Opening for writing (without truncating) asks the kernel what the user may do,
            // whatever the reason (mode, ACL, read-only mount, immutable flag).
            if let Err(source) = OpenOptions::new().write(true).open(path) {
                return Err(OutputError::NotWritable {
                    path: owned(),
                    source,
                });
            }
            let links = link_count(&meta);
            if links > 1 {
                return Err(OutputError::HardLinks {
                    path: owned(),
                    links,
                });
            }
            Ok(Destination::Regular(meta))
        }
        Ok(_) => Ok(Destination::Special),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let dir = parent(path);
            if fs::metadata(dir).is_ok_and(|m| m.is_dir()) {
                Ok(Destination::New)
            } else {
                Err(OutputError::NoDirectory {
                    path: owned(),
                    dir: dir.to_owned(),
                })
            }
        }
        Err(source) => Err(OutputError::Io {
            path: owned(),
            source,
        }),
    }
}

/// Whether no one has write permission (for root too, who could open it anyway).
#[cfg(unix)]
fn write_protected(meta: &Metadata) -> bool {
    std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o222 == 0
}

#[cfg(not(unix))]
fn write_protected(meta: &Metadata) -> bool {
    meta.permissions().readonly()
}

#[cfg(unix)]
fn link_count(meta: &Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::nlink(meta)
}

#[cfg(not(unix))]
fn link_count(_: &Metadata) -> u64 {
    1
}

/// The directory `path` goes into (`.` for a bare name).
fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Checks, before any work, that every output can be written as the module docs say and that
/// none names an input or another output.
///
/// `inputs` are the files the command reads (a directory stands for itself only: pass the
/// files in it that are read). `files` are the files it writes, `dirs` the directories it
/// creates if needed and writes some of `files` into (`--out`, `--rust-module`). A directory
/// that does not exist yet must be creatable under its nearest existing ancestor. Each
/// directory that will receive a new or replaced file is tried by creating and removing a
/// temporary file in it, so a read-only directory fails here too. Nothing is created or
/// changed.
///
/// # Errors
/// The [`OutputError`] of the first output that cannot be written, naming it.
pub fn check_plan(
    inputs: &[PathBuf],
    files: &[PathBuf],
    dirs: &[PathBuf],
) -> Result<(), OutputError> {
    let mut missing_dirs = Vec::new();
    for dir in dirs {
        match fs::symlink_metadata(dir) {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(OutputError::Symlink { path: dir.clone() })
            }
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                return Err(OutputError::NoDirectory {
                    path: dir.clone(),
                    dir: dir.clone(),
                })
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                // Created later: its nearest existing ancestor must be a writable directory.
                let mut ancestor = parent(dir);
                while fs::symlink_metadata(ancestor).is_err() && ancestor != Path::new(".") {
                    ancestor = parent(ancestor);
                }
                if !fs::metadata(ancestor).is_ok_and(|m| m.is_dir()) {
                    return Err(OutputError::NoDirectory {
                        path: dir.clone(),
                        dir: ancestor.to_owned(),
                    });
                }
                probe(ancestor, None).map_err(|source| OutputError::Io {
                    path: dir.clone(),
                    source,
                })?;
                missing_dirs.push(dir.clone());
            }
            Err(source) => {
                return Err(OutputError::Io {
                    path: dir.clone(),
                    source,
                })
            }
        }
    }
    let input_ids: Vec<(FileId, &PathBuf)> = inputs
        .iter()
        .filter_map(|p| fs::metadata(p).ok().map(|m| (FileId::of(&m), p)))
        .collect();
    let mut seen: Vec<(FileId, &PathBuf)> = Vec::new();
    let mut probed: HashSet<PathBuf> = HashSet::new();
    let mut stdout: Option<&PathBuf> = None;
    for path in files {
        if is_stdout(path) {
            if let Some(other) = stdout.replace(path) {
                return Err(OutputError::Twice {
                    path: path.clone(),
                    other: other.clone(),
                });
            }
            continue;
        }
        // A file inside a directory that is yet to be created is new: nothing to check.
        if missing_dirs.iter().any(|d| path.starts_with(d)) {
            continue;
        }
        let (id, special) = match destination(path)? {
            Destination::Special => {
                // Devices may take several outputs (`/dev/null`); never an input's node.
                let meta = fs::metadata(path).map_err(|source| OutputError::Io {
                    path: path.clone(),
                    source,
                })?;
                (FileId::of(&meta), true)
            }
            Destination::Regular(meta) => {
                probe(parent(path), Some(&meta)).map_err(|source| OutputError::Io {
                    path: path.clone(),
                    source,
                })?;
                (FileId::of(&meta), false)
            }
            Destination::New => {
                let dir = parent(path);
                let canonical = fs::canonicalize(dir).map_err(|source| OutputError::Io {
                    path: path.clone(),
                    source,
                })?;
                if probed.insert(canonical.clone()) {
                    probe(dir, None).map_err(|source| OutputError::Io {
                        path: path.clone(),
                        source,
                    })?;
                }
                let name = path.file_name().unwrap_or_default();
                (FileId::New(canonical.join(name)), false)
            }
        };
        if let Some((_, input)) = input_ids.iter().find(|(i, _)| *i == id) {
            return Err(OutputError::IsInput {
                path: path.clone(),
                input: (*input).clone(),
            });
        }
        if !special {
            if let Some((_, other)) = seen.iter().find(|(i, _)| *i == id) {
                return Err(OutputError::Twice {
                    path: path.clone(),
                    other: (*other).clone(),
                });
            }
            seen.push((id, path));
        }
    }
    Ok(())
}

/// Which file a path names: an existing node by device and inode, a new one by its canonical
/// directory and name.
#[derive(Debug, PartialEq, Eq)]
enum FileId {
    Node(u64, u64),
    New(PathBuf),
}

impl FileId {
    #[cfg(unix)]
    fn of(meta: &Metadata) -> Self {
        use std::os::unix::fs::MetadataExt;
        FileId::Node(meta.dev(), meta.ino())
    }

    #[cfg(not(unix))]
    fn of(meta: &Metadata) -> Self {
        FileId::New(PathBuf::from(format!("{:?}", meta.modified().ok())))
    }
}

/// Creates and removes a temporary file in `dir`, giving it `like`'s owner and group as a
/// replacement would get them: whether a write there can succeed.
fn probe(dir: &Path, like: Option<&Metadata>) -> io::Result<()> {
    let (file, tmp) = create_temp(&dir.join("probe"))?;
    let result = like.map_or(Ok(()), |meta| keep_owner(&file, meta));
    drop(file);
    let mut registry = registry();
    let removed = fs::remove_file(&tmp);
    registry.retain(|p| *p != tmp);
    result.and(removed)
}

/// Gives `file` the owner and group of `meta` (the file it replaces), if they differ.
#[cfg(unix)]
fn keep_owner(file: &File, meta: &Metadata) -> io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let now = file.metadata()?;
    if (now.uid(), now.gid()) == (meta.uid(), meta.gid()) {
        return Ok(());
    }
    std::os::unix::fs::fchown(file, Some(meta.uid()), Some(meta.gid())).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!(
                "the replacement cannot be given the existing file's owner {} and group {} ({e}); it is left as it is",
                meta.uid(),
                meta.gid()
            ),
        )
    })
}

#[cfg(not(unix))]
fn keep_owner(_: &File, _: &Metadata) -> io::Result<()> {
    Ok(())
}

/// Writes into an existing node that is not a regular file, without following a link,
/// creating or truncating it.
fn write_special(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NOFOLLOW);
    let file = options.open(path)?;
    if file.metadata()?.is_file() {
        // Replaced by a regular file since it was looked at: never write into one in place.
        return Err(io::Error::other(
            "it became a regular file while being opened; not written",
        ));
    }
    let mut w = BufWriter::new(file);
    write(&mut w)?;
    w.flush()
}

/// Distinguishes temporary files of concurrent writes in one process.
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Temporary files that exist now (see the module docs).
static TEMPORARY: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn registry() -> MutexGuard<'static, Vec<PathBuf>> {
    TEMPORARY
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Removes every temporary file that exists, prints `message` (one line) on standard error and
/// exits with `code`, without letting any write finish: what `picospike`'s signal handler
/// calls.
pub fn exit_removing_temporary_files(code: i32, message: &str) -> ! {
    // The guard is kept until the process is gone: no temporary file is created or renamed
    // after this point.
    let registry = registry();
    for tmp in registry.iter() {
        let _ = fs::remove_file(tmp);
    }
    let _ = writeln!(io::stderr(), "{message}");
    std::process::exit(code)
}

/// Creates and registers a new, uniquely named file beside `path` (mode 0644 minus the umask).
fn create_temp(path: &Path) -> io::Result<(File, PathBuf)> {
    let dir = parent(path);
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
        // Created and registered under the lock: a signal handler sees it or it does not exist.
        let mut registry = registry();
        match options.open(&tmp) {
            Ok(file) => {
                registry.push(tmp.clone());
                return Ok((file, tmp));
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no free temporary file name")))
}

/// Temporary file, write, sync, rename; the temporary file is removed on any error. `replaces`
/// is the existing file's metadata (its mode, owner and group are kept).
fn replace_regular(
    path: &Path,
    replaces: Option<&Metadata>,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let (file, tmp) = create_temp(path)?;
    let written = (|| {
        let mut w = BufWriter::new(&file);
        write(&mut w)?;
        w.flush()?;
        drop(w);
        if let Some(meta) = replaces {
            keep_owner(&file, meta)?;
            file.set_permissions(meta.permissions())?;
        }
        file.sync_all()
    })();
    drop(file);
    {
        // Renamed or removed, and unregistered, under the lock (see the module docs).
        let mut registry = registry();
        let result = written.and_then(|()| fs::rename(&tmp, path));
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        registry.retain(|p| *p != tmp);
        result?;
    }
    // Make the rename itself durable; not every file system can sync a directory, so this is
    // best effort (the data are already synced).
    if let Ok(d) = File::open(parent(path)) {
        let _ = d.sync_all();
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
    fn symlinks_are_refused_whatever_they_point_to() {
        let d = tempfile::tempdir().unwrap();
        let target = d.path().join("target.csv");
        fs::write(&target, b"old").unwrap();
        let link = d.path().join("link.csv");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let dangling = d.path().join("dangling.csv");
        std::os::unix::fs::symlink(d.path().join("nothing"), &dangling).unwrap();
        for path in [&link, &dangling] {
            let e = write_atomic(path, b"new").unwrap_err();
            assert!(matches!(e, OutputError::Symlink { .. }), "{e}");
            assert!(e.to_string().contains(&*path.to_string_lossy()), "{e}");
            assert!(fs::symlink_metadata(path).unwrap().file_type().is_symlink());
        }
        assert_eq!(fs::read(&target).unwrap(), b"old");
        assert!(!d.path().join("nothing").exists());
        let e = check_plan(&[], &[], std::slice::from_ref(&link)).unwrap_err();
        assert!(matches!(e, OutputError::Symlink { .. }), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn read_only_and_hard_linked_files_are_left_as_they_are() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.pspk");
        fs::write(&p, b"old").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o444)).unwrap();
        // Refused even for root, who could open it.
        let e = write_atomic(&p, b"new").unwrap_err();
        assert!(matches!(e, OutputError::NotWritable { .. }), "{e}");
        assert!(matches!(
            check_plan(&[], std::slice::from_ref(&p), &[]),
            Err(OutputError::NotWritable { .. })
        ));
        assert_eq!(fs::read(&p).unwrap(), b"old");
        let q = d.path().join("linked.json");
        fs::write(&q, b"old").unwrap();
        fs::hard_link(&q, d.path().join("other-name.json")).unwrap();
        let e = write_atomic(&q, b"new").unwrap_err();
        assert!(matches!(e, OutputError::HardLinks { links: 2, .. }), "{e}");
        assert_eq!(fs::read(d.path().join("other-name.json")).unwrap(), b"old");
        assert_eq!(
            names(d.path()),
            vec!["linked.json", "other-name.json", "x.pspk"]
        );
    }

    #[test]
    fn a_plan_refuses_inputs_twice_named_outputs_and_missing_directories() {
        let d = tempfile::tempdir().unwrap();
        let input = d.path().join("net.json");
        fs::write(&input, b"{}").unwrap();
        let spelled_otherwise = d.path().join(".").join("net.json");
        let e = check_plan(std::slice::from_ref(&input), &[spelled_otherwise], &[]).unwrap_err();
        assert!(matches!(e, OutputError::IsInput { .. }), "{e}");
        let a = d.path().join("a.json");
        let e = check_plan(&[], &[a.clone(), d.path().join("./a.json")], &[]).unwrap_err();
        assert!(matches!(e, OutputError::Twice { .. }), "{e}");
        let e = check_plan(&[], &["-".into(), "/dev/stdout".into()], &[]).unwrap_err();
        assert!(matches!(e, OutputError::Twice { .. }), "{e}");
        let e = check_plan(&[], &[d.path().join("no/such/x.json")], &[]).unwrap_err();
        assert!(matches!(e, OutputError::NoDirectory { .. }), "{e}");
        let e = check_plan(&[], &[d.path().to_owned()], &[]).unwrap_err();
        assert!(matches!(e, OutputError::IsDirectory { .. }), "{e}");
        // A directory to be created, and a file in it: fine, and nothing is created.
        let new_dir = d.path().join("new/deeper");
        check_plan(&[input], &[new_dir.join("m.pspk"), a], &[new_dir]).unwrap();
        assert_eq!(names(d.path()), vec!["net.json"]);
    }

    #[test]
    fn no_temporary_file_stays_registered() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("r.json");
        write_atomic(&p, b"x").unwrap();
        let _ = write_with(&p, |_| Err(io::Error::other("fails")));
        check_plan(&[], std::slice::from_ref(&p), &[]).unwrap();
        assert!(!registry().iter().any(|t| t.starts_with(d.path())));
        // A registered file exists until it is renamed or removed.
        let (_file, tmp) = create_temp(&p).unwrap();
        assert!(registry().contains(&tmp) && tmp.exists());
        let mut registry = registry();
        fs::remove_file(&tmp).unwrap();
        registry.retain(|t| *t != tmp);
    }
}
