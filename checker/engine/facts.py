"""Facts as the engine sees them: flat dicts made from (enriched) records.

A record becomes one fact of kind = its type. Nested objects are flattened (`a.b` becomes the
key `a__b`); every array becomes a count on the parent (`x__count`) and one child fact per
item, of kind `type.x`, with `parent` and `index`; scalar items sit in `value`. Empty strings
(or only white space) and nulls are left out, so `missing(...)` means absent or blank. Each date also gets its day
number, month slot and year (see checker.dates). Keys `sid`, `kind`, `id`, `parent` and
`index` are the engine's own.
"""
from __future__ import annotations

import operator

from checker.dates import day_number, month_slot, year_of
from checker.derive import fields_catalog
from checker.records.schema_registry import FieldInfo

MAX_FACT_PROPERTIES = 255   # durable_rules' limit per fact (engine-notes point 8)
_OPS = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def fact_key(dotted: str) -> str:
    return dotted.replace(".", "__")


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _put(fact: dict, dotted: str, value, info: FieldInfo | None):
    key = fact_key(dotted)
    fact[key] = value
    if info is not None and info.kind == "date":
        fact[key + "__day"] = day_number(value)
        fact[key + "__mon"] = month_slot(value)
        fact[key + "__year"] = year_of(value)


def _flatten(data: dict, kind: str, prefix: str, fact: dict, children: list, sid: str, record_id: str,
             id_prefix: str, pointer: str, where: dict):
    fields = fields_catalog().get(kind, {})
    for key in sorted(data):
        value = data[key]
        if key.startswith("x-") or key.startswith("_") or (not prefix and key in ("id", "type")):
            continue
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            _flatten(value, kind, f"{dotted}.", fact, children, sid, record_id, id_prefix, pointer, where)
        elif isinstance(value, list):
            fact[fact_key(dotted) + "__count"] = len(value)
            child_kind = f"{kind}.{dotted}"
            child_fields = fields_catalog().get(child_kind, {})
            for i, item in enumerate(value):
                child_id = f"{id_prefix}#{dotted}#{i}"
                child = {"sid": sid, "kind": child_kind, "id": child_id, "parent": record_id, "index": i}
                child_pointer = f"{pointer}/{dotted.replace('.', '/')}/{i}"
                where[child_id] = (record_id, child_pointer)
                if isinstance(item, dict):
                    _flatten(item, child_kind, "", child, children, sid, record_id, child_id, child_pointer, where)
                elif not _blank(item):
                    _put(child, "value", item, child_fields.get("value"))
                children.append(child)
        elif _blank(value):
            continue
        else:
            _put(fact, dotted, value, fields.get(dotted))


def record_facts(record: dict, sid: str, where: dict, memberships: dict | None = None) -> list[dict]:
    """The fact of one (enriched or pseudo) record, followed by its child facts.

    `where` receives, for every fact id, the record id and JSON Pointer a finding should name
    (a pseudo-record names its `_source` record). `memberships` ({kind: {flag: (field, values)}},
    from the compiled catalog) adds the flag of every `field in [...]` test the rules make: true
    or false where the field is given, absent where it is not; an `is not` flag is always set;
    a comparison of two fields of the fact is set when both are given."""
    fact = {"sid": sid, "kind": record["type"], "id": record["id"]}
    where[record["id"]] = (record.get("_source", record["id"]), "")
    children: list[dict] = []
    _flatten(record, record["type"], "", fact, children, sid, record["id"], record["id"], "", where)
    facts = [fact, *children]
    for f in facts if memberships else ():
        for flag, spec in memberships.get(f["kind"], {}).items():
            if spec[0] == "in":
                _, dotted, values, missing_ok = spec
                value = f.get(fact_key(dotted))
                if missing_ok:
                    f[flag] = value is None or value not in values
                elif value is not None:
                    f[flag] = value in values
            else:   # ("cmp", key, op, other key, offset): both fields given, else no flag (false)
                _, key, op, other, amount = spec
                if key in f and other in f:
                    f[flag] = _OPS[op](f[key], f[other] + amount)
    return facts
