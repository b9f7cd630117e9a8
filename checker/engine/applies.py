"""What each judged alternative applied to, counted on the engine's flat facts.

The applicability binding of an alternative (checker/catalog/applicability.py) holds only
`present(DATE)` tests and enum tests `FIELD == 'value'` or `FIELD in [...]`. durable_rules is
not asked to count them (a rule firing once per certificate would cost a Python action per
fact): they are read here from the same flat facts the engine is given, and the reference
evaluator counts them on its own views; the differential test compares the two counts.

A fact counts in the partition that owns its record: a CB-wide record (a person, the CB) that a
client's partition reads is counted on the CB-wide partition only, so the total over all
partitions counts each fact once. Counts go back per group of alternatives with the same
applicability (catalog/applicability.applicability_groups), as a tuple in the groups' order:
a worker sends a few hundred small integers per partition, not a dictionary per alternative.
"""
from __future__ import annotations

from checker.catalog.applicability import Group
from checker.catalog.check_language import Compare, Exists, OneOf
from checker.engine.facts import fact_key


def _holds(cond, fact: dict) -> bool:
    value = fact.get(fact_key(cond.field))
    if value is None:
        return False
    if isinstance(cond, Exists):
        return True
    if isinstance(cond, OneOf):
        return value in cond.values
    assert isinstance(cond, Compare)
    return value == cond.rhs.value


def applied_counts(facts: list[dict], where: dict, shared: set[str], groups: list[Group]) -> tuple[int, ...]:
    """Per group of `groups`, how many facts of the partition, not read from `shared` records,
    its alternatives apply to."""
    by_kind: dict[str, list[dict]] = {}
    for fact in facts:
        if where[fact["id"]][0] not in shared:
            by_kind.setdefault(fact["kind"], []).append(fact)
    return tuple(sum(1 for fact in by_kind.get(binding.kind, ()) if all(_holds(c, fact) for c in binding.conditions))
                 for binding, _alternatives in groups)
