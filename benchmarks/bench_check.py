"""Benchmark: `cbcheck check` end to end on generated CBs, against a bare parse of the same files.

    python benchmarks/bench_check.py [--clients 1000 10000 25000] [--layouts jsonl folders]
                                     [--jobs 2] [--runs 3] [--json results.json] [--before TREE]
                                     [--exports DIR]

For every size and layout it generates the CB once (`generate_cb.py`; with `--exports`, kept
there and reused by the next benchmark), then runs, alternately,
the anchor (`anchor.py`: orjson or libyaml parse only) and `cbcheck check --jobs N`, each in
its own process tree, `--runs` times. It prints the median wall time, CPU-seconds (user +
system of the whole tree), records/s and peak memory (sum of PSS of the tree, sampled) of
each, with the 1-minute load average seen at the start of the runs: on a shared machine the
load says how far a figure can be trusted.
"""
from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.generate_cb import generate  # noqa: E402
from benchmarks.anchor import JSON_PARSER  # noqa: E402
from benchmarks.measure import Measurement, benchmark_arguments, measure, print_table_head, write_results  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
AS_OF = "2025-11-01"


def _check_argv(folder: Path, jobs: int, report: Path, tree: Path = ROOT) -> list[str]:
    return [sys.executable, str(tree / "cli.py"), "check", str(folder), "--as-of", AS_OF, "--jobs", str(jobs),
            "--format", "json", "--output", str(report), "--fail-on", "none", "--quiet"]


def _anchor_argv(folder: Path) -> list[str]:
    return [sys.executable, str(ROOT / "benchmarks" / "anchor.py"), str(folder)]


def _summary(runs: list[Measurement], records: int) -> dict:
    wall = statistics.median(m.wall for m in runs)
    return {"wall_s": round(wall, 2), "cpu_s": round(statistics.median(m.cpu for m in runs), 2),
            "records_per_s": round(records / wall), "peak_pss_mb": round(statistics.median(m.peak_pss_mb for m in runs)),
            "load": [round(min(m.load_before for m in runs), 2), round(max(m.load_after for m in runs), 2)],
            "runs": len(runs)}


def _run_check(argv: list[str], what: str) -> Measurement:
    m = measure(argv, stderr=subprocess.PIPE)
    if m.returncode not in (0, 1):
        sys.exit(f"cbcheck check exited {m.returncode} ({what})")
    return m


def generated(exports: Path | None, tmp: Path, clients: int, layout: str) -> tuple[Path, int]:
    """(the generated CB's folder, its record count): in `tmp`, or kept in `exports` and reused
    from there by the next benchmark (generating 25,000 clients in YAML folders takes minutes)."""
    if exports is None:
        return tmp / "cb", generate(tmp / "cb", clients, layout=layout)
    folder, count = exports / f"{layout}-{clients}", exports / f"{layout}-{clients}.records"
    if not count.exists():
        shutil.rmtree(folder, ignore_errors=True)
        count.write_text(str(generate(folder, clients, layout=layout)), encoding="utf-8")
    return folder, int(count.read_text(encoding="utf-8"))


def bench_one(clients: int, layout: str, jobs: int, runs: int, before: Path | None, exports: Path | None = None) -> dict:
    with tempfile.TemporaryDirectory(prefix="cbcheck-bench-") as tmp:
        report = Path(tmp) / "report.json"
        folder, records = generated(exports, Path(tmp), clients, layout)
        anchor, check, earlier = [], [], []
        for _ in range(runs):
            anchor.append(measure(_anchor_argv(folder), stdout=subprocess.DEVNULL))
            if before:
                earlier.append(_run_check(_check_argv(folder, jobs, Path(tmp) / "before.json", before),
                                          f"{before}, {clients} clients, {layout}"))
            check.append(_run_check(_check_argv(folder, jobs, report), f"{clients} clients, {layout}"))
        summary = json.loads(report.read_text(encoding="utf-8"))["summary"]
    result = {"clients": clients, "layout": layout, "jobs": jobs, "records": records,
              "findings": summary["findings"], "errors": summary["errors"],
              "check": _summary(check, records), "anchor": _summary(anchor, records)}
    if before:
        result["before"] = _summary(earlier, records)
    return result


def _row(name: str, r: dict, s: dict) -> str:
    return (f"| {r['clients']:,} | {r['records']:,} | {r['layout']} | {name} | {s['wall_s']:.1f} s | {s['cpu_s']:.1f} s | "
            f"{s['records_per_s']:,} | {s['peak_pss_mb']:,} MB | {s['load'][0]:.1f}-{s['load'][1]:.1f} |")


def main():
    ap = benchmark_arguments(__doc__.splitlines()[0])
    ap.add_argument("--layouts", nargs="+", choices=["jsonl", "folders"], default=["jsonl", "folders"])
    ap.add_argument("--before", type=Path, help="A checkout of an earlier cbcheck to run alongside.")
    ap.add_argument("--exports", type=Path, help="Keep the generated CBs here, and reuse those found here.")
    a = ap.parse_args()
    print_table_head(a.runs, f"--as-of {AS_OF}", ["clients", "records", "layout", "what", "wall", "CPU (user+sys)",
                                                  "records/s", "peak PSS (tree)", "load (1 min)"])
    results = []
    for clients in a.clients:
        for layout in a.layouts:
            r = bench_one(clients, layout, a.jobs, a.runs, a.before, a.exports)
            results.append(r)
            if a.before:
                print(_row(f"before: {a.before}", r, r["before"]), flush=True)
            print(_row(f"cbcheck --jobs {a.jobs}", r, r["check"]), flush=True)
            parser = "libyaml" if layout == "folders" else JSON_PARSER
            print(_row(f"parse only ({parser})", r, r["anchor"]), flush=True)
            print(f"  ({r['findings']} findings, {r['errors']} errors)", file=sys.stderr)
    write_results(a.json, results)


if __name__ == "__main__":
    main()
