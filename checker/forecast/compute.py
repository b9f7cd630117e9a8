"""The forecast model: evaluates each partition with the engine (the evaluator of record) on
--as-of and then only on its change dates in the window, and lists every finding the first
day it is there and was not on --as-of. Findings that time ends (a deadline met by a record
dated in the future, say) are not listed: the forecast says what will appear.

On a change date only the rules that read the date are evaluated (date_dependent): the others
give every day what they gave on --as-of, so none of their findings can be new. That is the
premise the change dates rest on (checker.engine.change_dates); the brute-force tests check
the forecast against the whole catalog evaluated on every day.
"""
from __future__ import annotations

import datetime as dt

from checker import __version__
from checker.catalog.as_of_terms import date_sensitivity
from checker.clauses import clause_sort_key
from checker.derive import AS_OF_YEAR_DEPENDENT, derive_cb_wide
from checker.engine.change_dates import change_dates
from checker.engine.evaluate import evaluate
from checker.engine.partition import CB_PARTITION, RULE_SCOPES, build_partitions
from checker.importers.database_url import shown_source
from checker.pipeline import LoadedInput, judged_rules, load_input, withheld_records

FORECAST_FORMAT = "cbcheck-forecast/1"
SEVERITY_RANK = {"major": 0, "minor": 1, "observation": 2}
ITEM_FIELDS = ("rule_id", "standard", "clause", "severity", "title", "client", "record_id", "record_type",
               "file", "line", "pointer", "message", "remediation", "fingerprint")


def partition_change_dates(loaded: LoadedInput, rules, params: dict, start: dt.date, end: dt.date,
                           skipped: set[str] = frozenset()) -> dict[dt.date, set[str]]:
    """{change date in (start, end]: the partitions (sids) whose result may change on it}, for
    the partitions not `skipped` (withheld ones hold records with errors: their dates are not read)."""
    index = loaded.index
    cb_wide = derive_cb_wide([r.data for r in index.by_id.values()], params) if CB_PARTITION not in skipped else []
    sensitivity = {scope: date_sensitivity(rules, scopes) for scope, scopes in RULE_SCOPES.items()}
    by_date: dict[dt.date, set[str]] = {}
    for part in build_partitions(index):
        if part.sid in skipped:
            continue
        records = [index.by_id[rid].data for rid in part.record_ids] + (cb_wide if part.sid == CB_PARTITION else [])
        for day in change_dates(records, sensitivity[part.scope], params, start, end):
            by_date.setdefault(day, set()).add(part.sid)
    return by_date


def date_dependent(rules) -> list:
    """The rules whose result can differ from one date to another: those comparing a field
    with `$as_of` or binding a derived kind that depends on the date's year. Exactly what
    partition_change_dates reads, so a date it finds no change on is a date these rules
    cannot change on either."""
    def reads_the_date(rule) -> bool:
        sensitivity = date_sensitivity([rule], (rule.scope,))
        return bool(sensitivity.terms or sensitivity.kinds & AS_OF_YEAR_DEPENDENT)
    return [rule for rule in rules if reads_the_date(rule)]


def _item(finding: dict, due: dt.date, as_of: dt.date) -> dict:
    week_start = due - dt.timedelta(days=due.weekday())
    return {"due_date": due.isoformat(), "act_by": (due - dt.timedelta(days=1)).isoformat(),
            "days_from_as_of": (due - as_of).days, "week_start": week_start.isoformat(),
            **{k: finding[k] for k in ITEM_FIELDS}}


def item_sort_key(item: dict):
    return (item["due_date"], SEVERITY_RANK[item["severity"]], item["standard"], clause_sort_key(item["clause"]),
            item["rule_id"], item["client"] or "", item["file"], item["line"] or 0, item["pointer"],
            item["fingerprint"])


def due_findings(loaded: LoadedInput, rules, params: dict, as_of: dt.date, days: int, jobs: int = 1,
                 withheld: set[str] = frozenset()) -> tuple[list[dict], list[dict], dict]:
    """(due items, errors, counts): each finding absent on `as_of` at the first date within
    `days` days on which the engine finds it. A partition holding a `withheld` record (input
    errors) is evaluated on no day."""
    base = evaluate(loaded.index, rules, params, as_of, jobs, withheld=withheld)
    errors = [p.as_dict() for p in base.partition_errors]
    seen = {(f["fingerprint"], f["client"]) for f in base.findings}
    # A partition withheld or failed on --as-of has no known starting point: every finding it
    # had later would look new. It is left out (its error says so), never guessed.
    skipped = {sid for sid, _scope, _why in base.unjudged}
    by_date = partition_change_dates(loaded, rules, params, as_of, as_of + dt.timedelta(days=days), skipped)
    items, evaluated, dated = [], 0, date_dependent(rules)
    for day in sorted(by_date):
        result = evaluate(loaded.index, dated, params, day, jobs, withheld=withheld, only_partitions=by_date[day])
        evaluated += result.partitions
        errors += [{**p.as_dict(), "message": f"on {day.isoformat()}: {p.message}"} for p in result.partition_errors]
        for finding in result.findings:
            key = (finding["fingerprint"], finding["client"])
            if key not in seen:
                seen.add(key)
                items.append(_item(finding, day, as_of))
    counts = {"partitions": base.partitions, "change_dates": len(by_date), "partition_evaluations": evaluated,
              "not_evaluated": [{"partition": sid, "why": why} for sid, _scope, why in sorted(base.unjudged)]}
    return sorted(items, key=item_sort_key), errors, counts


def _weeks(items: list[dict]) -> list[dict]:
    weeks: dict[str, list[dict]] = {}
    for item in items:
        weeks.setdefault(item["week_start"], []).append(item)
    return [{"week_start": start, "week_end": (dt.date.fromisoformat(start) + dt.timedelta(days=6)).isoformat(),
             "count": len(mine), "by_severity": _severities(mine)} for start, mine in sorted(weeks.items())]


def _clients(items: list[dict]) -> list[dict]:
    clients: dict[str | None, list[dict]] = {}
    for item in items:
        clients.setdefault(item["client"], []).append(item)
    return [{"client": client, "count": len(mine), "first_due": min(i["due_date"] for i in mine),
             "by_severity": _severities(mine)}
            for client, mine in sorted(clients.items(), key=lambda kv: (kv[0] is None, kv[0] or ""))]


def _severities(items: list[dict]) -> dict[str, int]:
    return {s: sum(1 for i in items if i["severity"] == s) for s in SEVERITY_RANK}


def build_forecast(path, rules, params, as_of: dt.date, days: int, jobs: int = 1, mapping=None,
                   loaded: LoadedInput | None = None, certsearch=None) -> dict:
    """The forecast model (documented by forecast.schema.json) for the records under `path`.
    As in `check`, input errors withhold only the partitions of the records they concern
    (nothing is evaluated when one concerns no known record). `certsearch`: the CertSearch
    options (--status-map, --ignore-column) for a CertSearch workbook."""
    loaded = loaded or load_input(path, mapping, certsearch)
    errors = [p.as_dict() for p in loaded.problems]
    items, counts = [], {"partitions": 0, "change_dates": 0, "partition_evaluations": 0, "not_evaluated": []}
    withheld = withheld_records(loaded)
    if withheld is not None:
        items, engine_errors, counts = due_findings(loaded, judged_rules(rules, params, loaded), params.values(),
                                                    as_of, days, jobs, withheld)
        errors += engine_errors
    return {
        "forecast_format": FORECAST_FORMAT,
        "tool": {"name": "cbcheck", "version": __version__},
        "as_of": as_of.isoformat(), "days": days, "until": (as_of + dt.timedelta(days=days)).isoformat(),
        "input": {"path": shown_source(path), "records": len(loaded.read.records),
                  "clients": sum(1 for r in loaded.read.records if r.type == "client")},
        "evaluation": counts,
        "summary": {"due": len(items), "by_severity": _severities(items), "errors": len(errors)},
        "errors": errors,
        "weeks": _weeks(items),
        "clients": _clients(items),
        "due": items,
    }
