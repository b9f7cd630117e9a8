"""Runs partitions in worker processes, so that a crash of durable_rules' C core costs one
partition (reported as an error naming it), never the run and never silently its findings.
"""
from __future__ import annotations

import faulthandler
import multiprocessing
import signal
from collections import deque
from dataclasses import dataclass, field
from multiprocessing.connection import wait

from checker.engine.host import PartitionEngine, PartitionFailed
from checker.engine.partition import RULE_SCOPES
from checker.engine.prepare import engine_facts
from checker.engine.rulesets import Ruleset


@dataclass
class Task:
    sid: str
    scope: str
    records: list[dict]


@dataclass
class PartitionResult:
    sid: str
    ok: bool
    firings: list = field(default_factory=list)   # (ruleset, rule, {binding: fact id})
    facts: dict = field(default_factory=dict)     # fact id -> fact, for the bound facts only
    where: dict = field(default_factory=dict)     # fact id -> (record id, pointer), bound facts only
    error: str = ""
    fact_count: int = 0


def _evaluate(engines, task: Task, params: dict, as_of_year: int, memberships: dict) -> PartitionResult:
    facts, where = engine_facts(task.records, params, as_of_year, task.sid, memberships)
    firings = [f for scope in RULE_SCOPES[task.scope] if scope in engines
               for f in engines[scope].run(task.sid, facts)]
    bound = {fid for f in firings for fid in f.bindings.values()}
    by_id = {f["id"]: f for f in facts if f["id"] in bound}
    return PartitionResult(task.sid, True, [(f.ruleset, f.rule, f.bindings) for f in firings], by_id,
                           {fid: where[fid] for fid in bound}, fact_count=len(facts))


def _worker_main(conn, rulesets_by_scope, params, as_of_year, memberships):
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # the parent decides when to stop
    faulthandler.disable()   # a crash is reported by the parent, naming the partition
    def build():
        return {scope: PartitionEngine(rs) for scope, rs in rulesets_by_scope.items() if rs}

    engines = build()
    while True:
        task = conn.recv()
        if task is None:
            return
        try:
            result = _evaluate(engines, task, params, as_of_year, memberships)
        except PartitionFailed as exc:
            result = PartitionResult(task.sid, False, error=str(exc))
            engines = build()   # a failed batch may leave state behind; start clean
        except Exception as exc:  # reported for this partition, never swallowed
            result = PartitionResult(task.sid, False, error=f"internal error: {type(exc).__name__}: {exc}")
            engines = build()
        conn.send(result)


class _Worker:
    def __init__(self, ctx, setup):
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, args=(child, *setup), daemon=True)
        self.proc.start()
        child.close()
        self.task: Task | None = None


def run_partitions(tasks: list[Task], rulesets_by_scope: dict[str, list[Ruleset]], params: dict,
                   as_of_year: int, jobs: int = 1, on_done=None, memberships: dict | None = None
                   ) -> dict[str, PartitionResult]:
    """Evaluate every task; a worker that dies fails its current partition and is replaced.
    `on_done(done, total)` is called after each partition (for a progress display)."""
    ctx = multiprocessing.get_context("fork")
    setup = (rulesets_by_scope, params, as_of_year, memberships or {})
    pending = deque(tasks)
    results: dict[str, PartitionResult] = {}
    workers: list[_Worker] = []

    def feed(w: _Worker):
        if pending:
            w.task = pending.popleft()
            w.conn.send(w.task)
        else:
            w.task = None

    try:
        for _ in range(max(1, min(jobs, len(tasks)))):
            w = _Worker(ctx, setup)
            workers.append(w)
            feed(w)
        while any(w.task for w in workers):
            ready = wait([w.conn for w in workers if w.task])
            for w in [w for w in workers if w.conn in ready]:
                try:
                    result = w.conn.recv()
                except (EOFError, ConnectionResetError):
                    w.proc.join()
                    code = w.proc.exitcode
                    how = f"signal {-code}" if code is not None and code < 0 else f"exit code {code}"
                    result = PartitionResult(w.task.sid, False, error=f"the engine process died ({how}) "
                                             f"while evaluating this partition")
                    workers.remove(w)
                    if pending:
                        replacement = _Worker(ctx, setup)
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
