"""The partition driver for a streamed run (records/stream.first_pass): each client partition's
records are read again, validated and judged inside a worker, and dropped there.

The client partitions go first, every one of them, withheld ones too: a withheld partition is
read and validated only (every input problem is listed, as a whole-input run lists them). The
CB-wide partition goes last, once every client has given the records its CB-wide kinds read
(derive_cb_wide), and only when none of those had input errors. Each verdict becomes findings
as it comes, with the driver's own Collector, so a streamed run reports what a whole-input run
reports, and the main process keeps no verdict (nor their CB-wide inputs: CbInputs).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import marshal
import os
import tempfile
from collections import ChainMap, Counter
from dataclasses import dataclass

from checker.catalog.loader import Rule
from checker.collector import uncollected
from checker.derive import CB_WIDE_INPUTS, derive_cb_wide
from checker.engine.driver import Collector, Evaluation, Task, Verdict, judged_partition, paired
from checker.engine.partition import CB_PARTITION, RULE_SCOPES, CbWideShares, Partition
from checker.errors import Problem, sort_problems
from checker.records.reader import Record
from checker.records.stream import FirstPass, InternedData, Located, WholeInputNeeded, detached, located, read_back
from checker.records.stubs import BlockStubs
from checker.records.validate import validate_record


@dataclass
class ReadingJudge:
    """Wraps a judge: reads a task's `sources`, validates them, and judges the partition only
    when they are sound (and the task is to be judged)."""
    inner: object
    files: list
    spill: object = None        # records/spill.Spill: the first pass's parse of the YAML and JSON files

    def start(self):
        return self.inner.start()

    def around(self, wrap) -> ReadingJudge:
        """This judge reading for `wrap(inner judge)`: a cache dates the verdict from the facts
        of the records read here (checker.engine.cache.runner)."""
        return ReadingJudge(wrap(self.inner), self.files, self.spill)

    def judge(self, state, task: Task) -> Verdict:
        if not task.sources:
            return self.inner.judge(state, task)
        whole, stubs = [], []
        for source in task.sources:     # one pass: a block's Stubs are made as they are met
            (whole if isinstance(source, Record) else stubs).append(source)
        records, unchanged = read_back(self.files, stubs, self.spill)
        if not unchanged:
            return Verdict(task.sid, False, reread_failed=True, error="a record file changed during the run")
        records += whole
        problems = [(record.id, p) for record in records for p in validate_record(record)]
        cb_inputs = [(InternedData(r.data), located(r)) for r in records if r.type in CB_WIDE_INPUTS]
        if problems or not task.judged:
            return Verdict(task.sid, False, problems=problems, cb_inputs=cb_inputs)
        result = self.inner.judge(state, dataclasses.replace(task, records=[r.data for r in records], sources=[]))
        verdict = getattr(result, "verdict", result)     # a cache's judge gives the verdict with its dates
        bound = {record_id for record_id, _pointer in verdict.where.values()}
        verdict.located = {r.id: located(r) for r in records if r.id in bound}
        verdict.cb_inputs = cb_inputs
        return result


def _entry_digest(entry) -> bytes:
    """A record's content and place: a stub's digest of its bytes, or a whole record's data."""
    if isinstance(entry, Record):
        text = f"{entry.file}\x1f{entry.root}\x1f{entry.line_of()}\x1f{entry.data!r}"
        return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=12).digest()
    # Not a stub's byte offset (`at`): it only says where to read the record again, and it moves
    # whenever a line before it grows or shrinks, which would make every later client of a
    # JSON Lines export miss the cache; its bytes, file and line are what its verdict reads.
    return f"{entry.file}\x1f{entry.line}\x1f{entry.root}\x1f".encode(
        "utf-8", "surrogatepass") + entry.digest


def task_digest(first: FirstPass, own, shared: list[str], known: dict[str, bytes]) -> str:
    """A digest of a client task's content: its own records' (`own`: their ids, or the client's
    block of rows, digested whole) and the shared records' (it reads) bytes and places. `known`
    caches the shared records' digests across tasks."""
    h = hashlib.blake2b(digest_size=16)
    if isinstance(own, BlockStubs):
        h.update(b"rows\x1f" + own.content_digest())
    else:
        for rid in own:
            h.update(_entry_digest(first.index.by_id[rid]))
    for rid in shared:
        if rid not in known:
            known[rid] = _entry_digest(first.index.by_id[rid])
        h.update(known[rid])
    return h.hexdigest()


def _own(first: FirstPass, clients: Counter) -> dict[str, list[str]]:
    """The ids of the records of each client some of whose records the first pass kept whole
    (a refused record, a file of several clients' records...), sorted; the others' are all in
    their blocks of rows (`clients`: how many records each client owns)."""
    table = first.index.by_id
    mixed = {client for client, n in clients.items() if client is not None and len(table.client_rows(client) or ()) != n}
    if not mixed:
        return {}
    own: dict[str, list[str]] = {client: [] for client in mixed}
    for rid, client in first.index.owner_client.items():
        if client in mixed:
            own[client].append(rid)
    return {client: sorted(ids) for client, ids in own.items()}


def _source(entry):
    return detached(entry) if isinstance(entry, Record) else entry


def client_tasks(first: FirstPass, rules: list[Rule], withheld: set[str],
                 digests: bool = True) -> tuple[list[Task], Task | None]:
    """(a task per client partition, the CB-wide partition's task without its records: built
    once the clients are read): the partitions build_partitions gives, built from the blocks of
    rows (a client's own records are its block, read in the worker, unless the pass kept some
    whole: then their ids) and partition.CbWideShares. Every client is read; `judged` says
    which are judged. Without `digests` the tasks carry none (only a cache reads them)."""
    index = first.index
    clients = Counter(index.owner_client.values())
    cb_wide = [rid for rid, client in index.owner_client.items() if client is None]
    shares, mixed = CbWideShares(index, cb_wide), _own(first, clients)
    # The clients that own a withheld record; a CB-wide one withholds the partitions that hold it.
    withholding = {index.owner_client.get(rid) for rid in withheld}
    has_rules = {scope: judged_partition(Partition("", scope, []), rules) for scope in RULE_SCOPES}
    tasks, known = [], {}
    for client in sorted(clients.keys() - {None}):
        shared = shares.of(client)
        own = mixed.get(client) or index.by_id.client_rows(client)
        sources = own if isinstance(own, BlockStubs) else [_source(index.by_id[rid]) for rid in own]
        judged = has_rules["client"] and client not in withholding and withheld.isdisjoint(shared)
        tasks.append(Task(client, "client", [], shared, sources=sources,
                          digest=task_digest(first, own, shared, known) if digests else "", judged=judged))
    cb_task = Task(CB_PARTITION, "cb", [], judged=withheld.isdisjoint(cb_wide)) if has_rules["cb"] else None
    return tasks, cb_task


@dataclass
class _Progress:
    """One count over both runs (the clients, then the CB-wide partition) for `on_done(done, total)`."""
    on_done: object
    total: int
    done: int = 0

    def step(self, _done: int, _total: int):
        self.done += 1
        self.on_done(self.done, self.total)

    def finish(self):
        if self.on_done and self.done < self.total:
            self.on_done(self.total, self.total)


def drive_streamed(first: FirstPass, rules: list[Rule], params: dict, as_of: dt.date, judge, runner,
                   withheld: set[str], on_partition=None, digests: bool = True) -> tuple[Evaluation, list[Problem]]:
    """(the evaluation, the input problems the workers found in the clients' records).
    `runner(on_done)` gives the runner, `run(tasks, judge)` (an iterable of their verdicts),
    reporting progress to `on_done`; `withheld`: ids of records whose partitions are not judged
    (problems the first pass found); raises WholeInputNeeded when a file no longer reads as it
    did in the first pass; `digests`: whether the tasks need their digests (a cache reads them).
    Each verdict is folded into the evaluation as it comes (driver.Collector), and what it
    gives the CB-wide partition is set aside (CbInputs): the main process keeps no verdict."""
    tasks, cb_task = client_tasks(first, rules, withheld, digests)
    progress = _Progress(on_partition, len(tasks) + (cb_task is not None and cb_task.judged))
    run = runner(progress.step if on_partition else None)
    collector = Collector(rules, params, as_of, lambda verdict: ChainMap(verdict.located, first.index.by_id))
    with CbInputs(first.spill) as cb_inputs:
        problems, found_withheld = _judge_clients(run(tasks, ReadingJudge(judge, first.files, first.spill)), tasks,
                                                  rules, collector, cb_inputs)
        if cb_task is not None:
            with uncollected():     # every client's, made at once and held to the end: 2 full collections at 10k
                inputs = cb_inputs.data()
            cb_task = _cb_task(first, cb_task, set(withheld) | found_withheld, inputs, params)
            del inputs
            if cb_task.judged:
                for task, verdict in paired([cb_task], run([cb_task], judge)):
                    verdict.located = cb_inputs.located({record_id for record_id, _pointer in verdict.where.values()})
                    collector.add(task, verdict)
            else:
                collector.held(cb_task)
    progress.finish()
    return collector.evaluation(), sort_problems(problems)


def _judge_clients(verdicts, tasks: list[Task], rules: list[Rule], collector: Collector,
                   cb_inputs: CbInputs) -> tuple[list[Problem], set[str]]:
    """(the input problems the clients' records have, the ids of those records), each client's
    verdict collected as it comes (or its partition held, when it has rules to run and was not
    judged) and what it gives the CB-wide partition set aside."""
    problems, withheld, changed = [], set(), False
    for task, verdict in paired(tasks, verdicts):
        changed |= verdict.reread_failed
        problems += [problem for _rid, problem in verdict.problems]
        withheld.update(rid for rid, _problem in verdict.problems)
        cb_inputs.add(task.sid, verdict.cb_inputs)
        if task.judged and not verdict.problems:
            collector.add(task, verdict)
        elif judged_partition(task, rules):
            collector.held(task)
    if changed:
        raise WholeInputNeeded("a record file changed during the run")
    return problems, withheld


class CbInputs:
    """The data of the clients' records the CB-wide kinds read, with where each stands
    (ReadingJudge's cb_inputs), kept out of the main process's memory until every client is
    read (at 10,000 clients they held 48 MB there): each client's are written as they come to
    an unnamed temporary file (in the run's spill folder when there is one), in marshal's
    format (plain values: the records' data are JSON values; loading runs no code), their data
    and their places apart: derive_cb_wide reads every client's data at once (`data`), the
    findings the places of the records they name only (`located`). A client's are kept in
    memory instead when they cannot be written (no room, a value marshal cannot hold): the run
    is never different."""

    def __init__(self, spill=None):
        # sid -> ((offset, length) of its data, of its places) in the file, or the list
        self.places: dict[str, tuple[tuple[int, int], tuple[int, int]] | list] = {}
        self.end = 0
        try:
            self.file = tempfile.TemporaryFile(prefix="cb-inputs-", dir=getattr(spill, "folder", None))
        except OSError:
            self.file = None

    def __enter__(self):
        return self

    def __exit__(self, *_exc):
        if self.file is not None:
            self.file.close()

    def add(self, sid: str, cb_inputs: list):
        if not cb_inputs:
            return
        self.places[sid] = cb_inputs      # unless written below
        if self.file is None:
            return
        try:
            blobs = (marshal.dumps([dict(data) for data, _where in cb_inputs]),
                     marshal.dumps([(data["id"], (where.type, where.file, where.root, where.lines, where.first_line))
                                    for data, where in cb_inputs]))
            for blob in blobs:
                os.pwrite(self.file.fileno(), blob, self.end + (blob is blobs[1]) * len(blobs[0]))
        except (ValueError, OSError):
            return
        self.places[sid] = ((self.end, len(blobs[0])), (self.end + len(blobs[0]), len(blobs[1])))
        self.end += len(blobs[0]) + len(blobs[1])

    def _read(self, sid: str, part: int) -> list:
        """Client `sid`'s data (`part` 0) or (id, place) pairs (1)."""
        place = self.places[sid]
        if isinstance(place, list):
            return [data if part == 0 else (data["id"], where) for data, where in place]
        offset, length = place[part]
        found = marshal.loads(os.pread(self.file.fileno(), length, offset))
        return found if part == 0 else [(rid, Located(*where)) for rid, where in found]

    def data(self) -> list[dict]:
        """Every client's records' data, in the order of their sids."""
        return [data for sid in sorted(self.places) for data in self._read(sid, 0)]

    def located(self, ids: set[str]) -> dict[str, Located]:
        """Where the records under `ids` stand (of an id two clients' records have, the place
        of the last client's, in the order of their sids)."""
        return {rid: where for sid in sorted(self.places) for rid, where in self._read(sid, 1) if rid in ids}


def _cb_task(first: FirstPass, task: Task, withheld: set[str], cb_inputs: list[dict], params: dict) -> Task:
    index = first.index
    shared = sorted(rid for rid, client in index.owner_client.items() if client is None)
    blocked = any(index.by_id[rid].type in CB_WIDE_INPUTS for rid in withheld if rid in index.by_id)
    if not task.judged or blocked or not withheld.isdisjoint(shared):
        return dataclasses.replace(task, judged=False)
    records = [index.by_id[rid].data for rid in shared]
    derived = derive_cb_wide(records + cb_inputs, params)
    # Its content: the CB-wide records (bytes and places) and what the clients' records gave it.
    h = hashlib.blake2b(repr(derived).encode("utf-8", "surrogatepass"), digest_size=16)
    for rid in shared:
        h.update(_entry_digest(index.by_id[rid]))
    return dataclasses.replace(task, records=records + derived, digest=h.hexdigest())
