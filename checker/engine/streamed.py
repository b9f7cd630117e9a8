"""The partition driver for a streamed run (records/stream.first_pass): each client partition's
records are read again, validated and judged inside a worker, and dropped there.

The client partitions go first, every one of them, withheld ones too: a withheld partition is
read and validated only (every input problem is listed, as a whole-input run lists them). The
CB-wide partition goes last, once every client has given what the CB-wide kinds need of its
records (cb_given: derive's cb_shares, a few values a record at most), and only when none of
those records had input errors. Each verdict becomes findings as it comes, with the driver's
own Collector, so a streamed run reports what a whole-input run reports, and the main process
keeps no verdict, and of the CB-wide kinds' inputs only their running tally (CbInputs).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from bisect import bisect_left
from collections import ChainMap, Counter
from collections.abc import Sequence
from dataclasses import dataclass

from checker.catalog.loader import Rule
from checker.collector import uncollected
from checker.derive import CB_WIDE_INPUTS, CbWideTally, cb_shares
from checker.engine.driver import Collector, Evaluation, Task, Verdict, judged_partition, paired
from checker.engine.partition import CB_PARTITION, RULE_SCOPES, CbWideShares, Partition
from checker.engine.shelf import Shelf
from checker.errors import Problem, sort_problems
from checker.records.index import unowned
from checker.records.reader import Record
from checker.records.stream import FirstPass, Located, WholeInputNeeded, detached, located, read_back
from checker.records.stubs import BlockStubs
from checker.records.validate import validate_record


class ClientSources:
    """A client task's own records, `own` (its block of rows, or the stubs of its records and
    those the first pass kept whole), with what a worker needs to read them, by file number:
    each file's (path, name), `files`, and where the spill holds its entry, `places`. A worker
    is sent these with each task, not the run's every file and spill place (an export in
    folders has a file per client: 1.4 MB at 25,000 clients, in each worker for the whole run).
    `files` and `places` are found when first read or when the task is sent: a cached night's
    reused tasks are never sent (finding them for 10,000 clients took its main 0.12 s)."""

    def __init__(self, own: Sequence, files: dict | None = None, places: dict | None = None, first=None):
        self.own, self._first = own, first      # `first`: the FirstPass they are found in, when not given
        self._found = (files, places) if first is None else None

    @classmethod
    def of(cls, first: FirstPass, own: Sequence) -> ClientSources:
        """`own`, its files' names, paths and spill places to be found in the first pass."""
        return cls(own, first=first)

    @property
    def files(self) -> dict:
        return self._files_and_places()[0]

    @property
    def places(self) -> dict:
        return self._files_and_places()[1]

    def _files_and_places(self) -> tuple[dict, dict]:
        if self._found is None:
            own, first = self.own, self._first
            numbers = own.file_numbers() if isinstance(own, BlockStubs) else {
                source.file_no for source in own if not isinstance(source, Record)}
            places = first.spill.places if first.spill is not None else {}
            self._found = {n: first.files[n] for n in numbers}, {n: places[n] for n in numbers if n in places}
            self._first = None
        return self._found

    def __reduce__(self):
        # Sent without the first pass: its files and places found here.
        return ClientSources, (self.own, *self._files_and_places())

    def __len__(self) -> int:
        return len(self.own)


@dataclass
class ReadingJudge:
    """Wraps a judge: reads a task's `sources` (ClientSources), validates them, and judges the
    partition only when they are sound (and the task is to be judged)."""
    inner: object
    spill: object = None        # records/spill.Spill, narrowed to no file: each task's are its own
    params: dict = dataclasses.field(default_factory=dict)      # the run's parameters (for cb_given)

    def start(self):
        return self.inner.start()

    def around(self, wrap) -> ReadingJudge:
        """This judge reading for `wrap(inner judge)`: a cache dates the verdict from the facts
        of the records read here (checker.engine.cache.runner)."""
        return ReadingJudge(wrap(self.inner), self.spill, self.params)

    def judge(self, state, task: Task) -> Verdict:
        if not task.sources:
            return self.inner.judge(state, task)
        sources: ClientSources = task.sources
        whole, stubs = [], []
        for source in sources.own:     # one pass: a block's Stubs are made as they are met
            (whole if isinstance(source, Record) else stubs).append(source)
        spill = self.spill.narrowed(sources.places) if self.spill is not None else None
        records, unchanged = read_back(sources.files, stubs, spill)
        if not unchanged:
            return Verdict(task.sid, False, reread_failed=True, error="a record file changed during the run")
        records += whole
        problems = [(record.id, p) for record in records for p in validate_record(record)]
        cb_inputs = cb_given(records, problems, self.params)
        if problems or not task.judged:
            return Verdict(task.sid, False, problems=problems, cb_inputs=cb_inputs)
        result = self.inner.judge(state, dataclasses.replace(task, records=[r.data for r in records], sources=[]))
        verdict = getattr(result, "verdict", result)     # a cache's judge gives the verdict with its dates
        bound = {record_id for record_id, _pointer in verdict.where.values()}
        verdict.located = {r.id: located(r) for r in records if r.id in bound}
        verdict.cb_inputs = cb_inputs
        return result


def cb_given(records: list[Record], problems: list, params: dict) -> dict | None:
    """What a client's records give the CB-wide partition: their cb_shares, the little each
    CB-wide kind needs of them; None when it has no record of the kinds' types, or one of those
    has input errors (the CB-wide partition is then not judged: _cb_task)."""
    mine = [r for r in records if r.type in CB_WIDE_INPUTS]
    if not mine or not {r.id for r in mine}.isdisjoint(rid for rid, _problem in problems):
        return None
    return cb_shares([r.data for r in mine], params)


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


def task_digest(first: FirstPass, own) -> str:
    """A digest of a client task's own records (`own`: their ids, or the client's block of
    rows, digested whole): their bytes and places. The CB-wide records it reads are not in it:
    a cache's key holds their digests beside it (engine/cache/keys.task_digest: of their data,
    which is all a verdict reads of them; their places are this run's index's)."""
    if isinstance(own, BlockStubs):
        return (b"rows\x1f" + own.content_digest()).hex()
    h = hashlib.blake2b(digest_size=16)
    for rid in own:
        h.update(_entry_digest(first.index.by_id[rid]))
    return h.hexdigest()


def _own(first: FirstPass, clients: Counter) -> dict[str, list[str]]:
    """The ids of the records of each client some of whose records the first pass kept whole
    (a refused record, a file of several clients' records...), sorted; the others' are all in
    their blocks of rows (`clients`: how many records each client owns)."""
    table, owners = first.index.by_id, first.index.owner_client
    mixed = {client for client, n in clients.items() if client is not None and len(table.client_rows(client) or ()) != n}
    if not mixed:
        return {}
    # Its records kept whole, and those in its block (read from there: not a walk over every id).
    own: dict[str, list[str]] = {client: [] for client in mixed}
    for rid in table.whole:
        client = owners.get(rid)
        if client in mixed:
            own[client].append(rid)
    for client, ids in own.items():
        rows = table.client_rows(client)
        ids += rows.ids if rows is not None else ()
    return {client: sorted(ids) for client, ids in own.items()}


def _source(entry):
    return detached(entry) if isinstance(entry, Record) else entry


def client_tasks(first: FirstPass, rules: list[Rule], withheld: set[str],
                 digests: bool = True) -> tuple[ClientTasks | list[Task], Task | None]:
    """(the client partitions' tasks, made as they are asked for: ClientTasks; the CB-wide
    partition's task without its records: built once the clients are read). With `digests`
    (only a cache reads them) they are made at once, a list: a cache reads every task's digest
    before it runs any, and then the tasks it did not answer (made twice, a cached night's
    main process took 1 CPU-s more at 10,000 clients)."""
    cb_wide = unowned(first.index.owner_client)
    has_rules = {scope: judged_partition(Partition("", scope, []), rules) for scope in RULE_SCOPES}
    tasks = ClientTasks(first, cb_wide, withheld, has_rules["client"], digests)
    cb_task = Task(CB_PARTITION, "cb", [], judged=withheld.isdisjoint(cb_wide)) if has_rules["cb"] else None
    if digests:
        with uncollected():     # 10,000 tasks held to the end: collections walking them cost 0.04 CPU-s a night
            return list(tasks), cb_task
    return tasks, cb_task


class ClientTasks(Sequence):
    """A task per client partition, in the order of the clients' ids: the partitions
    build_partitions gives, built from the blocks of rows (a client's own records are its block,
    read in the worker, unless the pass kept some whole: then their ids) and
    partition.CbWideShares. Every client is read; `judged` says which are judged.

    Each task is made when it is asked for (a runner takes a chunk of them at a time) and is not
    kept: made at once and held until the last verdict, they took the main process about 480
    bytes a client (the list of its shared ids, the block's place, the digest, the Task),
    12 MB at 25,000 clients, for the whole evaluation. Folding a verdict reads only its task's
    sid, scope and `judged` (paired through `waiting()`, which makes no task again)."""

    def __init__(self, first: FirstPass, cb_wide: list[str], withheld: set[str], has_rules: bool, digests: bool):
        index = first.index
        clients = index.owner_client.counts()
        self.first, self.withheld, self.has_rules, self.digests = first, withheld, has_rules, digests
        self.sids = sorted(clients.keys() - {None})
        self.shares, self.mixed = CbWideShares(index, cb_wide), _own(first, clients)
        # The clients that own a withheld record; a CB-wide one withholds the partitions that hold it.
        self.withholding = {index.owner_client.get(rid) for rid in withheld}

    def __len__(self) -> int:
        return len(self.sids)

    def __getitem__(self, at):
        if isinstance(at, slice):
            return [self._task(sid) for sid in self.sids[at]]
        return self._task(self.sids[at])

    def judged(self, client: str, shared: list[str] | None = None) -> bool:
        """Whether client `client`'s partition is judged (`shared`: its shared ids, when known)."""
        if not self.has_rules or client in self.withholding:
            return False
        return not self.withheld or self.withheld.isdisjoint(self.shares.of(client) if shared is None else shared)

    def _task(self, client: str) -> Task:
        index = self.first.index
        shared = self.shares.of(client)
        own = self.mixed.get(client) or index.by_id.client_rows(client)
        sources = own if isinstance(own, BlockStubs) else [_source(index.by_id[rid]) for rid in own]
        return Task(client, "client", [], shared, sources=ClientSources.of(self.first, sources),
                    digest=task_digest(self.first, own) if self.digests else "",
                    judged=self.judged(client, shared))

    def waiting(self) -> _Unanswered:
        """The tasks waiting for their verdict (driver.paired), as one byte a client."""
        return _Unanswered(self)


class _Unanswered:
    """driver.Waiting of ClientTasks: `take` gives what folding a verdict reads of its task
    (sid, scope, judged), not the task made again."""

    def __init__(self, tasks: ClientTasks):
        self.tasks, self.answered = tasks, bytearray(len(tasks.sids))

    def take(self, sid: str) -> Task | None:
        sids = self.tasks.sids
        at = bisect_left(sids, sid)
        if at == len(sids) or sids[at] != sid or self.answered[at]:
            return None
        self.answered[at] = 1      # its own sid, not the verdict's copy (the tally and the shelf keep it)
        return Task(sids[at], "client", [], judged=self.tasks.judged(sid))

    def left(self) -> list[str]:
        return [sid for sid, answered in zip(self.tasks.sids, self.answered) if not answered]


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
    progress = _Progress(on_partition, 0)
    run = runner(progress.step if on_partition else None)
    reading = ReadingJudge(judge, first.spill.narrowed({}) if first.spill is not None else None, params)
    if hasattr(run, "prepare"):     # standing workers: they start the judge while the tasks are made
        run.prepare(reading)
    tasks, cb_task = client_tasks(first, rules, withheld, digests)
    progress.total = len(tasks) + (cb_task is not None and cb_task.judged)
    with Shelf(getattr(first.spill, "folder", None), "findings-") as shelf:
        collector = Collector(rules, params, as_of, lambda verdict: ChainMap(verdict.located, first.index.by_id),
                              shelf)
        with CbInputs(params, first.spill) as cb_inputs:
            problems, found_withheld = _judge_clients(run(tasks, reading), tasks, rules, collector, cb_inputs)
            if cb_task is not None:
                cb_task = _cb_task(first, cb_task, set(withheld) | found_withheld, cb_inputs, params)
        if cb_task is not None:
            _judge_cb(first, cb_task, run, judge, collector)
        progress.finish()
        return collector.evaluation(), sort_problems(problems)


def _judge_cb(first: FirstPass, cb_task: Task, run, judge, collector: Collector):
    """The CB-wide partition's verdict collected (or the partition held, when not judged)."""
    if not cb_task.judged:
        collector.held(cb_task)
        return
    for task, verdict in paired([cb_task], run([cb_task], judge)):
        verdict.located = _located_again(first, {record_id for record_id, _pointer in verdict.where.values()})
        collector.add(task, verdict)


def _judge_clients(verdicts, tasks: ClientTasks | list[Task], rules: list[Rule], collector: Collector,
                   cb_inputs: CbInputs) -> tuple[list[Problem], set[str]]:
    """(the input problems the clients' records have, the ids of those records), each client's
    verdict collected as it comes (or its partition held, when it has rules to run and was not
    judged) and what it gives the CB-wide partition set aside."""
    problems, withheld, changed = [], set(), False
    for task, verdict in paired(tasks, verdicts):
        changed |= verdict.reread_failed
        if verdict.problems:
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
    """What the clients give the CB-wide partition (ReadingJudge's cb_inputs: cb_given), added
    up as it comes (CbWideTally: a few values a client, and one small entry per certificate
    number), and set aside out of the main process's memory on a shelf (engine/shelf.py: an
    unnamed temporary file in the run's spill folder when there is one, marshal's format, in
    memory what cannot be written): `derived` reads back only the shares of the clients the
    tally wants again (holding a certificate number another client's certificate carries).
    (Every client's input records, read back at once and derived over, took the main process
    from 117 to 150 MB at 10,000 clients, and 0.45 CPU-s of a cached night.)"""

    def __init__(self, params: dict, spill=None):
        self.tally = CbWideTally(params)
        self.shelf = Shelf(getattr(spill, "folder", None), prefix="cb-inputs-")

    def __enter__(self):
        return self

    def __exit__(self, *_exc):
        self.shelf.close()

    def add(self, sid: str, shares: dict | None):
        """Partition `sid`'s cb_given (sid "": the CB-wide records')."""
        if shares:
            self.tally.add(sid, shares)
            self.shelf.put(sid, shares)

    def _read(self, sid: str) -> dict:
        return self.shelf.get(sid)

    def derived(self) -> list[dict]:
        """The CB-wide kinds' pseudo-records, as derive_cb_wide gives them over every record."""
        return self.tally.finish(lambda sids: ((sid, self._read(sid)) for sid in sids))


def _cb_task(first: FirstPass, task: Task, withheld: set[str], cb_inputs: CbInputs, params: dict) -> Task:
    """The CB-wide partition's task: its records and the pseudo-records of what every client
    gave `cb_inputs`; not judged when a withheld record bears on it."""
    index = first.index
    shared = sorted(unowned(index.owner_client))
    blocked = any(index.by_id[rid].type in CB_WIDE_INPUTS for rid in withheld if rid in index.by_id)
    if not task.judged or blocked or not withheld.isdisjoint(shared):
        return dataclasses.replace(task, judged=False)
    records = [index.by_id[rid].data for rid in shared]
    cb_inputs.add("", cb_shares(records, params))
    derived = cb_inputs.derived()
    # Its content: the CB-wide records (bytes and places) and what the clients' records gave it.
    h = hashlib.blake2b(repr(derived).encode("utf-8", "surrogatepass"), digest_size=16)
    for rid in shared:
        h.update(_entry_digest(index.by_id[rid]))
    return dataclasses.replace(task, records=records + derived, digest=h.hexdigest())


def _located_again(first: FirstPass, ids: set[str]) -> dict[str, Located]:
    """Where the client records among `ids` stand (the records a CB-wide verdict names through
    its pseudo-records), read again from their files; the CB-wide records, kept whole, are the
    index's. Raises WholeInputNeeded when a file changed since the first pass."""
    by_id = first.index.by_id
    stubs = [by_id[rid] for rid in sorted(ids) if rid in by_id and not isinstance(by_id[rid], Record)]
    if not stubs:
        return {}
    records, unchanged = read_back(first.files, stubs, first.spill)
    if not unchanged:
        raise WholeInputNeeded("a record file changed during the run")
    return {record.id: located(record) for record in records}
