#!/usr/bin/env python3
"""Where the pacer's slow waits came from, from a traced run's stderr (SKYLOAD_PACER_TRACE=<us>,
see src/load/pacer_trace.rs; benches/lag.sh TRACE_US=... runs it). Prints one `cause` line:

  slow waits by the part that took most of their lag:
    late-entry  the thread came to the wait after the instant (busy outside the pacer: see gaps)
    runqueue    the OS kept the thread runnable but not running (preempted / no free CPU)
    own-tasks   the thread's other tasks (workers, ticker) held it between two spin yields
    timer       the timer woke late while the thread was not runnable (the vCPU, the host)
    other       none of these took half of the lag
  gaps: stretches between two waits longer than the threshold (the thread never awaits in them), by
  what took most of their length: `busy` on a CPU in skyload's code, `runq` runnable but not running,
  `blocked` it slept in a syscall or page fault (voluntary switches), `unacc` none of these: time
  the host did not run the vCPU (steal) — the thread looked running to the guest but got no CPU.

  python3 benches/lag_causes.py TRACE.txt [TRACE2.txt ...]
"""
import sys
from collections import defaultdict


def fields(line):
    return dict(f.split("=", 1) for f in line.split()[2:] if "=" in f)


def num(d, k):
    v = d.get(k, "-")
    return 0 if v == "-" else float(v)


def main(paths):
    cause = defaultdict(lambda: [0, 0])  # count, max lag
    gaps = 0
    gap_kind = defaultdict(int)
    gap_max = 0
    waits = slow = 0
    threshold = None
    for path in paths:
        for line in open(path, errors="replace"):
            if not line.startswith("pacer-trace "):
                continue
            kind = line.split()[1]
            d = fields(line)
            if kind == "summary":
                waits += int(d["waits"])
                slow += int(d["slow_waits"])
                threshold = d["threshold_us"]
            elif kind == "gap":
                gaps += 1
                ln = num(d, "len_us")
                gap_max = max(gap_max, ln)
                if num(d, "cpu_us") >= ln / 2:
                    gap_kind["busy"] += 1
                elif num(d, "run_delay_us") >= ln / 2:
                    gap_kind["runq"] += 1
                elif num(d, "nvcsw") > 0:
                    gap_kind["blocked"] += 1
                else:
                    gap_kind["unacc"] += 1
            elif kind == "wait":
                lag = num(d, "lag_us")
                half = lag / 2
                if num(d, "entered_late_us") >= half:
                    c = "late-entry"
                elif num(d, "run_delay_us") >= half:
                    c = "runqueue"
                elif num(d, "longest_yield_us") >= half:
                    c = "own-tasks"
                elif num(d, "timer_late_us") >= half:
                    c = "timer"
                else:
                    c = "other"
                cause[c][0] += 1
                cause[c][1] = max(cause[c][1], lag)
    parts = " ".join(f"{c}={n}(max {m / 1000:.1f}ms)" for c, (n, m) in sorted(cause.items()))
    print(f"  cause: waits={waits} slow(>{threshold}us)={slow} {parts or '-'} | gaps={gaps} {' '.join(f'{k}={v}' for k, v in sorted(gap_kind.items()))} max={gap_max / 1000:.1f}ms")


if __name__ == "__main__":
    main(sys.argv[1:])
