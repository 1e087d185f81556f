#!/usr/bin/env bash
# Run every fuzz target for a bounded time, starting from the committed corpora: the runtime's
# (load, load_and_run, in this directory), the host tools' parsers (idx, csv, network_json) and
# the differential target (differential), in host/, a cargo-fuzz project of its own so that the
# runtime targets keep building without std.
#
#   fuzz/run.sh [SECONDS_PER_TARGET]      (default 60)
#   fuzz/run.sh --minimize                (cargo fuzz cmin of each target's corpus, in place)
#
# The corpora (fuzz/corpus/<target>/, fuzz/host/corpus/<target>/) are committed minimized, so
# that every run, CI's included, starts where the last long run ended: after a long run,
# `fuzz/run.sh --minimize` and commit them (`robustness_fuzz_seeds` bounds their size).
#
# Needs cargo-fuzz (installed here with `cargo install --locked` if missing) and a nightly
# compiler: `cargo +nightly` when a nightly toolchain is installed, otherwise the default
# toolchain with RUSTC_BOOTSTRAP=1 (cargo-fuzz honours it; the machines can't fetch nightly).
# FUZZ_NO_NIGHTLY=1 forces the latter. FUZZ_SANITIZER picks cargo-fuzz's sanitizer (default
# `address`; CI's bounded smoke run uses `none`: the fuzzed code is safe Rust, whose bounds and
# overflow checks already abort, and the instrumented build costs CI minutes).
# One job per target, one target after the other. Exits non-zero on the first crash, leak,
# timeout or out-of-memory; the input that caused it is in fuzz/artifacts/<target>/, and
# `cargo fuzz run [--fuzz-dir host] <target> <file>` replays it (artifacts of the host targets
# are in fuzz/host/artifacts/). Full logs: fuzz/target/fuzz-<target>.log.
set -euo pipefail
cd "$(dirname "$0")"

minimize=""
if [ "${1:-}" = "--minimize" ]; then
    minimize=1
    shift
fi
seconds="${1:-60}"
# fuzz directory:target
all_targets=(.:load .:load_and_run host:idx host:csv host:network_json host:differential)
# FUZZ_TARGETS="load load_and_run" runs only those (CI: the runtime's, whose build is small; the
# host parsers' build is the host tools in release with coverage instrumentation).
targets=()
for entry in "${all_targets[@]}"; do
    if [ -z "${FUZZ_TARGETS:-}" ] || [[ " ${FUZZ_TARGETS} " == *" ${entry#*:} "* ]]; then
        targets+=("${entry}")
    fi
done
[ "${#targets[@]}" -gt 0 ] || { echo "FUZZ_TARGETS='${FUZZ_TARGETS:-}' names no target" >&2; exit 2; }
cargo_fuzz_version="0.13.2"

if [ -z "${FUZZ_NO_NIGHTLY:-}" ] && rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    cargo=(cargo +nightly)
else
    echo "no nightly toolchain: using $(rustc --version) with RUSTC_BOOTSTRAP=1"
    export RUSTC_BOOTSTRAP=1
    cargo=(cargo)
fi
# Where `cargo install` puts cargo-fuzz, also when CARGO_HOME is not ~/.cargo.
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install --locked "cargo-fuzz@${cargo_fuzz_version}"
fi
cargo fuzz --version

sanitizer=(--sanitizer "${FUZZ_SANITIZER:-address}")
for dir in . host; do
    if [[ " ${targets[*]} " == *" ${dir}:"* ]]; then
        "${cargo[@]}" fuzz build "${sanitizer[@]}" --fuzz-dir "${dir}"
    fi
done

mkdir -p target
if [ -n "${minimize}" ]; then
    for entry in "${targets[@]}"; do
        dir="${entry%%:*}"
        target="${entry#*:}"
        before=$(find "${dir}/corpus/${target}" -type f | wc -l)
        # cmin keeps what adds coverage under content hashes: the named seeds go back after it.
        seeds="target/seeds-${target}"
        rm -rf "${seeds}" && mkdir -p "${seeds}"
        find "${dir}/corpus/${target}" -maxdepth 1 -name 'seed-*' -exec cp {} "${seeds}/" \;
        "${cargo[@]}" fuzz cmin "${sanitizer[@]}" --fuzz-dir "${dir}" "${target}" "${dir}/corpus/${target}" \
            >"target/cmin-${target}.log" 2>&1 || { tail -n 30 "target/cmin-${target}.log"; exit 1; }
        for seed in "${seeds}"/*; do
            [ -e "${seed}" ] || continue
            cp "${seed}" "${dir}/corpus/${target}/"
            # libFuzzer names a kept input by its content's SHA-1: drop the seed's twin.
            rm -f "${dir}/corpus/${target}/$(sha1sum "${seed}" | cut -d' ' -f1)"
        done
        echo "${target}: ${before} -> $(find "${dir}/corpus/${target}" -type f | wc -l) files," \
            "$(find "${dir}/corpus/${target}" -type f -exec cat {} + | wc -c) bytes"
    done
    exit 0
fi

for entry in "${targets[@]}"; do
    dir="${entry%%:*}"
    target="${entry#*:}"
    mkdir -p "${dir}/corpus/${target}"
    echo "==> fuzz ${target} for ${seconds} s"
    log="target/fuzz-${target}.log"
    status=0
    "${cargo[@]}" fuzz run "${sanitizer[@]}" --fuzz-dir "${dir}" "${target}" "${dir}/corpus/${target}" -- \
        -max_total_time="${seconds}" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        >"${log}" 2>&1 || status=$?
    # The last progress line (executions, coverage, features, corpus) and the final stats.
    grep -aE '^#[0-9]+' "${log}" | tail -n 1 || true
    grep -aE '^stat::' "${log}" || true
    if [ "${status}" -ne 0 ]; then
        tail -n 60 "${log}"
        echo "fuzz target ${target} failed (exit ${status}); see fuzz/${dir}/artifacts/${target}/" >&2
        exit "${status}"
    fi
done
echo "fuzz: ${#targets[@]} targets ran ${seconds} s each without a crash"
