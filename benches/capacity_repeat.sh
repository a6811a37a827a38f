#!/usr/bin/env bash
# Does `skyload capacity` repeat on a noisy system? Five real searches, one after another, against
# one `skyload gateway` whose pods are noisy (lognormal service time) and stall now and then (a
# driver adds 150 ms to one pod for 0.3 s every few seconds through the control API), then prints
# each answer and how far apart they are.
#
#   benches/capacity_repeat.sh                # 5 searches
#   RUNS=3 benches/capacity_repeat.sh
#   LOGS=/tmp/cap-logs benches/capacity_repeat.sh   # keep each search's terminal output there
#   BISECT_HOLD=5s CONFIRM=2 CONFIRM_HOLD=15s benches/capacity_repeat.sh   # longer holds (defaults 3s, 2, 5s)
#
# Each search takes about a minute. The answers should agree within 5%, or the search should say it
# cannot (exit 4, an unstable band) rather than print a confident number. A search whose steps all
# broke (a stall inside every early step: with consistency 1.0 one bad second fails a step) answers
# "none" and is left out of the spread; its first steps are printed. Everything stays on
# 127.0.0.1 on ports the kernel picks; the gateway and the stall driver are stopped by pid.
set -euo pipefail

RUNS=${RUNS:-5}
root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
bin="$target/release/skyload"
(cd "$root" && cargo build --release --quiet)

. "$root/benches/gateway.sh"
work=$(mktemp -d)
stall_pid=""
cleanup() {
    if [ -n "$stall_pid" ] && kill -0 "$stall_pid" 2>/dev/null; then
        kill "$stall_pid"
        wait "$stall_pid" 2>/dev/null || true
    fi
    stop_gateway
    if [ -n "${LOGS:-}" ]; then
        mkdir -p "$LOGS" && cp "$work"/run*.log "$LOGS"/ 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

cat > "$work/gateway.toml" <<'TOML'
# Two pods of 3 workers at ~8 ms: about 375 rps each when quiet, less with the tail and stalls.
[functions.hello]
pods = 2
concurrency = 3
queue = 1000
service_time = { dist = "lognormal", mean = "8ms", p99 = "20ms" }
TOML

start_gateway "$bin" "$work/gateway.toml" "$work"

# Occasional stalls: 150 ms more on hello-1 for 0.3 s, every 4-8 s (bounded: at most 2,000 stalls).
(
    for i in $(seq 1 2000); do
        sleep $((4 + RANDOM % 5))
        "$bin" invoke -X POST -d '{"add":"150ms"}' "$url/_control/pods/hello-1/latency" > /dev/null 2>&1 || exit 0
        sleep 0.3
        "$bin" invoke -X DELETE "$url/_control/pods/hello-1/latency" > /dev/null 2>&1 || exit 0
    done
) &
stall_pid=$!

cat > "$work/cap.toml" <<TOML
name = "capacity-repeat"
[target]
url = "$url"
timeout = "2s"
[connections]
max = 512
[[stages]]
rate = 100
duration = "1s"
[[requests]]
path = "/fn/hello"
[checks]
run = ["p99 < 100ms", "error_rate < 1%"]
[capacity]
start = 200
factor = 1.5
hold = "4s"
bisect_hold = "${BISECT_HOLD:-3s}"
precision = 0.05
retests = 1
confirm = ${CONFIRM:-2}
confirm_hold = "${CONFIRM_HOLD:-5s}"
TOML

echo "gateway $url (pid $gw_pid), stalls driven by pid $stall_pid"
answers=()
for i in $(seq 1 "$RUNS"); do
    out="$work/run$i"
    set +e
    "$bin" capacity "$work/cap.toml" -o "$out" > "$work/run$i.log" 2>&1
    code=$?
    set -e
    line=$(grep -m1 '^capacity:' "$work/run$i.log" || echo "capacity: (no answer line)")
    rps=$(grep -o '"max_sustainable_rps": *[0-9.]*' "$out/capacity.json" 2>/dev/null | grep -o '[0-9.]*$' || true)
    echo "search $i: exit $code · $line"
    if [ -n "$rps" ]; then
        answers+=("$rps $code")
    else
        # No rate kept the SLO: show the steps, so a stall in the first step is seen as such.
        grep -E '^ *step ' "$work/run$i.log" | head -n 4 | sed 's/^/    /' || true
    fi
done

if [ "${#answers[@]}" -lt 2 ]; then
    echo "fewer than two searches gave an answer"
    exit 1
fi
printf '%s\n' "${answers[@]}" | awk '
    { v[NR] = $1; s += $1; if (NR == 1 || $1 < lo) lo = $1; if (NR == 1 || $1 > hi) hi = $1
      if ($2 == 0) { nc++; if (nc == 1 || $1 < clo) clo = $1; if (nc == 1 || $1 > chi) chi = $1 }
      if ($2 == 4) nu++ }
    END {
        m = s / NR
        printf "answers (rps): "; for (i = 1; i <= NR; i++) printf "%.1f ", v[i]; printf "\n"
        printf "min %.1f  max %.1f  mean %.1f  spread (max-min)/mean %.1f%%  within 5%%: %s\n", lo, hi, m, 100 * (hi - lo) / m, (hi - lo) / m <= 0.05 ? "yes" : "no"
        if (nc > 1) printf "confident answers (exit 0) only: min %.1f  max %.1f  spread %.1f%%\n", clo, chi, 200 * (chi - clo) / (chi + clo)
        if (nu > 0) printf "%d search(es) said they cannot (exit 4, unstable band; their confirmed lower end is counted above)\n", nu
    }'
