"""Benchmark: the whole `cbcheck check` pipeline on a generated CB.

    python benchmarks/bench_check.py [--clients 1000] [--jobs 1] [--layout jsonl|folders]

Prints records/s and facts/s end to end, the time of each stage, and peak memory of the main
process and of the engine worker processes (resident set size, from getrusage)."""
from __future__ import annotations

import argparse
import datetime as dt
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.generate_cb import generate  # noqa: E402
from checker.engine.evaluate import evaluate  # noqa: E402
from checker.pipeline import input_evidence, load_input, load_rules  # noqa: E402
from checker.report import json_out  # noqa: E402
from checker.report.model import build_report  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=1000)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--layout", choices=["jsonl", "folders"], default="jsonl")
    a = ap.parse_args()
    catalog = load_rules(None, None)
    assert not catalog.problems, catalog.problems[:3]
    rules, params = catalog.rules, catalog.params
    with tempfile.TemporaryDirectory() as tmp:
        n = generate(Path(tmp), a.clients, layout=a.layout)
        t0 = time.perf_counter()
        loaded = load_input(tmp)
        t1 = time.perf_counter()
        assert not loaded.problems, loaded.problems[:3]
        result = evaluate(loaded.index, rules, params.values(), dt.date(2025, 11, 1), a.jobs)
        t2 = time.perf_counter()
        report = build_report(rules=rules, findings=result.findings, errors=[], params=params, as_of="2025-11-01",
                              input_summary={}, evidence=input_evidence(loaded),
                              failed_scopes={}, input_ok=True)
        size = len(json_out.render(report))
        t3 = time.perf_counter()
    main_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    automated = sum(r.automated for r in rules)
    print(f"machine: {platform.machine()}, Python {platform.python_version()}, jobs={a.jobs}, layout={a.layout}")
    print(f"catalog: {automated} automated rules; input: {a.clients} clients, {n} records, "
          f"{result.partitions} partitions, {result.facts} facts")
    print(f"read+validate+index: {t1 - t0:6.2f} s   ({n / (t1 - t0):,.0f} records/s)")
    print(f"evaluate (engine):   {t2 - t1:6.2f} s   ({result.facts / (t2 - t1):,.0f} facts/s)")
    print(f"report (json):       {t3 - t2:6.2f} s   ({size:,} bytes, {len(result.findings)} findings)")
    print(f"end to end:          {t3 - t0:6.2f} s   ({n / (t3 - t0):,.0f} records/s)")
    print(f"peak RSS: main {main_rss:,.0f} MB, engine worker {child_rss:,.0f} MB")
    if result.partition_errors:
        print("PARTITION ERRORS:", [p.message for p in result.partition_errors][:3])
        sys.exit(1)


if __name__ == "__main__":
    main()
