"""What the first pass's pool (records/stream.py, records/file_pool.py) sends back of each
record it parsed: only what the index reads of it, a small part of its bytes to pickle.

The index (records/index.IndexBuilder) reads a record's id, type, owner field and reference
fields, and the lines of its start, its id and each reference; the evidence count
(records/evidence.EvidenceCount) reads its array fields' lengths and its x-not-in-source
marks. A Trimmed record holds those, with the lines as the whole record's Document gives them,
and where its whole record is (file, document, file digest) for the few the pass keeps whole
after all (a duplicate, a file of several clients' records, an owner never found): those are
read back from the spill. A record the pass surely keeps whole (CB-wide: no owner field or no
owner in it; not indexed: no id or an unknown type) is sent whole.
"""
from __future__ import annotations

from dataclasses import dataclass
from sys import intern

from checker.records.evidence import NOT_IN_SOURCE, array_items
from checker.records.index import IndexBuilder, _values_at
from checker.records.located import Document
from checker.records.reader import Record


@dataclass
class Trimmed(Record):
    file_no: int = 0
    document_no: int = 0
    digest: bytes = b""                              # of its file's bytes (stream._digest)
    arrays: tuple[tuple[str, int], ...] = ()         # (array field, items) of the whole record

    @classmethod
    def of(cls, sent: tuple, file: str, file_no: int, digest: bytes) -> Trimmed:
        """The record of a row Trimmer.row made (in a pool process) of a record of `file`."""
        document_no, root, first_line, data, lines, arrays = sent
        document = Document(None, {root + pointer: line for pointer, line in lines}, first_line)
        return cls(data, file, document, root, file_no, document_no, digest, arrays)


class Trimmer:
    """Per record type: its owner field and the reference fields the index reads."""

    def __init__(self):
        self.builder = IndexBuilder()
        self.shapes = {name: (info.owner_field, self.builder.reference_fields(name))
                       for name, info in self.builder.types.items()}

    def kept_whole(self, data: dict) -> bool:
        """Whether the first pass keeps the record holding `data` whole whatever else it reads:
        not indexed (no id, unknown type), or CB-wide (not a client, and no owner named)."""
        rid, kind = data.get("id"), data.get("type")
        shape = self.shapes.get(kind) if isinstance(rid, str) and isinstance(kind, str) else None
        if shape is None:
            return True
        owner_field = shape[0]
        return kind != "client" and not (owner_field and isinstance(data.get(owner_field), str))

    def row(self, record: Record, document_no: int) -> tuple:
        """What Trimmed.of needs of `record` (of document `document_no`), small to pickle: its
        field names, type and pointers below its root interned, so that a chunk's pickle
        holds each once (pickle shares an object, not equal strings)."""
        data, root = record.data, record.root
        fields = self.shapes[data["type"]][1]
        keep = {*self.builder.indexed_fields(data["type"]), NOT_IN_SOURCE}
        trimmed = {intern(key): value for key, value in data.items() if key in keep}
        trimmed["type"] = intern(data["type"])
        arrays = tuple((intern(key), items) for key, items in array_items(data))
        asked = ["", "/id"] + [pointer for parts in fields for pointer, _value in _values_at(data, parts)]
        # (Every record's own line is in its document's map: what answers a pointer asked is
        # its own record's start or below.)
        lines = tuple((intern(pointer[len(root):]), line)
                      for pointer, line in _lines_for(record.document.lines, [root + p for p in asked]).items())
        return document_no, root, record.document.first_line, trimmed, lines, arrays


def _lines_for(lines: dict[str, int], asked: list[str]) -> dict[str, int]:
    """The part of a line map that answers each pointer `asked` as the whole map does
    (located.nearest): the entry of each, or of its nearest ancestor that has one."""
    kept = {}
    for pointer in asked:
        while pointer not in lines and pointer:
            pointer = pointer.rsplit("/", 1)[0]
        if pointer in lines:
            kept[pointer] = lines[pointer]
    return kept
