#!/usr/bin/env bash
# Run every fuzz target for a bounded time, starting from the committed seeds.
#
#   fuzz/run.sh [SECONDS_PER_TARGET]      (default 60)
#
# Needs cargo-fuzz (installed here with `cargo install --locked` if missing) and a nightly
# compiler: `cargo +nightly` when a nightly toolchain is installed, otherwise the default
# toolchain with RUSTC_BOOTSTRAP=1 (cargo-fuzz honours it; the machines can't fetch nightly).
# FUZZ_NO_NIGHTLY=1 forces the latter.
# One job per target, one target after the other. Exits non-zero on the first crash, leak,
# timeout or out-of-memory; the input that caused it is in fuzz/artifacts/<target>/, and
# `cargo fuzz run <target> <file>` replays it. Full logs: fuzz/target/fuzz-<target>.log.
set -euo pipefail
cd "$(dirname "$0")"

seconds="${1:-60}"
targets=(load load_and_run)
cargo_fuzz_version="0.13.2"

if [ -z "${FUZZ_NO_NIGHTLY:-}" ] && rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    cargo=(cargo +nightly)
else
    echo "no nightly toolchain: using $(rustc --version) with RUSTC_BOOTSTRAP=1"
    export RUSTC_BOOTSTRAP=1
    cargo=(cargo)
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install --locked "cargo-fuzz@${cargo_fuzz_version}"
fi
cargo fuzz --version

"${cargo[@]}" fuzz build

mkdir -p target
for target in "${targets[@]}"; do
    mkdir -p "corpus/${target}"
    echo "==> fuzz ${target} for ${seconds} s"
    log="target/fuzz-${target}.log"
    status=0
    "${cargo[@]}" fuzz run "${target}" "corpus/${target}" -- \
        -max_total_time="${seconds}" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        >"${log}" 2>&1 || status=$?
    # The last progress line (executions, coverage, features, corpus) and the final stats.
    grep -aE '^#[0-9]+' "${log}" | tail -n 1 || true
    grep -aE '^stat::' "${log}" || true
    if [ "${status}" -ne 0 ]; then
        tail -n 60 "${log}"
        echo "fuzz target ${target} failed (exit ${status}); see fuzz/artifacts/${target}/" >&2
        exit "${status}"
    fi
done
echo "fuzz: ${#targets[@]} targets ran ${seconds} s each without a crash"
