"""The record schemas shipped with cbcheck and what the rest of the pipeline needs from them.

The JSON Schemas are the single source of truth for record types: besides validation they
say, through `x-` keywords, which fields refer to other records (`x-ref`), which field links
a record to its owner (`x-owner`) and whether a type belongs to one client or to the whole CB
(`x-scope`). The field catalog built here lets the rule loader refuse a check that names a
field no record can have.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource

SCHEMA_PREFIX = "urn:cbcheck:records:"
FACT_RESERVED = ("sid", "kind", "id", "parent", "index")


@dataclass(frozen=True)
class FieldInfo:
    """What a (flattened) field of a fact holds. `kind` is one of: date, string, number,
    integer, boolean, count (the length of an array)."""
    kind: str
    ref: str | None = None
    enum: tuple = ()


@dataclass
class RecordType:
    name: str
    title: str
    scope: str                     # "client" or "cb"
    owner_field: str | None        # field that links to the owning record; None for roots
    schema: dict
    ref_fields: dict[str, str] = field(default_factory=dict)   # JSON Pointer pattern -> type


def _schema_files():
    folder = resources.files("checker.records") / "schemas"
    return sorted((p for p in folder.iterdir() if p.name.endswith(".schema.json")), key=lambda p: p.name)


@lru_cache(maxsize=1)
def load_schemas() -> dict[str, dict]:
    out = {}
    for path in _schema_files():
        schema = json.loads(path.read_text(encoding="utf-8"))
        out[schema["$id"].removeprefix(SCHEMA_PREFIX)] = schema
    return out


@lru_cache(maxsize=1)
def registry() -> Registry:
    return Registry().with_resources(
        (schema["$id"], Resource.from_contents(schema)) for schema in load_schemas().values())


@lru_cache(maxsize=1)
def record_types() -> dict[str, RecordType]:
    types = {}
    for name, schema in load_schemas().items():
        if name == "common":
            continue
        rt = RecordType(name, schema["title"], schema["x-scope"], schema.get("x-owner"), schema)
        _collect_refs(schema, "", rt.ref_fields)
        types[name] = rt
    return types


def _collect_refs(schema, pointer, out):
    if "x-ref" in schema:
        out[pointer] = schema["x-ref"]
    for key, sub in schema.get("properties", {}).items():
        _collect_refs(sub, f"{pointer}/{key}", out)
    if "items" in schema:
        _collect_refs(schema["items"], f"{pointer}/*", out)


def _inline_refs(schema):
    """The schema with references to the shared definitions copied in: resolving a `$ref`
    through the registry on every record cost more than half the time of validation."""
    if isinstance(schema, dict):
        if "$ref" in schema:
            schema = resolve_ref(schema)
        return {k: _inline_refs(v) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_inline_refs(v) for v in schema]
    return schema


@lru_cache(maxsize=None)
def inlined_schema(type_name: str) -> dict:
    """A record type's schema with the shared definitions inlined (see _inline_refs)."""
    return _inline_refs(load_schemas()[type_name])


@lru_cache(maxsize=None)
def validator(type_name: str) -> Draft202012Validator:
    return Draft202012Validator(inlined_schema(type_name), registry=registry(), format_checker=FormatChecker())


def resolve_ref(schema: dict) -> dict:
    """A schema with its `$ref` to the shared definitions merged in; `x-def` names the
    definition it came from (id, date, text), which readers of other formats need."""
    ref = schema.get("$ref")
    if not ref:
        return schema
    base, _, frag = ref.partition("#")
    target = load_schemas()[base.removeprefix(SCHEMA_PREFIX)]
    for part in filter(None, frag.split("/")):
        target = target[part]
    merged = dict(target)
    merged.update({k: v for k, v in schema.items() if k != "$ref"})
    merged["x-def"] = frag.rsplit("/", 1)[-1] if frag else None
    return merged


def _scalar_kind(schema: dict) -> str:
    schema = resolve_ref(schema)
    if schema.get("format") == "date":
        return "date"
    if "const" in schema:
        return "string"
    return {"string": "string", "number": "number", "integer": "integer",
            "boolean": "boolean"}.get(schema.get("type"), "string")


@dataclass(frozen=True)
class SchemaField:
    """One leaf of an object schema as `walk_fields` meets it: `schema` with its `$ref`
    resolved; for an array, `item` is its resolved item schema (None for anything else)."""
    path: str
    schema: dict
    item: dict | None = None


def walk_fields(schema: dict, prefix: str = ""):
    """The fields of an object schema in schema order, nested objects flattened into dotted
    paths; arrays are yielded whole (their items are the caller's to walk). The one walk
    shared by the fact catalog here and the spreadsheet layout (importers/layout.py)."""
    for key, sub in schema.get("properties", {}).items():
        sub = resolve_ref(sub)
        path = f"{prefix}{key}"
        if sub.get("type") == "object":
            yield from walk_fields(sub, f"{path}.")
        elif sub.get("type") == "array":
            yield SchemaField(path, sub, resolve_ref(sub.get("items", {})))
        else:
            yield SchemaField(path, sub)


def _fields_of(schema: dict, kind: str, out: dict):
    """Fill `out[kind]` with the flattened fields of an object schema; arrays become child kinds."""
    fields = out.setdefault(kind, {})
    for f in walk_fields(schema):
        if f.item is None:
            fields[f.path] = FieldInfo(_scalar_kind(f.schema), f.schema.get("x-ref"), tuple(f.schema.get("enum", ())))
            continue
        fields[f"{f.path}.count"] = FieldInfo("count")
        child = f"{kind}.{f.path}"
        out.setdefault(child, {}).update({"parent": FieldInfo("string", ref=kind.split(".")[0]),
                                          "index": FieldInfo("integer")})
        if f.item.get("type") == "object":
            _fields_of(f.item, child, out)
        else:
            out[child]["value"] = FieldInfo(_scalar_kind(f.item), f.item.get("x-ref"), tuple(f.item.get("enum", ())))


@lru_cache(maxsize=1)
def fact_fields() -> dict[str, dict[str, FieldInfo]]:
    """Every fact kind (record types and their array children) with its fields, as rules name them."""
    out: dict[str, dict[str, FieldInfo]] = {}
    for name, rt in record_types().items():
        _fields_of(rt.schema, name, out)
        del out[name]["type"]       # a fact's record type is its kind
    return out
