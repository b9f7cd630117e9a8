"""The certification cycle's surveillance years, one model for the rules and the prescreen.

ISO/IEC 17021-1 9.1.3.3 asks for a surveillance audit at least once each calendar year of
validity, the recertification audit standing for it in its own year. The years that need one
are those strictly between the year a certification starts and the year its validity ends
(the partial first and last years belong to the initial and recertification audits), and
that ended before --as-of and before any withdrawal. CYC003 and CRT015 read them as the
derived kind `certified_year`; the prescreen's completeness view lists each such year of a
cycle's certificates with no surveillance or recertification audit (not cancelled) started in
it, which is what CYC003's `absent` clauses say in the check language.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from checker.dates import date_or_none
from checker.derive.model import DerivedKind, Records
from checker.records.schema_registry import FieldInfo

YEAR_AUDITS = ("surveillance", "recertification")


def add_years(day: dt.date, years: int) -> dt.date:
    """The first day on or after the same day `years` later: 29 February in a year without one
    becomes 1 March. This is how the check language reads `D + years(n)` (the missing day sorts
    after 28 February and before 1 March), so a cycle ends on the same day for both."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return dt.date(day.year + years, 3, 1)


def surveillance_years(first_day: dt.date, last_day: dt.date, stop_years: Iterable[int]) -> list[int]:
    """Calendar years strictly between the years of `first_day` and `last_day` of validity that
    ended before every year in `stop_years` (the --as-of year, the years of withdrawals)."""
    last = min([last_day.year - 1, *(year - 1 for year in stop_years)])
    return list(range(first_day.year + 1, last + 1))


def audited_years(audits: Iterable[dict]) -> set[int]:
    """Years in which a surveillance or recertification audit, not cancelled, started."""
    return {day.year for a in audits for day in (date_or_none(a.get("start_date")),)
            if day and a.get("audit_type") in YEAR_AUDITS and a.get("status") != "cancelled"}


def certified_years(certificates: Iterable[dict], decisions: Iterable[dict], as_of_year: int) -> list[tuple[dict, int]]:
    """(certificate, year) for every surveillance year of each certificate with an effective and
    an expiry date, stopped by --as-of and by a withdrawal decision naming the certificate, or
    naming none (the client's certification withdrawn as a whole)."""
    withdrawn: dict[str, list[int]] = {}
    withdrawn_whole: dict[str, list[int]] = {}
    for dec in decisions:
        day = date_or_none(dec.get("date"))
        if dec.get("decision_type") != "withdraw" or not day:
            continue
        if isinstance(dec.get("certificate"), str):
            withdrawn.setdefault(dec["certificate"], []).append(day.year)
        elif isinstance(dec.get("client"), str):
            withdrawn_whole.setdefault(dec["client"], []).append(day.year)
    out = []
    for cert in certificates:
        first, last = date_or_none(cert.get("effective_date")), date_or_none(cert.get("expiry_date"))
        if first and last:
            stops = [as_of_year, *withdrawn.get(cert["id"], []), *withdrawn_whole.get(cert.get("client"), [])]
            out += [(cert, year) for year in surveillance_years(first, last, stops)]
    return out


def _certified_years(records: Records) -> list[dict]:
    return [{"id": f"{cert['id']}#year#{year}", "type": "certified_year", "_source": cert["id"],
             "year": year, "certificate": cert["id"], "client": cert["client"]}
            for cert, year in certified_years(records.of_type("certificate"), records.of_type("decision"),
                                              records.as_of_year)]


CERTIFIED_YEAR = DerivedKind(
    "certified_year", "certificate", "client",
    {"year": FieldInfo("integer"), "certificate": FieldInfo("string", ref="certificate"),
     "client": FieldInfo("string", ref="client")},
    "one per certificate and calendar year strictly between the years of its effective and expiry dates, "
    "before the year of --as-of and before the year of a withdrawal of that certificate, or of the client's "
    "certification as a whole (a withdrawal naming no certificate)", (), _certified_years, as_of="year")
