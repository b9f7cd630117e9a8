"""What the main process writes after the worker pool forks copies the pages it writes into
its own memory while the workers keep the originals. A streamed run forks its workers before
the record index exists (workers.StandingPool) and gives them each run's judge; a pool forked
later pickles its tasks before the fork (workers._Spool), so sending them writes nothing the
workers share."""
from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import signal
import time

import pytest

import checker.pipeline as pipeline
from benchmarks.generate_cb import generate
from checker.engine import workers
from checker.engine.driver import Task, Verdict


class _CountingJudge:
    """Each partition's verdict counts its records, so a task sent wrong shows in its verdict."""

    def start(self):
        return None

    def judge(self, _state, task: Task) -> Verdict:
        return Verdict(task.sid, True, fact_count=len(task.records))


def _tasks(count: int) -> list[Task]:
    return [Task(f"c{n:03d}", "client", [{"id": f"r{n}-{i}"} for i in range(n % 5)]) for n in range(count)]


def test_every_chunk_is_pickled_before_the_first_worker_forks(monkeypatch):
    spools, at_forks = [], []

    class Recorded(workers._Spool):
        def __init__(self, chunks):
            super().__init__(chunks)
            spools.append((self, len(chunks)))

    def forked(*args):
        spool, chunks = spools[-1]
        at_forks.append((len(spool.places), chunks))
        return start_forked(*args)
    start_forked = workers.start_forked
    monkeypatch.setattr(workers, "_Spool", Recorded)
    monkeypatch.setattr(workers, "start_forked", forked)
    tasks = _tasks(60)
    verdicts = workers.run_partitions(tasks, _CountingJudge(), jobs=2)
    assert {sid: v.fact_count for sid, v in verdicts.items()} == {t.sid: len(t.records) for t in tasks}
    assert at_forks[0][0] == at_forks[0][1] > 1         # every chunk in the file when the first worker forks


def test_a_chunk_that_cannot_be_written_is_sent_as_before(monkeypatch):
    writes, write = [], os.pwrite

    def pwrite(fd, blob, offset):
        writes.append(offset)
        if len(writes) == 2:
            raise OSError(28, "No space left on device")
        return write(fd, blob, offset)
    monkeypatch.setattr(workers.os, "pwrite", pwrite)
    tasks = _tasks(60)
    verdicts = workers.run_partitions(tasks, _CountingJudge(), jobs=2)
    assert len(writes) > 2
    assert {sid: v.fact_count for sid, v in verdicts.items()} == {t.sid: len(t.records) for t in tasks}


class _JudgeNamed(_CountingJudge):
    """Says in each verdict which judge and which process judged it."""

    def __init__(self, name: str):
        self.name = name

    def judge(self, _state, task: Task) -> Verdict:
        return Verdict(task.sid, True, error=f"{self.name} {os.getpid()}", fact_count=len(task.records))


def test_a_standing_pools_workers_judge_the_first_run_and_end_with_it():
    tasks = _tasks(40)
    with workers.StandingPool(2) as pool:
        pids = {w.proc.pid for w in pool.pool.workers}
        first = {v.sid: v for v in pool.judged(tasks, _JudgeNamed("clients"))}
        assert pool.pool is None and not multiprocessing.active_children()
        second = {v.sid: v for v in pool.judged(tasks[:1], _JudgeNamed("cb"))}
    assert {sid: v.fact_count for sid, v in first.items()} == {t.sid: len(t.records) for t in tasks}
    assert {v.error.split()[0] for v in first.values()} == {"clients"}
    assert {int(v.error.split()[1]) for v in first.values()} <= pids
    assert second["c000"].error.startswith("cb ") and int(second["c000"].error.split()[1]) not in pids


def test_a_standing_pools_worker_that_died_idle_is_replaced():
    with workers.StandingPool(2) as pool:
        dead = pool.pool.workers[0].proc
        os.kill(dead.pid, signal.SIGKILL)
        dead.join()
        run = pool.judged(_tasks(20), _JudgeNamed("after"))
        verdicts = [next(run)]
        serving = [w.proc for w in pool.pool.workers]
        verdicts += run
    assert len(serving) == 2 and dead not in serving
    assert sorted(v.sid for v in verdicts) == [t.sid for t in _tasks(20)] and all(v.ok for v in verdicts)


def test_a_streamed_runs_workers_are_forked_before_the_first_pass(monkeypatch, tmp_path):
    alive = []

    def first_pass(*args, **kwargs):
        alive.append(len(multiprocessing.active_children()))
        return real(*args, **kwargs)
    real = pipeline.first_pass
    monkeypatch.setattr(pipeline, "first_pass", first_pass)
    generate(tmp_path / "jsonl", 3, layout="jsonl")
    rules = pipeline.load_rules(None, None)
    report = pipeline.run_check(tmp_path / "jsonl", rules.rules, rules.params, dt.date(2025, 11, 1), jobs=2,
                                stream=True)
    assert alive == [2] and report["input"]["partitions"] == 4 and not multiprocessing.active_children()


class _WaitingJudge:
    """Says whether the main process gave its own verdicts while this worker judged: it notes
    whether `go` is there, marks `started`, then waits for `go` (which the main process writes
    only once it sees `started`); the verdict is ok only if `go` was not there when judging began."""

    def __init__(self, started: str, go: str):
        self.started, self.go = started, go

    def start(self):
        return None

    def judge(self, _state, task: Task) -> Verdict:
        waited = not os.path.exists(self.go)      # looked at before `started` says so: no race
        open(self.started, "w").close()
        _until_exists(self.go)
        return Verdict(task.sid, waited and os.path.exists(self.go))


def _until_exists(path: str, patience: float = 30.0):
    deadline = time.monotonic() + patience      # a liveness bound on a loaded machine
    while not os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.005)


@pytest.mark.parametrize("pool", ["standing", "forked"])
def test_the_main_process_s_own_verdicts_are_given_while_the_workers_judge(pool, tmp_path):
    """A cache's reused verdicts (`meanwhile`) come while the workers judge the others, not
    before their tasks are sent nor after their answers (workers._answers)."""
    judge = _WaitingJudge(str(tmp_path / "started"), str(tmp_path / "go"))

    def own():
        yield "reused-1"
        _until_exists(judge.started)
        open(judge.go, "w").close()
        yield "reused-2"
    tasks = [Task("c1", "client", [])]
    if pool == "standing":
        with workers.StandingPool(1) as standing:
            given = list(standing.judged(tasks, judge, None, own()))
    else:
        given = list(workers.judged_partitions(tasks, judge, 1, None, own()))
    assert given[:2] == ["reused-1", "reused-2"] and [(v.sid, v.ok) for v in given[2:]] == [("c1", True)]


class _StartNoting(_CountingJudge):
    """Notes each start in a file of its process's own (a line a start)."""

    def __init__(self, folder: str):
        self.folder = folder

    def start(self):
        with open(os.path.join(self.folder, f"started-{os.getpid()}"), "a") as noted:
            noted.write("start\n")


def test_a_standing_pool_prepared_starts_the_judge_before_its_run_and_once(tmp_path):
    judge, tasks = _StartNoting(str(tmp_path)), _tasks(30)
    with workers.StandingPool(2) as pool:
        pids = sorted(w.proc.pid for w in pool.pool.workers)
        pool.prepare(judge)
        noted = [str(tmp_path / f"started-{pid}") for pid in pids]
        for path in noted:
            _until_exists(path)      # started with no task sent yet
        assert all(os.path.exists(path) for path in noted)
        verdicts = {v.sid: v.fact_count for v in pool.judged(tasks, judge)}
    assert verdicts == {t.sid: len(t.records) for t in tasks}
    assert [open(path).read() for path in noted] == ["start\n", "start\n"]      # not given the judge again


def test_a_cached_streamed_run_gives_its_workers_the_judge_before_it_makes_the_tasks(monkeypatch, tmp_path):
    from checker.engine import streamed
    from checker.engine.cache import PartitionCache
    events = []

    def hand(worker, judge):
        if worker.judge is not judge:
            events.append("judge sent")
        real_hand(worker, judge)

    def client_tasks(*args, **kwargs):
        events.append("tasks made")
        return real(*args, **kwargs)
    real, real_hand = streamed.client_tasks, workers._Pool.hand
    monkeypatch.setattr(workers._Pool, "hand", staticmethod(hand))
    monkeypatch.setattr(streamed, "client_tasks", client_tasks)
    generate(tmp_path / "jsonl", 3, layout="jsonl")
    rules = pipeline.load_rules(None, None)
    report = pipeline.run_check(tmp_path / "jsonl", rules.rules, rules.params, dt.date(2025, 11, 1), jobs=2,
                                stream=True, cache=PartitionCache(tmp_path / "cache"))
    # Both workers given the clients' judge (dated by the cache) before their tasks, and not again.
    assert events == ["judge sent", "judge sent", "tasks made"] and report["input"]["partitions"] == 4
