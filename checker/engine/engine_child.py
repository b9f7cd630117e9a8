"""One judge served by a child process of a long-lived host process (a dask worker).

Why a child and not the host itself: durable_rules' C core can crash (engine-notes), and a
crash in a dask worker would take the worker down, with everything else it holds for other
users of the cluster; the scheduler would then retry the partition on other workers (dask's
`allowed-failures`, a setting of the user's scheduler) and, after enough deaths, fail it
together with any partition that happened to be queued on the same workers. In a child the
crash costs exactly its partition, reported with the signal, as the local pool does
(workers.py). The child also keeps the C core's rulesets out of the host: they are never
freed by durable_rules (measured: 8.5 MB per judge started in one process), and a child
ends with its judge.

The child is started with subprocess (exec of a fresh interpreter), not multiprocessing:
dask's worker processes are daemonic, and daemonic processes may not have multiprocessing
children; forking a process that runs an event loop in threads is unsafe besides. It
receives the judge once, as pickled bytes, starts it (compiled rulesets, shared facts), and
then judges one task at a time with the local pool's loop (workers.serve_partitions); it dies
with its host.
"""
from __future__ import annotations

import os
import pickle
import subprocess
import sys
from multiprocessing import Pipe
from multiprocessing.connection import Connection
from pathlib import Path

from checker.engine.driver import Task, Verdict
from checker.engine.workers import died_verdict, serve_partitions

# The folder holding the checker package, put first on the child's path: the host imported
# checker from there, whatever its own working folder or path settings were.
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])
_CHILD_CODE = "import sys; from checker.engine.engine_child import child_main; child_main(int(sys.argv[1]), int(sys.argv[2]))"


def child_main(fd: int, host_pid: int) -> None:
    """The child's whole life: the judge's bytes first, then tasks until None or EOF."""
    conn = Connection(fd)
    judge = pickle.loads(conn.recv_bytes())
    serve_partitions(conn, judge, host_pid, [])


class EngineChild:
    """A started judge in a child process; `judge(task)` returns its verdict, or, when the
    child died on it, a failed verdict naming how (after which `alive` is False)."""

    def __init__(self, judge_bytes: bytes):
        self.conn, theirs = Pipe()
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [_PACKAGE_ROOT, os.environ.get("PYTHONPATH")])))
        self.proc = subprocess.Popen([sys.executable, "-c", _CHILD_CODE, str(theirs.fileno()), str(os.getpid())],
                                     pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, env=env)
        theirs.close()
        self.alive = True
        try:
            self.conn.send_bytes(judge_bytes)
        except OSError:
            self.alive = False     # died at once: its first task reports how

    def judge(self, task: Task) -> Verdict:
        if self.alive:
            try:
                self.conn.send(task)
                return self.conn.recv()
            except (EOFError, OSError):
                self.alive = False
        self.conn.close()
        return died_verdict(task.sid, self.proc.wait())

    def close(self) -> None:
        """Let the child end (a None ends its loop), killing it if it does not within 5 s."""
        if self.alive:
            try:
                self.conn.send(None)
            except OSError:
                pass
        self.alive = False
        self.conn.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
