"""What a streamed first pass (records/stream.py) keeps of the records it dropped: per client a
block of fixed-size rows (type, file, root, place, digest) beside the list of their ids, and
the records it keeps whole. StubTable reads as the index's `by_id`: a record kept whole, or a
Stub made from its row when it is asked for.

A row costs 37 bytes in its client's block and 8 in its id list, against about 140 for a Stub
object with its own bytes; the ids themselves are the index's owner_client keys. Memory after
the pass is then the ids, one dict entry and a row per record, plus the shared records.
"""
from __future__ import annotations

import struct
from collections.abc import Mapping

from checker.records.reader import Record

_PLACE = struct.Struct("<QII")       # at, line, id_line
# type number, file number, root number, at, line, id_line, digest
ROW = struct.Struct("<BIIQII12s")


class Stub:
    """What the index keeps of a record whose data was dropped: its type, file, where to read it
    again and a digest of its bytes, packed (a few dozen bytes a record: see the module's docstring)."""
    __slots__ = ("type", "file", "file_no", "root", "_packed")

    def __init__(self, kind: str, file: str, file_no: int, root: str, place: tuple[int, int, int], digest: bytes):
        self.type, self.file, self.file_no, self.root = kind, file, file_no, root
        self._packed = _PLACE.pack(*place) + digest

    @property
    def at(self) -> int:
        """JSON Lines: the byte offset of its line; YAML and JSON: its document's number."""
        return _PLACE.unpack_from(self._packed)[0]

    @property
    def line(self) -> int:
        """JSON Lines: its line; YAML and JSON: the line its record starts on."""
        return _PLACE.unpack_from(self._packed)[1]

    @property
    def digest(self) -> bytes:
        """Of its bytes: its line's (JSON Lines), its whole file's (YAML, JSON)."""
        return self._packed[_PLACE.size:]

    def line_of(self, _pointer: str = "") -> int:
        return _PLACE.unpack_from(self._packed)[2]     # asked only for "/id" (duplicate id messages)


class _Block:
    """One client's rows, in the order of `ids`."""
    __slots__ = ("ids", "rows")

    def __init__(self):
        self.ids: list[str] | tuple[str, ...] = []      # a tuple, and the rows bytes, once closed
        self.rows = bytearray()


class StubTable(Mapping):
    """id -> the record kept whole, or its Stub (made on each look-up). `owners` is the index's
    owner_client, which the table reads to find a record's block: a record is added with
    `keep` (whole, with its row while its owner may still be found: `settle`) or `add_row`."""

    def __init__(self, owners: dict, files: list[str], types: list[str]):
        self.owners, self.files, self.types = owners, files, types
        self.type_no = {name: no for no, name in enumerate(types)}
        self.roots: list[str] = []
        self.root_no: dict[str, int] = {}
        self.whole: dict[str, Record] = {}
        self.pending: dict[str, bytes] = {}        # rows of records kept whole for now
        self.blocks: dict[str, _Block] = {}
        # Positions in the block last added to, and in the one last looked up in (not the same
        # when a record names another client's): a look-up costs no scan of a large block.
        self._adding: tuple[_Block | None, dict[str, int]] = (None, {})
        self._seeking: tuple[_Block | None, dict[str, int]] = (None, {})

    def row(self, kind: str, file_no: int, root: str, place: tuple[int, int, int], digest: bytes) -> bytes:
        root_no = self.root_no.get(root)
        if root_no is None:
            root_no = self.root_no[root] = len(self.roots)
            self.roots.append(root)
        return ROW.pack(self.type_no[kind], file_no, root_no, *place, digest)

    def add_row(self, rid: str, owner: str, row: bytes):
        """The record under `rid` (owned by client `owner`) kept as its row only."""
        block = self.blocks.get(owner)
        if block is None:
            block = self.blocks[owner] = _Block()
        adding, where = self._adding
        if adding is not block:
            self._adding = block, (where := {r: i for i, r in enumerate(block.ids)})
        where[rid] = len(block.ids)
        block.ids.append(rid)
        block.rows += row

    def keep(self, rid: str, record: Record, row: bytes | None = None):
        """`record` kept whole; with its `row`, until `settle` finds its owner."""
        self.whole[rid] = record
        if row is not None:
            self.pending[rid] = row

    def settle(self, rid: str):
        """A record kept whole for now: dropped to its row when a client is known to own it."""
        owner = self.owners.get(rid)
        if owner is not None and rid in self.pending:
            del self.whole[rid]
            self.add_row(rid, owner, self.pending.pop(rid))

    def close(self):
        """Once every record is added: each block's rows and ids take only their own size."""
        for block in self.blocks.values():
            block.ids, block.rows = tuple(block.ids), bytes(block.rows)
        self._adding = self._seeking = (None, {})

    def _position(self, block: _Block, rid: str) -> int:
        for cached, where in (self._adding, self._seeking):
            if cached is block:
                return where[rid]
        if len(block.ids) <= 16:
            return block.ids.index(rid)
        self._seeking = block, (where := {r: i for i, r in enumerate(block.ids)})
        return where[rid]

    def _row(self, rid: str) -> tuple:
        block = self.blocks[self.owners[rid]]
        return ROW.unpack_from(block.rows, self._position(block, rid) * ROW.size)

    def type_of(self, rid: str) -> str | None:
        """The type of the record under `rid`, None when there is none (the index builder
        asks for every reference: the row's first byte is read from the block last added to)."""
        whole = self.whole.get(rid)
        if whole is not None:
            return whole.type
        owner = self.owners.get(rid)
        if owner is None:
            return None
        block = self.blocks[owner]
        adding, where = self._adding
        position = where[rid] if adding is block else self._position(block, rid)
        return self.types[block.rows[position * ROW.size]]

    def id_place(self, rid: str) -> tuple[str, int]:
        """(file, line of its id) of the record under `rid`."""
        whole = self.whole.get(rid)
        if whole is not None:
            return whole.file, whole.line_of("/id")
        kind, file_no, _root, _at, _line, id_line, _digest = self._row(rid)
        return self.files[file_no], id_line

    def __getitem__(self, rid: str):
        whole = self.whole.get(rid)
        if whole is not None:
            return whole
        kind, file_no, root, at, line, id_line, digest = self._row(rid)
        return Stub(self.types[kind], self.files[file_no], file_no, self.roots[root], (at, line, id_line), digest)

    def __contains__(self, rid) -> bool:
        return rid in self.whole or rid in self.owners

    def __iter__(self):
        yield from self.whole
        for block in self.blocks.values():
            yield from block.ids

    def __len__(self) -> int:
        return len(self.whole) + sum(len(block.ids) for block in self.blocks.values())
