"""Evaluates the catalog with durable_rules: the engine's "judge one partition" (in a worker
process) for the shared partition driver."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from itertools import chain

from checker.catalog.applicability import applicability_groups
from checker.catalog.loader import Rule
from checker.engine.applies import applicability_tests, applied_counts
from checker.engine.cache import CacheSetting, PartitionCache, cached_run
from checker.engine.compile_durable import compile_check
from checker.engine.driver import Evaluation, Task, Verdict, drive, shared_records
from checker.engine.facts import fact_key
from checker.engine.host import PartitionEngine
from checker.engine.partition import CB_PARTITION, RULE_SCOPES
from checker.engine.prepare import SharedFacts, engine_facts
from checker.engine.rulesets import Ruleset, definition, pack
from checker.engine.streamed import drive_streamed
from checker.engine.workers import StandingPool, judged_partitions
from checker.errors import Problem
from checker.records.index import RecordIndex
from checker.records.stream import FirstPass

__all__ = ["Evaluation", "EngineJudge", "compile_catalog", "engine_judge", "evaluate"]


@dataclass
class CompiledCatalog:
    rulesets: dict[str, list[Ruleset]]         # scope -> packed rulesets
    memberships: dict                          # kind -> {flag key: (field, values)}
    applies: dict = field(default_factory=dict)   # partition scope -> applicability_tests of its rules' groups


def compile_catalog(rules: list[Rule], as_of: str) -> CompiledCatalog:
    """Compile and pack every automated rule, and check each ruleset against the safe pattern
    here, in the parent, so a refused shape is an error of the run, not a dead worker."""
    by_scope: dict[str, list] = {"client": [], "cb": []}
    memberships: dict = {}
    for rule in rules:
        if rule.automated:
            for alt, check in rule.judged_checks():
                by_scope[rule.scope].append(compile_check(rule.id, alt, check, as_of, memberships))
    rulesets = {scope: pack(compiled, f"cbcheck_{scope}") for scope, compiled in by_scope.items()}
    for scope_sets in rulesets.values():
        for rs in scope_sets:
            definition(rs, [], [])   # raises UnsafeRuleset
    return CompiledCatalog(rulesets, memberships,
                           {scope: applicability_tests(applicability_groups(rules, rule_scopes))
                            for scope, rule_scopes in RULE_SCOPES.items()})


@dataclass
class EngineVerdict(Verdict):
    facts: dict = field(default_factory=dict)     # fact id -> flat fact, for the bound facts only

    def value(self, fact_id: str, dotted: str):
        return self.facts[fact_id].get(fact_key(dotted))


@dataclass
class EngineJudge:
    """Judges a partition with durable_rules: its records become facts (derived values
    included), each ruleset of the partition's scopes runs over them in one batch."""
    rulesets: dict[str, list[Ruleset]]
    params: dict
    as_of_year: int
    memberships: dict = field(default_factory=dict)
    shared: dict[str, dict] = field(default_factory=dict)    # CB-wide records by id (driver.shared_records)
    applies: dict = field(default_factory=dict)              # CompiledCatalog.applies

    def __post_init__(self):
        self.rule_of = {(rs.name, name): (compiled.rule_id, compiled.alternative)
                        for sets in self.rulesets.values() for rs in sets for name, compiled in rs.rules.items()}

    def start(self) -> tuple[dict[str, PartitionEngine], SharedFacts]:
        """The engines of one process (rulesets are registered once per process) and its cache
        of the CB-wide records' facts."""
        engines = {scope: PartitionEngine(rs) for scope, rs in self.rulesets.items() if rs}
        return engines, SharedFacts(self.shared, self.memberships)

    def judge(self, state: tuple[dict[str, PartitionEngine], SharedFacts], task: Task) -> Verdict:
        facts, where = self.facts(state, task)
        return self.verdict(state, task, facts, where)

    def facts(self, state: tuple[dict[str, PartitionEngine], SharedFacts], task: Task) -> tuple[list[dict], dict]:
        """(facts, where) of the partition, as judge() gives them to the engine (the cache reads
        their dates: checker.engine.cache)."""
        return engine_facts(task.records, self.params, self.as_of_year, task.sid, self.memberships, task.shared,
                            state[1])

    def verdict(self, state: tuple[dict[str, PartitionEngine], SharedFacts], task: Task, facts: list[dict],
                where: dict) -> Verdict:
        """The engine's verdict on the partition's `facts`."""
        engines = state[0]
        matches = [(*self.rule_of[(firing.ruleset, firing.rule)], firing.bindings)
                   for scope in RULE_SCOPES[task.scope] if scope in engines
                   for firing in engines[scope].run(task.sid, facts)]
        bound = {fid for _rule, _alt, bindings in matches for fid in bindings.values()}
        return EngineVerdict(task.sid, True, matches, {fid: where[fid] for fid in bound}, fact_count=len(facts),
                             applied=applied_counts(facts, where, set(task.shared), self.applies.get(task.scope, [])),
                             facts={f["id"]: f for f in facts if f["id"] in bound} if bound else {})


def evaluate(index: RecordIndex, rules: list[Rule], params: dict, as_of: dt.date, jobs=1,
             on_partition=None, withheld: set[str] = frozenset(), only_partitions: set[str] | None = None,
             cache: PartitionCache | None = None) -> Evaluation:
    """The engine's evaluation of `rules` over every partition, or over `only_partitions` (their
    sids); partitions holding a `withheld` record are not judged. `jobs` is the number of local
    worker processes, or a cluster to run on (a dask_runner.DaskCluster, `--dask`). With `cache`,
    partitions with a valid entry there are not judged again (checker.engine.cache)."""
    judge = engine_judge(index, rules, params, as_of)
    run = _runner(jobs, on_partition)
    if cache is not None:
        run = cached_run(cache, run, CacheSetting(rules, params, as_of, judge.shared, index.by_id, EngineVerdict))
    return drive(index, rules, params, as_of, judge, run=run, withheld=withheld, only_partitions=only_partitions)


def engine_judge(index: RecordIndex, rules: list[Rule], params: dict, as_of: dt.date) -> EngineJudge:
    """The engine's judge of `rules` on `as_of` over the records of `index`, its rulesets
    compiled and checked here (in the parent)."""
    catalog = compile_catalog(rules, as_of.isoformat())
    return EngineJudge(catalog.rulesets, params, as_of.year, catalog.memberships, shared_records(index),
                       catalog.applies)


def _runner(jobs, on_partition):
    """The driver's runner, `run(tasks, judge, meanwhile)`: each verdict given as it comes, and
    `meanwhile`'s (verdicts this process makes: a cache's reused ones) while the workers judge:
    the local pool for a number of processes, the standing pool, else the cluster's (its
    workers are elsewhere: this process's own verdicts go first, as the cluster's start)."""
    if isinstance(jobs, int):
        return lambda tasks, judge, meanwhile=(): judged_partitions(tasks, judge, jobs, on_partition, meanwhile)
    if isinstance(jobs, StandingPool):
        def run(tasks, judge, meanwhile=()):
            return jobs.judged(tasks, judge, on_partition, meanwhile)
        run.prepare = jobs.prepare      # its workers stand already: given the judge before the run (StandingPool)
        return run
    return lambda tasks, judge, meanwhile=(): chain(meanwhile, jobs.judged(tasks, judge, on_partition))


def evaluate_streamed(first: FirstPass, rules: list[Rule], params: dict, as_of: dt.date, jobs=1,
                      on_partition=None, withheld: set[str] = frozenset(),
                      cache: PartitionCache | None = None) -> tuple[Evaluation, list[Problem]]:
    """The engine's evaluation over a streamed input (records/stream.first_pass): each client's
    records are read and validated in a worker (engine/streamed.py). Returns it with the input
    problems the workers found; partitions holding a `withheld` record are read, not judged.
    With `cache`, clients and the CB-wide partition with a valid entry there are not read nor
    judged again."""
    judge = engine_judge(first.index, rules, params, as_of)
    setting = CacheSetting(rules, params, as_of, judge.shared, first.index.by_id, EngineVerdict,
                           keep=frozenset({CB_PARTITION}))

    def runner(on_done):
        run = _runner(jobs, on_done)
        return run if cache is None else cached_run(cache, run, setting)
    return drive_streamed(first, rules, params, as_of, judge, runner, withheld, on_partition, cache is not None)
