"""The record index: ids, references and which client owns each record.

Checks that ids are unique across the whole input, that every reference names an existing
record of the right type, and that client-scoped records do not reach into another client.
"""
from __future__ import annotations

import sys
from array import array
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import chain, repeat

from checker.errors import Problem
from checker.records.owners import lazy_numpy
from checker.records.reader import Record
from checker.records.schema_registry import record_types


def _values_at(data, parts, pointer=""):
    """[(pointer, value)] for a pointer pattern whose `*` stands for every array index (a list,
    made a step at a time: the index asks for every record's pattern fields)."""
    found = [(pointer, data)]
    for head in parts:
        step = []
        for at, value in found:
            if head == "*":
                if isinstance(value, list):
                    step += [(f"{at}/{i}", item) for i, item in enumerate(value)]
            elif isinstance(value, dict) and head in value:
                step.append((f"{at}/{head}", value[head]))
        found = step
    return found


_UNKNOWN = object()      # an owner not known yet


def _reference_field(pattern: str, target_type: str) -> tuple[tuple[str, ...], str | None, str]:
    parts = tuple(pattern.strip("/").split("/"))
    return parts, "/" + parts[0] if len(parts) == 1 and parts[0] != "*" else None, target_type


class _Waiting:
    """The references left waiting for `finish` (a record before the one it names: at 10,000
    JSON Lines clients, 270,000 of them wait for people.jsonl), packed in columns: the named
    ids (interned: one copy for all that name one), and one array each of their lines, of the
    numbers of their files and of their (root, pointer, target type), of the referring
    record's client when it was known (`mines`: finish need not look up the owner of each),
    and of that record's place in its client's block of rows when it has one (a streamed
    pass's records: records/stubs.py). As a tuple each, they took 145 bytes a reference among
    the long-lived ids, and once freed left that much in empty pools only the process's later
    objects could take (40 MB at 10,000 clients); packed, 32 bytes in a few large blocks, given
    back whole. The referring id itself is kept only for a record without a place in a block
    (`ids`): kept for each, the ids of 675,000 references at 25,000 clients held 40 MB of
    strings until the end of the pass, which are otherwise freed as their blocks are put away."""
    UNKNOWN, NO_CLIENT = -1, -2       # `mines` numbers: not known yet (looked up at finish), no client's

    def __init__(self):
        self.targets: list[str] = []
        self.lines = array("q")             # -1: none
        self.file_nos = array("i")
        self.place_nos = array("i")
        self.mines = array("i")
        self.positions = array("i")         # -1: none (the referring id is in `ids`)
        self.ids: dict[int, str] = {}       # reference number -> referring id, for those without a place
        self.files: dict[str, int] = {}
        self.places: dict[tuple[str, str, str], int] = {}     # (root, pointer, target type) -> number
        self.clients: dict[str, int] = {}
        self._marked = (0, 0, 0)            # (references, files, clients) when `mark` was last asked

    def append(self, ref: tuple, mine):
        """A reference (see unpacked) of a record owned by client `mine` (None: no client's;
        anything else: not known yet)."""
        rid, file, root, pointer, line, target, target_type = ref
        self.add(rid, target, line, self.file_number(file), self.place_number(root, pointer, target_type),
                 self.client_number(mine))

    def client_number(self, mine) -> int:
        if mine is None:
            return self.NO_CLIENT
        return self.clients.setdefault(mine, len(self.clients)) if isinstance(mine, str) else self.UNKNOWN

    def add(self, rid: str, target: str, line: int | None, file_no: int, place_no: int, mine_no: int,
            position: int = -1):
        """`append` of a reference whose file, place and client are numbered already;
        `position`: the place of the referring record `rid` in client `mine_no`'s block."""
        if position < 0:
            self.ids[len(self.lines)] = rid
        self.targets.append(target)
        self.lines.append(-1 if line is None else line)
        self.file_nos.append(file_no)
        self.place_nos.append(place_no)
        self.mines.append(mine_no)
        self.positions.append(position)

    def add_many(self, targets: list[str], lines: list[int], file_no: int, places: list[int], mines: list[int],
                 positions: list[int]):
        """`add` of several references of one file, in order, each of a record with a place in
        its client's block."""
        self.targets += targets
        self.lines.extend(lines)
        self.file_nos.extend(repeat(file_no, len(lines)))
        self.place_nos.extend(places)
        self.mines.extend(mines)
        self.positions.extend(positions)

    def file_number(self, file: str) -> int:
        return self.files.setdefault(file, len(self.files))

    def place_number(self, root: str, pointer: str, target_type: str) -> int:
        return self.places.setdefault((root, pointer, target_type), len(self.places))

    def __len__(self) -> int:
        return len(self.lines)

    def mark(self) -> int:
        """How many references wait: the `start` of keep_only for those added next, which forgets
        the files and clients numbered since that no reference it keeps names."""
        self._marked = (len(self.lines), len(self.files), len(self.clients))
        return len(self.lines)

    def keep_only(self, start: int, kept: list[int]):
        """Only the references numbered `kept` (in order, each >= `start`) left of those from
        `start` on: the others were judged before finish (IndexBuilder.settle_waiting)."""
        columns = (self.lines, self.file_nos, self.place_nos, self.mines, self.positions)
        tails = [[column[i] for i in kept] for column in columns]
        targets = [self.targets[i] for i in kept]
        ids = {start + k: self.ids[i] for k, i in enumerate(kept) if i in self.ids}
        for i in range(start, len(self.lines)):
            self.ids.pop(i, None)
        del self.targets[start:]
        self.targets += targets
        for column, tail in zip(columns, tails):
            del column[start:]
            column.extend(tail)
        self.ids.update(ids)
        if self._marked[0] == start:
            self._forget(self.files, self._marked[1], self.file_nos[start:])
            self._forget(self.clients, self._marked[2], self.mines[start:])

    @staticmethod
    def _forget(numbered: dict, since: int, used: array):
        """The last entries of `numbered` (numbered from `since` on: only references from the
        mark on can name them) that no reference in `used` names, dropped. Kept, a YAML export
        in folders kept each file's name and client, numbered for the references its file left
        waiting until it was read (two a client), to the end of the pass: 25,000 entries each."""
        names = set(used)
        while len(numbered) > since and len(numbered) - 1 not in names:
            numbered.popitem()

    def unpacked(self, block_id):
        """A function giving the `i`-th reference as IndexBuilder._reference got it: (id, file,
        root, pointer, line, target, target type); `block_id(client, position)`: the id at
        `position` in client `client`'s block."""
        files, places, clients = list(self.files), list(self.places), list(self.clients)

        def reference(i: int) -> tuple:
            root, pointer, target_type = places[self.place_nos[i]]
            line, position = self.lines[i], self.positions[i]
            rid = self.ids[i] if position < 0 else block_id(clients[self.mines[i]], position)
            return rid, files[self.file_nos[i]], root, pointer, None if line == -1 else line, self.targets[i], \
                target_type
        return reference


@dataclass
class RecordIndex:
    by_id: dict[str, Record] = field(default_factory=dict)
    # record id -> client id: a dict, or a streamed pass's records/owners.Owners (a Mapping)
    owner_client: dict[str, str | None] = field(default_factory=dict)
    # References that partitions follow: those of CB-wide records (id -> [(pointer, target)]),
    # and per client the CB-wide records its own records refer to. References between records
    # of one client are checked and then not kept: nothing after the checks reads them.
    references: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    # A sorted tuple per client: a PackedShared, built as the index is (a set of five to
    # eighteen ids takes 728 bytes, their tuple 80 to 184; packed, 40 to 70).
    client_shared: dict[str, tuple[str, ...]] | PackedShared = field(default_factory=dict)
    # Which indexed records each reference problem concerns, so a run can withhold only the
    # partitions holding them (see pipeline.withheld_records); empty: no indexed record known.
    implicated: dict[Problem, tuple[str, ...]] = field(default_factory=dict)

    def records_of_type(self, type_name):
        return [r for r in self.by_id.values() if r.type == type_name]


class PackedShared(Mapping):
    """The index's client_shared: client -> the sorted tuple of the CB-wide ids its records
    refer to, kept as the numbers of its ids (two bytes an id, or four) in one list of them,
    in the order they were first met: a tuple of twelve ids and its entry took 136 bytes a
    client, 3.8 MB at 25,000 clients for the whole run, these 57.

    Built as the index is (`add`, `add_many`, then `close`): the ids of the last OPEN clients
    added to wait in a set each, and a client's set is packed when OPEN others were added to
    since. A set per client for the whole pass (728 bytes for five to eighteen ids) took 18 MB
    at 25,000 YAML clients, in small objects freed only as the pass ended, which left the main
    process that much heap it never gave back."""

    OPEN = 256

    def __init__(self, shared: Mapping[str, Iterable[str]] | None = None):
        self.ids: list[str] = []
        self._number: dict[str, int] = {}
        self.code = "H"
        self.packed: dict[str, bytes] = {}
        self._open: dict[str, set[str]] = {}        # client -> its ids not packed yet
        for client, ids in (shared or {}).items():
            self.add_many(client, ids)
        self.close()

    def add(self, client: str, rid: str):
        self._opened(client).add(rid)

    def add_many(self, client: str, rids: Iterable[str]):
        self._opened(client).update(rids)

    def close(self):
        """Every client's ids packed (the index is finished)."""
        for client in list(self._open):
            self._pack(client)

    def _opened(self, client: str) -> set[str]:
        ids = self._open.get(client)
        if ids is None:
            if len(self._open) >= self.OPEN:
                self._pack(next(iter(self._open)))
            ids = self._open[client] = set()
        return ids

    def _pack(self, client: str):
        ids = self._open.pop(client)
        if client in self.packed:
            ids.update(self._unpacked(client))
        numbers = [self._number_of(rid) for rid in sorted(ids)]
        self.packed[client] = array(self.code, numbers).tobytes()

    def _number_of(self, rid: str) -> int:
        number = self._number.get(rid)
        if number is None:
            number = self._number[rid] = len(self.ids)
            self.ids.append(rid)
            if number == 1 << 16:      # more than two bytes number: four, for every client
                self.packed = {client: array("I", self._numbers(packed)).tobytes()
                               for client, packed in self.packed.items()}
                self.code = "I"
        return number

    def _numbers(self, packed: bytes) -> array:
        numbers = array(self.code)
        numbers.frombytes(packed)
        return numbers

    def _unpacked(self, client: str) -> tuple[str, ...]:
        return tuple(map(self.ids.__getitem__, self._numbers(self.packed[client])))

    def __getitem__(self, client: str) -> tuple[str, ...]:
        if client in self._open:
            return tuple(sorted(self._open[client].union(self._unpacked(client) if client in self.packed else ())))
        return self._unpacked(client)

    def __len__(self) -> int:
        return len(self.packed.keys() | self._open.keys())

    def __iter__(self):
        return iter({**self.packed, **self._open})


def unowned(owners) -> list[str]:
    """The ids no client owns in an index's owner_client, in the order they were added: a
    streamed pass's records/owners.Owners answers without a walk over every id (its items()
    reads every client's block of rows), a dict by one."""
    answer = getattr(owners, "unowned", None)
    return answer() if answer is not None else [rid for rid, client in owners.items() if client is None]


def build_index(records: list[Record]) -> tuple[RecordIndex, list[Problem]]:
    """Index records (those that failed their schema too); report duplicates and bad references."""
    builder = IndexBuilder()
    for rec in records:
        builder.add(rec)
    return builder.finish()


class IndexBuilder:
    """Builds the index one record at a time, so a reader can drop each record's data once it
    is added: `add(record)` reads its id, type, owner and references and keeps the record under
    its id (`_store`: a subclass may keep less, records/stream.py keeps a stub); `finish()`
    gives the index and the problems.

    A reference or owner whose target was read already is judged at once; the others (a
    record before the one it names) wait for `finish`. Either way the outcome is the one a
    check over the whole input gives: the first record under an id is the one kept, and an
    owner chain is resolved only through records all read, so it cannot change later."""

    def __init__(self):
        self.types = record_types()
        # Per type, its reference fields: (the pattern's parts, its pointer when it is one field, target type).
        self._refs = {name: [_reference_field(pattern, target) for pattern, target in info.ref_fields.items()]
                      for name, info in self.types.items()}
        self.index = RecordIndex(client_shared=PackedShared())
        self.problems: list[Problem] = []
        self._owner_of: dict[str, str] = {}       # id -> owner field value, while its chain is open
        self._waiting = _Waiting()                # (id, file, root, pointer, line, target, target type)
        self._duplicates: list[tuple[Problem, str, object]] = []   # (problem, id, owner field value)
        self._fields: dict[str, tuple[str, ...]] = {}     # type -> indexed_fields

    def reference_fields(self, kind) -> list[tuple[str, ...]]:
        """The reference fields of records of type `kind`, as pointer tokens (`*`: every item
        of a list): the lines the index may ask a record for, besides its id's."""
        return [parts for parts, _pointer, _target in self._refs.get(kind, ())] if isinstance(kind, str) else []

    def indexed_fields(self, kind) -> tuple[str, ...]:
        """The fields of a record of type `kind` that add() reads: its id, type, owner field and
        the first token of each reference field (what a reader that keeps less of a record
        must keep: records/line_memo.py, records/trimmed.py)."""
        if not isinstance(kind, str):
            return ("id", "type")
        if kind not in self._fields:
            info = self.types.get(kind)
            owner = [info.owner_field] if info is not None and info.owner_field else []
            heads = [parts[0] for parts in self.reference_fields(kind)]
            self._fields[kind] = tuple(dict.fromkeys(["id", "type", *owner, *heads]))
        return self._fields[kind]

    # What the index keeps of each record, and what the checks read back of it: a subclass
    # that keeps less overrides these four.
    def _has(self, rid: str) -> bool:
        return rid in self.index.by_id

    def _store(self, rec: Record):
        self.index.by_id[rec.id] = rec

    def _type_of(self, rid: str) -> str | None:
        """The type of the record indexed under `rid`, or None when there is none."""
        found = self.index.by_id.get(rid)
        return None if found is None else found.type

    def _id_place(self, rid: str) -> tuple[str, int]:
        """(file, line of its id) of the record indexed under `rid`."""
        first = self.index.by_id[rid]
        return first.file, first.line_of("/id")

    def add(self, rec: Record) -> bool:
        """Index `rec`; False when it is not indexed (no id, unknown type, or a duplicate)."""
        data = rec.data
        rid, kind = data.get("id"), data.get("type")
        info = self.types.get(kind) if isinstance(rid, str) and isinstance(kind, str) else None
        if info is None:
            return False   # schema validation reports it
        owner = data.get(info.owner_field) if info.owner_field else None
        if self._has(rid):
            file, line = self._id_place(rid)
            problem = Problem(rec.file, rec.line_of("/id"), rec.root + "/id",
                              f"duplicate id {rid!r}; first used in {file}:{line}", "ids unique across the whole input")
            self.problems.append(problem)
            self._duplicates.append((problem, rid, owner))
            return False
        self._store(rec)
        self._own(rid, kind, owner)
        self._refer_all(rid, self.index.owner_client.get(rid, _UNKNOWN), kind, data, rec)
        return True

    def _refer_all(self, rid: str, mine, kind: str, data: dict, where):
        """Each reference of the record `rid` of type `kind` (owned by client `mine`, _UNKNOWN
        while its owner is not read) to _refer; `where`: its Record, or (file, line) for a
        record that stands on one line (a JSON Lines line), its root ""."""
        for parts, pointer, target_type in self._refs[kind]:
            if pointer is None:
                self._refer_items(rid, mine, data, parts, target_type, where)
                continue
            value = data.get(parts[0])
            if isinstance(value, str):   # a wrong type is the schema's finding
                self._refer(rid, mine, pointer, value, target_type, where)

    def _refer_items(self, rid: str, mine, data: dict, parts: tuple[str, ...], target_type: str, where):
        """The references of a pointer pattern with `*` (every item of a list) to _refer."""
        for found, value in _values_at(data, parts):
            if isinstance(value, str):
                self._refer(rid, mine, found, value, target_type, where)

    def _refer(self, rid: str, mine, pointer: str, value: str, target_type: str, where):
        """A reference of the record `rid` (see _refer_all): kept at once when it is sound and
        all it needs is known (the usual case), else judged or left waiting by _reference with
        its line."""
        theirs = self.index.owner_client.get(value, _UNKNOWN)
        if mine is not _UNKNOWN and theirs is not _UNKNOWN and self._type_of(value) == target_type:
            if mine is None:
                self.index.references.setdefault(rid, []).append((pointer, value))
                return
            if theirs is None:
                self.index.client_shared.add(mine, sys.intern(value))   # one copy, not one per client
                return
            if theirs == mine:
                return
        file, root, line = (where[0], "", where[1]) if isinstance(where, tuple) else \
            (where.file, where.root, where.line_of(pointer))
        # Interned: a reference left waiting keeps its target's id, one copy for all that name it.
        self._reference((rid, file, root, pointer, line, sys.intern(value), target_type), mine)

    def _own(self, rid: str, kind: str, owner):
        if kind == "client":
            self.index.owner_client[rid] = rid
        elif not isinstance(owner, str):
            self.index.owner_client[rid] = None
        elif owner in self.index.owner_client:
            self.index.owner_client[rid] = self.index.owner_client[owner]
        else:
            self._owner_of[rid] = owner

    def _reference(self, ref: tuple, mine=_UNKNOWN):
        """Judge a reference now when its target and both owners are known, else at finish
        (`mine`: the referring record's client, _UNKNOWN while it is not read)."""
        rid, _file, _root, _pointer, _line, target, _type = ref
        owners = self.index.owner_client
        if self._has(target) and rid in owners and target in owners:
            self._judge_reference(ref)
        else:
            self._waiting.append(ref, mine)

    def _judge_reference(self, ref: tuple):
        rid, file, root, pointer, line, value, target_type = ref
        target, expected = self._type_of(value), f"the id of a {target_type} record"
        if target is None:
            self._implicate((rid,), Problem(file, line, root + pointer, f"refers to {value!r}, which is not in the "
                                            "input", expected))
            return
        if target != target_type:
            self._implicate((rid,), Problem(file, line, root + pointer, f"refers to {value!r}, which is a "
                                            f"{target} record", expected))
            return
        mine, theirs = self.index.owner_client.get(rid), self.index.owner_client.get(value)
        if mine is not None and theirs is not None and theirs != mine:
            self._implicate((rid,), Problem(file, line, root + pointer,
                                            f"refers to {value!r}, which belongs to client {theirs!r}, not {mine!r}",
                                            "references within the same client (or to CB-wide records)"))
        elif mine is None:
            self.index.references.setdefault(rid, []).append((pointer, value))
        elif theirs is None:
            self.index.client_shared.add(mine, sys.intern(value))   # one copy, not one per client

    def _implicate(self, record_ids: tuple[str, ...], problem: Problem):
        self.problems.append(problem)
        self.index.implicated[problem] = record_ids

    def finish(self) -> tuple[RecordIndex, list[Problem]]:
        owners = self.index.owner_client
        for rid in list(self._owner_of):
            owners[rid] = self._chain_end(rid)
        self._owner_of.clear()
        waiting, self._waiting = self._waiting, _Waiting()
        self._judge_waiting(waiting)
        self.index.client_shared.close()
        for problem, rid, owner in self._duplicates:
            # The record kept under the id, and the owner of the one dropped (its client's evidence is incomplete).
            self.index.implicated[problem] = (rid, *((owner,) if isinstance(owner, str) and self._has(owner) else ()))
        return self.index, self.problems

    def waiting_count(self) -> int:
        """How many references wait for finish: settle_waiting's `start` for those added next."""
        return self._waiting.mark()

    def settle_waiting(self, start: int):
        """Judges now those references left waiting from number `start` on (the ones a file
        added) that are sound and whose judging cannot change any more: of a record whose client
        was known, to a record read since (a YAML client's decisions name a certificate later in
        its file: about two a client) that is of the type named and whose owner is known (its
        own client: nothing kept; none: kept among its client's shared ids). The owner and type
        of an indexed id never change once known, and a sound reference gives no problem, so
        finish's judging (and the report) is the same; the rest wait as before. Kept waiting,
        each held its referring id, file and client until the end of the pass (about 11 MB at
        25,000 YAML clients, in small objects that fragmented the heap)."""
        waiting, owners = self._waiting, self.index.owner_client
        expected = [kind for _root, _pointer, kind in waiting.places]
        kept, shared, ids = [], self.index.client_shared, waiting.ids
        for i in range(start, len(waiting)):
            # Its client, when it was known as it was left waiting (`mines`: looked up by its id,
            # not by its number: a list of the numbered clients would be made for each file).
            mine = owners.get(ids[i]) if waiting.mines[i] >= 0 and i in ids else None
            target = waiting.targets[i]
            theirs = _UNKNOWN if mine is None else owners.get(target, _UNKNOWN)
            if theirs is _UNKNOWN or self._type_of(target) != expected[waiting.place_nos[i]]:
                kept.append(i)
            elif theirs is None:
                shared.add(mine, target)     # interned when it was left waiting
            elif theirs != mine:
                kept.append(i)      # another client's: a problem, judged in order at finish
        if len(kept) < len(waiting) - start:
            waiting.keep_only(start, kept)

    # References left waiting from which _judge_waiting judges in bulk (numpy): below it, numpy's
    # import (about 15 MB of a process's memory) costs more than the loop it spares.
    BULK = 4096

    def _judge_waiting(self, waiting: _Waiting):
        """_judge_reference of each reference left waiting, in order; a sound one from a
        client's record to a CB-wide record or one of its own client's is kept here without its
        tuple (at 10,000 JSON Lines clients, 270,000 of them name people, read last: the type
        of each target is looked up once; the targets a client shares are kept by
        _keep_shared). Many are told apart in bulk (_sound_waiting)."""
        if len(waiting) >= self.BULK:
            np = lazy_numpy()
            shared, own = self._sound_waiting(np, waiting)
            kept = np.flatnonzero(shared)
            reference = waiting.unpacked(self._block_id)
            for i in np.flatnonzero(~(shared | own)).tolist():
                self._judge_reference(reference(i))
            self._keep_shared(list(waiting.clients), np.frombuffer(waiting.mines, np.int32)[kept],
                              list(map(waiting.targets.__getitem__, kept.tolist())))
            return
        owners = self.index.owner_client
        kept_mines, kept_targets, numbered = array("i"), [], {}     # client -> its number here
        hot = getattr(owners, "hot", owners)     # records/owners.Owners: the ids asked for often
        expected = [target_type for _root, _pointer, target_type in waiting.places]
        clients = list(waiting.clients)
        cb_wide: dict[str, str] = {}        # CB-wide target -> its type
        reference = waiting.unpacked(self._block_id)
        for i, (target, place_no, mine_no) in enumerate(zip(waiting.targets, waiting.place_nos, waiting.mines)):
            mine = clients[mine_no] if mine_no >= 0 else None if mine_no == _Waiting.NO_CLIENT else \
                owners.get(waiting.ids[i])
            theirs = hot.get(target, _UNKNOWN)
            if theirs is _UNKNOWN:
                theirs = owners.get(target, _UNKNOWN)
            if mine is not None and theirs is None:
                kind = cb_wide.get(target) or cb_wide.setdefault(target, self._type_of(target))
                if kind == expected[place_no]:
                    kept_mines.append(numbered.setdefault(mine, len(numbered)))
                    kept_targets.append(target)         # interned when it was left waiting
                    continue
            elif mine is not None and theirs == mine and self._type_of(target) == expected[place_no]:
                continue
            self._judge_reference(reference(i))
        self._keep_shared(list(numbered), kept_mines, kept_targets)

    def _sound_waiting(self, np, waiting: _Waiting):
        """(to a CB-wide record, to one of its own client's) of each reference left waiting:
        whether it is such a sound reference (of a record whose client was known when it was
        left waiting, to a record of the type named), as two numpy masks. Each target's owner
        and type is looked up once, each place's type named once."""
        targets = dict.fromkeys(waiting.targets)
        number = {target: k for k, target in enumerate(targets)}
        kinds: dict[str | None, int] = {None: -1}       # type -> its number here (None: no record)
        theirs, kind_of = array("i"), array("i")
        owners, clients = self.index.owner_client, waiting.clients
        for target in targets:
            owner = owners.get(target, _UNKNOWN)
            # A client's number among the waiting's (-3: one with no reference waiting), -2: no
            # client's, -4: no record.
            theirs.append(-4 if owner is _UNKNOWN else -2 if owner is None else clients.get(owner, -3))
            kind = self._type_of(target)
            kind_of.append(kinds.setdefault(kind, len(kinds) - 1))
        expected = np.array([kinds.setdefault(kind, len(kinds) - 1) for _r, _p, kind in waiting.places], np.int32)
        at = np.fromiter(map(number.__getitem__, waiting.targets), np.int64, len(waiting))
        mines = np.frombuffer(waiting.mines, np.int32)
        sound = (mines >= 0) & (np.frombuffer(kind_of, np.int32)[at] == expected[np.frombuffer(waiting.place_nos, np.int32)])
        owner_of = np.frombuffer(theirs, np.int32)[at]
        return sound & (owner_of == -2), sound & (owner_of == mines)

    def _keep_shared(self, clients: list[str], mines: array, targets: list[str]):
        """client_shared[clients[mines[i]]] given targets[i], for each i. With numpy (a pass
        that put ids away: records/owners.py), a client's targets are added at once (sorted by
        client: PackedShared packs each once, not again whenever its client comes back)."""
        shared, np = self.index.client_shared, getattr(self.index.owner_client, "np", None)
        if np is None and not isinstance(mines, array):     # numbers from _judge_waiting's bulk: numpy's
            np = lazy_numpy()
        if np is None:      # a smaller export: its clients are few
            for mine_no, target in zip(mines, targets):
                shared.add(clients[mine_no], target)
            return
        if not len(mines):
            return
        numbers = np.frombuffer(mines, np.int32) if isinstance(mines, array) else mines
        order = np.argsort(numbers, kind="stable")
        ends = np.append(np.flatnonzero(np.diff(numbers[order])) + 1, len(order)).tolist()
        start = 0
        for end in ends:
            shared.add_many(clients[int(numbers[order[start]])], map(targets.__getitem__, order[start:end].tolist()))
            start = end

    def _block_id(self, client: str, position: int) -> str:
        """The id at `position` in client `client`'s block of rows: a builder that gives the
        references left waiting places in blocks (records/stream.py) tells."""
        raise NotImplementedError("this index builder keeps no blocks of rows")

    def _chain_end(self, rid: str) -> str | None:
        """The client at the end of an owner chain some record of which was read after its
        owner's owner: followed now that every record is read (a loop or a gap: None)."""
        owners, seen = self.index.owner_client, set()
        while rid not in owners:
            if rid in seen or not self._has(rid):
                return None
            seen.add(rid)
            rid = self._owner_of[rid]
        return owners[rid]


def indexed_owner(rec: Record, index: RecordIndex) -> tuple[str, ...]:
    """For a record that is not in the index (a duplicate, an unknown type, no id): the indexed
    record its owner field names, as a 1-tuple, or () when none is known."""
    types = record_types()
    owner_field = types[rec.type].owner_field if isinstance(rec.type, str) and rec.type in types else "client"
    owner = rec.data.get(owner_field) if owner_field else None
    return (owner,) if isinstance(owner, str) and owner in index.by_id else ()
