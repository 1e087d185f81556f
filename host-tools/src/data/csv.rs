//! CSV files: integer pixels then the label per row, an optional header line, streamed with
//! bounds on the text, the line length and the row count.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use super::{
    maybe_gz, open_maybe_gz, read_error, DataError, Dataset, MAX_CSV_BYTES, MAX_CSV_LINE_BYTES,
    MAX_CSV_ROWS,
};

/// The UTF-8 byte-order mark, skipped at the start of a file.
const UTF8_BOM: &[u8] = b"\xef\xbb\xbf";

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
/// A UTF-8 byte-order mark at the start is skipped; an optional header line (see
/// [`CsvHeader`]); blank lines are skipped; every row must have as
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
        if row == 1 && line.starts_with(UTF8_BOM) {
            // A byte-order mark (what some spreadsheets write first) is not part of a value.
            line.drain(..UTF8_BOM.len());
        }
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
    use crate::data::builtin_digits;
    use crate::data::test_gzip as gz;
    use std::io::Write;
    use std::path::PathBuf;

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
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
}
