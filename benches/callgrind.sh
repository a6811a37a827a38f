#!/usr/bin/env bash
# User-space instructions per request, from callgrind, differentially: the same scenario (one
# thread, GET / against nginx on loopback, full recording) runs at two rates under callgrind, and
# the difference of the instruction totals is divided by the difference of the requests that
# ended (answered, failed or dropped), so what a run costs once (start-up, probe, connections
# opened, the report, the collector's seconds) cancels out. On a virtual machine without hardware
# counters (benches/instr.sh prints n/a there) this is the steady figure to compare builds by;
# it counts no kernel instructions (see benches/syscalls.sh for those).
#
# Prints the per-request total and the TOP functions by per-request self cost (the same
# difference, function by function, from callgrind_annotate).
#
#   NO_BUILD=1 bash benches/callgrind.sh                  # 1000/s and 3000/s, 3 s each
#   LO=500 HI=2000 DURATION=4 TOP=40 bash benches/callgrind.sh
#   BIN=/tmp/skyload-before NO_BUILD=1 bash benches/callgrind.sh   # another build
#   KEEP=/tmp/cg bash benches/callgrind.sh                # keep the two callgrind.out files
#
# Under callgrind skyload runs ~50x slower, and on a shared machine slower still: keep HI where
# the one generator thread still holds the schedule. The script prints each run's lag p99 and
# connection-limited arrivals and warns when the HI run fell behind: a run that is behind hands
# several arrivals over per wake and its workers take jobs without parking, so it costs fewer
# instructions per request than one that keeps up, and two builds are comparable only in the same
# regime. Measured on the 2-core VM at load average 8-10 (other builds): even 300/s fell behind
# (lag p99 0.1-0.7 s) and the per-request figures of one build moved by ±25% from run to run; at
# load 2-5, 1000/3000 moved by 1.5% on the generator thread. Alternate the builds, run each twice.
# Needs valgrind (Debian package; installed if missing, as root) and nginx.
set -euo pipefail
cd "$(dirname "$0")/.."
LO=${LO:-1000}
HI=${HI:-3000}
DURATION=${DURATION:-3}
CONNS=${CONNS:-32}
TOP=${TOP:-30}
command -v valgrind >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null; }
[ -n "${NO_BUILD:-}" ] || cargo build --release --quiet
BIN=$(realpath "${BIN:-target/release/skyload}")

. benches/nginx.sh
start_nginx "taskset -c 0"
out=${KEEP:-$work}
mkdir -p "$out"

run() { # rate
    bench_scenario callgrind "$1" "$DURATION" "$CONNS" 1s > "$work/bench-$1.toml"
    rm -rf "$work/results-$1" "$out"/callgrind.out."$1"-*
    valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$out/callgrind.out.$1" \
        "$BIN" run "$work/bench-$1.toml" --quiet --out "$work/results-$1" > "$work/sky-$1.out" 2>&1 || true
    # One file per thread; the generator thread's is the one that ran `run_thread`.
    for f in "$out"/callgrind.out."$1"-*; do
        kind=other
        grep -q 'skyload::load::engine::run_thread' "$f" && kind=gen
        callgrind_annotate --inclusive=no --threshold=100 --auto=no "$f" 2>/dev/null > "$work/annotate-$1-$kind-$(basename "$f")"
    done
}
run "$LO"
run "$HI"

python3 - "$work" "$LO" "$HI" "$TOP" <<'PY'
import glob, json, sys
sys.path.insert(0, "benches")
from callgrind_costs import costs_of
work, lo, hi, top = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])

def summary(rate):
    s = json.load(open(f"{work}/results-{rate}/summary.json"))
    t, g = s["totals"], s["generator"]
    return t["completed"] + t["dropped"], (t, g)

def costs(rate, gen_only):
    total, by_fn = 0, {}
    for path in glob.glob(f"{work}/annotate-{rate}-{'gen' if gen_only else '*'}-*"):
        t, f = costs_of(path)
        total += t
        for k, n in f.items():
            by_fn[k] = by_fn.get(k, 0) + n
    return total, by_fn

(n_lo, s_lo), (n_hi, s_hi) = summary(lo), summary(hi)
(c_lo, _), (c_hi, _) = costs(lo, False), costs(hi, False)
(g_lo, f_lo), (g_hi, f_hi) = costs(lo, True), costs(hi, True)
dn = n_hi - n_lo
if dn <= 0:
    sys.exit(f"callgrind: the {hi}/s run ended no more requests than the {lo}/s one ({n_hi} vs {n_lo})")
for rate, n, (t, g), c in ((lo, n_lo, s_lo, c_lo), (hi, n_hi, s_hi, c_hi)):
    print(f"callgrind: {rate}/s: {n} requests ended (outcomes {t['outcomes']}, dropped {t['dropped']}), {c:,} instructions; "
          f"lag p99 {g['schedule_lag']['p99_us']} us, {g['connection_limited']} connection-limited")
behind = s_hi[1]["connection_limited"] / max(n_hi, 1)
if behind > 0.05:
    print(f"callgrind: WARNING the {hi}/s run fell behind ({behind:.0%} of its arrivals were connection-limited): "
          f"compare builds only at the same regime, or lower HI (a busy machine slows callgrind further)")
print(f"callgrind: {(c_hi - c_lo) / dn:,.0f} user-space instructions per request "
      f"(({c_hi:,} - {c_lo:,}) / ({n_hi} - {n_lo}))")
diff = sorted(((f_hi.get(k, 0) - f_lo.get(k, 0)) / dn, k) for k in set(f_lo) | set(f_hi))
diff.reverse()
print(f"callgrind: {(g_hi - g_lo) / dn:,.0f} of them on the generator thread "
      f"(({g_hi:,} - {g_lo:,}) / ({n_hi} - {n_lo})); the rest is the collector and the report, whose "
      f"cost follows the histograms' spread more than the request count")
print(f"top {top} functions of the generator thread by self instructions per request:")
for per, k in diff[:top]:
    print(f"{per:8.0f}  {k[:150]}")
PY
