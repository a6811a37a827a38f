#!/usr/bin/env bash
# Generator cost per request in CPU instructions (user + kernel) — far steadier than CPU time on
# a shared machine, so it is the figure to compare builds with while other work runs (virtual
# machines often expose no hardware counters: then only CPU time per request is printed). nginx on
# core 0, skyload (one thread, open loop at RATE, full recording) on core 1; `perf stat` counts
# the skyload process only. Prints instructions, context switches (each a sleep and wake-up
# of a thread: also steady under load) and CPU time per answered request.
#
#   NO_BUILD=1 RATE=20000 DURATION=5 bash benches/instr.sh
#   BIN=/path/to/other/skyload NO_BUILD=1 bash benches/instr.sh     # compare another build
#
# Needs perf (Debian linux-perf) with perf_event_paranoid <= 1 or root, and nginx.
set -euo pipefail
cd "$(dirname "$0")/.."
RATE=${RATE:-20000}
DURATION=${DURATION:-5}
CONNS=${CONNS:-32}
[ -n "${NO_BUILD:-}" ] || cargo build --release --quiet
BIN=${BIN:-target/release/skyload}
. benches/nginx.sh
start_nginx "taskset -c 0"
bench_scenario instr "$RATE" "$DURATION" "$CONNS" 1s > "$work/bench.toml"
perf stat -x, -e instructions,task-clock,context-switches -o "$work/perf.csv" taskset -c 1 "$BIN" run "$work/bench.toml" --quiet --out "$work/results" > "$work/sky.out" 2>&1 || true
python3 - "$work" "$RATE" <<'PY'
import csv, json, sys
work, rate = sys.argv[1], sys.argv[2]
ok = json.load(open(f"{work}/results/summary.json"))["totals"]["outcomes"].get("ok", 0)
vals = {}
for row in csv.reader(l for l in open(f"{work}/perf.csv") if l.strip() and not l.startswith("#")):
    try:
        vals[row[2].split(":")[0]] = float(row[0])
    except (ValueError, IndexError):
        pass
ins, ms = vals.get("instructions"), vals.get("task-clock", 0)
per = f"{ins / max(ok, 1):,.0f}" if ins else "n/a (no hardware counters here)"
cs = vals.get("context-switches", 0)
print(f"instr: rate {rate}/s ok {ok}  instructions/req {per}  context switches/req {cs / max(ok, 1):.2f}  cpu µs/req {ms * 1000 / max(ok, 1):.2f}  req/CPU-s {ok / max(ms / 1000, 1e-9):,.0f}")
PY
