"""Reads `callgrind_annotate --inclusive=no` output: the program's total instructions and each
function's self instructions (file and object stripped, same-named functions summed). Shared by
benches/callgrind.sh and benches/callgrind_sat.sh, which run from the repository's root."""
import re

LINE = re.compile(r"^\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+(.*)$")


def costs_of(path):
    total, by_fn = 0, {}
    # The total, then the function table (after its "file:function" heading, up to a blank line;
    # the annotated sources after it repeat inclusive counts).
    in_table = False
    for l in open(path):
        if "file:function" in l:
            in_table = True
            continue
        if in_table and not l.strip():
            break
        m = LINE.match(l)
        if not m:
            continue
        n, name = int(m.group(1).replace(",", "")), m.group(2).strip()
        if name.startswith("PROGRAM TOTALS"):
            total = n
            continue
        if not in_table:
            continue
        # file:function [object] -> function
        fn = name.rsplit(" [", 1)[0]
        fn = fn.split(":", 1)[1] if ":" in fn else fn
        by_fn[fn] = by_fn.get(fn, 0) + n
    return total, by_fn
