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
    run_bounded_for(name, args, TIMEOUT)
}

/// [`run_bounded`] with another time bound (for work that is slow in a debug build).
fn run_bounded_for(name: &str, args: &[String], timeout: Duration) -> Output {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -v {MEMORY_KIB}; exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_picospike"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Drained while the command runs: a report larger than a pipe's buffer must not block it.
    let drain = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{name}: still running after {timeout:?}; stderr:\n{}",
                String::from_utf8_lossy(&stderr.join().unwrap())
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
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

/// [`ok`] under the memory bound, with a minute instead of [`TIMEOUT`]: large models in a debug
/// build, on a shared machine.
fn ok_slow(args: &[String]) -> String {
    let out = run_bounded_for("setup", args, Duration::from_secs(60));
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

// ---- issue 22: hostile and careless inputs, round two ----

/// What a file is: kind, bytes (or a link's target), mode, inode and link count.
#[cfg(unix)]
type FileState = (String, Vec<u8>, u32, u64, u64);

/// Every entry under `root`, recursively, with its [`FileState`].
#[cfg(unix)]
fn snapshot(root: &Path) -> std::collections::BTreeMap<PathBuf, FileState> {
    use std::os::unix::fs::MetadataExt;
    let mut all = std::collections::BTreeMap::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let (kind, bytes) = if meta.file_type().is_symlink() {
                ("link", s(std::fs::read_link(&path).unwrap()).into_bytes())
            } else if meta.is_dir() {
                stack.push(path.clone());
                ("dir", Vec::new())
            } else {
                ("file", std::fs::read(&path).unwrap())
            };
            let state = (kind.into(), bytes, meta.mode(), meta.ino(), meta.nlink());
            all.insert(path, state);
        }
    }
    all
}

/// Asserts one `error:` line (a usage error may add clap's hint), exit status 1 and `needle`.
fn assert_one_error(name: &str, out: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{name}: exit {:?}, stderr:\n{stderr}",
        out.status
    );
    let usage = stderr.contains("For more information, try '--help'");
    assert!(
        lines.len() == 1 || usage,
        "{name}: expected one line, got:\n{stderr}"
    );
    assert!(lines[0].starts_with("error: "), "{name}: {stderr}");
    assert!(
        lines[0].contains(needle),
        "{name}: {:?} does not name {needle:?}",
        lines[0]
    );
}

/// A model rebuilt from `blob` with `edit` applied to its input encoding and layers.
fn rebuilt(
    blob: &[u8],
    edit: impl FnOnce(
        &mut picospike_runtime::format::InputEncoding,
        &mut Vec<picospike_runtime::layer::Layer<'_>>,
    ),
) -> Vec<u8> {
    let model: picospike_runtime::Model = picospike_runtime::Model::from_bytes(blob).unwrap();
    let mut input = model.input();
    let mut layers = model.layers().to_vec();
    edit(&mut input, &mut layers);
    picospike_runtime::ModelBuilder {
        dt: model.dt(),
        input,
        layers: &layers,
    }
    .to_vec()
    .unwrap()
}

#[cfg(unix)]
#[test]
fn issue_22_every_case_is_one_error_and_leaves_every_file_as_it_was() {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::tempdir().unwrap();
    let root = d.path();
    let (net, model) = digits_model(root);
    let blob = std::fs::read(&model).unwrap();
    let p = |name: &str| root.join(name);
    // 1: a read-only file and a file with a second hard link.
    std::fs::write(p("ro.pspk"), b"read only").unwrap();
    std::fs::set_permissions(p("ro.pspk"), std::fs::Permissions::from_mode(0o444)).unwrap();
    std::fs::write(p("linked.pspk"), b"linked").unwrap();
    std::fs::hard_link(p("linked.pspk"), p("linked-too.pspk")).unwrap();
    // 2: outputs that name inputs.
    let csv =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/digits/digits-head200.csv");
    std::fs::copy(&csv, p("data.csv")).unwrap();
    std::fs::create_dir(p("conv")).unwrap();
    std::fs::copy(&net, p("conv/spiking.json")).unwrap();
    std::fs::create_dir(p("evalout")).unwrap();
    std::fs::copy(&model, p("evalout/eval.json")).unwrap();
    // 3, 5: a plain file, a link to a victim and a dangling link.
    std::fs::write(p("a_file"), b"x").unwrap();
    std::fs::write(p("victim"), b"precious").unwrap();
    std::os::unix::fs::symlink(p("victim"), p("link.pspk")).unwrap();
    std::os::unix::fs::symlink(p("nothing"), p("dangling.pspk")).unwrap();
    std::fs::create_dir(p("linked-dir-target")).unwrap();
    std::os::unix::fs::symlink(p("linked-dir-target"), p("dir-link")).unwrap();
    // 8: 256x256x128 LIF neurons in a 370 KB model: ~34 M state words (134 MB per worker).
    let conv_net = p("conv-net.json");
    ok(&[
        "train".into(),
        "--arch".into(),
        "conv4k3p1,avgpool2,dense10".into(),
        "--epochs".into(),
        "1".into(),
        "--quiet".into(),
        "-o".into(),
        s(&conv_net),
    ]);
    {
        // 128 filters (training them takes too long in a debug build).
        let mut v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&conv_net).unwrap()).unwrap();
        let layers = v["layers"].as_array_mut().unwrap();
        layers[0]["kind"]["Conv2d"]["output"]["channels"] = 128.into();
        layers[0]["outputs"] = (8 * 8 * 128).into();
        layers[0]["weights"] = vec![0.1f32; 9 * 128].into();
        layers[0]["biases"] = vec![0.0f32; 128].into();
        layers[1]["kind"]["AvgPool"]["input"]["channels"] = 128.into();
        layers[1]["inputs"] = (8 * 8 * 128).into();
        layers[1]["outputs"] = (4 * 4 * 128).into();
        layers[2]["inputs"] = (4 * 4 * 128).into();
        layers[2]["weights"] = vec![0.01f32; 4 * 4 * 128 * 10].into();
        std::fs::write(&conv_net, v.to_string()).unwrap();
    }
    let conv_model = p("conv-model.pspk");
    ok(&["export".into(), s(&conv_net), "-o".into(), s(&conv_model)]);
    let huge_state = rebuilt(&std::fs::read(&conv_model).unwrap(), |input, layers| {
        use picospike_runtime::layer::{Layer, Shape};
        let side = |n: u16, channels: u16| Shape {
            height: n,
            width: n,
            channels,
        };
        input.shape = side(256, 1);
        if let Layer::Conv2d(c) = &mut layers[0] {
            c.input = side(256, 1);
            c.output = side(256, 128);
        }
        if let Layer::SumPool(pool) = &mut layers[1] {
            pool.input = side(256, 128);
            pool.size = 15;
        }
        if let Layer::Dense(dense) = &mut layers[2] {
            dense.input = side(17, 128);
            dense.weights = Box::leak(vec![0u8; 17 * 17 * 128 * 10].into_boxed_slice());
        }
    });
    std::fs::write(p("huge-state.pspk"), &huge_state).unwrap();
    // 11: a model whose header says 0 steps.
    let zero_steps = rebuilt(&blob, |input, _| input.timesteps = 0);
    std::fs::write(p("zero-steps.pspk"), &zero_steps).unwrap();
    // Messages: a 9-layer network.
    let mut nine: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&net).unwrap()).unwrap();
    {
        let layers = nine["layers"].as_array_mut().unwrap();
        let hidden = layers[0].clone();
        let mut square = layers[1].clone();
        let n = hidden["outputs"].as_u64().unwrap() as usize;
        square["inputs"] = n.into();
        square["outputs"] = n.into();
        square["weights"] = vec![0.01f32; n * n].into();
        square["biases"] = vec![0.0f32; n].into();
        square["neuron"] = hidden["neuron"].clone();
        for _ in 0..7 {
            layers.insert(1, square.clone());
        }
        assert_eq!(layers.len(), 9);
    }
    std::fs::write(p("nine.json"), nine.to_string()).unwrap();

    let a = |args: &[&dyn AsRef<std::ffi::OsStr>]| -> Vec<String> { args.iter().map(s).collect() };
    let cases: Vec<(&str, Vec<String>, String)> = vec![
        (
            "1 read-only output",
            a(&[&"export", &net, &"-o", &p("ro.pspk")]),
            s(p("ro.pspk")),
        ),
        (
            "1 hard-linked output",
            a(&[&"export", &net, &"-o", &p("linked.pspk")]),
            "2 hard links".into(),
        ),
        (
            "2 -o names the network",
            a(&[&"export", &net, &"-o", &net]),
            format!("it is the input {}", s(&net)),
        ),
        (
            "2 train -o names the data",
            a(&[
                &"train",
                &"--data",
                &p("data.csv"),
                &"--epochs",
                &"1",
                &"--quiet",
                &"-o",
                &p("data.csv"),
            ]),
            "it is the input".into(),
        ),
        (
            "2 train --history is -o",
            a(&[
                &"train",
                &"--epochs",
                &"1",
                &"--quiet",
                &"-o",
                &p("n.json"),
                &"--history",
                &p("./n.json"),
            ]),
            "twice".into(),
        ),
        (
            "2 convert --out holds the network",
            a(&[
                &"convert",
                &p("conv/spiking.json"),
                &"--quiet",
                &"--out",
                &p("conv"),
            ]),
            s(p("conv/spiking.json")),
        ),
        (
            "2 eval --out holds the model",
            a(&[
                &"eval",
                &p("evalout/eval.json"),
                &"--quiet",
                &"--out",
                &p("evalout"),
            ]),
            "it is the input".into(),
        ),
        (
            "3 train -o into a missing directory",
            a(&[
                &"train",
                &"--epochs",
                &"60",
                &"--quiet",
                &"-o",
                &p("no/such/x.json"),
            ]),
            s(p("no/such/x.json")),
        ),
        (
            "3 train -o .",
            a(&[&"train", &"--epochs", &"60", &"--quiet", &"-o", &"."]),
            "it is a directory".into(),
        ),
        (
            "3 train --history into a missing directory",
            a(&[
                &"train",
                &"--epochs",
                &"60",
                &"--quiet",
                &"-o",
                &p("n.json"),
                &"--history",
                &p("no/h.csv"),
            ]),
            s(p("no/h.csv")),
        ),
        (
            "3 demo --out a file",
            a(&[&"demo", &"--quiet", &"--out", &p("a_file")]),
            s(p("a_file")),
        ),
        (
            "3 convert --out under a file",
            a(&[&"convert", &net, &"--quiet", &"--out", &p("a_file/sub")]),
            s(p("a_file")),
        ),
        (
            "3 lesson --out a file",
            a(&[
                &"lesson",
                &"--epochs",
                &"60",
                &"--quiet",
                &"--out",
                &p("a_file"),
            ]),
            s(p("a_file")),
        ),
        (
            "3 lesson --json into a missing directory",
            a(&[
                &"lesson",
                &"--epochs",
                &"60",
                &"--quiet",
                &"--json",
                &p("no/l.json"),
            ]),
            s(p("no/l.json")),
        ),
        (
            "3 export --rust-module a file (before -o)",
            a(&[
                &"export",
                &net,
                &"-o",
                &p("new.pspk"),
                &"--rust-module",
                &p("a_file"),
            ]),
            s(p("a_file")),
        ),
        (
            "5 -o a link to a file",
            a(&[&"export", &net, &"-o", &p("link.pspk")]),
            format!("{}: it is a symbolic link", s(p("link.pspk"))),
        ),
        (
            "5 -o a dangling link",
            a(&[&"export", &net, &"-o", &p("dangling.pspk")]),
            "symbolic link".into(),
        ),
        (
            "5 --out a link to a directory",
            a(&[&"eval", &model, &"--quiet", &"--out", &p("dir-link")]),
            "symbolic link".into(),
        ),
        (
            "8 eval a model with 187 MB of state",
            a(&[&"eval", &p("huge-state.pspk"), &"--quiet"]),
            "67108864-byte bound".into(),
        ),
        (
            "8 inspect the same",
            a(&[&"inspect", &p("huge-state.pspk")]),
            "67108864-byte bound".into(),
        ),
        (
            "9 --epochs 2^64-1",
            a(&[
                &"train",
                &"--epochs",
                &"18446744073709551615",
                &"-o",
                &p("n.json"),
            ]),
            "--epochs".into(),
        ),
        (
            "9 --epochs 100000000",
            a(&[&"train", &"--epochs", &"100000000", &"-o", &p("n.json")]),
            "at most".replace("at most", "from 1 to 100000"),
        ),
        (
            "9 lesson --regularized-epochs 100000000",
            a(&[&"lesson", &"--regularized-epochs", &"100000000"]),
            "--regularized-epochs".into(),
        ),
        (
            "10 diverged training",
            a(&[
                &"train",
                &"--epochs",
                &"3",
                &"--weight-decay",
                &"1e6",
                &"--quiet",
                &"-o",
                &p("nan.json"),
            ]),
            "training diverged".into(),
        ),
        (
            "11 train --dt 2",
            a(&[&"train", &"--dt", &"2", &"-o", &p("n.json")]),
            "--dt".into(),
        ),
        (
            "11 eval a model of 0 steps",
            a(&[&"eval", &p("zero-steps.pspk"), &"--quiet"]),
            "0 time steps".into(),
        ),
        (
            "11 inspect --board a model of 0 steps",
            a(&[&"inspect", &p("zero-steps.pspk"), &"--board", &"cortex-m4"]),
            s(p("zero-steps.pspk")),
        ),
        (
            "12 inspect > /dev/full",
            vec!["inspect".into(), s(&model), "--json".into()],
            "cannot write to standard output".into(),
        ),
        (
            "messages: 9 layers",
            a(&[&"export", &p("nine.json"), &"-o", &p("n.pspk")]),
            format!("{}: 9 layers", s(p("nine.json"))),
        ),
        (
            "messages: validation split",
            a(&[
                &"train",
                &"--data",
                &p("data.csv"),
                &"--val-fraction",
                &"0.001",
                &"--epochs",
                &"1",
                &"--quiet",
                &"-o",
                &p("n.json"),
            ]),
            "--val-fraction".into(),
        ),
    ];
    for (name, args, needle) in &cases {
        let before = snapshot(root);
        let out = if name.starts_with("12") {
            run_to_dev_full(name, args)
        } else {
            run_bounded(name, args)
        };
        assert_one_error(name, &out, needle);
        let after = snapshot(root);
        for (path, state) in &before {
            assert_eq!(
                after.get(path),
                Some(state),
                "{name}: {} changed",
                path.display()
            );
        }
        let new: Vec<_> = after.keys().filter(|k| !before.contains_key(*k)).collect();
        assert!(new.is_empty(), "{name}: left {new:?} behind");
    }
}

/// Like [`run_bounded`], with standard output on `/dev/full`.
fn run_to_dev_full(name: &str, args: &[String]) -> Output {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -v {MEMORY_KIB}; exec \"$0\" \"$@\" > /dev/full"
        ))
        .arg(env!("CARGO_BIN_EXE_picospike"))
        .args(args)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(started.elapsed() < TIMEOUT, "{name}: still running");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn issue_22_a_closed_standard_output_is_one_error() {
    let d = tempfile::tempdir().unwrap();
    let (_, model) = digits_model(d.path());
    for args in [
        vec![
            "eval".to_string(),
            s(&model),
            "--json".into(),
            "--quiet".into(),
        ],
        vec!["inspect".into(), s(&model)],
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_picospike"))
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The reader goes away before the command writes (`| head -c0`).
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        assert_one_error(&args[0], &out, "cannot write to standard output");
    }
}

#[test]
fn issue_22_eval_memory_is_set_by_the_data_not_the_model() {
    let d = tempfile::tempdir().unwrap();
    let (net, _) = digits_model(d.path());
    let p = |name: &str| d.path().join(name);
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&net).unwrap()).unwrap();
    // 6: a readout of 65,535 outputs (a 4.6 MB model): the confusion matrix stays 256 x 256 at
    // most instead of 65,535^2 counts (34 GB).
    let mut wide = v.clone();
    {
        let layers = wide["layers"].as_array_mut().unwrap();
        let mut readout = layers[1].clone();
        readout["inputs"] = 64.into();
        readout["outputs"] = 65_535.into();
        readout["weights"] = vec![0.0f32; 64 * 65_535].into();
        readout["biases"] = (0..65_535)
            .map(|i| if i == 60_000 { 1.0f32 } else { 0.0 })
            .collect::<Vec<_>>()
            .into();
        layers.clear();
        layers.push(readout);
    }
    std::fs::write(p("wide.json"), wide.to_string()).unwrap();
    ok_slow(&[
        "export".into(),
        s(p("wide.json")),
        "-o".into(),
        s(p("wide.pspk")),
        "--timesteps".into(),
        "2".into(),
    ]);
    let out = ok_slow(&[
        "eval".into(),
        s(p("wide.pspk")),
        "--samples".into(),
        "5".into(),
        "--json".into(),
        "--quiet".into(),
    ]);
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        json["confusion_matrix"].as_array().unwrap().len(),
        256,
        "{json}"
    );
    assert_eq!(json["predictions_beyond_matrix"], 5, "{json}");
    // 7: 65,535 hidden neurons and 4,000 samples: per-sample traces would need 1 GB.
    {
        let layers = v["layers"].as_array_mut().unwrap();
        let n = 65_535;
        layers[0]["outputs"] = n.into();
        layers[0]["weights"] = vec![0.0f32; 64 * n].into();
        layers[0]["biases"] = vec![0.5f32; n].into();
        layers[1]["inputs"] = n.into();
        layers[1]["weights"] = vec![0.0f32; n * 10].into();
    }
    std::fs::write(p("big.json"), v.to_string()).unwrap();
    ok_slow(&[
        "export".into(),
        s(p("big.json")),
        "-o".into(),
        s(p("big.pspk")),
        "--timesteps".into(),
        "1".into(),
    ]);
    let mut rows = String::new();
    for i in 0..4_000 {
        rows += &"0,".repeat(64);
        rows += &format!("{}\n", i % 10);
    }
    std::fs::write(p("many.csv"), rows).unwrap();
    let out = ok_slow(&[
        "eval".into(),
        s(p("big.pspk")),
        "--data".into(),
        s(p("many.csv")),
        "--split".into(),
        "none".into(),
        "--quiet".into(),
    ]);
    assert!(out.contains("on 4000 samples"), "{out}");
}

#[test]
fn issue_22_a_csv_may_start_with_a_byte_order_mark() {
    let d = tempfile::tempdir().unwrap();
    let (_, model) = digits_model(d.path());
    let csv =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/digits/digits-head200.csv");
    let mut bytes = b"\xef\xbb\xbf".to_vec();
    bytes.extend(std::fs::read(csv).unwrap());
    let bom = d.path().join("bom.csv");
    std::fs::write(&bom, bytes).unwrap();
    let out = ok(&[
        "eval".into(),
        s(&model),
        "--data".into(),
        s(&bom),
        "--split".into(),
        "none".into(),
        "--quiet".into(),
    ]);
    assert!(out.contains("on 200 samples"), "{out}");
}

#[cfg(unix)]
#[test]
fn issue_22_a_signal_leaves_no_temporary_file() {
    let d = tempfile::tempdir().unwrap();
    for signal in ["INT", "TERM", "HUP"] {
        let child = Command::new(env!("CARGO_BIN_EXE_picospike"))
            .args(["train", "--epochs", "500", "--quiet", "-o"])
            .arg(d.path().join("net.json"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(700));
        let sent = Command::new("kill")
            .args([format!("-{signal}"), child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let out = child.wait_with_output().unwrap();
        // `train` reports the data on standard error before it trains: one error line after it.
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{signal}: {stderr}");
        let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
        assert_eq!(errors.len(), 1, "{signal}: {stderr}");
        assert!(
            errors[0].contains("stopped by a signal"),
            "{signal}: {stderr}"
        );
        let left: Vec<_> = std::fs::read_dir(d.path()).unwrap().collect();
        assert!(left.is_empty(), "{signal}: left {left:?}");
    }
}
