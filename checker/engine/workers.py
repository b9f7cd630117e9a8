"""Runs partitions in worker processes, so that a crash of durable_rules' C core costs one
partition (reported as an error naming it), never the run and never silently its findings.

A hand-kept pool, not concurrent.futures.ProcessPoolExecutor: when one of the executor's
processes dies, every running and pending future fails with BrokenProcessPool, which names
neither the task the dead process held nor how it died (measured: a SIGSEGV in 1 of 8 tasks
failed 6 of them). Failing exactly the crashed partition, with its signal, and going on with
the others would mean re-running suspects in fresh pools, a harder loop than this one.

Workers die with their parent: each asks the kernel (Linux's PR_SET_PDEATHSIG) to be killed
when the parent dies, and closes the parent's ends of every pipe it inherited through fork,
so even without that signal its read ends with EOF instead of blocking forever.
"""
from __future__ import annotations

import ctypes
import faulthandler
import gc
import multiprocessing
import os
import signal
import sys
from collections import deque
from multiprocessing.connection import wait

from checker.engine.driver import Task, Verdict
from checker.engine.host import PartitionFailed


def _judged(judge, state, task: Task) -> tuple[Verdict, bool]:
    """(verdict, whether the state must be rebuilt): an engine error or any other exception
    fails this partition only, and is reported for it, never swallowed."""
    try:
        return judge.judge(state, task), False
    except PartitionFailed as exc:
        return Verdict(task.sid, False, error=str(exc)), True
    except Exception as exc:  # noqa: BLE001 - reported as this partition's error
        return Verdict(task.sid, False, error=f"internal error: {type(exc).__name__}: {exc}"), True


def died_verdict(sid: str, exitcode: int | None) -> Verdict:
    """The verdict of a partition whose engine process died while judging it (exit code as
    multiprocessing and subprocess give it: negative for the signal that ended it)."""
    how = f"signal {-exitcode}" if exitcode is not None and exitcode < 0 else f"exit code {exitcode}"
    return Verdict(sid, False, error=f"the engine process died ({how}) while evaluating this partition")


PR_SET_PDEATHSIG = 1


def _die_with_parent(parent_pid: int, inherited: list):
    for conn in inherited:   # the parent's ends of our pipe and our siblings' pipes
        conn.close()
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:   # the parent died before the request took effect
        os._exit(1)


def serve_partitions(conn, judge, parent_pid: int, inherited: list):
    """A worker process's loop: judge each task received on `conn` and send its verdict back,
    until None or EOF; dies with `parent_pid` (see the module docstring)."""
    # What the worker inherited from its parent (the record index, the catalog) is never garbage
    # here; frozen, the collector leaves it alone, so its pages stay shared with the parent
    # instead of being copied into every worker by the collector's writes.
    gc.freeze()
    _die_with_parent(parent_pid, inherited)
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # the parent decides when to stop
    faulthandler.disable()   # a crash is reported by the parent, naming the partition
    state = judge.start()
    while True:
        try:
            task = conn.recv()
        except EOFError:     # the parent is gone
            return
        if task is None:
            return
        result, spoiled = _judged(judge, state, task)
        if spoiled:
            state = judge.start()   # a failed batch may leave state behind; start clean
        conn.send(result)


class _Worker:
    def __init__(self, ctx, judge, siblings: list[_Worker]):
        self.conn, child = ctx.Pipe()
        inherited = [self.conn] + [w.conn for w in siblings]
        self.proc = ctx.Process(target=serve_partitions, args=(child, judge, os.getpid(), inherited), daemon=True)
        self.proc.start()
        child.close()
        self.task: Task | None = None


def run_partitions(tasks: list[Task], judge, jobs: int = 1, on_done=None) -> dict[str, Verdict]:
    """Evaluate every task; a worker that dies fails its current partition and is replaced.
    `on_done(done, total)` is called after each partition (for a progress display)."""
    ctx = multiprocessing.get_context("fork")
    pending = deque(tasks)
    results: dict[str, Verdict] = {}
    workers: list[_Worker] = []

    def feed(w: _Worker):
        if pending:
            w.task = pending.popleft()
            w.conn.send(w.task)
        else:
            w.task = None

    try:
        for _ in range(max(1, min(jobs, len(tasks)))):
            w = _Worker(ctx, judge, workers)
            workers.append(w)
            feed(w)
        while any(w.task for w in workers):
            ready = wait([w.conn for w in workers if w.task])
            for w in [w for w in workers if w.conn in ready]:
                try:
                    result = w.conn.recv()
                except (EOFError, ConnectionResetError):
                    w.proc.join()
                    result = died_verdict(w.task.sid, w.proc.exitcode)
                    workers.remove(w)
                    w.conn.close()
                    if pending:
                        replacement = _Worker(ctx, judge, workers)
                        workers.append(replacement)
                        feed(replacement)
                else:
                    feed(w)
                results[result.sid] = result
                if on_done:
                    on_done(len(results), len(tasks))
    finally:
        for w in workers:
            try:
                w.conn.send(None)
            except (BrokenPipeError, OSError):
                pass
        for w in workers:
            w.proc.join(timeout=5)
            if w.proc.is_alive():
                w.proc.kill()
    return results
