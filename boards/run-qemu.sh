#!/usr/bin/env bash
# Build and run a QEMU board, capture its output, and check it.
#
#   boards/run-qemu.sh <board> [--update-size] [--no-check]
#   boards/run-qemu.sh qemu-mps2-an386 --uart [--faults N [--samples S] [--seed K]]
#   boards/run-qemu.sh qemu-mps2-an386 --kill-test
#   boards/run-qemu.sh <board> --panic-never
#
#   <board>        qemu-mps2-an386 | qemu-microbit
#   --update-size  rewrite <board>/size.txt instead of checking against it
#   --no-check     only build, run and capture (no host comparison, no size check)
#   --uart         run the real boards' UART protocol server (bin uart-server) on the emulated
#                  CMSDK UART0 and drive it with tools/pspk_uart.py, then compare with the host
#   --faults N     (with --uart) put tools/uart_faults.py between client and board: seeded bit
#                  flips, dropped/duplicated/inserted bytes, truncated frames and delays, until
#                  each kind was injected N times over S samples (default 100, seed 1); every
#                  reply is checked against the host reference; ends with the line
#                  `faults injected=N detected=D recovered=R wrong=W`, fails unless wrong=0 and
#                  every sample got its host-identical reply
#   --kill-test    the board on a TCP socket; a client killed (kill -9, status 137) after sending
#                  half a frame, which the board must then reject (its link counters), and the
#                  next client must succeed at its first attempt (--retries 0)
#   --panic-never  build bin panic-never (feature panic-never): model load and inference with a
#                  panic handler that references an undefined symbol, so the build fails to
#                  link if any panic path is left; run it and compare its lines with the host
#
# Output goes to boards/out/<board>.out (and boards/out/host-reference.out). Checks:
#   1. QEMU exits with status 0 (every sample ran) within the timeout;
#   2. the sample= and summary lines, timing fields removed, equal the host's
#      (boards/host-reference: same firmware logic and runtime, on the host);
#   3. flash/RAM/stack and instructions-per-inference/step figures have not grown > 5 %
#      over the committed <board>/size.txt, and qemu-microbit's stack_peak is at most 1024
#      bytes, also with --update-size (only for the default model: skipped when
#      PICOSPIKE_MODEL_DIR is set).
# Needs: qemu-system-arm, python3, rustup target thumbv7em-none-eabihf / thumbv6m-none-eabi.
set -euo pipefail

usage() { sed -n '2,35p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
[[ $# -ge 1 ]] || usage
board=$1; shift
update_size=0; check=1; uart=0; panic_never=0; faults=0; samples=100; seed=1; kill_test=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --update-size) update_size=1 ;;
    --no-check) check=0 ;;
    --uart) uart=1 ;;
    --panic-never) panic_never=1 ;;
    --kill-test) kill_test=1 ;;
    --faults) faults=${2:?--faults needs a count}; shift ;;
    --samples) samples=${2:?--samples needs a count}; shift ;;
    --seed) seed=${2:?--seed needs a number}; shift ;;
    *) usage ;;
  esac
  shift
done

here=$(cd "$(dirname "$0")" && pwd)
case $board in
  qemu-mps2-an386) target=thumbv7em-none-eabihf ;;
  qemu-microbit) target=thumbv6m-none-eabi ;;
  *) echo "unknown QEMU board '$board'" >&2; usage ;;
esac
bin=picospike-$board
out_dir=$here/out
mkdir -p "$out_dir"
out=$out_dir/$board.out
elf=$here/$board/target/$target/release/$bin

strip_timing() {
  grep -E '^(sample|summary)' "$1" | sed -E 's/ (ticks|instructions|ticks_total|ticks_max|instructions_per_inference|instructions_per_step)=[0-9]+//g'
}
host_reference() {
  (cd "$here/host-reference" && cargo run --release --quiet) > "$out_dir/host-reference.out"
}

if [[ $panic_never -eq 1 ]]; then
  echo "== building $board bin panic-never (fails to link if any panic path is left)"
  (cd "$here/$board" && cargo build --release --quiet --features panic-never --bin panic-never) || {
    echo "FAIL: panic-never did not build; an 'undefined symbol: picospike_panic_never_linked'" \
      "means a panic path is left (see boards/README.md, 'No panic on the chip')" >&2
    exit 1
  }
  runner=$(sed -n 's/^runner = "\(.*\)"$/\1/p' "$here/$board/.cargo/config.toml")
  out=$out_dir/$board-panic-never.out
  status=0
  timeout 300 $runner "$here/$board/target/$target/release/panic-never" > "$out" 2> "$out_dir/$board-panic-never.err" || status=$?
  cat "$out"
  if [[ $status -ne 0 ]]; then
    echo "FAIL: $board panic-never exited with status $status" >&2
    cat "$out_dir/$board-panic-never.err" >&2
    exit 1
  fi
  host_reference
  if ! diff -u <(strip_timing "$out_dir/host-reference.out" | grep '^sample') <(strip_timing "$out") > "$out_dir/$board-panic-never.diff"; then
    echo "FAIL: $board panic-never output differs from the host reference (- host, + board):" >&2
    cat "$out_dir/$board-panic-never.diff" >&2
    exit 1
  fi
  echo "panic-never links and is identical to the host: $(grep -c '^sample' "$out") samples"
  exit 0
fi

echo "== building $board"
# Only the program this run needs: each bin is a whole LTO build, and bench.sh rebuilds per model.
if [[ ($uart -eq 1 || $kill_test -eq 1) && $board == qemu-mps2-an386 ]]; then
  (cd "$here/$board" && cargo build --release --quiet --bin uart-server)
else
  # PICOSPIKE_BOARD_FEATURES: board features for this build (bench.sh --portable-kernels).
  (cd "$here/$board" && cargo build --release --quiet --bin "$bin" ${PICOSPIKE_BOARD_FEATURES:+--features "$PICOSPIKE_BOARD_FEATURES"})
fi

uart_server_qemu() { # uart_server_qemu SERIAL-SPEC: the QEMU command line of the UART server
  echo "qemu-system-arm -M mps2-an386 -display none -monitor none -serial $1" \
    "-semihosting-config enable=on,target=native -icount shift=0" \
    "-kernel $here/$board/target/$target/release/uart-server"
}

if [[ $kill_test -eq 1 ]]; then
  [[ $board == qemu-mps2-an386 ]] || { echo "--kill-test: only qemu-mps2-an386 has a UART server" >&2; exit 2; }
  echo "== kill -9 mid-frame: the next session must succeed at its first attempt"
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  $(uart_server_qemu "tcp:127.0.0.1:$port,server=on,wait=off") 2> "$out_dir/$board-kill.err" &
  qemu_pid=$!
  trap 'kill $qemu_pid 2> /dev/null || true' EXIT
  for _ in $(seq 50); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 1)" 2> /dev/null && break
    sleep 0.2
  done
  # A client that dies (SIGKILL) after sending half an Infer frame: the board keeps the half.
  # It writes how much it sent before it kills itself; anything but death by SIGKILL (status
  # 128 + 9) after a part of a frame (no connection, a failed send) fails the test. (bash reports
  # the kill as "Killed python3 - ... <<'PY'" on stderr: that line is the expected outcome.)
  client_status=0
  rm -f "$out_dir/$board-kill-client.out"
  python3 - "$port" "$here/tools" "$out_dir/$board-kill-client.out" <<'PY' || client_status=$?
import os, signal, socket, sys
sys.path.insert(0, sys.argv[2])
import pspk_uart
sock = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 5)
frame = pspk_uart.frame(pspk_uart.infer(12345, 0, bytes(64)))
half = frame[: len(frame) // 2]
sock.sendall(half)
with open(sys.argv[3], "w") as f:
    f.write(f"sent={len(half)} frame={len(frame)} terminators={half.count(0)}\n")
os.kill(os.getpid(), signal.SIGKILL)
PY
  sent=$(cat "$out_dir/$board-kill-client.out" 2> /dev/null || true)
  if [[ $client_status -ne 137 || ! $sent =~ ^sent=([0-9]+)\ frame=([0-9]+)\ terminators=0$ ]] ||
     (( BASH_REMATCH[1] == 0 || BASH_REMATCH[1] >= BASH_REMATCH[2] )); then
    echo "FAIL: the client was not killed mid-frame (exit status $client_status, expected 137;" \
      "${sent:-it sent nothing})" >&2
    exit 1
  fi
  echo "client killed (status 137) after $sent"
  status=0
  for command in ping info run; do
    python3 "$here/tools/pspk_uart.py" --tcp "127.0.0.1:$port" --retries 0 --timeout 5 $command \
      > "$out_dir/$board-kill-$command.out" || { status=$?; echo "FAIL: $command after kill -9 (exit $status)" >&2; }
  done
  # `|| true` here and in the trap: QEMU may already be gone, and under `set -e` a failed kill
  # (also in the EXIT trap) would fail the test after it passed.
  kill $qemu_pid 2> /dev/null || true
  [[ $status -eq 0 ]] || exit 1
  # The half frame reached the board: the next session's leading 0x00 ended it, and the board
  # rejected it (one CRC or COBS error in the link counters that `info` reports; a fresh board
  # that never saw the half frame has none).
  rejected=$(python3 -c 'import ast, sys; link = ast.literal_eval(open(sys.argv[1]).read())["link"]
print(link["crc_errors"] + link["bad_frames"])' "$out_dir/$board-kill-info.out") || rejected=
  if [[ -z $rejected || $rejected -lt 1 ]]; then
    echo "FAIL: the board reports no rejected frame, so the killed client's half frame never reached it:" \
      "$(cat "$out_dir/$board-kill-info.out")" >&2
    exit 1
  fi
  tail -1 "$out_dir/$board-kill-run.out"
  echo "after kill -9 mid-frame: the board rejected the half frame ($rejected rejected) and ping, info and" \
    "run succeeded at their first attempt (--retries 0)"
  exit 0
fi

if [[ $uart -eq 1 ]]; then
  [[ $board == qemu-mps2-an386 ]] || { echo "--uart: only qemu-mps2-an386 has a UART server" >&2; exit 2; }
  if [[ $faults -gt 0 ]]; then
    echo "== fault injection: tools/uart_faults.py between tools/pspk_uart.py and uart-server"
    (cd "$here/host-reference" && cargo build --release --quiet)
    out=$out_dir/$board-faults.out
    status=0
    # Short timeouts: the emulated board answers in milliseconds; a lost terminator costs one.
    python3 "$here/tools/pspk_uart.py" --exec "$(uart_server_qemu stdio)" --timeout 0.3 --retries 40 \
      faults --reference "$here/host-reference/target/release/picospike-host-reference --serve" \
      --faults "$faults" --samples "$samples" --seed "$seed" > "$out" 2> "$out_dir/$board-faults.err" || status=$?
    cat "$out"
    if [[ $status -ne 0 ]]; then
      echo "FAIL: fault injection (exit $status); see $out_dir/$board-faults.err" >&2
      grep -v '^id=\|^Inferred' "$out_dir/$board-faults.err" | tail -5 >&2
      exit 1
    fi
    exit 0
  fi
  echo "== UART protocol: tools/pspk_uart.py <-> uart-server on the emulated CMSDK UART0"
  out=$out_dir/$board-uart.out
  qemu=$(uart_server_qemu stdio)
  status=0
  timeout 300 python3 "$here/tools/pspk_uart.py" --exec "$qemu" run > "$out" 2> "$out_dir/$board-uart.err" || status=$?
  cat "$out"
  if [[ $status -ne 0 ]]; then
    echo "FAIL: UART session exited with status $status" >&2
    cat "$out_dir/$board-uart.err" >&2
    exit 1
  fi
  host_reference
  if ! diff -u <(strip_timing "$out_dir/host-reference.out") <(strip_timing "$out") > "$out_dir/$board-uart.diff"; then
    echo "FAIL: replies over the UART differ from the host reference (- host, + board):" >&2
    cat "$out_dir/$board-uart.diff" >&2
    exit 1
  fi
  echo "identical to the host: $(grep -c '^sample' "$out") samples over the UART"
  exit 0
fi

echo "== running $board in QEMU"
# The runner from <board>/.cargo/config.toml, so that the script and `cargo run` agree.
runner=$(sed -n 's/^runner = "\(.*\)"$/\1/p' "$here/$board/.cargo/config.toml")
status=0
timeout 300 $runner "$elf" > "$out" 2> "$out_dir/$board.err" || status=$?
cat "$out"
if [[ $status -ne 0 ]]; then
  echo "FAIL: $board exited with status $status" >&2
  cat "$out_dir/$board.err" >&2
  exit 1
fi
[[ $check -eq 1 ]] || exit 0

echo "== comparing with the host reference"
host_reference
if ! diff -u <(strip_timing "$out_dir/host-reference.out") <(strip_timing "$out") > "$out_dir/$board.diff"; then
  echo "FAIL: $board output differs from the host reference (- host, + board):" >&2
  cat "$out_dir/$board.diff" >&2
  exit 1
fi
echo "identical to the host: $(grep -c '^sample' "$out") samples"

if [[ -n ${PICOSPIKE_MODEL_DIR:-} ]]; then
  echo "== size check skipped (size.txt is for the default model)"
  exit 0
fi
echo "== size check"
stack=$(sed -n 's/.*stack_peak=\([0-9]*\).*/\1/p' "$out")
args=(check "$here/$board/size.txt" "$elf" --stack-peak "$stack")
figure() { # figure NAME LINE-PREFIX KEY: KEY=<n> from the line starting with LINE-PREFIX
  local value
  value=$(sed -n "s/^$2 .*[ ]$3=\([0-9]*\).*/\1/p" "$out")
  [[ -n $value ]] && args+=(--figure "$1=$value")
  return 0
}
figure instructions_per_inference summary instructions_per_inference
figure instructions_per_step summary instructions_per_step
figure stack_inference memory stack_inference
figure stack_model_load memory stack_model_load
figure instructions_model_load load instructions
# Absolute bounds, checked with and without --update-size. The micro:bit's 16 KB of RAM: model
# load and inference (and the report around them) in at most 1 KB of stack (issue 22).
[[ $board == qemu-microbit ]] && args+=(--limit stack_peak=1024)
[[ $update_size -eq 1 ]] && args+=(--update)
python3 "$here/tools/boardsize.py" "${args[@]}"
