"""`check --cache DIR`: a runner that answers the partitions it holds a valid entry for and
passes the others to the runner it wraps (the worker pool, or any runner with its interface:
`run(tasks, judge)` -> each task's Verdict as it comes), then stores their verdicts.

An entry is valid when its key (keys.py: the partition's records, the CB-wide records it reads,
the catalog, the parameters, cbcheck's code, the evaluator) is this task's, and this run's
--as-of lies in its steady span: the dates around the run that stored it on which no `$as_of`
comparison of the rules flips for the partition's facts, within that run's calendar year
(change_dates.steady_span, computed in the worker from the facts the engine judged). The
partition's result is then the stored one on this date too, in either direction, so a cached
report is byte for byte an uncached one. Findings are made from the verdicts afterwards with
this run's --as-of, index and rules, so messages and locations are this run's.

A streamed run (engine/streamed.py) calls the runner twice, the clients and then the CB-wide
partition built from what they returned, with a judge that reads each client's records in the
worker (ReadingJudge): the verdict is dated inside it (`around`), a client's entry keeps what
the reading gave too (entries.py), and a task only read, not judged (withheld for input
errors), is neither looked up nor stored nor counted, as a whole-input run never runs it.
"""
from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field

from checker.catalog.applicability import applicability_groups
from checker.catalog.as_of_terms import DateSensitivity, date_sensitivity
from checker.collector import uncollected
from checker.engine.cache import entries
from checker.engine.cache.keys import code_digest, digest, setting_digest, task_digest
from checker.engine.cache.store import CacheDamaged, CacheUnavailable, Entry, EntryStore
from checker.engine.change_dates import steady_span
from checker.engine.partition import RULE_SCOPES
from checker.records.line_memo import LineMemo


@dataclass
class CacheStats:
    """What the cache did in a run: the summary's "cache" key and the stderr line."""
    partitions: int = 0
    reused: int = 0
    evaluated: int = 0
    new: int = 0          # no entry for the partition
    changed: int = 0      # an entry for other records, catalog, parameters or code
    date: int = 0         # same key, but a date on which the result may change lies between the two --as-of
    unreadable: int = 0   # a corrupt, truncated or foreign entry (or cache file)
    stored: int = 0
    pruned: int = 0       # entries of partitions this run did not evaluate, dropped
    problem: str = ""     # why the cache could not be read or written (the run went on without it)

    def as_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k != "problem" or v}

    def line(self) -> str:
        misses = ", ".join(f"{n} {why}" for why, n in (("new", self.new), ("changed", self.changed),
                                                         ("past a change date", self.date),
                                                         ("unreadable", self.unreadable)) if n)
        return (f"reused {self.reused} of {self.partitions} partition(s), evaluated {self.evaluated}"
                + (f" ({misses})" if misses else "") + (f"; {self.problem}" if self.problem else ""))


class PartitionCache:
    """The cache in one folder and what it did in this process's runs."""

    def __init__(self, folder):
        self.store = EntryStore(folder)
        self.stats = CacheStats()

    def prepare(self):
        """Why the cache cannot be used (a Problem), or None; creates the folder if missing."""
        return self.store.prepare()


@contextlib.contextmanager
def line_memo(cache: PartitionCache | None):
    """The first pass's memo of JSON Lines chunks (records/line_memo.py) in `cache` (None
    without a cache), keyed on cbcheck's code too; what the pass took tonight is stored once
    it completes (a pass that raises stores nothing)."""
    if cache is None:
        yield None
        return
    try:
        entries_read = cache.store.line_entries()
    except CacheUnavailable as exc:
        cache.stats.problem = str(exc)
        yield None
        return
    memo = LineMemo(entries_read.get, code_digest().encode())
    yield memo
    entries_read.clear()      # not held while the partitions are judged
    try:
        cache.store.write_lines(memo.fresh, memo.seen)
    except CacheUnavailable as exc:
        cache.stats.problem = str(exc)


@dataclass
class CacheSetting:
    """What the verdicts of one evaluation depend on besides each partition's records."""
    rules: list                    # the rules judged
    params: dict                   # parameter values
    as_of: dt.date
    shared: dict[str, dict]        # CB-wide records by id (driver.shared_records)
    known_records: object          # `record id in known_records` for the input's records
    verdict_type: type             # the engine's verdict class, rebuilt from entries
    # Partitions whose entries stay though the first call does not run them: a streamed run's
    # CB-wide partition, run in a second call. Each call drops the entries of partitions
    # neither here nor in the run's calls so far.
    keep: frozenset = frozenset()


@dataclass
class Dated:
    """A verdict with the dates around its run on which it holds (see steady_span)."""
    sid: str
    verdict: object
    steady: tuple[dt.date, dt.date]


@dataclass
class DatedJudge:
    """Judges as `inner` does and dates the verdict from the same facts, in the worker."""
    inner: object                  # EngineJudge: facts(state, task), verdict(state, task, facts, where)
    sensitivity: dict[str, DateSensitivity] = field(default_factory=dict)   # partition scope -> dates read
    as_of: dt.date = dt.date.min

    def start(self):
        return self.inner.start()

    def judge(self, state, task) -> Dated:
        facts, where = self.inner.facts(state, task)
        steady = steady_span(facts, self.sensitivity[task.scope], self.as_of)
        return Dated(task.sid, self.inner.verdict(state, task, facts, where), steady)


def _streamed(task) -> bool:
    """Whether the task's records are read in the worker (ReadingJudge): its verdict says where
    they stand and what the CB-wide partition takes of them, and its entry keeps that."""
    return bool(getattr(task, "sources", None))


def _dated(judge, sensitivity: dict, as_of: dt.date):
    """`judge` dating its verdicts: a judge that wraps the engine's (ReadingJudge) dates inside."""
    def make(inner):
        return DatedJudge(inner, sensitivity, as_of)
    return judge.around(make) if hasattr(judge, "around") else make(judge)


def cached_run(cache: PartitionCache, inner_run, setting: CacheSetting):
    """A runner answering from `cache` where it can and from `inner_run` elsewhere.
    `inner_run(tasks, judge, meanwhile)` gives the tasks' verdicts and, while its workers judge
    them, the verdicts `meanwhile` gives (the reused ones, decoded here: evaluate._runner)."""
    evaluator = f"{setting.verdict_type.__module__}.{setting.verdict_type.__qualname__}"
    run_key = setting_digest(setting.rules, setting.params, evaluator)
    shared = {rid: digest(record) for rid, record in setting.shared.items()}
    sensitivity = {scope: date_sensitivity(setting.rules, scopes) for scope, scopes in RULE_SCOPES.items()}
    seen = set(setting.keep)          # the partitions of this run's calls so far: their entries stay
    dated_judges: list = []            # (judge, it dating its verdicts): one each, the one prepared and run

    def dated(judge):
        for given, made in dated_judges:
            if given is judge:
                return made
        dated_judges.append((judge, _dated(judge, sensitivity, setting.as_of)))
        return dated_judges[-1][1]

    def prepare(judge):
        """The inner runner's prepare (see StandingPool.prepare) with the judge `run` will give it."""
        if hasattr(inner_run, "prepare"):
            inner_run.prepare(dated(judge))

    def run(tasks, judge) -> Iterator:
        judged = [task for task in tasks if getattr(task, "judged", True)]
        task_keys = {task.sid: task_digest(task, shared, run_key) for task in judged}
        seen.update(task_keys)
        # The entries' keys and dates are read first, and the partitions without a valid entry
        # given to the workers before the valid entries are decoded: the workers judge while
        # this process decodes and collects the reused verdicts.
        valid = _valid(cache, judged, task_keys, setting)
        lost: list = []       # valid tasks whose entry did not decode: judged after the others
        reused = _reused(cache, [task for task in judged if task.sid in valid], task_keys, setting, lost)
        streamed = {task.sid for task in judged if _streamed(task)}
        rows = {}      # each fresh verdict's entry, made as it comes (a failure is never stored)
        for result in _given(inner_run, [task for task in tasks if task.sid not in valid],
                             dated(judge), reused, lost):
            if isinstance(result, Dated):
                entry = _entry(result, task_keys[result.sid], result.sid in streamed)
                if entry is not None:
                    rows[result.sid] = entry
                result = result.verdict
            yield result
        _store(cache, rows, seen)
    run.prepare = prepare
    return run


def _given(inner_run, todo: list, judge, reused: Iterator, lost: list) -> Iterator:
    """The verdicts of `todo` from `inner_run` with the `reused` ones given meanwhile, then
    those of the tasks `lost` holds once `reused` is through."""
    yield from inner_run(todo, judge, reused) if todo else reused
    if lost:
        yield from inner_run(lost, judge, iter(()))


def _valid(cache: PartitionCache, tasks, task_keys: dict[str, str], setting: CacheSetting) -> set[str]:
    """The sids of the tasks whose entry's key and dates are this run's (their verdicts not
    read yet: _reused); every other task is counted by why not."""
    stats, why_of, damaged, day = cache.stats, {}, False, setting.as_of.isoformat()
    try:
        for batch in cache.store.batches(sids=task_keys.keys(), texts=False):
            why_of.update((sid, _lookup(entry, task_keys[sid], day)[1]) for sid, entry in batch if sid in task_keys)
    except CacheDamaged:
        damaged = True
    except CacheUnavailable as exc:
        stats.problem = str(exc)
    valid = set()
    for task in tasks:
        why = "unreadable" if damaged else why_of.get(task.sid, "new")
        if why == "reused":
            valid.add(task.sid)
        else:
            setattr(stats, why, getattr(stats, why) + 1)
    stats.partitions += len(tasks)
    stats.evaluated += len(tasks) - len(valid)
    return valid


def _reused(cache: PartitionCache, tasks, task_keys: dict[str, str], setting: CacheSetting, lost: list) -> Iterator:
    """The verdicts of `tasks` (each with a valid entry: _valid), decoded a batch of the
    store's entries at a time and given before the next batch is read (read and decoded at
    once, the entries of 10,000 clients took a cached night's main process from 166 to
    254 MB); every task is counted as reused or by why not, and added to `lost` when not. An
    entry read and decoded whole is reused even when the file turns out damaged in pages read
    after it; the tasks not reused then count as unreadable."""
    stats, by_sid, why_of, damaged = cache.stats, {task.sid: task for task in tasks}, {}, False
    decode, day = _decoder(setting), setting.as_of.isoformat()
    try:
        for batch in cache.store.batches(sids=by_sid.keys()):
            # Decoding makes the verdicts, places and CB-wide inputs of every reused partition
            # (300,000 objects at 10,000 clients): full collections walked them (0.55 CPU-s).
            with uncollected():
                found = [(sid, _lookup(entry, task_keys[sid], day, lambda text, t=by_sid[sid]: decode(text, t)))
                         for sid, entry in batch if sid in by_sid]
            for sid, (verdict, why) in found:
                why_of[sid] = why
                if verdict is not None:
                    yield verdict
    except CacheDamaged:
        damaged = True
    except CacheUnavailable as exc:
        stats.problem = str(exc)
    for task in tasks:      # an entry changed or gone since _valid read it (another run wrote) is a miss too
        why = why_of.get(task.sid, "new")
        why = "unreadable" if damaged and why != "reused" else why
        setattr(stats, why, getattr(stats, why) + 1)
        if why != "reused":
            lost.append(task)
    stats.evaluated += len(lost)


def _decoder(setting: CacheSetting):
    """decode(text, task): the verdict an entry's text holds for `task`, or None (entries.decode)."""
    rules_by_id, groups = {rule.id: rule for rule in setting.rules}, {}

    def decode(text: str, task):
        if task.scope not in groups:    # a streamed run's calls hold one scope each: the other's is not needed
            groups[task.scope] = len(applicability_groups(setting.rules, RULE_SCOPES[task.scope]))
        return entries.decode(text, task.sid, rules_by_id, setting.known_records, setting.verdict_type,
                              groups[task.scope], _streamed(task))
    return decode


def _lookup(entry: Entry | None, key: str, day: str, decode=None):
    """(the entry's verdict or None, "reused" or why not) on `day` (--as-of, ISO); `decode(text)`
    reads the entry's verdict (without it: whether the entry's key and dates are valid, its
    verdict not read)."""
    if entry is None:
        return None, "new"
    if entry.digest != key:
        return None, "changed"
    if not entry.steady_from <= day <= entry.steady_until:
        return None, "date"
    if decode is None:
        return None, "reused"
    verdict = decode(entry.verdict)
    return verdict, "reused" if verdict is not None else "unreadable"


def _entry(dated: Dated, key: str, streamed: bool) -> Entry | None:
    """The entry of a fresh verdict (a `streamed` one with what its reading gave), or None when
    it is not stored: a failed one, or one entries.encode cannot write exactly."""
    text = entries.encode(dated.verdict, streamed) if dated.verdict.ok else None
    return None if text is None else Entry(key, dated.steady[0].isoformat(), dated.steady[1].isoformat(), text)


def _store(cache: PartitionCache, rows: dict[str, Entry], keep: set[str]):
    """Store the fresh verdicts' entries and prune the entries of partitions not in `keep` (this run's)."""
    try:
        cache.stats.pruned += cache.store.write(rows, set(keep))
    except CacheUnavailable as exc:
        cache.stats.problem = str(exc)
        return
    cache.stats.stored += len(rows)
