#!/usr/bin/env python3
"""Who held the CPUs while the pacer's slow waits were late: lays a traced run's slow waits
(SKYLOAD_PACER_TRACE, src/load/pacer_trace.rs) over `perf sched timehist` of the same run, recorded
with the same clock (CLOCK_MONOTONIC), and sums per task the CPU time it ran on any CPU inside the
waits' lag windows [instant, instant + lag]. Recipe (root, nginx from benches/nginx.sh or any
target on loopback):

  SKYLOAD_PACER_TRACE=1000 perf sched record -k CLOCK_MONOTONIC -o perf.data -- \\
      target/release/skyload run --url http://127.0.0.1:PORT/ --rate 2000 --duration 5s \\
      --pacer precise -q -o out 2> trace.txt
  perf sched timehist -i perf.data > timehist.txt
  python3 benches/lag_who.py trace.txt timehist.txt
"""
import collections
import re
import sys

LINE = re.compile(r"\s*([\d.]+)\s+\[(\d+)\]\s+(.+?)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*$")


def main(trace, timehist, show=8):
    runs = []  # (start s, end s, task)
    for line in open(timehist, errors="replace"):
        m = LINE.match(line)
        if m:
            end, run = float(m.group(1)), float(m.group(6)) / 1000
            runs.append((end - run, end, re.sub(r"\[.*", "", m.group(3))))
    total = collections.Counter()
    n = 0
    for line in open(trace, errors="replace"):
        if not line.startswith("pacer-trace wait "):
            continue
        d = dict(f.split("=", 1) for f in line.split()[2:] if "=" in f)
        start = float(d["mono_us"]) / 1e6
        end = start + float(d["lag_us"]) / 1e6
        occ = collections.Counter()
        for a, b, task in runs:
            o = min(b, end) - max(a, start)
            if o > 0:
                occ[task] += o
        total.update(occ)
        n += 1
        if n <= show:
            tops = ", ".join(f"{k} {v * 1e3:.2f}ms" for k, v in occ.most_common(4))
            print(f"tid={d['tid']} t={d['t']}s lag={d['lag_us']}us run_delay={d.get('run_delay_us')}us: {tops}")
    print(f"{n} slow waits; CPU time per task inside their lag windows (both CPUs):")
    for task, v in total.most_common(12):
        print(f"  {task:32s} {v * 1e3:9.1f} ms")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
