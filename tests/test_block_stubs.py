"""A client's block of rows as its task's sources and digest (records/stubs.BlockStubs): the
stubs a worker makes of it are the table's own, and its digest changes with every row's
content and place but the byte offset (which moves when an earlier line grows)."""
from __future__ import annotations

import pickle

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
