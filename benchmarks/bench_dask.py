"""Benchmark: `cbcheck check --dask` on a local dask cluster against `--jobs N`, per partition.

    python benchmarks/bench_dask.py [--clients 1000] [--workers 2] [--jobs 2] [--runs 3] [--json FILE]

Generates a CB (`generate_cb.py`, JSON Lines), starts a cluster the way the README tells users
to (`dask scheduler`, `dask worker --nworkers N --nthreads 1`, both as separate process
trees), then runs, alternately, the bare-parse anchor, `cbcheck check --jobs N` and `cbcheck
check --dask ADDRESS`, `--runs` times each. For the --dask runs the cluster's own work is
counted too: CPU-seconds of the engine processes the workers started and reaped during the
run (the partitions' evaluation, engine start included), of the cluster's own processes
(scheduler, nannies, workers: dask's overhead, less what they spend idle, measured for 10 s
before the runs, for the run's wall time), and the cluster's peak PSS beside cbcheck's.
cbcheck itself has no child process with --dask, so its CPU is the main process's alone
(read, validate, index, dispatch, report). Per partition and per record, these are the
figures the README's estimate for large exports scales from.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_check import AS_OF, _anchor_argv, _check_argv, _run_check  # noqa: E402
from benchmarks.generate_cb import generate  # noqa: E402
from benchmarks.measure import _Sampler, descendants, machine, measure  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def tree_cpu(roots: list[int]) -> tuple[float, float]:
    """CPU-seconds of every live process under `roots` (the cluster's own processes), and of
    the children they have reaped (on a cluster whose workers stay up: the engine children,
    which end with their run)."""
    own = reaped = 0
    for pid in {p for root in roots for p in descendants(root)}:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue      # ended while we looked
        own += int(fields[11]) + int(fields[12])           # utime stime
        reaped += int(fields[13]) + int(fields[14])        # cutime cstime
    return own / TICK, reaped / TICK


def idle_rate(cluster: Cluster, seconds: float = 10) -> float:
    """CPU-seconds per second the cluster's processes spend doing nothing for anyone
    (heartbeats, monitors): subtracted from a run's share in proportion to its wall time."""
    before = sum(tree_cpu(cluster.roots()))
    time.sleep(seconds)
    return (sum(tree_cpu(cluster.roots())) - before) / seconds


class Cluster:
    """A scheduler and workers started as users start them, stopped at the end."""

    def __init__(self, tmp: Path, workers: int):
        bin_dir = Path(sys.executable).parent
        info = tmp / "scheduler.json"
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        self.procs = [subprocess.Popen([str(bin_dir / "dask"), "scheduler", "--port", "0", "--no-dashboard",
                                        "--scheduler-file", str(info)], **quiet)]
        while not info.exists():
            time.sleep(0.1)
        time.sleep(0.5)                 # the file is written before it is complete on a loaded machine
        self.address = json.loads(info.read_text())["address"]
        self.procs.append(subprocess.Popen([str(bin_dir / "dask"), "worker", self.address, "--nworkers", str(workers),
                                            "--nthreads", "1", "--no-dashboard"], **quiet))
        from distributed import Client
        with Client(self.address, timeout=60) as client:
            client.wait_for_workers(workers, timeout=120)

    def roots(self) -> list[int]:
        return [p.pid for p in self.procs]

    def stop(self):
        for p in reversed(self.procs):
            p.terminate()
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def _dask_run(folder: Path, report: Path, cluster: Cluster) -> dict:
    argv = _check_argv(folder, 1, report)
    argv[argv.index("--jobs"):argv.index("--jobs") + 2] = ["--dask", cluster.address]
    sampler = _Sampler(cluster.roots()[0])        # the scheduler's tree; the workers' below
    workers_sampler = _Sampler(cluster.roots()[1])
    sampler.start()
    workers_sampler.start()
    own_before, reaped_before = tree_cpu(cluster.roots())
    m = _run_check(argv, "--dask")
    own_after, reaped_after = tree_cpu(cluster.roots())
    for s in (sampler, workers_sampler):
        s.stop.set()
        s.join()
    return {"wall": m.wall, "main_cpu": m.cpu, "engine_cpu": reaped_after - reaped_before,
            "dask_cpu": own_after - own_before,
            "peak_pss_mb": m.peak_pss_mb + (sampler.peak_kb + workers_sampler.peak_kb) / 1024,
            "load": (m.load_before, m.load_after)}


def bench(clients: int, workers: int, jobs: int, runs: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="cbcheck-bench-dask-") as tmp:
        folder, report = Path(tmp) / "cb", Path(tmp) / "report.json"
        records = generate(folder, clients)
        cluster = Cluster(Path(tmp), workers)
        try:
            idle = idle_rate(cluster)
            anchor, local, dask = [], [], []
            for _ in range(runs):
                anchor.append(measure(_anchor_argv(folder), stdout=subprocess.DEVNULL))
                local.append(_run_check(_check_argv(folder, jobs, report), f"--jobs {jobs}"))
                dask.append(_dask_run(folder, report, cluster))
            partitions = json.loads(report.read_text(encoding="utf-8"))["input"]["partitions"]
        finally:
            cluster.stop()
    med = statistics.median
    return {"clients": clients, "records": records, "partitions": partitions, "workers": workers, "jobs": jobs,
            "runs": runs, "anchor_wall_s": round(med(m.wall for m in anchor), 2),
            "jobs_wall_s": round(med(m.wall for m in local), 2), "jobs_cpu_s": round(med(m.cpu for m in local), 2),
            "jobs_peak_pss_mb": round(med(m.peak_pss_mb for m in local)),
            "dask_wall_s": round(med(r["wall"] for r in dask), 2),
            "dask_main_cpu_s": round(med(r["main_cpu"] for r in dask), 2),
            "dask_engine_cpu_s": round(med(r["engine_cpu"] for r in dask), 2),
            "dask_own_cpu_s": round(med(r["dask_cpu"] for r in dask), 2),
            "dask_idle_cpu_s_per_s": round(idle, 3),
            "dask_peak_pss_mb": round(med(r["peak_pss_mb"] for r in dask)),
            "engine_cpu_ms_per_partition": round(1000 * med(r["engine_cpu"] for r in dask) / partitions, 2),
            "dask_cpu_ms_per_partition": round(1000 * med(r["dask_cpu"] - idle * r["wall"] for r in dask) / partitions, 2),
            "main_cpu_us_per_record": round(1e6 * med(r["main_cpu"] for r in dask) / records, 1),
            "load": [round(min(m.load_before for m in local), 2), round(max(r["load"][1] for r in dask), 2)]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--json", type=Path, help="Also write the figures here as JSON.")
    a = ap.parse_args()
    result = bench(a.clients, a.workers, a.jobs, a.runs)
    result.update(**machine(), as_of=AS_OF)
    print(json.dumps(result, indent=2))
    if a.json:
        a.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
