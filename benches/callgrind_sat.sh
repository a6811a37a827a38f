#!/usr/bin/env bash
# User-space instructions and clock reads per answered request at saturation, from callgrind: one
# run of the one-thread GET / scenario against nginx on loopback at a rate the generator cannot
# quite hold under valgrind (RATE, default 8,000/s: ~50x slower than native, so about the regime of
# benches/vs_wrk.sh's rows, where workers take their next job without parking and the pacer hands
# several arrivals per wake). benches/callgrind.sh's two low rates measure the other regime (a
# park and a wake per request, where tokio's runtime turns dominate); this one is the figure for
# the per-request path itself. The start-up and the report are in the totals (a few percent at
# 30,000 requests), equal for two builds compared at the same RATE and DURATION.
#
# Prints, for the generator thread: instructions per answered request, clock_gettime calls per
# answered request (the generator's own and tokio's), and the TOP functions by self instructions
# per answered request. Arrivals dropped (later than MAX_LAG, default 1 s) or not answered are
# counted in the line: compare two builds only where both answered about as many, or with MAX_LAG=
# (none dropped) and a RATE well above what callgrind holds.
#
#   NO_BUILD=1 bash benches/callgrind_sat.sh
#   MAX_LAG= RATE=12000 DURATION=2 NO_BUILD=1 bash benches/callgrind_sat.sh   # every arrival answered
#   RATE=6000 DURATION=4 TOP=40 BIN=/tmp/skyload-before NO_BUILD=1 bash benches/callgrind_sat.sh
#
# Needs valgrind and nginx (Debian packages; installed if missing, as root).
set -euo pipefail
cd "$(dirname "$0")/.."
RATE=${RATE:-8000}
DURATION=${DURATION:-4}
CONNS=${CONNS:-32}
TOP=${TOP:-20}
# Empty: no arrival is dropped; a backlog is served at saturation until it drains (the steadiest
# regime, every request answered, for a short DURATION well within the request timeout).
MAX_LAG=${MAX_LAG-1s}
command -v valgrind >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null; }
[ -n "${NO_BUILD:-}" ] || cargo build --release --quiet
BIN=$(realpath "${BIN:-target/release/skyload}")

. benches/nginx.sh
start_nginx "taskset -c 0"

bench_scenario callgrind "$RATE" "$DURATION" "$CONNS" "$MAX_LAG" > "$work/bench.toml"
taskset -c 1 valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$work/callgrind.out" \
    "$BIN" run "$work/bench.toml" --quiet --out "$work/results" > "$work/sky.out" 2>&1 || true
gen=$(grep -l 'skyload::load::engine::run_thread' "$work"/callgrind.out-*)
callgrind_annotate --inclusive=no --threshold=100 "$gen" > "$work/self.txt" 2>/dev/null
callgrind_annotate --tree=caller --inclusive=yes --threshold=100 "$gen" > "$work/tree.txt" 2>/dev/null

python3 - "$work" "$RATE" "$TOP" <<'PY'
import json, re, sys
sys.path.insert(0, "benches")
from callgrind_costs import costs_of
work, rate, top = sys.argv[1], sys.argv[2], int(sys.argv[3])
t = json.load(open(f"{work}/results/summary.json"))["totals"]
ok = t["outcomes"].get("ok", 0)
if ok == 0:
    sys.exit(f"callgrind_sat: no request answered at {rate}/s (see {work}/sky.out)")
total, merged = costs_of(f"{work}/self.txt")
# Calls into clock_gettime: the call counts of its callers, in its block of the caller tree.
calls = 0
for block in open(f"{work}/tree.txt").read().split("\n\n"):
    if re.search(r"\*\s+\S*clock_gettime\.c:clock_gettime", block):
        calls += sum(int(c.replace(",", "")) for c in re.findall(r"<.*\(([\d,]+)x\)", block))
print(f"callgrind_sat: {rate}/s: outcomes {t['outcomes']}, dropped {t['dropped']}")
print(f"callgrind_sat: generator thread: {total / ok:,.0f} instructions and {calls / ok:.2f} clock_gettime calls per answered request")
print(f"top {top} functions of the generator thread by self instructions per answered request:")
for f, n in sorted(merged.items(), key=lambda kv: -kv[1])[:top]:
    print(f"  {n / ok:6.0f}  {f}")
PY
