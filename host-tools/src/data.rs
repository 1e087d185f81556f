//! Labelled image data sets: IDX (MNIST), CSV and the built-in 8x8 digits.
//!
//! Every loader returns a [`Dataset`]: raw `u8` pixel vectors, one label per image and the raw value
//! that means 1.0 (`full_scale`, 16 for the digits, 255 for MNIST). Inputs are validated completely
//! on load; every error names the file (and the row for CSV) and what was expected.
//!
//! Gzip compression is detected from the file's first bytes (`1f 8b`), not from its name, so both
//! `x.idx` and `x.idx.gz` (or `.csv` and `.csv.gz`) work.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Number of classes the loaders accept unless told otherwise (digits 0..9).
pub const DEFAULT_CLASSES: usize = 10;

/// Largest IDX payload (count x rows x cols bytes) a header may announce: 1 GiB.
///
/// A corrupt or hostile header could otherwise make the loader try to allocate terabytes.
pub const MAX_IDX_BYTES: u64 = 1 << 30;

/// IDX magic number of an unsigned-byte, 3-dimensional (images) file.
pub const IDX_IMAGES_MAGIC: u32 = 0x0000_0803;
/// IDX magic number of an unsigned-byte, 1-dimensional (labels) file.
pub const IDX_LABELS_MAGIC: u32 = 0x0000_0801;

/// What went wrong while loading or splitting a data set.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// The file could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The file starts like a gzip stream but does not decompress.
    #[error("{path}: corrupt or truncated gzip stream: {source}")]
    Gzip {
        /// The file.
        path: PathBuf,
        /// The decoder's error.
        #[source]
        source: io::Error,
    },
    /// The IDX header has the wrong magic number.
    #[error(
        "{path}: not an IDX {what} file: magic number {found:#010x}, expected {expected:#010x}"
    )]
    BadMagic {
        /// The file.
        path: PathBuf,
        /// `"images"` or `"labels"`.
        what: &'static str,
        /// The magic number found.
        found: u32,
        /// The magic number expected.
        expected: u32,
    },
    /// The file ends before the header does.
    #[error("{path}: truncated IDX header: {found} bytes, expected {expected}")]
    TruncatedHeader {
        /// The file.
        path: PathBuf,
        /// Bytes available.
        found: usize,
        /// Header size.
        expected: usize,
    },
    /// The header announces more data than [`MAX_IDX_BYTES`] or dimensions that are zero-sized.
    #[error(
        "{path}: IDX header dimensions {dims:?} give {bytes} bytes, expected between 1 and {limit}"
    )]
    BadDimensions {
        /// The file.
        path: PathBuf,
        /// The dimensions in the header.
        dims: Vec<u32>,
        /// Their product (saturating).
        bytes: u64,
        /// The limit.
        limit: u64,
    },
    /// The payload length does not match the header.
    #[error("{path}: {found} data bytes, but the header announces {expected}")]
    LengthMismatch {
        /// The file.
        path: PathBuf,
        /// Bytes found (at most `expected + 1`: reading stops there).
        found: u64,
        /// Bytes announced by the header.
        expected: u64,
    },
    /// Images and labels files disagree on the number of samples.
    #[error("{images} holds {image_count} images but {labels} holds {label_count} labels")]
    CountMismatch {
        /// The images file.
        images: PathBuf,
        /// Its sample count.
        image_count: usize,
        /// The labels file.
        labels: PathBuf,
        /// Its sample count.
        label_count: usize,
    },
    /// A label is not below the number of classes.
    #[error("{path}: label {label} of sample {index} (row {row}) is out of range, expected 0..{classes}", row = index + 1)]
    LabelOutOfRange {
        /// The file.
        path: PathBuf,
        /// Zero-based sample index.
        index: usize,
        /// The label found.
        label: u64,
        /// Number of classes (labels must be smaller).
        classes: usize,
    },
    /// A CSV row has a different number of columns from the first row.
    #[error("{path}: row {row}: {found} columns, expected {expected} (pixels, then the label)")]
    CsvColumns {
        /// The file.
        path: PathBuf,
        /// One-based line number.
        row: usize,
        /// Columns found.
        found: usize,
        /// Columns expected.
        expected: usize,
    },
    /// A CSV field is not an integer in 0..=255.
    #[error("{path}: row {row}, column {column}: {value:?} is not an integer in 0..=255")]
    CsvValue {
        /// The file.
        path: PathBuf,
        /// One-based line number.
        row: usize,
        /// One-based column number.
        column: usize,
        /// The field as found.
        value: String,
    },
    /// The file holds no samples (or a CSV row holds no pixels).
    #[error("{path}: no samples, expected at least one")]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// A directory holds none of the expected IDX files.
    #[error("{dir}: no IDX file named {tried:?}")]
    MissingIdx {
        /// The directory searched.
        dir: PathBuf,
        /// The file names tried.
        tried: Vec<String>,
    },
    /// A split was asked for a fraction outside (0, 1) or leaves one side empty.
    #[error("cannot split {samples} samples with test fraction {fraction}: expected 0 < fraction < 1 and both parts non-empty")]
    BadSplit {
        /// Samples in the data set.
        samples: usize,
        /// The fraction asked for.
        fraction: f64,
    },
}

/// A labelled image data set held as raw bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    /// One pixel vector per sample, all of the same length.
    pub images: Vec<Vec<u8>>,
    /// One label per sample, each below `classes`.
    pub labels: Vec<u8>,
    /// Raw value that means 1.0 (16 for the digits, 255 for MNIST).
    pub full_scale: u16,
    /// Number of classes.
    pub classes: usize,
    /// Image height and width when the pixels form a known 2-D grid (used for shift augmentation).
    pub shape: Option<(usize, usize)>,
}

impl Dataset {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the data set holds no sample.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Number of pixels per sample (0 for an empty set).
    pub fn features(&self) -> usize {
        self.images.first().map_or(0, Vec::len)
    }

    /// Number of samples of each class.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.classes];
        for &l in &self.labels {
            counts[usize::from(l)] += 1;
        }
        counts
    }

    /// The samples at `indices`, in that order (indices must be in range).
    pub fn subset(&self, indices: &[usize]) -> Dataset {
        Dataset {
            images: indices.iter().map(|&i| self.images[i].clone()).collect(),
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            full_scale: self.full_scale,
            classes: self.classes,
            shape: self.shape,
        }
    }

    /// Seeded stratified split into `(train, test)`: each class contributes `round(n_c * test_fraction)`
    /// samples to the test part; both parts are then shuffled. The same seed gives the same split.
    ///
    /// # Errors
    /// [`DataError::BadSplit`] if `test_fraction` is not strictly between 0 and 1 or a part would be
    /// empty.
    pub fn stratified_split(
        &self,
        test_fraction: f64,
        seed: u64,
    ) -> Result<(Dataset, Dataset), DataError> {
        let bad = || DataError::BadSplit {
            samples: self.len(),
            fraction: test_fraction,
        };
        if !(test_fraction > 0.0 && test_fraction < 1.0) {
            return Err(bad());
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); self.classes];
        for (i, &l) in self.labels.iter().enumerate() {
            by_class[usize::from(l)].push(i);
        }
        let (mut train, mut test) = (Vec::new(), Vec::new());
        for mut idx in by_class {
            idx.shuffle(&mut rng);
            let n_test = (idx.len() as f64 * test_fraction).round() as usize;
            test.extend_from_slice(&idx[..n_test]);
            train.extend_from_slice(&idx[n_test..]);
        }
        if train.is_empty() || test.is_empty() {
            return Err(bad());
        }
        train.shuffle(&mut rng);
        test.shuffle(&mut rng);
        Ok((self.subset(&train), self.subset(&test)))
    }
}

/// The scikit-learn 8x8 digits (1,797 samples, pixels 0..16) compiled into the `smartcore` crate.
///
/// Works offline; the data are the same as `digits/digits.csv.gz` in the shared data folder.
pub fn builtin_digits() -> Dataset {
    let ds = smartcore::dataset::digits::load_dataset();
    let images = ds
        .data
        .chunks(ds.num_features)
        .map(|row| {
            row.iter()
                .map(|&v| v.round().clamp(0.0, 255.0) as u8)
                .collect()
        })
        .collect();
    let labels = ds.target.iter().map(|&t| t.round() as u8).collect();
    Dataset {
        images,
        labels,
        full_scale: 16,
        classes: DEFAULT_CLASSES,
        shape: Some((8, 8)),
    }
}

/// Reads a whole file, transparently decompressing gzip, reading at most `limit` bytes of content.
fn read_maybe_gz(path: &Path, limit: Option<u64>) -> Result<Vec<u8>, DataError> {
    let io_err = |source| DataError::Io {
        path: path.to_owned(),
        source,
    };
    let file = File::open(path).map_err(io_err)?;
    let mut reader = BufReader::new(file);
    let mut magic = [0u8; 2];
    let n = read_up_to(&mut reader, &mut magic).map_err(io_err)?;
    let head = io::Cursor::new(magic[..n].to_vec());
    let mut out = Vec::new();
    if n == 2 && magic == [0x1f, 0x8b] {
        let dec = flate2::read::MultiGzDecoder::new(head.chain(reader));
        let res = match limit {
            Some(l) => dec.take(l).read_to_end(&mut out),
            None => { dec }.read_to_end(&mut out),
        };
        res.map_err(|source| DataError::Gzip {
            path: path.to_owned(),
            source,
        })?;
    } else {
        let chained = head.chain(reader);
        let res = match limit {
            Some(l) => chained.take(l).read_to_end(&mut out),
            None => { chained }.read_to_end(&mut out),
        };
        res.map_err(io_err)?;
    }
    Ok(out)
}

/// Fills `buf` as far as the reader allows; returns the bytes read.
fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Parses an IDX unsigned-byte file with `ndims` dimensions; returns the dimensions and payload.
fn read_idx(
    path: &Path,
    magic: u32,
    what: &'static str,
    ndims: usize,
) -> Result<(Vec<u32>, Vec<u8>), DataError> {
    let header_len = 4 + 4 * ndims;
    // Read the header first (bounded), check it, then read exactly the announced payload (+1 byte
    // to detect trailing data) so that a huge header never allocates more than the limit.
    let header = read_maybe_gz(path, Some(header_len as u64))?;
    let word =
        |i: usize| u32::from_be_bytes([header[i], header[i + 1], header[i + 2], header[i + 3]]);
    // The magic first (when present), so that a swapped or foreign file is named as such.
    if header.len() >= 4 && word(0) != magic {
        return Err(DataError::BadMagic {
            path: path.to_owned(),
            what,
            found: word(0),
            expected: magic,
        });
    }
    if header.len() < header_len {
        return Err(DataError::TruncatedHeader {
            path: path.to_owned(),
            found: header.len(),
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
    let all = read_maybe_gz(path, Some(header_len as u64 + bytes + 1))?;
    let payload = all[header_len..].to_vec();
    if payload.len() as u64 != bytes {
        return Err(DataError::LengthMismatch {
            path: path.to_owned(),
            found: payload.len() as u64,
            expected: bytes,
        });
    }
    Ok((dims, payload))
}

/// Loads an IDX images file (magic 2051) and its labels file (magic 2049), gzip or not.
///
/// # Errors
/// Any [`DataError`] naming the offending file: unreadable file, corrupt gzip, wrong magic, header
/// dimensions that are zero or exceed [`MAX_IDX_BYTES`], a payload of the wrong length, different
/// sample counts, or a label `>= classes`.
pub fn load_idx(images: &Path, labels: &Path, classes: usize) -> Result<Dataset, DataError> {
    let (idims, pixels) = read_idx(images, IDX_IMAGES_MAGIC, "images", 3)?;
    let (ldims, label_bytes) = read_idx(labels, IDX_LABELS_MAGIC, "labels", 1)?;
    let (count, rows, cols) = (idims[0] as usize, idims[1] as usize, idims[2] as usize);
    if count != ldims[0] as usize {
        return Err(DataError::CountMismatch {
            images: images.to_owned(),
            image_count: count,
            labels: labels.to_owned(),
            label_count: ldims[0] as usize,
        });
    }
    check_labels(labels, &label_bytes, classes)?;
    Ok(Dataset {
        images: pixels.chunks(rows * cols).map(<[u8]>::to_vec).collect(),
        labels: label_bytes,
        full_scale: 255,
        classes,
        shape: Some((rows, cols)),
    })
}

fn check_labels(path: &Path, labels: &[u8], classes: usize) -> Result<(), DataError> {
    match labels.iter().position(|&l| usize::from(l) >= classes) {
        Some(index) => Err(DataError::LabelOutOfRange {
            path: path.to_owned(),
            index,
            label: u64::from(labels[index]),
            classes,
        }),
        None => Ok(()),
    }
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
    let train = load_idx_dir(dir, &["train", "train10k"], DEFAULT_CLASSES)?;
    let test = load_idx_dir(dir, &["t10k"], DEFAULT_CLASSES)?;
    Ok((train, test))
}

/// Loads a CSV file (optionally gzip-compressed): integer pixels 0..=255, then the label, per row.
///
/// No header; blank lines are skipped; every row must have as many columns as the first. `full_scale`
/// `None` infers 16 when no pixel exceeds 16 (the 8x8 digits) and 255 otherwise. The image is taken as
/// square when the pixel count is a perfect square.
///
/// # Errors
/// [`DataError::Io`]/[`DataError::Gzip`] for unreadable files, [`DataError::CsvColumns`] and
/// [`DataError::CsvValue`] with the row (and column), [`DataError::LabelOutOfRange`], and
/// [`DataError::Empty`] for a file with no rows or rows with no pixel.
pub fn load_csv(
    path: &Path,
    classes: usize,
    full_scale: Option<u16>,
) -> Result<Dataset, DataError> {
    let bytes = read_maybe_gz(path, None)?;
    let text = String::from_utf8_lossy(&bytes);
    let mut expected = None;
    let (mut images, mut labels) = (Vec::new(), Vec::new());
    for (lineno, line) in text.lines().enumerate() {
        let row = lineno + 1;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let cols = *expected.get_or_insert(fields.len());
        if fields.len() != cols {
            return Err(DataError::CsvColumns {
                path: path.to_owned(),
                row,
                found: fields.len(),
                expected: cols,
            });
        }
        if cols < 2 {
            return Err(DataError::CsvColumns {
                path: path.to_owned(),
                row,
                found: cols,
                expected: 2,
            });
        }
        let mut values = Vec::with_capacity(cols);
        for (c, f) in fields.iter().enumerate() {
            values.push(parse_byte(f).ok_or_else(|| DataError::CsvValue {
                path: path.to_owned(),
                row,
                column: c + 1,
                value: (*f).to_owned(),
            })?);
        }
        let label = values.pop().unwrap_or_default();
        if usize::from(label) >= classes {
            return Err(DataError::LabelOutOfRange {
                path: path.to_owned(),
                index: labels.len(),
                label: u64::from(label),
                classes,
            });
        }
        images.push(values);
        labels.push(label);
    }
    let Some(cols) = expected else {
        return Err(DataError::Empty {
            path: path.to_owned(),
        });
    };
    let pixels = cols - 1;
    let side = (pixels as f64).sqrt().round() as usize;
    let max = images.iter().flatten().copied().max().unwrap_or(0);
    Ok(Dataset {
        images,
        labels,
        full_scale: full_scale.unwrap_or(if max <= 16 { 16 } else { 255 }),
        classes,
        shape: (side * side == pixels).then_some((side, side)),
    })
}

/// Parses an integer 0..=255, also accepting an integral float such as `3.0`.
fn parse_byte(s: &str) -> Option<u8> {
    if let Ok(v) = s.parse::<u8>() {
        return Some(v);
    }
    let v: f64 = s.parse().ok()?;
    (v.fract() == 0.0 && (0.0..=255.0).contains(&v)).then_some(v as u8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gz(bytes: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

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
    fn csv_parses_plain_and_gz() {
        let d = tempfile::tempdir().unwrap();
        let text = "0,16,3,4,1\n\n5,6,7.0,8,9\n";
        let a = load_csv(&write(d.path(), "a.csv", text.as_bytes()), 10, None).unwrap();
        let b = load_csv(&write(d.path(), "a.csv.gz", &gz(text.as_bytes())), 10, None).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.images, vec![vec![0, 16, 3, 4], vec![5, 6, 7, 8]]);
        assert_eq!(a.labels, vec![1, 9]);
        assert_eq!((a.full_scale, a.shape), (16, Some((2, 2))));
        let c = load_csv(&write(d.path(), "c.csv", b"200,1,2\n"), 10, None).unwrap();
        assert_eq!((c.full_scale, c.shape), (255, None));
    }

    #[test]
    fn csv_errors_name_row_and_column() {
        let d = tempfile::tempdir().unwrap();
        let p = write(d.path(), "bad.csv", b"1,2,3\n1,2\n");
        let e = load_csv(&p, 10, None).unwrap_err();
        assert!(matches!(
            e,
            DataError::CsvColumns {
                row: 2,
                found: 2,
                expected: 3,
                ..
            }
        ));
        assert!(e.to_string().contains("bad.csv: row 2"), "{e}");
        let p = write(d.path(), "nan.csv", b"1,2,3\n1,x,3\n");
        let e = load_csv(&p, 10, None).unwrap_err();
        assert!(
            matches!(
                e,
                DataError::CsvValue {
                    row: 2,
                    column: 2,
                    ..
                }
            ),
            "{e:?}"
        );
        for bad in ["256", "-1", "1.5", ""] {
            let p = write(d.path(), "v.csv", format!("{bad},1\n").as_bytes());
            assert!(
                matches!(load_csv(&p, 10, None), Err(DataError::CsvValue { .. })),
                "{bad}"
            );
        }
        let p = write(d.path(), "lab.csv", b"1,2,3\n1,2,12\n");
        let e = load_csv(&p, 10, None).unwrap_err();
        assert!(matches!(
            e,
            DataError::LabelOutOfRange {
                index: 1,
                label: 12,
                ..
            }
        ));
        let p = write(d.path(), "one.csv", b"1\n");
        assert!(matches!(
            load_csv(&p, 10, None),
            Err(DataError::CsvColumns { .. })
        ));
    }

    #[test]
    fn csv_empty_and_missing() {
        let d = tempfile::tempdir().unwrap();
        let p = write(d.path(), "empty.csv", b"\n\n");
        let e = load_csv(&p, 10, None).unwrap_err();
        assert!(matches!(e, DataError::Empty { .. }));
        assert!(e.to_string().contains("empty.csv"));
        let p = write(d.path(), "empty.csv.gz", &gz(b""));
        assert!(matches!(
            load_csv(&p, 10, None),
            Err(DataError::Empty { .. })
        ));
        let e = load_csv(&d.path().join("nope.csv"), 10, None).unwrap_err();
        assert!(matches!(e, DataError::Io { .. }));
    }

    #[test]
    fn builtin_digits_shape_and_classes() {
        let ds = builtin_digits();
        assert_eq!(ds.len(), 1797);
        assert_eq!(ds.features(), 64);
        assert!(ds.images.iter().flatten().all(|&p| p <= 16));
        let counts = ds.class_counts();
        assert!(
            counts.iter().all(|&c| (174..=183).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn stratified_split_is_seeded_and_balanced() {
        let ds = builtin_digits();
        let (tr, te) = ds.stratified_split(0.2, 7).unwrap();
        assert_eq!(tr.len() + te.len(), ds.len());
        for (c, (&n_te, &n_all)) in te.class_counts().iter().zip(&ds.class_counts()).enumerate() {
            assert_eq!(n_te, (n_all as f64 * 0.2).round() as usize, "class {c}");
        }
        let (tr2, te2) = ds.stratified_split(0.2, 7).unwrap();
        assert_eq!((&tr, &te), (&tr2, &te2));
        let (tr3, _) = ds.stratified_split(0.2, 8).unwrap();
        assert_ne!(tr.labels, tr3.labels);
        assert!(matches!(
            ds.stratified_split(1.0, 0),
            Err(DataError::BadSplit { .. })
        ));
        assert!(matches!(
            ds.stratified_split(0.0, 0),
            Err(DataError::BadSplit { .. })
        ));
    }

    #[test]
    fn shared_digits_csv_matches_builtin() {
        // Runs only where the shared data folder is present.
        let p =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/digits/digits.csv.gz");
        if !p.is_file() {
            return;
        }
        let csv = load_csv(&p, 10, None).unwrap();
        let builtin = builtin_digits();
        assert_eq!(csv.len(), builtin.len());
        assert_eq!(csv.full_scale, 16);
        assert_eq!(csv.labels, builtin.labels);
        assert_eq!(csv.images, builtin.images);
    }
}
