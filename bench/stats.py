#!/usr/bin/env python3
"""Small statistics helper for bench/run.sh.

usage: stats.py median|max|p95|count  < numbers (one per line; blank and
non-numeric lines are ignored). Prints the value with 3 decimals, or "n/a"
when there are no numbers.
"""
import math
import sys


def main() -> None:
    what = sys.argv[1]
    xs = []
    for line in sys.stdin:
        try:
            xs.append(float(line.strip()))
        except ValueError:
            continue
    if what == "count":
        print(len(xs))
        return
    if not xs:
        print("n/a")
        return
    xs.sort()
    if what == "median":
        n = len(xs)
        v = xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2
    elif what == "max":
        v = xs[-1]
    elif what == "p95":
        # nearest-rank percentile
        v = xs[max(0, math.ceil(0.95 * len(xs)) - 1)]
    else:
        sys.exit(f"stats.py: unknown statistic {what!r}")
    print(f"{v:.0f}" if all(x.is_integer() for x in xs) else f"{v:.3f}")


if __name__ == "__main__":
    main()
