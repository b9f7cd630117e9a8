"""The dates on which a partition's result can change, from its facts and the catalog.

A rule reads the run's date only in `FIELD OP $as_of + OFFSET` conditions and, through derive,
in values that depend on the date's year (checker.derive.AS_OF_YEAR_DEPENDENT). For one fact,
such a condition holds on one side of the day the date crosses FIELD - OFFSET and fails on the
other, so the truth of every condition, and with it every finding, is constant between the
days computed here. A flip that cannot change a result is left out: on a fact that fails a
condition of its clause reading only that fact (the term's guard: a record of another type or
status), or that the check's other clauses leave nothing to do (the term's partners: no fact
that may fill another binding beside it, or an absent clause a fact certainly fills for it),
each judged where certain on the engine's facts (checker.engine.fact_truth). Evaluating a
partition on each of the dates left (forecast), or keeping its result for date D while
change_dates(.., D, E) is empty (a cache), is therefore exact.

Offsets in months move the date in the engine's month slots (checker.dates): `FIELD <
$as_of + months(6)` on 2026-08-31 first holds on the first date whose slot passes 2026-02-31,
which is 2026-03-01.
"""
from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from functools import lru_cache

from checker.catalog.as_of_terms import AsOfTerm, DateSensitivity
from checker.dates import day_number, month_slot
from checker.derive import AS_OF_YEAR_DEPENDENT, derive
from checker.engine.fact_truth import compiled, judged
from checker.engine.facts import fact_key, record_facts

# For `value OP date + offset`, with T = value - offset in the unit: whether the day the date
# reaches T (0) and/or the day after (1) changes the condition's truth.
_FLIPS = {"<": (1,), "<=": (0,), ">": (0,), ">=": (1,), "==": (0, 1), "!=": (0, 1)}


def first_date_at(unit: str, number: int) -> dt.date:
    """The first date whose day number (unit "days") or month slot ("months") is >= number."""
    if unit == "days":
        return dt.date.fromordinal(number)
    month_index, day = divmod(number, 31)
    year, month = divmod(month_index, 12)
    month += 1
    if day + 1 <= calendar.monthrange(year, month)[1]:
        return dt.date(year, month, day + 1)
    return dt.date(year + (month == 12), month % 12 + 1, 1)


def flip_dates(term: AsOfTerm, value: str) -> list[dt.date]:
    """The dates on which `value OP $as_of + offset` holds and did not the day before, or the
    other way round."""
    if term.unit == "days":
        threshold = day_number(value) - term.amount
    else:
        threshold = month_slot(value) - 31 * term.amount
    try:
        return [first_date_at(term.unit, threshold + step) for step in _FLIPS[term.op]]
    except (ValueError, OverflowError):
        return []   # beyond the calendar's years 1 to 9999: in no window


def _facts(records: list[dict], params: dict, years: range) -> list[dict]:
    """The partition's facts as each year of the window derives them (derived values may
    depend on the year; their dates are read too)."""
    facts = []
    for year in years:
        enriched, pseudo = derive(records, params, year)
        for rec in enriched + pseudo:
            facts.extend(record_facts(rec, "", {}))
    return facts


def _year_change_dates(records: list[dict], params: dict, kinds: frozenset[str], start: dt.date,
                       end: dt.date) -> set[dt.date]:
    """Each 1 January in (start, end] on which a year-dependent derived value the rules read
    differs from the year before."""
    read = AS_OF_YEAR_DEPENDENT & kinds
    if not read:
        return set()

    def derived(year):
        enriched, pseudo = derive(records, params, year)
        return sorted((repr(sorted(r.items())) for r in enriched + pseudo if r["type"] in read))
    return {dt.date(year, 1, 1) for year in range(start.year + 1, end.year + 1) if derived(year) != derived(year - 1)}


def change_dates(records: list[dict], sensitivity: DateSensitivity, params: dict, start: dt.date,
                 end: dt.date) -> list[dt.date]:
    """The sorted dates d with start < d <= end on which the result of the partition holding
    `records` (as checker.engine.partition gives them) may differ from its result on d - 1,
    for rules reading what `sensitivity` describes. Empty: the result on `end` is the result
    on `start`."""
    found = _year_change_dates(records, params, sensitivity.kinds, start, end)
    found |= _fact_change_dates(_facts(records, params, range(start.year, end.year + 1)), sensitivity, start, end)
    return sorted(found)


@dataclass(frozen=True)
class _Context:
    """One clause's term compiled (fact_truth.compiled): its guard's tests and its partners',
    each (kind, own tests, their tests, our tests, blocks)."""
    guard: tuple
    partners: tuple


def _context(term: AsOfTerm) -> _Context:
    partners = tuple((p.kind, tuple(compiled(c, p.kind) for c in p.own), tuple(compiled(c, p.kind) for c in p.theirs),
                      tuple(compiled(c, term.kind) for c in p.ours), p.blocks) for p in term.partners)
    return _Context(tuple(compiled(c, term.kind) for c in term.guard), partners)


@lru_cache(maxsize=16)
def _terms_by_kind(sensitivity: DateSensitivity) -> dict[str, list[tuple[AsOfTerm, tuple[_Context, ...]]]]:
    """By fact kind: each comparison once (the first of its terms), with the compiled context of
    every term making it (one a clause that compares the same field the same way)."""
    same: dict[tuple, list[AsOfTerm]] = {}
    for term in sorted(sensitivity.terms, key=repr):
        same.setdefault((term.kind, term.field, term.op, term.unit, term.amount), []).append(term)
    by_kind: dict[str, list] = {}
    for terms in same.values():
        by_kind.setdefault(terms[0].kind, []).append((terms[0], tuple(_context(t) for t in terms)))
    return by_kind


def _flips(facts: list[dict], sensitivity: DateSensitivity, start: dt.date, end: dt.date):
    """(fact, its terms' contexts, dates in (start, end]) of each comparison flipping for one of `facts`
    in the window (whether the flip matters: _may_matter)."""
    by_kind = _terms_by_kind(sensitivity)
    for fact in facts:
        for term, contexts in by_kind.get(fact["kind"], ()):
            value = fact.get(fact_key(term.field))
            if value is not None:
                flips = [d for d in flip_dates(term, value) if start < d <= end]
                if flips:
                    yield fact, contexts, flips


def _facts_of(facts: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for fact in facts:
        out.setdefault(fact["kind"], []).append(fact)
    return out


def _fact_change_dates(facts: list[dict], sensitivity: DateSensitivity, start: dt.date, end: dt.date) -> set[dt.date]:
    """The dates in (start, end] on which a `$as_of` comparison of the rules flips for one of
    `facts` where the flip may matter."""
    found, facts_of = set(), _facts_of(facts)
    for fact, contexts, flips in _flips(facts, sensitivity, start, end):
        if not found.issuperset(flips) and any(_may_matter(context, fact, facts_of) for context in contexts):
            found.update(flips)
    return found


def _may_matter(context: _Context, fact: dict, facts_of: dict[str, list[dict]]) -> bool:
    """Whether a term's flips on `fact` may change a result: the fact may pass the rest of its
    clause (the guard), each other binding of the check may find a fact beside it, and no
    absent clause certainly blocks it (as_of_terms.Partner)."""
    for test in context.guard:
        if judged(test, fact) is False:
            return False
    for kind, own, theirs, ours, blocks in context.partners:
        others = facts_of.get(kind, ())
        if blocks:
            if any(other["id"] != fact["id"] and _passes(own, theirs, ours, fact, other, certain=True)
                   for other in others):
                return False
        elif not any(_passes(own, theirs, ours, fact, other, certain=False) for other in others):
            return False
    return True


def _passes(own: tuple, theirs: tuple, ours: tuple, fact: dict, other: dict, certain: bool) -> bool:
    """Whether `other` certainly (`certain`) or possibly passes a partner's clause beside `fact`
    (its tests on itself, its tests reading `fact`, `fact`'s tests reading it)."""
    fail = None if certain else False      # certain: anything but True fails; else only False
    for tests, on, beside in ((own, other, None), (theirs, other, fact), (ours, fact, other)):
        for test in tests:
            found = judged(test, on, beside)
            if found is False or found is fail:
                return False
    return True


def steady_span(facts: list[dict], sensitivity: DateSensitivity, day: dt.date) -> tuple[dt.date, dt.date]:
    """(first, last): the dates around `day` on which a partition's result is its result on
    `day`, for a partition whose facts, as the engine judged it on `day` (derived values for
    day's year, shared records included), are `facts`. Bounded by day's calendar year, so
    year-dependent derived values (AS_OF_YEAR_DEPENDENT) cannot change inside it; within the
    year only a `$as_of` comparison flipping changes a result: the latest change date on or
    before `day` and the earliest after it (change_dates over the year, from the facts the
    engine already built rather than derived again). Whether a flip matters is asked only of
    one that would narrow the span found so far."""
    first, last = dt.date(day.year, 1, 1), dt.date(day.year, 12, 31)
    facts_of = _facts_of(facts)
    for fact, contexts, flips in _flips(facts, sensitivity, first, last):
        narrowing = [d for d in flips if first < d <= last]
        if narrowing and any(_may_matter(context, fact, facts_of) for context in contexts):
            first = max([first, *(d for d in narrowing if d <= day)])
            last = min([last, *(d - dt.timedelta(days=1) for d in narrowing if d > day)])
    return first, last
