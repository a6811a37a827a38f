#!/usr/bin/env bash
# Memory of the generator: max RSS of a one-request run, and resident memory sampled every
# STEP seconds during an open-loop run at RATE for DURATION seconds (flat means no growth with
# time), against nginx on loopback.
#
# The sampled run also prints where its resident memory is, halfway through (smaps: the binary's
# code and data mapped from the file, shared libraries, anonymous memory = heap and stacks), and
# with OVER set, the max RSS of OVER_RUNS runs of OVER_SECONDS at OVER/s, arrivals more than 1 s late
# dropped (the overload row of vs_wrk.sh, where arrivals wait in the job queue).
#
#   NO_BUILD=1 bash benches/rss.sh                         # one request, then 20,000/s for 60 s
#   NO_BUILD=1 RATE=5000 DURATION=30 STEP=5 bash benches/rss.sh
#   NO_BUILD=1 RATE=3000 DURATION=10 STEP=5 OVER=300000 bash benches/rss.sh
#
# PEAK=1 runs the overload rows with -vv and prints the job queue's peak per generator thread
# (jobs waiting at once, and the KiB of chunks they took; builds from 2026-12-02 on).
#
# Needs nginx (Debian nginx-light). Bounded: one run of DURATION seconds, OVER_RUNS of OVER_SECONDS.
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
/usr/bin/env time -f "%M" -o "$work/load.time" taskset -c 1 "$BIN" run "$work/load.toml" -q -o "$work/r2" >/dev/null 2>&1 &
timer=$!
sleep 0.5
pid=$(pgrep -P "$timer" | head -1) # time's child: taskset exec'd the generator
line="rss: ${RATE}/s, resident MiB every ${STEP}s:"
for i in $(seq $(( DURATION / STEP ))); do
    sleep "$STEP"
    kb=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
    line="$line $(( kb / 1024 ))"
    if [ "$i" = $(( DURATION / STEP / 2 )) ] || [ $(( DURATION / STEP )) = 1 ]; then
        smaps=$(awk -v bin="$(readlink -f "$BIN")" '
            /^[0-9a-f]+-[0-9a-f]+ / { file = (NF >= 6) ? $6 : "" ; next }
            /^Rss:/ { if (file == bin) b += $2; else if (file ~ /^\//) l += $2; else a += $2 }
            END { printf "binary %.1f MiB, libraries %.1f MiB, anonymous %.1f MiB", b/1024, l/1024, a/1024 }' "/proc/$pid/smaps" 2>/dev/null || echo "smaps unreadable")
    fi
done
wait "$timer" || true
hwm=$(python3 -c "import json; t=json.load(open('$work/r2/summary.json'))['totals']; print(t['outcomes'].get('ok', 0), t['scheduled'])")
kb=$(cat "$work/load.time")
echo "$line; max RSS $(( kb / 1024 )).$(( kb % 1024 * 10 / 1024 )) MiB (the end of the run included); ok/scheduled: $hwm; load $(cut -d' ' -f1 /proc/loadavg)"
echo "rss: halfway through: ${smaps:-not sampled}"
if [ -n "${OVER:-}" ]; then
    bench_scenario rss "$OVER" "${OVER_SECONDS:-5}" 32 1s > "$work/over.toml"
    for i in $(seq "${OVER_RUNS:-3}"); do
        rm -rf "$work/r3"
        /usr/bin/env time -f "%M" -o "$work/over.time" taskset -c 1 "$BIN" ${PEAK:+-vv} run "$work/over.toml" -q -o "$work/r3" >/dev/null 2>"$work/over.err" || true
        kb=$(cat "$work/over.time")
        counts=$(python3 -c "import json; t=json.load(open('$work/r3/summary.json'))['totals']; print(t['outcomes'].get('ok', 0), t['dropped'], t['scheduled'])")
        echo "rss: overload ${OVER}/s for ${OVER_SECONDS:-5}s, max RSS $(( kb / 1024 )).$(( kb % 1024 * 10 / 1024 )) MiB; ok/dropped/scheduled: $counts; load $(cut -d' ' -f1 /proc/loadavg)"
        [ -z "${PEAK:-}" ] || grep -o "generator thread.*job queue peak.*" "$work/over.err" | sed 's/^/rss:   /' || true
    done
fi
