#!/usr/bin/env bash
# Generator throughput in requests per CPU-second, skyload side by side with wrk, against the same
# nginx on loopback. The server gets core 0, the load generator core 1 (both with one thread), so
# neither steals from the other; CPU time is the generator process's user+sys time.
#
#   bash benches/vs_wrk.sh            # 10 s each
#   DURATION=20 RATE=30000 bash benches/vs_wrk.sh
#
# Needs wrk and nginx (Debian packages; installed if missing, as root).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
CONNS=${CONNS:-32}

need() { command -v "$1" >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null; }; }
need wrk wrk
need time time
need nginx nginx-light || need nginx nginx

cargo build --release --quiet
BIN=target/release/skyload

. benches/nginx.sh
start_nginx "taskset -c 0"

# CPU seconds (user+sys) of a command, from GNU time's output in a file.
cpu_of() { awk '{print $1 + $2}' "$1"; }

echo "== wrk: 1 thread, $CONNS connections, ${DURATION}s, core 1"
/usr/bin/env time -f "%U %S" -o "$work/wrk.time" taskset -c 1 wrk -t1 -c"$CONNS" -d"${DURATION}s" "http://127.0.0.1:$port/" > "$work/wrk.out"
cat "$work/wrk.out"
wrk_reqs=$(awk '/requests in/ {print $1}' "$work/wrk.out")
wrk_cpu=$(cpu_of "$work/wrk.time")
wrk_rate=$(python3 -c "print(round($wrk_reqs / $DURATION))")
wrk_eff=$(python3 -c "print(round($wrk_reqs / $wrk_cpu))")

# skyload is open loop: give it a rate wrk has shown the server can serve (default 90% of wrk's).
RATE=${RATE:-$(python3 -c "print(int($wrk_rate * 0.9))")}
echo "== skyload: 1 thread, $CONNS connections, $RATE rps open loop, ${DURATION}s, core 1"
cat > "$work/bench.toml" <<TOML
name = "bench"
threads = 1
max_lag = "1s"
[target]
url = "http://127.0.0.1:$port"
[connections]
max = $CONNS
[[stages]]
rate = $RATE
duration = "${DURATION}s"
[[requests]]
name = "get"
path = "/"
TOML
/usr/bin/env time -f "%U %S" -o "$work/sky.time" taskset -c 1 "$BIN" run "$work/bench.toml" --quiet --out "$work/results" > "$work/sky.out"
tail -n 12 "$work/sky.out"
sky_reqs=$(python3 -c "import json; print(json.load(open('$work/results/summary.json'))['totals']['completed'])")
sky_cpu=$(cpu_of "$work/sky.time")
sky_eff=$(python3 -c "print(round($sky_reqs / $sky_cpu))")

echo
echo "requests per CPU-second (higher is better)"
printf "  wrk      %8d  (%d requests, %.2f CPU-s, closed loop at max rate)\n" "$wrk_eff" "$wrk_reqs" "$wrk_cpu"
printf "  skyload  %8d  (%d requests, %.2f CPU-s, open loop at %d rps, whole process)\n" "$sky_eff" "$sky_reqs" "$sky_cpu" "$RATE"
python3 -c "print('  skyload / wrk = %.0f%%' % (100.0 * $sky_eff / $wrk_eff))"
