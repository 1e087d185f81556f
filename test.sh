#!/usr/bin/env bash
# All the tests, host and QEMU firmware, on a fresh machine: `./test.sh`.
#
# Installs what the tests need when it is missing (the thumb targets with rustup, `qemu-system-arm`
# with apt-get as root or through sudo), then runs `cargo test --workspace` (runtime, host tools,
# cross-crate tests, exported models bit-exact on QEMU boards) and `boards/ci.sh` (firmware unit
# tests, the UART protocol, every QEMU board against the host, size files, real boards build).
# Ends with one line `tests: N passed, M failed` and exits non-zero if anything failed.
# `./test.sh --install-only` installs and stops (`.ci/run` uses it before the lints).
set -uo pipefail
cd "$(dirname "$0")"

say() { printf '\n==> %s\n' "$*"; }
die() { printf 'test.sh: %s\n' "$*" >&2; exit 1; }

say "installing what the tests need"
command -v cargo > /dev/null || die "cargo not found: install Rust with rustup (https://rustup.rs)"
command -v python3 > /dev/null || die "python3 not found: install it (apt-get install python3)"
if command -v rustup > /dev/null; then
    installed=$(rustup target list --installed) || die "rustup cannot list the installed targets"
    for target in thumbv6m-none-eabi thumbv7em-none-eabihf; do
        if ! grep -qx "$target" <<< "$installed"; then
            rustup target add "$target" || die "rustup target add $target failed"
        fi
    done
else
    echo "rustup not found: assuming the thumbv6m-none-eabi and thumbv7em-none-eabihf targets are installed"
fi
if ! command -v qemu-system-arm > /dev/null; then
    if [[ $(id -u) -eq 0 ]]; then
        sudo=()
    elif command -v sudo > /dev/null; then
        sudo=(sudo)
    else
        die "qemu-system-arm not found and not root: install it (apt-get install qemu-system-arm)"
    fi
    echo "installing qemu-system-arm with apt-get"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-system-arm > /dev/null ||
        die "apt-get install qemu-system-arm failed"
fi
qemu-system-arm --version | head -n 1
[[ ${1:-} == --install-only ]] && exit 0

log=$(mktemp)
trap 'rm -f "$log"' EXIT

say "cargo test --workspace"
cargo test --workspace 2>&1 | tee "$log"
cargo_status=${PIPESTATUS[0]}

say "boards/ci.sh"
bash boards/ci.sh 2>&1 | tee -a "$log"
boards_status=${PIPESTATUS[0]}

# cargo prints `test result: ok. N passed; M failed; ...` per suite; boards/ci.sh closes with
# `boards: N passed, M failed`.
awk '
    /^test result:/ { passed += $4; failed += $6 }
    /^boards: [0-9]+ passed, [0-9]+ failed/ { passed += $2; failed += $4 }
    END { printf "tests: %d passed, %d failed\n", passed, failed }
' "$log"
if [[ $cargo_status -ne 0 || $boards_status -ne 0 ]]; then
    [[ $cargo_status -ne 0 ]] && echo "cargo test --workspace failed (exit $cargo_status)" >&2
    [[ $boards_status -ne 0 ]] && echo "boards/ci.sh failed (exit $boards_status)" >&2
    exit 1
fi
