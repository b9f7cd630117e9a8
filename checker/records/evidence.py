"""What the input holds as evidence for the rules: records per type, items per array field, and
the fields a source format could not carry at all.

A record may say which of its fields its source cannot hold with the extension field
`x-not-in-source: [field, ...]` (an importer sets it, e.g. a register with no column for a
certificate's `replaces` link). A field marked so on every record of its type is evidence no
record can give: a rule that reads it cannot be judged on this input.
"""
from __future__ import annotations

from collections import Counter
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


def summarise(records: Iterable[Record]) -> Evidence:
    counts, items, marked = Counter(), Counter(), {}
    for record in records:
        kind = record.type
        if not isinstance(kind, str):
            continue
        counts[kind] += 1
        for key, value in record.data.items():
            if isinstance(value, list) and not key.startswith("x-"):
                items[f"{kind}.{key}"] += len(value)
        fields = _marked(record.data)
        marked[kind] = fields if kind not in marked else marked[kind] & fields
    return Evidence(dict(sorted(counts.items())), dict(sorted(items.items())),
                    {k: v for k, v in sorted(marked.items()) if v})
