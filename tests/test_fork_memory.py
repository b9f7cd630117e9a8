"""What the main process writes after the worker pool forks copies the pages it writes into
its own memory while the workers keep the originals: the pool's tasks are pickled before the
fork (workers._Spool), so sending them writes nothing the workers share."""
from __future__ import annotations

import os

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
