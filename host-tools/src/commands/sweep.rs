//! `picospike convert --sweep`: the accuracy-versus-cost search, its table, plot and pick.

use std::fmt::Write as _;
use std::path::PathBuf;

use super::convert::{load_network_and_test, ConvertArgs};
use super::{create_dir, data_inputs, dir_files, print_stdout, warn, Result};
use crate::model_file;
use crate::output;
use crate::plot::{self, Series};
use crate::quantized;
use crate::recipe;
use crate::sweep::{self, SweepGrid, SweepReport};

/// The files `convert --sweep --out DIR` writes into DIR.
pub const SWEEP_FILES: [&str; 4] = ["sweep.json", "pareto.png", "model.pspk", "spiking.json"];

/// Runs `picospike convert --sweep`.
///
/// # Errors
/// A [`super::CommandError`] naming the file, option or candidate.
pub fn run(args: &ConvertArgs) -> Result<()> {
    let dirs: Vec<PathBuf> = args.out.iter().cloned().collect();
    let files: Vec<PathBuf> = dirs
        .iter()
        .flat_map(|d| dir_files(d, &SWEEP_FILES))
        .collect();
    let mut inputs = data_inputs(&args.data.data);
    inputs.push(args.network.clone());
    output::check_plan(&inputs, &files, &dirs)?;
    let base = args.conversion.options();
    let synapses = if args.sweep_synapses.is_empty() {
        vec![base.synapse_tau]
    } else {
        args.sweep_synapses
            .iter()
            .map(|&t| (t > 0.0).then_some(t))
            .collect()
    };
    let grid = SweepGrid {
        scales: args.sweep_scales.clone(),
        timesteps: args.sweep_timesteps.clone(),
        synapses,
    };
    // Before the data is loaded: a grid that cannot run fails at once.
    grid.checked_candidates(&base)?;
    let (network, test) = load_network_and_test(&args.network, &args.data, &base)?;
    let report = sweep::sweep(
        &network,
        &test,
        &base,
        &grid,
        args.board,
        args.max_drop,
        !args.quiet,
    )?;
    if let Some(out) = &args.out {
        create_dir(out)?;
        model_file::save_json(
            &out.join("sweep.json"),
            &serde_json::to_value(&report).unwrap_or_default(),
        )?;
        pareto_plot(&out.join("pareto.png"), &report)?;
        if let Some(chosen) = report.chosen.map(|i| &report.candidates[i]) {
            let spiking = recipe::to_spiking(&network, &chosen.options);
            let (blob, _) = quantized::build_blob(&spiking)?;
            output::write_atomic(&out.join("model.pspk"), &blob)?;
            model_file::save_network(&out.join("spiking.json"), &spiking)?;
        }
    }
    if args.json {
        print_stdout(&format!(
            "{}\n",
            serde_json::to_value(&report).unwrap_or_default()
        ))?;
    } else {
        print_stdout(&table(&report))?;
    }
    if report.chosen.is_none() {
        warn(&format!(
            "no candidate is within {} points of the rate network's {:.2} %: widen the sweep \
             (higher --sweep-scales or --sweep-timesteps) or allow a larger --max-drop",
            report.max_drop_pp,
            report.rate_accuracy * 100.0
        ));
    } else if report.chosen.is_some_and(|i| !report.candidates[i].fits) {
        warn("the pick does not fit the board's RAM (see the `fits` column)");
    }
    Ok(())
}

/// The candidates, cheapest first, with the front and the pick marked.
fn table(report: &SweepReport) -> String {
    let memory = report.board.memory();
    let mut t = String::new();
    let _ = writeln!(
        t,
        "sweep: cost predicted for {} ({} bytes of RAM), rate network {:.2} %, pick: the \
         cheapest within {} points",
        memory.board,
        memory.ram_bytes,
        report.rate_accuracy * 100.0,
        report.max_drop_pp
    );
    let _ = writeln!(
        t,
        "{:>7} {:>6} {:>9} {:>9} {:>7} {:>13} {:>13} {:>9} {:>5} {:>5}",
        "scale",
        "steps",
        "synapse",
        "accuracy",
        "drop",
        "events",
        "instructions",
        "state B",
        "fits",
        "front"
    );
    for (i, c) in report.candidates.iter().enumerate() {
        let synapse = c
            .options
            .synapse_tau
            .map_or("none".to_string(), |s| format!("{:.1} ms", s * 1000.0));
        let _ = writeln!(
            t,
            "{:>7} {:>6} {:>9} {:>8.2}% {:>+7.2} {:>13.0} {:>13.0} {:>9} {:>5} {:>5}{}",
            format!("x{}", c.options.scale_firing_rates),
            c.options.timesteps,
            synapse,
            c.accuracy * 100.0,
            (c.accuracy - report.rate_accuracy) * 100.0,
            c.synaptic_events,
            c.instructions,
            c.state_bytes,
            if c.fits { "yes" } else { "no" },
            if c.on_front { "*" } else { "" },
            if report.chosen == Some(i) {
                "  <- pick"
            } else {
                ""
            }
        );
    }
    t
}

/// `pareto.png`: accuracy against predicted instructions, one line per step count and synapse
/// (points in order of firing-rate scale), and the front.
fn pareto_plot(path: &std::path::Path, report: &SweepReport) -> Result<()> {
    // Per (steps, synapse in microseconds): (scale, instructions, accuracy %) points.
    type Group = ((u16, Option<u32>), Vec<(f32, f64, f64)>);
    let mut groups: Vec<Group> = Vec::new();
    for c in &report.candidates {
        let key = (
            c.options.timesteps,
            c.options.synapse_tau.map(|t| (t * 1e6) as u32),
        );
        let point = (
            c.options.scale_firing_rates,
            c.instructions,
            c.accuracy * 100.0,
        );
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, points)) => points.push(point),
            None => groups.push((key, vec![point])),
        }
    }
    let mut series: Vec<Series> = groups
        .into_iter()
        .map(|((steps, synapse), mut points)| {
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            let synapse = synapse.map_or("no synapse".to_string(), |us| {
                format!("{} ms", f64::from(us) / 1000.0)
            });
            let (low, high) = (points[0].0, points[points.len() - 1].0);
            Series::new(
                format!("{steps} steps, {synapse}, x{low}..x{high}"),
                points.iter().map(|&(_, x, y)| (x / 1e6, y)).collect(),
            )
        })
        .collect();
    series.push(Series::new(
        "Pareto front",
        report
            .candidates
            .iter()
            .filter(|c| c.on_front)
            .map(|c| (c.instructions / 1e6, c.accuracy * 100.0))
            .collect(),
    ));
    plot::line_chart(
        path,
        &format!(
            "Accuracy against predicted cost ({})",
            report.board.costs().measured_on
        ),
        "predicted instructions per inference (millions)",
        "fixed-point accuracy (%)",
        &series,
    )?;
    Ok(())
}
