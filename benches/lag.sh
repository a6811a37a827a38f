#!/usr/bin/env bash
# Pacing precision: pacer lag p50/p99/max at 100, 2,000 and 20,000 requests per second against
# nginx on loopback, and the gap between latency p50 and service-time p50 (what pacing adds to the
# reported latency), for each pacer (`SKYLOAD_PACER=timerfd|hybrid|spin|tokio`; tokio is the old 1 ms
# wait, kept as the baseline), with requests per CPU-second to compare their cost.
#
#   bash benches/lag.sh                 # 5 s per rate and pacer
#   DURATION=10 PACERS="timerfd" RATES="2000" bash benches/lag.sh
#
# Needs nginx (Debian nginx-light; installed if missing, as root). Reads summary.json with python3.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-5}
RATES=${RATES:-"100 2000 20000"}
PACERS=${PACERS:-"timerfd hybrid spin tokio"}

command -v nginx >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null; }
[ -n "${NO_BUILD:-}" ] || cargo build --release --quiet
BIN=target/release/skyload

. benches/nginx.sh
start_nginx ""

printf '%-8s %7s %10s %10s %10s %14s %12s %10s\n' pacer rate lag_p50 lag_p99 lag_max lat-svc_p50 req/cpu-s dropped
for pacer in $PACERS; do
  for rate in $RATES; do
    out="$work/r-$pacer-$rate"
    SKYLOAD_PACER=$pacer "$BIN" run --url "http://127.0.0.1:$port/" --rate "$rate" --duration "${DURATION}s" -q -o "$out" >/dev/null 2>&1 || true
    python3 - "$out/summary.json" "$pacer" "$rate" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
g, t = s["generator"], s["totals"]
lag = g["schedule_lag"]
gap = t["latency"]["p50_us"] - t["service_time"]["p50_us"]
print(f'{sys.argv[2]:<8} {sys.argv[3]:>7} {lag["p50_us"]:>8}us {lag["p99_us"]:>8}us {lag["max_us"]:>8}us {gap:>12}us {g["requests_per_cpu_second"]:>12.0f} {t["dropped"]:>10}')
PY
  done
done
