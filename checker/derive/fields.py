"""The check language's type information: every fact kind a rule may bind and the fields it
may name, from the record schemas plus the derived fields and kinds. The catalog loader
type-checks rules against it; the engine and the reference evaluator read field types from it.
"""
from __future__ import annotations

from functools import lru_cache

from checker.derive.registry import DERIVED_KINDS, FIELDS
from checker.records.schema_registry import FieldInfo, fact_fields


@lru_cache(maxsize=1)
def fields_catalog() -> dict[str, dict[str, FieldInfo]]:
    """Every fact kind with the fields a rule may name (record fields, derived fields, .year)."""
    out = {kind: dict(fields) for kind, fields in fact_fields().items()}
    for entry in FIELDS:
        out[entry.on][entry.name] = entry.type
    for kind in DERIVED_KINDS.values():
        out[kind.name] = dict(kind.fields)
    for kind in out:
        out[kind]["id"] = FieldInfo("string")
        for name, info in list(out[kind].items()):
            if info.kind == "date":
                out[kind][f"{name}.year"] = FieldInfo("integer")
    return out


def base_type(kind: str) -> str:
    """The record type a fact kind comes from (`personnel.consultancy` -> `personnel`)."""
    if kind in DERIVED_KINDS:
        return DERIVED_KINDS[kind].located_in
    return kind.split(".")[0]
