#!/usr/bin/env bash
# Benchmark: run the reference networks on both QEMU boards and write or check boards/BENCH.md.
#
#   boards/bench.sh [--check | --update] [--network NAME ...]
#
#   (no flag)       build, run, compare every sample with the host, print the table
#   --check         the same, then fail if a figure grew > 5 % over the committed BENCH.md
#                   (instructions per inference, 0-step part, marginal step, flash, state RAM)
#                   or if the rows measured and committed differ (what boards/ci.sh runs)
#   --update        the same, then rewrite boards/BENCH.md (commit it)
#   --network NAME  only this network (repeatable); --check then checks only its rows
#   --portable-kernels
#                   the Cortex-M4 board with the runtime's portable kernels instead of the DSP
#                   ones (feature portable-kernels; prints only: the A/B comparison of the kernels,
#                   every sample still compared with the host)
#
# Every (network, board) runs through run-qemu.sh with PICOSPIKE_MODEL_DIR (and PICOSPIKE_STEPS
# for a step count other than the model's), so every sample's outputs, spike counts and events
# are compared with the host runtime (boards/host-reference) and any difference fails the run.
# Figures and definitions: boards/tools/bench.py and the text of BENCH.md. The workload
# (neurons, static-input MACs) comes from `picospike inspect MODEL --json`.
# Builds reuse each board crate's target dir: switching the model rebuilds only the board's
# own crate (and the host reference), about 10 s each.
set -euo pipefail

# The reference networks: name, model directory (under boards/), step count ("-" = the
# model's own), boards, CMSIS-NN anchor instructions for M4 and M0 ("-" = none), ANCHORS.md.
#
# - digits-64-100-10: the trained 64-100-10 LIF digits model at 20 steps (issue 8's yardstick).
# - digits-demo: the same network as `picospike demo` trains (TrainConfig::digits, seed 0: the
#   weights of models/digits) at the step count the demo picks from its accuracy-vs-steps curve
#   (the fewest steps within 0.5 pp of the 30-step accuracy: 6, 98.89 %, as
#   `picospike eval boards/models/digits/model.pspk --data digits --timesteps N` shows); if the
#   demo picks another count, put it here.
# - mnist-784-256-10: models/mnist-dense (SOURCE.md there), 784-256-10 LIF at 20 steps.
# - mnist-conv: models/mnist-conv (SOURCE.md there), the trained conv network of issue 9: 28x28
#   -> conv 16 of 5x5 stride 2 -> conv 32 of 3x3 stride 2 -> dense 128 -> 10, spiking ReLU, 20
#   steps, 100 samples; its 44 KB of state do not fit the micro:bit's 16 KB of RAM (and at 20
#   steps neither do the 24 KB of the layer-by-layer order), so it runs on qemu-mps2-an386 only.
#   Firing rates x5 at conversion. CMSIS-NN's instructions for the same network shape:
#   ANCHORS.md (824,191 on the M4, 2,265,829 on the M0).
# - mnist-conv-x3: models/mnist-conv-x3, the same trained network converted with firing rates x3
#   instead of x5, the cheapest conversion at 20 steps within 0.05 points of the rate network
#   (`picospike convert --sweep`, SOURCE.md there): 34 % fewer synaptic events. With
#   mnist-conv, the pair of rows that differ in activity only, from which `bench.py fit`
#   separates the cost of a conv synaptic event from that of a conv neuron.
# - mnist-conv-10: models/mnist-conv at 10 steps instead of 20, the cheapest conversion of the
#   sweep within 0.08 points of the rate network (98.82 % on t10k against 98.88 %; x5 at 8 steps
#   gives 98.70 %, x3 at 10 steps 98.66 %): `picospike convert --sweep` in models/mnist-conv-x3's
#   SOURCE.md with --sweep-scales 3,5,6,8 --sweep-timesteps 8,10,15,20.
#   On qemu-microbit its 44 KB of step-by-step state do not fit the 16 KB of RAM: the board runs
#   it layer by layer (runtime/SEMANTICS.md, "Execution orders") in 12,200 bytes of state.
# A row whose model directory has no model.rs is skipped with a note (and --check then fails
# if BENCH.md has it).
NETWORKS=(
  "digits-64-100-10 models/digits 20 qemu-mps2-an386,qemu-microbit 19703 56012"
  "digits-demo models/digits 6 qemu-mps2-an386,qemu-microbit 19703 56012"
  "mnist-784-256-10 models/mnist-dense 20 qemu-mps2-an386,qemu-microbit 394683 1247910"
  "mnist-conv models/mnist-conv 20 qemu-mps2-an386 824191 2265829"
  "mnist-conv-x3 models/mnist-conv-x3 20 qemu-mps2-an386 824191 2265829"
  "mnist-conv-10 models/mnist-conv 10 qemu-mps2-an386,qemu-microbit 824191 2265829"
)

usage() { sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
mode=print
only=()
board_features=
while [[ $# -gt 0 ]]; do
  case $1 in
    --check) mode=check ;;
    --update) mode=update ;;
    --network) only+=("${2:?--network needs a name}"); shift ;;
    --portable-kernels) board_features=portable-kernels ;;
    -h|--help) usage ;;
    *) usage ;;
  esac
  shift
done

if [[ -n $board_features && $mode != print ]]; then
  echo "--portable-kernels prints only: BENCH.md holds the kernels the boards run" >&2
  exit 2
fi

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
work=$here/out/bench
rm -rf "$work"
mkdir -p "$work"
rows=$work/rows.jsonl
: > "$rows"

echo "== building picospike (for inspect --json: the models' workload)"
# As `cargo test --workspace` builds it (the same unified features), so that after the tests
# (CI, test.sh) nothing is rebuilt; `cargo build -p picospike-host` would resolve other features
# and rebuild the host tools' dependencies from scratch in a clean checkout.
(cd "$root" && cargo test --workspace --no-run --quiet 2> /dev/null || cargo test --workspace --no-run)
picospike=$root/target/debug/picospike

selected() { # selected NAME: is NAME asked for (all when no --network)
  [[ ${#only[@]} -eq 0 ]] && return 0
  local name
  for name in "${only[@]}"; do [[ $name == "$1" ]] && return 0; done
  return 1
}

check_args=()
skipped=()
for entry in "${NETWORKS[@]}"; do
  read -r name dir steps boards anchor_m4 anchor_m0 <<< "$entry"
  selected "$name" || continue
  check_args+=(--only "$name")
  model_dir=$here/$dir
  if [[ ! -f $model_dir/model.rs ]]; then
    skipped+=("$name ($dir has no model.rs yet)")
    continue
  fi
  "$picospike" inspect "$model_dir/model.pspk" --json > "$work/$name.inspect.json"
  python3 -c 'import json, sys; json.dump(json.load(open(sys.argv[1]))["workload"], open(sys.argv[2], "w"))' \
    "$work/$name.inspect.json" "$work/$name.workload.json"
  step_env=()
  [[ $steps != - ]] && step_env=(PICOSPIKE_STEPS="$steps")
  for board in ${boards//,/ }; do
    # The portable kernels are what the Cortex-M0 runs anyway: compare them on the Cortex-M4.
    [[ -n $board_features && $board != qemu-mps2-an386 ]] && continue
    case $board in
      qemu-mps2-an386) target=thumbv7em-none-eabihf; anchor=$anchor_m4 ;;
      qemu-microbit) target=thumbv6m-none-eabi; anchor=$anchor_m0 ;;
      *) echo "unknown board $board for $name" >&2; exit 2 ;;
    esac
    echo "== $name on $board (steps: ${steps/-/model default})"
    # run-qemu.sh builds, runs, and fails unless every sample equals the host's.
    env PICOSPIKE_MODEL_DIR="$model_dir" PICOSPIKE_BOARD_FEATURES="$board_features" "${step_env[@]}" "$here/run-qemu.sh" "$board" > "$work/$name-$board.log" 2>&1 || {
      tail -30 "$work/$name-$board.log" >&2
      echo "FAIL: $name on $board (log: $work/$name-$board.log)" >&2
      exit 1
    }
    grep '^identical' "$work/$name-$board.log"
    cp "$here/out/$board.out" "$work/$name-$board.out"
    anchor_args=()
    [[ $anchor != - ]] && anchor_args=(--anchor "$anchor")
    python3 "$here/tools/bench.py" record --rows "$rows" --network "$name" --board "$board" \
      --out "$work/$name-$board.out" --elf "$here/$board/target/$target/release/picospike-$board" \
      --model-dir "$model_dir" --workload "$work/$name.workload.json" "${anchor_args[@]}"
  done
done

for note in "${skipped[@]}"; do
  echo "note: skipped $note"
done
echo
case $mode in
  print) python3 "$here/tools/bench.py" table --rows "$rows" --bench-md "$here/BENCH.md" ;;
  update) python3 "$here/tools/bench.py" table --rows "$rows" --bench-md "$here/BENCH.md" --update ;;
  check)
    if [[ ${#only[@]} -eq 0 ]]; then check_args=(); fi
    python3 "$here/tools/bench.py" table --rows "$rows" --bench-md "$here/BENCH.md" --check "${check_args[@]}"
    ;;
esac
