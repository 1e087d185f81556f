//! The chip computes what the host computes: models exported by host-tools run on QEMU Cortex-M
//! boards, and every sample's class, output values, per-layer spike counts and synaptic events
//! must equal the host runtime's, bit for bit.
//!
//! Needs `qemu-system-arm` and the `thumbv7em-none-eabihf` / `thumbv6m-none-eabi` targets
//! (`./test.sh` installs them; this test fails with a message naming what is missing, rustup
//! or not) and MNIST
//! images: `$PICOSPIKE_DATA/mnist` when that is set, else the committed fixture
//! `tests/fixtures/mnist` (500 training and 200 test images). Also prints the cost figures the
//! boards report (instructions per inference, per step, per synaptic event; stack).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use picospike_host::data::{self, Dataset};
use picospike_host::quantized;
use picospike_host::recipe::{self, ConvertOptions};
use picospike_host::train::{self, TrainConfig};
use picospike_runtime::{Model, Network};

const SAMPLES: usize = 100;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// MNIST for the test: the full files under `$PICOSPIKE_DATA/mnist`, else the committed fixture.
fn mnist_dir() -> PathBuf {
    std::env::var_os("PICOSPIKE_DATA")
        .map(|d| PathBuf::from(d).join("mnist"))
        .unwrap_or_else(|| repo().join("tests/fixtures/mnist"))
}

/// Fails with a message naming the tool or target that is missing, before anything is built.
fn require_tools() {
    let qemu = Command::new("qemu-system-arm").arg("--version").output();
    assert!(
        qemu.is_ok_and(|o| o.status.success()),
        "qemu-system-arm is missing: run ./test.sh (installs it) or apt-get install qemu-system-arm"
    );
    // Ask the compiler the boards build with (their directory's toolchain) where each target's
    // standard library lives: it works with or without rustup, and an absent `libcore` is a
    // target that is not installed.
    for target in ["thumbv6m-none-eabi", "thumbv7em-none-eabihf"] {
        let out = Command::new("rustc")
            .args(["--print", "target-libdir", "--target", target])
            .current_dir(repo().join("boards"))
            .output();
        let libdir = match out {
            Ok(out) if out.status.success() => {
                PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
            }
            Ok(out) => panic!(
                "rustc --print target-libdir --target {target} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ),
            Err(e) => panic!("rustc does not run ({e}): it builds the boards"),
        };
        let has_core = std::fs::read_dir(&libdir).is_ok_and(|entries| {
            entries.filter_map(Result::ok).any(|entry| {
                let name = entry.file_name();
                let name = name.to_string_lossy();
                name.starts_with("libcore-") && name.ends_with(".rlib")
            })
        });
        assert!(
            has_core,
            "the Rust target {target} is missing (no libcore in {}): run ./test.sh (installs it) \
             or rustup target add {target}",
            libdir.display()
        );
    }
}

/// Train (briefly: bit-exactness, not accuracy, is under test), export a firmware module.
fn export_model(
    name: &str,
    train_set: &Dataset,
    test_set: &Dataset,
    mut config: TrainConfig,
) -> PathBuf {
    config.progress = false;
    let outcome = train::train(train_set, &config).expect("training");
    let options = ConvertOptions {
        timesteps: 20,
        ..ConvertOptions::default()
    };
    let spiking = recipe::to_spiking(&outcome.network, &options);
    let (blob, _) = quantized::build_blob(&spiking).expect("quantizes");
    let dir = std::env::temp_dir().join(format!("picospike-qemu-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    quantized::write_rust_module(&dir, &blob, Some(test_set), SAMPLES).expect("writes the module");
    dir
}

/// One `key=value ...` line of board output.
fn fields(line: &str) -> BTreeMap<&str, &str> {
    line.split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .collect()
}

fn numbers<T: std::str::FromStr>(list: &str) -> Vec<T> {
    list.split(',')
        .map(|x| x.parse().ok().expect("a number"))
        .collect()
}

/// Build `board` with the model in `model_dir`, run it in QEMU, return its output.
fn run_board(board: &str, target: &str, model_dir: &Path) -> String {
    let crate_dir = repo().join("boards").join(board);
    let status = Command::new("cargo")
        .args(["build", "--release", "--quiet"])
        .current_dir(&crate_dir)
        .env("PICOSPIKE_MODEL_DIR", model_dir)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building {board} failed");
    let config = std::fs::read_to_string(crate_dir.join(".cargo/config.toml")).unwrap();
    let runner = config
        .lines()
        .find_map(|l| l.strip_prefix("runner = \"")?.strip_suffix('"'))
        .expect("a runner in .cargo/config.toml");
    let elf = crate_dir.join(format!("target/{target}/release/picospike-{board}"));
    let mut words = runner.split_whitespace();
    let output = Command::new("timeout")
        .arg("600")
        .arg(words.next().unwrap())
        .args(words)
        .arg(&elf)
        .output()
        .expect("qemu-system-arm runs (apt-get install qemu-system-arm)");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{board} exited with {}:\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// Compare every `sample=` line with the host runtime; returns the number compared.
fn compare_with_host(board: &str, model_dir: &Path, test_set: &Dataset, output: &str) -> usize {
    let blob = std::fs::read(model_dir.join("model.pspk")).unwrap();
    let model: Model = Model::from_bytes(&blob).unwrap();
    let mut state = vec![0i32; model.state_words()];
    let mut network = Network::new(&model, &mut state).unwrap();
    let header = output
        .lines()
        .find(|l| l.starts_with("board="))
        .expect("a board= line");
    let steps: u16 = fields(header)["steps"].parse().unwrap();
    let mut compared = 0;
    for line in output.lines().filter(|l| l.starts_with("sample=")) {
        let f = fields(line);
        let index: usize = f["sample"].parse().unwrap();
        let host = network.run(&test_set.images[index], steps).unwrap();
        let board_outputs: Vec<i32> = numbers(f["outputs"]);
        let board_spikes: Vec<u32> = numbers(f["spikes"]);
        let mut mismatches = Vec::new();
        if f["class"].parse::<u16>().unwrap() != host.class {
            mismatches.push(format!("class {} vs host {}", f["class"], host.class));
        }
        if board_outputs != host.outputs {
            mismatches.push(format!(
                "outputs {:?} vs host {:?}",
                board_outputs, host.outputs
            ));
        }
        if let Some(layer) =
            (0..host.spike_counts.len()).find(|&l| board_spikes.get(l) != host.spike_counts.get(l))
        {
            mismatches.push(format!(
                "layer {layer} spikes {:?} vs host {}",
                board_spikes.get(layer),
                host.spike_counts[layer]
            ));
        }
        if f["events"].parse::<u32>().unwrap() != host.synaptic_events {
            mismatches.push(format!(
                "events {} vs host {}",
                f["events"], host.synaptic_events
            ));
        }
        assert!(
            mismatches.is_empty(),
            "{board}: first mismatch at sample {index}: {}",
            mismatches.join("; ")
        );
        compared += 1;
    }
    assert_eq!(
        compared,
        SAMPLES.min(test_set.len()),
        "{board}: not every sample ran:\n{output}"
    );
    let summary = output
        .lines()
        .find(|l| l.starts_with("summary "))
        .unwrap_or("");
    let memory = output
        .lines()
        .find(|l| l.starts_with("memory "))
        .unwrap_or("");
    let s = fields(summary);
    let per_inference: f64 = s
        .get("instructions_per_inference")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    let events: f64 = output
        .lines()
        .filter(|l| l.starts_with("sample="))
        .map(|l| fields(l)["events"].parse::<f64>().unwrap())
        .sum::<f64>()
        / compared as f64;
    println!("{board}: {compared} samples bit-exact with the host; {summary}");
    println!(
        "{board}: {events:.0} synaptic events per inference, {:.1} instructions per event (whole inference / events); {memory}",
        per_inference / events.max(1.0)
    );
    compared
}

#[test]
fn exported_models_run_bit_exact_on_qemu_boards() {
    require_tools();
    let digits = data::builtin_digits();
    let (train_digits, test_digits) = digits.stratified_split(0.2, 0).unwrap();
    let digits_dir = export_model("digits", &train_digits, &test_digits, TrainConfig::digits());
    let out = run_board("qemu-mps2-an386", "thumbv7em-none-eabihf", &digits_dir);
    compare_with_host("mps2-an386 digits", &digits_dir, &test_digits, &out);
    let out = run_board("qemu-microbit", "thumbv6m-none-eabi", &digits_dir);
    compare_with_host("microbit digits", &digits_dir, &test_digits, &out);

    let mnist = mnist_dir();
    let (train_mnist, test_mnist) = data::load_mnist(&mnist).unwrap_or_else(|e| {
        panic!(
            "MNIST is needed under {} (PICOSPIKE_DATA/mnist, else tests/fixtures/mnist): {e}",
            mnist.display()
        )
    });
    let config = TrainConfig {
        hidden: vec![128],
        epochs: 2,
        augment_shift: 0,
        augment_rotate_deg: 0.0,
        augment_scale: 0.0,
        ..TrainConfig::mnist()
    };
    let mnist_model_dir = export_model("mnist", &train_mnist, &test_mnist, config);
    let out = run_board("qemu-mps2-an386", "thumbv7em-none-eabihf", &mnist_model_dir);
    compare_with_host("mps2-an386 mnist", &mnist_model_dir, &test_mnist, &out);
    for dir in [digits_dir, mnist_model_dir] {
        let _ = std::fs::remove_dir_all(dir);
    }
}
