"""The engine's test of one condition, judged in Python on the facts the engine judges, where
the answer is certain: what the change dates (engine/change_dates.py) know of a fact without
running the engine.

True or False only where the engine's test certainly gives that on every date: a condition
reading a missing field fails (the check language's semantics); `in`, `is not` and two fields
of one fact are the flags checker.engine.facts computes in Python, computed here the same way;
a comparison is judged between two ints, two booleans or two strings (== and != for these
two), which the engine's core compares as Python does. Anything else is None, "may go either
way": floats (which the core can misread), mixed types, strings ordered.
"""
from __future__ import annotations

import operator

from checker.catalog.check_language import Compare, Exists, OneOf, Ref, SelfRef
from checker.engine.compile_durable import join_test, literal_test, membership_spec, self_compare_spec
from checker.engine.facts import fact_key, flag_value

_OPS = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
_EXACT_INT = 2 ** 53       # ints the engine's core compares exactly whatever it holds them as


def _compared(value, op: str, rhs) -> bool | None:
    if value is None or rhs is None:
        return False
    kinds = (value.__class__, rhs.__class__)
    if kinds == (int, int) and abs(value) < _EXACT_INT and abs(rhs) < _EXACT_INT:
        return _OPS[op](value, rhs)
    if kinds in ((str, str), (bool, bool)) and op in ("==", "!="):
        return _OPS[op](value, rhs)
    return None


def compiled(cond, kind: str) -> tuple:
    """How the engine tests `cond` (not one with `$as_of`) on a fact of `kind`, in the form
    judged() reads: ("exists", key, present), ("flag", spec, expected), ("join", key, op, other
    key, offset) or ("literal", key, op, value)."""
    if isinstance(cond, Exists):
        return "exists", fact_key(cond.field), cond.present
    if isinstance(cond, OneOf):
        return "flag", membership_spec(cond)[1], True if cond.missing_ok else not cond.negate
    assert isinstance(cond, Compare)
    if isinstance(cond.rhs, SelfRef):     # the engine tests the flag compile_durable sets
        return "flag", self_compare_spec(cond, kind)[1], True
    if isinstance(cond.rhs, Ref):
        return ("join", *join_test(cond, kind))
    return ("literal", *literal_test(cond, kind))


def judged(test: tuple, fact: dict, other: dict | None = None) -> bool | None:
    """The compiled `test` on `fact`, with `other` as the fact of the binding a join reads:
    True, False, or None where not certain."""
    how = test[0]
    if how == "exists":
        return (test[1] in fact) == test[2]
    if how == "flag":
        return flag_value(fact, test[1]) == test[2]
    if how == "literal":
        return _compared(fact.get(test[1]), test[2], test[3])
    _how, key, op, other_key, amount = test
    rhs = other.get(other_key)
    if amount and rhs is not None:
        if not (rhs.__class__ is int and amount.__class__ is int):
            return None if fact.get(key) is not None else False
        rhs += amount
    return _compared(fact.get(key), op, rhs)


def truth(cond, kind: str, fact: dict, other: dict | None = None) -> bool | None:
    """The engine's test of `cond` (not one with `$as_of`) on `fact`, of `kind`, with `other` as
    the fact of the binding it reads (a join): True, False, or None where not certain."""
    return judged(compiled(cond, kind), fact, other)
