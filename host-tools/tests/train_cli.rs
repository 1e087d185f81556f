//! End-to-end checks of training quality and of the `picospike train` command line.

use std::path::{Path, PathBuf};
mod common;

use common::{bin, require_success};

use picospike_host::data;
use picospike_host::model_file::load_network;
use picospike_host::rate_float::{mean_rates_hz, rate_accuracy};
use picospike_host::train::{train, TrainConfig};
use picospike_runtime::neuron::Neuron;

/// The full MNIST directory: `PICOSPIKE_DATA/mnist` when that variable is set, else the shared
/// data folder beside the repository. Panics with a message naming what is missing.
fn full_mnist() -> PathBuf {
    let root = std::env::var_os("PICOSPIKE_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"));
    let dir = root.join("mnist");
    assert!(
        dir.join("t10k-images-idx3-ubyte.gz").is_file(),
        "this test needs the full MNIST IDX files in {} (set PICOSPIKE_DATA to the folder that holds mnist/)",
        dir.display()
    );
    dir
}

/// The committed MNIST excerpt (500 training and 200 test images), or `PICOSPIKE_DATA/mnist`
/// when that variable is set. Panics with a message naming what is missing.
fn mnist_fixture() -> PathBuf {
    let dir = match std::env::var_os("PICOSPIKE_DATA") {
        Some(root) => PathBuf::from(root).join("mnist"),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/mnist"),
    };
    for file in ["train10k-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz"] {
        assert!(
            dir.join(file).is_file() || dir.join(file.replace("train10k", "train")).is_file(),
            "missing MNIST data: {} (committed under tests/fixtures/mnist, or set PICOSPIKE_DATA)",
            dir.join(file).display()
        );
    }
    dir
}

#[test]
fn cli_trains_on_idx_files() {
    let d = tempfile::tempdir().unwrap();
    let model = d.path().join("mnist.json");
    let out = bin()
        .args(["train", "--data"])
        .arg(mnist_fixture())
        .args([
            "--epochs",
            "1",
            "--hidden",
            "16",
            "--augment-shift",
            "0",
            "--augment-rotate",
            "0",
            "--augment-scale",
            "0",
            "--quiet",
            "-o",
        ])
        .arg(&model)
        .output()
        .unwrap();
    require_success(&out);
    let net = load_network(&model).unwrap();
    assert_eq!((net.input.size(), net.input.full_scale), (784, 255));
    assert_eq!(net.layers.last().unwrap().outputs, 10);
}

#[test]
fn cli_trains_a_conv_network_deterministically() {
    let d = tempfile::tempdir().unwrap();
    let run = |name: &str| {
        let path = d.path().join(name);
        let out = bin()
            .args(["train", "--data"])
            .arg(mnist_fixture())
            .args([
                "--preset",
                "mnist-conv",
                "--arch",
                "conv4k5s2,avgpool2,conv6k3s1p1,dense10",
                "--epochs",
                "2",
                "--dropout",
                "0.1",
                "--quiet",
                "-o",
            ])
            .arg(&path)
            .output()
            .unwrap();
        require_success(&out);
        let report = String::from_utf8_lossy(&out.stdout).to_string();
        (std::fs::read(&path).unwrap(), report)
    };
    let (first, report) = run("a.json");
    assert_eq!(first, run("b.json").0, "same seed, same bytes");
    assert!(report.contains("conv4k5s2"), "{report}");
    let net = load_network(&d.path().join("a.json")).unwrap();
    // 28 -> 12 (conv) -> 6 (pool) -> 6 (padded conv) -> 10.
    assert_eq!(
        net.layers.iter().map(|l| l.outputs).collect::<Vec<_>>(),
        [12 * 12 * 4, 6 * 6 * 4, 6 * 6 * 6, 10]
    );
    assert_eq!(net.layers[1].neuron, Neuron::Readout, "a pool is linear");

    // The conv network converts, quantizes and runs in the fixed-point runtime: the stage table
    // has a row per spiking layer (not the pool) and the model's sizes.
    let out = bin()
        .arg("convert")
        .arg(d.path().join("a.json"))
        .arg("--data")
        .arg(mnist_fixture())
        .args(["--timesteps", "5", "--quiet", "--out"])
        .arg(d.path().join("converted"))
        .output()
        .unwrap();
    require_success(&out);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("spiking, fixed point, 5 steps"), "{table}");
    let rows: Vec<&str> = table
        .lines()
        .skip_while(|l| !l.starts_with("layer"))
        .skip(1)
        .take_while(|l| !l.is_empty())
        .map(|l| l.split_whitespace().next().unwrap_or(""))
        .collect();
    assert_eq!(rows, ["0", "2"], "{table}");
    assert!(table.contains("bytes state RAM"), "{table}");
    // Feature maps get a per-channel rate plot beside the per-neuron histogram.
    let png = std::fs::read(d.path().join("converted/channel_rates.png")).unwrap();
    assert!(
        png.starts_with(b"\x89PNG"),
        "channel_rates.png is not a PNG"
    );
    let out = bin()
        .arg("inspect")
        .arg(d.path().join("converted/model.pspk"))
        .output()
        .unwrap();
    require_success(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("layer 1: sum pool 12x12x4 -> 6x6x4"),
        "{text}"
    );
    assert!(text.contains("layer 2: conv2d 6x6x4 -> 6x6x6"), "{text}");

    // The sweep: every candidate converted and run, cheapest first, the front and the pick
    // marked, and the pick written as a model.
    let out = bin()
        .arg("convert")
        .arg(d.path().join("a.json"))
        .arg("--data")
        .arg(mnist_fixture())
        .args([
            "--sweep",
            "--sweep-scales",
            "1,4",
            "--sweep-timesteps",
            "4,8",
            "--max-drop",
            "100",
            "--quiet",
            "--out",
        ])
        .arg(d.path().join("sweep"))
        .output()
        .unwrap();
    require_success(&out);
    let table = String::from_utf8_lossy(&out.stdout);
    let rows: Vec<&str> = table
        .lines()
        .filter(|l| l.trim_start().starts_with('x'))
        .collect();
    assert_eq!(rows.len(), 4, "{table}");
    assert_eq!(
        rows.iter().filter(|r| r.ends_with("<- pick")).count(),
        1,
        "{table}"
    );
    // With any drop allowed, the pick is the cheapest candidate: the first row.
    assert!(rows[0].ends_with("<- pick"), "{table}");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.path().join("sweep/sweep.json")).unwrap()).unwrap();
    let costs: Vec<f64> = report["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["instructions"].as_f64().unwrap())
        .collect();
    assert!(
        costs.windows(2).all(|w| w[0] <= w[1]),
        "cheapest first: {costs:?}"
    );
    assert!(std::fs::read(d.path().join("sweep/pareto.png"))
        .unwrap()
        .starts_with(b"\x89PNG"));
    let out = bin()
        .arg("inspect")
        .arg(d.path().join("sweep/model.pspk"))
        .output()
        .unwrap();
    require_success(&out);
}

#[test]
fn digits_preset_reaches_97_percent_and_fits_a_cortex_m0() {
    let (train_set, test_set) = data::builtin_digits().stratified_split(0.2, 0).unwrap();
    let cfg = TrainConfig {
        progress: false,
        ..TrainConfig::digits()
    };
    let out = train(&train_set, &cfg).unwrap();
    let net = &out.network;
    let acc = rate_accuracy(net, &test_set.images, &test_set.labels);
    assert!(acc >= 0.97, "rate-mode accuracy {acc}");
    // Model <= 16 KB of int8 weights, state <= 4 KB at ~16 bytes per hidden neuron.
    let weights: usize = net.layers.iter().map(|l| l.weights.len()).sum();
    let hidden: usize = net.layers[..net.layers.len() - 1]
        .iter()
        .map(|l| l.outputs)
        .sum();
    assert!(
        weights <= 16 * 1024 && hidden * 16 <= 4096,
        "{weights} weights, {hidden} neurons"
    );
    assert!(matches!(net.layers[0].neuron, Neuron::Lif { .. }));
    assert!(matches!(net.layers[1].neuron, Neuron::Readout));
    // Rates high enough for a 100-step spiking window (several spikes per neuron on average).
    let rates = mean_rates_hz(net, &test_set.images);
    assert!(rates[0] > 30.0 && rates[0] < 300.0, "{rates:?}");
}

#[test]
fn cli_trains_digits_and_writes_a_loadable_network() {
    let d = tempfile::tempdir().unwrap();
    let model = d.path().join("digits.json");
    let history = d.path().join("history.csv");
    let out = bin()
        .args([
            "train", "--data", "digits", "--epochs", "5", "--quiet", "--output",
        ])
        .arg(&model)
        .arg("--history")
        .arg(&history)
        .output()
        .unwrap();
    require_success(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("rate-mode test accuracy"), "{stdout}");
    let net = load_network(&model).unwrap();
    assert_eq!(net.input.size(), 64);
    assert_eq!(net.input.full_scale, 16);
    assert_eq!(net.layers.len(), 2);
    let csv = std::fs::read_to_string(&history).unwrap();
    assert_eq!(csv.lines().count(), 6, "{csv}");
    assert!(csv.starts_with("epoch,train_loss,train_acc,val_acc"));
}

#[test]
fn cli_errors_are_one_line_with_exit_code_1() {
    let d = tempfile::tempdir().unwrap();
    let bad_csv = d.path().join("bad.csv");
    std::fs::write(&bad_csv, "1,2,3\n4,5\n").unwrap();
    let mut cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["--data".into(), "/no/such/dir".into()], "/no/such/dir"),
        (
            vec!["--data".into(), bad_csv.display().to_string()],
            "row 2",
        ),
        (
            vec![
                "--data".into(),
                "digits".into(),
                "--max-rate".into(),
                "900".into(),
            ],
            "max_rate",
        ),
        (
            vec!["--data".into(), d.path().display().to_string()],
            "train10k-images-idx3-ubyte",
        ),
        (
            vec![
                "--data".into(),
                "digits".into(),
                "--classes".into(),
                "5".into(),
            ],
            "--classes does not apply",
        ),
    ];
    let mnist = mnist_fixture().display().to_string();
    for (arch, needle) in [
        (
            "conv8k29,dense10",
            "kernel 29x29 is larger than its 28x28 input",
        ),
        ("dense64,conv8k3,dense10", "cannot follow the dense layer 1"),
        ("conv0k3,dense10", "zero channels"),
        ("conv8k5s2,dense7", "7 outputs, the data has 10 classes"),
        ("conv8k5x,dense10", "item 1 'conv8k5x'"),
    ] {
        cases.push((
            vec!["--data".into(), mnist.clone(), "--arch".into(), arch.into()],
            needle,
        ));
    }
    for (args, needle) in cases {
        let out = bin()
            .arg("train")
            .args(&args)
            .args(["--quiet", "--epochs", "1", "--output"])
            .arg(d.path().join("m.json"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        let err: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error")).collect();
        assert_eq!(err.len(), 1, "{stderr}");
        assert!(err[0].contains(needle), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    assert!(!d.path().join("m.json").exists());

    // `demo --arch` checks the architecture against the 8x8 digits before it writes anything.
    let out = bin()
        .args(["demo", "--quiet", "--arch", "conv8k9,dense10", "--out"])
        .arg(d.path().join("demo"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("kernel 9x9 is larger than its 8x8 input"),
        "{stderr}"
    );
    assert!(!d.path().join("demo").exists());
}

/// Full MNIST preset (train10k -> t10k); minutes of CPU, so run on demand:
/// `cargo test --release -p picospike-host --test train_cli -- --ignored`.
#[test]
#[ignore = "trains MNIST for minutes; run with --ignored"]
fn mnist_preset_reaches_97_percent() {
    let (train_set, test_set) = data::load_mnist(&full_mnist()).unwrap();
    let cfg = TrainConfig {
        progress: false,
        ..TrainConfig::mnist()
    };
    let out = train(&train_set, &cfg).unwrap();
    let acc = rate_accuracy(&out.network, &test_set.images, &test_set.labels);
    eprintln!("MNIST rate-mode accuracy {acc} in {:.0} s", out.seconds);
    assert!(acc >= 0.97, "{acc}");
}
