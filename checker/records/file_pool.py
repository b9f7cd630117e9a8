"""A short-lived pool of forked processes that runs one function over a stream of chunks and
gives the results back in the chunks' order, holding a bounded number of them at a time: the
first pass's parse of YAML and JSON files (records/stream.py) over the cores.

Not the evaluation's pool (engine/workers.py): its workers are forked after the first pass, to
inherit the index it builds, so they do not exist yet while it runs. Not multiprocessing.Pool:
its result and task threads would make every later fork of the run (the evaluation's workers)
one from a threaded process, and it sends every task at once, so the results of a fast pool
pile up while the main process merges them.

The function is inherited through fork, never pickled; a chunk and its result go through a
pipe. A process that dies or raises loses nothing: the main process runs its chunks itself, so
a bug raises there with its own traceback, as it would without the pool. The processes ignore
Ctrl-C (the main process decides), die with the main process (process_guard.die_with_parent),
and are killed when the run stops early.
"""
from __future__ import annotations

import gc
import multiprocessing
import signal
import sys
from collections import deque
from multiprocessing.connection import wait

from checker.process_guard import die_with_parent, start_forked

# Chunks each process may hold (being run or queued in its pipe: those ahead keep it busy while
# the main process reads its last result or waits for a core), and results the main process may hold, waiting for
# an earlier chunk: memory stays a few chunks' results whatever the input's size.
AHEAD_PER_PROCESS = 3
WAITING_PER_PROCESS = 4


def _serve(conn, served, parent_pid: int, inherited: list):
    func, start = served    # the pool's function, and what runs once before it (or None)
    # What the process inherited (the catalog, the pass's state) is never garbage here; frozen,
    # the collector leaves it alone, so its pages stay shared with the main process.
    gc.freeze()
    die_with_parent(parent_pid, inherited)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if start is not None:
        start()
    while True:
        try:
            work = conn.recv()
        except EOFError:        # the main process is gone
            return
        if work is None:
            return
        number, chunk = work
        try:
            result = func(chunk)
        except Exception:       # noqa: BLE001 - the main process runs the chunk again and raises it there
            result, number = None, -1 - number
        conn.send((number, result))


class _Process:
    def __init__(self, ctx, func, earlier: list[_Process], start=None):
        self.conn, self.proc = start_forked(ctx, _serve, (func, start), [p.conn for p in earlier])
        self.held: deque[tuple[int, object]] = deque()     # (number, chunk) sent, in order


class OrderedPool:
    """`jobs` forked processes running `func`; `map(chunks)` yields func(chunk) for each chunk
    in order. Use it as a context manager: the processes end with the block. `start`, when
    given, runs once in each process before its first chunk (never in this one: a chunk a
    process lost is run here as it is)."""

    def __init__(self, func, jobs: int, start=None):
        self.func = func
        ctx = multiprocessing.get_context("fork")
        for stream in (sys.stdout, sys.stderr):     # else a process flushes its copy of them again
            stream.flush()
        self.processes: list[_Process] = []
        for _ in range(jobs):
            self.processes.append(_Process(ctx, func, self.processes, start))
        # Chunks are numbered on from one map to the next: the result of a chunk an abandoned
        # map left behind (a chunk of it raised) is told apart and dropped.
        self.sent = 0

    def map(self, chunks):
        chunks, done, next_out = iter(chunks), {}, self.sent
        window = len(self.processes) * (AHEAD_PER_PROCESS + WAITING_PER_PROCESS)
        while True:
            while self.sent - next_out < window and self._send(chunks, done, next_out):
                pass
            if next_out in done:
                yield done.pop(next_out)
                next_out += 1
            elif next_out >= self.sent:
                return
            else:
                self._receive(done, next_out)

    def _send(self, chunks, done: dict, oldest: int) -> bool:
        """The next chunk to the least busy process with room (run here when none is left);
        False when there is no chunk left or no room."""
        free = [p for p in self.processes if len(p.held) < AHEAD_PER_PROCESS]
        if self.processes and not free:
            return False
        chunk = next(chunks, _END)
        if chunk is _END:
            return False
        number, self.sent = self.sent, self.sent + 1
        if free:
            process = min(free, key=lambda p: len(p.held))
            process.held.append((number, chunk))
            try:
                process.conn.send((number, chunk))
            except OSError:     # it died
                self._lost(process, done, oldest)
        else:
            done[number] = self.func(chunk)
        return True

    def _receive(self, done: dict, oldest: int):
        """The results ready, into `done` (those of chunks before `oldest` dropped)."""
        busy = [p for p in self.processes if p.held]
        ready = wait([p.conn for p in busy])
        for process in busy:
            if process.conn not in ready:
                continue
            try:
                number, result = process.conn.recv()
            except (EOFError, ConnectionResetError, OSError):
                self._lost(process, done, oldest)
                continue
            held_number, chunk = process.held.popleft()
            if held_number >= oldest:
                done[held_number] = result if number >= 0 else self.func(chunk)

    def _lost(self, process: _Process, done: dict, oldest: int):
        """A process died: the chunks it held are run here, in order."""
        self.processes.remove(process)
        process.conn.close()
        process.proc.join()
        for number, chunk in process.held:
            if number >= oldest:
                done[number] = self.func(chunk)

    def close(self, stopped: bool = False):
        """Ends the processes: at once when the run `stopped` early, else once they finish."""
        for process in self.processes:
            if stopped:
                process.proc.kill()
            else:
                try:
                    process.conn.send(None)
                except OSError:
                    pass
        for process in self.processes:
            process.proc.join(timeout=5)
            if process.proc.is_alive():
                process.proc.kill()
                process.proc.join()
            process.conn.close()
        self.processes = []

    def __enter__(self) -> OrderedPool:
        return self

    def __exit__(self, kind, _value, _traceback):
        self.close(stopped=kind is not None)


_END = object()
