"""A client's block of rows as its task's sources and digest (records/stubs.BlockStubs): the
stubs a worker makes of it are the table's own, and its digest changes with every row's
content and place but the byte offset (which moves when an earlier line grows)."""
from __future__ import annotations

import pickle

from checker.records import stubs
from checker.records.stubs import StubTable

FILES = ["a.jsonl", "clients.jsonl", "people.jsonl"]


def _table(rows: list[tuple]) -> StubTable:
    """rows: (id, type, file number, root, at, line, digest byte), all of client "c"."""
    owners: dict = {}
    table = StubTable(owners, FILES, ["audit", "client"])
    for rid, kind, file_no, root, at, line, byte in rows:
        owners[rid] = "c"
        table.add_row(rid, "c", table.row(kind, file_no, root, (at, line, line), bytes([byte]) * 12))
    table.close()
    return table


ROWS = [("c", "client", 1, "", 0, 1, 1), ("c-2", "audit", 1, "", 90, 3, 2), ("c-1", "audit", 1, "", 40, 2, 3)]


def _stub_fields(stub) -> tuple:
    return stub.type, stub.file, stub.file_no, stub.root, stub.at, stub.line, stub.digest, stub.line_of()


def test_its_stubs_are_the_tables_in_id_order_also_once_pickled():
    table = _table(ROWS)
    block = table.client_rows("c")
    expected = [_stub_fields(table[rid]) for rid in sorted(table)]
    assert [_stub_fields(s) for s in block] == expected
    assert [_stub_fields(s) for s in pickle.loads(pickle.dumps(block))] == expected
    assert table.client_rows("nobody") is None


def test_its_digest_ignores_the_byte_offset_only():
    digest = _table(ROWS).client_rows("c").content_digest()
    moved = [(*row[:4], row[4] + 7, *row[5:]) for row in ROWS]
    assert _table(moved).client_rows("c").content_digest() == digest
    for changed in ([(*ROWS[0][:5], 9, 1), *ROWS[1:]],                  # another line
                    [(*ROWS[0][:6], 7), *ROWS[1:]],                     # other bytes
                    [("c", "client", 2, "", 0, 1, 1), *ROWS[1:]],       # another file
                    [("c", "client", 1, "/0", 0, 1, 1), *ROWS[1:]],     # another root
                    [ROWS[0], ROWS[2], ROWS[1]],                        # another order
                    ROWS[:2]):                                          # a record less
        assert _table(changed).client_rows("c").content_digest() != digest


def test_its_digest_names_files_not_their_numbers():
    # The same rows, with a file before theirs gone: their file's number moved, not its name.
    table = _table(ROWS)
    renumbered = StubTable({}, FILES[1:], ["audit", "client"])
    for rid, kind, _file_no, root, at, line, byte in ROWS:
        renumbered.owners[rid] = "c"
        renumbered.add_row(rid, "c", renumbered.row(kind, 0, root, (at, line, line), bytes([byte]) * 12))
    renumbered.close()
    assert renumbered.client_rows("c").content_digest() == table.client_rows("c").content_digest()


def _interleaved(folder) -> tuple[dict, StubTable]:
    """Two clients' rows added a, b, a again: a's block is put away when b's is added to, and
    taken back when a's is again."""
    owners: dict = {}
    table = StubTable(owners, FILES, ["audit", "client"], folder)
    for n, (rid, client, kind) in enumerate([("a", "a", "client"), ("a-1", "a", "audit"), ("b", "b", "client"),
                                             ("a-2", "a", "audit"), ("b-1", "b", "audit")]):
        owners[rid] = client
        table.add_row(rid, client, table.row(kind, 1, "", (n * 10, n + 1, n + 1), bytes([n]) * 12))
    return owners, table


def test_blocks_put_away_read_back_as_they_were(tmp_path):
    owners, table = _interleaved(str(tmp_path))
    assert isinstance(table.blocks["a"], int) and isinstance(table.blocks["b"], stubs._Block)     # b is added to
    assert table.type_of("a-2") == "audit" and table["a-1"].line == 2
    table.close()
    assert all(isinstance(block, int) for block in table.blocks.values())
    assert sorted(table) == sorted(owners) and len(table) == 5
    assert [(s.line, s.type) for s in table.client_rows("a")] == [(1, "client"), (2, "audit"), (4, "audit")]
    assert [s.digest for s in table.client_rows("b")] == [bytes([2]) * 12, bytes([4]) * 12]
    # A task holds the block's place: its rows are read when pickled, digested, read.
    held = table.client_rows("a")
    again = pickle.loads(pickle.dumps(held))
    assert held._place is not None and again.ids == ("a", "a-1", "a-2") and len(again) == len(held) == 3
    assert again.content_digest() == held.content_digest()
    assert [_stub_fields(s) for s in again] == [_stub_fields(s) for s in held]


def test_blocks_that_cannot_be_written_read_as_written_ones(tmp_path, monkeypatch):
    _owners, written = _interleaved(str(tmp_path))
    written.close()
    expected = {client: [_stub_fields(s) for s in written.client_rows(client)] for client in ("a", "b")}

    def no_room(*_args, **_kwargs):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(stubs.os, "pwrite", no_room)
    monkeypatch.setattr(stubs._BlockStore, "WRITE_BYTES", 1)      # each block's write tried at once
    _owners, buffered = _interleaved(str(tmp_path))
    buffered.close()
    assert buffered.store.buffer and buffered.store.start == 0     # nothing written: read from the buffer
    monkeypatch.setattr(stubs.tempfile, "TemporaryFile", no_room)
    _owners, kept = _interleaved(str(tmp_path))
    kept.close()
    assert all(isinstance(block.ids, tuple) and len(block.ids) == block.count for block in kept.blocks.values())
    for table in (buffered, kept):
        assert {client: [_stub_fields(s) for s in table.client_rows(client)] for client in ("a", "b")} == expected
        assert table.type_of("a-2") == "audit" and sorted(table) == ["a", "a-1", "a-2", "b", "b-1"]
