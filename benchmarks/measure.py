"""Measures one command as a whole process tree: wall time, CPU-seconds (user + system of the
process and every descendant it waited for) and peak memory (the largest sum of PSS over the
process and its live descendants, sampled from /proc/PID/smaps_rollup).

PSS, not RSS: forked workers share pages with their parent, and RSS would count those pages
once per process. Linux only (it reads /proc).
"""
from __future__ import annotations

import os
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

SAMPLE_SECONDS = 0.05


@dataclass
class Measurement:
    wall: float            # seconds
    cpu: float             # user + system seconds of the whole tree
    peak_pss_mb: float     # largest sampled sum of PSS of the tree
    returncode: int
    load_before: float     # 1-minute load average when the run started
    load_after: float


def descendants(pid: int) -> list[int]:
    """`pid` and every live process below it, from /proc/PID/task/TID/children."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            # Listed at once: a process that ends while its tasks are listed makes the
            # listing itself fail (seen once, FileNotFoundError from inside the glob).
            listings = list(Path(f"/proc/{current}/task").glob("*/children"))
        except OSError:
            continue        # the process ended while we looked: it has no children now
        for children in listings:
            try:
                todo.extend(int(c) for c in children.read_text().split())
            except OSError:
                continue    # the task ended while we looked
    return found


def pss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass    # the process ended between listing and reading: it holds nothing now
    return 0


class _Sampler(threading.Thread):
    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak_kb, self.stop = pid, 0, threading.Event()
        self.failure: BaseException | None = None

    def run(self):
        try:
            while not self.stop.is_set():
                self.peak_kb = max(self.peak_kb, sum(pss_kb(p) for p in descendants(self.pid)))
                self.stop.wait(SAMPLE_SECONDS)
        except BaseException as exc:  # noqa: BLE001 - raised by measure(): a dead sampler's peak is too low
            self.failure = exc


def measure(argv: list[str], **popen) -> Measurement:
    """Run `argv` to completion and measure it (its output goes where `popen` says)."""
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    proc = subprocess.Popen(argv, **popen)
    sampler = _Sampler(proc.pid)
    sampler.start()
    # wait4 gives the child's rusage including every descendant it reaped, i.e. the workers.
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    sampler.stop.set()
    sampler.join()
    if sampler.failure is not None:
        raise RuntimeError(f"the memory sampler stopped during the run, so its peak would be too low: "
                           f"{type(sampler.failure).__name__}: {sampler.failure}") from sampler.failure
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Measurement(wall, usage.ru_utime + usage.ru_stime, sampler.peak_kb / 1024, proc.returncode,
                       load_before, os.getloadavg()[0])


def benchmark_arguments(description: str):
    """The options every benchmark takes (sizes, --jobs, --runs, --json); a benchmark adds its own."""
    import argparse
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--clients", type=int, nargs="+", default=[1000])
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--json", type=Path, help="Also write the figures here as JSON.")
    return ap


def machine() -> dict:
    """The machine the figures come from, as every benchmark reports it."""
    import platform
    return {"machine": platform.machine(), "cores": os.cpu_count(), "python": platform.python_version()}


def write_results(path: Path | None, results: list[dict]) -> None:
    """The figures as JSON, with the machine, when --json asked for them."""
    if path:
        import json
        path.write_text(json.dumps({**machine(), "results": results}, indent=2) + "\n")


def print_table_head(runs: int, setting: str, columns: list[str]) -> None:
    """The machine, the runs and the setting, then a Markdown table's head of `columns`."""
    m = machine()
    print(f"machine: {m['machine']}, {m['cores']} cores, Python {m['python']}; median of {runs} runs; {setting}")
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
