#!/usr/bin/env bash
# Pacing precision: pacer lag p50/p99/max at 100, 2,000 and 20,000 requests per second against
# nginx on loopback, and the gap between latency p50 and service-time p50 (what pacing adds to the
# reported latency), for each pacer (`skyload run --pacer sleep|precise`), with requests per
# CPU-second and cores used to compare their cost. Beside them, the machine's own floor: how late
# a plain timerfd sleep wakes at each rate's interval (benches/wakeup.rs), so a reader sees what
# the pacer adds over the OS. The load average is printed with every row (the machine is shared).
#
#   bash benches/lag.sh                 # 5 s per rate and pacer (PIN=1: nginx on core 0, skyload on 1)
#   DURATION=10 PACERS="precise" RATES="2000" RUNS=3 bash benches/lag.sh
#   WRAP="chrt -f 50" PACERS=precise bash benches/lag.sh   # skyload under SCHED_FIFO (root)
#   GEN_FIFO=50 PACERS=precise bash benches/lag.sh         # only its generator threads (chrt -f -p)
#   TRACE_US=1000 bash benches/lag.sh   # where each lag > 1 ms came from (src/load/pacer_trace.rs):
#                                       # a `cause` line per row; raw records kept in $TRACE_DIR
#   VARIANTS="precise precise:tail=100 precise:tail=0 precise:spin=sched" bash benches/lag.sh
#       # pacer variants for the cost comparison: `pacer:tail=N` sets SKYLOAD_PRECISE_TAIL (arm early
#       # by the 1-in-N wake-up lateness; 0 = never early: sleep + the held CPU latency request),
#       # `:spin=yield|sched|hint` SKYLOAD_PRECISE_SPIN, `:max_early=US` caps the early arming
#       # (SKYLOAD_PRECISE_MAX_EARLY_US, at most 2000); VARIANTS replaces PACERS
#
# Needs nginx (Debian nginx-light; installed if missing, as root). Reads summary.json with python3.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-5}
RATES=${RATES:-"100 2000 20000"}
PACERS=${PACERS:-"sleep precise"}
RUNS=${RUNS:-1}
WRAP=${WRAP:-}  # a command prefix for skyload, e.g. "chrt -f 50"
GEN_FIFO=${GEN_FIFO:-}  # SCHED_FIFO priority for the skyload-gen-* threads alone, e.g. 50
TRACE_US=${TRACE_US:-}  # trace lags above this many µs (SKYLOAD_PACER_TRACE)
TRACE_DIR=${TRACE_DIR:-/tmp/skyload-lag-trace}
VARIANTS=${VARIANTS:-$PACERS}
[ -z "$TRACE_US" ] || mkdir -p "$TRACE_DIR"

command -v nginx >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null; }
[ -n "${NO_BUILD:-}" ] || cargo build --release --quiet --bench wakeup --bin skyload
BIN=${BIN:-target/release/skyload}  # BIN= another build, for a before/after
WAKEUP=$(ls -t target/release/deps/wakeup-* 2>/dev/null | grep -v '\.d$' | head -1 || true)

. benches/nginx.sh
# PIN=1: nginx on core 0, skyload (and the floor's timerfd probe) on core 1, as benches/vs_wrk.sh
# does, so the target never preempts the generator thread. Not the default: skyload's collector
# then shares the generator's core and `sleep` at 2,000/s cost 0.24-0.28 cores instead of
# 0.12-0.13, while lag p99 was no better on a noisy VM (docs/measurement.md, 2026-12-02).
PIN=${PIN:-0}
[ "$(nproc)" -ge 2 ] || PIN=0
if [ "$PIN" = 1 ]; then SERVER_CPU="taskset -c 0"; GEN_CPU="taskset -c 1"; else SERVER_CPU=""; GEN_CPU=""; fi
start_nginx "$SERVER_CPU"

load() { cut -d' ' -f1 /proc/loadavg; }

# The OS floor: a timerfd sleep per interval a generator thread sees at each rate (threads split
# the rate: one per 25,000/s, at most one per core, skyload's default), for as many wake-ups as
# the run would have, at most 2,000.
threads_for() { local t=$(( ($1 + 24999) / 25000 )); [ "$PIN" = 1 ] && t=1; [ "$t" -le "$(nproc)" ] || t=$(nproc); echo "$t"; }
# Both ways: as the sleep pacer sleeps, and holding the CPU wake-up latency request at 0 µs as
# the precise pacer does (rows `held`; skipped with a note when the request is not permitted).
if [ -n "$WAKEUP" ]; then
  echo "# machine floor: plain timerfd sleep, wake-up lateness (benches/wakeup.rs); cpu_latency: the request held or not"
  printf '%-8s %-11s %7s %10s %10s %10s %10s %6s\n' floor cpu_latency rate interval late_p50 late_p99 late_max load
  for rate in $RATES; do
    threads=$(threads_for "$rate")
    interval=$(( 1000000 * threads / rate )); [ "$interval" -ge 1 ] || interval=1
    n=$(( rate * DURATION / threads )); [ "$n" -le 2000 ] || n=2000
    for how in none held; do
      flag=""; [ "$how" = none ] || flag=--hold-cpu-latency
      $GEN_CPU "$WAKEUP" --interval-us "$interval" --count "$n" --quiet $flag | awk -v r="$rate" -v h="$how" -v l="$(load)" '{printf "%-8s %-11s %7s %8sus %8sus %8sus %8sus %6s\n", "timerfd", h, r, $1, $2, $3, $4, l}' \
        || echo "timerfd  $how: not measured (the request is not permitted: run as root)"
    done
  done
  echo
fi

printf '%-20s %7s %10s %10s %10s %14s %12s %7s %8s %6s\n' pacer rate lag_p50 lag_p99 lag_max lat-svc_p50 req/cpu-s cores dropped load
for run in $(seq "$RUNS"); do
  for variant in $VARIANTS; do
    # pacer[:tail=N][:spin=S]: the knobs go to the environment of this run only.
    pacer=${variant%%:*}
    envs=()
    for knob in $(echo "$variant" | tr ':' ' '); do
      case $knob in
        tail=*) envs+=("SKYLOAD_PRECISE_TAIL=${knob#tail=}") ;;
        spin=*) envs+=("SKYLOAD_PRECISE_SPIN=${knob#spin=}") ;;
        max_early=*) envs+=("SKYLOAD_PRECISE_MAX_EARLY_US=${knob#max_early=}") ;;
      esac
    done
    [ -z "$TRACE_US" ] || envs+=("SKYLOAD_PACER_TRACE=$TRACE_US")
    # `timerfd` was the sleep pacer's name when it was chosen by SKYLOAD_PACER (older commands).
    [ "$pacer" != timerfd ] || pacer=sleep
    for rate in $RATES; do
      threads=$(threads_for "$rate")
      out="$work/r-$variant-$rate-$run"
      err="$work/err-$run"
      [ -z "$TRACE_US" ] || err="$TRACE_DIR/$variant-$rate-$run.txt"
      env "${envs[@]}" $GEN_CPU $WRAP "$BIN" run --url "http://127.0.0.1:$port/" --rate "$rate" --duration "${DURATION}s" --pacer "$pacer" -q -o "$out" >/dev/null 2>"$err" &
      pid=$!
      if [ -n "$GEN_FIFO" ]; then
        # The generator threads exist a few ms after start; the run's first moments are not FIFO.
        tids=""
        for _ in $(seq 100); do
          tids=$(grep -l '^skyload-gen' /proc/$pid/task/*/comm 2>/dev/null | cut -d/ -f5 || true)
          [ "$(echo $tids | wc -w)" -lt "$threads" ] || break
          sleep 0.01
        done
        fifo=0
        for t in $tids; do chrt -f -p "$GEN_FIFO" "$t" && fifo=$((fifo + 1)) || true; done
        [ "$fifo" -eq "$threads" ] || echo "# $pacer $rate: $fifo of $threads generator threads made FIFO"
      fi
      wait "$pid" || true
      python3 - "$out/summary.json" "$variant" "$rate" "$(load)" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
g, t = s["generator"], s["totals"]
lag = g["schedule_lag"]
gap = t["latency"]["p50_us"] - t["service_time"]["p50_us"]
print(f'{sys.argv[2]:<20} {sys.argv[3]:>7} {lag["p50_us"]:>8}us {lag["p99_us"]:>8}us {lag["max_us"]:>8}us {gap:>12}us {g["requests_per_cpu_second"]:>12.0f} {g["cpu_cores"]:>7.3f} {t["dropped"]:>8} {sys.argv[4]:>6}')
PY
      [ -z "$TRACE_US" ] || python3 benches/lag_causes.py "$err"
    done
  done
done
