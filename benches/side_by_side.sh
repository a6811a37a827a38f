#!/usr/bin/env bash
# Two or more skyload builds compared on the same nginx, runs alternating (A B A B ...), so a
# shared machine's load falls on all of them alike. Per run: CPU µs per answered request, split
# into user space and kernel from `perf record` samples (cpu-clock: tick-based user/sys from
# getrusage is too coarse for 4 s runs), and requests per CPU-second. nginx on core 0, skyload
# (one thread, open loop at RATE, 32 connections, full recording) on core 1. Compare medians.
#
#   BINS="/tmp/skyload-before target/release/skyload" RATE=100000 DURATION=4 ROUNDS=3 bash benches/side_by_side.sh
#
# Needs perf (Debian linux-perf) and nginx. Without perf (PERF=0) only req/CPU-s is printed,
# from /usr/bin/time. SYMS=1 adds user µs/req by symbol group (head parsing, drive, recorder,
# clock reads, tokio+mio, worker, pacer) and writes each build's top user symbols to
# $TMPDIR/side_by_side-top-<build>.txt: per-symbol figures hold where the totals are noise.
set -euo pipefail
cd "$(dirname "$0")/.."
RATE=${RATE:-100000}
DURATION=${DURATION:-4}
ROUNDS=${ROUNDS:-3}
F=${F:-10000}
PERF=${PERF:-1}
SYMS=${SYMS:-0}
BINS=${BINS:-target/release/skyload}
. benches/nginx.sh
start_nginx "taskset -c 0"
bench_scenario side-by-side "$RATE" "$DURATION" 32 1s > "$work/bench.toml"
for _ in $(seq "$ROUNDS"); do
    for b in $BINS; do
        rm -rf "$work/results" "$work/dso.txt" "$work/sym.txt"
        if [ "$PERF" = 1 ]; then
            taskset -c 1 perf record -q -e cpu-clock -F "$F" -o "$work/p.data" "$b" run "$work/bench.toml" --quiet --out "$work/results" >/dev/null 2>&1 || true
            perf report -i "$work/p.data" --no-children --sort dso --stdio -g none -F overhead,sample,dso 2>/dev/null | grep -v '^#' | grep -v '^$' > "$work/dso.txt"
            if [ "$SYMS" = 1 ]; then
                perf report -i "$work/p.data" --no-children --sort dso,sym --stdio -g none -F sample,dso,sym 2>/dev/null | grep -v '^#' | grep -v '^$' > "$work/sym.txt"
            fi
        else
            /usr/bin/time -o "$work/t" -f "%U %S" taskset -c 1 "$b" run "$work/bench.toml" --quiet --out "$work/results" >/dev/null 2>&1 || true
        fi
        python3 - "$work" "$b" "$(cut -d' ' -f1-3 /proc/loadavg)" "$F" <<'PY'
import json, os, sys
work, b, load, F = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
ok = json.load(open(f"{work}/results/summary.json"))["totals"]["outcomes"].get("ok", 0)
if os.path.exists(f"{work}/dso.txt"):
    user = kern = 0
    for line in open(f"{work}/dso.txt"):
        p = line.split()
        if len(p) >= 3:
            if "kernel" in p[2]:
                kern += int(p[1])
            else:
                user += int(p[1])
    us = lambda n: n / F * 1e6 / max(ok, 1)
    cpu = (user + kern) / F
    print(f"{b}: ok {ok}  user {us(user):.2f} µs/req  kernel {us(kern):.2f} µs/req  req/CPU-s {ok / max(cpu, 1e-9):,.0f}  load {load}")
    if os.path.exists(f"{work}/sym.txt"):
        import re, collections, tempfile
        groups = [("head", r"fast_head|HeadScan|field_end|HeadMemo|slow_head|h1_head"), ("drive", r"drive::|WorkWake"),
                  ("record", r"ThreadRecorder|hdrhistogram|record_us|slow::"), ("clock", r"clock_gettime|Timespec|Instant|saturating_duration"),
                  ("tokio", r"tokio::|mio::"), ("worker", r"worker::"), ("pacer", r"pacer::|schedule::|engine::")]
        g, top = collections.Counter(), collections.Counter()
        for line in open(f"{work}/sym.txt"):
            p = line.split(None, 3)
            if len(p) < 4 or "kernel" in p[1]:
                continue
            n, sym = int(p[0]), p[3].strip()
            top[sym] += n
            for name, rx in groups:
                if re.search(rx, sym):
                    g[name] += n
                    break
        print("    user µs/req by group: " + "  ".join(f"{k} {us(g[k]):.3f}" for k, _ in groups))
        name = os.path.basename(b)
        with open(os.path.join(tempfile.gettempdir(), f"side_by_side-top-{name}.txt"), "w") as f:
            f.write("\n".join(f"{us(n):.3f} {s}" for s, n in top.most_common(30)) + "\n")
else:
    u, s = map(float, open(f"{work}/t").read().split())
    print(f"{b}: ok {ok}  req/CPU-s {ok / max(u + s, 1e-9):,.0f}  load {load}")
PY
    done
done
