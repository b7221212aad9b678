#!/usr/bin/env python3
"""Runs one Python peer workload (../shared/peers/python) and prints its
result as scripts/bench's JSON lines (qtloop's workload names and keys).

usage: bench_python.py PYTHON PEER_DIR WORKLOAD KIND REP
  WORKLOAD: w1 ... w11 (w4, w5, w7 give two rows each; w9, w10 three; w11 two)
"""
import json
import subprocess
import sys

SCRIPTS = {
    "w1": "w1_fanout.py", "w2": "w2_chain.py", "w3": "w3_timers.py",
    "w4": "w4_threadsafe.py", "w5": "w5_executor.py", "w6": "w6_periodic.py",
    "w7": "w7_tasks.py", "w8": "w8_responsiveness.py",
    "w9": "w9_tcp.py", "w10": "w10_timer_cpu.py", "w11": "w11_subprocess.py",
}
# (our workload, our key, their key)
KEYS = {
    "w1": [("w1", "ns_per_cb", "ns_per_callback")],
    "w2": [("w2", "ns_per_hop", "ns_per_hop")],
    "w3": [("w3", "steady_late_p99_ms", "late_free_p99_ms"),
           ("w3", "ns_per_timer", "sched_ns_per_timer"),
           ("w3", "inversions", "inversions")],
    "w4": [("w4a", "ns_per_post", "tp_ns_per_op"), ("w4b", "p50_us", "lat_p50_us")],
    "w5": [("w5a", "us_per_job", "tp_us_per_op"), ("w5b", "p50_us", "lat_p50_us")],
    "w6": [("w6", "dev_p99_ms", "dev_p99_ms"), ("w6", "calls", "calls")],
    "w7": [("w7a", "ns_per_task", "ns_per_task"), ("w7b", "rss_per_task_b", "mem_bytes_per_task")],
    "w8": [("w8", "chain_max_gap_ms", "chain_max_gap_ms"),
           ("w8", "fanout_max_gap_ms", "fanout_max_gap_ms")],
    "w9": [("w9a", "p50_us", "rt_p50_us"), ("w9b", "mib_per_s", "tp_mib_per_s"),
           ("w9c", "us_per_cycle", "conn_us_per_cycle")],
    "w10": [("w10a", "cpu_ms_per_s", "sleep_cpu_ms_per_s"),
            ("w10b", "cpu_ms_per_s", "periodic_cpu_ms_per_s"),
            ("w10b", "late_p99_ms", "periodic_late_p99_ms"),
            ("w10c", "cpu_ms_per_s", "many_cpu_ms_per_s")],
    "w11": [("w11a", "ms_per_spawn", "spawn_ms_per_spawn"), ("w11b", "mib_per_s", "pipe_mib_per_s")],
}
# The workloads of one script, for a peer that cannot run them at all
# (QtAsyncio raises NotImplementedError for sockets and subprocesses).
PARTS = {"w9": ["w9a", "w9b", "w9c"], "w11": ["w11a", "w11b"]}


def main(python, peer_dir, workload, kind, rep):
    try:
        out = subprocess.run([python, SCRIPTS[workload], kind], cwd=peer_dir, capture_output=True,
                             text=True, timeout=600)
        line = [l for l in out.stdout.splitlines() if l.startswith("{")][-1]
        data = json.loads(line)
    except Exception as e:  # a crash or a timeout is a result too
        print(json.dumps({"workload": workload, "runtime": kind, "rep": int(rep), "error": str(e)[:200]}))
        return
    if "unsupported" in data:
        for ours in PARTS.get(workload, [workload]):
            print(json.dumps({"workload": ours, "runtime": kind, "rep": int(rep),
                              "unsupported": data["unsupported"][:200]}))
        return
    rows = {}
    for ours, key, theirs in KEYS[workload]:
        if theirs in data:
            rows.setdefault(ours, {"workload": ours, "runtime": kind, "rep": int(rep)})[key] = data[theirs]
    for row in rows.values():
        print(json.dumps(row))


if __name__ == "__main__":
    main(*sys.argv[1:6])
