#!/usr/bin/env bash
# Build the real-board firmware (not flashed) and check its size against <board>/size.txt.
#
#   boards/build-boards.sh [--update-size] [board ...]
#
# Boards: nrf52840-dk stm32f411 rp-pico (default: all). Fails if a board does not build, has
# clippy warnings, or grew > 5 % in flash or static RAM (size check skipped when
# PICOSPIKE_MODEL_DIR is set: size.txt is for the default model).
# Needs: python3, rustup targets thumbv7em-none-eabihf and thumbv6m-none-eabi.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
update=()
boards=()
for arg in "$@"; do
  case $arg in
    --update-size) update=(--update) ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) boards+=("$arg") ;;
  esac
done
[[ ${#boards[@]} -gt 0 ]] || boards=(nrf52840-dk stm32f411 rp-pico)

for board in "${boards[@]}"; do
  case $board in
    nrf52840-dk|stm32f411) target=thumbv7em-none-eabihf ;;
    rp-pico) target=thumbv6m-none-eabi ;;
    *) echo "unknown board '$board'" >&2; exit 2 ;;
  esac
  echo "== $board: build + clippy"
  (cd "$here/$board" && cargo build --release --quiet && cargo clippy --release --all-targets --quiet -- -D warnings)
  if [[ -z ${PICOSPIKE_MODEL_DIR:-} ]]; then
    python3 "$here/tools/boardsize.py" check "$here/$board/size.txt" \
      "$here/$board/target/$target/release/picospike-$board" "${update[@]}"
  fi
done
