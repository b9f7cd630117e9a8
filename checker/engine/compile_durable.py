"""Compiles the check IR into durable_rules rule definitions (its JSON rule language).

Only the shapes measured to be exact in ../shared/engine-notes are produced:
- the gate binding comes first in every rule that has an `absent` clause (point 2);
- a join test (one that reads another binding) is a flat `$and` ending in the always-true
  guard `sid == <first binding>.sid` (point 4), with no group anywhere: `in [...]` becomes a
  membership flag computed on the fact before assertion, tested with one equality;
- every field a later test reads from a binding is required by that binding with `$ex`,
  since reading a missing property aborts the whole batch (error 311, measured here);
- a fact is never compared with itself (durable_rules never binds one fact twice: measured);
- in a chain, the single-fact tests come right after the kind test (alpha_order), the tests
  that read another binding after them, in the order the rule gives them.
Sentinel, absorber and actions are added by checker.engine.rulesets; checker.engine.safety
re-checks all of this on the finished definition.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

from checker.catalog.check_language import AsOf, Check, Compare, Exists, OneOf, Ref, SelfRef
from checker.dates import day_number, month_slot
from checker.derive import fields_catalog
from checker.engine.facts import fact_key

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


def _compare_terms(cond: Compare, kind: str):
    """How the engine reads a comparison: (key of a field, offset in engine units). Dates are
    compared as day numbers, or as month slots when the offset is in months (31 slots each)."""
    months = cond.offset is not None and cond.offset.unit == "months"
    is_date = fields_catalog()[kind][cond.field].kind == "date"

    def key(field):
        return _date_key(field, months) if is_date else fact_key(field)
    amount = cond.offset.amount * (31 if months else 1) if cond.offset is not None else 0
    return key, int(amount) if float(amount).is_integer() else amount


def _compile_compare(cond: Compare, kind: str, as_of: str):
    key, amount = _compare_terms(cond, kind)
    months = cond.offset is not None and cond.offset.unit == "months"
    is_date = fields_catalog()[kind][cond.field].kind == "date"
    lhs = key(cond.field)
    if isinstance(cond.rhs, Ref):
        rhs = {durable_name(cond.rhs.binding): key(cond.rhs.field)}
    elif isinstance(cond.rhs, AsOf):
        rhs = month_slot(as_of) if months else day_number(as_of)
    elif is_date:
        rhs = month_slot(cond.rhs.value) if months else day_number(cond.rhs.value)
    else:
        rhs = cond.rhs.value
    if cond.offset is not None:
        if isinstance(rhs, dict):
            rhs = {"$add": {"$l": rhs, "$r": amount}}
        else:
            rhs = rhs + amount
    if cond.op == "==":
        return {lhs: rhs}
    return {OPS[cond.op]: {lhs: rhs}}


def literal_test(cond: Compare, kind: str) -> tuple[str, str, object]:
    """(fact key, operator, value) of the engine's test of `FIELD OP LITERAL (+ OFFSET)`."""
    test = _compile_compare(cond, kind, "")
    (op, operand), = test.items()
    if not op.startswith("$"):
        return op, "==", operand
    (key, value), = operand.items()
    return key, cond.op, value


def join_test(cond: Compare, kind: str) -> tuple[str, str, str, float]:
    """(fact key, operator, the other binding's fact key, offset in engine units) of the
    engine's test of `FIELD OP binding.FIELD (+ OFFSET)`."""
    key, amount = _compare_terms(cond, kind)
    return key(cond.field), cond.op, key(cond.rhs.field), amount if cond.offset is not None else 0


def membership_spec(cond: OneOf) -> tuple[str, tuple]:
    """The flag key and spec of `FIELD in [...]` / `is not` (see checker.engine.facts)."""
    key = membership_key(cond.field, cond.values, cond.missing_ok)
    return key, ("in", fact_key(cond.field), cond.values, cond.missing_ok)


def membership_key(field: str, values: tuple, missing_ok: bool = False) -> str:
    """The fact key of the precomputed flag `field in values`, or for `is not`, of `field is
    missing or not in values` (see checker.engine.facts)."""
    digest = hashlib.sha1(repr(sorted(map(repr, values))).encode()).hexdigest()[:8]
    return f"{fact_key(field)}__{'isnot' if missing_ok else 'in'}_{digest}"


def self_compare_spec(cond: Compare, kind: str) -> tuple[str, tuple]:
    """The flag key and spec of a comparison between two fields of one fact. The engine never
    binds one fact twice, so the comparison is computed on the fact before assertion (with the
    engine's own date numbers) and the rule tests the flag."""
    key, amount = _compare_terms(cond, kind)
    spec = ("cmp", key(cond.field), cond.op, key(cond.rhs.field), amount)
    digest = hashlib.sha1(repr(spec).encode()).hexdigest()[:8]
    return f"{fact_key(cond.field)}__self_{digest}", spec


def _tests(conditions, kind, as_of, memberships):
    flat = [{"kind": kind}]
    for cond in conditions:
        if isinstance(cond, Exists):
            flat.append({"$ex" if cond.present else "$nex": {fact_key(cond.field): 1}})
        elif isinstance(cond, OneOf):
            # A precomputed flag, one equality test: an `|` group inside a join is unsafe (point 4),
            # and expanding it into one rule or negation per value overflowed the engine's alpha
            # stack (error 303) with eight values.
            key, spec = membership_spec(cond)
            memberships.setdefault(kind, {})[key] = spec
            flat.append({key: True if cond.missing_ok else not cond.negate})
        elif isinstance(cond.rhs, SelfRef):
            key, spec = self_compare_spec(cond, kind)
            memberships.setdefault(kind, {})[key] = spec
            flat.append({key: True})
        else:
            flat.append(_compile_compare(cond, kind, as_of))
    return flat


# The order of a chain's single-fact tests after its kind test: equalities (a value, a flag)
# first, then comparisons with a constant, `!=`, absence, presence. Each test is an alpha node
# the fact walks through, and the C core probes every property of the fact at every node it
# reaches: the tests most facts fail come first, so fewer facts walk the rest (judging 150
# j1000 clients: 9 % fewer instructions in the engine's run of a partition).
_ALPHA_RANK = {"$lt": 1, "$lte": 1, "$gt": 1, "$gte": 1, "$neq": 2, "$nex": 3, "$ex": 4}


def _reads_binding(test: dict) -> bool:
    """Whether a test of a chain reads a field of another binding (a join test)."""
    (op, operand), = test.items()
    if not op.startswith("$"):          # {key: value} or {key: {binding: key}}
        return isinstance(operand, dict)
    if op in ("$ex", "$nex") or not isinstance(operand, dict):
        return False
    (_key, operand), = operand.items()  # {"$gt": {key: value, {binding: key} or {"$add": ...}}}
    return isinstance(operand, dict)


def alpha_order(chain: list[dict]) -> list[dict]:
    """`chain` (the kind test first) with its single-fact tests in _ALPHA_RANK order, before
    the tests that read another binding, which keep their order. Only the alpha network
    changes: a conjunction of single-fact tests means the same in any order; the join
    expression durable_rules evaluates (engine-notes point 4) holds only the tests that read
    another binding, in the same order, and the caller still ends it with the guard."""
    single = [t for t in chain[1:] if not _reads_binding(t)]
    joins = [t for t in chain[1:] if _reads_binding(t)]
    single.sort(key=lambda t: _ALPHA_RANK.get(next(iter(t)), 0))
    return chain[:1] + single + joins


def _is_join(conditions) -> bool:
    return any(isinstance(c, Compare) and isinstance(c.rhs, Ref) for c in conditions)


def compile_check(rule_id: str, alternative: int, check: Check, as_of: str,
                  memberships: dict | None = None) -> CompiledRule:
    """One durable_rules rule for one alternative of a rule's check. `memberships` collects the
    flags the facts must carry ({kind: {flag key: spec}}): `in` / `is not` tests and
    comparisons of two fields of one fact (see checker.engine.facts)."""
    memberships = {} if memberships is None else memberships
    first = durable_name(check.bindings[0].name)
    guard = {"sid": {first: "sid"}}
    needed = check.required_fields()
    all_ = []
    kinds = {b.kind for b in check.bindings} | {a.kind for a in check.absent}
    if check.absent:
        kinds.add(GATE_KIND)
        all_.append({GATE_BINDING: {"kind": GATE_KIND}})
    for b in check.bindings:
        test = _tests(b.conditions, b.kind, as_of, memberships)
        test = alpha_order(test[:1] + [{"$ex": {fact_key(f): 1}} for f in sorted(needed[b.name])] + test[1:])
        if _is_join(b.conditions):
            test.append(guard)
        all_.append({durable_name(b.name): {"$and": test} if len(test) > 1 else test[0]})
    for i, clause in enumerate(check.absent):
        test = alpha_order(_tests(clause.conditions, clause.kind, as_of, memberships))
        if _is_join(clause.conditions):
            test.append(guard)
        all_.append({f"n{i}$not": {"$and": test} if len(test) > 1 else test[0]})
    return CompiledRule(rule_id, alternative, [b.name for b in check.bindings], {"all": all_}, kinds)
