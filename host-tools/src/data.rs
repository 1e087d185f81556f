//! Labelled image data sets: IDX (MNIST), CSV and the built-in 8x8 digits.
//!
//! Every loader returns a [`Dataset`]: raw `u8` pixel vectors, one label per image and the raw value
//! that means 1.0 (`full_scale`, 16 for the digits, 255 for MNIST). Inputs are validated completely
//! on load; every error names the file (and the row for CSV) and what was expected.
//!
//! Gzip compression is detected from the file's first bytes (`1f 8b`), not from its name, so both
//! `x.idx` and `x.idx.gz` (or `.csv` and `.csv.gz`) work.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

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

/// Whether the first line of a CSV file is a header.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum CsvHeader {
    /// A header when the first line's label, or at least half of its fields, are words (neither
    /// numbers nor empty)
    /// (`pixel0,...,label` and `0,1,...,63,label` are headers; `1,x,3` is a bad row).
    #[default]
    Auto,
    /// The first line is a header: skipped.
    Yes,
    /// There is no header: the first line is data.
    No,
}

/// How to read a CSV file: pixels then label per row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CsvOptions {
    /// Number of classes; labels must be smaller.
    pub classes: usize,
    /// Raw value meaning 1.0 (`None`: 16 when no pixel exceeds 16, else 255).
    pub full_scale: Option<u16>,
    /// Header handling.
    pub header: CsvHeader,
    /// Pixels per row the consumer needs (a model's input size), checked on every row before its
    /// values are parsed; `None` takes the first row's width.
    pub pixels: Option<usize>,
}

impl CsvOptions {
    /// `classes` classes, inferred scale, header detected, any width.
    pub fn new(classes: usize) -> Self {
        CsvOptions {
            classes,
            full_scale: None,
            header: CsvHeader::Auto,
            pixels: None,
        }
    }
}

/// Loads a CSV file (optionally gzip-compressed): integer pixels 0..=255, then the label, per row.
///
/// See [`parse_csv`]. The file is streamed: at most [`MAX_CSV_BYTES`] of text,
/// [`MAX_CSV_LINE_BYTES`] per line and [`MAX_CSV_ROWS`] rows are read.
///
/// # Errors
/// [`DataError::Io`]/[`DataError::Gzip`] for unreadable files, and the errors of [`parse_csv`].
pub fn load_csv(path: &Path, options: &CsvOptions) -> Result<Dataset, DataError> {
    let (reader, gz) = open_maybe_gz(path)?;
    parse_csv_inner(path, reader, options, gz)
}

/// Parses CSV text (gzip-compressed or not): integer pixels 0..=255, then the label, per row;
/// `path` only names the source in errors.
///
/// An optional header line (see [`CsvHeader`]); blank lines are skipped; every row must have as
/// many columns as the first (or `pixels + 1` when [`CsvOptions::pixels`] is set). Fields may be
/// integral floats (`3.0`). The image is taken as square when the pixel count is a perfect
/// square.
///
/// # Errors
/// [`DataError::CsvWidth`] (a row that does not fit the model), [`DataError::CsvColumns`] and
/// [`DataError::CsvValue`] with the row (and column), [`DataError::LabelOutOfRange`],
/// [`DataError::TooLarge`] past a bound, and [`DataError::Empty`] for no rows.
pub fn parse_csv(
    path: &Path,
    reader: impl Read,
    options: &CsvOptions,
) -> Result<Dataset, DataError> {
    let (reader, gz) = maybe_gz(reader).map_err(|e| read_error(path, false, e))?;
    parse_csv_inner(path, reader, options, gz)
}

fn parse_csv_inner(
    path: &Path,
    reader: impl Read,
    options: &CsvOptions,
    gz: bool,
) -> Result<Dataset, DataError> {
    let too_large = |what: &'static str, limit: u64| DataError::TooLarge {
        path: path.to_owned(),
        what,
        limit,
    };
    let mut reader = BufReader::new(reader.take(MAX_CSV_BYTES + 1));
    let mut expected = options.pixels.map(|p| p + 1);
    let (mut images, mut labels) = (Vec::new(), Vec::new());
    let mut line = Vec::new();
    let mut row = 0usize;
    let mut total = 0u64;
    let mut first = true;
    loop {
        line.clear();
        let n = (&mut reader)
            .take(MAX_CSV_LINE_BYTES as u64 + 1)
            .read_until(b'\n', &mut line)
            .map_err(|e| read_error(path, gz, e))?;
        if n == 0 {
            break;
        }
        row += 1;
        total += n as u64;
        if total > MAX_CSV_BYTES {
            return Err(too_large("bytes of CSV text", MAX_CSV_BYTES));
        }
        if line.len() > MAX_CSV_LINE_BYTES {
            return Err(DataError::LineTooLong {
                path: path.to_owned(),
                row,
                limit: MAX_CSV_LINE_BYTES,
            });
        }
        let text = line.trim_ascii();
        if text.is_empty() {
            continue;
        }
        let fields: Vec<&[u8]> = text.split(|&b| b == b',').map(<[u8]>::trim_ascii).collect();
        if std::mem::take(&mut first) && is_header(&fields, options.header) {
            continue;
        }
        if let (Some(pixels), true) = (options.pixels, Some(fields.len()) != expected) {
            return Err(DataError::CsvWidth {
                path: path.to_owned(),
                row,
                found: fields.len().saturating_sub(1),
                expected: pixels,
            });
        }
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
        if labels.len() >= MAX_CSV_ROWS {
            return Err(too_large("rows", MAX_CSV_ROWS as u64));
        }
        let mut values = Vec::with_capacity(cols);
        for (c, f) in fields.iter().enumerate() {
            values.push(parse_byte(f).ok_or_else(|| DataError::CsvValue {
                path: path.to_owned(),
                row,
                column: c + 1,
                value: String::from_utf8_lossy(&f[..f.len().min(40)]).into_owned(),
            })?);
        }
        let label = values.pop().unwrap_or_default();
        if usize::from(label) >= options.classes {
            return Err(DataError::LabelOutOfRange {
                path: path.to_owned(),
                index: labels.len(),
                label: u64::from(label),
                classes: options.classes,
            });
        }
        images.push(values);
        labels.push(label);
    }
    let (Some(cols), false) = (expected, labels.is_empty()) else {
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
        full_scale: options
            .full_scale
            .unwrap_or(if max <= 16 { 16 } else { 255 }),
        classes: options.classes,
        shape: (side * side == pixels).then_some((side, side)),
    })
}

/// Whether a first line is a header under `mode`.
fn is_header(fields: &[&[u8]], mode: CsvHeader) -> bool {
    let number = |f: &&[u8]| {
        std::str::from_utf8(f)
            .ok()
            .is_some_and(|s| s.parse::<f64>().is_ok())
    };
    match mode {
        CsvHeader::Yes => true,
        CsvHeader::No => false,
        CsvHeader::Auto => {
            // A header names its columns: empty fields are missing values, not names.
            let word = |f: &[u8]| !f.is_empty() && !number(&f);
            let words = fields.iter().filter(|f| word(f)).count();
            fields.last().is_some_and(|f| word(f)) || 2 * words >= fields.len()
        }
    }
}

/// Parses an integer 0..=255, also accepting an integral float such as `3.0`.
fn parse_byte(field: &[u8]) -> Option<u8> {
    let s = std::str::from_utf8(field).ok()?;
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
        let a = load_csv(
            &write(d.path(), "a.csv", text.as_bytes()),
            &CsvOptions::new(10),
        )
        .unwrap();
        let b = load_csv(
            &write(d.path(), "a.csv.gz", &gz(text.as_bytes())),
            &CsvOptions::new(10),
        )
        .unwrap();
        assert_eq!(a, b);
        assert_eq!(a.images, vec![vec![0, 16, 3, 4], vec![5, 6, 7, 8]]);
        assert_eq!(a.labels, vec![1, 9]);
        assert_eq!((a.full_scale, a.shape), (16, Some((2, 2))));
        let c = load_csv(
            &write(d.path(), "c.csv", b"200,1,2\n"),
            &CsvOptions::new(10),
        )
        .unwrap();
        assert_eq!((c.full_scale, c.shape), (255, None));
    }

    #[test]
    fn csv_errors_name_row_and_column() {
        let d = tempfile::tempdir().unwrap();
        let p = write(d.path(), "bad.csv", b"1,2,3\n1,2\n");
        let e = load_csv(&p, &CsvOptions::new(10)).unwrap_err();
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
        let e = load_csv(&p, &CsvOptions::new(10)).unwrap_err();
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
                matches!(
                    load_csv(&p, &CsvOptions::new(10)),
                    Err(DataError::CsvValue { .. })
                ),
                "{bad}"
            );
        }
        let p = write(d.path(), "lab.csv", b"1,2,3\n1,2,12\n");
        let e = load_csv(&p, &CsvOptions::new(10)).unwrap_err();
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
            load_csv(&p, &CsvOptions::new(10)),
            Err(DataError::CsvColumns { .. })
        ));
    }

    #[test]
    fn csv_empty_and_missing() {
        let d = tempfile::tempdir().unwrap();
        let p = write(d.path(), "empty.csv", b"\n\n");
        let e = load_csv(&p, &CsvOptions::new(10)).unwrap_err();
        assert!(matches!(e, DataError::Empty { .. }));
        assert!(e.to_string().contains("empty.csv"));
        let p = write(d.path(), "empty.csv.gz", &gz(b""));
        assert!(matches!(
            load_csv(&p, &CsvOptions::new(10)),
            Err(DataError::Empty { .. })
        ));
        let e = load_csv(&d.path().join("nope.csv"), &CsvOptions::new(10)).unwrap_err();
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
    fn committed_digits_csv_matches_builtin() {
        // The committed fixture holds the first 200 rows of the shared digits CSV, which are the
        // built-in set's first 200 samples; the test needs nothing outside the repository.
        let p = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures/digits/digits-head200.csv");
        assert!(
            p.is_file(),
            "missing test fixture {} (part of the repository)",
            p.display()
        );
        let csv = load_csv(&p, &CsvOptions::new(10)).unwrap();
        let builtin = builtin_digits();
        assert_eq!(csv.len(), 200);
        assert_eq!(csv.full_scale, 16);
        assert_eq!(csv.shape, Some((8, 8)));
        assert_eq!(csv.labels[..], builtin.labels[..200]);
        assert_eq!(csv.images[..], builtin.images[..200]);
    }

    #[test]
    fn csv_header_detected_or_forced() {
        let d = tempfile::tempdir().unwrap();
        let with = write(d.path(), "h.csv", b"Block 1,Block 2,label\n1,2,3\n4,5,6\n");
        let a = load_csv(&with, &CsvOptions::new(10)).unwrap();
        assert_eq!((a.len(), a.labels.clone()), (2, vec![3, 6]));
        let pandas = write(d.path(), "p.csv", b"0,1,label\n1,2,3\n");
        assert_eq!(load_csv(&pandas, &CsvOptions::new(10)).unwrap().len(), 1);
        // A bad first row is not mistaken for a header, and the error names it.
        let bad = write(d.path(), "b.csv", b"1,x,3\n4,5,6\n");
        assert!(matches!(
            load_csv(&bad, &CsvOptions::new(10)),
            Err(DataError::CsvValue {
                row: 1,
                column: 2,
                ..
            })
        ));
        // Forced: a numeric first line skipped, or a header refused.
        let yes = CsvOptions {
            header: CsvHeader::Yes,
            ..CsvOptions::new(10)
        };
        assert_eq!(load_csv(&bad, &yes).unwrap().len(), 1);
        let no = CsvOptions {
            header: CsvHeader::No,
            ..CsvOptions::new(10)
        };
        let e = load_csv(&with, &no).unwrap_err();
        assert!(e.to_string().contains("row 1, column 1"), "{e}");
        // Rows after a header keep their line numbers in errors.
        let late = write(d.path(), "l.csv", b"a,b,c\n1,2,3\n1,2\n");
        assert!(matches!(
            load_csv(&late, &CsvOptions::new(10)),
            Err(DataError::CsvColumns { row: 3, .. })
        ));
    }

    #[test]
    fn csv_width_is_checked_against_the_model_first() {
        let d = tempfile::tempdir().unwrap();
        let mut wide = vec![b'1'; 1];
        for _ in 0..200_000 {
            wide.extend_from_slice(b",1");
        }
        let p = write(d.path(), "wide.csv", &wide);
        let options = CsvOptions {
            pixels: Some(64),
            ..CsvOptions::new(10)
        };
        let e = load_csv(&p, &options).unwrap_err();
        assert!(
            matches!(
                e,
                DataError::CsvWidth {
                    row: 1,
                    found: 200_000,
                    expected: 64,
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(e.to_string().contains("the model takes 64 inputs"), "{e}");
    }

    #[test]
    fn csv_bounds_stop_endless_and_bomb_input() {
        let d = tempfile::tempdir().unwrap();
        // 40 MiB of digits without a line break, compressed to a few kB.
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        for _ in 0..40 {
            e.write_all(&[b'7'; 1 << 20]).unwrap();
        }
        let p = write(d.path(), "bomb.csv.gz", &e.finish().unwrap());
        let err = load_csv(&p, &CsvOptions::new(10)).unwrap_err();
        assert!(
            matches!(err, DataError::LineTooLong { row: 1, .. }),
            "{err:?}"
        );
        #[cfg(unix)]
        {
            let err = load_csv(Path::new("/dev/zero"), &CsvOptions::new(10)).unwrap_err();
            assert!(matches!(err, DataError::LineTooLong { .. }), "{err:?}");
        }
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
