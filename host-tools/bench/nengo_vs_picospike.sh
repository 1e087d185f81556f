#!/usr/bin/env bash
# Host benchmark: picospike's fixed-point runtime vs Nengo's reference simulator on the digits
# demo network, side by side in one run (issue 8: at least 200x; a benchmark, not a test; CI
# does not run it).
#
#   host-tools/bench/nengo_vs_picospike.sh [--images N] [--repeats R]
#
# 1. `cargo run --release -p picospike-host --example bench_digits`: trains the digits demo
#    network with `picospike demo`'s code (seed 0; cached), writes its spiking float network and
#    the first N (default 1,000) digits images, and times the fixed-point runtime and the float
#    reference on them (one thread, median of R passes, default 9);
# 2. a Python venv in ${PICOSPIKE_CACHE:-~/.cache/picospike}/nengo-venv (created once:
#    pip install nengo 4.1 and numpy from PyPI) runs nengo_digits.py: the same network in Nengo,
#    sequential, `sim.reset()` per image, one thread (BLAS threads pinned to 1), median of 5 passes;
# 3. prints both, the ratio, and how often the classes agree.
# Work files: target/bench-digits/. Needs python3 with venv, and network access for the first pip install.
set -euo pipefail

images=1000
repeats=9
while [[ $# -gt 0 ]]; do
  case $1 in
    --images) images=${2:?--images N}; shift ;;
    --repeats) repeats=${2:?--repeats R}; shift ;;
    *) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
  esac
  shift
done

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cache=${PICOSPIKE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/picospike}
venv=$cache/nengo-venv
work=$root/target/bench-digits
mkdir -p "$work"

# One thread everywhere: numpy's BLAS, and rayon (the runtime itself does not spawn threads).
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 RAYON_NUM_THREADS=1

if [[ ! -x $venv/bin/python ]] || ! "$venv/bin/python" -c 'import nengo, numpy' 2> /dev/null; then
  echo "== creating $venv (pip install nengo==4.1.* numpy)"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "nengo==4.1.*" numpy
fi

echo "== picospike (cargo run --release --example bench_digits)"
(cd "$root" && cargo run --quiet --release -p picospike-host --example bench_digits -- \
  "$work" --images "$images" --repeats "$repeats")
echo "== Nengo $("$venv/bin/python" -c 'import nengo; print(nengo.__version__)')"
"$venv/bin/python" "$here/nengo_digits.py" "$work"
