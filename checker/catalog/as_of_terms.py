"""Where the catalog reads the run's date: every comparison with `$as_of` and its offset, and
every fact kind the rules bind (some derived kinds depend on the date's year).

A partition's result is a function of the date only through these, so they are what the
change-date mechanism (checker.engine.change_dates) needs from the catalog: a condition
`FIELD OP $as_of + OFFSET` holds or fails for a given fact on whole runs of dates, and changes
only on the day the date crosses FIELD - OFFSET. A fact that fails one of the other conditions of
the clause that read only that fact (its `guard`: literals, `in`, `is not`, present, missing,
two fields of the fact, and the fields later clauses read from the binding) never fills the
clause, on any date: its flips cannot change a result, so they are not change dates.
"""
from __future__ import annotations

from dataclasses import dataclass

from checker.catalog.check_language import AsOf, Compare, Exists, Ref


@dataclass(frozen=True)
class AsOfTerm:
    """`FIELD OP $as_of + amount unit` on facts of `kind` (unit "days" or "months"), in a clause
    whose conditions on the fact alone are `guard` (Compare, OneOf and Exists conditions)."""
    kind: str
    field: str
    op: str
    unit: str
    amount: int
    guard: tuple = ()


@dataclass(frozen=True)
class DateSensitivity:
    """What one scope's rules read that depends on the date."""
    terms: frozenset[AsOfTerm]
    kinds: frozenset[str]           # every fact kind the rules bind or test as absent


def _term(kind: str, cond: Compare, guard: tuple) -> AsOfTerm:
    if cond.offset is None:
        return AsOfTerm(kind, cond.field, cond.op, "days", 0, guard)
    return AsOfTerm(kind, cond.field, cond.op, cond.offset.unit, int(cond.offset.amount), guard)


def _guard(clause, required: set[str]) -> tuple:
    """The conditions of `clause` that read neither the date nor another binding, and the
    presence of the fields other clauses read from it (`required`)."""
    own = [c for c in clause.conditions if not (isinstance(c, Compare) and isinstance(c.rhs, (AsOf, Ref)))]
    return (*own, *(Exists(name, True) for name in sorted(required)))


def date_sensitivity(rules, scopes: tuple[str, ...]) -> DateSensitivity:
    """The `$as_of` comparisons and fact kinds of the automated rules of `scopes` (the rule
    scopes a partition runs, see checker.engine.partition.RULE_SCOPES)."""
    terms, kinds = set(), set()
    for rule in rules:
        if not rule.automated or rule.scope not in scopes:
            continue
        for check in rule.checks:
            required = check.required_fields()
            clauses = [(b, required[b.name]) for b in check.bindings] + [(a, set()) for a in check.absent]
            for clause, fields in clauses:
                kinds.add(clause.kind)
                guard = _guard(clause, fields)
                terms.update(_term(clause.kind, c, guard) for c in clause.conditions
                             if isinstance(c, Compare) and isinstance(c.rhs, AsOf))
    return DateSensitivity(frozenset(terms), frozenset(kinds))
