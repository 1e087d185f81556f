#!/usr/bin/env python3
"""Re-run the accuracy figures that README.md and host-tools/RESULTS.md quote; print measured
beside quoted (a check by hand, not part of CI: the MNIST runs train networks for minutes to
hours).

usage: python3 host-tools/bench/check_figures.py [--group quick|mnist|lesson|all] [--only ID ...]
                                                 [--out DIR] [--bin PATH] [--list]

  --group   quick (default): the digits figures, seconds; mnist: the MNIST dense and conv
            networks (about 5 min for `mnist-dense` on 2 cores, 6 for `mnist-conv-relu`, 20+ for
            the LIF conv presets); lesson: NengoDL's lesson (3 min to 45 min each); all.
  --only    these figure ids (see --list), whatever their group.
  --out     where runs write (default out/check-figures, under the repo, git-ignored).
  --bin     the picospike binary (default: target/release/picospike, built first with cargo).
  --list    the figures, their groups and commands, without running anything.

Data: $PICOSPIKE_DATA if set, else ../shared/data relative to the repository (mnist/ and
digits/ inside). Every run uses the seed its document states (0). Exit status 0 when every
figure run is within its tolerance (0.005 pp for deterministic CPU runs: the same bits, so the
same accuracy to the printed digit), 1 otherwise, 2 on a usage or setup error.

Figures that this script cannot re-run are listed by --list under "not re-run", each with the
reason (a training patch that was never committed, a command of an older version).
"""

import argparse
import gzip
import json
import os
import subprocess
import sys
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def lesson_rows(path):
    rows = json.load(open(path))["rows"]
    out = {}
    for k, row in enumerate(rows, 1):
        for stage in ("rate_float", "spiking_float", "spiking_fixed"):
            out[f"row {k} {stage}"] = row[stage]
    return out


def report(path, steps=()):
    """The three stage accuracies of a convert/demo report.json, and the fixed point at `steps`."""
    r = json.load(open(path))
    out = {k: r[k] for k in ("rate_float", "spiking_float", "spiking_fixed")}
    for s in steps:
        for stage in ("spiking_float", "spiking_fixed"):
            by_step = find_by_step(r, stage)
            if by_step is not None:
                out[f"{stage} at {s} steps"] = by_step[s - 1]
    return out


def find_by_step(r, stage):
    """`accuracy_by_step` of one stage, wherever the report nests it."""
    if isinstance(r, dict):
        if stage in r and isinstance(r[stage], dict) and "accuracy_by_step" in r[stage]:
            return r[stage]["accuracy_by_step"]
        for v in r.values():
            found = find_by_step(v, stage)
            if found is not None:
                return found
    return None


def eval_json(path):
    return {"accuracy": json.load(open(path))["accuracy"]}


def convert_figure(fid, group, doc, network, flags, quoted, steps=(), needs=None):
    """A `picospike convert` of a network another figure trained."""
    return {
        "id": fid, "group": group, "doc": doc, "needs": needs, "quoted": quoted,
        "commands": [f"{{bin}} convert {{out}}/{network} --data {{data}}/mnist {flags} --quiet --json > {{out}}/{fid}.json"],
        "measure": lambda o, fid=fid, steps=steps: report(f"{o}/{fid}.json", steps),
    }


MNIST_CONV = "--arch conv16k5s2,conv32k3s2,dense128,dense10"
FIGURES = [
    {
        "id": "digits-demo", "group": "quick", "doc": "RESULTS.md 1",
        "commands": ["{bin} demo --out {out}/demo --quiet > {out}/demo.log"],
        "quoted": {"rate_float": 98.89, "spiking_float": 98.89, "spiking_fixed": 98.89},
        "measure": lambda o: report(f"{o}/demo/report.json"),
    },
    {
        "id": "digits-csv-whole", "group": "quick", "doc": "RESULTS.md 1 (CSV)", "needs": "digits-demo",
        "commands": ["{header_csv}",
                     "{bin} eval {out}/demo/model.pspk --data {out}/other-writers.csv --split none --timesteps 30 --json > {out}/digits-csv-whole.json"],
        "quoted": {"accuracy": 99.50},
        "measure": lambda o: eval_json(f"{o}/digits-csv-whole.json"),
    },
    {
        "id": "digits-csv-split", "group": "quick", "doc": "RESULTS.md 1 (CSV)", "needs": "digits-csv-whole",
        "commands": ["{bin} eval {out}/demo/model.pspk --data {out}/other-writers.csv --timesteps 30 --json > {out}/digits-csv-split.json"],
        "quoted": {"accuracy": 98.89},
        "measure": lambda o: eval_json(f"{o}/digits-csv-split.json"),
    },
    {
        "id": "mnist-dense", "group": "mnist", "doc": "RESULTS.md 2",
        "commands": ["{bin} train --data {data}/mnist -o {out}/mnist.json --quiet",
                     "{bin} convert {out}/mnist.json --data {data}/mnist --timesteps 32 --out {out}/mnist-convert --quiet --json > {out}/mnist-dense.json"],
        "quoted": {"rate_float": 98.10, "spiking_float": 97.80, "spiking_fixed": 97.82,
                   **{f"spiking_float at {s} steps": v for s, v in zip((1, 2, 4, 8, 12, 16, 24, 32),
                      (78.50, 96.66, 97.42, 97.77, 97.82, 97.84, 97.96, 97.80))},
                   **{f"spiking_fixed at {s} steps": v for s, v in zip((1, 2, 4, 8, 12, 16, 24, 32),
                      (78.63, 96.66, 97.40, 97.73, 97.82, 97.95, 97.94, 97.82))}},
        "measure": lambda o: report(f"{o}/mnist-dense.json", (1, 2, 4, 8, 12, 16, 24, 32)),
    },
    {
        "id": "mnist-conv-relu", "group": "mnist", "doc": "README.md, RESULTS.md 4 (spiking ReLU)",
        "commands": ["{bin} train --data {data}/mnist --preset mnist-conv --neuron relu --seed 0 -o {out}/relu.json --quiet",
                     "{bin} convert {out}/relu.json --data {data}/mnist --timesteps 20 --output-synapse 0.01 --scale-firing-rates 5 --quiet --json > {out}/mnist-conv-relu.json"],
        "quoted": {"rate_float": 98.88, "spiking_float": 98.88, "spiking_fixed": 98.87},
        "measure": lambda o: report(f"{o}/mnist-conv-relu.json"),
    },
    convert_figure("mnist-conv-relu-10", "mnist", "README.md, RESULTS.md 4", "relu.json",
                   "--timesteps 10 --output-synapse 0.01 --scale-firing-rates 5",
                   {"rate_float": 98.88, "spiking_float": 98.83, "spiking_fixed": 98.82}, needs="mnist-conv-relu"),
    convert_figure("mnist-conv-relu-5", "mnist", "RESULTS.md 4", "relu.json",
                   "--timesteps 5 --output-synapse 0.01 --scale-firing-rates 5",
                   {"rate_float": 98.88, "spiking_float": 93.49, "spiking_fixed": 93.58}, needs="mnist-conv-relu"),
    *[convert_figure(f"mnist-conv-relu-x{k}", "mnist", "RESULTS.md 4 (scale sweep)", "relu.json",
                     f"--timesteps 20 --output-synapse 0.01 --scale-firing-rates {k}",
                     {"spiking_fixed": v}, needs="mnist-conv-relu")
      for k, v in ((2, 98.76), (3, 98.84), (4, 98.81))],
    {
        "id": "mnist-conv-lif-preset", "group": "mnist", "doc": "README.md, RESULTS.md 4 (the preset, g24)",
        "commands": ["{bin} train --data {data}/mnist --preset mnist-conv --seed 0 -o {out}/g24.json --quiet",
                     "{bin} convert {out}/g24.json --data {data}/mnist --timesteps 20 --output-synapse 0.01 --quiet --json > {out}/mnist-conv-lif-preset.json"],
        "quoted": {"rate_float": 98.92, "spiking_float": 98.68, "spiking_fixed": 98.70},
        "measure": lambda o: report(f"{o}/mnist-conv-lif-preset.json"),
    },
    *[convert_figure(f"mnist-conv-lif-preset-{s}", "mnist", "RESULTS.md 4 (g24)", "g24.json",
                     f"--timesteps {s} --output-synapse 0.01", q, needs="mnist-conv-lif-preset")
      for s, q in ((5, {"spiking_float": 29.85, "spiking_fixed": 29.91}),
                   (10, {"spiking_float": 97.68, "spiking_fixed": 97.72}))],
    {
        "id": "mnist-conv-lif-g20", "group": "mnist", "doc": "RESULTS.md 4 (g20)",
        "commands": [f"{{bin}} train --data {{data}}/mnist --preset mnist-conv {MNIST_CONV} --epochs 20 --seed 0 -o {{out}}/g20.json --quiet",
                     "{bin} convert {out}/g20.json --data {data}/mnist --timesteps 20 --output-synapse 0.01 --quiet --json > {out}/mnist-conv-lif-g20.json"],
        "quoted": {"rate_float": 98.88, "spiking_float": 98.71, "spiking_fixed": 98.68},
        "measure": lambda o: report(f"{o}/mnist-conv-lif-g20.json"),
    },
    *[convert_figure(f"mnist-conv-lif-g20-{s}", "mnist", "RESULTS.md 4 (g20)", "g20.json",
                     f"--timesteps {s} --output-synapse 0.01", q, needs="mnist-conv-lif-g20")
      for s, q in ((5, {"spiking_float": 21.19, "spiking_fixed": 21.39}),
                   (10, {"spiking_float": 97.54, "spiking_fixed": 97.50}))],
    *[convert_figure(f"mnist-conv-lif-g20-{name}", "mnist", "RESULTS.md 4 (g20 conversion variants)", "g20.json",
                     f"--timesteps 20 {flags}", {"spiking_fixed": v}, needs="mnist-conv-lif-g20")
      for name, flags, v in (("readout5ms", "--output-synapse 0.005", 98.59),
                             ("readout15ms-hidden3ms", "--output-synapse 0.015 --synapse 0.003", 98.64),
                             ("readout15ms-hidden8ms", "--output-synapse 0.015 --synapse 0.008", 98.66),
                             ("readout20ms", "--output-synapse 0.02", 98.67),
                             ("x2", "--output-synapse 0.01 --scale-firing-rates 2", 97.48),
                             ("x4", "--output-synapse 0.01 --scale-firing-rates 4", 90.04))],
    {
        "id": "mnist-conv-lif-conv40", "group": "mnist", "doc": "RESULTS.md 4 (wider conv)",
        "commands": ["{bin} train --data {data}/mnist --preset mnist-conv --arch conv16k5s2,conv40k3s2,dense128,dense10 --epochs 24 --max-rate 250 --seed 0 -o {out}/conv40.json --quiet",
                     "{bin} convert {out}/conv40.json --data {data}/mnist --timesteps 20 --output-synapse 0.01 --quiet --json > {out}/mnist-conv-lif-conv40.json"],
        "quoted": {"rate_float": 98.61},
        "measure": lambda o: report(f"{o}/mnist-conv-lif-conv40.json"),
    },
    {
        "id": "lesson-raw-2-epochs", "group": "lesson", "doc": "RESULTS.md 3a (raw, 2 epochs)",
        "commands": ["{bin} lesson --data {data}/mnist --epochs 2 --regularized-epochs 2 --out {out}/lesson2 --json {out}/lesson-raw-2-epochs.json --quiet"],
        "quoted": {"row 1 rate_float": 96.00, "row 1 spiking_float": 20.75, "row 1 spiking_fixed": 20.25,
                   "row 2 spiking_float": 11.50, "row 2 spiking_fixed": 11.50,
                   "row 3 spiking_float": 92.75, "row 3 spiking_fixed": 92.50,
                   "row 4 rate_float": 94.25, "row 4 spiking_float": 58.75, "row 4 spiking_fixed": 59.50},
        "measure": lambda o: lesson_rows(f"{o}/lesson-raw-2-epochs.json"),
    },
    {
        "id": "lesson-raw-12-epochs", "group": "lesson", "doc": "RESULTS.md 3a (raw, the default)",
        "commands": ["{bin} lesson --data {data}/mnist --out {out}/lesson12 --json {out}/lesson-raw-12-epochs.json --quiet"],
        "quoted": {"row 1 rate_float": 97.25, "row 1 spiking_float": 23.75, "row 1 spiking_fixed": 26.75,
                   "row 2 spiking_float": 11.50, "row 2 spiking_fixed": 11.50,
                   "row 3 spiking_float": 97.00, "row 3 spiking_fixed": 96.00,
                   "row 4 rate_float": 96.75, "row 4 spiking_float": 95.50, "row 4 spiking_fixed": 95.50},
        "measure": lambda o: lesson_rows(f"{o}/lesson-raw-12-epochs.json"),
    },
    convert_figure("lesson-12-synapse-60-steps", "lesson", "RESULTS.md 3a (synapse row from rest, 60 steps)",
                   "lesson12/plain.json",
                   "--full-scale 1 --samples 400 --synapse 0.01 --output-synapse 0.01 --timesteps 60",
                   {"spiking_float": 50.25, "spiking_fixed": 52.00}, needs="lesson-raw-12-epochs"),
    convert_figure("lesson-2-row-3", "lesson", "RESULTS.md 3a (row 3 re-scored)", "lesson2/plain.json",
                   "--full-scale 1 --samples 400 --synapse 0.01 --output-synapse 0.01 --timesteps 30 --scale-firing-rates 10",
                   {"rate_float": 96.00, "spiking_float": 92.75, "spiking_fixed": 92.50}, needs="lesson-raw-2-epochs"),
    {
        "id": "lesson-unit-6-epochs", "group": "lesson", "doc": "RESULTS.md 3a (unit inputs)",
        "commands": ["{bin} lesson --data {data}/mnist --input-scale unit --epochs 6 --out {out}/lesson-unit --json {out}/lesson-unit-6-epochs.json --quiet"],
        "quoted": {"row 1 rate_float": 97.25, "row 1 spiking_float": 14.25, "row 1 spiking_fixed": 14.25,
                   "row 3 spiking_fixed": 14.25, "row 4 rate_float": 95.75, "row 4 spiking_fixed": 10.25},
        "measure": lambda o: lesson_rows(f"{o}/lesson-unit-6-epochs.json"),
    },
    convert_figure("lesson-unit-x100", "lesson", "RESULTS.md 3a (unit inputs, rates x100)", "lesson-unit/plain.json",
                   "--samples 400 --synapse 0.01 --output-synapse 0.01 --timesteps 30 --scale-firing-rates 100",
                   {"spiking_float": 74.75, "spiking_fixed": 74.00}, needs="lesson-unit-6-epochs"),
]

NOT_RERUN = [
    ("RESULTS.md 3a, 'The synapse row under NengoDL's conditions' and 'From rest' tables",
     "examples/lesson_initial_voltage prints its own table; run its command there by hand"),
    ("RESULTS.md 3a, reg12 / reg100 table", "its `train` commands are there; a training run of 49 min each, run by hand"),
    ("RESULTS.md 3b, the dense lesson tables", "made by the lesson command of commit 7c9d24f, which no longer exists"),
    ("RESULTS.md 3b, regularizer variants", "a training patch that was never committed"),
    ("RESULTS.md 4, 'no hidden synapse 90.1% to 94.3%'", "a range over several readout synapses, not one command"),
    ("RESULTS.md 3b, higher max_rate table", "the `train` flags are there; not scripted"),
    ("RESULTS.md 5, host speed", "timings, not accuracy: host-tools/bench/nengo_vs_picospike.sh"),
]


def data_dir():
    d = os.environ.get("PICOSPIKE_DATA") or os.path.join(REPO, "..", "shared", "data")
    return os.path.abspath(d)


def header_csv(data, out):
    """The digits CSV with a header line added (RESULTS.md 1: `other-writers.csv`)."""
    with gzip.open(os.path.join(data, "digits", "digits.csv.gz"), "rt") as f:
        body = f.read()
    header = ",".join([f"Block {k}" for k in range(1, 65)] + ["label"])
    with open(os.path.join(out, "other-writers.csv"), "w") as f:
        f.write(header + "\n" + body)


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--group", default="quick", choices=["quick", "mnist", "lesson", "all"])
    parser.add_argument("--only", nargs="+", default=[])
    parser.add_argument("--out", default=os.path.join(REPO, "out", "check-figures"))
    parser.add_argument("--bin", default=None)
    parser.add_argument("--list", action="store_true")
    args = parser.parse_args(argv)
    ids = {f["id"] for f in FIGURES}
    for fid in args.only:
        if fid not in ids:
            print(f"unknown figure id {fid} (see --list)", file=sys.stderr)
            return 2
    chosen = [f for f in FIGURES if (fid_in(f, args.only) if args.only else args.group in ("all", f["group"]))]
    # What a chosen figure needs runs first (a convert of a network another figure trains).
    by_id = {f["id"]: f for f in FIGURES}
    needed = set()
    for f in chosen:
        n = f.get("needs")
        while n:
            needed.add(n)
            n = by_id[n].get("needs")
    chosen = [f for f in FIGURES if f in chosen or f["id"] in needed]
    if args.list:
        for f in FIGURES:
            print(f"{f['id']:<40} {f['group']:<7} {f['doc']}")
            for c in f["commands"]:
                print("    " + c)
        print("\nnot re-run:")
        for what, why in NOT_RERUN:
            print(f"  {what}: {why}")
        return 0
    data = data_dir()
    if not os.path.isdir(data):
        print(f"no data at {data}: set PICOSPIKE_DATA", file=sys.stderr)
        return 2
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    binary = args.bin
    if binary is None:
        subprocess.run(["cargo", "build", "--release", "--quiet", "-p", "picospike-host", "--bin", "picospike"],
                       cwd=REPO, check=True)
        binary = os.path.join(REPO, "target", "release", "picospike")
    failures = 0
    print(f"data {data}, outputs in {out}")
    for f in chosen:
        started = time.time()
        for command in f["commands"]:
            if command == "{header_csv}":
                header_csv(data, out)
                continue
            line = command.format(bin=binary, data=data, out=out)
            done = subprocess.run(line, shell=True, cwd=REPO)
            if done.returncode != 0:
                print(f"{f['id']}: FAILED to run: {line}")
                failures += 1
                break
        else:
            measured = f["measure"](out)
            print(f"\n{f['id']} ({f['doc']}, {time.time() - started:.0f} s)")
            print(f"  {'figure':<28}{'quoted':>9}{'measured':>10}")
            for key, quoted in f["quoted"].items():
                value = measured.get(key)
                if value is None:
                    print(f"  {key:<28}{quoted:>8.2f}%{'missing':>10}  MISMATCH")
                    failures += 1
                    continue
                value *= 100
                verdict = "" if abs(value - quoted) < 0.005 + 1e-9 else "  MISMATCH"
                failures += bool(verdict)
                print(f"  {key:<28}{quoted:>8.2f}%{value:>9.2f}%{verdict}")
    print(f"\n{len(chosen)} runs, {failures} mismatches or failures")
    return 1 if failures else 0


def fid_in(f, only):
    return f["id"] in only


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
