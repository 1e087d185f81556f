//! Bad input through the real `picospike` binary: every case exits with code 1 (never 101, a
//! panic), prints one line that names the offending file, and leaves no output file behind.
//!
//! Every case runs under a memory bound (`ulimit -v`, 1 GB of address space) and a time bound
//! (10 s, then the case fails and the process is killed), so reading `/dev/zero` or a gzip bomb
//! whole fails the case instead of the machine. The rows of issue 11's table are the cases named
//! `issue 11: ...`. A failing case is reported by name.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

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

/// Address-space bound of every run, in KiB (`ulimit -v`): far below what reading `/dev/zero`
/// whole needs, far above what any valid case here uses.
const MEMORY_KIB: u64 = 1_000_000;
/// Time bound of every run.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Runs the binary with `args` under [`MEMORY_KIB`] and [`TIMEOUT`]; panics naming `name` if the
/// process outlives the bound.
fn run_bounded(name: &str, args: &[String]) -> Output {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -v {MEMORY_KIB}; exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_picospike"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > TIMEOUT {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "{name}: still running after {TIMEOUT:?}; stderr:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
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
    let wide = root.join("wide.csv");
    {
        let mut row = String::with_capacity(4_000_010);
        for _ in 0..2_000_000 {
            row.push_str("1,");
        }
        row.push_str("3\n");
        std::fs::write(&wide, row).unwrap();
    }
    // 64 MiB of digits without a line break (4x the line bound), gzip-compressed to 64 kB.
    let bomb = root.join("bomb.csv.gz");
    {
        let mut e = GzEncoder::new(Vec::new(), flate2::Compression::best());
        let chunk = vec![b'7'; 1 << 20];
        for _ in 0..64 {
            e.write_all(&chunk).unwrap();
        }
        std::fs::write(&bomb, e.finish().unwrap()).unwrap();
    }
    // An IDX images file announcing 2 images of 8x8, followed by 64 MiB of zeros (gzip).
    let idx_bomb = root.join("bomb");
    std::fs::create_dir(&idx_bomb).unwrap();
    {
        let mut e = GzEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(&idx_images(2, 8, 8, 0)).unwrap();
        let chunk = vec![0u8; 1 << 20];
        for _ in 0..64 {
            e.write_all(&chunk).unwrap();
        }
        std::fs::write(
            idx_bomb.join("t10k-images-idx3-ubyte.gz"),
            e.finish().unwrap(),
        )
        .unwrap();
        gz(
            &idx_bomb.join("t10k-labels-idx1-ubyte.gz"),
            &idx_labels(&[1, 2, 3]),
        );
    }
    let short_net = root.join("short_net.json");
    {
        let mut v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&net).unwrap()).unwrap();
        v["layers"][0]["weights"].as_array_mut().unwrap().pop();
        std::fs::write(&short_net, v.to_string()).unwrap();
    }
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
            name: "issue 11: inspect /dev/zero",
            args: vec!["inspect".into(), "/dev/zero".into()],
            needle: "/dev/zero: not a picospike model (larger than the 16777216-byte limit)".into(),
        },
        Case {
            name: "issue 11: eval --data /dev/zero",
            args: vec![
                "eval".into(),
                s(&model),
                "--data".into(),
                "/dev/zero".into(),
                "--quiet".into(),
            ],
            needle: "/dev/zero: row 1 is longer than the 16777216-byte line limit".into(),
        },
        Case {
            name: "issue 11: export /dev/zero (network JSON from a stream)",
            args: vec![
                "export".into(),
                "/dev/zero".into(),
                "-o".into(),
                s(out.join("x.pspk")),
            ],
            needle: "/dev/zero: not a picospike float network (JSON) (larger than the 67108864-byte limit)".into(),
        },
        Case {
            name: "issue 11: export -o /dev/full",
            args: vec!["export".into(), s(&net), "-o".into(), "/dev/full".into()],
            needle: "cannot write /dev/full".into(),
        },
        Case {
            name: "issue 11: eval --timesteps 0",
            args: vec![
                "eval".into(),
                s(&model),
                "--timesteps".into(),
                "0".into(),
            ],
            needle: "--timesteps".into(),
        },
        Case {
            name: "issue 11: eval --classes 0",
            args: vec!["eval".into(), s(&model), "--classes".into(), "0".into()],
            needle: "--classes".into(),
        },
        Case {
            name: "issue 11: eval on a row of 2,000,000 numbers",
            args: vec![
                "eval".into(),
                s(&model),
                "--data".into(),
                s(&wide),
                "--quiet".into(),
            ],
            needle: format!(
                "{}: row 1 has 2000000 pixel values (then the label), but the model takes 64 inputs",
                s(&wide)
            ),
        },
        Case {
            name: "gzip bomb (a 64 MiB CSV line in 64 kB)",
            args: vec![
                "eval".into(),
                s(&model),
                "--data".into(),
                s(&bomb),
                "--quiet".into(),
            ],
            needle: s(&bomb),
        },
        Case {
            name: "IDX payload far beyond its header",
            args: vec![
                "eval".into(),
                s(&model),
                "--data".into(),
                s(&idx_bomb),
                "--quiet".into(),
            ],
            needle: "129 data bytes, but the header announces 128".into(),
        },
        Case {
            name: "--classes with the built-in digits",
            args: vec![
                "train".into(),
                "--data".into(),
                "digits".into(),
                "--classes".into(),
                "5".into(),
                "-o".into(),
                s(out.join("n.json")),
            ],
            needle: "--classes does not apply to the built-in digits".into(),
        },
        Case {
            // IDX data take --full-scale in eval and convert (raw-pixel models); the digits not.
            name: "--full-scale with the digits",
            args: vec![
                "eval".into(),
                s(&model),
                "--data".into(),
                "digits".into(),
                "--full-scale".into(),
                "16".into(),
            ],
            needle: "--full-scale does not apply".into(),
        },
        Case {
            name: "--test-fraction with --split none",
            args: vec![
                "eval".into(),
                s(&model),
                "--split".into(),
                "none".into(),
                "--test-fraction".into(),
                "0.5".into(),
            ],
            needle: "--test-fraction does not apply".into(),
        },
        Case {
            name: "--test-fraction 1",
            args: vec!["eval".into(), s(&model), "--test-fraction".into(), "1".into()],
            needle: "--test-fraction".into(),
        },
        Case {
            name: "--synapse -1",
            args: vec![
                "export".into(),
                s(&net),
                "-o".into(),
                s(out.join("m.pspk")),
                "--synapse=-1".into(),
            ],
            needle: "--synapse".into(),
        },
        Case {
            name: "network JSON with inconsistent shapes",
            args: vec![
                "convert".into(),
                s(&short_net),
                "--quiet".into(),
            ],
            needle: s(&short_net),
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
        let result = run_bounded(case.name, &case.args);
        let stderr = String::from_utf8_lossy(&result.stderr);
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(
            result.status.code(),
            Some(1),
            "{}: exit {:?}, stderr:\n{stderr}",
            case.name,
            result.status
        );
        // A usage error (clap) adds a usage hint after its one error line.
        let usage = stderr.contains("For more information, try '--help'");
        assert!(
            lines.len() == 1 || usage,
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

/// Runs the binary with `args`; panics with its stderr unless it succeeds.
fn ok(args: &[String]) -> String {
    let out = run_bounded("setup", args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A small digits network and its model, in `dir`.
fn digits_model(dir: &Path) -> (PathBuf, PathBuf) {
    let net = dir.join("net.json");
    let model = dir.join("model.pspk");
    ok(&[
        "train".into(),
        "--epochs".into(),
        "1".into(),
        "--hidden".into(),
        "8".into(),
        "--quiet".into(),
        "-o".into(),
        s(&net),
    ]);
    ok(&["export".into(), s(&net), "-o".into(), s(&model)]);
    (net, model)
}

#[cfg(unix)]
#[test]
fn issue_11_export_into_a_fifo_writes_through_it_and_keeps_it() {
    use std::os::unix::fs::FileTypeExt;
    let d = tempfile::tempdir().unwrap();
    let (net, model) = digits_model(d.path());
    let fifo = d.path().join("some-fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success(), "mkfifo failed");
    // The reader runs in a thread; if the command never opens the FIFO, opening its write side
    // below releases the reader, so the test cannot hang.
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read(&fifo).unwrap())
    };
    let out = run_bounded(
        "export into a FIFO",
        &["export".into(), s(&net), "-o".into(), s(&fifo)],
    );
    if !reader.is_finished() {
        drop(std::fs::OpenOptions::new().write(true).open(&fifo));
    }
    let through = reader.join().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        through,
        std::fs::read(&model).unwrap(),
        "bytes read from the FIFO"
    );
    let kind = std::fs::symlink_metadata(&fifo).unwrap().file_type();
    assert!(kind.is_fifo(), "the FIFO was replaced: {kind:?}");
}

#[cfg(unix)]
#[test]
fn issue_11_dev_full_stays_a_device_and_new_files_are_0644_minus_umask() {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    let d = tempfile::tempdir().unwrap();
    let (net, model) = digits_model(d.path());
    let out = run_bounded(
        "export -o /dev/full",
        &["export".into(), s(&net), "-o".into(), "/dev/full".into()],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(std::fs::metadata("/dev/full")
        .unwrap()
        .file_type()
        .is_char_device());
    let mode = std::fs::metadata(&model).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode & !0o644, 0, "{mode:o}");
    assert_ne!(mode & 0o044, 0, "model is private: {mode:o}");
    // /dev/null takes the model like any device.
    ok(&["export".into(), s(&net), "-o".into(), "/dev/null".into()]);
    let left: Vec<_> = std::fs::read_dir(d.path()).unwrap().collect();
    assert_eq!(left.len(), 2, "temporary files left: {left:?}");
}

#[test]
fn issue_11_eval_needs_only_the_test_files() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/mnist");
    assert!(
        fixture.join("t10k-images-idx3-ubyte.gz").is_file(),
        "missing test fixture {}",
        fixture.display()
    );
    let d = tempfile::tempdir().unwrap();
    let net = d.path().join("mnist.json");
    ok(&[
        "train".into(),
        "--data".into(),
        s(&fixture),
        "--epochs".into(),
        "1".into(),
        "--hidden".into(),
        "8".into(),
        "--augment-shift".into(),
        "0".into(),
        "--augment-rotate".into(),
        "0".into(),
        "--augment-scale".into(),
        "0".into(),
        "--quiet".into(),
        "-o".into(),
        s(&net),
    ]);
    let model = d.path().join("mnist.pspk");
    ok(&["export".into(), s(&net), "-o".into(), s(&model)]);
    let only_test = d.path().join("t10k-only");
    std::fs::create_dir(&only_test).unwrap();
    for f in ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"] {
        std::fs::copy(fixture.join(f), only_test.join(f)).unwrap();
    }
    let stdout = ok(&[
        "eval".into(),
        s(&model),
        "--data".into(),
        s(&only_test),
        "--quiet".into(),
    ]);
    assert!(stdout.contains("on 200 samples"), "{stdout}");
    // The images file alone is scored whole too.
    let stdout = ok(&[
        "eval".into(),
        s(&model),
        "--data".into(),
        s(only_test.join("t10k-images-idx3-ubyte.gz")),
        "--quiet".into(),
    ]);
    assert!(stdout.contains("on 200 samples"), "{stdout}");
}

#[test]
fn eval_scores_a_whole_csv_with_a_header() {
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/digits/digits-head200.csv");
    let rows = std::fs::read_to_string(&fixture).unwrap_or_else(|e| {
        panic!("missing test fixture {}: {e}", fixture.display());
    });
    let d = tempfile::tempdir().unwrap();
    let (_, model) = digits_model(d.path());
    let header: Vec<String> = (1..=64)
        .map(|i| format!("Block {i}"))
        .chain(["label".to_string()])
        .collect();
    let csv = d.path().join("other-writers.csv");
    std::fs::write(&csv, format!("{}\n{rows}", header.join(","))).unwrap();
    let stdout = ok(&[
        "eval".into(),
        s(&model),
        "--data".into(),
        s(&csv),
        "--split".into(),
        "none".into(),
        "--json".into(),
        "--quiet".into(),
    ]);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["samples"], 200, "{v}");
    let matrix: Vec<Vec<u64>> = serde_json::from_value(v["confusion_matrix"].clone()).unwrap();
    assert_eq!(matrix.len(), 10);
    assert_eq!(matrix.iter().flatten().sum::<u64>(), 200);
    let diagonal: u64 = (0..10).map(|c| matrix[c][c]).sum();
    let accuracy = v["accuracy"].as_f64().unwrap();
    assert!((accuracy - diagonal as f64 / 200.0).abs() < 1e-12, "{v}");
    assert_eq!(v["per_class_accuracy"].as_array().unwrap().len(), 10);
    // Without --split none, the seeded test part (20%) is scored.
    let v: serde_json::Value = serde_json::from_str(&ok(&[
        "eval".into(),
        s(&model),
        "--data".into(),
        s(&csv),
        "--json".into(),
        "--quiet".into(),
    ]))
    .unwrap();
    let part = v["samples"].as_u64().unwrap();
    assert!((30..=50).contains(&part), "{v}");
}

#[test]
fn export_to_standard_output_carries_only_the_model() {
    let d = tempfile::tempdir().unwrap();
    let (net, model) = digits_model(d.path());
    for name in ["-", "/dev/stdout"] {
        let out = run_bounded(name, &["export".into(), s(&net), "-o".into(), name.into()]);
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.stdout, std::fs::read(&model).unwrap(), "{name}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.starts_with(&format!("wrote {name}: ")), "{stderr}");
    }
    assert!(!Path::new("-").exists(), "a file named - was created");
}
