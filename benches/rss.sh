#!/usr/bin/env bash
# Memory of the generator: max RSS of a one-request run, and resident memory sampled every
# STEP seconds during an open-loop run at RATE for DURATION seconds (flat means no growth with
# time), against nginx on loopback.
#
#   NO_BUILD=1 bash benches/rss.sh                         # one request, then 20,000/s for 60 s
#   NO_BUILD=1 RATE=5000 DURATION=30 STEP=5 bash benches/rss.sh
#
# Needs nginx (Debian nginx-light). Bounded: one run of DURATION seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
RATE=${RATE:-20000}
DURATION=${DURATION:-60}
STEP=${STEP:-10}
[ -n "${NO_BUILD:-}" ] || cargo build --release --quiet
BIN=${BIN:-target/release/skyload}
. benches/nginx.sh
start_nginx "taskset -c 0"
scenario() { bench_scenario rss "$1" "$2" 32; } # rate seconds
scenario 1 1 > "$work/one.toml"
for i in 1 2 3; do
    rm -rf "$work/r1"
    /usr/bin/env time -f "%M" -o "$work/one.time" "$BIN" run "$work/one.toml" -q -o "$work/r1" >/dev/null 2>&1 || true
    echo "rss: one-request run, max RSS $(( $(cat "$work/one.time") / 1024 )).$(( $(cat "$work/one.time") % 1024 * 10 / 1024 )) MiB"
done
scenario "$RATE" "$DURATION" > "$work/load.toml"
taskset -c 1 "$BIN" run "$work/load.toml" -q -o "$work/r2" >/dev/null 2>&1 &
pid=$!
line="rss: ${RATE}/s, resident MiB every ${STEP}s:"
for _ in $(seq $(( DURATION / STEP ))); do
    sleep "$STEP"
    kb=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
    line="$line $(( kb / 1024 ))"
done
wait "$pid" || true
hwm=$(python3 -c "import json; t=json.load(open('$work/r2/summary.json'))['totals']; print(t['outcomes'].get('ok', 0), t['scheduled'])")
echo "$line; ok/scheduled: $hwm"
