#!/usr/bin/env bash
# What pacing costs per request: one skyload build at a rate it holds (HOLD, open loop) and at
# overload (OVER, where the pacer never waits and workers never park), against the same nginx.
# Per answered request, for each: CPU µs in user space and in the kernel split into groups
# (sleep/wake-up, TCP/IP, epoll and timers, runtime, clock reads, skyload's own code), and the
# syscalls and context switches behind them; then the symbols whose cost per request differs most
# between the two. nginx on core 0, skyload (one thread, 32 connections, full recording) on core 1,
# as in side_by_side.sh. perf cpu-clock samples: on a shared machine compare runs taken together,
# and read "ok" against the planned count (a rate that is not held is not a hold figure).
#
#   BIN=target/release/skyload HOLD=90000 OVER=300000 DURATION=4 bash benches/pacing_cost.sh
#
# Needs perf (Debian linux-perf) and nginx.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/skyload}
HOLD=${HOLD:-90000}
OVER=${OVER:-300000}
DURATION=${DURATION:-4}
F=${F:-5000}
TOP=${TOP:-15}
. benches/nginx.sh
start_nginx "taskset -c 0"
events=syscalls:sys_enter_epoll_wait,syscalls:sys_enter_sendto,syscalls:sys_enter_recvfrom,syscalls:sys_enter_timerfd_settime,raw_syscalls:sys_enter,context-switches
for label in hold over; do
    rate=$HOLD; [ "$label" = over ] && rate=$OVER
    bench_scenario pacing-cost "$rate" "$DURATION" 32 1s > "$work/$label.toml"
    rm -rf "$work/results"
    echo "$label: $rate/s planned $((rate * DURATION)), load $(cut -d' ' -f1-3 /proc/loadavg)" > "$work/$label.head"
    taskset -c 1 perf record -q -e cpu-clock -F "$F" -o "$work/$label.data" "$BIN" run "$work/$label.toml" --quiet --out "$work/results" >/dev/null 2>&1 || true
    python3 -c "import json; print(json.load(open('$work/results/summary.json'))['totals']['outcomes'].get('ok', 0))" > "$work/$label.ok"
    perf report -i "$work/$label.data" --no-children --sort dso,sym --stdio -F overhead,sample,dso,sym 2>/dev/null | grep -E '^ +[0-9]' > "$work/$label.syms" || true
    # Syscall tracepoints slow the process down: counted in a second run of the same scenario.
    rm -rf "$work/results"
    taskset -c 1 perf stat -x, -e "$events" -o "$work/$label.stat" "$BIN" run "$work/$label.toml" --quiet --out "$work/results" >/dev/null 2>&1 || true
    python3 -c "import json; print(json.load(open('$work/results/summary.json'))['totals']['outcomes'].get('ok', 0))" > "$work/$label.statok"
done
python3 - "$work" "$F" "$TOP" <<'PY'
import re, sys
work, F, top = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
GROUPS = [
    ("kernel sleep/wake-up", r"finish_task_switch|_raw_spin_unlock_irq|schedule|try_to_wake_up|ttwu|kvm_kick|enqueue|dequeue|pick_next|update_(curr|load|rq)|switch_|select_task_rq|idle|psi_|rseq"),
    ("kernel memory (page faults)", r"clear_page|page_fault|exc_page|memcg|alloc_pages|folio|lru|pte|handle_mm|do_anonymous"),
    ("kernel epoll/timers", r"ep_|epoll|timerfd|hrtimer|timer|__x64_sys_epoll"),
    ("kernel TCP/IP", r"tcp|ip_|ipv4|skb|sock|inet|net|dev_|bbr|__napi|loopback|_copy_|csum|kmem|slab|page_frag|raw_local|sk_"),
    ("runtime (tokio/mio, epoll_wait)", r"tokio|mio::|^epoll_wait"),
    ("clock reads", r"clock_gettime|Timespec|Instant"),
    ("skyload + hdrhistogram", r"skyload|hdrhistogram"),
]
def load(label):
    ok = int(open(f"{work}/{label}.ok").read() or 0)
    d = {}
    for l in open(f"{work}/{label}.syms"):
        p = l.split(None, 4)
        if len(p) < 5:
            continue
        kern = "kernel" in p[2]
        key = ("K " if kern else "U ") + p[4].strip()
        d[key] = d.get(key, 0) + int(p[1]) / F * 1e6 / max(ok, 1)
    stat = {}
    for l in open(f"{work}/{label}.stat"):
        p = l.strip().split(",")
        if len(p) > 2 and p[0].replace(".", "").isdigit():
            stat[p[2].split(":")[-1]] = float(p[0])
    sok = int(open(f"{work}/{label}.statok").read() or 0)
    return ok, d, stat, sok
def group(key):
    kern, name = key[0] == "K", key[2:]
    for g, rx in GROUPS:
        if g.startswith("kernel") != kern:
            continue
        if re.search(rx, name):
            return g
    return "kernel other" if kern else "user other (libc syscall stubs, memcpy, ...)"
res = {l: load(l) for l in ("hold", "over")}
for l in ("hold", "over"):
    ok, d, stat, sok = res[l]
    print(open(f"{work}/{l}.head").read().strip(), f"| answered {ok}")
    u = sum(v for k, v in d.items() if k[0] == "U"); k = sum(v for k, v in d.items() if k[0] == "K")
    print(f"  CPU µs per answered request: user {u:.2f}  kernel {k:.2f}  total {u+k:.2f}  (req/CPU-s {1e6/max(u+k,1e-9):,.0f})")
    per = lambda n: stat.get(n, 0) / max(sok, 1)
    print(f"  per request (stat run, {sok} answered): syscalls {per('sys_enter'):.2f}  epoll_wait {per('sys_enter_epoll_wait'):.3f}  "
          f"timerfd_settime {per('sys_enter_timerfd_settime'):.3f}  sendto {per('sys_enter_sendto'):.2f}  recvfrom {per('sys_enter_recvfrom'):.2f}  "
          f"context switches {per('context-switches'):.3f}")
(hok, h, _, _), (ook, o, _, _) = res["hold"], res["over"]
print(f"\n{'group':44s} {'hold':>7s} {'over':>7s} {'hold-over':>9s}  (µs per answered request)")
gs = {}
for key in set(h) | set(o):
    g = group(key)
    a, b = gs.get(g, (0, 0))
    gs[g] = (a + h.get(key, 0), b + o.get(key, 0))
for g, (a, b) in sorted(gs.items(), key=lambda x: -(x[1][0] - x[1][1])):
    print(f"{g:44s} {a:7.3f} {b:7.3f} {a-b:+9.3f}")
print(f"\nsymbols costing most more per request at hold than at overload (top {top}):")
keys = sorted(set(h) | set(o), key=lambda k: -(h.get(k, 0) - o.get(k, 0)))
for key in keys[:top]:
    print(f"  {h.get(key,0):6.3f} {o.get(key,0):6.3f} {h.get(key,0)-o.get(key,0):+7.3f}  {key[:100]}")
print(f"symbols costing less per request at hold (top {top // 2}):")
for key in keys[-(top // 2):][::-1]:
    print(f"  {h.get(key,0):6.3f} {o.get(key,0):6.3f} {h.get(key,0)-o.get(key,0):+7.3f}  {key[:100]}")
PY
