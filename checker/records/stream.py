"""The streaming first pass over a folder of record files, and reading one partition's records
back from where the pass found them.

The pass reads every record once, adds it to the index (records/index.IndexBuilder: duplicate
ids, references and owners are checked there, exactly as over the whole input) and then drops
its data, keeping a row in its client's block (records/stubs.StubTable, the index's `by_id`):
its type, file, the line of its id, where to read it again and a digest of its bytes. Only
the records no client owns (people, the CB, its activities; they are shared by every
partition) stay whole, with the records of a YAML or JSON file that holds several clients'
records (reading such a file again for each of its clients would cost its parse once per
client). Memory is then the rows plus the shared records, not the export; each client's
records are read again, validated and judged in a worker.

The pass reads quickly what only the index needs: a JSON Lines line with orjson
(located.quick_json_line), a YAML file with libyaml's own composer (quick_yaml.py). Neither
looks for everything the exact readers refuse (duplicate keys, compose.py's bounds...): the
worker reads each dropped record again exactly, and a record the pass keeps whole is read
again exactly here. With a spill (records/spill.py: local workers), the pass reads each YAML
or JSON file exactly instead, and the workers take its records from the spill: one exact
parse a file in the run costs less than a quick one and an exact one (the whole check of 1,000
clients in YAML folders, --jobs 2: 16.8 -> 12.7 CPU-s). With as many local workers as will
judge the clients (--jobs N, N >= 2), those exact reads are spread over a pool of N processes
(records/file_pool.py; the workers are forked after the pass, which builds the index they
inherit): each process reads its files, spills them and sends back only what the index reads
of each record the pass will drop (records/trimmed.py), and the pass adds them strictly in
file order, as it would have read them (the index, its problems and the report are the same).

With the pool, its processes also read and parse the JSON Lines files, a range at a time,
each chunk of lines made into its plan without the index (records/line_chunks.py, line_plan.py:
what the index needs of its records, when they are all of the usual case); on a cached night,
each chunk last night's memo holds is taken from it there, not parsed (records/memo_chunks.py).
The pass adds the plans in file order, in bulk where the index as it stands allows
(_StubIndexBuilder.add_plan), else the lines one by one (add_lines), with the same index and
problems.

Any problem the pass meets that is tied to no record (a file that cannot be read or parsed,
an empty file, a line the whole-file reader would split differently) stops the pass with
WholeInputNeeded: such a problem withholds every evaluation, and the whole-input reader
(records/reader.read_records) then lists every problem of the input exactly as it always did.
"""
from __future__ import annotations

import ctypes
import dataclasses
import hashlib
import operator
import os
import sys
import zlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from itertools import chain, compress, repeat
from pathlib import Path

from checker.errors import Problem
from checker.records.evidence import Evidence, EvidenceCount
from checker.records.fast_json import exact_json, exact_json_texts
from checker.records.file_list import FileList
from checker.records.file_pool import OrderedPool
from checker.records.index import IndexBuilder, RecordIndex
from checker.records.line_chunks import FILE_END, TooLarge, range_chunks, ranges
from checker.records.line_memo import CUT, MOST_LINES, LineMemo, TakenPlan
from checker.records.line_plan import Plan, PlanSpec
from checker.records.memo_chunks import memo_range_chunks
from checker.records.owners import Owners, lazy_numpy
from checker.records.located import Document, LineDocument, json_line_document, nearest, quick_json_line
from checker.records.reader import Record, RefusedRecord, input_files, max_file_bytes, read_file, records_of
from checker.records.quick_yaml import quick_documents, record_document
from checker.records.spill import Spill
from checker.records.stubs import ROW, Stub, StubTable
from checker.records.trimmed import Trimmed, Trimmer

JSON_LINES = ".jsonl"
_TYPE = operator.itemgetter("type")


class WholeInputNeeded(Exception):
    """The input has a problem no single record owns: read it whole (pipeline.load_input)."""


def _digest(raw: bytes) -> bytes:
    return hashlib.blake2b(raw, digest_size=12).digest()


# Bytes of lines _chunks reads at a time (readlines' hint: whole lines, a little more).
READ_BYTES = 1024 ** 2
# Consecutive chunks taken from the memo whose rows are made together: numpy's dozen calls cost
# more than a chunk's rows (3,500 chunks at 10,000 clients: 0.2 CPU-s made one at a time, 0.15
# with numpy's import made 32 at a time).
PLANS_AT_ONCE = 32


def _chunks(path: Path, rel: str, limit: int, memo: LineMemo | None):
    """The lines of a JSON Lines file as (byte offset of the first, lines before it, the raw
    lines), in the memo's chunks (records/line_memo.py; without a memo, of MOST_LINES lines: the
    pass takes a chunk's lines together, and where they end matters only to the memo). Read and
    cut a block of lines at a time: a chunk the memo holds costs no Python work a line."""
    cut = CUT if memo is not None else 0
    with path.open("rb") as handle:
        if os.fstat(handle.fileno()).st_size > limit:
            raise WholeInputNeeded(rel)
        offset, number, lines = 0, 0, []
        while block := handle.readlines(READ_BYTES):
            lines += block
            start = 0
            for end in _chunk_ends(lines, cut):
                chunk = lines[start:end]
                yield offset, number, chunk
                offset, number, start = offset + sum(map(len, chunk)), number + end - start, end
            lines = lines[start:]
            if offset + sum(map(len, lines)) > limit:
                raise WholeInputNeeded(rel)
    if lines:
        yield offset, number, lines


def _chunk_ends(lines: list[bytes], cut: int) -> list[int]:
    """Where each chunk ending among `lines` (a chunk's first line first) ends, after the line
    whose CRC-32's low byte is below `cut` or its MOST_LINES-th (line_memo.CUT); the lines
    after the last end are the next chunk's beginning."""
    ends, last, cuts = [], 0, []
    # Each line's CRC's low byte, made 0 where it ends a chunk (in C: no Python work a line).
    ending = bytes(int(low >= cut) for low in range(256))
    marks = bytes(map((255).__and__, map(zlib.crc32, lines))).translate(ending) if cut else b""
    at = marks.find(0)
    while at >= 0:
        cuts.append(at + 1)
        at = marks.find(0, at + 1)
    for end in [*cuts, len(lines) + MOST_LINES]:        # the last: the chunks of MOST_LINES after them
        while end - last > MOST_LINES:
            last += MOST_LINES
            ends.append(last)
        ends.append(end)
        last = end
    ends.pop()
    return [end for end in ends if end <= len(lines)]


def _numbered(offset: int, number: int, lines: list[bytes]) -> list[tuple]:
    """A chunk's lines (_chunks) as the pass adds them one by one: (byte offset, line number,
    raw line, digest) each."""
    found = []
    for raw in lines:
        number += 1
        found.append((offset, number, raw, _digest(raw)))
        offset += len(raw)
    return found


def _lines_again(path: Path, rel: str, plan: Plan) -> list[tuple]:
    """The lines (offset, number, raw, digest) of a chunk a process of the pass's pool made
    `plan` of, read again (the main process adds them line by line after all): WholeInputNeeded
    when they are no longer the bytes the plan was made of (the file changed meanwhile)."""
    rows = list(ROW.iter_unpack(plan.rows))
    lines = []
    with path.open("rb") as handle:
        handle.seek(rows[0][0])
        for offset, number, _id_line, digest, *_numbers in rows:
            raw = handle.readline()
            if _digest(raw) != digest:
                raise WholeInputNeeded(rel)
            lines.append((offset, number, raw, digest))
    return lines


def _line_record(data: dict, rel: str, number: int) -> Record:
    """The record of a JSON Lines line (line `number`) that is one mapping, `data`: what
    records_of makes of it, made at once."""
    return Record(data, rel, LineDocument(data, number), "")


def _exact_line(raw: bytes, rel: str, number: int, offset: int) -> list[Record]:
    """The records of a JSON Lines line (line `number`, at byte `offset`) read as the whole-file
    reader reads them (a record holding a refused value as its skeleton, reader.RefusedRecord);
    WholeInputNeeded for a line it would split or report any other problem in."""
    try:
        text = raw.decode("utf-8-sig" if offset == 0 else "utf-8")
    except UnicodeDecodeError:
        raise WholeInputNeeded(rel) from None
    lines = text.splitlines()
    if len(lines) > 1:      # a line break other than \n: the whole-file reader counts lines otherwise
        raise WholeInputNeeded(rel)
    return _line_records(lines[0] if lines else "", rel, number)


def _line_records(text: str, rel: str, number: int) -> list[Record]:
    """The records of one JSON Lines line, read exactly (by fast_json.exact_json where it is
    sure, else json_line_document); WholeInputNeeded for any problem but those of a refused
    record, which its skeleton carries."""
    if not text.strip():
        return []
    data = exact_json(text)
    if isinstance(data, dict):      # one record, the whole line
        return [_line_record(data, rel, number)]
    if data is not None:
        document, problems = Document(data, {"": number}, number), []
    else:
        document, problems = json_line_document(text, rel, number)
    if document is None or document.not_json:
        raise WholeInputNeeded(rel)
    records = records_of(document, rel, problems)
    # A record holding a value no check may read is its skeleton, which carries its problems
    # (reader.RefusedRecord): it withholds its own partition, the line need not stop the pass.
    refused = {problem for record in records if isinstance(record, RefusedRecord) for problem in record.refused}
    if any(problem not in refused for problem in problems):
        raise WholeInputNeeded(rel)
    return records


def _whole_file(path: Path, rel: str, limit: int):
    """(record, document number, digest of the file's bytes) of a YAML or JSON file, read whole."""
    problems: list[Problem] = []
    records = read_file(path, rel, limit, problems)
    if problems:
        raise WholeInputNeeded(rel)
    documents = {}
    for record in records:
        documents.setdefault(id(record.document), len(documents))
    raw = _digest(path.read_bytes())
    return [(record, documents[id(record.document)], raw) for record in records]


def _quick_file(path: Path, rel: str, limit: int, fields) -> list | None:
    """(record, document number, digest of the file's bytes) of a YAML file read quickly
    (records/quick_yaml.py; `fields(type)`: the reference fields whose lines a record needs),
    or None where it must be read exactly: not YAML, unreadable, too large, not UTF-8, no
    records, or anything the quick read gives up on."""
    if path.suffix.lower() not in (".yaml", ".yml"):
        return None
    try:
        with path.open("rb") as handle:
            # Its size read first: read(limit + 1) would ask for a buffer of the limit each time.
            size = os.fstat(handle.fileno()).st_size
            raw = handle.read(size + 1) if size <= limit else b""
        documents = None if not raw or len(raw) > size else quick_documents(raw.decode("utf-8-sig"))
    except (OSError, UnicodeDecodeError):
        return None
    found, digest, number = [], _digest(raw), 0
    for data, node in documents or ():
        before = len(found)
        items = [(data, node, "")] if not isinstance(data, list) else \
            [(item, item_node, f"/{i}") for i, (item, item_node) in enumerate(zip(data, node.value))]
        for item, item_node, root in items if data is not None else ():
            document = isinstance(item, dict) and record_document(
                data, item_node, root, node.start_mark.line + 1, fields(item.get("type")))
            if not document:
                return None
            found.append((Record(item, rel, document, root), number, digest))
        number += len(found) > before       # numbered as _whole_file numbers them: those with records
    return found or None


@dataclass
class FirstPass:
    files: FileList                        # by file number: (absolute path, name reports show)
    files_ignored: list[str]
    index: RecordIndex                     # by_id: a StubTable (Stubs, and Records for those kept whole)
    problems: list[Problem]                # reference problems
    unindexed: list[Record]                # records not indexed (no id, unknown type, duplicates): validated here
    records: int = 0
    records_by_type: Counter = field(default_factory=Counter)
    evidence: Evidence | None = None
    spill: Spill | None = None             # the YAML and JSON files' records as parsed here (records/spill.py)


class _StubIndexBuilder(IndexBuilder):
    """The index builder of the pass: its `by_id` is a StubTable. A record is stored whole;
    the pass drops it to its row once it is added and its owner known."""

    def __init__(self, files: Sequence[str], folder: str | None = None, put_away: bool = True):
        super().__init__()
        # Its blocks of rows put away in `folder` (the run's spill folder, when there is one),
        # and most of its ids (records/owners.py) unless not `put_away`.
        owners = self.index.owner_client = Owners(put_away)
        self.table = StubTable(owners, files, sorted(self.types), folder)
        owners.attach(self.table)
        self.index.by_id = self.table
        # Asked for every reference: the table's own method stands in for IndexBuilder._type_of
        # (one call less than a method forwarding to it).
        self._type_of = self.table.type_of
        self._line_refs: dict[str, list[tuple]] = {}       # type -> add_lines' reference fields
        self._field_places: dict[str, list[int]] = {}      # type -> its fields' _Waiting place numbers
        # The client add_lines added to last and the types of the records it added to it (its
        # references to them are judged without asking the table).
        self._recent: tuple[str | None, dict[str, str]] = (None, {})

    def _has(self, rid: str) -> bool:
        return rid in self.index.owner_client or rid in self.table.whole

    def _store(self, rec: Record):
        self.table.whole[rec.data["id"]] = rec

    def _id_place(self, rid: str) -> tuple[str, int]:
        return self.table.id_place(rid)

    def _block_id(self, client: str, position: int) -> str:
        return self.table.block_ids(client)[position]

    def add_lines(self, file_no: int, file: str, chunk: list, datas: list, other) -> list[dict]:
        """add() of the records of a chunk of JSON Lines lines (offset, number, raw, digest) of
        file `file_no`, named `file`, each given by its data (at least the fields add() reads),
        in file order. A record of the usual case, a new id of a known type whose client is read
        already (its own id, or its owner's), is indexed here without a Record and dropped to
        its row at once, as the pass drops it after add(); any other line goes to
        `other(line, data)` (the pass's _add_line). The data of those indexed here."""
        # records/owners.py: a record whose id was put away, or a reference to one, goes the usual way.
        all_owners = self.index.owner_client
        owners, fresh, not_away = all_owners.hot, all_owners.fresh, all_owners.surely_not_put_away
        away = all_owners.put_away_among([data.get("id") for data in datas if type(data) is dict])
        table, types, line_refs = self.table, self.types, self._line_refs
        whole, type_of, add_row, pack, type_no = table.whole, table.type_of, table.add_row, ROW.pack, table.type_no
        shared, waiting, intern = self.index.client_shared, self._waiting, sys.intern
        added, unknown, root_no, wait_file = [], object(), None, waiting.file_number(file)
        (client, kinds), mine_no = self._recent, waiting.client_number(self._recent[0])
        for line, data in zip(chunk, datas):
            rid, kind = (data.get("id"), data.get("type")) if isinstance(data, dict) else (None, None)
            info = types.get(kind) if isinstance(rid, str) and isinstance(kind, str) else None
            mine = None
            if info is not None and rid not in owners and rid not in whole and rid not in away:
                if kind == "client":
                    mine = rid
                elif info.owner_field:
                    owner = data.get(info.owner_field)
                    mine = owners.get(owner) if isinstance(owner, str) else None
            if mine is None:        # not indexed, CB-wide or its owner not read yet: the usual way
                other(line, data)
                continue
            if mine != client:
                client, kinds = self._recent = mine, {}
                mine_no = waiting.client_number(mine)
            owners[rid], kinds[rid] = mine, kind
            fresh.append(rid)
            offset, number, _raw, digest = line
            root_no = table.root_number("") if root_no is None else root_no
            position = add_row(rid, mine, pack(offset, number, number, digest, type_no[kind], file_no, root_no))
            added.append(data)
            refs = line_refs.get(kind)
            # Each reference as _refer judges it, with the usual outcomes at hand.
            for parts, pointer, target_type, place_no in self._line_refs_of(kind) if refs is None else refs:
                if pointer is None:
                    self._refer_items(rid, mine, data, parts, target_type, (file, number))
                    continue
                value = data.get(parts[0])
                if not isinstance(value, str):      # a wrong type is the schema's finding
                    continue
                theirs = owners.get(value, unknown)
                if theirs is unknown and not_away(value):       # its target not read yet: it waits for finish
                    waiting.add(rid, intern(value), number, wait_file, place_no, mine_no, position)
                elif theirs == mine and (kinds.get(value) or type_of(value)) == target_type:
                    continue
                elif theirs is None and type_of(value) == target_type:     # a CB-wide record its client reads
                    shared.add(mine, intern(value))
                else:
                    self._refer(rid, mine, pointer, value, target_type, (file, number))
        return added

    def plan_spec(self) -> PlanSpec:
        """What making a chunk's plan reads of this builder (records/line_plan.py)."""
        return PlanSpec({kind: info.owner_field for kind, info in self.types.items()}, self._refs,
                        self.table.type_no, self.table.root_number(""), {kind: kind for kind in self.types})

    def add_plan(self, plan: Plan, file: str) -> bool:
        """add_lines of a chunk's lines from their plan (records/line_plan.py), in bulk: False,
        having added nothing, when the index as it stands makes any of its records other than
        the usual case (an id read before, an owner outside the chunk that is not a client's)."""
        recipe, owners = plan.recipe, self.index.owner_client
        ids, clients = recipe.ids, recipe.clients
        whole = self.table.whole      # mostly empty on JSON Lines: its test skipped (3,600 chunks a night at 10k)
        if not (owners.hot.keys().isdisjoint(ids) and (not whole or whole.keys().isdisjoint(ids))) \
                or owners.put_away_any(ids):
            return False
        named = {client: ids[client] if type(client) is int else owners.get(client) for client in set(clients)}
        if not all(type(client) is str for client in named.values()):
            return False
        # Each record's client's number (_Waiting.client_number) and place in its client's block.
        size, start, mines, positions, last = ROW.size, 0, [], [], 0
        before = self._recent       # the client added to last, and the types of its records
        for end in recipe.runs:
            mine, run = named[clients[start]], ids[start:end]
            owners.add_run(run, mine)
            first = self.table.add_rows(mine, run, plan.rows[start * size:end * size])
            positions += range(first, first + end - start)
            mines += repeat(self._waiting.client_number(mine), end - start)
            last = last if mine == named[clients[last]] else start     # where the last client's records begin
            start = end
        self._recent_types(before, named[clients[last]], ids[last:], recipe.kinds[last:], last == 0)
        self._plan_refs(plan, named, file, (mines, positions), dict([before]))
        return True

    def _recent_types(self, before: tuple, mine: str, rids: list[str], kinds: list[str], all_mine: bool):
        """_recent after a plan whose last client `mine` has its records `rids` of types `kinds`
        at its end (`all_mine`: the plan's only client): those added to the types of its records
        added before the plan when it was the client added to last then (`before`). Only its
        client's: the types serve a reference to a record of the same client added just before
        (add_lines; _plan_read_refs, asked of the types as they were before the plan: a plan's
        references name no record of its own), and a reference the types do not answer is judged
        by _refer alike. Made of the whole plan, they took a night's main process 0.05-0.1 s."""
        types = before[1] if all_mine and before[0] == mine else {}
        types.update(zip(rids, kinds))
        self._recent = mine, types

    def _plan_refs(self, plan: Plan, named: dict, file: str, places_in_blocks: tuple[list[int], list[int]],
                   added: dict[str, dict[str, str]]):
        """The references of a plan's records to records outside its chunk, each judged as
        add_lines judges it (its records are all added already: none of these names one).
        Those whose target is not read yet wait for finish, in bulk: they keep their order
        among the waiting, and the others theirs among the problems. `places_in_blocks`: each
        record's client's number and place in that client's block; `added`: the types of the
        records add_plan added last, by client."""
        records, fields, items, values = plan.recipe.refs
        owners, kinds, first = self.index.owner_client, plan.recipe.kinds, plan.first_line
        read = list(map(owners.hot.__contains__, values))
        if not all(read) and len(owners.hashes):    # those put away (records/owners.py) are read, asked for at once
            back = iter(owners.put_away_each([value for value, known in zip(values, read) if not known]))
            read = [known or next(back) for known in read]
        if not all(read):
            unread = list(map(operator.not_, read))
            numbers = list(compress(records, unread))
            # Each reference's place (_Waiting.place_number), asked once for each field of a type.
            fields_of = list(zip(map(kinds.__getitem__, numbers), compress(fields, unread), compress(items, unread)))
            place_of = {found: self._place_of(*found) for found in set(fields_of)}
            mines, positions = places_in_blocks
            self._waiting.add_many(list(map(sys.intern, compress(values, unread))), list(map(first.__add__, numbers)),
                                   self._waiting.file_number(file), list(map(place_of.__getitem__, fields_of)),
                                   list(map(mines.__getitem__, numbers)), list(map(positions.__getitem__, numbers)))
        if any(read):
            self._plan_read_refs(plan, named, file, compress(zip(records, fields, items, values), read), added)

    def _plan_read_refs(self, plan: Plan, named: dict, file: str, refs, recent: dict[str, dict[str, str]]):
        """The references (record number, field number, item, target) of a plan's records
        whose target is read, each judged as add_lines judges it: one to a record of its own
        client added just before (`recent`: the types of those by client, the usual case) of
        the type named is sound, the others go through _refer."""
        ids, kinds, clients, first = plan.recipe.ids, plan.recipe.kinds, plan.recipe.clients, plan.first_line
        hot, line_refs = self.index.owner_client.hot, self._line_refs
        for k, f, item, value in refs:
            mine, kind = named[clients[k]], kinds[k]
            _parts, pointer, target_type, _place_no = (line_refs.get(kind) or self._line_refs_of(kind))[f]
            if hot.get(value) == mine and recent.get(mine, {}).get(value) == target_type:
                continue
            self._refer(ids[k], mine, pointer if item is None else item, value, target_type, (file, first + k))

    def _place_of(self, kind: str, field_no: int, item: str | None) -> int:
        """The number of the place (_Waiting.place_number) of type `kind`'s field `field_no`,
        or of its list's item `item`."""
        if item is None:
            if kind not in self._field_places:
                self._field_places_of(kind)
            return self._field_places[kind][field_no]
        return self._item_place(kind, field_no, item)

    def _field_places_of(self, kind: str):
        """The numbers of the places (_Waiting.place_number) of type `kind`'s reference fields
        that are one field each, kept in _field_places (None for the others: _item_place)."""
        refs = self._line_refs.get(kind) or self._line_refs_of(kind)
        self._field_places[kind] = [place_no for _parts, _pointer, _target_type, place_no in refs]

    def _item_place(self, kind: str, field_no: int, item: str) -> int:
        """The number of the place of a list's item `item` of type `kind`'s field `field_no`."""
        _parts, _pointer, target_type, _place_no = (self._line_refs.get(kind) or self._line_refs_of(kind))[field_no]
        return self._waiting.place_number("", item, target_type)

    def _line_refs_of(self, kind: str) -> list[tuple]:
        """The reference fields of type `kind` for add_lines: (parts, pointer, target type, the
        number of a JSON Lines record's place for the references left waiting)."""
        found = self._line_refs[kind] = [
            (parts, pointer, target_type, None if pointer is None else self._waiting.place_number("", pointer, target_type))
            for parts, pointer, target_type in self._refs[kind]]
        return found


class _Pass:
    def __init__(self, source, spill: Spill | None = None, listing=None, memo: LineMemo | None = None):
        files, ignored, problems, self.limit = listing or input_files(source)
        if problems:
            raise WholeInputNeeded(str(source))
        # Absolute: a worker reading them back may run elsewhere (--dask, on a shared path).
        self.files = files if isinstance(files, FileList) else FileList(files)
        # A night with a memo keeps every id in a dict: the cached night is mostly this pass, and
        # asking whether each id of a memo's small chunks was put away cost it 0.45 CPU-s at
        # 10,000 JSON Lines clients (2.35 -> 2.8 s), a fifth more (its memory is a full run's
        # before records/owners.py, but for the blocks of rows).
        self.builder = _StubIndexBuilder(self.files.names, getattr(spill, "folder", None),
                                         put_away=memo is None)
        self.table, self.owners = self.builder.table, self.builder.index.owner_client
        self.evidence, self.memo = EvidenceCount(), memo
        self.result = FirstPass(self.files, ignored, self.builder.index, [], [], spill=spill)
        self.several: list[int] = []       # files of several clients' records parsed by the pool
        self.pooled_lines = False          # the JSON Lines files' ranges made by the pool (chunks)
        self.spec: PlanSpec | None = None  # the builder's plan_spec, for the memo's plans

    def add_files(self, parsed=None):
        """Adds every file's records, in file order; `parsed`: the YAML and JSON files' as the
        pass's pool parsed them (_parse_chunk over `chunks`, flattened), else read here."""
        for file_no, (path, rel) in enumerate(self.files):
            if path.suffix.lower() == JSON_LINES:
                self._add_lines(file_no, path, rel, parsed if self.pooled_lines else None)
            elif parsed is not None:
                self._add_parsed(file_no, rel, next(parsed))
            else:
                self._add_file(file_no, path, rel)

    def chunks(self):
        """The files as the pool's processes take them, in file order: ("files", [(number,
        path, name)]) of up to CHUNK_FILES YAML or JSON files, and of up to CHUNK_BYTES but for
        a larger file alone, and ("lines", a range of a JSON Lines file: line_chunks.ranges),
        so that the chunks the pool holds at a time (file_pool.py) hold a bounded part of the
        input whatever its files' sizes."""
        chunk, size = [], 0
        for file_no, (path, rel) in enumerate(self.files):
            if path.suffix.lower() == JSON_LINES:
                if chunk and self.pooled_lines:
                    yield "files", chunk
                    chunk, size = [], 0
                if self.pooled_lines:
                    yield from (("lines", item) for item in self._ranges(file_no, path, rel))
                continue
            try:
                bytes_ = path.stat().st_size
            except OSError:
                bytes_ = 0      # read (and reported) where it is parsed
            if chunk and (len(chunk) == CHUNK_FILES or size + bytes_ > CHUNK_BYTES):
                yield "files", chunk
                chunk, size = [], 0
            chunk.append((file_no, str(path), rel))
            size += bytes_
        if chunk:
            yield "files", chunk

    def _ranges(self, file_no: int, path: Path, rel: str):
        """line_chunks.ranges of a JSON Lines file; WholeInputNeeded for one too large or unreadable."""
        try:
            yield from ranges(file_no, path, self.limit, 0 if self.memo is None else CUT)
        except (TooLarge, OSError):
            raise WholeInputNeeded(rel) from None

    def finish(self) -> FirstPass:
        self.result.evidence = self.evidence.evidence()
        self.result.index, self.result.problems = self.builder.finish()
        for rid in list(self.table.pending):    # records kept whole until their owner was read
            self.table.settle(rid)
        self.table.pending.clear()
        self._hydrate()
        self.table.close()
        self.owners.finish()
        _give_back_freed()
        return self.result

    def _add_lines(self, file_no: int, path: Path, rel: str, parsed=None):
        """A JSON Lines file's records, a chunk of lines at a time: one whose lines are those of
        a chunk in the memo is not parsed (records/line_memo.py). `parsed`: the pass's pool's
        results, giving the file's ranges (records/line_chunks.py) and then FILE_END."""
        if parsed is not None:
            self._add_ranges(file_no, path, rel, iter(parsed.__next__, FILE_END))
            return
        found, memo, planned = False, self.memo, []
        if memo is not None and self.spec is None:
            self.spec = self.builder.plan_spec()
        for offset, number, lines in _chunks(path, rel, self.limit, memo):
            key = None if memo is None else memo.key(lines)
            taken = None if key is None else memo.taken(key, len(lines), self.spec)
            if isinstance(taken, TakenPlan):
                planned.append((offset, number, lines, taken))
                if len(planned) < PLANS_AT_ONCE:
                    continue
            found = self._add_planned(file_no, rel, planned) or found
            planned = []
            if taken is None:
                found = self._add_chunk_parsed(file_no, rel, _numbered(offset, number, lines), key) or found
            elif not isinstance(taken, TakenPlan):
                self._add_chunk_taken(file_no, rel, _numbered(offset, number, lines), *taken)
                found = True
            self.owners.put_away()
        if not (self._add_planned(file_no, rel, planned) or found):
            raise WholeInputNeeded(rel)     # an empty file

    def _add_planned(self, file_no: int, rel: str, planned: list[tuple]) -> bool:
        """Consecutive chunks the memo took plans of, each (byte offset, lines before it, its
        lines, TakenPlan), added in bulk, their rows made at once of tonight's places and last
        night's digests of the same bytes; a chunk whose plan the index as it stands refuses
        (add_plan) is parsed. Whether there were any."""
        if not planned:
            return False
        offset, number, _lines, _taken = planned[0]
        lines = list(chain.from_iterable(chunk for _offset, _number, chunk, _taken in planned))
        kinds = list(chain.from_iterable(recipe.kinds for _offset, _number, _chunk, (recipe, _digests) in planned))
        digests = b"".join(digests for _offset, _number, _chunk, (_recipe, digests) in planned)
        rows, at = self.table.rows_at(offset, number + 1, lines, kinds, digests, file_no, self.spec.root_no), 0
        for offset, number, chunk, (recipe, _digests) in planned:
            end = at + len(chunk) * ROW.size
            if not self._added_plan(Plan(recipe, number + 1, rows[at:end]), rel):
                self._add_chunk_parsed(file_no, rel, _numbered(offset, number, chunk), None)
            at = end
        self.owners.put_away()
        return True

    def _added_plan(self, plan: Plan, rel: str) -> bool:
        """A chunk's plan added to the index, its records counted and their evidence added;
        False, having added nothing, when the index refuses it (_StubIndexBuilder.add_plan)."""
        if not self.builder.add_plan(plan, rel):
            return False
        recipe = plan.recipe
        self.result.records += len(recipe.ids)
        self.result.records_by_type.update(recipe.evidence.counts)
        self.evidence.merge(recipe.evidence)
        return True

    def _add_ranges(self, file_no: int, path: Path, rel: str, made):
        """A JSON Lines file's records from its ranges' chunks as the pool made them
        (line_chunks.range_chunks; on a cached night memo_chunks.memo_range_chunks, each
        range's memo tally first): each plan added in bulk where the index takes it so
        (_StubIndexBuilder.add_plan), else its lines read again and added one by one (a chunk
        the memo gave fields of, with them: _add_chunk_taken)."""
        found = False
        for chunks in made:
            if chunks is None:      # the pool's process found the file changed
                raise WholeInputNeeded(rel)
            if self.memo is not None:       # a cached night's range: its memo's tally first
                self.memo.add_tally(chunks[0])
                chunks = chunks[1:]
            for chunk in chunks:
                if chunk.plan is not None and self._added_plan(chunk.plan, rel):
                    found = True
                    continue
                if chunk.taken is not None:
                    self._add_chunk_taken(file_no, rel, chunk.lines, *chunk.taken)
                    found = True
                    continue
                lines = chunk.lines if chunk.plan is None else _lines_again(path, rel, chunk.plan)
                found = self._add_chunk_parsed(file_no, rel, lines, None) or found
            self.owners.put_away()
        if not found:
            raise WholeInputNeeded(rel)     # an empty file

    def _add_chunk_parsed(self, file_no: int, rel: str, chunk: list, key: bytes | None) -> bool:
        """A chunk's lines parsed, and kept in the memo under `key` when each held one record
        read quickly; whether any held a record. With `key`, a chunk of the usual case is added
        by its plan, in bulk, as the memo's are (the plan made for the memo anyway)."""
        # Read quickly (exact for what the index reads; one kept with its data is read again
        # exactly, _add_line), else exactly.
        datas = [quick_json_line(line[2]) for line in chunk]
        quick = [data for data in datas if isinstance(data, dict)]
        digests = [line[3] for line in chunk]
        recipe = None if key is None else \
            self.memo.keep_parsed(key, quick, len(chunk), self.spec, self.builder.indexed_fields, digests)
        if recipe is not None:
            offset, first, _raw, _digest = chunk[0]
            rows = self.table.rows_at(offset, first, [line[2] for line in chunk], recipe.kinds, b"".join(digests),
                                      file_no, self.spec.root_no)
            if self._added_plan(Plan(recipe, first, rows), rel):
                return True
        found = self._add_chunk_lines(file_no, rel, chunk, datas)
        return bool(quick) or found

    def _add_chunk_lines(self, file_no: int, rel: str, chunk: list, datas: list) -> bool:
        """A chunk's lines added one by one, their records as read quickly (`datas`), exactly
        where not; whether a line not read quickly held a record."""
        found = []

        def other(line: tuple, data):
            offset, number, raw, _digest = line
            if isinstance(data, dict):
                self._add_line(file_no, rel, [_line_record(data, rel, number)], line, True)
                return
            records = _exact_line(raw, rel, number, offset)
            found.append(bool(records))
            self._add_line(file_no, rel, records, line, False)
        added = self.builder.add_lines(file_no, rel, chunk, datas, other)
        self._count(added)
        for data in added:
            self.evidence.add(data)
        return any(found)

    def _count(self, added: list[dict]):
        """Counts the records the index builder added from their data alone (add_lines)."""
        self.result.records += len(added)
        self.result.records_by_type.update(map(_TYPE, added))

    def _add_chunk_taken(self, file_no: int, rel: str, chunk: list, fields: list[dict], evidence: EvidenceCount):
        """A chunk as the memo took it: each line's record with the fields the index reads (one
        kept with its data is read again exactly), its evidence added whole when every record
        is indexed, else each indexed record's, its line parsed again."""
        dropped = set()         # the numbers of lines whose record was not indexed

        def other(line: tuple, data: dict):
            if not self._add_line(file_no, rel, [_line_record(data, rel, line[1])], line, True, counted=False):
                dropped.add(line[1])
        self._count(self.builder.add_lines(file_no, rel, chunk, fields, other))
        if not dropped:
            self.evidence.merge(evidence)
            return
        for _offset, number, raw, _digest in chunk:
            if number not in dropped:
                self.evidence.add(quick_json_line(raw))

    def _add_line(self, file_no: int, rel: str, records: list[Record], line: tuple, quick: bool,
                  counted: bool = True) -> bool:
        """The records of a JSON Lines line (offset, number, raw, digest): each dropped to its
        row once added when a client is known to own it, else kept whole with its row until the
        end (finish); whether each was indexed. `counted`: their evidence is counted here."""
        offset, number, raw, digest = line
        table, indexed = self.table, True
        for record in records:
            rid = self._add(record, counted)
            # Kept with its data (not indexed, CB-wide or its owner not read yet), a record
            # the quick parse read is read exactly (see quick_json_line).
            owner = None if rid is None else self.owners.get(rid)
            if quick and owner is None:
                record = _exact_line(raw, rel, number, offset)[0]
                if isinstance(record, RefusedRecord):   # indexed and counted as read quickly: not as read whole
                    raise WholeInputNeeded(rel)
            if rid is None:
                self.result.unindexed[-1] = record
                indexed = False
                continue
            if isinstance(record, RefusedRecord):
                # Kept whole, never a row: a worker reading it again would take its refusal for
                # a change of the file (_read_line); its partition is withheld for its problems.
                table.keep(rid, record)
                continue
            row = table.row(record.data["type"], file_no, record.root, (offset, number, number), digest)
            if owner is None:
                table.keep(rid, record, row)
            else:
                del table.whole[rid]
                table.add_row(rid, owner, row)
        return indexed

    def _add_file(self, file_no: int, path: Path, rel: str):
        """A YAML or JSON file's records: dropped to rows after the file when they belong to
        one client, kept whole when they belong to several (see the module's docstring).
        Read quickly when it can (records/quick_yaml.py), and again exactly when the pass
        keeps one of its records whole."""
        # Spilled for the workers (records/spill.py), it is read exactly here, once in the run.
        spill = self.result.spill
        quick = None if spill is not None else _quick_file(path, rel, self.limit, self.builder.reference_fields)
        entries = quick if quick is not None else _whole_file(path, rel, self.limit)
        unindexed = len(self.result.unindexed)
        added, several = self._index_file(file_no, entries)
        if quick is not None and (several or len(self.result.unindexed) > unindexed
                                  or any(self.owners.get(rid) is None for rid in added)):
            self._read_exactly(quick, _whole_file(path, rel, self.limit), added, unindexed)
        self._settle(added, several)
        self.owners.put_away()
        if spill is not None and not several and entries:     # its records are read again in a worker
            spill.write(file_no, entries[0][2], entries)

    def _add_parsed(self, file_no: int, rel: str, parsed: tuple | None):
        """A YAML or JSON file's records as a process of the pass's pool read and spilled them
        (_parse_file), added as _add_file adds them; the trimmed ones the pass keeps whole are
        read back whole at the end (_hydrate)."""
        if parsed is None:
            raise WholeInputNeeded(rel)
        digest, place, sent = parsed
        if place is not None:
            self.result.spill.placed(file_no, place)
        entries = [(*found, digest) if isinstance(found[0], Record) else (Trimmed.of(found, rel, file_no, digest),
                                                                          found[0], digest) for found in sent]
        added, several = self._index_file(file_no, entries)
        self._settle(added, several)
        self.owners.put_away()
        if several:
            self.several.append(file_no)

    def _index_file(self, file_no: int, entries: list) -> tuple[list[str], bool]:
        """Adds a YAML or JSON file's records, each kept whole with its row for now; (the ids
        of those indexed, whether they belong to several clients)."""
        added, waiting = [], self.builder.waiting_count()
        for record, document, raw in entries:
            rid = self._add(record)
            if rid is not None:
                place = (document, record.line_of(), record.line_of("/id"))
                self.table.keep(rid, record, self.table.row(record.data["type"], file_no, record.root, place, raw))
                added.append(rid)
        self.builder.settle_waiting(waiting)      # those the file's own later records settle
        return added, len({self.owners.get(rid) for rid in added} - {None}) > 1

    def _settle(self, added: list[str], several: bool):
        # Records whose owner is not read yet stay whole until the end (finish), whatever their
        # file: a file whose records are only known to be several clients' then is read once
        # per client.
        for rid in added:
            if several:
                self.table.pending.pop(rid)
            else:
                self.table.settle(rid)

    def _read_exactly(self, quick: list, exact: list, added: list[str], unindexed: int):
        """The records of a file read quickly, those indexed (`added`) and those not (from
        `unindexed` on), kept whole: replaced by the same records read exactly
        (WholeInputNeeded when the exact read finds problems or other records)."""
        def places(entries):
            return [(record.root, record.data.get("id")) for record, _document, _raw in entries]
        if places(quick) != places(exact):
            raise WholeInputNeeded(exact[0][0].file if exact else "")
        same = {id(q): e for (q, _d, _raw), (e, _d2, _raw2) in zip(quick, exact)}
        for rid in added:
            self.table.whole[rid] = same[id(self.table.whole[rid])]
        kept = self.result.unindexed
        kept[unindexed:] = [same[id(record)] for record in kept[unindexed:]]

    def _hydrate(self):
        """The records the pool sent trimmed (records/trimmed.py) that the pass keeps whole
        after all (a duplicate, a file of several clients' records, an owner never found),
        replaced by their whole records, read back from the spill."""
        read: dict[int, dict] = {}
        whole = self.table.whole
        for rid, record in list(whole.items()):
            if isinstance(record, Trimmed):
                whole[rid] = self._whole_of(record, read)
        kept = self.result.unindexed
        kept[:] = [self._whole_of(record, read) if isinstance(record, Trimmed) else record for record in kept]
        for file_no in self.several:    # nobody reads them again (see _add_file)
            self.result.spill.places.pop(file_no, None)

    def _whole_of(self, record: Trimmed, read: dict[int, dict]) -> Record:
        """The whole record `record` was trimmed from, from the spill (or its file, when the
        spill cannot give it); `read` keeps each file's records. WholeInputNeeded when the file
        no longer holds the bytes the pool read."""
        path, rel = self.files[record.file_no]
        found = read.get(record.file_no)
        if found is None:
            entries = self.result.spill.read(record.file_no, record.digest, rel)
            if entries is None:
                try:
                    entries = _whole_file(path, rel, self.limit)
                except OSError:
                    raise WholeInputNeeded(rel) from None
            found = read[record.file_no] = {(number, whole.root): (whole, raw) for whole, number, raw in entries}
        whole, raw = found.get((record.document_no, record.root), (None, None))
        if raw != record.digest:
            raise WholeInputNeeded(rel)
        return whole

    def _add(self, record: Record, counted: bool = True) -> str | None:
        """Counts and indexes `record`: its id when it is indexed (stored whole for now).
        `counted`: its evidence is counted here (else by the caller)."""
        result, data = self.result, record.data
        kind = data.get("type")
        result.records += 1
        if isinstance(kind, str):
            result.records_by_type[kind] += 1
        if not self.builder.add(record):
            result.unindexed.append(record)
            return None
        if counted:
            self.evidence.add(data, record.arrays if isinstance(record, Trimmed) else None)
        return data["id"]


def _give_back_freed():
    """The memory the pass freed, given back to the system (glibc's malloc_trim: the free pages
    anywhere in the heap, not only at its top). The pass frees much of what it held as it ends
    (the references left waiting, numpy's copies of the ids put away, the last blocks' rows);
    glibc would keep those pages for the process's later allocations, which the clients' run,
    holding far less, never makes: at 10,000 JSON Lines clients, 9 MB of the main process's PSS
    for 6 ms. Where the C library has no malloc_trim, nothing is given back, as before."""
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass


# glibc's mallopt parameter for the size from which a block is mapped on its own (M_MMAP_THRESHOLD),
# and that size: a large block freed is then given back to the system at once.
_MMAP_THRESHOLD, LARGE_BLOCK = -3, 256 * 1024


def _large_blocks_mapped():
    """Large blocks (LARGE_BLOCK and more) each mapped on their own, for the rest of the process
    and the workers forked from it. glibc's default raises the size from which it maps a block
    to that of each mapped block freed (up to 32 MB): the pass's growing columns (the ids put
    away, the references left waiting: records/owners.py, records/index.py) are made again
    larger many times, and each copy freed then left its pages in the heap, in pieces between
    the small blocks made since, which neither the heap's top nor the pass could give back: at
    25,000 JSON Lines clients the main process's heap held 28 MB free of its 70 near the end
    of the pass, and its peak PSS in the pass went from 106 to 71 MB with them mapped (the
    clients' stage from 66-74 to 59-65). Where the C library has no mallopt, nothing changes."""
    _mallopt((_MMAP_THRESHOLD, LARGE_BLOCK))


# glibc's mallopt parameter for the free memory at the heap's top it keeps (M_TRIM_THRESHOLD),
# and the sizes a process of the pass's pool keeps large blocks and free memory in its heap to.
_TRIM_THRESHOLD, RANGE_HEAP = -1, (32 * 1024 ** 2, 64 * 1024 ** 2)


def _ranges_in_heap():
    """In a process of the pass's pool that makes JSON Lines ranges' chunks: blocks of up to
    32 MB made in the heap again, and up to 64 MB of free memory kept at its top. Forked after
    _large_blocks_mapped, each range's blocks of a megabyte or so (its bytes, the pickle sent
    back) were mapped anew, faulted in page by page and given back: 15 % of such a process's
    CPU on a cached night at 10,000 clients (1.24 -> 1.06 s for the whole file's 119 ranges
    in one process). The pool ends with the pass, and holds a few ranges at a time."""
    _mallopt((_MMAP_THRESHOLD, RANGE_HEAP[0]), (_TRIM_THRESHOLD, RANGE_HEAP[1]))


def _mallopt(*settings: tuple[int, int]):
    """glibc's mallopt(parameter, value) of each of `settings`; where the C library has no
    mallopt, nothing changes."""
    try:
        libc = ctypes.CDLL(None)
        for parameter, value in settings:
            libc.mallopt(parameter, value)
    except (OSError, AttributeError):
        pass


def first_pass(source, spill: Spill | None = None, jobs: int = 1, listing=None,
               memo: LineMemo | None = None) -> FirstPass:
    """The index of the records under `source`, their data dropped but for shared records (see
    the module's docstring); raises WholeInputNeeded when the input must be read whole. With
    `spill`, the records of each YAML or JSON file are spilled there for read_back; with `jobs`
    processes besides, those files are parsed by a pool of that many (records/file_pool.py).
    `listing`: reader.input_files(source) when the caller has it already. With `memo`, JSON
    Lines lines unchanged since the memo's night are not parsed (records/line_memo.py)."""
    _large_blocks_mapped()
    try:
        run = _Pass(source, spill, listing, memo)
        lines = [path.suffix.lower() == JSON_LINES for path, _rel in run.files]
        run.pooled_lines = any(lines)
        if spill is None or jobs < 2 or all(lines) and not run.pooled_lines:
            run.add_files()
        else:
            # Made before the pool forks: its processes make the JSON Lines chunks with them
            # (on a cached night, looking the memo's entries up in their copy of them).
            run.spec = run.builder.plan_spec() if run.pooled_lines else None
            lines_of = partial(range_chunks, run.spec) if memo is None else \
                partial(memo_range_chunks, run.spec, memo, run.builder.indexed_fields, partial(_chunk_ends, cut=CUT))
            if memo is not None:
                lazy_numpy()        # the rows of its plans are made at once: imported once, not in each process
            with OrderedPool(partial(_pool_chunk, spill, run.limit, Trimmer(), lines_of), jobs,
                             _ranges_in_heap if run.pooled_lines else None) as pool:
                run.add_files(parsed for chunk in pool.map(run.chunks()) for parsed in chunk)
        return run.finish()
    finally:
        if spill is not None:
            spill.seal()


# Files a pool process parses per message: a client's YAML file takes it about 8 ms, a chunk's
# round trip a fraction of one, and a busy machine may leave the main process waiting its turn
# for longer than a chunk of a few files.
CHUNK_FILES = 16
CHUNK_BYTES = 1024 ** 2


def _pool_chunk(spill: Spill, limit: int, trimmer: Trimmer, lines_of, item: tuple) -> list:
    """In a process of the first pass's pool: a chunk of _Pass.chunks, ("files", [(file number,
    path, name)]) parsed by _parse_file each, or ("lines", a JSON Lines range) made into its
    chunks by `lines_of` (line_chunks.range_chunks, or memo_chunks.memo_range_chunks)."""
    what, chunk = item
    if what == "lines":
        return lines_of(chunk)
    return [_parse_file(spill, limit, trimmer, *found) for found in chunk]


def _parse_file(spill: Spill, limit: int, trimmer: Trimmer, file_no: int, path: str, rel: str):
    """A YAML or JSON file read exactly (_whole_file) and spilled: (its digest, where it was
    spilled, [(record, document number), or for a record the pass will drop a Trimmer.row]) (see
    records/trimmed.py); None when the whole input must be read."""
    try:
        entries = _whole_file(Path(path), rel, limit)
    except WholeInputNeeded:
        return None
    digest = entries[0][2] if entries else b""
    place = spill.write(file_no, digest, entries) if entries else None
    documents: dict[int, Document] = {}
    sent = []
    for record, number, _raw in entries:
        if trimmer.kept_whole(record.data):
            # Its document without the data: the whole file's records would be pickled with it.
            document = documents.get(number) or documents.setdefault(
                number, Document(None, record.document.lines, record.document.first_line))
            sent.append((Record(record.data, rel, document, record.root), number))
        else:
            sent.append(trimmer.row(record, number))
    return digest, place, sent


def read_back(files: Sequence[tuple[Path, str]], stubs: list[Stub],
              spill: Spill | None = None) -> tuple[list[Record], bool]:
    """The records `stubs` stand for, read again from their files (`files`: by number, as
    FirstPass.files; a YAML or JSON file's from `spill` when the first pass spilled it there);
    (records, unchanged): False when a file no longer holds what the first pass read there
    (changed while the run went on)."""
    records, unchanged, parsed = [], True, {}
    named = {file_no: files[file_no] for file_no in {stub.file_no for stub in stubs}}    # each looked up once
    lines_files = {file_no for file_no, (path, _rel) in named.items() if path.suffix.lower() == JSON_LINES}
    try:
        of_lines = [stub for stub in stubs if stub.file_no in lines_files]
        lines = _lines_at(named, of_lines)
        quick = _one_record_lines(lines, of_lines)
        for stub in stubs:
            path, rel = named[stub.file_no]
            if stub.file_no in lines_files:
                found, same = _line_back(lines, quick, stub, rel)
            else:
                found, same = _read_document(parsed, path, stub, rel, spill)
            records.extend(found)
            unchanged &= same and len(found) == 1
    except OSError:         # gone or unreadable since the first pass
        return [], False
    return records, unchanged


# Lines of a JSON Lines file asked for together are read in one go when they are at most this
# many bytes apart: a client's records are mostly neighbours in its export, and a seek and a
# readline per record (two system calls) took about 60 of the 500 us a j1000 client's read_back
# took, measured alone. At most this many bytes of other lines are read between two of them.
RUN_GAP = 16384


def _lines_at(files: Mapping[int, tuple[Path, str]], stubs: list[Stub]) -> dict[tuple[int, int], bytes]:
    """(file number, byte offset) -> the line there (as readline gives it), for each of `stubs`
    (JSON Lines stubs), a run of lines no more than RUN_GAP bytes apart read at once."""
    lines: dict[tuple[int, int], bytes] = {}
    by_file: dict[int, set[int]] = {}
    for stub in stubs:
        by_file.setdefault(stub.file_no, set()).add(stub.at)
    for file_no, offsets in by_file.items():
        ordered = sorted(offsets)
        with files[file_no][0].open("rb") as handle:
            start = 0
            while start < len(ordered):
                end = start + 1
                while end < len(ordered) and ordered[end] - ordered[end - 1] <= RUN_GAP:
                    end += 1
                first = ordered[start]
                handle.seek(first)
                span = handle.read(ordered[end - 1] - first) + handle.readline()
                for at in ordered[start:end]:
                    stop = span.find(b"\n", at - first)
                    lines[(file_no, at)] = span[at - first:] if stop < 0 else span[at - first:stop + 1]
                start = end
    return lines


def _one_record_lines(lines: dict[tuple[int, int], bytes], stubs: list[Stub]) -> dict[tuple[int, int], dict]:
    """(file number, byte offset) -> data, for the usual lines of `stubs` (JSON Lines stubs,
    read by _lines_at): one record, the whole line, not a file's first nor its unended last,
    bytes as the first pass read them. Each as _exact_line reads it, its steps taken once for
    all of them: lines that each end with a line break decode and split joined as they do one
    by one (no character nor line break spans two of them); any doubt, and none is taken here."""
    places, raws = [], []
    for stub in stubs:
        at, _number, digest = stub.place()
        raw = lines[(stub.file_no, at)]
        if at and not stub.root and raw.endswith(b"\n") and _digest(raw) == digest:
            places.append((stub.file_no, at))
            raws.append(raw)
    try:
        texts = b"".join(raws).decode("utf-8").splitlines()
    except UnicodeDecodeError:
        return {}
    datas = exact_json_texts(texts) if len(texts) == len(raws) else None
    return {place: data for place, data in zip(places, datas or ()) if isinstance(data, dict)}


def _line_back(lines: dict[tuple[int, int], bytes], quick: dict[tuple[int, int], dict], stub: Stub,
               rel: str) -> tuple[list[Record], bool]:
    """The records of a JSON Lines stub's line (read by _lines_at; `quick`: _one_record_lines),
    and whether it holds what the first pass read there."""
    at, number, digest = stub.place()
    data = quick.get((stub.file_no, at))
    if data is not None:
        return [_line_record(data, rel, number)], True
    raw = lines[(stub.file_no, at)]
    if _digest(raw) != digest:
        return [], False
    try:
        found = [r for r in _exact_line(raw, rel, number, at) if r.root == stub.root]
    except WholeInputNeeded:
        return [], False
    # A refused record the first pass read quickly: it indexed more than the skeleton holds.
    return (found, True) if not any(isinstance(r, RefusedRecord) for r in found) else ([], False)


def _read_document(parsed: dict, path: Path, stub: Stub, rel: str, spill: Spill | None) -> tuple[list[Record], bool]:
    """The records of a YAML or JSON file's stub: as the first pass spilled them for the bytes
    it read (the stub's digest), else parsed again (`parsed` keeps each file's records)."""
    if stub.file_no not in parsed and spill is not None:
        spilled = spill.read(stub.file_no, stub.digest, rel)
        if spilled is not None:
            parsed[stub.file_no] = spilled
    if stub.file_no not in parsed:
        try:
            parsed[stub.file_no] = _whole_file(path, rel, max_file_bytes()[0])
        except (WholeInputNeeded, OSError):
            parsed[stub.file_no] = []
    found = [(record, raw) for record, document, raw in parsed[stub.file_no]
             if document == stub.at and record.root == stub.root]
    same = all(raw == stub.digest for _record, raw in found)
    return [record for record, _raw in found], same


def detached(record: Record) -> Record:
    """`record` with only its own part of its document's line map (a worker it is sent to needs
    no more, and a document may hold a whole file's records)."""
    where = located(record)
    # replace, not Record(...): a reader.RefusedRecord stays one, with its problems.
    return dataclasses.replace(record, document=Document(None, where.lines, where.first_line))


@dataclass
class Located:
    """Where a record read in a worker stands, for its findings' file, line and pointer: what a
    Record answers about its location, without its data."""
    type: str
    file: str
    root: str
    lines: dict[str, int]
    first_line: int

    def line_of(self, pointer: str = "") -> int:
        return nearest(self.lines, self.root + pointer, self.first_line)

    def __reduce__(self):
        # A worker's verdicts reach the main process pickled, and stay there until the report:
        # rebuilt with its strings interned, the pointers (a YAML record's line map holds one
        # per field), files and types of all of them are one copy each, not one per record.
        return _interned_located, (self.type, self.file, self.root, self.lines, self.first_line)


def _interned_located(kind: str, file: str, root: str, lines: dict[str, int], first_line: int) -> Located:
    intern = sys.intern
    return Located(intern(kind), intern(file), intern(root), {intern(p): n for p, n in lines.items()}, first_line)


def located(record: Record) -> Located:
    root, lines = record.root, record.document.lines
    mine = {p: line for p, line in lines.items() if p == "" or p == root or p.startswith(root + "/")}
    return Located(record.type, record.file, root, mine, record.document.first_line)
