"""Where the catalog reads the run's date: every comparison with `$as_of` and its offset, and
every fact kind the rules bind (some derived kinds depend on the date's year).

A partition's result is a function of the date only through these, so they are what the
change-date mechanism (checker.engine.change_dates) needs from the catalog: a condition
`FIELD OP $as_of + OFFSET` holds or fails for a given fact on whole runs of dates, and changes
only on the day the date crosses FIELD - OFFSET. A fact that fails one of the other conditions of
the clause that read only that fact (its `guard`: literals, `in`, `is not`, present, missing,
two fields of the fact, and the fields later clauses read from the binding) never fills the
clause, on any date: its flips cannot change a result, so they are not change dates. Nor are a
fact's flips where the check's other clauses leave it nothing to do (`partners`): no fact that
may fill another binding beside it, or an absent clause it certainly fills.
"""
from __future__ import annotations

from dataclasses import dataclass

from checker.catalog.check_language import AsOf, Compare, Exists, Ref


@dataclass(frozen=True)
class Partner:
    """Another clause of the check, as a term's fact needs it: a fact of `kind` passing `own`
    (its conditions on itself) and `theirs` (its conditions reading the term's binding, judged
    with the term's fact for that binding), with the term's fact passing `ours` (its clause's
    conditions reading the partner's binding). Without one that may, on some date, the term's
    fact fills no match (another binding) or blocks none (an absent clause's reading of a
    binding). `blocks`: the partner is an absent clause reading the term's binding only and no
    date; one that certainly holds for the term's fact blocks every match holding it."""
    kind: str
    own: tuple
    theirs: tuple = ()
    ours: tuple = ()
    blocks: bool = False


@dataclass(frozen=True)
class AsOfTerm:
    """`FIELD OP $as_of + amount unit` on facts of `kind` (unit "days" or "months"), in a clause
    whose conditions on the fact alone are `guard` (Compare, OneOf and Exists conditions), with
    the other clauses of its check as `partners`."""
    kind: str
    field: str
    op: str
    unit: str
    amount: int
    guard: tuple = ()
    partners: tuple[Partner, ...] = ()


@dataclass(frozen=True)
class DateSensitivity:
    """What one scope's rules read that depends on the date."""
    terms: frozenset[AsOfTerm]
    kinds: frozenset[str]           # every fact kind the rules bind or test as absent


def _term(kind: str, cond: Compare, guard: tuple, partners: tuple) -> AsOfTerm:
    if cond.offset is None:
        return AsOfTerm(kind, cond.field, cond.op, "days", 0, guard, partners)
    return AsOfTerm(kind, cond.field, cond.op, cond.offset.unit, int(cond.offset.amount), guard, partners)


def _guard(clause, required: set[str]) -> tuple:
    """The conditions of `clause` that read neither the date nor another binding, and the
    presence of the fields other clauses read from it (`required`)."""
    own = [c for c in clause.conditions if not (isinstance(c, Compare) and isinstance(c.rhs, (AsOf, Ref)))]
    return (*own, *(Exists(name, True) for name in sorted(required)))


def _reading(clause, binding: str) -> tuple:
    """The conditions of `clause` that read `binding`'s fields."""
    return tuple(c for c in clause.conditions if isinstance(c, Compare) and isinstance(c.rhs, Ref)
                 and c.rhs.binding == binding)


def _blocker(absent, binding, check) -> Partner | None:
    """`absent` as a blocker of `binding`'s facts: when it reads no date and no other binding,
    and no other binding can hold the fact that fills it."""
    reads_date = any(isinstance(c, Compare) and isinstance(c.rhs, AsOf) for c in absent.conditions)
    if (reads_date or {ref.binding for ref in absent.refs()} != {binding.name}
            or any(b.kind == absent.kind for b in check.bindings if b is not binding)):
        return None
    return Partner(absent.kind, _guard(absent, set()), _reading(absent, binding.name), blocks=True)


def _clauses(check):
    """(clause, its guard, its partners) of each clause of `check`."""
    required = check.required_fields()
    for b in check.bindings:
        partners = [Partner(c.kind, _guard(c, required[c.name]), _reading(c, b.name), _reading(b, c.name))
                    for c in check.bindings if c is not b]
        partners += [p for p in (_blocker(a, b, check) for a in check.absent) if p is not None]
        yield b, _guard(b, required[b.name]), tuple(partners)
    for a in check.absent:
        partners = tuple(Partner(b.kind, _guard(b, required[b.name]), (), _reading(a, b.name))
                         for b in check.bindings if _reading(a, b.name))
        yield a, _guard(a, set()), partners


def date_sensitivity(rules, scopes: tuple[str, ...]) -> DateSensitivity:
    """The `$as_of` comparisons and fact kinds of the automated rules of `scopes` (the rule
    scopes a partition runs, see checker.engine.partition.RULE_SCOPES)."""
    terms, kinds = set(), set()
    for rule in rules:
        if not rule.automated or rule.scope not in scopes:
            continue
        for check in rule.checks:
            for clause, guard, partners in _clauses(check):
                kinds.add(clause.kind)
                terms.update(_term(clause.kind, c, guard, partners) for c in clause.conditions
                             if isinstance(c, Compare) and isinstance(c.rhs, AsOf))
    return DateSensitivity(frozenset(terms), frozenset(kinds))
