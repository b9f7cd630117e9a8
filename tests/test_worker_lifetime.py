"""Worker processes die with the process that started them: after `kill -9` of a running
`cbcheck check`, none of its workers may stay behind (blocked on a pipe no one will write)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.generate_cb import generate

ROOT = Path(__file__).resolve().parents[1]
PATIENCE_SECONDS = 300    # a liveness bound on a loaded machine, not a speed requirement


def _children(pid: int) -> set[int]:
    found = set()
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found.update(int(c) for c in children.read_text().split())
        except OSError:
            continue
    return found


def _alive(pid: int) -> bool:
    """Running or sleeping; a zombie (dead, not yet reaped by init) counts as gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _until(condition) -> bool:
    deadline = time.monotonic() + PATIENCE_SECONDS
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def test_workers_die_when_the_main_process_is_killed(tmp_path):
    generate(tmp_path / "cb", 300)
    main = subprocess.Popen([sys.executable, str(ROOT / "cli.py"), "check", str(tmp_path / "cb"), "--jobs", "2",
                             "--as-of", "2025-11-01", "--quiet", "--format", "json", "-o", str(tmp_path / "r.json")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers: set[int] = set()
    try:
        assert _until(lambda: len(_children(main.pid)) >= 2), "the workers never started"
        workers = _children(main.pid)
        os.kill(main.pid, signal.SIGKILL)
        main.wait()
        assert _until(lambda: not any(_alive(pid) for pid in workers)), "workers outlived their parent"
    finally:
        if main.poll() is None:
            main.kill()
        for pid in workers:   # leave nothing behind, whatever the outcome
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
