"""Compiles the check IR into durable_rules rule definitions (its JSON rule language).

Only the shapes measured to be exact in ../shared/engine-notes are produced:
- the gate binding comes first in every rule that has an `absent` clause (point 2);
- a join test (one that reads another binding) is a flat `$and` ending in the always-true
  guard `sid == <first binding>.sid` (point 4); `in [...]` inside a join is expanded into one
  rule per value (for a match binding) or one `$not` per value (for an absent clause), never
  a nested `$or`;
- every field a later test reads from a binding is required by that binding with `$ex`,
  since reading a missing property aborts the whole batch (error 311, measured here);
- a fact is never compared with itself (durable_rules never binds one fact twice: measured).
Sentinel, absorber and actions are added by checker.engine.rulesets; checker.engine.safety
re-checks all of this on the finished definition.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

from checker.catalog.check_language import AsOf, Check, Compare, Exists, Lit, OneOf, Ref
from checker.dates import day_number, month_slot
from checker.engine.facts import fact_key, fields_catalog

GATE_KIND = "__gate__"
GATE_BINDING = "gate__"
OPS = {"<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte", "!=": "$neq"}


def durable_name(binding: str) -> str:
    """Binding names are prefixed so they can never collide with the action context's own attributes."""
    return f"b_{binding}"


@dataclass
class CompiledRule:
    rule_id: str
    alternative: int
    bindings: list[str]           # user binding names, in order
    definition: dict              # {"all": [...]} without "run"
    kinds: set[str]               # fact kinds the rule reads


def _date_key(field: str, months: bool) -> str:
    return fact_key(field) + ("__mon" if months else "__day")


def _compile_compare(cond: Compare, kind: str, as_of: str):
    info = fields_catalog()[kind][cond.field]
    months = cond.offset is not None and cond.offset.unit == "months"
    is_date = info.kind == "date"
    lhs = _date_key(cond.field, months) if is_date else fact_key(cond.field)
    if isinstance(cond.rhs, Ref):
        rhs = {durable_name(cond.rhs.binding): _date_key(cond.rhs.field, months) if is_date else fact_key(cond.rhs.field)}
    elif isinstance(cond.rhs, AsOf):
        rhs = month_slot(as_of) if months else day_number(as_of)
    elif is_date:
        rhs = month_slot(cond.rhs.value) if months else day_number(cond.rhs.value)
    else:
        rhs = cond.rhs.value
    if cond.offset is not None:
        amount = cond.offset.amount * (31 if months else 1)
        amount = int(amount) if float(amount).is_integer() else amount
        if isinstance(rhs, dict):
            rhs = {"$add": {"$l": rhs, "$r": amount}}
        else:
            rhs = rhs + amount
    if cond.op == "==":
        return {lhs: rhs}
    return {OPS[cond.op]: {lhs: rhs}}


def _tests(conditions, kind, as_of):
    """Flat tests and, separately, the `in [...]` groups that need alternatives."""
    flat, groups = [{"kind": kind}], []
    for cond in conditions:
        if isinstance(cond, Exists):
            flat.append({"$ex" if cond.present else "$nex": {fact_key(cond.field): 1}})
        elif isinstance(cond, OneOf):
            key = fact_key(cond.field)
            if cond.negate:
                flat.append({"$ex": {key: 1}})
                flat.extend({"$neq": {key: v}} for v in cond.values)
            else:
                groups.append([{key: v} for v in cond.values])
        else:
            flat.append(_compile_compare(cond, kind, as_of))
    return flat, groups


def _is_join(conditions) -> bool:
    return any(isinstance(c, Compare) and isinstance(c.rhs, Ref) for c in conditions)


def compile_check(rule_id: str, alternative: int, check: Check, as_of: str) -> list[CompiledRule]:
    first = durable_name(check.bindings[0].name)
    guard = {"sid": {first: "sid"}}
    needed = check.required_fields()

    match_options = []   # per binding: list of alternative tests
    for b in check.bindings:
        flat, groups = _tests(b.conditions, b.kind, as_of)
        flat[1:1] = [{"$ex": {fact_key(f): 1}} for f in sorted(needed[b.name])]
        if not groups:
            options = [flat]
        elif not _is_join(b.conditions):
            # `|` among single-fact tests is evaluated exactly by the alpha network (point 4).
            options = [flat + [{"$or": g} for g in groups]]
        else:
            options = [flat + list(choice) for choice in itertools.product(*groups)]
        if _is_join(b.conditions):
            options = [opt + [guard] for opt in options]
        match_options.append([{"$and": opt} if len(opt) > 1 else opt[0] for opt in options])

    nots = []
    for i, clause in enumerate(check.absent):
        flat, groups = _tests(clause.conditions, clause.kind, as_of)
        join = _is_join(clause.conditions)
        # none(A or B) is none(A) and none(B): one $not per value, never a nested group.
        for j, choice in enumerate(itertools.product(*groups) if groups else [()]):
            test = flat + list(choice) + ([guard] if join else [])
            nots.append({f"n{i}_{j}$not": {"$and": test} if len(test) > 1 else test[0]})

    kinds = {b.kind for b in check.bindings} | {a.kind for a in check.absent}
    if check.absent:
        kinds.add(GATE_KIND)
    out = []
    for combo in itertools.product(*match_options):
        all_ = []
        if check.absent:
            all_.append({GATE_BINDING: {"kind": GATE_KIND}})
        all_.extend({durable_name(b.name): test} for b, test in zip(check.bindings, combo))
        all_.extend(nots)
        out.append(CompiledRule(rule_id, alternative, [b.name for b in check.bindings], {"all": all_}, set(kinds)))
    return out
