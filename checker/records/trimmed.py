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


class Trimmer:
    """Per record type: its owner field and the reference fields the index reads."""

    def __init__(self):
        builder = IndexBuilder()
        self.shapes = {name: (info.owner_field, builder.reference_fields(name)) for name, info in builder.types.items()}

    def kept_whole(self, data: dict) -> bool:
        """Whether the first pass keeps the record holding `data` whole whatever else it reads:
        not indexed (no id, unknown type), or CB-wide (not a client, and no owner named)."""
        rid, kind = data.get("id"), data.get("type")
        shape = self.shapes.get(kind) if isinstance(rid, str) and isinstance(kind, str) else None
        if shape is None:
            return True
        owner_field = shape[0]
        return kind != "client" and not (owner_field and isinstance(data.get(owner_field), str))

    def trimmed(self, record: Record, file_no: int, document_no: int, digest: bytes) -> Trimmed:
        data, root = record.data, record.root
        owner_field, fields = self.shapes[data["type"]]
        keep = {"id", "type", owner_field, NOT_IN_SOURCE, *(parts[0] for parts in fields)}
        arrays = tuple(array_items(data))
        asked = [root, root + "/id"] + [root + pointer for parts in fields for pointer, _value in _values_at(data, parts)]
        document = Document(None, _lines_for(record.document.lines, asked), record.document.first_line)
        return Trimmed({key: value for key, value in data.items() if key in keep}, record.file, document, root,
                       file_no, document_no, digest, arrays)


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
