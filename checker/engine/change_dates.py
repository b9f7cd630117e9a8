"""The dates on which a partition's result can change, from its facts and the catalog.

A rule reads the run's date only in `FIELD OP $as_of + OFFSET` conditions and, through derive,
in values that depend on the date's year (checker.derive.AS_OF_YEAR_DEPENDENT). For one fact,
such a condition holds on one side of the day the date crosses FIELD - OFFSET and fails on the
other, so the truth of every condition, and with it every finding, is constant between the
days computed here. A fact that fails a condition of the same clause reading only that fact
(the term's guard: a record of another type or status, say) never fills the clause on any
date, so its flips are left out. Evaluating a partition on each of them (forecast), or keeping its result
for date D while change_dates(.., D, E) is empty (a cache), is therefore exact.

Offsets in months move the date in the engine's month slots (checker.dates): `FIELD <
$as_of + months(6)` on 2026-08-31 first holds on the first date whose slot passes 2026-02-31,
which is 2026-03-01.
"""
from __future__ import annotations

import calendar
import datetime as dt

from checker.catalog.as_of_terms import AsOfTerm, DateSensitivity, Partner
from checker.dates import day_number, month_slot
from checker.derive import AS_OF_YEAR_DEPENDENT, derive
from checker.engine.fact_truth import truth
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


def _fact_change_dates(facts: list[dict], sensitivity: DateSensitivity, start: dt.date, end: dt.date) -> set[dt.date]:
    """The dates in (start, end] on which a `$as_of` comparison of the rules flips for one of
    `facts`."""
    by_kind: dict[str, list[AsOfTerm]] = {}
    for term in sensitivity.terms:
        by_kind.setdefault(term.kind, []).append(term)
    facts_of: dict[str, list[dict]] = {}
    for fact in facts:
        facts_of.setdefault(fact["kind"], []).append(fact)
    found = set()
    for fact in facts:
        for term in by_kind.get(fact["kind"], ()):
            value = fact.get(fact_key(term.field))
            flips = [d for d in flip_dates(term, value) if start < d <= end] if value is not None else ()
            if flips and not found.issuperset(flips) and _may_matter(term, fact, facts_of):
                found.update(flips)
    return found


def _may_matter(term: AsOfTerm, fact: dict, facts_of: dict[str, list[dict]]) -> bool:
    """Whether `term`'s flips on `fact` may change a result: the fact may pass the rest of its
    clause (the guard), each other binding of the check may find a fact beside it, and no
    absent clause certainly blocks it (as_of_terms.Partner)."""
    if any(truth(cond, term.kind, fact) is False for cond in term.guard):
        return False
    return all(_partnered(partner, term.kind, fact, facts_of.get(partner.kind, ())) for partner in term.partners)


def _partnered(partner: Partner, kind: str, fact: dict, others: list[dict]) -> bool:
    """Whether `partner` leaves `fact` something to do: a blocker none of `others` certainly
    fills; another clause one of `others` may fill beside it."""
    if partner.blocks:
        return not any(other["id"] != fact["id"] and _passes(partner, kind, fact, other, certain=True)
                       for other in others)
    return any(_passes(partner, kind, fact, other, certain=False) for other in others)


def _passes(partner: Partner, kind: str, fact: dict, other: dict, certain: bool) -> bool:
    """Whether `other` certainly (`certain`) or possibly passes the partner's clause beside `fact`."""
    verdicts = ([truth(c, partner.kind, other) for c in partner.own]
                + [truth(c, partner.kind, other, fact) for c in partner.theirs]
                + [truth(c, kind, fact, other) for c in partner.ours])
    return all(v is True for v in verdicts) if certain else False not in verdicts


def steady_span(facts: list[dict], sensitivity: DateSensitivity, day: dt.date) -> tuple[dt.date, dt.date]:
    """(first, last): the dates around `day` on which a partition's result is its result on
    `day`, for a partition whose facts, as the engine judged it on `day` (derived values for
    day's year, shared records included), are `facts`. Bounded by day's calendar year, so
    year-dependent derived values (AS_OF_YEAR_DEPENDENT) cannot change inside it; within the
    year only a `$as_of` comparison flipping changes a result (change_dates over the year,
    from the facts the engine already built rather than derived again)."""
    first, last = dt.date(day.year, 1, 1), dt.date(day.year, 12, 31)
    dates = _fact_change_dates(facts, sensitivity, first, last)
    since = [d for d in dates if d <= day]
    after = [d for d in dates if d > day]
    return (max(since, default=first), min(after) - dt.timedelta(days=1) if after else last)
