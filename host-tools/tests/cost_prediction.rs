//! `picospike inspect --board` against the instructions QEMU measured (`boards/BENCH.md`), on
//! both boards, from the committed models alone (their shapes and the activity recorded at
//! export).
//!
//! The per-kind costs of `host-tools/src/cost.rs` are fitted to BENCH.md's rows except the
//! rows of the networks in `HELD_OUT` of `boards/tools/bench.py`. Those held-out rows must be
//! predicted within 10 % (issue 20's bound for rows the model was not fitted on): that is the
//! validation, on measurements the coefficients never saw (it proves that the cost model carries
//! over to another step count of a network, with the activity recorded in the model; today
//! digits-demo, the digits model at 6 steps instead of 20, and mnist-conv-10, the conv model at
//! 10 steps instead of 20: +0.8 %, +1.8 % and +6.2 %; the conv row's error is mostly the
//! activity, recorded at 20 steps, where the synapses' ramp-up weighs less per step). The fitted
//! rows are checked within 10 %, which only shows that the pasted coefficients still match
//! BENCH.md (a stale paste or a changed formula fails). What is NOT validated: the M0's conv
//! costs, extrapolated from the M4's (the conv network does not fit the micro:bit).
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use picospike_host::cost::{predict, Activity, Board, Workload};
use picospike_runtime::Model;

fn boards_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../boards")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{} is missing ({e}): it is committed", path.display()))
}

/// The reference networks of boards/bench.sh: name -> (model directory, steps or None).
fn networks() -> BTreeMap<String, (String, Option<u16>)> {
    let script = read(&boards_dir().join("bench.sh"));
    let list = script
        .split("NETWORKS=(")
        .nth(1)
        .and_then(|rest| rest.split("\n)").next())
        .expect("bench.sh has a NETWORKS=( ... ) list");
    list.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.trim().trim_matches('"').split_whitespace().collect();
            (fields.len() == 6).then(|| {
                let steps = fields[2].parse().ok();
                (fields[0].to_string(), (fields[1].to_string(), steps))
            })
        })
        .collect()
}

/// The measured rows of BENCH.md's figures block: (network, board) -> instructions; rows run
/// layer by layer (`order=layers`) are left out: the cost model is the step order's.
fn measured() -> Vec<(String, String, f64)> {
    let bench = read(&boards_dir().join("BENCH.md"));
    let block = bench
        .split("<!-- bench figures")
        .nth(1)
        .expect("BENCH.md has its figures block");
    block
        .lines()
        .filter_map(|line| {
            if line.contains(" order=layers") {
                return None;
            }
            let mut fields = line.split_whitespace();
            let (network, board) = (fields.next()?, fields.next()?);
            let instructions = fields.find_map(|f| f.strip_prefix("instructions="))?;
            Some((
                network.to_string(),
                board.to_string(),
                instructions.parse().ok()?,
            ))
        })
        .collect()
}

/// Held-out rows: prediction within this fraction of the measurement.
const HELD_OUT_TOLERANCE: f64 = 0.10;
/// Rows the costs were fitted to.
const FITTED_TOLERANCE: f64 = 0.10;

/// The networks `bench.py fit` leaves out, from its `HELD_OUT = {"a", "b"}` line.
fn held_out() -> Vec<String> {
    let script = read(&boards_dir().join("tools/bench.py"));
    let line = script
        .lines()
        .find_map(|l| l.strip_prefix("HELD_OUT = {"))
        .expect("bench.py has a HELD_OUT = {...} line");
    line.trim_end_matches('}')
        .split(',')
        .map(|name| name.trim().trim_matches('"').to_string())
        .filter(|name| !name.is_empty())
        .collect()
}

/// `inspect --board`'s prediction of one BENCH.md row: its relative error and a report line.
fn predict_row(
    networks: &BTreeMap<String, (String, Option<u16>)>,
    network: &str,
    board: &str,
    instructions: f64,
) -> (f64, String) {
    let (dir, steps) = networks
        .get(network)
        .unwrap_or_else(|| panic!("{network} of BENCH.md is not in bench.sh's NETWORKS"));
    let board = match board {
        "qemu-mps2-an386" => Board::CortexM4,
        "qemu-microbit" => Board::CortexM0,
        other => panic!("unknown board {other} in BENCH.md"),
    };
    let blob = std::fs::read(boards_dir().join(dir).join("model.pspk"))
        .unwrap_or_else(|e| panic!("boards/{dir}/model.pspk: {e}"));
    let model: Model = Model::from_bytes(&blob).expect("a committed model loads");
    let activity = Activity::recorded(&model)
        .unwrap_or_else(|| panic!("boards/{dir}/model.pspk records no activity"));
    let steps = steps.unwrap_or(model.default_timesteps());
    let p = predict(
        &Workload::of(&model),
        &activity,
        &board.costs(),
        steps,
        None,
    );
    let error = p.instructions / instructions - 1.0;
    let line = format!(
        "{network} on {board:?} at {steps} steps: measured {instructions}, predicted {:.0} ({:+.1}%)",
        p.instructions,
        error * 100.0
    );
    (error, line)
}

#[test]
fn held_out_and_fitted_rows_are_predicted_within_10_percent() {
    let networks = networks();
    let rows = measured();
    let held_out = held_out();
    assert!(rows.len() >= 6, "BENCH.md has too few rows: {rows:?}");
    assert!(
        !held_out.is_empty(),
        "bench.py holds no network out of the fit"
    );
    let mut report = Vec::new();
    let mut failures = Vec::new();
    let mut validated = 0;
    for (network, board, instructions) in &rows {
        let (error, line) = predict_row(&networks, network, board, *instructions);
        let (kind, tolerance) = if held_out.contains(network) {
            validated += 1;
            ("held out", HELD_OUT_TOLERANCE)
        } else {
            ("fitted", FITTED_TOLERANCE)
        };
        let line = format!("{kind:>8}: {line}");
        if error.abs() > tolerance {
            failures.push(format!("{line}: beyond {:.0} %", tolerance * 100.0));
        }
        report.push(line);
    }
    println!("{}", report.join("\n"));
    // Every held-out network has rows: a name that matches none would validate nothing.
    assert!(
        validated >= held_out.len(),
        "held-out networks {held_out:?} have {validated} rows in BENCH.md"
    );
    assert!(
        failures.is_empty(),
        "{} (refit: python3 boards/tools/bench.py fit --bench-md boards/BENCH.md):\n{}",
        failures.join("\n"),
        report.join("\n")
    );
}

#[test]
fn inspect_board_prints_the_prediction_or_names_the_missing_activity() {
    let bin = env!("CARGO_BIN_EXE_picospike");
    let model = boards_dir().join("models/digits/model.pspk");
    let out = std::process::Command::new(bin)
        .arg("inspect")
        .arg(&model)
        .args(["--board", "cortex-m0", "--clock-mhz", "48"])
        .output()
        .expect("picospike runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("cortex-m0: about ") && text.contains(" ms at 48 MHz"),
        "{text}"
    );

    // The same model without its recorded activity (as exported without --data).
    let blob = std::fs::read(&model).expect("committed model");
    let loaded: Model = Model::from_bytes(&blob).expect("loads");
    let layers: Vec<_> = loaded
        .layers()
        .iter()
        .map(|layer| match *layer {
            picospike_runtime::layer::Layer::Dense(mut d) => {
                d.activity = 0;
                picospike_runtime::layer::Layer::Dense(d)
            }
            other => other,
        })
        .collect();
    let mut input = loaded.input();
    input.density = 0;
    let plain = picospike_runtime::ModelBuilder {
        dt: loaded.dt(),
        input,
        layers: &layers,
    }
    .to_vec()
    .expect("encodes");
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("plain.pspk");
    std::fs::write(&path, plain).expect("written");
    let out = std::process::Command::new(bin)
        .arg("inspect")
        .arg(&path)
        .args(["--board", "cortex-m4"])
        .output()
        .expect("picospike runs");
    let error = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{error}");
    assert!(
        error.contains("records no firing activity") && error.contains("--data"),
        "{error}"
    );
}

/// `inspect --board cortex-m0` on the conv network: at 20 steps it fits the micro:bit in neither
/// order; at 10 steps (`--timesteps 10`) it fits layer by layer, in the state the runtime sizes.
#[test]
fn inspect_says_when_a_model_fits_the_board_only_layer_by_layer() {
    let bin = env!("CARGO_BIN_EXE_picospike");
    let model = boards_dir().join("models/mnist-conv/model.pspk");
    let inspect = |extra: &[&str]| {
        let out = std::process::Command::new(bin)
            .arg("inspect")
            .arg(&model)
            .args(["--board", "cortex-m0"])
            .args(extra)
            .output()
            .expect("picospike runs");
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let blob = std::fs::read(&model).expect("committed model");
    let loaded: Model = Model::from_bytes(&blob).expect("loads");
    let at_10 = 4 * picospike_runtime::LayeredNetwork::state_words(&loaded, 10);
    let text = inspect(&["--timesteps", "10"]);
    assert!(
        text.contains("layer by layer (a static input")
            && text.contains(&format!("{at_10} bytes at 10 steps")),
        "{text}"
    );
    assert!(
        text.contains("does not fit step by step") && text.contains("fits layer by layer"),
        "{text}"
    );
    assert!(text.contains("at 10 steps ("), "{text}");
    let text = inspect(&[]);
    assert!(
        text.contains("does NOT fit") && text.contains("layer by layer; the model cannot load"),
        "{text}"
    );
}

/// `key=value` figures of a board's size file.
fn size_figure(board: &str, key: &str) -> usize {
    let path = boards_dir().join(board).join("size.txt");
    read(&path)
        .lines()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix('=')?.parse().ok())
        .unwrap_or_else(|| panic!("{}: no {key}=", path.display()))
}

/// `inspect --board`'s RAM figures are the boards' own: the RAM of `memory.x`, and the report
/// firmware's RAM besides the state as `size.txt` records it for the demo model.
#[test]
fn memory_figures_match_the_boards() {
    let demo_rs = read(&boards_dir().join("models/demo/model.rs"));
    let state_words: usize = demo_rs
        .lines()
        .find_map(|l| {
            l.strip_prefix("pub const STATE_WORDS: usize = ")?
                .strip_suffix(';')?
                .parse()
                .ok()
        })
        .expect("models/demo/model.rs has STATE_WORDS");
    for board in [Board::CortexM4, Board::CortexM0] {
        let memory = board.memory();
        let firmware = size_figure(memory.board, "ram_total") - 4 * state_words
            + size_figure(memory.board, "stack_peak");
        assert_eq!(memory.firmware_ram_bytes, firmware, "{}", memory.board);
        let memory_x = read(&boards_dir().join(memory.board).join("memory.x"));
        let ram = memory_x
            .lines()
            .find(|l| l.trim_start().starts_with("RAM"))
            .and_then(|l| l.split("LENGTH =").nth(1))
            .map(|v| v.trim())
            .expect("memory.x has a RAM line");
        let bytes = match ram.strip_suffix('K') {
            Some(k) => k.parse::<usize>().unwrap() << 10,
            None => ram.strip_suffix('M').unwrap().parse::<usize>().unwrap() << 20,
        };
        assert_eq!(memory.ram_bytes, bytes, "{}", memory.board);
    }
}
