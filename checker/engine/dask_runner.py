"""Runs the partitions as tasks on a dask.distributed cluster (`cbcheck check --dask ADDRESS`).

The same contract as the local pool (workers.judged_partitions): `judged(tasks, judge,
on_done)` gives the Verdict of every task as it comes (`run`: all of them by sid), a partition
that could not be judged failing with a message naming why, never silently. dask and
distributed are an optional extra (`pip install 'cbcheck[dask]'`), imported only here and only
when --dask is given.

How a run goes:
- the judge is pickled once (cloudpickle) and shipped to the cluster once, as one task's
  result that the workers fetch from each other; the partitions follow in batches (a dask
  task costs far more than judging a small partition: see batch_size), each batch's task
  naming the judge and carrying a digest of it;
- on each worker process, a per-process cache keyed by that digest holds one started judge in
  an engine child process (engine_child.py): started once per worker and run, not once per
  partition; a process-wide lock lets one partition at a time reach it, whatever the worker's
  thread count (durable_rules' C state is process-global);
- a partition whose engine crashes fails alone, reported by the child's host with the signal;
  the dask worker itself stays up. If a dask worker dies anyway (killed, out of memory, its
  machine lost), the scheduler retries its partitions elsewhere as the cluster's
  `distributed.scheduler.allowed-failures` allows (default 3); past that (dask's
  KilledWorker) a batch is tried again one partition per task, and a single partition ends as
  an engine error naming the worker deaths, every other partition going on;
- results are keyed by sid (the driver sorts), so the report is the same as with --jobs;
- Ctrl-C (or SIGTERM) cancels the run's futures; at the end the workers' engine children for
  this judge are stopped, so an idle cluster holds no engine.
"""
from __future__ import annotations

import hashlib
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterator
from concurrent.futures import CancelledError, ThreadPoolExecutor

from checker import __version__
from checker.engine.driver import Task, Verdict
from checker.engine.engine_child import EngineChild
from checker.errors import Problem, ProblemsFound

INSTALL_HINT = "pip install 'cbcheck[dask]' (dask and distributed), here and on every worker"
ENGINES_KEPT = 2        # started judges a worker keeps (two runs sharing a cluster do not thrash)
BATCH_MAX = 32          # partitions per dask task at most (see batch_size)

_engines: OrderedDict[str, EngineChild] = OrderedDict()   # this worker process's, by judge digest
_engines_lock = threading.Lock()
# Engine children are started from this one thread, which lives as long as the worker
# process: Linux sends the death signal a child asks for (workers.py) when the *thread* that
# started it ends, and dask's task threads may come and go.
_starter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cbcheck-engine-starter")


def _problem(message: str, expected: str) -> ProblemsFound:
    return ProblemsFound([Problem("--dask", None, "", message, expected)])


def _import_distributed():
    try:
        import distributed
    except ImportError:
        raise _problem("dask.distributed is not installed", INSTALL_HINT) from None
    return distributed


class DaskCluster:
    """A connection to a running dask scheduler; `run` is the driver's runner. Use it as a
    context manager, or call close()."""

    def __init__(self, address: str, batch: int | None = None):
        """`batch`: partitions per dask task (default: batch_size's choice)."""
        distributed = _import_distributed()
        from dask.config import get as dask_setting
        from dask.utils import parse_timedelta
        # dask's own setting (DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT=10s, or its config file)
        timeout = parse_timedelta(dask_setting("distributed.comm.timeouts.connect"), default="seconds")
        self.address, self.batch = address, batch
        try:
            self.client = distributed.Client(address, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise _problem(f"no dask scheduler answered at {address} within {timeout:g} s ({type(exc).__name__}: {exc})",
                           "a running scheduler: start one with `dask scheduler` and workers with "
                           "`dask worker ADDRESS --nthreads 1`, or check the address (tcp://HOST:8786)") from None
        try:
            self._check_workers()
        except BaseException:
            self.close()
            raise

    def _check_workers(self) -> None:
        """Every worker must run this cbcheck: the report is the same only with the same code."""
        if not self.client.scheduler_info(n_workers=-1).get("workers"):
            raise _problem(f"the scheduler at {self.address} has no workers",
                           f"workers started with `dask worker {self.address} --nthreads 1`")
        try:
            versions = self.client.run(_worker_version)
        except ImportError as exc:
            raise _problem(f"a worker of {self.address} cannot import cbcheck ({exc})", INSTALL_HINT) from None
        wrong = sorted(w for w, v in versions.items() if v != __version__)
        if wrong:
            raise _problem(f"worker(s) {', '.join(wrong)} run another cbcheck version than {__version__}",
                           f"cbcheck {__version__} installed on every worker")

    def close(self) -> None:
        self.client.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def run(self, tasks: list[Task], judge, on_done=None) -> dict[str, Verdict]:
        """Every task's verdict by sid, judged on the cluster; `on_done(done, total)` after each."""
        return {verdict.sid: verdict for verdict in self.judged(tasks, judge, on_done)}

    def judged(self, tasks: list[Task], judge, on_done=None) -> Iterator[Verdict]:
        """Every task's verdict, judged on the cluster, given as it comes (the driver's runner);
        `on_done(done, total)` after each."""
        if not tasks:
            return
        import cloudpickle     # distributed's own dependency, what dask pickles tasks with
        judge_bytes = cloudpickle.dumps(judge)
        digest = hashlib.sha256(judge_bytes).hexdigest()
        run = _Run(self.client, judge_bytes, digest)
        size = self.batch or batch_size(len(tasks), self._threads())
        try:
            for n in range(0, len(tasks), size):
                run.submit(tasks[n:n + size])
            yield from run.collect(len(tasks), on_done)
        except BaseException:      # Ctrl-C, SIGTERM, a lost scheduler: stop the run's work
            run.cancel()
            raise
        finally:
            self._release(digest)

    def _threads(self) -> int:
        return sum(w["nthreads"] for w in self.client.scheduler_info(n_workers=-1)["workers"].values())

    def _release(self, digest: str) -> None:
        try:
            self.client.run(release_engine, digest)
        except Exception:  # noqa: BLE001 - best effort: a worker's next judge replaces it anyway
            pass


def batch_size(partitions: int, threads: int) -> int:
    """Partitions per dask task. dask's best practices put a task's own cost at 200 µs to 1 ms
    of scheduler and worker time and advise fewer, larger tasks; a partition takes about 10 ms
    (benchmarks/bench_dask.py), so partitions go in batches of up to BATCH_MAX (a 10 M-record
    export: some 7,600 tasks, not 243,000), with at least 8 batches per worker thread so the
    work still spreads out."""
    return max(1, min(BATCH_MAX, partitions // max(1, 8 * threads)))


class _Run:
    """One run's futures: batches of tasks judged on the cluster, and their verdicts."""

    def __init__(self, client, judge_bytes: bytes, digest: str):
        from distributed import as_completed
        self.client, self.digest, self.run_id = client, digest, uuid.uuid4().hex[:12]
        # A task holding the bytes, not scattered data: the scheduler can compute it again
        # when the workers holding it die (scattered data would be lost with them, and every
        # partition still to run with it). Workers fetch it from each other once.
        self.judge = client.submit(_judge_bytes, judge_bytes, key=f"cbcheck-judge-{self.run_id}", pure=False)
        self.batches: dict = {}          # future -> its tasks
        self.completed = as_completed([], loop=client.loop)

    def submit(self, batch: list[Task]) -> None:
        key = f"cbcheck-partition-{self.run_id}-{len(self.batches)}-{batch[0].sid}"
        future = self.client.submit(judge_on_worker, batch, self.judge, self.digest, key=key, pure=False)
        self.batches[future] = batch
        self.completed.add(future)

    def collect(self, total: int, on_done) -> Iterator[Verdict]:
        from distributed import KilledWorker
        done = 0
        for future in self.completed:
            batch = self.batches[future]
            try:
                verdicts = future.result()
            except KilledWorker as exc:
                if len(batch) > 1:      # which of them killed the workers? each alone says
                    for task in batch:
                        self.submit([task])
                    continue
                verdicts = [Verdict(batch[0].sid, False, error=_why_failed(exc))]
            except Exception as exc:  # noqa: BLE001 - reported as its partitions' error
                verdicts = [Verdict(task.sid, False, error=_why_failed(exc)) for task in batch]
            for verdict in verdicts:
                done += 1
                if on_done:
                    on_done(done, total)
                yield verdict

    def cancel(self) -> None:
        self.client.cancel([*self.batches, self.judge], force=True)


def _judge_bytes(judge_bytes: bytes) -> bytes:
    return judge_bytes


def _why_failed(exc: Exception) -> str:
    """The error of a partition whose task gave no verdict (it judged none of its records)."""
    from distributed import KilledWorker
    if isinstance(exc, CancelledError):
        return f"the dask task was cancelled ({exc}); run again"
    if isinstance(exc, KilledWorker):
        return (f"the dask worker evaluating this partition died, as often as the scheduler allows ({exc}); "
                f"see the workers' logs (memory limit, killed process)")
    return f"the dask task failed: {type(exc).__name__}: {exc}"


def _worker_version() -> str:
    return __version__


def judge_on_worker(batch: list[Task], judge_bytes: bytes, digest: str) -> list[Verdict]:
    """On a dask worker: each task's verdict from this process's engine child for the judge
    (a new child after one died on a task)."""
    with _engines_lock:
        return [_live_engine(digest, judge_bytes).judge(task) for task in batch]


def _live_engine(digest: str, judge_bytes: bytes) -> EngineChild:
    """This process's engine child for the judge, started when there is none or it died;
    the least recently used of other judges' children stops to make room."""
    child = _engines.get(digest)
    if child is None or not child.alive:
        if child is not None:
            _engines.pop(digest).close()
        while len(_engines) >= ENGINES_KEPT:
            _engines.popitem(last=False)[1].close()
        child = _engines[digest] = _starter.submit(EngineChild, judge_bytes).result()
    _engines.move_to_end(digest)
    return child


def release_engine(digest: str) -> None:
    """On a dask worker, at the end of a run: stop the engine child of that run's judge."""
    with _engines_lock:
        child = _engines.pop(digest, None)
        if child is not None:
            child.close()

