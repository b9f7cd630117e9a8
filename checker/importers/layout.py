"""What a record type looks like as spreadsheet columns, read from the record schemas.

The schemas stay the single source of truth: the kind of every field (id, text, date,
boolean, integer, number, enum), which fields are lists of plain values (one cell, split on
a separator) and which are lists of objects (their own "items" sheet, one row per item) all
come from here, so a new schema field shows up in the template, the default mapping and the
export without touching this package.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from checker.records.schema_registry import record_types, resolve_ref, walk_fields

# Sheet order of the template: CB-wide records first, then a client's records in the order
# a certification cycle produces them. Types missing here (added to the schemas later) follow
# in alphabetical order, so the template never silently leaves one out.
TYPE_ORDER = ("cb", "personnel", "outsourced_body", "cb_activity", "client", "application",
              "application_review", "certification_agreement", "audit_programme", "audit", "audit_plan",
              "team_assignment", "audit_report", "nonconformity", "decision", "certificate",
              "client_change", "appeal", "complaint")

SCALAR_KINDS = ("id", "text", "date", "boolean", "integer", "number", "enum")
SHEET_NAME_MAX = 31   # Excel refuses longer sheet names


@dataclass(frozen=True)
class FieldSpec:
    path: str                 # dotted path inside the record (or inside an item)
    kind: str                 # one of SCALAR_KINDS
    is_list: bool = False     # a list of plain values
    enum: tuple = ()
    minimum: float | None = None


@dataclass(frozen=True)
class ItemsSpec:
    """An array-of-objects field: written on its own sheet, one row per item."""
    path: str                 # dotted path of the array in the record, e.g. audit_time.adjustments
    fields: dict = field(default_factory=dict)      # item field name -> FieldSpec
    required: tuple = ()


@dataclass(frozen=True)
class TypeLayout:
    record_type: str
    fields: dict              # dotted path -> FieldSpec (scalars and lists of scalars)
    items: dict               # dotted path -> ItemsSpec
    required: tuple           # required top-level fields, besides id and type


def _scalar_kind(schema: dict) -> str | None:
    schema = resolve_ref(schema)
    if "const" in schema:
        return None
    if schema.get("x-def") == "id":
        return "id"
    if schema.get("format") == "date":
        return "date"
    if "enum" in schema:
        return "enum"
    return {"boolean": "boolean", "integer": "integer", "number": "number", "string": "text"}.get(schema.get("type"))


def _field_spec(path: str, schema: dict, is_list: bool) -> FieldSpec | None:
    kind = _scalar_kind(schema)
    return FieldSpec(path, kind, is_list, tuple(schema.get("enum", ())), schema.get("minimum")) if kind else None


def _collect(schema: dict, fields: dict, items: dict):
    for f in walk_fields(schema):
        if f.item is not None and f.item.get("type") == "object":
            item_fields: dict = {}
            _collect(f.item, item_fields, {})
            items[f.path] = ItemsSpec(f.path, item_fields, tuple(f.item.get("required", ())))
            continue
        spec = _field_spec(f.path, f.schema if f.item is None else f.item, f.item is not None)
        if spec:
            fields[f.path] = spec


@lru_cache(maxsize=None)
def type_layout(record_type: str) -> TypeLayout:
    schema = record_types()[record_type].schema
    fields: dict = {}
    items: dict = {}
    _collect(schema, fields, items)
    required = tuple(r for r in schema.get("required", ()) if r not in ("id", "type"))
    return TypeLayout(record_type, fields, items, required)


def ordered_types() -> list[str]:
    known = set(record_types())
    return [t for t in TYPE_ORDER if t in known] + sorted(known - set(TYPE_ORDER))


def items_sheet_name(record_type: str, items_path: str) -> str:
    return f"{record_type}.{items_path.rsplit('.', 1)[-1]}"


@dataclass(frozen=True)
class SheetLayout:
    """One sheet of the template: a record type's own sheet, or the items sheet of one of its
    array-of-objects fields (then `items` is the array's path and `parent_column` holds the
    owning record's id)."""
    name: str
    record_type: str
    columns: tuple            # headers, which are the field paths themselves
    items: str | None = None
    parent_column: str | None = None


def _column_order(layout: TypeLayout) -> tuple:
    # id and the fields that tie a record to others first (what a reader looks for to find
    # its way), free-text notes last.
    first = ["id"] + [f for f in layout.required if f in layout.fields]
    rest = [f for f in layout.fields if f not in first and f != "notes"]
    return tuple(first + rest + (["notes"] if "notes" in layout.fields else []))


@lru_cache(maxsize=1)
def template_sheets() -> tuple[SheetLayout, ...]:
    sheets = []
    for rtype in ordered_types():
        layout = type_layout(rtype)
        sheets.append(SheetLayout(rtype, rtype, _column_order(layout)))
        for path, spec in layout.items.items():
            sheets.append(SheetLayout(items_sheet_name(rtype, path), rtype, tuple(spec.fields), path, rtype))
    names = [s.name for s in sheets]
    # A schema change that breaks the layout must fail loudly at build time, not write a
    # workbook Excel refuses to open.
    too_long = [n for n in names if len(n) > SHEET_NAME_MAX]
    if too_long or len(set(names)) != len(names):
        raise RuntimeError(f"template sheet names too long or repeated: {too_long or names}")
    for s in sheets:
        if s.parent_column and s.parent_column in s.columns:
            raise RuntimeError(f"sheet {s.name}: parent column {s.parent_column!r} is also an item field")
    return tuple(sheets)
