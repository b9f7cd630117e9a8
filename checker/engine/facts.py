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
from functools import lru_cache

from checker.dates import date_numbers
from checker.derive import fields_catalog

MAX_FACT_PROPERTIES = 255   # durable_rules' limit per fact (engine-notes point 8)
# The partition id of a fact every partition shares (engine/prepare.SharedFacts: a CB-wide
# record's): engine/host.PartitionEngine sends it with the id of the partition it judges.
SHARED_SID = ""
_OPS = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def fact_key(dotted: str) -> str:
    return dotted.replace(".", "__")


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


@lru_cache(maxsize=None)
def _date_fields(kind: str) -> frozenset[str]:
    """The dotted names of a fact kind's date fields (fields_catalog is built once a process)."""
    return frozenset(name for name, info in fields_catalog().get(kind, {}).items() if info.kind == "date")


# date_numbers remembered for the last dates met: a client's records repeat a few dates (an
# audit's, its plan's, report's and team's), and a worker flattens every one of them.
_date_numbers = lru_cache(maxsize=4096)(date_numbers)


def _put(fact: dict, key: str, value, is_date: bool):
    fact[key] = value
    if is_date:
        fact[key + "__day"], fact[key + "__mon"], fact[key + "__year"] = _date_numbers(value)


# How each key of a (kind, prefix) is flattened: its fact key and whether it is a date, or
# None for a record's own id and type, which the fact holds already. Built as keys are met: a
# worker flattens the same few hundred keys for every client. Only keys the schemas allow are
# kept (x- extensions and _ private keys are left out of the fact, and out of the plan, so no
# export can grow it without bound).
_PLANS: dict[tuple[str, str], dict[str, tuple[str, bool] | None]] = {}
# The flattening order of an object with a given set of keys met in a given order (its
# "shape"): its planned keys, sorted, each with its plan entry. A worker meets the same few
# shapes for every client, so the sort and the plan look-ups of every key are done once per
# shape; MAX_SHAPES bounds what an export with ever new keys can make it hold.
_SHAPES: dict[tuple, tuple[tuple[str, str, bool], ...]] = {}
MAX_SHAPES = 4096


def _key_plan(kind: str, prefix: str) -> dict[str, tuple[str, bool] | None]:
    plan = _PLANS.get((kind, prefix))
    if plan is None:
        plan = _PLANS[(kind, prefix)] = {}
    return plan


def _plan_key(plan: dict, kind: str, prefix: str, key: str):
    if key.startswith(("x-", "_")):
        return None
    if not prefix and key in ("id", "type"):
        plan[key] = None
    else:
        plan[key] = (fact_key(prefix + key), prefix + key in _date_fields(kind))
    return plan[key]


def _ordered(data: dict, kind: str, prefix: str) -> tuple[tuple[str, str, bool], ...]:
    """(key, fact key, is a date) of each of `data`'s planned keys, in sorted key order."""
    shape = (kind, prefix, *data)
    order = _SHAPES.get(shape)
    if order is None:
        plan = _key_plan(kind, prefix)
        entries = [(key, plan[key] if key in plan else _plan_key(plan, kind, prefix, key)) for key in sorted(data)]
        order = tuple((key, *entry) for key, entry in entries if entry is not None)
        if len(_SHAPES) < MAX_SHAPES:
            _SHAPES[shape] = order
    return order


def _flatten(data: dict, kind: str, prefix: str, fact: dict, children: list, sid: str, record_id: str,
             id_prefix: str, pointer: str, where: dict):
    # The hottest loop of a worker (every field of every record of every client): the keys'
    # order, fact keys and date-ness come from the object's shape (_ordered), a plain scalar is
    # told by its class at once, each date parsed once for its three numbers.
    for key, fkey, is_date in _ordered(data, kind, prefix):
        value = data[key]
        scalar = value.__class__
        if scalar is str or scalar is int or scalar is bool or scalar is float:
            if scalar is str and not value.strip():
                continue
        elif isinstance(value, dict):
            _flatten(value, kind, f"{prefix}{key}.", fact, children, sid, record_id, id_prefix, pointer, where)
            continue
        elif isinstance(value, list):
            dotted = prefix + key
            fact[fkey + "__count"] = len(value)
            _children(value, f"{kind}.{dotted}", dotted, children, sid, record_id, id_prefix, pointer, where)
            continue
        elif _blank(value):
            continue
        fact[fkey] = value
        if is_date:
            fact[fkey + "__day"], fact[fkey + "__mon"], fact[fkey + "__year"] = _date_numbers(value)


def _children(items: list, child_kind: str, dotted: str, children: list, sid: str, record_id: str, id_prefix: str,
              pointer: str, where: dict):
    """A child fact per item of the array at `dotted`, added to `children` and `where`."""
    value_is_date = "value" in _date_fields(child_kind)
    id_stem, pointer_stem = f"{id_prefix}#{dotted}#", f"{pointer}/{dotted.replace('.', '/')}/"
    for i, item in enumerate(items):
        child_id = f"{id_stem}{i}"
        child = {"sid": sid, "kind": child_kind, "id": child_id, "parent": record_id, "index": i}
        child_pointer = f"{pointer_stem}{i}"
        where[child_id] = (record_id, child_pointer)
        if isinstance(item, dict):
            _flatten(item, child_kind, "", child, children, sid, record_id, child_id, child_pointer, where)
        elif not _blank(item):
            _put(child, "value", item, value_is_date)
        children.append(child)


def record_facts(record: dict, sid: str, where: dict, memberships: dict | None = None) -> list[dict]:
    """The fact of one (enriched or pseudo) record, followed by its child facts.

    `where` receives, for every fact id, the record id and JSON Pointer a finding should name
    (a pseudo-record names its `_source` record). `memberships` ({kind: {flag: spec}}, from the
    compiled catalog: compile_durable._tests) adds the flag of every `field in [...]` test the rules make: true
    or false where the field is given, absent where it is not; an `is not` flag is always set;
    a comparison of two fields of the fact is set when both are given."""
    fact = {"sid": sid, "kind": record["type"], "id": record["id"]}
    where[record["id"]] = (record.get("_source", record["id"]), "")
    children: list[dict] = []
    _flatten(record, record["type"], "", fact, children, sid, record["id"], record["id"], "", where)
    facts = [fact, *children]
    if memberships:
        for f in facts:
            flags = memberships.get(f["kind"])
            if flags:
                _set_flags(f, flags)
    return facts


def flag_value(fact: dict, spec: tuple) -> bool | None:
    """The flag `spec` (compile_durable._tests) sets on `fact`, or None where it sets none
    (the engine's test of it then fails): _set_flags's own answer, on a copy of the fields it
    reads (the flags are set in the hottest loop of a worker, which stays as it is)."""
    read = (spec[1],) if spec[0] == "in" else (spec[1], spec[3])
    probe = {key: fact[key] for key in read if key in fact}
    _set_flags(probe, {"": spec})
    return probe.get("")


def _set_flags(fact: dict, flags: dict):
    for flag, spec in flags.items():
        if spec[0] == "in":         # ("in", fact key, values, missing_ok)
            _, key, values, missing_ok = spec
            value = fact.get(key)
            if missing_ok:
                fact[flag] = value is None or value not in values
            elif value is not None:
                fact[flag] = value in values
        else:   # ("cmp", key, op, other key, offset): both fields given, else no flag (false)
            _, key, op, other, amount = spec
            if key in fact and other in fact:
                fact[flag] = _OPS[op](fact[key], fact[other] + amount)
