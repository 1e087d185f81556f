//! Chart tests: decoded PNGs checked for colours, sizes and layout.

use std::path::Path;

use plotters::prelude::*;

use super::axes::*;
use super::canvas::*;
use super::confusion::*;
use super::histogram::*;
use super::lines::*;
use super::*;

fn decode(path: &Path) -> (u32, u32, Vec<u8>) {
    let file = std::fs::File::open(path).unwrap();
    let dec = png::Decoder::new(std::io::BufReader::new(file));
    let mut reader = dec.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgb);
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf)
}

fn count_colour(rgb: &[u8], c: RGBColor) -> usize {
    rgb.chunks_exact(3)
        .filter(|p| p[0] == c.0 && p[1] == c.1 && p[2] == c.2)
        .count()
}

fn sine_series() -> Vec<Series> {
    (0..3)
        .map(|k| {
            Series::new(
                format!("s{k}"),
                (0..100)
                    .map(|i| {
                        let x = f64::from(i) / 10.0;
                        (x, (x + f64::from(k)).sin() * f64::from(k + 1))
                    })
                    .collect(),
            )
        })
        .collect()
}

#[test]
fn line_chart_png_decodes_with_every_series_colour() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("line.png");
    let series = sine_series();
    line_chart(&path, "Sines", "x (s)", "y (V)", &series).unwrap();
    let (w, h, rgb) = decode(&path);
    assert_eq!((w, h), (WIDTH, HEIGHT));
    for c in &PALETTE[..series.len()] {
        assert!(count_colour(&rgb, *c) > 100, "colour {c:?} missing");
    }
    // Only the PNG is left in the directory, no temporary file.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn histogram_draws_one_panel_per_group_and_raster_one_band_per_layer() {
    let dir = tempfile::tempdir().unwrap();
    let groups = vec![
        (
            "a".to_owned(),
            (0..200).map(|i| f64::from(i % 37)).collect(),
        ),
        (
            "b".to_owned(),
            (0..200).map(|i| f64::from(i % 23) + 5.0).collect(),
        ),
    ];
    for bins in [1, 10, 200] {
        let path = dir.path().join(format!("hist{bins}.png"));
        histogram(&path, "Rates", "rate (Hz)", &groups, bins).unwrap();
        let (w, h, rgb) = decode(&path);
        assert_eq!((w, h), (WIDTH, HEIGHT));
        for c in &PALETTE[..2] {
            assert!(
                count_colour(&rgb, *c) > 50,
                "bins {bins}: colour {c:?} missing"
            );
        }
    }
    // Many groups make the image taller (each panel stays readable), up to a cap.
    let many: Vec<(String, Vec<f64>)> = (0..10)
        .map(|g| (format!("g{g}"), vec![f64::from(g); 5]))
        .collect();
    let path = dir.path().join("hist-many.png");
    histogram(&path, "Rates", "rate (Hz)", &many, 10).unwrap();
    let (_, h10, rgb) = decode(&path);
    assert!(h10 > HEIGHT, "{h10}");
    assert!(count_colour(&rgb, PALETTE[9]) > 0);
    let too_many: Vec<(String, Vec<f64>)> = (0..40)
        .map(|g| (format!("g{g}"), vec![f64::from(g); 5]))
        .collect();
    histogram(&path, "Rates", "rate (Hz)", &too_many, 10).unwrap();
    let (_, h40, _) = decode(&path);
    let (_, h16, _) = {
        histogram(&path, "Rates", "rate (Hz)", &too_many[..16], 10).unwrap();
        decode(&path)
    };
    assert_eq!(h40, h16);

    let layers = vec![
        ("in".to_owned(), vec![vec![0, 3, 9], vec![], vec![5]]),
        ("out".to_owned(), vec![vec![1, 2]]),
    ];
    let path = dir.path().join("raster.png");
    raster(&path, "Spikes", 10, &layers).unwrap();
    let (w, h, rgb) = decode(&path);
    assert_eq!((w, h), (WIDTH, HEIGHT));
    // Four spikes of layer 0, two of layer 1; each mark is a solid block of many pixels.
    let (n0, n1) = (
        count_colour(&rgb, PALETTE[0]),
        count_colour(&rgb, PALETTE[1]),
    );
    assert!(n0 > 4 * 500 && n1 > 2 * 500, "{n0} {n1}");
    // A spike at or past `steps` is not drawn.
    let layers = vec![("in".to_owned(), vec![vec![10, 11, u32::MAX]])];
    raster(&path, "Spikes", 10, &layers).unwrap();
    let (_, _, rgb) = decode(&path);
    assert!(count_colour(&rgb, PALETTE[0]) < 100);
}

#[test]
fn confusion_matrix_colours_cells_by_row_share_and_prints_counts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cm.png");
    // Row 0: 25% / 75%; row 1: all correct; row 2: no samples.
    confusion_matrix(
        &path,
        "Confusion",
        &[vec![1, 3, 0], vec![0, 0, 8], vec![0, 0, 0]],
    )
    .unwrap();
    let (w, h, rgb) = decode(&path);
    assert_eq!((w, h), (CM_WIDTH, CM_HEIGHT));
    for f in [0.0, 0.25, 0.75, 1.0] {
        assert!(count_colour(&rgb, ramp(f)) > 1000, "share {f} missing");
    }
    // The count is printed: different counts with the same shares give different images.
    let a = render_confusion_matrix("t", &[vec![5]]).unwrap();
    let b = render_confusion_matrix("t", &[vec![7]]).unwrap();
    assert_ne!(a, b);
    assert_eq!(ramp(0.0), RAMP[0]);
    assert_eq!(ramp(1.0), RAMP[2]);
    assert_eq!(ramp(f64::NAN), RAMP[0]);
}

#[test]
fn same_input_gives_the_same_png_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("line.png");
    let series = sine_series();
    let first = render_line_chart("Sines", "x", "y", &series).unwrap();
    // Other charts in between must not leave state behind.
    render_histogram("h", "x", &[("a".into(), vec![1.0, 2.0])], 4).unwrap();
    render_confusion_matrix("c", &[vec![1, 2], vec![3, 4]]).unwrap();
    let again = render_line_chart("Sines", "x", "y", &series).unwrap();
    let other_thread =
        std::thread::spawn(move || render_line_chart("Sines", "x", "y", &sine_series()).unwrap())
            .join()
            .unwrap();
    line_chart(&path, "Sines", "x", "y", &series).unwrap();
    assert_eq!(first, again);
    assert_eq!(first, other_thread);
    assert_eq!(std::fs::read(&path).unwrap(), first);
    // And a different input does change the bytes.
    assert_ne!(
        first,
        render_line_chart("Sines!", "x", "y", &series).unwrap()
    );
}

#[test]
fn bundled_font_draws_text() {
    assert!(face().is_ok());
    let empty = render_line_chart("", "", "", &[]).unwrap();
    let titled = render_line_chart("Title", "", "", &[]).unwrap();
    assert_ne!(empty, titled);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.png");
    std::fs::write(&path, &titled).unwrap();
    let (w, _, rgb) = decode(&path);
    // Dark text pixels in the title band, none at its far left.
    let dark = |x: u32, y: u32| {
        let i = ((y * w + x) * 3) as usize;
        rgb[i] < 0x80 && rgb[i + 1] < 0x80 && rgb[i + 2] < 0x80
    };
    let title_ink = (10..40)
        .flat_map(|y| (w / 2 - 60..w / 2 + 60).map(move |x| (x, y)))
        .filter(|&(x, y)| dark(x, y))
        .count();
    assert!(title_ink > 50, "{title_ink}");
    assert!(!(10..40).any(|y| (0..20).any(|x| dark(x, y))));
}

/// Writes into `$PLOT_SAMPLES_DIR` when set (to look at the PNGs), else into `tmp`.
fn samples_dir(tmp: &tempfile::TempDir) -> PathBuf {
    let dir = std::env::var_os("PLOT_SAMPLES_DIR").map_or(tmp.path().to_owned(), PathBuf::from);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn empty_and_non_finite_data_do_not_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = samples_dir(&tmp);
    let p = |n: &str| dir.join(format!("edge-{n}"));
    let nan = f64::NAN;
    let inf = f64::INFINITY;
    line_chart(&p("l0.png"), "", "", "", &[]).unwrap();
    line_chart(&p("l1.png"), "t", "x", "y", &[Series::default()]).unwrap();
    let weird = vec![
        Series::new("nan", vec![(nan, 1.0), (1.0, nan), (inf, -inf)]),
        Series::new("one", vec![(2.0, 3.0)]),
        Series::new("flat", vec![(2.0, 3.0), (2.0, 3.0), (nan, nan)]),
        Series::new("huge", vec![(-f64::MAX, f64::MAX), (f64::MAX, -f64::MAX)]),
        Series::new("tiny", vec![(0.0, 1e-300), (1e-300, 2e-300)]),
        Series::new("subnormal", vec![(0.0, 5e-324), (5e-324, 0.0)]),
        Series::new("é ü 漢字 \u{1F600} \t\n", vec![(0.0, 0.0), (1.0, 1.0)]),
        Series::new("x".repeat(10_000), vec![(0.0, 0.0)]),
    ];
    for (i, s) in weird.iter().enumerate() {
        line_chart(
            &p(&format!("w{i}.png")),
            "t",
            "x",
            "y",
            std::slice::from_ref(s),
        )
        .unwrap();
    }
    line_chart(&p("all.png"), &"long title ".repeat(100), "x", "y", &weird).unwrap();
    line_panels(&p("p0.png"), "t", "x", &[]).unwrap();
    line_panels(
        &p("p1.png"),
        "t",
        "x",
        &[("a".into(), vec![]), ("".into(), weird.clone())],
    )
    .unwrap();
    let panels: Vec<(String, Vec<Series>)> = (0..40)
        .map(|k| {
            (
                format!("p{k}"),
                vec![Series::new("s", vec![(0.0, 1.0), (1.0, 2.0)])],
            )
        })
        .collect();
    line_panels(&p("p2.png"), "t", "x", &panels).unwrap();
    let many: Vec<Series> = (0..300)
        .map(|i| Series::new(format!("series {i}"), vec![(0.0, f64::from(i))]))
        .collect();
    line_chart(&p("many.png"), "t", "x", "y", &many).unwrap();
    histogram(&p("h0.png"), "t", "x", &[], 0).unwrap();
    histogram(&p("h1.png"), "t", "x", &[("e".into(), vec![])], 5).unwrap();
    histogram(&p("h2.png"), "t", "x", &[("n".into(), vec![nan, inf])], 5).unwrap();
    histogram(&p("h3.png"), "t", "x", &[("c".into(), vec![4.0; 10])], 5).unwrap();
    histogram(
        &p("h4.png"),
        "t",
        "x",
        &[("m".into(), vec![-f64::MAX, f64::MAX])],
        3,
    )
    .unwrap();
    histogram(
        &p("h5.png"),
        "t",
        "x",
        &[("b".into(), vec![1.0, 2.0])],
        usize::MAX,
    )
    .unwrap();
    raster(&p("r0.png"), "t", 0, &[]).unwrap();
    raster(&p("r1.png"), "t", 0, &[("a".into(), vec![vec![0, 1]])]).unwrap();
    raster(&p("r2.png"), "t", 5, &[("a".into(), vec![])]).unwrap();
    raster(
        &p("r3.png"),
        "t",
        3,
        &[("a".into(), vec![vec![u32::MAX, 7]])],
    )
    .unwrap();
    let big = vec![("big".to_owned(), vec![vec![0, 1, 2]; 5000])];
    raster(&p("r4.png"), "t", 100_000, &big).unwrap();
    raster(&p("r5.png"), "t", usize::MAX, &big).unwrap();
    let layers: Vec<(String, Vec<Vec<u32>>)> =
        (0..50).map(|l| (format!("L{l}"), vec![vec![0]])).collect();
    raster(&p("r6.png"), "t", 1, &layers).unwrap();
    confusion_matrix(&p("c0.png"), "t", &[]).unwrap();
    confusion_matrix(&p("c1.png"), "t", &[vec![], vec![]]).unwrap();
    confusion_matrix(&p("c2.png"), "t", &[vec![0, 0], vec![0, 0]]).unwrap();
    confusion_matrix(&p("c3.png"), "t", &[vec![1], vec![2, 3, 4], vec![]]).unwrap();
    confusion_matrix(&p("c4.png"), "t", &vec![vec![u64::MAX; 3]; 3]).unwrap();
    let wide: Vec<Vec<u64>> = (0..300).map(|r| vec![r; 300]).collect();
    confusion_matrix(&p("c5.png"), "t", &wide).unwrap();
    let (w, h, _) = decode(&p("h0.png"));
    assert_eq!((w, h), (WIDTH, HEIGHT));
}

#[test]
fn missing_directory_is_an_error_naming_the_path_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing").join("chart.png");
    let err = line_chart(&path, "t", "x", "y", &sine_series()).unwrap_err();
    assert!(matches!(err, PlotError::Write(_)));
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
    assert!(!path.exists());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    let err = confusion_matrix(&path, "t", &[vec![1]]).unwrap_err();
    assert!(matches!(err, PlotError::Write(_)));
}

#[test]
fn failed_write_keeps_the_previous_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chart.png");
    std::fs::write(&path, b"old").unwrap();
    // A directory in the file's place makes the rename fail.
    let blocked = dir.path().join("blocked.png");
    std::fs::create_dir(&blocked).unwrap();
    std::fs::write(blocked.join("x"), b"").unwrap();
    assert!(line_chart(&blocked, "t", "x", "y", &[]).is_err());
    assert_eq!(std::fs::read(&path).unwrap(), b"old");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
}

#[test]
fn nice_ticks_are_round() {
    let a = Axis::loose(0.13, 9.7, 6);
    assert_eq!(nice_step(0.13, 9.7, 6), 2.0);
    let values: Vec<f64> = a.ticks.iter().map(|t| t.0).collect();
    assert_eq!(values, vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
    let a = Axis::loose(-0.031, 0.047, 6);
    assert_eq!(nice_step(-0.031, 0.047, 6), 0.01);
    assert_eq!(a.ticks[0].1, "-0.04");
    assert_eq!(a.label(0.0), "0");
    assert_eq!(a.label(0.005), "", "not a tick");
    let a = Axis::tight(0.0, 1.0e7, 5);
    assert_eq!(a.label(2.0e6), "2e6");
    let a = Axis::loose(0.0, 10.0, 4);
    assert_eq!(nice_step(0.0, 10.0, 4), 2.5);
    assert_eq!(whole_step(0.0, 10.0, 4), 5.0);
    assert_eq!(whole_step(0.0, 3.0, 10), 1.0);
    assert_eq!(a.label(7.5), "7.5");
    // The whole f64 range still gets an axis with finite ticks.
    let a = Axis::loose(-f64::MAX, f64::MAX, 8);
    assert!(!a.ticks.is_empty());
    assert!(a.ticks.iter().all(|t| t.0.is_finite()));
    assert_eq!(a.map(&-f64::MAX, (0, 100)), 0);
    assert_eq!(a.map(&f64::MAX, (0, 100)), 100);
    assert_eq!(count_axis(3).ticks.len(), 4, "0, 1, 2, 3");
}

/// Realistic charts, written to `$PLOT_SAMPLES_DIR` when set (for looking at them), else to a
/// temporary directory.
#[test]
fn realistic_samples_render_with_their_colours() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = samples_dir(&tmp);
    let loss: Vec<(f64, f64)> = (1..=60)
        .map(|e| {
            let e = f64::from(e);
            (e, 2.3 * (-e / 12.0).exp() + 0.08 + 0.03 * (e * 1.7).sin())
        })
        .collect();
    let val: Vec<(f64, f64)> = loss.iter().map(|&(e, l)| (e, l * 1.1 + 0.05)).collect();
    let path = dir.join("sample-line.png");
    line_chart(
        &path,
        "Training loss",
        "epoch",
        "cross-entropy loss",
        &[Series::new("train", loss), Series::new("validation", val)],
    )
    .unwrap();
    let (_, _, rgb) = decode(&path);
    assert!(count_colour(&rgb, PALETTE[0]) > 100 && count_colour(&rgb, PALETTE[1]) > 100);

    let acc: Vec<(f64, f64)> = (1..=60)
        .map(|e| (f64::from(e), 100.0 - 40.0 * (-f64::from(e) / 5.0).exp()))
        .collect();
    let path = dir.join("sample-panels.png");
    let loss = Series::new("train loss", vec![(1.0, 2.0), (30.0, 0.5), (60.0, 0.1)]);
    line_panels(
        &path,
        "Training",
        "epoch",
        &[
            ("cross-entropy loss".into(), vec![loss]),
            (
                "accuracy (%)".into(),
                vec![Series::new("train accuracy", acc)],
            ),
        ],
    )
    .unwrap();
    let (_, h, rgb) = decode(&path);
    assert!(h > HEIGHT, "two panels make a taller image");
    // Colours run on across panels: the second panel's series is orange.
    assert!(count_colour(&rgb, PALETTE[0]) > 100 && count_colour(&rgb, PALETTE[1]) > 100);

    // Deterministic pseudo-random firing rates.
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut rnd = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut gauss = |m: f64, s: f64| {
        let u: f64 = (0..12).map(|_| rnd()).sum::<f64>() - 6.0;
        m + s * u
    };
    let groups: Vec<(String, Vec<f64>)> = vec![
        (
            "layer 0".into(),
            (0..256).map(|_| gauss(90.0, 25.0).max(0.0)).collect(),
        ),
        (
            "layer 1".into(),
            (0..10).map(|_| gauss(150.0, 30.0).max(0.0)).collect(),
        ),
    ];
    let path = dir.join("sample-hist.png");
    histogram(&path, "Firing rates per neuron", "rate (Hz)", &groups, 30).unwrap();
    let (_, _, rgb) = decode(&path);
    assert!(count_colour(&rgb, PALETTE[0]) > 100 && count_colour(&rgb, PALETTE[1]) > 100);

    let steps = 30u32;
    let mut layer = |n: usize, p: f64| -> Vec<Vec<u32>> {
        (0..n)
            .map(|i| {
                let rate = p * (0.3 + (i % 7) as f64 / 5.0);
                (0..steps).filter(|_| rnd() < rate).collect()
            })
            .collect()
    };
    let layers = vec![
        ("layer 0".to_owned(), layer(100, 0.12)),
        ("layer 1".to_owned(), layer(10, 0.2)),
    ];
    let path = dir.join("sample-raster.png");
    raster(
        &path,
        "Spike raster of test sample 0",
        steps as usize,
        &layers,
    )
    .unwrap();
    let (_, _, rgb) = decode(&path);
    assert!(count_colour(&rgb, PALETTE[0]) > 100 && count_colour(&rgb, PALETTE[1]) > 100);

    let matrix: Vec<Vec<u64>> = (0..10u64)
        .map(|r| {
            (0..10u64)
                .map(|c| {
                    if r == c {
                        18 + r % 3
                    } else {
                        u64::from((r * 7 + c * 3) % 11 == 0)
                    }
                })
                .collect()
        })
        .collect();
    let path = dir.join("sample-confusion.png");
    confusion_matrix(
        &path,
        "Confusion matrix (fixed point, 200 test samples)",
        &matrix,
    )
    .unwrap();
    let (_, _, rgb) = decode(&path);
    assert!(count_colour(&rgb, RAMP[0]) > 1000);
}
