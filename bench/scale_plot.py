#!/usr/bin/env python3
"""Report and SVG plot of the scale curve for bench/scale.sh.

usage: scale_plot.py POINTS.tsv OUT.svg TITLE

POINTS.tsv has one line per size: scale, database bytes, the runs' seconds
(space separated), the runs' peak RSS in MiB (space separated). Prints a
Markdown table (seconds per GB and peak RSS per size, a least-squares fit
seconds = a + b * GB and each point's distance from it) and writes a plot
of both against GB. Standard library only.
"""
import statistics
import sys
from xml.sax.saxutils import escape


def read_points(path):
    pts = []
    with open(path) as f:
        for line in f:
            cols = line.rstrip("\n").split("\t")
            if len(cols) < 4:
                continue
            secs = [float(x) for x in cols[2].split()]
            rss = [float(x) for x in cols[3].split()]
            gb = int(cols[1]) / 1e9
            pts.append({"scale": int(cols[0]), "gb": gb, "secs": secs, "med": statistics.median(secs), "rss": max(rss)})
    return pts


def fit(pts):
    """Least squares seconds = a + b * GB; (a, b), or None with < 2 sizes."""
    if len(pts) < 2:
        return None
    xs = [p["gb"] for p in pts]
    ys = [p["med"] for p in pts]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return None
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx
    return my - b * mx, b


def panel(x0, y0, w, h, pts, key, label, line=None):
    """One scatter panel at (x0, y0) of size w x h: key against GB."""
    out = []
    xmax = max(p["gb"] for p in pts) * 1.1 or 1
    ymax = max(p[key] for p in pts) * 1.15 or 1
    sx = lambda x: x0 + x / xmax * w
    sy = lambda y: y0 + h - y / ymax * h
    out.append(f'<rect x="{x0}" y="{y0}" width="{w}" height="{h}" fill="none" stroke="#999"/>')
    for i in range(5):
        yv = ymax * i / 4
        xv = xmax * i / 4
        out.append(f'<text x="{x0 - 6}" y="{sy(yv) + 4:.1f}" text-anchor="end" font-size="11">{yv:.3g}</text>')
        out.append(f'<text x="{sx(xv):.1f}" y="{y0 + h + 16}" text-anchor="middle" font-size="11">{xv:.2g}</text>')
    out.append(f'<text x="{x0 + w / 2}" y="{y0 + h + 34}" text-anchor="middle" font-size="12">database size, GB</text>')
    out.append(f'<text x="{x0}" y="{y0 - 8}" font-size="13">{escape(label)}</text>')
    if line:
        a, b = line
        out.append(f'<line x1="{sx(0):.1f}" y1="{sy(a):.1f}" x2="{sx(xmax):.1f}" y2="{sy(a + b * xmax):.1f}" '
                   'stroke="#c33" stroke-dasharray="5,4"/>')
    for p in pts:
        out.append(f'<circle cx="{sx(p["gb"]):.1f}" cy="{sy(p[key]):.1f}" r="4" fill="#236"/>')
        out.append(f'<text x="{sx(p["gb"]) + 6:.1f}" y="{sy(p[key]) - 6:.1f}" font-size="10">SCALE {p["scale"]}</text>')
        if key == "med":
            for s in p["secs"]:
                out.append(f'<circle cx="{sx(p["gb"]):.1f}" cy="{sy(s):.1f}" r="2" fill="#89a"/>')
    return out


def main():
    pts = read_points(sys.argv[1])
    if not pts:
        sys.exit("scale_plot.py: no points")
    line = fit(pts)
    rows = ["| SCALE | size GB | apply s (runs) | median s | s per GB | peak RSS MiB | vs fit |",
            "|---|---|---|---|---|---|---|"]
    for p in pts:
        dev = "n/a"
        if line:
            pred = line[0] + line[1] * p["gb"]
            dev = f"{(p['med'] - pred) / pred * 100:+.0f} %" if pred > 0 else "n/a"
        rows.append(f"| {p['scale']} | {p['gb']:.3f} | {', '.join(f'{s:.2f}' for s in p['secs'])} | {p['med']:.2f} | "
                    f"{p['med'] / p['gb']:.1f} | {p['rss']:.0f} | {dev} |")
    rows.append("")
    if line:
        rows.append(f"Least-squares fit: seconds = {line[0]:.2f} + {line[1]:.2f} × GB (fixed cost + marginal seconds per GB). "
                    "Linear growth shows as points within a few per cent of the fit and a constant marginal cost; "
                    "peak RSS should not grow with the size.")
    else:
        rows.append("One size only: no fit.")
    print("\n".join(rows))

    w, h = 330, 220
    svg = ['<svg xmlns="http://www.w3.org/2000/svg" width="820" height="320" font-family="sans-serif">',
           '<rect width="100%" height="100%" fill="white"/>',
           f'<text x="20" y="22" font-size="14">{escape("database-replicator apply: " + sys.argv[3])}</text>']
    svg += panel(70, 50, w, h, pts, "med", "apply seconds (median; small dots: runs; dashed: fit)", line)
    svg += panel(470, 50, w, h, pts, "rss", "peak RSS, MiB")
    svg.append("</svg>")
    with open(sys.argv[2], "w") as f:
        f.write("\n".join(svg) + "\n")


if __name__ == "__main__":
    main()
