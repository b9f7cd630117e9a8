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


def truth(cond, kind: str, fact: dict, other: dict | None = None) -> bool | None:
    """The engine's test of `cond` (not one with `$as_of`) on `fact`, of `kind`, with `other` as
    the fact of the binding it reads (a join): True, False, or None where not certain."""
    if isinstance(cond, Exists):
        return (fact_key(cond.field) in fact) == cond.present
    if isinstance(cond, OneOf):
        return flag_value(fact, membership_spec(cond)[1]) == (True if cond.missing_ok else not cond.negate)
    assert isinstance(cond, Compare)
    if isinstance(cond.rhs, SelfRef):     # the engine tests the flag compile_durable sets
        return flag_value(fact, self_compare_spec(cond, kind)[1]) is True
    if isinstance(cond.rhs, Ref):
        key, op, other_key, amount = join_test(cond, kind)
        rhs = other.get(other_key)
        if amount and rhs is not None:
            if not (rhs.__class__ is int and amount.__class__ is int):
                return None if fact.get(key) is not None else False
            rhs += amount
        return _compared(fact.get(key), op, rhs)
    key, op, literal = literal_test(cond, kind)
    return _compared(fact.get(key), op, literal)
