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


_EXISTS, _ONE_OF, _EQUALS = range(3)
Tests = list[tuple[str, list[tuple[str, int, object]]]]


def applicability_tests(groups: list[Group]) -> Tests:
    """Per group: its kind and its conditions as (fact key, test, operand), built once per
    catalog (engine/evaluate.compile_catalog): a worker judges thousands of partitions with
    the same groups."""
    tests = []
    for binding, _alternatives in groups:
        conds = []
        for cond in binding.conditions:
            if isinstance(cond, Exists):
                conds.append((fact_key(cond.field), _EXISTS, None))
            elif isinstance(cond, OneOf):
                conds.append((fact_key(cond.field), _ONE_OF, cond.values))
            else:
                assert isinstance(cond, Compare)
                conds.append((fact_key(cond.field), _EQUALS, cond.rhs.value))
        tests.append((binding.kind, conds))
    return tests


def _count(facts: list[dict], conds: list[tuple[str, int, object]]) -> int:
    """How many of `facts` hold every one of `conds`."""
    if not conds:        # applies to every fact of its kind
        return len(facts)
    count = 0
    for fact in facts:
        for key, test, operand in conds:
            value = fact.get(key)
            if value is None or (test == _ONE_OF and value not in operand) or (test == _EQUALS and not value == operand):
                break
        else:
            count += 1
    return count


def applied_counts(facts: list[dict], where: dict, shared: set[str], tests: Tests) -> tuple[int, ...]:
    """Per group (its `tests`, from applicability_tests), how many facts of the partition, not
    read from `shared` records, its alternatives apply to."""
    # Facts of the kinds tested only (a partition's people and their child facts are not, in
    # a client's scope): the look-up of a fact's record is for those.
    by_kind: dict[str, list[dict]] = {kind: [] for kind, _conds in tests}
    for fact in facts:
        of_kind = by_kind.get(fact["kind"])
        if of_kind is not None and where[fact["id"]][0] not in shared:
            of_kind.append(fact)
    return tuple(_count(by_kind[kind], conds) for kind, conds in tests)
