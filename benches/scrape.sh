#!/usr/bin/env bash
# Scrape cost under a running load: a traced run against nginx on loopback with the live endpoint
# on, scraped with curl (OpenMetrics, as Prometheus asks) every 0.2 s while it runs; prints the
# scrape time (p50/p99/max) and the exposition size, and the run's own pacer lag and rate with and
# without the scraping, so what serving metrics costs the generator is visible.
#
#   bash benches/scrape.sh                   # 2,000 rps for 15 s
#   RATE=5000 DURATION=20 bash benches/scrape.sh
#   BIN=target/release/skyload bash benches/scrape.sh   # an already built binary, no cargo
#
# Needs nginx (Debian nginx-light; installed if missing, as root), curl and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
RATE=${RATE:-2000}
DURATION=${DURATION:-15}
command -v nginx >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null; }
if [ -z "${BIN:-}" ]; then cargo build --release --quiet; BIN=target/release/skyload; fi

. benches/nginx.sh
start_nginx ""

scenario="$work/scrape.toml"
cat > "$scenario" <<TOML
name = "scrape"
[target]
url = "http://127.0.0.1:$port"
[[stages]]
rate = $RATE
duration = "${DURATION}s"
[[requests]]
name = "list"
path = "/list"
weight = 3
[[requests]]
name = "get"
path = "/get"
weight = 1
TOML

summary() {
  python3 - "$1/summary.json" "$2" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
g = s["generator"]
print(f"{sys.argv[2]:<14} achieved {s['totals']['achieved_rps']:.1f} rps, lag p99 {g['schedule_lag']['p99_us']/1000:.2f} ms, {g['requests_per_cpu_second']:.0f} req/cpu-s, latency p99 {s['totals']['latency']['p99_us']/1000:.2f} ms")
PY
}

"$BIN" run "$scenario" --trace -q -o "$work/quiet" >/dev/null 2>&1 || true

mport=$(free_port)
"$BIN" run "$scenario" --trace -q -o "$work/scraped" --metrics-listen "$mport" >/dev/null 2>&1 &
run_pid=$!
for _ in $(seq 50); do (echo > "/dev/tcp/127.0.0.1/$mport") 2>/dev/null && break; sleep 0.1; done
times="$work/times"
: > "$times"
end=$((SECONDS + DURATION))
while [ $SECONDS -lt $end ] && kill -0 $run_pid 2>/dev/null; do
  curl -s -o "$work/last.txt" -H 'Accept: application/openmetrics-text; version=1.0.0' \
    -w '%{time_total}\n' "http://127.0.0.1:$mport/metrics" >> "$times" || true
  sleep 0.2
done
wait $run_pid || true

python3 - "$times" "$work/last.txt" <<'PY'
import sys
t = sorted(float(x) * 1000 for x in open(sys.argv[1]) if x.strip())
body = open(sys.argv[2]).read()
q = lambda p: t[min(len(t) - 1, int(p * len(t)))]
print(f"scrapes        {len(t)} during the run: p50 {q(0.5):.2f} ms, p99 {q(0.99):.2f} ms, max {t[-1]:.2f} ms (curl's time_total, loopback)")
print(f"exposition     {len(body.splitlines())} lines, {len(body)} bytes, {body.count('trace_id')} exemplars")
PY
summary "$work/quiet" "not scraped"
summary "$work/scraped" "scraped 5/s"
