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
    "w1t": ("ns_per_cb", "ns/callback, 100 timers pending"),
    "w2": ("ns_per_hop", "ns/hop"),
    "w2t": ("ns_per_hop", "ns/hop, 100 timers pending"),
    "w3": ("steady_late_p99_ms", "steady lateness p99 ms"),
    "w3cpu": ("cpu_ms_per_s", "100k timers over 1 s, CPU ms/s"),
    "w4a": ("ns_per_post", "ns/post"),
    "w4b": ("p50_us", "wake latency p50 µs"),
    "w5a": ("us_per_job", "µs/job"),
    "w5b": ("p50_us", "round trip p50 µs"),
    "w6": ("dev_p99_ms", "deviation p99 ms"),
    "w6cpu": ("cpu_ms_per_s", "1 ms periodic, CPU ms/s"),
    "w6d": ("dev_p99_ms", "deviation p99 ms"),
    "w7a": ("ns_per_task", "ns/task"),
    "w7b": ("rss_per_task_b", "RSS B/parked task"),
    "w8c": ("chain_max_gap_ms", "1 ms QTimer max gap, chain, ms"),
    "w8f": ("fanout_max_gap_ms", "1 ms QTimer max gap, fan-out, ms"),
    "w9a": ("p50_us", "TCP round trip p50 µs"),
    "w9b": ("mib_per_s", "TCP echo, 50 × 2 MiB, MiB/s (higher is better)"),
    "w9c": ("us_per_cycle", "connect + accept + close µs"),
    "w10a": ("cpu_ms_per_s", "sleep(10 ms) loop, CPU ms/s"),
    "w10b": ("cpu_ms_per_s", "1 ms periodic, CPU ms/s"),
    "w10bl": ("late_p99_ms", "1 ms periodic, lateness p99 ms"),
    "w10c": ("cpu_ms_per_s", "100 sleepers, CPU ms/s"),
    "w11a": ("ms_per_spawn", "spawn + wait /bin/true ms"),
    "w11b": ("mib_per_s", "64 MiB through cat, MiB/s (higher is better)"),
}
# Rows that one raw line carries several of.
EXPAND = {"w8": ["w8c", "w8f"], "w10b": ["w10b", "w10bl"], "w3": ["w3", "w3cpu"],
          "w6": ["w6", "w6cpu"]}
RUST_PEERS = ["tokio", "async-executor", "glib"]
PYTHON_PEERS = ["asyncio", "uvloop", "qtasyncio", "qasync"]
PEERS = RUST_PEERS + PYTHON_PEERS


def main(raw, chart):
    cells = defaultdict(list)
    floors = {}
    unsupported = set()
    for line in open(raw):
        line = line.strip()
        if not line:
            continue
        row = json.loads(line)
        w, rt = row.get("workload"), row.get("runtime")
        if w == "floor":
            floors[rt] = row
            continue
        if w == "floor10":
            for k in ("qt_10ms", "qt_1ms"):
                floors.setdefault(k, []).append(row[k]["cpu_ms_per_s"])
            continue
        if "unsupported" in row:
            unsupported.add((w, rt))
            continue
        for name in EXPAND.get(w, [w]):
            if name in PRIMARY and PRIMARY[name][0] in row:
                cells[(name, rt)].append(float(row[PRIMARY[name][0]]))
    med = {k: statistics.median(v) for k, v in cells.items()}
    peers = [p for p in PEERS if any(k[1] == p for k in med)]
    fmt = lambda x: "–" if x is None else (f"{x:.3g}" if x < 100 else f"{x:.0f}")
    print("Medians (lower is better):\n")
    print("| workload | metric | qtloop | " + " | ".join(peers) + " |")
    print("|---|---|---:|" + "---:|" * len(peers))
    rows = []
    for w, (key, label) in PRIMARY.items():
        q = med.get((w, "qtloop"))
        if q is None:
            continue
        vals = [med.get((w, p)) for p in peers]
        shown = ["unsupported" if (w, p) in unsupported else fmt(v) for p, v in zip(peers, vals)]
        print(f"| {w} | {label} | {fmt(q)} | " + " | ".join(shown) + " |")
        rows.append((w, label, [q] + vals))
    print("\nRatios qtloop ÷ peer (below 1: qtloop is better):\n")
    print("| workload | " + " | ".join(peers) + " |")
    print("|---|" + "---:|" * len(peers))
    for w, label, vals in rows:
        q = vals[0]
        print(f"| {w} | " + " | ".join(f"{q / v:.3g}" if v else "–" for v in vals[1:]) + " |")
    errors = defaultdict(int)
    for line in open(raw):
        if '"error"' in line and "floor" not in line:
            row = json.loads(line)
            errors[(row.get("workload"), row.get("runtime"))] += 1
    if errors:
        print("\nRuns that failed or timed out: " +
              ", ".join(f"{w}/{rt} ×{n}" for (w, rt), n in sorted(errors.items())))
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
    for w in ("w1", "w2"):
        q, qt = med.get((w, "qtloop")), med.get((w + "t", "qtloop"))
        if q and qt:
            print(f"{w.upper()} with 100 timers pending ÷ without: {qt / q:.2f}")
    # W5b's floor: plain threads waking each other, in each W5b process.
    w5 = [float(json.loads(l)["floor_p50_us"]) for l in open(raw)
          if '"floor_p50_us"' in l and '"qtloop"' in l]
    q5 = med.get(("w5b", "qtloop"))
    if w5 and q5:
        f5 = statistics.median(w5)
        print(f"W5b floor (two plain threads, Condvar, same process): p50 {f5:.3g} µs; "
              f"W5b ÷ floor: {q5 / f5:.2f}")
    if "qt_10ms" in floors:
        f10, f1 = statistics.median(floors["qt_10ms"]), statistics.median(floors["qt_1ms"])
        print(f"W10 floors (a bare Qt PreciseTimer, empty slot): 10 ms {f10:.2f} CPU ms/s, "
              f"1 ms {f1:.2f} CPU ms/s.")
        for w, f in (("w10a", f10), ("w10b", f1)):
            q = med.get((w, "qtloop"))
            if q:
                print(f"{w} ÷ its Qt floor: {q / f:.2f}")
    write_svg(chart, rows, peers)


def write_svg(path, rows, peers):
    names = ["qtloop"] + peers
    colours = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22"]
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
