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

mod csv;
mod idx;

pub use csv::{load_csv, parse_csv, CsvHeader, CsvOptions};
pub use idx::{
    idx_dataset, idx_labels_path, load_idx, load_idx_dir, load_mnist, load_mnist_classes,
    load_mnist_test, parse_idx, IdxKind, IDX_IMAGES_NAME,
};

/// Number of classes the loaders accept unless told otherwise (digits 0..9).
pub const DEFAULT_CLASSES: usize = 10;

/// Largest IDX payload (count x rows x cols bytes) a header may announce: 256 MiB (five times
/// MNIST's training images).
///
/// A corrupt or hostile header could otherwise make the loader try to read terabytes.
pub const MAX_IDX_BYTES: u64 = 256 << 20;

/// Largest CSV text read (after decompression): 512 MiB (MNIST's 70,000 images as CSV are about
/// 130 MB).
pub const MAX_CSV_BYTES: u64 = 512 << 20;

/// Longest CSV line: 16 MiB (a row of millions of values fits; a stream without line breaks
/// fails at once).
pub const MAX_CSV_LINE_BYTES: usize = 16 << 20;

/// Most CSV rows read: 2,000,000.
pub const MAX_CSV_ROWS: usize = 2_000_000;

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
    /// A CSV row does not have the pixel count the model takes.
    #[error("{path}: row {row} has {found} pixel values (then the label), but the model takes {expected} inputs")]
    CsvWidth {
        /// The file.
        path: PathBuf,
        /// One-based line number.
        row: usize,
        /// Pixel values found (columns minus the label).
        found: usize,
        /// The model's input size.
        expected: usize,
    },
    /// A CSV line is longer than [`MAX_CSV_LINE_BYTES`].
    #[error("{path}: row {row} is longer than the {limit}-byte line limit")]
    LineTooLong {
        /// The file.
        path: PathBuf,
        /// One-based line number.
        row: usize,
        /// The limit.
        limit: usize,
    },
    /// A file holds more than a documented bound.
    #[error("{path}: more than {limit} {what} (the limit)")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// What is counted.
        what: &'static str,
        /// The bound.
        limit: u64,
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
    /// A `--data` argument that is neither `digits` nor an existing path.
    #[error("{argument}: no such file or directory (expected `digits`, an IDX directory or images file, or a CSV file)")]
    NoSuchSource {
        /// The argument.
        argument: String,
    },
    /// Training needs a training part, which a single IDX file does not have.
    #[error("{path}: a single IDX file has no training part; give the directory that holds the train-* and t10k-* files")]
    NoTrainingPart {
        /// The file.
        path: PathBuf,
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

    /// The same samples with `classes` classes.
    ///
    /// # Errors
    /// [`DataError::LabelOutOfRange`] if a label is not below `classes`.
    pub fn with_classes(mut self, classes: usize) -> Result<Dataset, DataError> {
        check_labels(Path::new("digits (built in)"), &self.labels, classes)?;
        self.classes = classes;
        Ok(self)
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

/// Opens `path` for streaming, transparently decompressing gzip; returns the reader and whether
/// it decompresses.
fn open_maybe_gz(path: &Path) -> Result<(Box<dyn Read>, bool), DataError> {
    let io_err = |source| DataError::Io {
        path: path.to_owned(),
        source,
    };
    let file = File::open(path).map_err(io_err)?;
    if file.metadata().map_err(io_err)?.is_dir() {
        return Err(io_err(io::Error::other(
            "it is a directory, expected a file",
        )));
    }
    maybe_gz(BufReader::new(file)).map_err(io_err)
}

/// Wraps `reader` in a gzip decoder when its first bytes are the gzip magic (`1f 8b`); returns
/// the reader and whether it decompresses.
fn maybe_gz<'a>(mut reader: impl Read + 'a) -> io::Result<(Box<dyn Read + 'a>, bool)> {
    let mut magic = [0u8; 2];
    let n = read_up_to(&mut reader, &mut magic)?;
    let head = io::Cursor::new(magic[..n].to_vec());
    if n == 2 && magic == [0x1f, 0x8b] {
        Ok((
            Box::new(flate2::read::MultiGzDecoder::new(head.chain(reader))),
            true,
        ))
    } else {
        Ok((Box::new(head.chain(reader)), false))
    }
}

/// The error for a failed read: a gzip error when decompressing, an I/O error otherwise.
fn read_error(path: &Path, gz: bool, source: io::Error) -> DataError {
    if gz {
        DataError::Gzip {
            path: path.to_owned(),
            source,
        }
    } else {
        DataError::Io {
            path: path.to_owned(),
            source,
        }
    }
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

/// Gzip `bytes` in memory (tests of the gzip-aware readers).
#[cfg(test)]
pub(crate) fn test_gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
