#!/usr/bin/env bash
# Everything CI checks under boards/. Run from anywhere: `bash boards/ci.sh`.
#
# Installs what is missing (as root: apt-get install qemu-system-arm; rustup targets), then:
#   1. firmware: fmt, clippy (host + both thumb targets), tests, docs;
#   2. helper crates (board-build, demo-model, host-reference): fmt, clippy;
#   3. models/demo is what boards/demo-model writes with the current runtime;
#   4. the UART protocol: the client's unit tests (python3 -m unittest in tools/, the examples
#      of PROTOCOL.md) and tools/pspk_uart.py against host-reference --serve;
#   5. QEMU boards: run, compare with the host reference, size/stack/instructions check;
#      the UART server (the real boards' code path) on the emulated UART, driven by the client,
#      behind the fault-injecting proxy (bounded: 30 faults of each kind), and after a client
#      killed mid-frame;
#   6. real boards: build, clippy, size check;
#   7. panic-never: both QEMU boards' model load + inference with a panic handler that cannot be
#      linked (bin panic-never), run and compared with the host;
#   8. the trained model models/digits on qemu-microbit with panic-never, against the host;
#   9. the benchmark (bench.sh --check): the reference networks on both QEMU boards, every sample
#      against the host, no figure of BENCH.md grown by more than 5 %.
# Ends with a line `boards: N passed, M failed` and exits non-zero if any step failed.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
passed=0
failed=0
failures=()

step() {
  local name=$1; shift
  echo "::: $name"
  if "$@"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    failures+=("$name")
    echo "::: FAILED: $name"
  fi
}

install_tools() {
  local installed
  # Where `cargo install` puts flip-link, also when CARGO_HOME is not ~/.cargo.
  export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
  installed=$(rustup target list --installed)
  for target in thumbv6m-none-eabi thumbv7em-none-eabihf; do
    grep -qx "$target" <<< "$installed" || rustup target add "$target" || return 1
  done
  if ! command -v qemu-system-arm > /dev/null; then
    if [[ $(id -u) -eq 0 ]]; then
      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-system-arm) || return 1
    else
      echo "qemu-system-arm missing: apt-get install qemu-system-arm" >&2
      return 1
    fi
  fi
  command -v python3 > /dev/null || { echo "python3 missing" >&2; return 1; }
  # The real boards link with flip-link (stack overflow protection).
  command -v flip-link > /dev/null || cargo install --locked flip-link || return 1
}

in_crate() { (cd "$here/$1" && shift && "$@"); }

firmware_checks() {
  in_crate firmware cargo fmt --check &&
    in_crate firmware cargo clippy --quiet --all-targets --features std,embedded-hal-nb -- -D warnings &&
    in_crate firmware cargo clippy --quiet --target thumbv7em-none-eabihf --features dwt,runtime,defmt,embedded-hal-nb,qemu -- -D warnings &&
    in_crate firmware cargo clippy --quiet --target thumbv6m-none-eabi --features cortex-m,runtime,defmt,embedded-hal-nb,qemu -- -D warnings &&
    in_crate firmware cargo test --quiet --features std,embedded-hal-nb &&
    in_crate firmware env RUSTDOCFLAGS=-Dwarnings cargo doc --quiet --no-deps --features std,embedded-hal-nb,runtime
}

helper_checks() {
  local crate
  for crate in board-build demo-model host-reference; do
    in_crate "$crate" cargo fmt --check && in_crate "$crate" cargo clippy --quiet --all-targets -- -D warnings || return 1
  done
}

demo_model_fresh() {
  local tmp
  tmp=$(mktemp -d)
  in_crate demo-model cargo run --quiet -- "$tmp/demo" 2> /dev/null || { rm -rf "$tmp"; return 1; }
  if ! diff -r "$tmp/demo" "$here/models/demo"; then
    echo "boards/models/demo is stale: regenerate with (cd boards/demo-model && cargo run)," \
      "then update the size files (boards/run-qemu.sh <board> --update-size, boards/build-boards.sh --update-size)" >&2
    rm -rf "$tmp"
    return 1
  fi
  rm -rf "$tmp"
}

board_fmt() {
  local crate
  for crate in qemu-mps2-an386 qemu-microbit nrf52840-dk stm32f411 rp-pico; do
    in_crate "$crate" cargo fmt --check || return 1
  done
}

uart_protocol_e2e() {
  # The Python client (an independent implementation of PROTOCOL.md) against the simulated
  # board: the same firmware Server, on stdin/stdout. Its lines must match the host reference.
  local ref=$here/host-reference/target/release/picospike-host-reference strip
  strip='s/ (ticks|ticks_total|ticks_max)=[0-9]+//g'
  (cd "$here/tools" && python3 -m unittest 2>&1 | tail -3) &&
    in_crate host-reference cargo build --release --quiet &&
    python3 "$here/tools/pspk_uart.py" --exec "$ref --serve" ping 2> /dev/null | grep -q "'version': 2" &&
    diff <("$ref" | sed -E "$strip") \
      <(python3 "$here/tools/pspk_uart.py" --exec "$ref --serve" run 2> /dev/null | sed -E "$strip")
}

panic_never_clippy() {
  in_crate qemu-mps2-an386 cargo clippy --release --quiet --features panic-never --bin panic-never -- -D warnings &&
    in_crate qemu-microbit cargo clippy --release --quiet --features panic-never --bin panic-never -- -D warnings
}

qemu_board() {
  "$here/run-qemu.sh" "$1" && in_crate "$1" cargo clippy --release --all-targets --quiet -- -D warnings
}

step "install tools" install_tools
step "firmware: fmt, clippy, test, doc" firmware_checks
step "helper crates: fmt, clippy" helper_checks
step "models/demo up to date" demo_model_fresh
step "board crates: fmt" board_fmt
step "uart protocol: python client vs simulated board" uart_protocol_e2e
step "qemu-mps2-an386: run, compare, size" qemu_board qemu-mps2-an386
step "qemu-microbit: run, compare, size" qemu_board qemu-microbit
step "qemu-mps2-an386: UART protocol server, driven by tools/pspk_uart.py" "$here/run-qemu.sh" qemu-mps2-an386 --uart
step "qemu-mps2-an386: UART behind the fault-injecting proxy (bounded)" \
  "$here/run-qemu.sh" qemu-mps2-an386 --uart --faults 30 --samples 100
step "qemu-mps2-an386: next session after a client killed mid-frame" "$here/run-qemu.sh" qemu-mps2-an386 --kill-test
step "real boards: build, clippy, size" "$here/build-boards.sh"
step "qemu-mps2-an386: panic-never (no panic path links), compare" "$here/run-qemu.sh" qemu-mps2-an386 --panic-never
step "qemu-microbit: panic-never (no panic path links), compare" "$here/run-qemu.sh" qemu-microbit --panic-never
step "panic-never bins: clippy" panic_never_clippy
# Last, as they rebuild the boards and the host reference with other models. (models/digits on
# qemu-microbit against the host: the benchmark's digits rows run it, every sample compared.)
step "qemu-microbit: panic-never with models/digits, against the host" \
  env PICOSPIKE_MODEL_DIR=../models/digits "$here/run-qemu.sh" qemu-microbit --panic-never
step "benchmark: reference networks on both QEMU boards, against the host and BENCH.md" \
  "$here/bench.sh" --check

if [[ $failed -gt 0 ]]; then
  printf 'failed step: %s\n' "${failures[@]}"
fi
echo "boards: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
