//! Bad input through the real `picospike` binary: every case exits with code 1 (never 101, a
//! panic), prints one line that names the offending file, and leaves no output file behind.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use flate2::write::GzEncoder;

fn gz(path: &Path, bytes: &[u8]) {
    let mut e = GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    std::fs::write(path, e.finish().unwrap()).unwrap();
}

fn idx_images(count: u32, rows: u32, cols: u32, pixels: usize) -> Vec<u8> {
    let mut v = Vec::new();
    for x in [2051u32, count, rows, cols] {
        v.extend_from_slice(&x.to_be_bytes());
    }
    v.resize(16 + pixels, 7);
    v
}

fn idx_labels(labels: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    for x in [2049u32, labels.len() as u32] {
        v.extend_from_slice(&x.to_be_bytes());
    }
    v.extend_from_slice(labels);
    v
}

/// An IDX directory with `train10k-*` and `t10k-*` files built by `edit`.
fn idx_dir(root: &Path, name: &str, images: Vec<u8>, labels: Vec<u8>) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    for prefix in ["train10k", "t10k"] {
        gz(&dir.join(format!("{prefix}-images-idx3-ubyte.gz")), &images);
        gz(&dir.join(format!("{prefix}-labels-idx1-ubyte.gz")), &labels);
    }
    dir
}

struct Case {
    name: &'static str,
    args: Vec<String>,
    /// Text the one error line must contain (the file, and row where it applies).
    needle: String,
}

fn s(x: impl AsRef<std::ffi::OsStr>) -> String {
    x.as_ref().to_string_lossy().into_owned()
}

#[test]
fn every_bad_input_is_a_one_line_error_with_exit_code_1_and_no_output() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path();
    let out = root.join("out");
    std::fs::create_dir(&out).unwrap();

    // A valid network and model to corrupt.
    let net = root.join("net.json");
    let status = Command::new(env!("CARGO_BIN_EXE_picospike"))
        .args([
            "train", "--data", "digits", "--epochs", "1", "--hidden", "8", "--quiet", "-o",
        ])
        .arg(&net)
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let model = root.join("good.pspk");
    let status = Command::new(env!("CARGO_BIN_EXE_picospike"))
        .args(["export", &s(&net), "-o", &s(&model)])
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let blob = std::fs::read(&model).unwrap();

    let corrupt_gz = root.join("corrupt.csv.gz");
    std::fs::write(&corrupt_gz, b"\x1f\x8b\x08\x00garbage that is not deflate").unwrap();
    let short_row = root.join("short_row.csv");
    std::fs::write(&short_row, "1,2,3,0\n4,5,1\n").unwrap();
    let not_number = root.join("not_number.csv");
    std::fs::write(&not_number, "1,2,3,0\n4,x,6,1\n").unwrap();
    let bad_label = root.join("bad_label.csv");
    std::fs::write(&bad_label, "1,2,3,0\n4,5,6,12\n").unwrap();
    let empty_csv = root.join("empty.csv");
    std::fs::write(&empty_csv, "").unwrap();
    let wrong_magic = idx_dir(
        root,
        "wrong_magic",
        b"\0\0\x08\x01garbage....".to_vec(),
        idx_labels(&[1, 2]),
    );
    let count_mismatch = idx_dir(
        root,
        "count_mismatch",
        idx_images(3, 2, 2, 12),
        idx_labels(&[1, 2]),
    );
    let huge_header = idx_dir(
        root,
        "huge_header",
        idx_images(u32::MAX, 60_000, 60_000, 16),
        idx_labels(&[1]),
    );
    let labels_range = idx_dir(
        root,
        "labels_range",
        idx_images(2, 2, 2, 8),
        idx_labels(&[1, 200]),
    );
    let mut nan_net = std::fs::read_to_string(&net).unwrap();
    let first_weight = nan_net.find("\"weights\": [").unwrap() + "\"weights\": [".len();
    let end = first_weight + nan_net[first_weight..].find(',').unwrap();
    nan_net.replace_range(first_weight..end, "\n1e39");
    let inf_net = root.join("inf_weights.json");
    std::fs::write(&inf_net, nan_net).unwrap();
    let mut flipped = blob.clone();
    flipped[blob.len() / 2] ^= 0x04;
    let corrupt_model = root.join("flipped.pspk");
    std::fs::write(&corrupt_model, &flipped).unwrap();
    let truncated_model = root.join("truncated.pspk");
    std::fs::write(&truncated_model, &blob[..blob.len() - 3]).unwrap();
    let empty_model = root.join("empty.pspk");
    std::fs::write(&empty_model, b"").unwrap();
    let a_file = root.join("a_file");
    std::fs::write(&a_file, b"x").unwrap();

    let train = |data: &Path| -> Vec<String> {
        vec![
            "train".into(),
            "--data".into(),
            s(data),
            "--epochs".into(),
            "1".into(),
            "--quiet".into(),
            "-o".into(),
            s(out.join("net.json")),
        ]
    };
    let cases = vec![
        Case {
            name: "missing data",
            args: train(&root.join("nope.csv")),
            needle: s(root.join("nope.csv")),
        },
        Case {
            name: "corrupt gzip",
            args: train(&corrupt_gz),
            needle: s(&corrupt_gz),
        },
        Case {
            name: "CSV row too short",
            args: train(&short_row),
            needle: "row 2".into(),
        },
        Case {
            name: "CSV non-number",
            args: train(&not_number),
            needle: "row 2".into(),
        },
        Case {
            name: "CSV label out of range",
            args: train(&bad_label),
            needle: s(&bad_label),
        },
        Case {
            name: "CSV without samples",
            args: train(&empty_csv),
            needle: s(&empty_csv),
        },
        Case {
            name: "IDX wrong magic",
            args: train(&wrong_magic),
            needle: s(&wrong_magic),
        },
        Case {
            name: "IDX count mismatch",
            args: train(&count_mismatch),
            needle: s(&count_mismatch),
        },
        Case {
            name: "IDX huge header",
            args: train(&huge_header),
            needle: s(&huge_header),
        },
        Case {
            name: "IDX label out of range",
            args: train(&labels_range),
            needle: s(&labels_range),
        },
        Case {
            name: "infinite weight",
            args: vec![
                "export".into(),
                s(&inf_net),
                "-o".into(),
                s(out.join("m.pspk")),
            ],
            needle: s(&inf_net),
        },
        Case {
            name: "network file missing",
            args: vec![
                "export".into(),
                s(root.join("none.json")),
                "-o".into(),
                s(out.join("m.pspk")),
            ],
            needle: s(root.join("none.json")),
        },
        Case {
            name: "network file is a model",
            args: vec![
                "export".into(),
                s(&model),
                "-o".into(),
                s(out.join("m.pspk")),
            ],
            needle: s(&model),
        },
        Case {
            name: "output under a file",
            args: vec![
                "export".into(),
                s(&net),
                "-o".into(),
                s(a_file.join("m.pspk")),
            ],
            needle: s(a_file.join("m.pspk")),
        },
        Case {
            name: "flipped bit",
            args: vec!["inspect".into(), s(&corrupt_model)],
            needle: s(&corrupt_model),
        },
        Case {
            name: "truncated model",
            args: vec!["inspect".into(), s(&truncated_model)],
            needle: s(&truncated_model),
        },
        Case {
            name: "empty model",
            args: vec!["inspect".into(), s(&empty_model)],
            needle: s(&empty_model),
        },
        Case {
            name: "directory as model",
            args: vec!["inspect".into(), s(root)],
            needle: s(root),
        },
        Case {
            name: "eval corrupt model",
            args: vec!["eval".into(), s(&corrupt_model), "--quiet".into()],
            needle: s(&corrupt_model),
        },
        Case {
            name: "eval on mismatched data",
            args: vec![
                "eval".into(),
                s(&model),
                "--data".into(),
                s(&short_row),
                "--quiet".into(),
            ],
            needle: s(&short_row),
        },
        Case {
            name: "convert a model instead of a network",
            args: vec![
                "convert".into(),
                s(&model),
                "--quiet".into(),
                "--out".into(),
                s(out.join("conv")),
            ],
            needle: s(&model),
        },
    ];
    let mut tried = 0;
    for case in &cases {
        let result = Command::new(env!("CARGO_BIN_EXE_picospike"))
            .args(&case.args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&result.stderr);
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(
            result.status.code(),
            Some(1),
            "{}: exit {:?}, stderr:\n{stderr}",
            case.name,
            result.status
        );
        assert_eq!(
            lines.len(),
            1,
            "{}: expected one line, got:\n{stderr}",
            case.name
        );
        assert!(lines[0].starts_with("error: "), "{}: {stderr}", case.name);
        assert!(
            lines[0].contains(&case.needle),
            "{}: {:?} does not name {:?}",
            case.name,
            lines[0],
            case.needle
        );
        let left: Vec<_> = std::fs::read_dir(&out).unwrap().collect();
        assert!(left.is_empty(), "{}: left {left:?} behind", case.name);
        tried += 1;
    }
    println!("{tried} bad inputs rejected with one line and exit code 1");
}
