"""Where the catalog reads the run's date: every comparison with `$as_of` and its offset, and
every fact kind the rules bind (some derived kinds depend on the date's year).

A partition's result is a function of the date only through these, so they are what the
change-date mechanism (checker.engine.change_dates) needs from the catalog: a condition
`FIELD OP $as_of + OFFSET` holds or fails for a given fact on whole runs of dates, and changes
only on the day the date crosses FIELD - OFFSET.
"""
from __future__ import annotations

from dataclasses import dataclass

from checker.catalog.check_language import AsOf, Compare


@dataclass(frozen=True, order=True)
class AsOfTerm:
    """`FIELD OP $as_of + amount unit` on facts of `kind` (unit "days" or "months")."""
    kind: str
    field: str
    op: str
    unit: str
    amount: int


@dataclass(frozen=True)
class DateSensitivity:
    """What one scope's rules read that depends on the date."""
    terms: frozenset[AsOfTerm]
    kinds: frozenset[str]           # every fact kind the rules bind or test as absent


def _term(kind: str, cond: Compare) -> AsOfTerm:
    if cond.offset is None:
        return AsOfTerm(kind, cond.field, cond.op, "days", 0)
    return AsOfTerm(kind, cond.field, cond.op, cond.offset.unit, int(cond.offset.amount))


def date_sensitivity(rules, scopes: tuple[str, ...]) -> DateSensitivity:
    """The `$as_of` comparisons and fact kinds of the automated rules of `scopes` (the rule
    scopes a partition runs, see checker.engine.partition.RULE_SCOPES)."""
    terms, kinds = set(), set()
    for rule in rules:
        if not rule.automated or rule.scope not in scopes:
            continue
        for check in rule.checks:
            for clause in [*check.bindings, *check.absent]:
                kinds.add(clause.kind)
                terms.update(_term(clause.kind, c) for c in clause.conditions
                             if isinstance(c, Compare) and isinstance(c.rhs, AsOf))
    return DateSensitivity(frozenset(terms), frozenset(kinds))
