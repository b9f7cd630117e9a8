"""Date numbers the engine compares, computed before assertion (durable_rules has no dates).

`day_number` is the proleptic ordinal (days add and subtract exactly). `month_slot` numbers
every month with 31 slots, so adding n calendar months is adding 31·n, and a day that does
not exist in the target month (31 February) falls after that month's last day and before
the next month's first, which is the documented meaning of `date + months(n)`.
"""
from __future__ import annotations

import datetime as _dt


def parse_date(text: str) -> _dt.date:
    return _dt.date.fromisoformat(text)


def date_or_none(value) -> _dt.date | None:
    """A record's date value as a date, or None for a value that is not one (derived values and
    the prescreen read records that may not have been validated)."""
    try:
        return parse_date(value) if isinstance(value, str) else None
    except ValueError:
        return None


def day_number(text: str) -> int:
    return parse_date(text).toordinal()


def _slot(d: _dt.date) -> int:
    return (d.year * 12 + d.month - 1) * 31 + (d.day - 1)


def month_slot(text: str) -> int:
    return _slot(parse_date(text))


def date_numbers(text: str) -> tuple[int, int, int]:
    """(day_number, month_slot, year) of a date, parsed once: the three numbers a date field
    of a fact carries (checker.engine.facts)."""
    d = parse_date(text)
    return d.toordinal(), _slot(d), d.year


def iso_date(value) -> str | None:
    """A record's date value as YYYY-MM-DD, or None when it is not a valid date (validation
    reports those; a picture drawn from the records just leaves it out)."""
    text = value.isoformat() if isinstance(value, _dt.date) else value
    if not isinstance(text, str):
        return None
    try:
        return parse_date(text).isoformat()
    except ValueError:
        return None
