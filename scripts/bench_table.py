#!/usr/bin/env python3
"""Medians of scripts/bench's raw JSON lines: a Markdown table with ratios
(qtloop / peer; below 1 means qtloop is cheaper) and an SVG bar chart.

usage: bench_table.py RAW.jsonl CHART.svg
"""
import json
import math
import statistics
import sys
from collections import defaultdict

# The metric each workload is judged by (lower is better), as in the peers' tables.
PRIMARY = {
    "w1": ("ns_per_cb", "ns/callback"),
    "w2": ("ns_per_hop", "ns/hop"),
    "w3": ("steady_late_p99_ms", "steady lateness p99 ms"),
    "w4a": ("ns_per_post", "ns/post"),
    "w4b": ("p50_us", "wake latency p50 µs"),
    "w5a": ("us_per_job", "µs/job"),
    "w5b": ("p50_us", "round trip p50 µs"),
    "w6": ("dev_p99_ms", "deviation p99 ms"),
    "w6d": ("dev_p99_ms", "deviation p99 ms"),
    "w7a": ("ns_per_task", "ns/task"),
    "w7b": ("rss_per_task_b", "RSS B/parked task"),
}
PEERS = ["tokio", "async-executor", "glib"]


def main(raw, chart):
    cells = defaultdict(list)
    floors = {}
    for line in open(raw):
        line = line.strip()
        if not line:
            continue
        row = json.loads(line)
        w, rt = row.get("workload"), row.get("runtime")
        if w == "floor":
            floors[rt] = row
            continue
        if w in PRIMARY and PRIMARY[w][0] in row:
            cells[(w, rt)].append(float(row[PRIMARY[w][0]]))
    med = {k: statistics.median(v) for k, v in cells.items()}
    print("| workload | metric | qtloop | " + " | ".join(PEERS) + " | " +
          " | ".join(f"qtloop ÷ {p}" for p in PEERS) + " |")
    print("|---|---|---:|" + "---:|" * (2 * len(PEERS)))
    rows = []
    for w, (key, label) in PRIMARY.items():
        q = med.get((w, "qtloop"))
        if q is None:
            continue
        vals = [med.get((w, p)) for p in PEERS]
        ratios = [f"{q / v:.2f}" if v else "–" for v in vals]
        fmt = lambda x: "–" if x is None else (f"{x:.3g}" if x < 100 else f"{x:.0f}")
        print(f"| {w} | {label} | {fmt(q)} | " + " | ".join(fmt(v) for v in vals) +
              " | " + " | ".join(ratios) + " |")
        rows.append((w, label, [q] + vals))
    if floors:
        print()
        fv = floors.get("vecdeque", {}).get("ns_per_cb")
        fq = floors.get("qt-posted-event", {}).get("ns_per_round_trip")
        core = floors.get("core", {})
        print(f"Floors (same process): `VecDeque<Box<dyn FnOnce()>>` {fv:.1f} ns/callback; "
              f"one Qt posted event {fq} ns; the Qt-free core: W1 {core.get('ns_per_cb', 0):.1f} ns, "
              f"W2 {core.get('ns_per_hop', 0):.1f} ns/hop.")
        q1 = med.get(("w1", "qtloop"))
        if q1 and fv:
            print(f"W1 ÷ floor: {q1 / fv:.2f}")
    write_svg(chart, rows)


def write_svg(path, rows):
    names = ["qtloop"] + PEERS
    colours = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd"]
    bar_h, gap, left, width = 12, 14, 210, 520
    height = 40 + len(rows) * (len(names) * bar_h + gap) + 30
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 120}" height="{height}" '
           'font-family="DejaVu Sans, sans-serif" font-size="11">',
           f'<text x="10" y="20" font-size="13">qtloop and peers: medians, log scale, lower is better</text>']
    y = 40
    for w, label, vals in rows:
        present = [v for v in vals if v]
        lo = min(present) / 2
        hi = max(present) * 2
        scale = lambda v: width * (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))
        out.append(f'<text x="10" y="{y + bar_h * 2}">{w}: {label}</text>')
        for i, (n, v) in enumerate(zip(names, vals)):
            if not v:
                continue
            wbar = max(1.0, scale(v))
            out.append(f'<rect x="{left}" y="{y}" width="{wbar:.1f}" height="{bar_h - 2}" fill="{colours[i]}"/>')
            out.append(f'<text x="{left + wbar + 4:.1f}" y="{y + bar_h - 3}">{n} {v:.3g}</text>')
            y += bar_h
        y += gap
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out))
    print(f"\nchart: {path}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
