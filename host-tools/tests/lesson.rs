//! `picospike lesson` end to end on a small convolutional network over the built-in digits: the
//! four rows exist and behave as NengoDL's lesson says they should.

mod common;

use common::{bin, require_success};

use serde_json::Value;

fn floats(row: &Value, key: &str) -> Vec<f64> {
    row[key]
        .as_array()
        .unwrap_or_else(|| panic!("{key} missing in {row}"))
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

#[test]
fn conv_lesson_rows_behave_like_nengodl() {
    let d = tempfile::tempdir().unwrap();
    let json = d.path().join("lesson.json");
    let out = bin()
        .args([
            "lesson",
            "--data",
            "digits",
            "--arch",
            "conv8k3,conv16k3s2,dense10",
            "--epochs",
            "10",
            "--quiet",
            "--json",
        ])
        .arg(&json)
        .output()
        .unwrap();
    require_success(&out);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("+ firing rates x10"), "{table}");
    let lesson: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let rows = lesson["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 4, "{lesson}");
    assert_eq!(lesson["timesteps"], 30);
    // The digits default to unit inputs (raw 16 -> 1.0); only IDX data default to raw pixels.
    assert_eq!(lesson["full_scale"], 16);
    let acc = |i: usize, key: &str| rows[i][key].as_f64().unwrap();

    // Two conv layers, two rates per row.
    for row in rows {
        assert_eq!(floats(row, "mean_rate_hz").len(), 2, "{row}");
        assert_eq!(floats(row, "rate_mode_hz").len(), 2, "{row}");
    }
    // The first three rows convert one trained network; it learned the task.
    assert_eq!(acc(0, "rate_float"), acc(1, "rate_float"));
    assert_eq!(acc(0, "rate_float"), acc(2, "rate_float"));
    assert!(acc(0, "rate_float") > 0.8, "{lesson}");
    // Scaling multiplies every rate-mode rate by 10 and leaves the function alone.
    for (plain, scaled) in floats(&rows[1], "rate_mode_hz")
        .iter()
        .zip(floats(&rows[2], "rate_mode_hz"))
    {
        assert!(
            (scaled - 10.0 * plain).abs() <= 1e-6 * scaled.abs().max(1.0),
            "{plain} x10 != {scaled}"
        );
    }
    // Low rates lose the naive swap; ten times the rates with a synapse recover the rate network.
    assert!(acc(0, "spiking_fixed") < 0.5, "{lesson}");
    assert!(
        acc(2, "spiking_fixed") > acc(2, "rate_float") - 0.1,
        "{lesson}"
    );
    let spikes = |i: usize| floats(&rows[i], "mean_rate_hz").iter().sum::<f64>();
    assert!(spikes(2) > 5.0 * spikes(1).max(1.0), "{lesson}");
    // The regularizer raises the rate-mode rates of the last hidden layer toward its target.
    let last = |i: usize| floats(&rows[i], "rate_mode_hz")[1];
    assert!(last(3) > 3.0 * last(1), "{lesson}");
}
