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

import faulthandler
import gc
import multiprocessing
import os
import signal
import tempfile
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from multiprocessing.connection import wait
from multiprocessing.reduction import ForkingPickler

from checker.engine.driver import Task, Verdict
from checker.engine.host import PartitionFailed
from checker.process_guard import die_with_parent, start_forked
from checker.records.fast_schema import compile_all


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


@dataclass
class NextJudge:
    """The message that gives a standing pool's worker (StandingPool) the judge of the run
    that follows: forked before the run's judge existed, it inherited none."""
    judge: object


def serve_partitions(conn, judge, parent_pid: int, inherited: list):
    """A worker process's loop: judge each task (or list of tasks) received on `conn` and send
    its verdict (or their verdicts) back, until None or EOF; dies with `parent_pid` (see the
    module docstring). `judge` None: a standing pool's worker, given its judge by NextJudge."""
    # What the worker inherited from its parent (the record index, the catalog) is never garbage
    # here; frozen, the collector leaves it alone, so its pages stay shared with the parent
    # instead of being copied into every worker by the collector's writes.
    gc.freeze()
    die_with_parent(parent_pid, inherited)   # the parent's ends of our pipe and our siblings' pipes
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # the parent decides when to stop
    faulthandler.disable()   # a crash is reported by the parent, naming the partition
    state = judge.start() if judge is not None else None
    while True:
        try:
            work = conn.recv()
        except EOFError:     # the parent is gone
            return
        if work is None:
            return
        if isinstance(work, NextJudge):
            judge, state = work.judge, None       # the last run's engines freed before the next start
            state = judge.start()
            continue
        # A chunk (judged_partitions) gets its verdicts back together; a lone task (engine_child) its own.
        verdicts = []
        for task in work if isinstance(work, list) else [work]:
            result, spoiled = _judged(judge, state, task)
            if spoiled:
                state = judge.start()   # a failed batch may leave state behind; start clean
            verdicts.append(result)
        conn.send(verdicts if isinstance(work, list) else verdicts[0])


class _Worker:
    def __init__(self, ctx, judge, siblings: list[_Worker]):
        self.conn, self.proc = start_forked(ctx, serve_partitions, judge, [w.conn for w in siblings])
        self.chunk: list[Task] = []
        self.judge = judge          # the judge it holds


class _Spool:
    """The chunks of tasks pickled, before the pool forks, into an unnamed temporary file, and
    sent to the workers from there as the bytes Connection.send would send. Pickled after the
    fork, a task's objects (a client's records or block of rows, built in this process) get
    their reference counts written, which copies the pages they stand on into this process
    while the workers still share the originals (a streamed run of 10,000 clients forked here
    grew 46 -> 79 MB private during the evaluation, 46 -> 63 with its tasks spooled). A chunk
    that cannot be written (no room) is pickled when it is sent: the run is never different."""

    def __init__(self, chunks: list[list[Task]]):
        self.places: dict[int, tuple[int, int]] = {}     # id of a chunk -> (offset, length) in the file
        try:
            self.file = tempfile.TemporaryFile(prefix="tasks-")
        except OSError:
            self.file = None
            return
        end = 0
        for chunk in chunks:
            blob = ForkingPickler.dumps(chunk)
            try:
                os.pwrite(self.file.fileno(), blob, end)
            except OSError:
                continue
            self.places[id(chunk)] = (end, len(blob))
            end += len(blob)

    def send(self, conn, chunk: list[Task]):
        place = self.places.pop(id(chunk), None)
        if place is None:
            conn.send(chunk)
        else:
            conn.send_bytes(os.pread(self.file.fileno(), place[1], place[0]))

    def __enter__(self):
        return self

    def __exit__(self, *_exc):
        if self.file is not None:
            self.file.close()


# Tasks go to a worker in chunks, and their verdicts come back together: one message each way
# per task cost the parent about 200 us of CPU per partition (pickling, select, two pipe
# round trips), taken from the workers' two cores. Small enough that the last chunks still
# spread over the workers, and that a chunk lost with its worker costs little to redo.
MAX_CHUNK = 16


def chunk_size(tasks: int, jobs: int) -> int:
    """Tasks per message: about 8 chunks per worker, at most MAX_CHUNK, at least 1."""
    return max(1, min(MAX_CHUNK, tasks // (max(1, jobs) * 8)))


class _Pool:
    """The workers and what each holds. A worker that dies holding a chunk of one task failed
    that task (died_verdict); holding more, the chunk's tasks go back one by one, so the next
    death names the partition that caused it. `judge` None: workers forked before any judge
    (StandingPool), each run's given by `begin`."""

    def __init__(self, judge, jobs: int):
        self.ctx, self.judge, self.size = multiprocessing.get_context("fork"), judge, jobs
        self.pending: deque = deque()       # chunks to send before those still `coming`
        self.coming: Iterator[list[Task]] = iter(())
        self.spool: _Spool | None = None
        self.workers: list[_Worker] = []
        for _ in range(jobs):
            self._fork()

    def begin(self, judge, chunks: Iterable[list[Task]], spool: _Spool | None):
        """A run: `chunks` judged by `judge` (sent to a worker holding another), the pool
        replenished first (a worker died in an earlier run). `chunks` is taken a chunk at a
        time, as workers are fed (a streamed run's tasks are made then: ClientTasks)."""
        self.judge, self.pending, self.coming, self.spool = judge, deque(), iter(chunks), spool
        while len(self.workers) < self.size:
            self._fork()
        for worker in list(self.workers):
            try:
                self.hand(worker, judge)
                self.feed(worker)
            except (BrokenPipeError, ConnectionResetError):     # it died idle: replaced
                self._bury(worker)
                if worker.chunk:
                    self.pending.appendleft(worker.chunk)      # given to the one that replaces it
                self.start_worker()

    @staticmethod
    def hand(worker: _Worker, judge):
        """Give `worker` `judge` unless it holds it (it starts it on receipt: serve_partitions)."""
        if worker.judge is not judge:
            worker.judge = judge
            worker.conn.send(NextJudge(judge))

    def start_worker(self):
        self.feed(self._fork())

    def _fork(self) -> _Worker:
        """A worker forked to hold this pool's judge, beside the others (its siblings' pipe ends closed in it)."""
        worker = _Worker(self.ctx, self.judge, self.workers)
        self.workers.append(worker)
        return worker

    def more(self) -> bool:
        """Whether a chunk is left to send (the next one coming taken, to say)."""
        if not self.pending:
            chunk = next(self.coming, None)
            if chunk:
                self.pending.append(chunk)
        return bool(self.pending)

    def feed(self, worker: _Worker):
        worker.chunk = self.pending.popleft() if self.more() else []
        if worker.chunk:
            if self.spool is not None:
                self.spool.send(worker.conn, worker.chunk)
            else:
                worker.conn.send(worker.chunk)

    def busy(self) -> list[_Worker]:
        return [w for w in self.workers if w.chunk]

    def answer(self, worker: _Worker) -> list[Verdict]:
        """The verdicts of `worker`'s chunk ([] when it died on a chunk of several, now
        queued again task by task), and its next chunk sent."""
        try:
            verdicts = worker.conn.recv()
        except (EOFError, ConnectionResetError):
            self._bury(worker)
            if len(worker.chunk) == 1:
                verdicts = [died_verdict(worker.chunk[0].sid, worker.proc.exitcode)]
            else:
                verdicts = []
                self.pending.extendleft([task] for task in reversed(worker.chunk))
            if self.more():
                self.start_worker()
            return verdicts
        self.feed(worker)
        return verdicts

    def _bury(self, worker: _Worker):
        worker.proc.join()
        self.workers.remove(worker)
        worker.conn.close()

    def close(self):
        for w in self.workers:
            try:
                w.conn.send(None)
            except (BrokenPipeError, OSError):
                pass
        for w in self.workers:
            w.proc.join(timeout=5)
            if w.proc.is_alive():
                w.proc.kill()


def judged_partitions(tasks: list[Task], judge, jobs: int = 1, on_done=None, meanwhile=()) -> Iterator[Verdict]:
    """Evaluate every task, giving each verdict as it comes back (the caller keeps what it
    needs of it, not every verdict until the last), and `meanwhile`'s items while the workers
    judge (_answers); a worker that dies fails its current partition and is replaced.
    `on_done(done, total)` is called after each partition (for a progress display). The pool
    is forked here, from this process as it stands (see StandingPool for one forked earlier)."""
    if not tasks:
        yield from meanwhile
        return
    chunks = list(_chunked(tasks, jobs))
    # What this process holds before the fork (the record index, the tasks) stays shared with
    # the workers only while nothing here writes to its pages: frozen, the collector's full
    # collections leave it alone (one during a run at 10,000 clients wrote to every tracked
    # object's header, 9 MB of pages copied into this process), and the tasks are pickled
    # before the fork (_Spool).
    with _Spool(chunks) as spool:
        gc.freeze()
        pool = _Pool(judge, max(1, min(jobs, len(chunks))))
        try:
            yield from _answers(pool, judge, chunks, spool, len(tasks), on_done, meanwhile)
        finally:
            pool.close()
            gc.unfreeze()


def _chunked(tasks: Sequence[Task], jobs: int) -> Iterator[list[Task]]:
    """The chunks of `tasks`, each sliced from them when it is taken."""
    size = chunk_size(len(tasks), jobs)
    return (tasks[i:i + size] for i in range(0, len(tasks), size))


# Items of `meanwhile` given between two looks at the workers: a look (a poll of their pipes)
# costs a few microseconds, a worker's chunk tens of milliseconds.
MEANWHILE_STEP = 32


def _answers(pool: _Pool, judge, chunks: list[list[Task]], spool: _Spool | None, total: int,
             on_done, meanwhile=()) -> Iterator[Verdict]:
    """The verdicts of one run of `pool` over `chunks`, as they come, and `meanwhile`'s items
    (verdicts made in this process: a cache's reused ones) while no worker has answered, so
    the workers judge while this process makes them, and each is fed its next chunk as soon
    as it answers."""
    pool.begin(judge, chunks, spool)
    done, own = 0, iter(meanwhile)
    while pool.busy():
        ready = wait([w.conn for w in pool.busy()], timeout=0 if own is not None else None)
        if not ready:
            given = 0
            for given, item in enumerate(islice(own, MEANWHILE_STEP), 1):
                yield item
            own = own if given == MEANWHILE_STEP else None
            continue
        for worker in [w for w in pool.busy() if w.conn in ready]:
            for result in pool.answer(worker):
                done += 1
                if on_done:
                    on_done(done, total)
                yield result
    if own is not None:
        yield from own


class StandingPool:
    """Worker processes forked before the record index is built (pipeline._run_streamed forks
    them before the first pass), given their judge by message: they share no page of the index
    with the main process, so nothing the main process writes while the clients are judged
    (unpickled verdicts, findings) copies a page the workers hold too, and no worker copies one
    of the index's (at 25,000 clients, forked after the first pass, the main process's private
    memory grew 70 -> 168 MB during the evaluation). They serve the first run (the clients')
    and end with it, so the CB-wide stage that follows (every client's CB-wide inputs in the
    main process) has no idle worker beside it; a later run (the CB-wide partition: one task)
    forks its pool then (judged_partitions). A runner as a cluster is (`judged`:
    evaluate._runner)."""

    def __init__(self, jobs: int):
        self.jobs = max(1, jobs)
        # The workers validate the records they read (engine/streamed.ReadingJudge): the
        # validators built here are every worker's, and the later pools' too.
        compile_all()
        self.pool: _Pool | None = _Pool(None, self.jobs)
        # What this process held at the fork (modules, the catalog, the validators) is shared
        # with the workers while nothing here writes to its pages: frozen, the collections of
        # the first pass and of the evaluation leave it alone.
        gc.freeze()

    def prepare(self, judge):
        """Give the workers `judge` now, before its run (`judged` with the same judge): each
        starts it (its engines, the CB-wide records' facts) while this process makes the run's
        tasks. A cached night's workers judge 1 % of the clients, and until then they waited
        for their judge while this process made 10,000 tasks and their keys; starting it then
        made them finish last. A worker found dead is replaced by `judged`, as ever."""
        for worker in list(self.pool.workers) if self.pool is not None else ():
            try:
                self.pool.hand(worker, judge)
            except (BrokenPipeError, ConnectionResetError):
                pass

    def judged(self, tasks: list[Task], judge, on_done=None, meanwhile=()) -> Iterator[Verdict]:
        """judged_partitions' verdicts (with `meanwhile`'s items): from these workers in the
        first run with tasks, from a pool forked for it in a later one."""
        if not tasks:
            yield from meanwhile
            return
        if self.pool is None:
            yield from judged_partitions(tasks, judge, self.jobs, on_done, meanwhile)
            return
        try:
            yield from _answers(self.pool, judge, _chunked(tasks, self.jobs), None, len(tasks), on_done, meanwhile)
        finally:
            self.close()

    def close(self):
        if self.pool is not None:
            self.pool.close()
            self.pool = None
            gc.unfreeze()

    def __enter__(self):
        return self

    def __exit__(self, *_exc):
        self.close()


def run_partitions(tasks: list[Task], judge, jobs: int = 1, on_done=None) -> dict[str, Verdict]:
    """judged_partitions' verdicts by sid, for a caller that needs them all at once."""
    return {verdict.sid: verdict for verdict in judged_partitions(tasks, judge, jobs, on_done)}
