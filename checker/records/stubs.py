"""What a streamed first pass (records/stream.py) keeps of the records it dropped: per client a
block of fixed-size rows (place, digest, type, file, root) beside the list of their ids, and
the records it keeps whole. StubTable reads as the index's `by_id`: a record kept whole, or a
Stub made from its row when it is asked for.

A row costs 37 bytes in its client's block and 8 in its id list, against about 140 for a Stub
object with its own bytes. A block the pass has moved on from (its client's records are mostly
neighbours) is written with its ids to an unnamed temporary file (_BlockStore) and read back
when asked for: at 25,000 JSON Lines clients (1 M records) the rows and id lists took 47 MB of
the main process's memory for the whole run. The blocks are also where the index finds the ids
it put away (records/owners.py: StubTable.holds): memory after the pass is then about 14 bytes
a record (a hash, a client number, a Bloom filter's bits), plus the shared records.
"""
from __future__ import annotations

import hashlib
import marshal
import os
import struct
import tempfile
from collections.abc import Mapping, Sequence

from checker.records.owners import lazy_numpy
from checker.records.reader import Record

_PLACE = struct.Struct("<QII")       # at, line, id_line
# A Stub's packed place and digest (28 bytes), then its type, file and root numbers.
ROW = struct.Struct("<QII12sBII")
_PACKED = _PLACE.size + 12
_NUMBERS = struct.Struct("<BII")
_MISSING = object()


def line_rows(type_no: dict[str, int], offset: int, first_line: int, lines: list[bytes], kinds: list[str],
              digests: bytes, file_no: int, root_no: int) -> bytes:
    """The rows (ROW, end to end) of consecutive JSON Lines lines from byte `offset`, the first
    line `first_line`, each holding a record of its type in `kinds` (numbered by `type_no`),
    `digests` their lines' digests end to end: made at once (numpy), not a row at a time."""
    np, count = lazy_numpy(), len(lines)
    rows = np.empty(count, _row_dtype(np))
    lengths = np.fromiter(map(len, lines), np.int64, count)
    rows["at"] = np.cumsum(lengths) - lengths + offset
    rows["line"] = rows["id_line"] = np.arange(first_line, first_line + count)
    rows["digest"] = np.frombuffer(digests, "S12")
    rows["type"] = np.fromiter(map(type_no.__getitem__, kinds), np.uint8, count)
    rows["file"], rows["root"] = file_no, root_no
    return rows.tobytes()


def _row_dtype(np):
    """ROW as a numpy record: the same bytes, field by field."""
    return np.dtype({"names": ["at", "line", "id_line", "digest", "type", "file", "root"],
                     "formats": ["<u8", "<u4", "<u4", "S12", "u1", "<u4", "<u4"],
                     "offsets": [0, 8, 12, 16, 28, 29, 33], "itemsize": ROW.size})


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


class _BlockStore:
    """Closed blocks, each its ids (marshal's format: plain strings) and rows end to end, written
    to an unnamed temporary file (in `folder`, the run's spill folder when there is one) a
    buffer of WRITE_BYTES at a time. A block that cannot be written (no room) stays in memory:
    the run is never different."""
    WRITE_BYTES = 1024 ** 2

    def __init__(self, folder: str | None = None):
        try:
            self.file = tempfile.TemporaryFile(prefix="blocks-", dir=folder)
        except OSError:
            self.file = None
        self.buffer, self.start = bytearray(), 0     # not written yet; its offset in the file

    def write(self, ids: list[str], rows: bytes) -> tuple[int, int, int] | None:
        """(offset, length of the ids, of the rows) of a block once written; None when it is
        not (it stays in memory)."""
        if self.file is None:
            return None
        try:
            blob = marshal.dumps(ids)
        except ValueError:      # a value marshal cannot hold (an id is a str: not expected)
            return None
        place = (self.start + len(self.buffer), len(blob), len(rows))
        self.buffer += blob
        self.buffer += rows
        if len(self.buffer) >= self.WRITE_BYTES:
            self.finish()
        return place

    def finish(self):
        """What the buffer holds written (kept there, and read from there, when it cannot be)."""
        if not self.buffer:
            return
        try:
            os.pwrite(self.file.fileno(), self.buffer, self.start)
        except OSError:         # its blocks are still read from the buffer
            return
        self.start += len(self.buffer)
        self.buffer = bytearray()

    def read(self, place: tuple[int, int, int]) -> tuple[tuple[str, ...], bytes]:
        """(ids, rows) of the block written at `place`."""
        offset, ids_length, rows_length = place
        if offset >= self.start:
            at = offset - self.start
            raw = bytes(self.buffer[at:at + ids_length + rows_length])
        else:
            raw = os.pread(self.file.fileno(), ids_length + rows_length, offset)
        return tuple(marshal.loads(raw[:ids_length])), raw[ids_length:]

    def read_rows(self, place: tuple[int, int, int]) -> bytes:
        """The rows alone of the block written at `place` (a digest of them needs no id)."""
        offset, ids_length, rows_length = place
        if offset >= self.start:
            at = offset - self.start + ids_length
            return bytes(self.buffer[at:at + rows_length])
        return os.pread(self.file.fileno(), rows_length, offset + ids_length)


class _Block:
    """One client's rows in memory, in the order of `ids`: while it is added to, or when it
    could not be written to the table's _BlockStore (then as a tuple and bytes). A block written
    there is only its place, one int (see _place; StubTable.blocks holds it instead of the
    block): at 25,000 clients, a _Block and its place's tuple for each took 5.5 MB for the
    whole run."""
    __slots__ = ("ids", "rows", "count")

    def __init__(self, ids: list[str] | tuple[str, ...] = (), rows: bytes | bytearray = b""):
        self.ids, self.rows, self.count = list(ids), bytearray(rows), len(ids)

    def put_away(self, store: _BlockStore) -> int | _Block:
        """Its place once written to `store` (one int: _place), or itself, kept as a tuple and
        bytes, when it cannot be."""
        place = store.write(self.ids, self.rows) if self.count else None
        if place is not None and place[1] >> _FIELD == 0 and self.count >> _FIELD == 0:
            return (place[0] << _FIELD | place[1]) << _FIELD | self.count
        self.ids, self.rows = tuple(self.ids), bytes(self.rows)
        return self


# A block put away, as one int: its offset in the store, the length of its ids there, its rows'
# count (its rows' length is that many rows), FIELD bits each but the offset.
_FIELD = 32
_LOW = (1 << _FIELD) - 1


def _place(placed: int) -> tuple[int, int, int]:
    """(offset, length of the ids, of the rows) in the store of a block put away."""
    count = placed & _LOW
    return placed >> 2 * _FIELD, placed >> _FIELD & _LOW, count * ROW.size


def _count(block: int | _Block) -> int:
    return block & _LOW if type(block) is int else block.count


class StubTable(Mapping):
    """id -> the record kept whole, or its Stub (made when looked up). `owners` is the index's
    owner_client, which the table reads to find a record's block: a record is added with
    `keep` (whole, with its row while its owner may still be found: `settle`) or `add_row`.
    A block is put away (_BlockStore, in `folder`) when the table adds to another client's,
    and every block at `close`; one added to again is taken back."""

    def __init__(self, owners, files: list[str], types: list[str], folder: str | None = None):
        self.owners, self.files, self.types = owners, files, types
        # The dict of the ids asked for often, when `owners` is records/owners.Owners.
        self._hot = getattr(owners, "hot", owners)
        self.type_no = {name: no for no, name in enumerate(types)}
        self.roots: list[str] = []
        self.root_no: dict[str, int] = {}
        self.whole: dict[str, Record] = {}
        self.pending: dict[str, bytes] = {}        # rows of records kept whole for now
        self.blocks: dict[str, _Block | int] = {}       # client -> its block, or its place once put away (_place)
        self.store = _BlockStore(folder)
        # Positions in the block added to, and in the one last looked up in (not the same when
        # a record names another client's), with the latter's rows and the stubs made of it (a
        # task asks for each twice), each by its client: a look-up costs no scan of a block, nor a
        # read or a stub made twice.
        # The positions in the block added to are made when first asked for (_positions): most
        # blocks are added to and put away unasked (at 10,000 JSON Lines clients, 410,000 ids a
        # night's main process put in them for nothing, 0.04-0.06 s).
        self._adding: tuple[str | None, _Block | None, dict[str, int] | None] = (None, None, None)
        self._seeking: tuple[str | None, dict[str, int], bytes, dict[str, Stub]] = (None, {}, b"", {})

    def row(self, kind: str, file_no: int, root: str, place: tuple[int, int, int], digest: bytes) -> bytes:
        return ROW.pack(*place, digest, self.type_no[kind], file_no, self.root_number(root))

    def root_number(self, root: str) -> int:
        """The number a row gives `root` by (a caller packing many rows of one root asks once)."""
        root_no = self.root_no.get(root)
        if root_no is None:
            root_no = self.root_no[root] = len(self.roots)
            self.roots.append(root)
        return root_no

    def rows_at(self, offset: int, first_line: int, lines: list[bytes], kinds: list[str], digests: bytes,
                file_no: int, root_no: int) -> bytes:
        """The rows (ROW, end to end) of consecutive JSON Lines lines from byte `offset`, the
        first line `first_line`, each holding a record of its type in `kinds`, `digests` their
        lines' digests end to end (line_rows)."""
        return line_rows(self.type_no, offset, first_line, lines, kinds, digests, file_no, root_no)

    def add_row(self, rid: str, owner: str, row: bytes) -> int:
        """The record under `rid` (owned by client `owner`) kept as its row only: its place in
        the block (it stays there)."""
        block, where = self._block_adding(owner)
        position = block.count
        if where is not None:
            where[rid] = position
        block.ids.append(rid)
        block.rows += row
        block.count += 1
        return position

    def add_rows(self, owner: str, rids: list[str], rows: bytes) -> int:
        """add_row of several records of client `owner`, their rows packed end to end: the
        place of the first."""
        block, where = self._block_adding(owner)
        first = block.count
        if where is not None:
            where.update(zip(rids, range(first, first + len(rids))))
        block.ids.extend(rids)
        block.rows += rows
        block.count += len(rids)
        return first

    def _block_adding(self, owner: str) -> tuple[_Block, dict[str, int] | None]:
        """Client `owner`'s block, made the one added to (the one added to before put away),
        and its ids' positions (None until asked for)."""
        adding, block, where = self._adding
        if adding != owner or block is None:
            if block is not None:
                self.blocks[adding] = block.put_away(self.store)
            block = self.blocks.get(owner)
            if type(block) is not _Block or not isinstance(block.ids, list):     # new, put away, or kept
                block = self.blocks[owner] = _Block(*self._content(block)) if block is not None else _Block()
            self._adding = owner, block, (where := None)
            if self._seeking[0] == owner:       # its positions and rows there would miss the rows added now
                self._seeking = (None, {}, b"", {})
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
        """Once every record is added: every block put away."""
        for client, block in self.blocks.items():
            if type(block) is _Block and isinstance(block.ids, list):
                self.blocks[client] = block.put_away(self.store)
        self.store.finish()
        self._adding, self._seeking = (None, None, None), (None, {}, b"", {})

    def _content(self, block: _Block | int) -> tuple[tuple[str, ...] | list[str], bytes | bytearray]:
        """(ids, rows) of a block, read back when it is put away."""
        return self.store.read(_place(block)) if type(block) is int else (block.ids, block.rows)

    def _find(self, rid: str, owner: str) -> tuple[bytes | bytearray, int]:
        """(rows, row offset) of a record kept as its row in client `owner`'s block (the caller
        has looked its owner up already); KeyError when there is none."""
        rows, where = self._positions(owner)
        return rows, where[rid] * ROW.size

    def _positions(self, client: str) -> tuple[bytes | bytearray, dict[str, int]]:
        """(rows, the positions of its ids) of client `client`'s block (KeyError when it has
        none), read back when it is put away."""
        adding, block, where = self._adding
        if adding == client and block is not None:
            if where is None:
                self._adding = adding, block, (where := {r: i for i, r in enumerate(block.ids)})
            return block.rows, where
        seeking, where, rows, _stubs = self._seeking
        if seeking != client or seeking is None:
            ids, rows = self._content(self.blocks[client])
            self._seeking = client, (where := {r: i for i, r in enumerate(ids)}), rows, {}
        return rows, where

    def holds(self, rid: str, client: str) -> bool:
        """Whether client `client`'s block holds `rid` (records/owners.Owners asks, for an id
        whose hash is one it put away)."""
        return client in self.blocks and rid in self._positions(client)[1]

    def block_ids(self, client: str):
        """The ids in client `client`'s block."""
        return self.block_content(client)[0]

    def block_content(self, client: str) -> tuple[tuple[str, ...] | list[str], bytes | bytearray]:
        """(ids, rows) of client `client`'s block, wherever it is."""
        return self._content(self.blocks[client])

    def client_rows(self, client: str) -> BlockStubs | None:
        """The records of `client` kept as rows (all of its records but those kept whole), as
        stubs made only when read; None when it has none. Its rows stay where they are (a
        task built in the main process holds their place): read when they are."""
        block = self.blocks.get(client)
        if block is None:
            return None
        if type(block) is not int:
            return BlockStubs(block.ids, block.rows, self.files, self.types, self.roots)
        return BlockStubs.stored(self.store, _place(block), _count(block), self.files, self.types, self.roots)

    def type_of(self, rid: str) -> str | None:
        """The type of the record under `rid`, None when there is none (the index builder
        asks for every reference)."""
        whole = self.whole.get(rid)
        if whole is not None:
            return whole.type
        owner = self._hot.get(rid, _MISSING)
        if owner is _MISSING:
            owner = self.owners.get(rid)
        if owner is None:
            return None
        rows, at = self._find(rid, owner)     # owner passed: asked 750,000 times at 10,000 clients
        return self.types[rows[at + _PACKED]]

    def id_place(self, rid: str) -> tuple[str, int]:
        """(file, line of its id) of the record under `rid`."""
        found = self[rid]
        return found.file, found.line_of("/id")

    def __getitem__(self, rid: str):
        found = self.whole.get(rid) or self._seeking[3].get(rid)
        if found is not None:
            return found
        owner = self.owners[rid]
        rows, at = self._find(rid, owner)
        kind, file_no, root = _NUMBERS.unpack_from(rows, at + _PACKED)
        packed = bytes(rows[at:at + _PACKED])
        stub = Stub.of(self.types[kind], self.files[file_no], file_no, self.roots[root], packed)
        if self._seeking[0] == owner:
            self._seeking[3][rid] = stub
        return stub

    def __contains__(self, rid) -> bool:
        return rid in self.whole or rid in self.owners

    def knows_all(self, rids: list[str]) -> bool:
        """Whether every one of `rids` is a record's id: tested at once, in C, against the ids
        the owners hold in their dict (all of them on a cached night at 10,000 clients, where a
        reused cache entry names a few each: engine/cache/entries), one by one when some are not."""
        hot = getattr(self.owners, "hot", self.owners)      # Owners rebinds its dict when the pass ends
        return hot.keys() >= set(rids) or all(map(self.__contains__, rids))

    def __iter__(self):
        yield from self.whole
        for block in self.blocks.values():
            yield from self._content(block)[0]

    def __len__(self) -> int:
        return len(self.whole) + sum(map(_count, self.blocks.values()))


# The columns of a row but its byte offset (`at`, which moves whenever a line before it grows)
# and its file's and root's numbers (digested by name): a block's content for a digest, read
# column by column (bytes sliced with a step: C speed).
_FILE_ROOT = range(ROW.size - 8, ROW.size)
_CONTENT_COLUMNS = range(struct.calcsize("<Q"), _FILE_ROOT.start)


_NAMES: list = [None, 0, b""]       # the list of type names last encoded, its length then, its bytes


def _names(types: list[str]) -> bytes:
    """`types` as bytes for a digest, encoded once for every block of a table (10,000 blocks
    digested a night): a table's list of type names is made once and never changed (its
    length is compared all the same), and it is held here, so no other list takes its id."""
    if _NAMES[0] is not types or _NAMES[1] != len(types):
        _NAMES[:] = [types, len(types), repr(list(types)).encode("utf-8", "surrogatepass")]
    return _NAMES[2]


class BlockStubs(Sequence):
    """One client's rows of a StubTable as the Stubs of its records in id order, made when
    they are read (in the worker that reads the records back): a task built in the main process
    holds the block's place in the table's _BlockStore (or, for a block that could not be
    written there, its bytes), not a Stub per record (at 10,000 clients, 410,000 Stubs cost the
    main process 1.5 CPU-s a run, most of it for the partitions a cache then answers), and
    reads its rows each time it is asked for them there (a digest, its pickle): the main
    process keeps no task's rows.

    `files` and `roots` map the rows' numbers to names (lists, or dicts of the numbers used)."""
    __slots__ = ("_ids", "_rows", "files", "types", "roots", "_order", "_store", "_place", "_count")

    def __init__(self, ids, rows: bytes, files, types, roots):
        self._ids, self._rows, self.files, self.types, self.roots = ids, rows, files, types, roots
        self._order: list[int] | None = None
        self._store, self._place, self._count = None, None, len(ids)

    @classmethod
    def stored(cls, store: _BlockStore, place: tuple[int, int, int], count: int, files, types, roots) -> BlockStubs:
        """The block of `count` rows written at `place` in `store`."""
        block = cls((), b"", files, types, roots)
        block._store, block._place, block._count = store, place, count
        return block

    def content(self) -> tuple:
        """(ids, rows), read from the store each time when they are there."""
        return (self._ids, self._rows) if self._place is None else self._store.read(self._place)

    @property
    def ids(self):
        return self.content()[0]

    def __len__(self) -> int:
        return self._count

    def _sorted(self, ids) -> list[int]:
        """The rows' numbers in the order of their ids (kept when the rows are in memory)."""
        if self._order is not None:
            return self._order
        order = sorted(range(len(ids)), key=ids.__getitem__)
        if self._place is None:
            self._order = order
        return order

    def _stub(self, rows: bytes, k: int) -> Stub:
        at = k * ROW.size
        kind, file_no, root = _NUMBERS.unpack_from(rows, at + _PACKED)
        return Stub.of(self.types[kind], self.files[file_no], file_no, self.roots[root], rows[at:at + _PACKED])

    def __getitem__(self, i: int) -> Stub:
        ids, rows = self.content()
        return self._stub(rows, self._sorted(ids)[i])

    def __iter__(self):
        ids, rows = self.content()      # read once for all of them
        return (self._stub(rows, k) for k in self._sorted(ids))

    def _numbers(self, rows: bytes):
        """The (file number, root number) of each row, or the one pair when every row has it."""
        if all(rows[k::ROW.size] == rows[k:k + 1] * self._count for k in _FILE_ROOT):
            return [_NUMBERS.unpack_from(rows, _PACKED)[1:]] if self._count else []
        return [(f, r) for *_place, f, r in ROW.iter_unpack(rows)]

    def _row_bytes(self) -> bytes:
        """Its rows (not its ids), read from the store each time when they are there."""
        return self._rows if self._place is None else self._store.read_rows(self._place)

    def file_numbers(self) -> set[int]:
        """The numbers of the files its rows are read from (engine/streamed.ClientSources)."""
        return {file_no for file_no, _root in self._numbers(self._row_bytes())}

    def content_digest(self) -> bytes:
        """A digest of what the rows say of the records but where to read them: for each, in
        the block's order, its line, the line of its id, the digest of its bytes, its type, and
        its file and root by name (a file's number moves when a file before it comes or goes).
        Equal digests: the same records' bytes at the same lines and places."""
        rows = self._row_bytes()
        places = [(self.files[f], self.roots[r]) for f, r in self._numbers(rows)]
        h = hashlib.blake2b(repr((self._count, places)).encode("utf-8", "surrogatepass") + _names(self.types),
                            digest_size=16)
        for k in _CONTENT_COLUMNS:
            h.update(rows[k::ROW.size])
        return h.digest()

    def __reduce__(self):
        # Sent to a worker: its ids and rows, and only the names its rows use, not every file
        # of the export.
        ids, rows = self.content()
        numbers = set(self._numbers(rows))
        files, roots = {f: self.files[f] for f, _r in numbers}, {r: self.roots[r] for _f, r in numbers}
        return BlockStubs, (ids, rows, files, self.types, roots)
