"""The one partition loop of both evaluators.

Both the engine (durable_rules, in worker processes) and the reference evaluator (plain
Python, in process) judge the same partitions one at a time; only "judge one partition"
differs. This module builds the partitions' tasks, has a judge judge each of them (through a
runner: here, or the worker pool), and turns the verdicts into located findings, engine errors
and the scopes whose evaluation failed, so the pipeline never needs to know partition names.

A judge is an object with `start()` -> per-process state (built once per worker: compiled
rulesets, caches) and `judge(state, task)` -> Verdict.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from checker.catalog.applicability import applicability_groups
from checker.catalog.loader import Rule
from checker.derive import CB_WIDE_INPUTS, derive_cb_wide
from checker.engine.findings import (finding_sort_key, make_finding, packed_finding, separate_fingerprints,
                                     unpacked_finding)
from checker.engine.partition import CB_PARTITION, RULE_SCOPES, build_partitions
from checker.errors import Problem
from checker.records.index import RecordIndex, unowned


@dataclass
class Task:
    sid: str
    scope: str                 # "client" or "cb"
    records: list[dict]        # the partition's own records (all of them for the CB-wide partition)
    shared: list[str] = field(default_factory=list)   # ids of the CB-wide records it reads (see shared_records)
    # Streamed runs (engine/streamed.py): the partition's own records are read, validated and then
    # judged in the worker; `sources` says where (records/stream.Stub, or the Record itself when the
    # first pass kept it). `digest` stands for its own records' content: their bytes and places (a
    # cache keys a verdict on it, with the shared records' data, the catalog, the parameters and
    # --as-of). `judged` False: read and validate only (a withheld partition).
    sources: list = field(default_factory=list)
    digest: str = ""
    judged: bool = True


@dataclass
class Verdict:
    """What judging one partition gave: its matches, or why there are none to trust."""
    sid: str
    ok: bool
    matches: list = field(default_factory=list)   # (rule id, alternative, {binding: fact id})
    where: dict = field(default_factory=dict)     # fact id -> (record id, pointer), bound facts at least
    error: str = ""
    fact_count: int = 0
    applied: tuple = ()       # facts each group of alternatives applies to (catalog/applicability.applicability_groups)
    # Streamed runs: the input problems of the partition's records, as (record id, problem) (then
    # it is not judged); whether a file changed or failed to parse again since the first pass;
    # where each record it read stands (records/stream.Located); and what its records give the
    # CB-wide kinds (derive.cb_shares; None when nothing).
    problems: list = field(default_factory=list)
    reread_failed: bool = False
    located: dict = field(default_factory=dict)
    cb_inputs: dict | None = None

    def value(self, fact_id: str, dotted: str):
        """The value of a bound fact's field for a finding's message (None when missing)."""
        raise NotImplementedError


@dataclass
class Evaluation:
    findings: list[dict]
    partition_errors: list[Problem]
    partitions: int            # partitions given to a judge (withheld ones are not counted)
    facts: int
    failed_scopes: dict[str, list[str]] = field(default_factory=dict)   # rule scope -> partitions not judged
    duplicate_firings: int = 0      # same rule, alternative and facts fired twice: an engine fault
    not_evaluated: dict = field(default_factory=dict)   # the report summary's account of partitions not judged
    unjudged: list = field(default_factory=list)         # (partition, scope, why) of each one
    applied: dict = field(default_factory=dict)          # (rule id, alternative) -> facts it applied to, all partitions


def partition_tasks(index: RecordIndex, rules: list[Rule], params: dict, withheld: set[str],
                    only_partitions: set[str] | None = None) -> tuple[list[Task], list[Task]]:
    """(tasks to judge, tasks withheld): one task per partition that has rules to run (of
    `only_partitions` alone when given: their sids), with the records it holds. A partition
    holding a record of `withheld` (records with input errors) is withheld; so is the CB-wide
    partition when a withheld record is of a type its pseudo-records are computed from, over
    every client (CB_WIDE_INPUTS)."""
    partitions = [p for p in build_partitions(index) if judged_partition(p, rules, only_partitions)]
    cb_wide_blocked = any(index.by_id[rid].type in CB_WIDE_INPUTS for rid in withheld if rid in index.by_id)
    tasks, held = [], []
    for p in partitions:
        if not withheld.isdisjoint(p.record_ids) or (p.sid == CB_PARTITION and cb_wide_blocked):
            held.append(Task(p.sid, p.scope, []))
            continue
        if p.sid == CB_PARTITION:
            records = [index.by_id[rid].data for rid in p.record_ids]
            tasks.append(Task(p.sid, p.scope, records + derive_cb_wide([r.data for r in index.by_id.values()], params)))
        else:   # the CB-wide records go by id: a worker prepares each once, not once per client
            own = [rid for rid in p.record_ids if index.owner_client.get(rid) == p.sid]
            tasks.append(Task(p.sid, p.scope, [index.by_id[rid].data for rid in own],
                              [rid for rid in p.record_ids if index.owner_client.get(rid) != p.sid]))
    return tasks, held


def judged_partition(partition, rules: list[Rule], only_partitions: set[str] | None = None) -> bool:
    """Whether `partition` has rules to run (and is among `only_partitions`, their sids, when given)."""
    scopes = {r.scope for r in rules if r.automated}
    return bool(scopes & set(RULE_SCOPES[partition.scope])) and (only_partitions is None
                                                                 or partition.sid in only_partitions)


def shared_records(index: RecordIndex) -> dict[str, dict]:
    """The CB-wide records (people, the CB, its activities) by id, as tasks name them in `shared`."""
    return {rid: index.by_id[rid].data for rid in unowned(index.owner_client)}


def run_here(tasks: list[Task], judge) -> Iterator[Verdict]:
    """The runner without processes: every task judged in this one, in order, each verdict
    given as it is made."""
    state = judge.start()
    for task in tasks:
        yield judge.judge(state, task)


def drive(index: RecordIndex, rules: list[Rule], params: dict, as_of: dt.date, judge, run=run_here,
          withheld: set[str] = frozenset(), only_partitions: set[str] | None = None) -> Evaluation:
    """Judge every partition (or those of `only_partitions`) with `judge` through
    `run(tasks, judge)` (an iterable of their verdicts) and collect the result; partitions
    holding a `withheld` record are not judged (see partition_tasks)."""
    tasks, held = partition_tasks(index, rules, params, withheld, only_partitions)
    return collect(tasks, held, run(tasks, judge), rules, params, as_of, lambda _verdict: index.by_id)


def collect(tasks: list[Task], held: list[Task], verdicts: Iterable[Verdict], rules: list[Rule], params: dict,
            as_of: dt.date, records_of) -> Evaluation:
    """The evaluation the verdicts of `tasks` give, in any order (`held`: partitions not judged
    for input errors); `records_of(verdict)` maps the ids of a verdict's records to where they
    stand."""
    collector = Collector(rules, params, as_of, records_of)
    for task in held:
        collector.held(task)
    for task, verdict in paired(tasks, verdicts):
        collector.add(task, verdict)
    return collector.evaluation()


class Waiting:
    """The tasks of a run still waiting for their verdict: `take(sid)` gives one once (None
    for a sid given before, or never asked for), `left()` the sids of those never taken, sorted.
    A lazy sequence of tasks (engine/streamed.ClientTasks) gives its own, which holds no task."""

    def __init__(self, tasks: Iterable[Task]):
        self.tasks = {task.sid: task for task in tasks}

    def take(self, sid: str) -> Task | None:
        return self.tasks.pop(sid, None)

    def left(self) -> list[str]:
        return sorted(self.tasks)


def paired(tasks, verdicts: Iterable[Verdict]) -> Iterator[tuple[Task, Verdict]]:
    """(task, its verdict) for each of `verdicts` as it comes; raises RuntimeError when a
    runner gives a task two verdicts, or none (a fault of the runner, never a lost partition).
    `tasks`: a list, or a sequence with its own `waiting()` (see Waiting)."""
    waiting = tasks.waiting() if hasattr(tasks, "waiting") else Waiting(tasks)
    for verdict in verdicts:
        task = waiting.take(verdict.sid)
        if task is None:
            raise RuntimeError(f"the runner gave a second or unasked-for verdict, for partition {verdict.sid}")
        yield task, verdict
    left = waiting.left()
    if left:
        raise RuntimeError(f"the runner gave no verdict for partition(s) {', '.join(left[:5])}")


class Collector:
    """Folds each partition's verdict into its findings and counts as it arrives, so a run
    keeps no verdict (at 10,000 clients they held 64 MB of the main process until the end);
    evaluation() gives what collecting them all at once gave: findings in the order of the
    partitions' sids, then sorted (stably) by finding_sort_key. With a `shelf` (engine/shelf.py),
    each partition's findings are set aside there, packed (findings.packed_finding), until
    evaluation(): a streamed run calls it once its workers are gone, so the findings, as
    objects several times the bytes of their JSON, no longer add to the peak of the process tree."""

    def __init__(self, rules: list[Rule], params: dict, as_of: dt.date, records_of, shelf=None):
        self.rules_by_id, self.params, self.records_of = {r.id: r for r in rules}, params, records_of
        self.as_of = as_of.isoformat()
        self.groups = {scope: applicability_groups(rules, rule_scopes) for scope, rule_scopes in RULE_SCOPES.items()}
        self.partial = Evaluation([], [], 0, 0)
        self.totals: dict[str, _GroupCounts] = {}     # scope -> its counts, once a verdict of it counted
        self.found: dict[str, list[dict] | None] = {}     # sid -> its findings (None: on the shelf), when it has some
        self.shelf = shelf
        self.errors: dict[str, Problem] = {}       # sid -> why its evaluation failed

    def held(self, task: Task):
        """A partition with rules to run that input errors kept from being judged."""
        _not_judged(self.partial, task, "input errors")

    def add(self, task: Task, verdict: Verdict):
        """The verdict of a partition given to a judge (once: see paired)."""
        self.partial.partitions += 1
        if not verdict.ok:
            self.errors[task.sid] = _failure(task, verdict.error)
            _not_judged(self.partial, task, "engine failure")
            return
        self.partial.facts += verdict.fact_count
        if verdict.applied:     # a judge that counts nothing sends none
            if task.scope not in self.totals:
                self.totals[task.scope] = _GroupCounts(len(self.groups[task.scope]))
            self.totals[task.scope].add(verdict.applied)
        if not verdict.matches:     # most partitions (nine in ten at 10,000 generated clients)
            return
        found = _findings(self.partial, verdict, self.rules_by_id, self.records_of(verdict),
                          None if task.sid == CB_PARTITION else task.sid, self.params, self.as_of)
        if found:
            self._keep(task.sid, found)

    def _keep(self, sid: str, found: list[dict]):
        packed = [packed_finding(finding, self.rules_by_id) for finding in found] if self.shelf is not None else [None]
        if None in packed:
            self.found[sid] = found
        else:
            self.found[sid] = None
            self.shelf.put(sid, packed)

    def _found(self, sid: str) -> list[dict]:
        found = self.found[sid]
        if found is None:
            return [unpacked_finding(values, self.rules_by_id) for values in self.shelf.get(sid)]
        return found

    def evaluation(self) -> Evaluation:
        """The evaluation of every verdict and held partition given so far."""
        evaluation = self.partial
        evaluation.findings = [finding for sid in sorted(self.found) for finding in self._found(sid)]
        evaluation.findings.sort(key=finding_sort_key)
        evaluation.partition_errors = [self.errors[sid] for sid in sorted(self.errors)]
        evaluation.applied = _applied(self.groups, self.totals)
        evaluation.failed_scopes, evaluation.not_evaluated = _account(evaluation.unjudged)
        return evaluation


class _GroupCounts:
    """One scope's counts per group of alternatives (in the groups' order), summed over its
    partitions' verdicts, and spread over the alternatives once at the end (_applied: spread per
    partition, that was 1.4 s of the main process's time at 10,000 clients). Summed a batch of
    verdicts at a time, column by column in C (zip, sum), not in a Python loop per verdict."""
    BATCH = 256

    def __init__(self, groups: int):
        self.groups, self.sums, self.pending = groups, [0] * groups, []

    def add(self, counts: tuple):
        if len(counts) != self.groups:
            raise ValueError(f"a verdict counted {len(counts)} groups of alternatives, its scope has {self.groups}")
        self.pending.append(counts)
        if len(self.pending) >= self.BATCH:
            self.summed()

    def summed(self) -> list[int]:
        if self.pending:
            self.sums = list(map(sum, zip(self.sums, *self.pending)))
            self.pending.clear()
        return self.sums


def _applied(groups: dict[str, list], totals: dict[str, _GroupCounts]) -> dict:
    """(rule id, alternative) -> the facts it applied to, over every scope's partitions."""
    applied: dict = {}
    for scope, scope_totals in totals.items():
        for (_binding, alternatives), count in zip(groups[scope], scope_totals.summed()):
            for key in alternatives:
                applied[key] = applied.get(key, 0) + count
    return applied


def _failure(task: Task, error: str) -> Problem:
    return Problem(f"partition {task.sid}", None, "", error,
                   "the partition evaluated; report this as a cbcheck bug with the input", kind="engine")


def _not_judged(evaluation: Evaluation, task: Task, why: str):
    evaluation.unjudged.append((task.sid, task.scope, why))


def _account(unjudged: list[tuple[str, str, str]]) -> tuple[dict, dict]:
    """(rule scope -> labels of the partitions that gave it no verdict, the summary's account)."""
    failed_scopes: dict[str, list[str]] = {}
    account = {"clients": 0, "cb_wide": False, "input_errors": [], "engine_failure": []}
    for sid, scope, why in sorted(unjudged):
        # Every rule run on the partition lost its verdict there, the client rules on the
        # CB-wide partition too (they judge the appeals and complaints that name no client).
        for rule_scope in RULE_SCOPES[scope]:
            failed_scopes.setdefault(rule_scope, []).append(f"{sid} ({why})")
        account["cb_wide"] |= sid == CB_PARTITION
        account["clients"] += sid != CB_PARTITION
        account[why.replace(" ", "_")].append(sid)
    return failed_scopes, account if unjudged else {}


def _findings(evaluation: Evaluation, verdict: Verdict, by_id: dict, records, client, params, as_of: str) -> list[dict]:
    """The findings of one verdict (its engine's duplicate firings counted in `evaluation`);
    `records` maps a record id to where it stands (a Record, or records/stream.Located)."""
    seen, found = set(), []
    for rule_id, alt, bindings in verdict.matches:
        rule = by_id[rule_id]
        # Each alternative of a rule is its own finding (a record missing three required
        # fields gets three). One compiled rule fires once per combination of facts, so a
        # repeat would be an engine fault: counted (the differential test requires zero)
        # and reported once.
        key = (rule_id, alt, tuple(sorted(bindings.items())))
        if key in seen:
            evaluation.duplicate_firings += 1
            continue
        seen.add(key)

        def value_of(binding, dotted, _b=bindings):
            return verdict.value(_b[binding], dotted)
        found.append((alt, make_finding(rule, alt, bindings, verdict.where, value_of, records, client, params, as_of)))
    separate_fingerprints(found)
    return [finding for _alt, finding in found]
