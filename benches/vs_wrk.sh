#!/usr/bin/env bash
# Generator cost in requests per CPU-second and memory (max RSS), skyload side by side with wrk,
# against the same nginx on loopback. The server gets core 0, the load generator core 1 (both one
# thread), so neither steals from the other; CPU time is the generator process's user+sys time,
# RSS its peak resident set (GNU time). Only answered (`ok`) requests count for skyload.
#
# Two skyload rows: a rate it can hold (HOLD, default HOLD_PCT=100% of the rate wrk reached in
# the first round, open loop, full recording: the same throughput, so nginx is as busy and wakes
# as often for both tools, and the CPU compared is the generators'; `held` says what share of the
# schedule was answered) and overload (OVER, default 3x wrk's rate: the generator and server
# saturate; arrivals more than 1 s late are dropped, as wrk never sends them either). The tools
# alternate round by round (wrk, hold, over; REPEAT rounds, default 3) so a shared machine's load
# falls on all alike; each figure is the median of the rounds, and the load average is printed
# with the table so a noisy run can be told apart.
#
#   bash benches/vs_wrk.sh                       # 10 s per run, 3 runs each
#   DURATION=5 REPEAT=1 bash benches/vs_wrk.sh   # quick look
#   HOLD=50000 OVER=200000 CONNS=64 bash benches/vs_wrk.sh
#   BIN=/tmp/skyload-before NO_BUILD=1 bash benches/vs_wrk.sh   # another build of skyload
#   PEERS="ab oha" bash benches/vs_wrk.sh        # more closed-loop rows: ApacheBench (Debian
#                                                # apache2-utils, installed if missing) and oha
#                                                # (when on PATH: `cargo install oha`), same
#                                                # core, connections and duration as wrk
#
# Needs wrk and nginx (Debian packages; installed if missing, as root).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
CONNS=${CONNS:-32}
REPEAT=${REPEAT:-3}

need() { command -v "$1" >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null; }; }
need wrk wrk
need time time
need nginx nginx-light || need nginx nginx
PEERS=${PEERS:-}
for peer in $PEERS; do
    case $peer in
        ab) need ab apache2-utils ;;
        oha) command -v oha >/dev/null 2>&1 || { echo "vs_wrk: oha is not on PATH (cargo install oha); its row is left out" >&2; PEERS=${PEERS//oha/}; } ;;
        *) echo "vs_wrk: unknown peer '$peer' (ab, oha)" >&2; exit 2 ;;
    esac
done

[ -n "${NO_BUILD:-}" ] || cargo build --release --quiet
BIN=${BIN:-target/release/skyload}

. benches/nginx.sh
start_nginx "taskset -c 0"

# One line per run: tool row requests cpu_s rss_kib
rows="$work/rows"
: > "$rows"

# Each generator runs alone on core 1 under GNU time; `row` appends that run's line.
timed=(/usr/bin/env time -f "%U %S %M" -o "$work/time" taskset -c 1)
row() { # tool label requests
    local u s m
    read -r u s m < "$work/time"
    echo "$1 $2 ${3:-0} $(python3 -c "print($u + $s)") $m" >> "$rows"
}

run_wrk() {
    "${timed[@]}" wrk -t1 -c"$CONNS" -d"${DURATION}s" "http://127.0.0.1:$port/" > "$work/wrk.out"
    row wrk closed-loop "$(awk '/requests in/ {print $1}' "$work/wrk.out")"
}

# The other closed-loop tools, as wrk: one core, CONNS keep-alive connections, DURATION seconds;
# completed requests from each tool's own report.
run_peer() { # ab|oha
    local out="$work/$1.out" reqs
    case $1 in
        ab) "${timed[@]}" ab -q -k -c "$CONNS" -t "$DURATION" -n 100000000 "http://127.0.0.1:$port/" > "$out" 2>&1 || true
            reqs=$(awk '/^Complete requests:/ {print $3}' "$out") ;;
        oha) "${timed[@]}" oha --no-tui -j -c "$CONNS" -z "${DURATION}s" "http://127.0.0.1:$port/" > "$out" 2>/dev/null || true
            reqs=$(python3 -c "import json; print(json.load(open('$out'))['statusCodeDistribution'].get('200', 0))") ;;
    esac
    row "$1" closed-loop "$reqs"
}

run_sky() { # label rate
    bench_scenario bench "$2" "$DURATION" "$CONNS" 1s > "$work/bench.toml"
    rm -rf "$work/results"
    "${timed[@]}" "$BIN" run "$work/bench.toml" ${SKY_ARGS:-} --quiet --out "$work/results" > "$work/sky.out" 2>&1 || true
    row skyload "$1" "$(python3 -c "import json; print(json.load(open('$work/results/summary.json'))['totals']['outcomes'].get('ok', 0))")"
}

HOLD_PCT=${HOLD_PCT:-100}
for i in $(seq "$REPEAT"); do
    run_wrk
    if [ "$i" = 1 ]; then
        wrk_rate=$(awk -v d="$DURATION" '{print int($3 / d)}' "$rows")
        HOLD=${HOLD:-${RATE:-$(( wrk_rate * HOLD_PCT / 100 ))}}
        OVER=${OVER:-$(( wrk_rate * 3 ))}
    fi
    run_sky "hold@$HOLD/s" "$HOLD"
    run_sky "over@$OVER/s" "$OVER"
    for peer in $PEERS; do run_peer "$peer"; done
done

echo "vs_wrk: $CONNS connections, ${DURATION}s per run, median of $REPEAT; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$rows" "$DURATION" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    tool, row, n, cpu, rss = line.split()
    rows.setdefault((tool, row), []).append((int(n), float(cpu), int(rss)))
duration = float(sys.argv[2])
wrk = None
print(f"{'tool':<8} {'load':<16} {'req/CPU-s':>10} {'x wrk':>6} {'answered':>9} {'held':>5} {'CPU-s':>6} {'max RSS':>9}")
for (tool, row), runs in rows.items():
    eff = statistics.median(n / max(c, 1e-9) for n, c, _ in runs)
    if tool == "wrk":
        wrk = eff
    n = statistics.median(r[0] for r in runs)
    cpu = statistics.median(r[1] for r in runs)
    rss = statistics.median(r[2] for r in runs) / 1024
    ratio = f"{eff / wrk:.2f}" if wrk else "-"
    # The share of the schedule answered, for an open-loop row (rate@N/s); wrk has no schedule.
    held = f"{min(n / (float(row.split('@')[1][:-2]) * duration), 9.99):.0%}" if "@" in row else "-"
    print(f"{tool:<8} {row:<16} {eff:>10.0f} {ratio:>6} {n:>9.0f} {held:>5} {cpu:>6.2f} {rss:>7.1f}MiB")
PY
