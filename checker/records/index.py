"""The record index: ids, references and which client owns each record.

Checks that ids are unique across the whole input, that every reference names an existing
record of the right type, and that client-scoped records do not reach into another client.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from checker.errors import Problem
from checker.records.reader import Record
from checker.records.schema_registry import record_types


def _values_at(data, parts, pointer=""):
    """Yield (pointer, value) for a pointer pattern whose `*` stands for every array index."""
    if not parts:
        yield pointer, data
        return
    head, rest = parts[0], parts[1:]
    if head == "*":
        if isinstance(data, list):
            for i, item in enumerate(data):
                yield from _values_at(item, rest, f"{pointer}/{i}")
    elif isinstance(data, dict) and head in data:
        yield from _values_at(data[head], rest, f"{pointer}/{head}")


@dataclass
class RecordIndex:
    by_id: dict[str, Record] = field(default_factory=dict)
    owner_client: dict[str, str | None] = field(default_factory=dict)   # record id -> client id
    references: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # id -> [(pointer, target)]
    # Which indexed records each reference problem concerns, so a run can withhold only the
    # partitions holding them (see pipeline.withheld_records); empty: no indexed record known.
    implicated: dict[Problem, tuple[str, ...]] = field(default_factory=dict)

    def records_of_type(self, type_name):
        return [r for r in self.by_id.values() if r.type == type_name]


def build_index(records: list[Record]) -> tuple[RecordIndex, list[Problem]]:
    """Index records that passed schema validation; report duplicates and bad references."""
    types = record_types()
    index = RecordIndex()
    problems: list[Problem] = []
    duplicate_of: dict[Problem, Record] = {}
    for rec in records:
        if not isinstance(rec.id, str) or rec.type not in types:
            continue   # schema validation has reported it
        if rec.id in index.by_id:
            first = index.by_id[rec.id]
            problem = Problem(rec.file, rec.line_of("/id"), rec.root + "/id",
                              f"duplicate id {rec.id!r}; first used in {first.file}:{first.line_of('/id')}",
                              "ids unique across the whole input")
            problems.append(problem)
            duplicate_of[problem] = rec
            continue
        index.by_id[rec.id] = rec

    for rec in index.by_id.values():
        refs = []
        for pattern, target_type in types[rec.type].ref_fields.items():
            for pointer, value in _values_at(rec.data, pattern.strip("/").split("/")):
                if not isinstance(value, str):
                    continue   # a wrong type is the schema's finding
                target = index.by_id.get(value)
                if target is None:
                    _implicate(index, problems, (rec.id,), Problem(
                        rec.file, rec.line_of(pointer), rec.root + pointer,
                        f"refers to {value!r}, which is not in the input", f"the id of a {target_type} record"))
                elif target.type != target_type:
                    _implicate(index, problems, (rec.id,), Problem(
                        rec.file, rec.line_of(pointer), rec.root + pointer,
                        f"refers to {value!r}, which is a {target.type} record", f"the id of a {target_type} record"))
                else:
                    refs.append((pointer, value))
        index.references[rec.id] = refs

    for rec in index.by_id.values():
        index.owner_client[rec.id] = _owner_client(rec, index, types)

    for rec in index.by_id.values():
        mine = index.owner_client[rec.id]
        if mine is None:
            continue
        for pointer, target in index.references[rec.id]:
            theirs = index.owner_client.get(target)
            if theirs is not None and theirs != mine:
                _implicate(index, problems, (rec.id,), Problem(
                    rec.file, rec.line_of(pointer), rec.root + pointer,
                    f"refers to {target!r}, which belongs to client {theirs!r}, not {mine!r}",
                    "references within the same client (or to CB-wide records)"))
    for problem, rec in duplicate_of.items():
        # The record kept under the id, and the owner of the one dropped (its client's evidence is incomplete).
        index.implicated[problem] = (rec.id, *indexed_owner(rec, index))
    return index, problems


def _implicate(index: RecordIndex, problems: list[Problem], record_ids: tuple[str, ...], problem: Problem):
    problems.append(problem)
    index.implicated[problem] = record_ids


def indexed_owner(rec: Record, index: RecordIndex) -> tuple[str, ...]:
    """For a record that is not in the index (a duplicate, an unknown type, no id): the indexed
    record its owner field names, as a 1-tuple, or () when none is known."""
    types = record_types()
    owner_field = types[rec.type].owner_field if isinstance(rec.type, str) and rec.type in types else "client"
    owner = rec.data.get(owner_field) if owner_field else None
    return (owner,) if isinstance(owner, str) and owner in index.by_id else ()


def _owner_client(rec: Record, index: RecordIndex, types) -> str | None:
    seen = set()
    while rec is not None and rec.id not in seen:
        seen.add(rec.id)
        if rec.type == "client":
            return rec.id
        owner_field = types[rec.type].owner_field
        if owner_field is None or not isinstance(rec.data.get(owner_field), str):
            return None
        rec = index.by_id.get(rec.data.get(owner_field))
    return None
