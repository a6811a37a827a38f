#!/usr/bin/env bash
# Throughput of the embedded gateway for a zero-service-time function, one core, keep-alive.
#
#   benches/gateway_wrk.sh                 # 10 s, 50 connections
#   DURATION=30s CONNECTIONS=100 benches/gateway_wrk.sh
#   SKYLOAD_BIN=/tmp/skyload-before benches/gateway_wrk.sh   # that binary, nothing built
#
# Comparing two builds: alternate them (before, after, before, after, ...) on the same machine and
# compare runs taken under the same load average; the script prints it with the figure.
#
# Builds the release binary, starts `skyload gateway` pinned to one core (taskset) on 127.0.0.1 with
# a port the kernel picks, runs wrk pinned to another core, prints requests/s, and stops the gateway
# by its pid. Needs wrk (Debian: apt-get install -y wrk) and taskset (util-linux).
set -euo pipefail

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-50}
GATEWAY_CPU=${GATEWAY_CPU:-0}
WRK_CPU=${WRK_CPU:-1}
root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 2; }
command -v taskset >/dev/null || { echo "taskset is missing: apt-get install -y util-linux" >&2; exit 2; }

bin=${SKYLOAD_BIN:-}
if [ -z "$bin" ]; then
    (cd "$root" && cargo build --release --quiet)
    bin=$target/release/skyload
fi

. "$root/benches/gateway.sh"
work=$(mktemp -d)
cleanup() {
    stop_gateway
    rm -rf "$work"
}
trap cleanup EXIT

cat > "$work/gateway.toml" <<'TOML'
# A function that answers at once: the gateway's own cost is all that is measured.
[functions.zero]
concurrency = 1024
queue = 0
TOML

start_gateway "$bin" "$work/gateway.toml" "$work" "taskset -c $GATEWAY_CPU"
head -n1 "$work/gateway.out"

curl -sf "$url/fn/zero" >/dev/null 2>&1 || true   # warm up the connection path once
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
cmd="taskset -c $WRK_CPU wrk -t1 -c$CONNECTIONS -d$DURATION --latency $url/fn/zero"
echo "gateway: taskset -c $GATEWAY_CPU $bin gateway (pid $gw_pid)"
echo "load:    $cmd"
$cmd | tee "$work/wrk.out"
rps=$(awk '/^Requests\/sec:/ {print $2}' "$work/wrk.out")
echo
echo "gateway throughput, one core, zero service time: ${rps} requests/s (load average before: $load_before, after: $(cut -d' ' -f1-3 /proc/loadavg))"
