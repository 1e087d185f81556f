//! IDX files (MNIST's format): an unsigned-byte images file (magic 2051, count x rows x columns)
//! and its labels file (magic 2049), gzip or not, parsed in one bounded pass.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::{
    check_labels, maybe_gz, open_maybe_gz, read_error, read_up_to, DataError, Dataset,
    DEFAULT_CLASSES, IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, MAX_IDX_BYTES,
};

/// Which IDX file a parser expects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdxKind {
    /// Unsigned bytes, 3 dimensions (count, rows, columns): magic 2051.
    Images,
    /// Unsigned bytes, 1 dimension (count): magic 2049.
    Labels,
}

impl IdxKind {
    fn magic(self) -> u32 {
        match self {
            IdxKind::Images => IDX_IMAGES_MAGIC,
            IdxKind::Labels => IDX_LABELS_MAGIC,
        }
    }

    fn dims(self) -> usize {
        match self {
            IdxKind::Images => 3,
            IdxKind::Labels => 1,
        }
    }

    fn name(self) -> &'static str {
        match self {
            IdxKind::Images => "images",
            IdxKind::Labels => "labels",
        }
    }
}

/// Parses an IDX unsigned-byte stream, gzip-compressed or not; returns the dimensions and the
/// payload. `path` only names the source in errors.
///
/// The header is checked against [`MAX_IDX_BYTES`] before any payload is read; the payload buffer
/// grows with the bytes actually read (never with the header's claim), and reading stops one byte
/// past the announced length.
///
/// # Errors
/// [`DataError::BadMagic`], [`DataError::TruncatedHeader`], [`DataError::BadDimensions`],
/// [`DataError::LengthMismatch`], or the reader's error as [`DataError::Io`].
pub fn parse_idx(
    path: &Path,
    reader: impl Read,
    kind: IdxKind,
) -> Result<(Vec<u32>, Vec<u8>), DataError> {
    let (reader, gz) = maybe_gz(reader).map_err(|e| read_error(path, false, e))?;
    parse_idx_inner(path, reader, kind, gz)
}

fn parse_idx_inner(
    path: &Path,
    mut reader: impl Read,
    kind: IdxKind,
    gz: bool,
) -> Result<(Vec<u32>, Vec<u8>), DataError> {
    let (magic, ndims) = (kind.magic(), kind.dims());
    let header_len = 4 + 4 * ndims;
    let mut header = [0u8; 16];
    let got =
        read_up_to(&mut reader, &mut header[..header_len]).map_err(|e| read_error(path, gz, e))?;
    let word =
        |i: usize| u32::from_be_bytes([header[i], header[i + 1], header[i + 2], header[i + 3]]);
    // The magic first (when present), so that a swapped or foreign file is named as such.
    if got >= 4 && word(0) != magic {
        return Err(DataError::BadMagic {
            path: path.to_owned(),
            what: kind.name(),
            found: word(0),
            expected: magic,
        });
    }
    if got < header_len {
        return Err(DataError::TruncatedHeader {
            path: path.to_owned(),
            found: got,
            expected: header_len,
        });
    }
    let dims: Vec<u32> = (0..ndims).map(|d| word(4 + 4 * d)).collect();
    let bytes = dims
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(u64::from(d)))
        .unwrap_or(u64::MAX);
    if bytes == 0 || bytes > MAX_IDX_BYTES {
        return Err(DataError::BadDimensions {
            path: path.to_owned(),
            dims,
            bytes,
            limit: MAX_IDX_BYTES,
        });
    }
    let mut payload = Vec::new();
    reader
        .take(bytes + 1)
        .read_to_end(&mut payload)
        .map_err(|e| read_error(path, gz, e))?;
    if payload.len() as u64 != bytes {
        return Err(DataError::LengthMismatch {
            path: path.to_owned(),
            found: payload.len() as u64,
            expected: bytes,
        });
    }
    Ok((dims, payload))
}

/// Reads and parses an IDX file, gzip or not.
fn read_idx(path: &Path, kind: IdxKind) -> Result<(Vec<u32>, Vec<u8>), DataError> {
    let (reader, gz) = open_maybe_gz(path)?;
    parse_idx_inner(path, reader, kind, gz)
}

/// Builds a data set from parsed IDX images and labels (see [`parse_idx`]).
///
/// # Errors
/// [`DataError::CountMismatch`] and [`DataError::LabelOutOfRange`] naming the files.
pub fn idx_dataset(
    images: (&Path, Vec<u32>, Vec<u8>),
    labels: (&Path, Vec<u32>, Vec<u8>),
    classes: usize,
) -> Result<Dataset, DataError> {
    let (images_path, idims, pixels) = images;
    let (labels_path, ldims, label_bytes) = labels;
    let dim = |d: &[u32], i: usize| d.get(i).map_or(0, |&v| v as usize);
    let (count, rows, cols) = (dim(&idims, 0), dim(&idims, 1), dim(&idims, 2));
    let label_count = dim(&ldims, 0);
    if count != label_count
        || label_bytes.len() != label_count
        || pixels.len() != count * rows * cols
    {
        return Err(DataError::CountMismatch {
            images: images_path.to_owned(),
            image_count: count,
            labels: labels_path.to_owned(),
            label_count,
        });
    }
    check_labels(labels_path, &label_bytes, classes)?;
    Ok(Dataset {
        images: pixels.chunks(rows * cols).map(<[u8]>::to_vec).collect(),
        labels: label_bytes,
        full_scale: 255,
        classes,
        shape: Some((rows, cols)),
    })
}

/// Loads an IDX images file (magic 2051) and its labels file (magic 2049), gzip or not.
///
/// # Errors
/// Any [`DataError`] naming the offending file: unreadable file, corrupt gzip, wrong magic, header
/// dimensions that are zero or exceed [`MAX_IDX_BYTES`], a payload of the wrong length, different
/// sample counts, or a label `>= classes`.
pub fn load_idx(images: &Path, labels: &Path, classes: usize) -> Result<Dataset, DataError> {
    let (idims, pixels) = read_idx(images, IdxKind::Images)?;
    let (ldims, label_bytes) = read_idx(labels, IdxKind::Labels)?;
    idx_dataset(
        (images, idims, pixels),
        (labels, ldims, label_bytes),
        classes,
    )
}

/// Finds `<prefix>-images-idx3-ubyte[.gz]` and `<prefix>-labels-idx1-ubyte[.gz]` in `dir`, trying each
/// prefix in order (e.g. `["train", "train10k"]`), and loads the first pair whose images file exists.
///
/// # Errors
/// [`DataError::MissingIdx`] if no images file exists, else the errors of [`load_idx`].
pub fn load_idx_dir(dir: &Path, prefixes: &[&str], classes: usize) -> Result<Dataset, DataError> {
    let mut tried = Vec::new();
    for prefix in prefixes {
        for ext in [".gz", ""] {
            let img = format!("{prefix}-images-idx3-ubyte{ext}");
            let path = dir.join(&img);
            tried.push(img);
            if path.is_file() {
                let labels = dir.join(format!("{prefix}-labels-idx1-ubyte{ext}"));
                return load_idx(&path, &labels, classes);
            }
        }
    }
    Err(DataError::MissingIdx {
        dir: dir.to_owned(),
        tried,
    })
}

/// Loads the MNIST training and test sets from an IDX directory as `(train, test)`.
///
/// Training files are `train-*` (the full set) or, failing that, `train10k-*`; test files are `t10k-*`.
///
/// # Errors
/// The errors of [`load_idx_dir`].
pub fn load_mnist(dir: &Path) -> Result<(Dataset, Dataset), DataError> {
    load_mnist_classes(dir, DEFAULT_CLASSES)
}

/// [`load_mnist`] with labels below `classes`.
///
/// # Errors
/// The errors of [`load_idx_dir`].
pub fn load_mnist_classes(dir: &Path, classes: usize) -> Result<(Dataset, Dataset), DataError> {
    let train = load_idx_dir(dir, &["train", "train10k"], classes)?;
    let test = load_idx_dir(dir, &["t10k"], classes)?;
    Ok((train, test))
}

/// Loads only the test set (`t10k-*`) of an IDX directory: evaluation needs nothing else.
///
/// # Errors
/// The errors of [`load_idx_dir`].
pub fn load_mnist_test(dir: &Path, classes: usize) -> Result<Dataset, DataError> {
    load_idx_dir(dir, &["t10k"], classes)
}

/// Marks an IDX images file name (`<prefix>-images-idx3-ubyte[.gz]`).
pub const IDX_IMAGES_NAME: &str = "-images-idx3-ubyte";

/// The labels file beside an IDX images file: `x-images-idx3-ubyte[.gz]` ->
/// `x-labels-idx1-ubyte[.gz]`; `None` if the name is not an images file name.
pub fn idx_labels_path(images: &Path) -> Option<PathBuf> {
    let name = images.file_name()?.to_str()?;
    let at = name.find(IDX_IMAGES_NAME)?;
    let labels = format!(
        "{}-labels-idx1-ubyte{}",
        &name[..at],
        &name[at + IDX_IMAGES_NAME.len()..]
    );
    Some(images.with_file_name(labels))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::test_gzip as gz;

    fn idx_images(count: u32, rows: u32, cols: u32, fill: u8) -> Vec<u8> {
        let mut v = Vec::new();
        for w in [IDX_IMAGES_MAGIC, count, rows, cols] {
            v.extend_from_slice(&w.to_be_bytes());
        }
        v.extend(std::iter::repeat_n(fill, (count * rows * cols) as usize));
        v
    }

    fn idx_labels(labels: &[u8]) -> Vec<u8> {
        let mut v = IDX_LABELS_MAGIC.to_be_bytes().to_vec();
        v.extend_from_slice(&(labels.len() as u32).to_be_bytes());
        v.extend_from_slice(labels);
        v
    }

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    #[test]
    fn idx_roundtrip_plain_and_gz() {
        let d = tempfile::tempdir().unwrap();
        let mut img = idx_images(3, 2, 2, 0);
        img[16..].copy_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
        let i = write(d.path(), "i", &img);
        let l = write(d.path(), "l", &idx_labels(&[7, 0, 9]));
        let ig = write(d.path(), "i.gz", &gz(&img));
        let lg = write(d.path(), "l.gz", &gz(&idx_labels(&[7, 0, 9])));
        let a = load_idx(&i, &l, 10).unwrap();
        let b = load_idx(&ig, &lg, 10).unwrap();
        assert_eq!(a, b);
        assert_eq!(
            a.images,
            vec![vec![1, 2, 3, 4], vec![5, 6, 7, 8], vec![9, 10, 11, 12]]
        );
        assert_eq!(a.labels, vec![7, 0, 9]);
        assert_eq!((a.full_scale, a.shape), (255, Some((2, 2))));
    }

    #[test]
    fn idx_missing_file_names_it() {
        let e = load_idx(Path::new("/nonexistent/imgs.gz"), Path::new("/x"), 10).unwrap_err();
        assert!(matches!(e, DataError::Io { .. }));
        assert!(e.to_string().contains("/nonexistent/imgs.gz"), "{e}");
    }

    #[test]
    fn idx_corrupt_gzip() {
        let d = tempfile::tempdir().unwrap();
        let mut bytes = gz(&idx_images(10, 28, 28, 3));
        let n = bytes.len();
        bytes.truncate(n / 2);
        let i = write(d.path(), "imgs.gz", &bytes);
        let l = write(d.path(), "l", &idx_labels(&[0; 10]));
        let e = load_idx(&i, &l, 10).unwrap_err();
        assert!(matches!(e, DataError::Gzip { .. }), "{e:?}");
        assert!(e.to_string().contains("imgs.gz"));
        // Garbage after a valid gzip magic.
        let i = write(d.path(), "bad.gz", &[0x1f, 0x8b, 0xff, 0x00, 0x12, 0x34]);
        assert!(matches!(load_idx(&i, &l, 10), Err(DataError::Gzip { .. })));
    }

    #[test]
    fn idx_wrong_magic() {
        let d = tempfile::tempdir().unwrap();
        let i = write(d.path(), "i", &idx_images(1, 1, 1, 0));
        let l = write(d.path(), "l", &idx_labels(&[0]));
        // Swapped: the labels file given as images.
        let e = load_idx(&l, &i, 10).unwrap_err();
        match &e {
            DataError::BadMagic {
                found, expected, ..
            } => assert_eq!((*found, *expected), (IDX_LABELS_MAGIC, IDX_IMAGES_MAGIC)),
            other => panic!("{other:?}"),
        }
        assert!(e.to_string().contains("0x00000803"), "{e}");
    }

    #[test]
    fn idx_truncated_header_and_payload() {
        let d = tempfile::tempdir().unwrap();
        let l = write(d.path(), "l", &idx_labels(&[0, 1]));
        let i = write(d.path(), "i", &idx_images(2, 2, 2, 0)[..10]);
        assert!(matches!(
            load_idx(&i, &l, 10),
            Err(DataError::TruncatedHeader {
                found: 10,
                expected: 16,
                ..
            })
        ));
        let mut img = idx_images(2, 2, 2, 0);
        img.pop();
        let i = write(d.path(), "i", &img);
        assert!(matches!(
            load_idx(&i, &l, 10),
            Err(DataError::LengthMismatch {
                found: 7,
                expected: 8,
                ..
            })
        ));
        img.extend_from_slice(&[0, 0]);
        let i = write(d.path(), "i", &img);
        assert!(matches!(
            load_idx(&i, &l, 10),
            Err(DataError::LengthMismatch {
                found: 9,
                expected: 8,
                ..
            })
        ));
    }

    #[test]
    fn idx_huge_or_zero_dimensions() {
        let d = tempfile::tempdir().unwrap();
        let l = write(d.path(), "l", &idx_labels(&[0]));
        let mut img = idx_images(1, 1, 1, 0);
        img[4..16].copy_from_slice(&[0xff; 12]);
        let i = write(d.path(), "i", &img);
        let e = load_idx(&i, &l, 10).unwrap_err();
        assert!(matches!(e, DataError::BadDimensions { .. }), "{e:?}");
        assert!(e.to_string().contains("4294967295"), "{e}");
        let i = write(d.path(), "i0", &idx_images(0, 28, 28, 0));
        assert!(matches!(
            load_idx(&i, &l, 10),
            Err(DataError::BadDimensions { bytes: 0, .. })
        ));
    }

    #[test]
    fn idx_count_mismatch_and_label_range() {
        let d = tempfile::tempdir().unwrap();
        let i = write(d.path(), "i", &idx_images(3, 1, 1, 0));
        let l = write(d.path(), "l", &idx_labels(&[0, 1]));
        let e = load_idx(&i, &l, 10).unwrap_err();
        assert!(matches!(
            e,
            DataError::CountMismatch {
                image_count: 3,
                label_count: 2,
                ..
            }
        ));
        let l = write(d.path(), "l", &idx_labels(&[0, 1, 10]));
        let e = load_idx(&i, &l, 10).unwrap_err();
        assert!(matches!(
            e,
            DataError::LabelOutOfRange {
                index: 2,
                label: 10,
                classes: 10,
                ..
            }
        ));
        assert!(e.to_string().contains("expected 0..10"), "{e}");
    }

    #[test]
    fn idx_dir_prefers_first_prefix_and_reports_missing() {
        let d = tempfile::tempdir().unwrap();
        write(
            d.path(),
            "train10k-images-idx3-ubyte.gz",
            &gz(&idx_images(2, 1, 1, 5)),
        );
        write(
            d.path(),
            "train10k-labels-idx1-ubyte.gz",
            &gz(&idx_labels(&[1, 2])),
        );
        let ds = load_idx_dir(d.path(), &["train", "train10k"], 10).unwrap();
        assert_eq!(ds.labels, vec![1, 2]);
        let e = load_idx_dir(d.path(), &["t10k"], 10).unwrap_err();
        assert!(e.to_string().contains("t10k-images-idx3-ubyte.gz"), "{e}");
    }

    #[test]
    fn idx_payload_beyond_the_header_stops_at_once() {
        // A header announcing 1 image of 2x2 followed by 10 MiB: read 5 bytes, then stop.
        let mut img = idx_images(1, 2, 2, 0);
        img.resize(16 + (10 << 20), 0);
        let e = parse_idx(Path::new("x"), &img[..], IdxKind::Images).unwrap_err();
        assert!(
            matches!(
                e,
                DataError::LengthMismatch {
                    found: 5,
                    expected: 4,
                    ..
                }
            ),
            "{e:?}"
        );
    }

    #[test]
    fn idx_labels_path_pairs_files() {
        assert_eq!(
            idx_labels_path(Path::new("d/t10k-images-idx3-ubyte.gz")),
            Some(PathBuf::from("d/t10k-labels-idx1-ubyte.gz"))
        );
        assert_eq!(idx_labels_path(Path::new("d/x.csv")), None);
    }
}
