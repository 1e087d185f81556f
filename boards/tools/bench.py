#!/usr/bin/env python3
"""The benchmark table of boards/BENCH.md: collect one row per (network, board), write or check.

`boards/bench.sh` runs every reference network on every QEMU board (through run-qemu.sh, which
also compares every sample with the host) and calls this script twice:

  bench.py record --rows ROWS.jsonl --network NAME --board BOARD --out QEMU.out --elf ELF \\
                  --model-dir DIR --workload WORKLOAD.json [--anchor N]
      append one row, from the board's output (summary, cost, static and memory lines, the
      sample lines' synaptic events), the ELF (flash), the model directory's model.rs (the
      embedded test samples, taken out of the flash figure) and the model's workload (neurons,
      static-input MACs: `picospike inspect MODEL --json`, key "workload");

  bench.py fit --bench-md BENCH.md
      per board, the per-kind costs of host-tools/src/cost.rs (`Board::costs`) from the
      committed rows: the 0-step part by least squares over the dense networks as
      per_state_word x state words + per_static_mac_dense x (input density x static MACs), the
      rest per step and neuron (mean over the dense networks: per_neuron_step_dense); the conv
      rows give the conv costs (the remainder over their conv neurons and MACs; with two rows of
      one network at different activity, per conv neuron step and per synaptic event into a
      conv layer apart, by least squares); prints
      them as Rust to paste there, with each row's prediction. The rows of the networks in
      HELD_OUT are left out of the fit and printed apart: cost_prediction.rs validates on them.

  bench.py table --rows ROWS.jsonl --bench-md BENCH.md (--update | --check) [--tolerance 0.05]
      --update rewrites BENCH.md; --check fails (exit 1) if a guarded figure of a row grew by
      more than the tolerance over the committed file, or if the rows measured and the rows
      committed differ; without either it prints the table.

Figures (all per inference unless named otherwise; instructions are QEMU `-icount shift=0`
instructions, SysTick calibrated, the mean over the embedded samples):

  instructions        whole inference (reset, static input drive, every step, readout)
  per_neuron_step     instructions / (neurons x steps): neurons are every neuron with dynamics
                      (hidden and readout), as in issue 8's "127 per neuron-step"
  per_event           instructions / synaptic events (whole inference, events as the runtime
                      counts them: one per spike per target)
  static              the same samples run for 0 steps (reset, static input drive, readout)
  per_static_mac      static / static-input MACs (dense count: every input times its fan-out,
                      the count CMSIS-NN's per-MAC figures use; an event-driven kernel that skips
                      zero pixels goes below the dense cost this way)
  per_step            marginal cost of one more step (first sample at the step count and twice)
  flash               flash_total of the ELF (text + rodata + data) minus the embedded samples
  state               state RAM of the network (state words x 4)

Standard library only, like boardsize.py (imported for the ELF figures).
"""
import argparse
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import boardsize  # noqa: E402

# Figures CI guards against growth; the others follow from them or describe the workload.
GUARDED = ["instructions", "static", "per_step", "flash", "state"]
BEGIN = "<!-- bench figures: written by boards/bench.sh --update, read by --check; do not edit -->"
END = "<!-- end of bench figures -->"
ANCHOR_NOTE = "CMSIS-NN int8, same network (ANCHORS.md)"


def key_values(line):
    """`key=value` pairs of a report line (values kept as strings)."""
    return dict(item.split("=", 1) for item in line.split() if "=" in item)


def parse_output(text):
    """The figures of one QEMU report (see boards/firmware/src/qemu/mod.rs)."""
    figures = {"events": [], "spikes": []}
    for line in text.splitlines():
        head = line.split(" ", 1)[0]
        fields = key_values(line)
        if head.startswith("board="):
            figures["model_bytes"] = int(fields["model_bytes"])
            figures["state"] = int(fields["state_words"]) * 4
            figures["steps"] = int(fields["steps"])
            figures["inputs"] = int(fields["inputs"])
            # The execution order the board chose (`order=layers`: the model's step-by-step state
            # does not fit its RAM); rows of the step order do not name it.
            if fields.get("order") == "layers":
                figures["order"] = "layers"
        elif head.startswith("sample="):
            if "error" in fields:
                raise ValueError(f"a sample failed: {line}")
            figures["events"].append(int(fields["events"]))
            figures["spikes"].append([int(v) for v in fields["spikes"].split(",") if v])
        elif head == "summary":
            figures["samples"] = int(fields["samples"])
            figures["correct"] = int(fields["correct"])
            figures["instructions"] = int(fields["instructions_per_inference"])
        elif head == "cost" and "instructions_per_step" in fields:
            figures["per_step"] = int(fields["instructions_per_step"])
        elif head == "static" and "instructions_per_inference" in fields:
            figures["static"] = int(fields["instructions_per_inference"])
    missing = [k for k in ("model_bytes", "samples", "instructions", "per_step", "static") if k not in figures]
    if missing or not figures["events"]:
        raise ValueError(f"report lacks {', '.join(missing) or 'sample lines'}")
    events = figures.pop("events")
    figures["events"] = round(sum(events) / len(events))
    spikes = figures.pop("spikes")
    layers = max(len(s) for s in spikes)
    # Mean spikes per layer and inference (pooled sums for a pool, as the runtime counts them).
    figures["layer_spikes"] = [sum(s[l] for s in spikes if l < len(s)) / len(spikes) for l in range(layers)]
    return figures


def conv_events(layer_spikes, layers):
    """Synaptic events into convolutional layers per inference: each spike of layer l - 1 times
    layer l's mean fan-out, the formula of host-tools/src/cost.rs (`predict`)."""
    return sum(
        spikes * float(layer["fan_out"])
        for spikes, layer in zip(layer_spikes, layers[1:])
        if layer.get("kind") == "conv2d"
    )


def embedded_samples(model_rs):
    """(count, bytes in flash, mean fraction of non-zero input bytes) of model.rs's SAMPLES."""
    with open(model_rs) as f:
        text = f.read()
    body = text.split("SAMPLES", 1)[1] if "SAMPLES" in text else ""
    rows = re.findall(r"\(&\[([0-9,\s]*)\],\s*\d+\)", body)
    inputs = [[int(v) for v in row.replace(" ", "").split(",") if v] for row in rows]
    # Each sample: its bytes, plus the (&[u8], u8) tuple of the slice (pointer, length, label:
    # 12 bytes on a 32-bit target).
    size = sum(len(i) + 12 for i in inputs)
    total = sum(len(i) for i in inputs)
    density = sum(1 for i in inputs for v in i if v) / total if total else 0.0
    return len(inputs), size, density


def record(args):
    with open(args.out) as f:
        figures = parse_output(f.read())
    with open(args.workload) as f:
        workload = json.load(f)
    count, sample_bytes, density = embedded_samples(os.path.join(args.model_dir, "model.rs"))
    elf = boardsize.measure(args.elf)
    neurons, macs = int(workload["neurons"]), int(workload["static_macs"])
    layers = workload.get("layers", [])
    conv_neurons = sum(int(l["neurons"]) for l in layers if l.get("kind") == "conv2d")
    conv_static = int(bool(layers) and layers[0].get("kind") == "conv2d")
    spikes = figures.pop("layer_spikes")
    row = {
        "network": args.network,
        "board": args.board,
        **figures,
        "neurons": neurons,
        "conv_neurons": conv_neurons,
        "conv_events": round(conv_events(spikes, layers)),
        "static_macs": macs,
        "conv_static": conv_static,
        "input_density": round(density, 4),
        "flash": elf["flash_total"] - sample_bytes,
        "sample_bytes": sample_bytes,
        "anchor": args.anchor,
    }
    if count != row["samples"]:
        raise SystemExit(f"{args.model_dir}/model.rs has {count} samples, the board ran {row['samples']}")
    with open(args.rows, "a") as f:
        f.write(json.dumps(row, sort_keys=True) + "\n")
    return 0


def derived(row):
    """The ratios of a row (see the module docs)."""
    steps = max(row["steps"], 1)
    return {
        "per_neuron_step": row["instructions"] / (row["neurons"] * steps),
        "per_event": row["instructions"] / row["events"] if row["events"] else None,
        "per_static_mac": row["static"] / row["static_macs"] if row["static_macs"] else None,
        "ratio": row["instructions"] / row["anchor"] if row.get("anchor") else None,
    }


def thousands(value):
    return "—" if value is None else f"{value:,}"


def decimal(value, places=1):
    return "—" if value is None else f"{value:,.{places}f}"


def board_cell(row):
    """A row's board, and its execution order when it is layer by layer."""
    return row["board"] + (" (layer by layer)" if row.get("order") == "layers" else "")


def render(rows):
    """BENCH.md: the table, the definitions, and the machine-readable block --check reads."""
    lines = [
        "# Benchmark: reference networks on the QEMU boards",
        "",
        "Written by `boards/bench.sh --update`; `boards/bench.sh --check` (a step of `boards/ci.sh`) fails",
        "when a figure below grows by more than 5 % or when a board's output differs from the host",
        "runtime on any sample. Instructions are QEMU `-icount shift=0` instructions (qemu-mps2-an386 =",
        "Cortex-M4F, qemu-microbit = Cortex-M0), SysTick calibrated, the mean over the model's",
        "embedded test samples, every one of which is bit-exact with the host (`samples`).",
        "",
        "| network | board | steps | samples | instructions / inference | / neuron-step | / synaptic event "
        "| 0-step part | / static MAC | marginal / step | flash (model + code) | model | state RAM "
        "| CMSIS-NN | ratio |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        d = derived(row)
        lines.append(
            f"| {row['network']} | {board_cell(row)} | {row['steps']} | {row['samples']} "
            f"| {thousands(row['instructions'])} | {decimal(d['per_neuron_step'])} | {decimal(d['per_event'])} "
            f"| {thousands(row['static'])} | {decimal(d['per_static_mac'], 2)} | {thousands(row['per_step'])} "
            f"| {thousands(row['flash'])} | {thousands(row['model_bytes'])} | {thousands(row['state'])} "
            f"| {thousands(row.get('anchor'))} | {decimal(d['ratio'], 2) + 'x' if d['ratio'] else '—'} |")
    lines += [
        "",
        "Workload of each network (from the model and the board's counts):",
        "",
        "| network | neurons | static-input MACs | input density | synaptic events / inference | correct |",
        "|---|---|---|---|---|---|",
    ]
    seen = set()
    for row in rows:
        if row["network"] in seen:
            continue
        seen.add(row["network"])
        lines.append(
            f"| {row['network']} | {thousands(row['neurons'])} | {thousands(row['static_macs'])} "
            f"| {row['input_density']:.1%} | {thousands(row['events'])} | {row['correct']} of {row['samples']} |")
    lines += [
        "",
        "Definitions:",
        "",
        "- **instructions / inference**: reset, static input drive, every step and the readout.",
        "- **/ neuron-step**: instructions / inference divided by (neurons x steps), neurons = every neuron",
        "  with dynamics, hidden and readout (issue 8: \"whole step divided by neurons, events included\").",
        "- **/ synaptic event**: instructions / inference divided by the synaptic events of the inference",
        "  (one per spike per target neuron, as the runtime counts them).",
        "- **0-step part**: the same samples run for 0 steps: reset, the static first-layer drive and the",
        "  readout; **/ static MAC** divides it by the dense MAC count of the first layer (every input",
        "  times its fan-out, the count the CMSIS-NN per-MAC figures use).",
        "- **marginal / step**: what one more step costs (first sample at the step count and twice it;",
        "  layer by layer, whose state holds only the row's steps: at half the step count and the count).",
        "- **layer by layer**: the board runs the model in the layer-major order",
        "  (`picospike_runtime::LayeredNetwork`, `runtime/SEMANTICS.md`, \"Execution orders\"), because its",
        "  step-by-step state does not fit the board's RAM; bit-exact with the host like every row. The",
        "  cost model of `inspect --board` (`bench.py fit`) is the step order's and leaves these rows out.",
        "- **flash (model + code)**: text + rodata + data of the whole QEMU firmware ELF (runtime, report",
        "  and formatting code, model) minus the embedded test samples (`sample_bytes` in the figures",
        "  block below); **model**: the model blob; **state RAM**: the network state.",
        f"- **CMSIS-NN**: {ANCHOR_NOTE}: `arm_fully_connected_s8` for the dense networks,",
        "  `arm_convolve_wrapper_s8` and `arm_fully_connected_s8` for the conv network, gcc -O2, the same layer sizes;",
        "  **ratio** = instructions / inference over it.",
        "",
        "Reproduce: `boards/bench.sh` (prints), `boards/bench.sh --update` (rewrites this file),",
        "`boards/bench.sh --check` (what CI runs). The networks, their step counts and anchors are listed",
        "at the top of `boards/bench.sh`; the models and how they were made: `boards/models/*/SOURCE.md`.",
        "After an update, `python3 boards/tools/bench.py fit --bench-md boards/BENCH.md` prints the",
        "per-kind costs for `host-tools/src/cost.rs` (`picospike inspect MODEL --board ...`).",
        "",
        BEGIN,
        "```text",
    ]
    for row in rows:
        fields = " ".join(f"{k}={row[k]}" for k in sorted(row) if k not in ("network", "board") and row[k] is not None)
        lines.append(f"{row['network']} {row['board']} {fields}")
    lines += ["```", END, ""]
    return "\n".join(lines)


def read_committed(path):
    """Rows of the machine-readable block of a BENCH.md, keyed by (network, board)."""
    with open(path) as f:
        text = f.read()
    if BEGIN not in text or END not in text:
        raise ValueError(f"{path} has no bench figures block")
    block = text.split(BEGIN, 1)[1].split(END, 1)[0]
    rows = {}
    for line in block.splitlines():
        parts = line.split()
        if len(parts) < 3 or "=" in parts[0]:
            continue
        row = {"network": parts[0], "board": parts[1]}
        for item in parts[2:]:
            key, value = item.split("=", 1)
            try:
                row[key] = int(value)
            except ValueError:
                try:
                    row[key] = float(value)
                except ValueError:
                    row[key] = value  # a word: the order
        rows[(parts[0], parts[1])] = row
    return rows


def check(rows, committed, tolerance):
    """Lines of a comparison and whether it failed."""
    out, failed = [], False
    measured = {(r["network"], r["board"]): r for r in rows}
    for key in sorted(set(measured) | set(committed)):
        name = f"{key[0]} on {key[1]}"
        if key not in committed:
            out.append(f"{name}: measured but not in BENCH.md (run boards/bench.sh --update and commit it)")
            failed = True
            continue
        if key not in measured:
            out.append(f"{name}: in BENCH.md but not measured (its model directory is missing?)")
            failed = True
            continue
        old, new = committed[key], measured[key]
        for figure in GUARDED:
            if figure not in old or figure not in new:
                continue
            change = (new[figure] - old[figure]) / old[figure] if old[figure] else 0.0
            verdict = ""
            if change > tolerance:
                verdict = f"  FAIL: grew more than {tolerance:.0%}"
                failed = True
            out.append(f"{name:<40}{figure:<14}{old[figure]:>12,}{new[figure]:>12,}{change:>+9.1%}{verdict}")
    return out, failed


def table(args):
    rows = []
    with open(args.rows) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    if args.update:
        with open(args.bench_md, "w") as f:
            f.write(render(rows))
        print(f"updated {args.bench_md}")
        return 0
    print(render(rows).split(BEGIN)[0].rstrip())
    if not args.check:
        return 0
    try:
        committed = read_committed(args.bench_md)
    except (OSError, ValueError) as e:
        print(f"{e}: run boards/bench.sh --update and commit it", file=sys.stderr)
        return 1
    if args.only:
        committed = {k: v for k, v in committed.items() if k[0] in args.only}
    lines, failed = check(rows, committed, args.tolerance)
    print(f"\n{'network on board':<40}{'figure':<14}{'committed':>12}{'now':>12}{'change':>9}")
    print("\n".join(lines))
    if failed:
        print(f"bench check FAILED against {args.bench_md}; if the change is intended, rerun "
              "boards/bench.sh --update and commit the file", file=sys.stderr)
        return 1
    return 0


def least_squares(xs, ys):
    """Coefficients c minimizing sum (y - c . x)^2 for 2-vectors x (normal equations)."""
    a11 = sum(x[0] * x[0] for x in xs)
    a12 = sum(x[0] * x[1] for x in xs)
    a22 = sum(x[1] * x[1] for x in xs)
    b1 = sum(x[0] * y for x, y in zip(xs, ys))
    b2 = sum(x[1] * y for x, y in zip(xs, ys))
    det = a11 * a22 - a12 * a12
    if abs(det) < 1e-9 * max(a11 * a22, 1e-30):
        # Collinear (one network only): put everything on the second term.
        return 0.0, b2 / a22 if a22 else 0.0
    return (b1 * a22 - b2 * a12) / det, (a11 * b2 - a12 * b1) / det


def fit_board(rows):
    """Per-kind costs of one board from its rows (see `bench.py fit`); None where no row shows it."""
    dense = [r for r in rows if not r.get("conv_static") and not r.get("conv_neurons")]
    conv = [r for r in rows if r.get("conv_static") or r.get("conv_neurons")]
    words = lambda r: r["state"] / 4  # noqa: E731
    effective = lambda r: r["input_density"] * r["static_macs"]  # noqa: E731
    per_step = lambda r: (r["instructions"] - r["static"]) / max(r["steps"], 1)  # noqa: E731
    per_word, per_mac = least_squares([(words(r), effective(r)) for r in dense], [r["static"] for r in dense])
    per_neuron = sum(per_step(r) / r["neurons"] for r in dense) / len(dense) if dense else None
    costs = {"per_state_word": per_word, "per_static_mac_dense": per_mac, "per_neuron_step_dense": per_neuron,
             "per_static_mac_conv": None, "per_neuron_step_conv": None, "per_event_conv": None}
    if conv and per_neuron is not None:
        costs["per_static_mac_conv"] = sum(
            (r["static"] - per_word * words(r)) / effective(r) for r in conv) / len(conv)
        # What the conv neurons and their input events cost per step, after the dense neurons.
        rest = lambda r: per_step(r) - per_neuron * (r["neurons"] - r["conv_neurons"])  # noqa: E731
        events = lambda r: r.get("conv_events", 0) / max(r["steps"], 1)  # noqa: E731
        ratios = {round(events(r) / r["conv_neurons"], 3) for r in conv}
        if len(ratios) > 1:
            # Rows of different activity per neuron (one network at two firing-rate scales):
            # neurons and events apart.
            per_conv_neuron, per_event = least_squares(
                [(r["conv_neurons"], events(r)) for r in conv], [rest(r) for r in conv])
            costs["per_neuron_step_conv"], costs["per_event_conv"] = per_conv_neuron, per_event
        else:
            costs["per_neuron_step_conv"] = sum(rest(r) / r["conv_neurons"] for r in conv) / len(conv)
            costs["per_event_conv"] = 0.0
    return costs


def predicted(costs, r):
    """Instructions per inference the per-kind costs predict for row `r` (cost.rs's formula)."""
    mac = costs["per_static_mac_conv"] if r.get("conv_static") else costs["per_static_mac_dense"]
    conv = r.get("conv_neurons", 0)
    step = (r["neurons"] - conv) * costs["per_neuron_step_dense"] + conv * (costs["per_neuron_step_conv"] or 0)
    events = (costs.get("per_event_conv") or 0) * r.get("conv_events", 0)
    return costs["per_state_word"] * r["state"] / 4 + mac * r["input_density"] * r["static_macs"] + r["steps"] * step + events


# Networks whose BENCH.md rows the fit never sees: host-tools/tests/cost_prediction.rs reads
# this line and checks `inspect --board` on their rows, a validation on data the costs were not
# fitted to. digits-demo is the digits model of digits-64-100-10 at 6 steps instead of 20, and
# mnist-conv-10 the conv model of mnist-conv at 10 steps instead of 20: they add no model shape to
# the fit (their 0-step parts repeat the 20-step rows'), so holding them out leaves every
# coefficient identifiable and tests the step-count extrapolation, dense and conv. No other row
# can be held out: the dense 0-step part needs two different dense models (digits and
# mnist-784-256-10) for its two coefficients, and the conv neuron and event costs need the two
# conv rows of different activity (mnist-conv and mnist-conv-x3).
HELD_OUT = {"digits-demo", "mnist-conv-10"}


def fit(args):
    committed = read_committed(args.bench_md)
    boards = {"qemu-mps2-an386": "CortexM4", "qemu-microbit": "CortexM0"}
    # The cost model is the step order's: rows run layer by layer are neither fitted nor held out.
    layered = sorted(key for key, r in committed.items() if r.get("order") == "layers")
    committed = {key: r for key, r in committed.items() if r.get("order") != "layers"}
    for network, board in layered:
        print(f"// not modelled (layer by layer): {network} on {board}")
    training = {key: r for key, r in committed.items() if key[0] not in HELD_OUT}
    fitted = {board: fit_board([r for (_, b), r in sorted(training.items()) if b == board]) for board in boards}
    m4 = fitted["qemu-mps2-an386"]
    for board, variant in boards.items():
        costs = fitted[board]
        rows = [r for (_, b), r in sorted(training.items()) if b == board]
        held_out = [r for (n, b), r in sorted(committed.items()) if b == board and n in HELD_OUT]
        notes = []
        if costs["per_neuron_step_conv"] is None and m4["per_neuron_step_conv"] is not None:
            # No conv row on this board (the conv network does not fit its RAM): the M4's conv
            # costs scaled by this board's dense costs over the M4's.
            costs["per_static_mac_conv"] = m4["per_static_mac_conv"] * costs["per_static_mac_dense"] / m4["per_static_mac_dense"]
            costs["per_neuron_step_conv"] = m4["per_neuron_step_conv"] * costs["per_neuron_step_dense"] / m4["per_neuron_step_dense"]
            costs["per_event_conv"] = m4["per_event_conv"] * costs["per_neuron_step_dense"] / m4["per_neuron_step_dense"]
            notes.append("conv costs extrapolated from qemu-mps2-an386 by the ratio of the dense costs")
        print(f"// {board}: fitted to {', '.join(r['network'] for r in rows)}")
        for note in notes:
            print(f"// ({note})")
        print(f"Board::{variant} => " + ", ".join(f"{k}: {v:.3f}" for k, v in costs.items() if v is not None))
        for r in rows:
            p = predicted(costs, r)
            print(f"//   {r['network']}: measured {r['instructions']:,}, predicted {p:,.0f} ({p / r['instructions'] - 1:+.1%})")
        for r in held_out:
            p = predicted(costs, r)
            print(f"//   held out {r['network']}: measured {r['instructions']:,}, predicted {p:,.0f} "
                  f"({p / r['instructions'] - 1:+.1%})")
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record")
    rec.add_argument("--rows", required=True)
    rec.add_argument("--network", required=True)
    rec.add_argument("--board", required=True)
    rec.add_argument("--out", required=True)
    rec.add_argument("--elf", required=True)
    rec.add_argument("--model-dir", required=True)
    rec.add_argument("--workload", required=True)
    rec.add_argument("--anchor", type=int)
    fit_parser = sub.add_parser("fit")
    fit_parser.add_argument("--bench-md", required=True)
    tab = sub.add_parser("table")
    tab.add_argument("--rows", required=True)
    tab.add_argument("--bench-md", required=True)
    mode = tab.add_mutually_exclusive_group()
    mode.add_argument("--update", action="store_true")
    mode.add_argument("--check", action="store_true")
    tab.add_argument("--only", action="append", default=[], help="check only these networks")
    tab.add_argument("--tolerance", type=float, default=0.05)
    args = parser.parse_args()
    try:
        return {"record": record, "fit": fit, "table": table}[args.command](args)
    except (OSError, ValueError, KeyError) as e:
        print(f"bench.py {args.command}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
