"""What the input holds as evidence for the rules: records per type, items per array field, and
the fields a source format could not carry at all.

A record may say which of its fields its source cannot hold with the extension field
`x-not-in-source: [field, ...]` (an importer sets it, e.g. a register with no column for a
certificate's `replaces` link). A field marked so on every record of its type is evidence no
record can give: a rule that reads it cannot be judged on this input.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from checker.records.reader import Record

NOT_IN_SOURCE = "x-not-in-source"


@dataclass(frozen=True)
class Evidence:
    records: dict[str, int] = field(default_factory=dict)             # record type -> records
    items: dict[str, int] = field(default_factory=dict)               # "type.array_field" -> items, all records
    not_in_source: dict[str, frozenset] = field(default_factory=dict)  # type -> fields no record of it can carry


def _marked(data: dict) -> frozenset:
    value = data.get(NOT_IN_SOURCE)
    return frozenset(v for v in value if isinstance(v, str)) if isinstance(value, list) else frozenset()


def array_items(data: dict) -> list[tuple[str, int]]:
    """(array field, items) of a record's data (its extension fields x-... aside)."""
    return [(key, len(value)) for key, value in data.items() if isinstance(value, list) and not key.startswith("x-")]


class EvidenceCount:
    """summarise() one record at a time: `add(data)` for each record's data, then `evidence()`."""

    def __init__(self):
        self.counts: dict[str, int] = {}
        self.items: dict[str, dict[str, int]] = {}      # type -> array field -> items
        self.marked: dict[str, frozenset] = {}

    def add(self, data: dict, arrays=None):
        """`arrays`: the record's (array field, items) pairs, when `data` is trimmed of them
        (records/trimmed.py)."""
        kind = data.get("type")
        if not isinstance(kind, str):
            return
        counts = self.counts
        counts[kind] = counts.get(kind, 0) + 1
        items = self.items.get(kind)
        if items is None:
            items = self.items[kind] = {}
        for key, length in array_items(data) if arrays is None else arrays:
            items[key] = items.get(key, 0) + length
        marked = self.marked.get(kind)
        if marked is None:
            self.marked[kind] = _marked(data)
        elif marked:        # an empty set stays empty: no need to read the record's marks
            self.marked[kind] = marked & _marked(data)

    def merge(self, other: EvidenceCount):
        """Add what `other` counted: the evidence of records counted apart (records/line_memo.py)."""
        for kind, n in other.counts.items():
            self.counts[kind] = self.counts.get(kind, 0) + n
            items = self.items.setdefault(kind, {})
            for key, m in other.items.get(kind, {}).items():
                items[key] = items.get(key, 0) + m
            marked = self.marked.get(kind)
            self.marked[kind] = other.marked[kind] if marked is None else marked & other.marked[kind]

    def evidence(self) -> Evidence:
        items: dict[str, int] = {}
        for kind, fields in self.items.items():
            for key, n in fields.items():
                name = f"{kind}.{key}"
                items[name] = items.get(name, 0) + n
        return Evidence(dict(sorted(self.counts.items())), dict(sorted(items.items())),
                        {k: v for k, v in sorted(self.marked.items()) if v})


def summarise(records: Iterable[Record]) -> Evidence:
    count = EvidenceCount()
    for record in records:
        count.add(record.data)
    return count.evidence()
