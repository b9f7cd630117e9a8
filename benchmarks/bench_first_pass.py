"""The streamed first pass alone (checker.records.stream.first_pass) on one export: CPU-seconds
and wall (median of RUNS runs, each in a fresh process), the memory the pass holds when it ends
(tracemalloc, and per record) and its peak, with the bare parse of the same files
(benchmarks/anchor.py) in the same run as the physical-limit anchor.

    python benchmarks/bench_first_pass.py EXPORT [--runs 3] [--jobs 2]

With --jobs N (N >= 2) the pass runs as `check --jobs N` runs it, with a spill and its pool of
N processes (JSON Lines ranges and YAML files made there while the main process adds them): the
CPU-seconds are then the main process's and the pool's apart, the main process's being the part
no other process can take.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_TIMED = """
import os, sys, time
from checker.records.spill import spill_folder
from checker.records.stream import first_pass
jobs = int(sys.argv[2])
before, wall = os.times(), time.perf_counter()
with spill_folder(wanted=jobs > 1) as spill:
    first = first_pass(sys.argv[1], spill, jobs)
after = os.times()
print(after.user - before.user + after.system - before.system, time.perf_counter() - wall, first.records,
      after.children_user - before.children_user + after.children_system - before.children_system)
"""

_HELD = """
import gc, sys, tracemalloc
from checker.records.stream import first_pass
tracemalloc.start()
first = first_pass(sys.argv[1])
gc.collect()
held, peak = tracemalloc.get_traced_memory()
print(held, peak, first.records)
"""


def _python(code: str, *args: str) -> list[float]:
    out = subprocess.run([sys.executable, "-c", code, *args], check=True, capture_output=True, text=True,
                         cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    return [float(v) for v in out.stdout.split()]


def _anchor_cpu(export: str) -> float:
    before = os.times()
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "anchor.py"), export], check=True, capture_output=True)
    after = os.times()
    return after.children_user - before.children_user + after.children_system - before.children_system


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("export")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args()
    timed = [_python(_TIMED, args.export, str(args.jobs)) for _ in range(args.runs)]
    held, peak, records = _python(_HELD, args.export)
    anchor = statistics.median(_anchor_cpu(args.export) for _ in range(args.runs))
    print(f"{args.export}: {int(records):,} records, load average {os.getloadavg()[0]:.2f}")
    cpu, wall, pool = (statistics.median(t[i] for t in timed) for i in (0, 1, 3))
    pooled = f" in the main process, {pool:.2f} in its pool of {args.jobs}" if args.jobs > 1 else ""
    print(f"first pass: {cpu:.2f} CPU-s{pooled}, {wall:.2f} s wall (median of {args.runs}); "
          f"bare parse (anchor.py, with interpreter start): {anchor:.2f} CPU-s")
    print(f"held after the pass: {held / 1e6:.1f} MB ({held / records:.0f} B a record); peak {peak / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
