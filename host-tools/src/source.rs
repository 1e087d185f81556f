//! Where a command's data come from: the built-in digits, an IDX directory or file, or a CSV file,
//! and which part of it is scored.
//!
//! Data used to train are split the same way by every command: the seeded stratified split for
//! the digits and CSV files, MNIST's own `train*`/`t10k` files for an IDX directory. A file used
//! only for testing can be scored whole ([`Split::None`]); an IDX images file is always whole.

use std::path::{Path, PathBuf};

use crate::data::{self, CsvHeader, CsvOptions, DataError, Dataset};

/// Which part of the data a command scores.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Split {
    /// The test part of the split `train` uses: the seeded stratified split of the digits or a
    /// CSV file, the `t10k-*` files of an IDX directory.
    #[default]
    Seeded,
    /// Every row of the file (every sample of the digits; the `t10k-*` files of a directory).
    None,
}

/// What kind of source a `--data` argument names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceKind {
    /// The built-in 8x8 digits.
    Digits,
    /// A directory of IDX files (`train*-` and `t10k-*`).
    IdxDir(PathBuf),
    /// One IDX images file (`*-images-idx3-ubyte[.gz]`) and its labels file beside it.
    IdxFile {
        /// The images file.
        images: PathBuf,
        /// The labels file.
        labels: PathBuf,
    },
    /// A CSV file (`.csv` or `.csv.gz`): pixels then label per row.
    Csv(PathBuf),
}

impl SourceKind {
    /// Classifies a `--data` argument.
    ///
    /// # Errors
    /// [`DataError::NoSuchSource`] if it is not `digits` and does not exist.
    pub fn of(source: &str) -> Result<Self, DataError> {
        if source == "digits" {
            return Ok(SourceKind::Digits);
        }
        let path = Path::new(source);
        if !path.exists() {
            return Err(DataError::NoSuchSource {
                argument: source.to_owned(),
            });
        }
        if path.is_dir() {
            return Ok(SourceKind::IdxDir(path.to_owned()));
        }
        if let Some(labels) = data::idx_labels_path(path) {
            return Ok(SourceKind::IdxFile {
                images: path.to_owned(),
                labels,
            });
        }
        // Anything else (a file, a device, a FIFO) is read as CSV, with bounds.
        Ok(SourceKind::Csv(path.to_owned()))
    }

    /// Whether a seeded stratified split applies (the digits and CSV files).
    pub fn has_seeded_split(&self) -> bool {
        matches!(self, SourceKind::Digits | SourceKind::Csv(_))
    }
}

/// A `--data` argument with everything needed to load it.
#[derive(Clone, Debug, PartialEq)]
pub struct DataSpec {
    /// `digits`, an IDX directory or images file, or a CSV file.
    pub source: String,
    /// Seed of the stratified split (digits and CSV).
    pub split_seed: u64,
    /// Test fraction of the split (digits and CSV), in (0, 1).
    pub test_fraction: f64,
    /// Number of classes; labels must be smaller.
    pub classes: usize,
    /// Raw value meaning 1.0 (`None`: inferred for CSV data, 255 for IDX data).
    pub full_scale: Option<u16>,
    /// Header handling of CSV files.
    pub header: CsvHeader,
}

impl DataSpec {
    /// The built-in digits with the default seeded 80/20 split.
    pub fn digits() -> Self {
        DataSpec::new("digits")
    }

    /// `source` with the default split (seed 0, 20% test), 10 classes, inferred scale.
    pub fn new(source: &str) -> Self {
        DataSpec {
            source: source.into(),
            split_seed: 0,
            test_fraction: 0.2,
            classes: data::DEFAULT_CLASSES,
            full_scale: None,
            header: CsvHeader::Auto,
        }
    }

    /// What kind of source this is.
    ///
    /// # Errors
    /// See [`SourceKind::of`].
    pub fn kind(&self) -> Result<SourceKind, DataError> {
        SourceKind::of(&self.source)
    }

    /// Whether this is an IDX (MNIST-style) directory with its own test set.
    pub fn is_idx_dir(&self) -> bool {
        matches!(self.kind(), Ok(SourceKind::IdxDir(_)))
    }

    /// IDX data with the spec's full scale, if one is given (IDX files carry none of their own).
    fn rescaled(&self, mut data: Dataset) -> Dataset {
        if let Some(full_scale) = self.full_scale {
            data.full_scale = full_scale;
        }
        data
    }

    fn csv(&self, path: &Path, pixels: Option<usize>) -> Result<Dataset, DataError> {
        data::load_csv(
            path,
            &CsvOptions {
                classes: self.classes,
                full_scale: self.full_scale,
                header: self.header,
                pixels,
            },
        )
    }

    /// Loads `(train, test)`: MNIST's own split for an IDX directory, the seeded stratified split
    /// otherwise.
    ///
    /// # Errors
    /// A [`DataError`] naming the file and what was expected; [`DataError::NoTrainingPart`] for
    /// a single IDX file.
    pub fn load(&self) -> Result<(Dataset, Dataset), DataError> {
        match self.kind()? {
            SourceKind::Digits => Ok(data::builtin_digits()
                .with_classes(self.classes)?
                .stratified_split(self.test_fraction, self.split_seed)?),
            SourceKind::IdxDir(dir) => {
                let (train, test) = data::load_mnist_classes(&dir, self.classes)?;
                Ok((self.rescaled(train), self.rescaled(test)))
            }
            SourceKind::IdxFile { images, .. } => Err(DataError::NoTrainingPart { path: images }),
            SourceKind::Csv(path) => self
                .csv(&path, None)?
                .stratified_split(self.test_fraction, self.split_seed),
        }
    }

    /// Loads the samples a test command scores: the test part of the seeded split, or the whole
    /// file with [`Split::None`]; an IDX directory's `t10k-*` files; an IDX file whole.
    ///
    /// `pixels` (a model's input size) is checked on every CSV row before it is parsed, so a row
    /// of the wrong width fails at once with an error that says so.
    ///
    /// # Errors
    /// A [`DataError`] naming the file and what was expected.
    pub fn load_test(&self, split: Split, pixels: Option<usize>) -> Result<Dataset, DataError> {
        match self.kind()? {
            SourceKind::Digits => {
                let all = data::builtin_digits().with_classes(self.classes)?;
                match split {
                    Split::None => Ok(all),
                    Split::Seeded => {
                        Ok(all.stratified_split(self.test_fraction, self.split_seed)?.1)
                    }
                }
            }
            SourceKind::IdxDir(dir) => {
                Ok(self.rescaled(data::load_mnist_test(&dir, self.classes)?))
            }
            SourceKind::IdxFile { images, labels } => {
                Ok(self.rescaled(data::load_idx(&images, &labels, self.classes)?))
            }
            SourceKind::Csv(path) => {
                let all = self.csv(&path, pixels)?;
                match split {
                    Split::None => Ok(all),
                    Split::Seeded => {
                        Ok(all.stratified_split(self.test_fraction, self.split_seed)?.1)
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_whole_digits() {
        assert_eq!(SourceKind::of("digits").unwrap(), SourceKind::Digits);
        assert!(matches!(
            SourceKind::of("/no/such/file.csv"),
            Err(DataError::NoSuchSource { .. })
        ));
        let spec = DataSpec::digits();
        assert_eq!(spec.load_test(Split::None, None).unwrap().len(), 1797);
        let part = spec.load_test(Split::Seeded, None).unwrap().len();
        assert!((350..=370).contains(&part), "{part}");
        let p = Path::new("/d/t10k-images-idx3-ubyte.gz");
        match SourceKind::of(p.to_str().unwrap()) {
            Err(DataError::NoSuchSource { .. }) => {}
            other => panic!("{other:?}"),
        }
    }
}
