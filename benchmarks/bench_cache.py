"""Benchmark: a nightly `cbcheck check --cache DIR` against a full run, on generated CBs.

    python benchmarks/bench_cache.py [--clients 1000 10000] [--jobs 2] [--runs 3] [--json results.json]

For each size it generates a CB (JSON Lines, `generate_cb.py`) and measures, each the median of
`--runs` runs in its own process tree (wall, CPU-seconds of the whole tree, peak PSS):

- full: `check --as-of NIGHT` without a cache, on the CB with 1 % of its clients changed;
- fill: `check --as-of EVE --cache` into an empty cache, on the CB as generated (what the
  first night with --cache costs);
- cached: `check --as-of NIGHT --cache`, from a copy of that filled cache, on the changed CB:
  the next night, with 1 % of the clients changed and one day passed;
- validate: `cbcheck validate` (read, validate, index; no evaluation), the floor of a cached run
  while the main process reads the whole export before evaluating.

The cached run's JSON report must equal the full run's but for the summary's "cache" key:
the benchmark stops if it does not.
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
from benchmarks.measure import Measurement, benchmark_arguments, measure, print_table_head, write_results  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
EVE, NIGHT = "2025-11-01", "2025-11-02"
CHANGED_EVERY = 100      # one client in a hundred


def _check(folder: Path, as_of: str, jobs: int, report: Path, *extra: str) -> list[str]:
    return [sys.executable, str(ROOT / "cli.py"), "check", str(folder), "--as-of", as_of, "--jobs", str(jobs),
            "--format", "json", "--output", str(report), "--fail-on", "none", "--quiet", *extra]


def _measured(argv: list[str], what: str) -> Measurement:
    m = measure(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if m.returncode not in (0, 1):
        sys.exit(f"{what}: exited {m.returncode}")
    return m


def change_one_percent(source: Path, target: Path) -> int:
    """A copy of the generated CB with every hundredth client's name changed; how many."""
    shutil.copytree(source, target)
    changed, lines = 0, []
    for line in (source / "clients.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record["type"] == "client" and int(record["id"][2:]) % CHANGED_EVERY == CHANGED_EVERY // 2:
            record["name"] += " (renamed)"
            changed += 1
        lines.append(json.dumps(record))
    (target / "clients.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return changed


def _summary(runs: list[Measurement]) -> dict:
    return {"wall_s": round(statistics.median(m.wall for m in runs), 2),
            "cpu_s": round(statistics.median(m.cpu for m in runs), 2),
            "peak_pss_mb": round(statistics.median(m.peak_pss_mb for m in runs)),
            "load": [round(min(m.load_before for m in runs), 2), round(max(m.load_after for m in runs), 2)]}


def _without_cache_key(path: Path) -> dict:
    report = json.loads(path.read_text(encoding="utf-8"))
    report["summary"].pop("cache", None)
    return report


def bench_one(clients: int, jobs: int, runs: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="cbcheck-bench-cache-") as tmp:
        tmp = Path(tmp)
        records = generate(tmp / "cb", clients)
        changed = change_one_percent(tmp / "cb", tmp / "changed")
        full, fill, cached, validate = [], [], [], []
        for n in range(runs):
            full.append(_measured(_check(tmp / "changed", NIGHT, jobs, tmp / "full.json"), "full run"))
            shutil.rmtree(tmp / "filled", ignore_errors=True)
            fill.append(_measured(_check(tmp / "cb", EVE, jobs, tmp / "fill.json", "--cache", str(tmp / "filled")),
                                  "filling run"))
            shutil.rmtree(tmp / "cache", ignore_errors=True)
            shutil.copytree(tmp / "filled", tmp / "cache")
            cached.append(_measured(_check(tmp / "changed", NIGHT, jobs, tmp / "cached.json", "--cache",
                                           str(tmp / "cache")), "cached run"))
            validate.append(_measured([sys.executable, str(ROOT / "cli.py"), "validate", str(tmp / "changed")],
                                      "validate"))
        if _without_cache_key(tmp / "cached.json") != _without_cache_key(tmp / "full.json"):
            sys.exit(f"{clients} clients: the cached report differs from the full run's")
        stats = json.loads((tmp / "cached.json").read_text(encoding="utf-8"))["summary"]["cache"]
        size = (tmp / "filled" / "cbcheck-cache.sqlite").stat().st_size
    return {"clients": clients, "records": records, "changed_clients": changed, "jobs": jobs, "runs": runs,
            "cache": stats, "cache_file_mb": round(size / 2 ** 20, 1),
            "full": _summary(full), "fill": _summary(fill), "cached": _summary(cached), "validate": _summary(validate)}


def _row(r: dict, what: str, key: str) -> str:
    s, full = r[key], r["full"]
    return (f"| {r['clients']:,} | {what} | {s['wall_s']:.1f} s | {s['cpu_s']:.1f} s | "
            f"{100 * s['wall_s'] / full['wall_s']:.0f} % | {100 * s['cpu_s'] / full['cpu_s']:.0f} % | "
            f"{s['peak_pss_mb']:,} MB | {s['load'][0]:.1f}-{s['load'][1]:.1f} |")


def main():
    ap = benchmark_arguments(__doc__.splitlines()[0])
    a = ap.parse_args()
    print_table_head(a.runs, f"--jobs {a.jobs}; fill on {EVE}, full and cached on {NIGHT} with 1 % of clients changed",
                     ["clients", "run", "wall", "CPU (user+sys)", "wall vs full", "CPU vs full", "peak PSS (tree)",
                      "load (1 min)"])
    results = []
    for clients in a.clients:
        r = bench_one(clients, a.jobs, a.runs)
        results.append(r)
        for what, key in (("full, no cache", "full"), ("first night with --cache (fills it)", "fill"),
                          ("next night, --cache, 1 % changed", "cached"), ("validate only (read, index)", "validate")):
            print(_row(r, what, key), flush=True)
        print(f"  ({r['records']:,} records; cache {r['cache_file_mb']} MB; cached run: {r['cache']})", file=sys.stderr)
    write_results(a.json, results)


if __name__ == "__main__":
    main()
