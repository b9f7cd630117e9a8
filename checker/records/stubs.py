"""What a streamed first pass (records/stream.py) keeps of the records it dropped: per client a
block of fixed-size rows (place, digest, type, file, root) beside the list of their ids, and
the records it keeps whole. StubTable reads as the index's `by_id`: a record kept whole, or a
Stub made from its row when it is asked for.

A row costs 37 bytes in its client's block and 8 in its id list, against about 140 for a Stub
object with its own bytes; the ids themselves are the index's owner_client keys. Memory after
the pass is then the ids, one dict entry and a row per record, plus the shared records.
"""
from __future__ import annotations

import hashlib
import struct
from collections.abc import Mapping, Sequence

from checker.records.reader import Record

_PLACE = struct.Struct("<QII")       # at, line, id_line
# A Stub's packed place and digest (28 bytes), then its type, file and root numbers.
ROW = struct.Struct("<QII12sBII")
_PACKED = _PLACE.size + 12
_NUMBERS = struct.Struct("<BII")


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

    def place(self) -> tuple[int, int, bytes]:
        """(at, line, digest) at once: what reading it again takes (records/stream.read_back)."""
        at, line, _id_line = _PLACE.unpack_from(self._packed)
        return at, line, self._packed[_PLACE.size:]

    def line_of(self, _pointer: str = "") -> int:
        return _PLACE.unpack_from(self._packed)[2]     # asked only for "/id" (duplicate id messages)

    def __reduce__(self):
        # Sent to a worker with every task: as a call with five values it pickles in half the
        # time and a third of the bytes of the default slots state (measured: 55 -> 29 us a
        # task to pickle, 64 -> 22 us to unpickle, 3.1 -> 2.4 KB).
        return Stub.of, (self.type, self.file, self.file_no, self.root, self._packed)

    @classmethod
    def of(cls, kind: str, file: str, file_no: int, root: str, packed: bytes) -> Stub:
        """A stub of a StubTable's row (its place and digest packed already)."""
        stub = cls.__new__(cls)
        stub.type, stub.file, stub.file_no, stub.root, stub._packed = kind, file, file_no, root, packed
        return stub


class _Block:
    """One client's rows, in the order of `ids`."""
    __slots__ = ("ids", "rows")

    def __init__(self):
        self.ids: list[str] | tuple[str, ...] = []      # a tuple, and the rows bytes, once closed
        self.rows = bytearray()


class StubTable(Mapping):
    """id -> the record kept whole, or its Stub (made when looked up). `owners` is the index's
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
        # when a record names another client's), with the stubs made of the latter (a task asks
        # for each twice): a look-up costs no scan of a block, nor a stub made twice.
        self._adding: tuple[_Block | None, dict[str, int]] = (None, {})
        self._seeking: tuple[_Block | None, dict[str, int], dict[str, Stub]] = (None, {}, {})

    def row(self, kind: str, file_no: int, root: str, place: tuple[int, int, int], digest: bytes) -> bytes:
        return ROW.pack(*place, digest, self.type_no[kind], file_no, self.root_number(root))

    def root_number(self, root: str) -> int:
        """The number a row gives `root` by (a caller packing many rows of one root asks once)."""
        root_no = self.root_no.get(root)
        if root_no is None:
            root_no = self.root_no[root] = len(self.roots)
            self.roots.append(root)
        return root_no

    def add_row(self, rid: str, owner: str, row: bytes):
        """The record under `rid` (owned by client `owner`) kept as its row only."""
        block, where = self._block_adding(owner)
        where[rid] = len(block.ids)
        block.ids.append(rid)
        block.rows += row

    def add_rows(self, owner: str, rids: list[str], rows: bytes):
        """add_row of several records of client `owner`, their rows packed end to end."""
        block, where = self._block_adding(owner)
        where.update(zip(rids, range(len(block.ids), len(block.ids) + len(rids))))
        block.ids.extend(rids)
        block.rows += rows

    def _block_adding(self, owner: str) -> tuple[_Block, dict[str, int]]:
        """Client `owner`'s block, made the one added to, and its ids' positions."""
        block = self.blocks.get(owner)
        if block is None:
            block = self.blocks[owner] = _Block()
        adding, where = self._adding
        if adding is not block:
            self._adding = block, (where := {r: i for i, r in enumerate(block.ids)})
            if self._seeking[0] is block:       # its positions there would miss the rows added now
                self._seeking = (None, {}, {})
        return block, where

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
        self._adding, self._seeking = (None, {}), (None, {}, {})

    def _find(self, rid: str, owner: str) -> tuple[_Block, int]:
        """(block, row offset) of a record kept as its row in client `owner`'s block (the caller
        has looked its owner up already); KeyError when there is none."""
        block = self.blocks[owner]
        adding, where = self._adding
        if adding is not block:
            seeking, where, _stubs = self._seeking
            if seeking is not block:
                self._seeking = block, (where := {r: i for i, r in enumerate(block.ids)}), {}
        return block, where[rid] * ROW.size

    def client_rows(self, client: str) -> BlockStubs | None:
        """The records of `client` kept as rows (all of its records but those kept whole), as
        stubs made only when read; None when it has none."""
        block = self.blocks.get(client)
        return None if block is None else BlockStubs(block.ids, block.rows, self.files, self.types, self.roots)

    def type_of(self, rid: str) -> str | None:
        """The type of the record under `rid`, None when there is none (the index builder
        asks for every reference)."""
        whole = self.whole.get(rid)
        if whole is not None:
            return whole.type
        owner = self.owners.get(rid)
        if owner is None:
            return None
        block, at = self._find(rid, owner)     # owner passed: asked 750,000 times at 10,000 clients
        return self.types[block.rows[at + _PACKED]]

    def id_place(self, rid: str) -> tuple[str, int]:
        """(file, line of its id) of the record under `rid`."""
        found = self[rid]
        return found.file, found.line_of("/id")

    def __getitem__(self, rid: str):
        found = self.whole.get(rid) or self._seeking[2].get(rid)
        if found is not None:
            return found
        block, at = self._find(rid, self.owners[rid])
        kind, file_no, root = _NUMBERS.unpack_from(block.rows, at + _PACKED)
        packed = bytes(block.rows[at:at + _PACKED])
        stub = Stub.of(self.types[kind], self.files[file_no], file_no, self.roots[root], packed)
        if self._seeking[0] is block:
            self._seeking[2][rid] = stub
        return stub

    def __contains__(self, rid) -> bool:
        return rid in self.whole or rid in self.owners

    def __iter__(self):
        yield from self.whole
        for block in self.blocks.values():
            yield from block.ids

    def __len__(self) -> int:
        return len(self.whole) + sum(len(block.ids) for block in self.blocks.values())


# The columns of a row but its byte offset (`at`, which moves whenever a line before it grows)
# and its file's and root's numbers (digested by name): a block's content for a digest, read
# column by column (bytes sliced with a step: C speed).
_FILE_ROOT = range(ROW.size - 8, ROW.size)
_CONTENT_COLUMNS = range(struct.calcsize("<Q"), _FILE_ROOT.start)


class BlockStubs(Sequence):
    """One client's rows of a StubTable as the Stubs of its records in id order, made when
    they are read (in the worker that reads the records back): a task built in the main process
    holds the block's bytes, not a Stub per record (at 10,000 clients, 410,000 Stubs cost the
    main process 1.5 CPU-s a run, most of it for the partitions a cache then answers).

    `files` and `roots` map the rows' numbers to names (lists, or dicts of the numbers used)."""
    __slots__ = ("ids", "rows", "files", "types", "roots", "_order")

    def __init__(self, ids, rows: bytes, files, types, roots):
        self.ids, self.rows, self.files, self.types, self.roots = ids, rows, files, types, roots
        self._order: list[int] | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def _sorted(self) -> list[int]:
        if self._order is None:
            self._order = sorted(range(len(self.ids)), key=self.ids.__getitem__)
        return self._order

    def __getitem__(self, i: int) -> Stub:
        at = self._sorted()[i] * ROW.size
        kind, file_no, root = _NUMBERS.unpack_from(self.rows, at + _PACKED)
        return Stub.of(self.types[kind], self.files[file_no], file_no, self.roots[root],
                       self.rows[at:at + _PACKED])

    def __iter__(self):
        return (self[i] for i in range(len(self.ids)))

    def _numbers(self):
        """The (file number, root number) of each row, or the one pair when every row has it."""
        if all(self.rows[k::ROW.size] == self.rows[k:k + 1] * len(self.ids) for k in _FILE_ROOT):
            return [_NUMBERS.unpack_from(self.rows, _PACKED)[1:]] if self.ids else []
        return [(f, r) for *_place, f, r in ROW.iter_unpack(self.rows)]

    def content_digest(self) -> bytes:
        """A digest of what the rows say of the records but where to read them: for each, in
        the block's order, its line, the line of its id, the digest of its bytes, its type, and
        its file and root by name (a file's number moves when a file before it comes or goes).
        Equal digests: the same records' bytes at the same lines and places."""
        places = [(self.files[f], self.roots[r]) for f, r in self._numbers()]
        h = hashlib.blake2b(repr((len(self.ids), places, self.types)).encode("utf-8", "surrogatepass"),
                            digest_size=16)
        for k in _CONTENT_COLUMNS:
            h.update(self.rows[k::ROW.size])
        return h.digest()

    def __reduce__(self):
        # Sent to a worker: only the names its rows use, not every file of the export.
        numbers = set(self._numbers())
        files, roots = {f: self.files[f] for f, _r in numbers}, {r: self.roots[r] for _f, r in numbers}
        return BlockStubs, (self.ids, self.rows, files, self.types, roots)
