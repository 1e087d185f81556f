"""Tests of bench.py: parsing a board report, the table, and the 5 % check."""
import os
import tempfile
import unittest

import bench

REPORT = """calibration instructions=2000000 ticks=50000 instructions_per_tick=40
board=mps2-an386 model=digits model_bytes=8346 state_words=430 inputs=64 outputs=10 steps=20
load ticks=1000 instructions=40000
sample=0 label=6 class=6 outputs=1,2 spikes=300,0 events=3000 ticks=7000 instructions=280000
sample=1 label=7 class=1 outputs=1,2 spikes=301,0 events=3010 ticks=7000 instructions=280000
summary samples=2 correct=1 errors=0 steps=20 ticks_total=14000 ticks_max=7000 instructions_per_inference=280000 instructions_per_step=14000
cost steps=20,40 ticks=7000,13500 ticks_per_step=325 ticks_fixed=500 instructions_per_step=13000 instructions_fixed=20000
static samples=2 ticks_total=1000 ticks_per_inference=500 instructions_per_inference=20000
memory stack_peak=1188 stack_load=1188 stack_run=1000 stack_inference=384 stack_model_load=604 stack_size=4192916 state_bytes=1720 model_struct=276 network_struct=168
"""

MODEL_RS = """pub static MODEL: &[u8] = include_bytes!("model.pspk");
pub const STATE_WORDS: usize = 430;
pub static SAMPLES: &[(&[u8], u8)] = &[
    (&[0, 0, 3, 4], 6),
    (&[1, 0, 0, 0], 7),
];
"""


def row(**changes):
    base = {
        "network": "digits", "board": "qemu-mps2-an386", "steps": 20, "samples": 2, "correct": 1,
        "instructions": 280000, "per_step": 13000, "static": 20000, "events": 3005, "model_bytes": 8346,
        "state": 1720, "inputs": 64, "neurons": 110, "static_macs": 6400, "input_density": 0.375,
        "flash": 40000, "sample_bytes": 32, "anchor": 19703,
    }
    base.update(changes)
    return base


class ParseTest(unittest.TestCase):
    def test_report_figures(self):
        figures = bench.parse_output(REPORT)
        self.assertEqual(figures["instructions"], 280000)
        self.assertEqual(figures["static"], 20000)
        self.assertEqual(figures["per_step"], 13000)
        self.assertEqual(figures["events"], 3005)
        self.assertEqual((figures["samples"], figures["correct"], figures["steps"]), (2, 1, 20))
        self.assertEqual((figures["state"], figures["model_bytes"]), (1720, 8346))

    def test_report_without_static_line_is_an_error(self):
        text = "\n".join(line for line in REPORT.splitlines() if not line.startswith("static"))
        with self.assertRaisesRegex(ValueError, "static"):
            bench.parse_output(text)

    def test_failed_sample_is_an_error(self):
        with self.assertRaisesRegex(ValueError, "sample failed"):
            bench.parse_output(REPORT + 'sample=2 error="input has 2 bytes, expected 3"\n')

    def test_embedded_samples(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "model.rs")
            with open(path, "w") as f:
                f.write(MODEL_RS)
            count, size, density = bench.embedded_samples(path)
        self.assertEqual((count, size), (2, 2 * (4 + 12)))
        self.assertAlmostEqual(density, 3 / 8)


class TableTest(unittest.TestCase):
    def test_derived_ratios(self):
        d = bench.derived(row())
        self.assertAlmostEqual(d["per_neuron_step"], 280000 / 2200)
        self.assertAlmostEqual(d["per_static_mac"], 20000 / 6400)
        self.assertAlmostEqual(d["ratio"], 280000 / 19703)
        self.assertIsNone(bench.derived(row(anchor=None))["ratio"])

    def test_render_round_trips_through_the_figures_block(self):
        rows = [row(), row(board="qemu-microbit", instructions=540000, anchor=56012)]
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "BENCH.md")
            with open(path, "w") as f:
                f.write(bench.render(rows))
            committed = bench.read_committed(path)
        self.assertEqual(set(committed), {("digits", "qemu-mps2-an386"), ("digits", "qemu-microbit")})
        self.assertEqual(committed[("digits", "qemu-microbit")]["instructions"], 540000)
        self.assertEqual(committed[("digits", "qemu-mps2-an386")]["input_density"], 0.375)
        self.assertIn("| 280,000 | 127.3 |", bench.render(rows))

    def committed(self, rows):
        return {(r["network"], r["board"]): r for r in rows}

    def test_check_passes_within_tolerance_and_on_shrinking(self):
        lines, failed = bench.check([row(instructions=293000, flash=30000)], self.committed([row()]), 0.05)
        self.assertFalse(failed, lines)

    def test_check_fails_on_growth_of_any_guarded_figure(self):
        for figure in bench.GUARDED:
            grown = row(**{figure: int(row()[figure] * 1.06)})
            lines, failed = bench.check([grown], self.committed([row()]), 0.05)
            self.assertTrue(failed, figure)
            self.assertTrue(any("FAIL" in line and figure in line for line in lines), lines)

    def test_check_fails_when_rows_differ(self):
        _, failed = bench.check([row(), row(network="conv")], self.committed([row()]), 0.05)
        self.assertTrue(failed)
        _, failed = bench.check([], self.committed([row()]), 0.05)
        self.assertTrue(failed)


class FitTest(unittest.TestCase):
    def test_least_squares_recovers_exact_coefficients(self):
        xs = [(110 * 20, 3000), (110 * 30, 4400), (266 * 20, 9000)]
        ys = [2.5 * a + 4.0 * b for a, b in xs]
        a, b = bench.least_squares(xs, ys)
        self.assertAlmostEqual(a, 2.5)
        self.assertAlmostEqual(b, 4.0)

    def test_fit_recovers_per_kind_costs(self):
        costs = {"per_state_word": 10.0, "per_static_mac_dense": 4.0, "per_neuron_step_dense": 80.0,
                 "per_static_mac_conv": 30.0, "per_neuron_step_conv": 100.0}
        rows = [row(network="a", state=2600, static_macs=6400, input_density=0.5, neurons=110, steps=20),
                row(network="b", state=6344, static_macs=200704, input_density=0.17, neurons=266, steps=20),
                row(network="c", state=23944, static_macs=28800, input_density=0.17, neurons=1418,
                    conv_neurons=1408, conv_static=1, steps=20)]
        for r in rows:
            r.setdefault("conv_neurons", 0)
            conv = r["conv_neurons"]
            mac = costs["per_static_mac_conv"] if r.get("conv_static") else costs["per_static_mac_dense"]
            r["static"] = 10.0 * r["state"] / 4 + mac * r["input_density"] * r["static_macs"]
            r["instructions"] = r["static"] + 20 * (80.0 * (r["neurons"] - conv) + 100.0 * conv)
        fitted = bench.fit_board(rows)
        for key, value in costs.items():
            self.assertAlmostEqual(fitted[key], value, places=6, msg=key)
        for r in rows:
            self.assertAlmostEqual(bench.predicted(fitted, r), r["instructions"], places=3)

    def test_least_squares_with_one_direction(self):
        self.assertEqual(bench.least_squares([(1.0, 10.0), (1.0, 10.0)], [30.0, 30.0]), (0.0, 3.0))


if __name__ == "__main__":
    unittest.main()
