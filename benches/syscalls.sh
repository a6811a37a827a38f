#!/usr/bin/env bash
# System calls and context switches per answered request, wrk and skyload side by side on the same
# nginx (core 0; each generator alone on core 1, one thread, CONNS keep-alive connections): the
# kernel half of a request's cost is mostly the loopback TCP path both tools share, so what differs
# is how many times each enters the kernel. Counted with `perf stat` tracepoints (exact, not
# sampled). skyload runs open loop at RATE (default: the rate wrk reached), full recording.
#
#   NO_BUILD=1 bash benches/syscalls.sh
#   NO_BUILD=1 RATE=40000 DURATION=5 bash benches/syscalls.sh   # a rate where both sides idle
#
# Needs perf (Debian linux-perf; root or perf_event_paranoid <= 1 for tracepoints), wrk, nginx.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-5}
CONNS=${CONNS:-32}
[ -n "${NO_BUILD:-}" ] || cargo build --release --quiet
BIN=${BIN:-target/release/skyload}
. benches/nginx.sh
start_nginx "taskset -c 0"

calls="write read sendto recvfrom writev readv epoll_wait epoll_pwait epoll_ctl timerfd_settime futex clock_nanosleep sched_yield"
events="task-clock,context-switches,raw_syscalls:sys_enter"
for c in $calls; do events="$events,syscalls:sys_enter_$c"; done

report() { # tool perf.csv answered
    python3 - "$1" "$2" "$3" <<'PY'
import sys
tool, path, n = sys.argv[1], sys.argv[2], float(sys.argv[3])
vals = {}
for line in open(path):
    p = line.strip().split(",")
    if len(p) > 2 and p[0].replace(".", "", 1).isdigit():
        vals[p[2]] = float(p[0])
per = lambda k: vals.get(k, 0) / max(n, 1)
calls = ", ".join(f"{k.split('sys_enter_')[1]} {per(k):.2f}" for k in vals if "sys_enter_" in k and per(k) >= 0.005)
print(f"{tool:<8} answered {n:>9.0f}  CPU {per('task-clock') * 1000:6.2f} µs/req  syscalls {per('raw_syscalls:sys_enter'):.2f}/req ({calls})  context switches {per('context-switches'):.3f}/req")
PY
}

perf stat -x, -e "$events" -o "$work/wrk.csv" taskset -c 1 wrk -t1 -c"$CONNS" -d"${DURATION}s" "http://127.0.0.1:$port/" > "$work/wrk.out"
reqs=$(awk '/requests in/ {print $1}' "$work/wrk.out")
report wrk "$work/wrk.csv" "$reqs"

RATE=${RATE:-$(( reqs / DURATION ))}
bench_scenario syscalls "$RATE" "$DURATION" "$CONNS" 1s > "$work/bench.toml"
perf stat -x, -e "$events" -o "$work/sky.csv" taskset -c 1 "$BIN" run "$work/bench.toml" --quiet --out "$work/results" > /dev/null 2>&1 || true
ok=$(python3 -c "import json; print(json.load(open('$work/results/summary.json'))['totals']['outcomes'].get('ok', 0))")
report "skyload" "$work/sky.csv" "$ok"
echo "skyload at $RATE/s; load average $(cut -d' ' -f1-3 /proc/loadavg)"
