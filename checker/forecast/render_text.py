"""The forecast as plain text (a terminal, an e-mail) and as JSON (the contract, see
forecast.schema.json): by week, each item with the day it falls due, the rule, client,
record, file:line and what to do by when; then the count per client."""
from __future__ import annotations

import datetime as dt
import json

from checker.plain_text import shown, wrap
from checker.report.text import error_lines
from checker.report.views import location, standard_short


def render_json(forecast: dict) -> str:
    return json.dumps(forecast, indent=2, ensure_ascii=False) + "\n"


def _day(iso: str) -> str:
    return dt.date.fromisoformat(iso).strftime("%a %Y-%m-%d")


def _severities(counts: dict) -> str:
    return ", ".join(f"{n} {k}" for k, n in counts.items())


def _header(forecast: dict) -> list[str]:
    inp, ev, s = forecast["input"], forecast["evaluation"], forecast["summary"]
    return [f"cbcheck {forecast['tool']['version']} - forecast: what falls due in the next {forecast['days']} days "
            "if nothing is done",
            f"From {forecast['as_of']} (its findings are not listed) up to and including {forecast['until']}",
            f"Input {shown(inp['path'])}: {inp['records']} records, {inp['clients']} clients",
            f"Falling due: {s['due']} ({_severities(s['by_severity'])}). Findings that time ends are not listed.",
            wrap(f"Evaluated {ev['partitions']} partitions on {forecast['as_of']}, then {ev['partition_evaluations']} "
                 f"again on their own change dates ({ev['change_dates']} days).", ""), ""]


def _errors(forecast: dict) -> list[str]:
    if not forecast["errors"]:
        return []
    out = error_lines(forecast["errors"], "the forecast is incomplete; fix these first:")
    skipped = forecast["evaluation"]["not_evaluated"]
    if skipped:
        names = ", ".join(f"{shown(p['partition'])} ({p['why']})" for p in skipped)
        out.append(wrap(f"Not evaluated on any day: {names}.", "  "))
    return out + [""]


def _item(item: dict) -> list[str]:
    # Names from the records are shown with control characters escaped: a terminal must not
    # act on them.
    who = f"client {shown(item['client'])}" if item["client"] else "CB-wide"
    return [f"  {_day(item['due_date'])} (in {item['days_from_as_of']} days)  {item['severity'].upper()}  "
            f"{item['rule_id']}  {standard_short(item['standard'])} {item['clause']}  {item['title']}",
            f"    {who}: {item['record_type']} {shown(item['record_id'])}  {shown(location(item))} "
            f"{shown(item['pointer'] or '/')}",
            wrap(item["message"], "    "),
            wrap(f"Act by {item['act_by']}: {item['remediation']}", "    ")]


def _weeks(forecast: dict) -> list[str]:
    if not forecast["due"]:
        if forecast["errors"]:
            return ["Nothing found falling due, but the errors above stopped part of the evaluation: "
                    "this is not a clean result.", ""]
        return [f"Nothing falls due by {forecast['until']}.", ""]
    out = []
    for week in forecast["weeks"]:
        out.append(f"WEEK {_day(week['week_start'])} - {_day(week['week_end'])}: {week['count']} "
                   f"({_severities(week['by_severity'])})")
        for item in forecast["due"]:
            if item["week_start"] == week["week_start"]:
                out += _item(item)
        out.append("")
    return out


def _clients(forecast: dict) -> list[str]:
    if not forecast["clients"]:
        return []
    out = ["PER CLIENT"]
    width = max(len(shown(c["client"] or "CB-wide")) for c in forecast["clients"])
    for c in forecast["clients"]:
        out.append(f"  {shown(c['client'] or 'CB-wide'):<{width}}  {c['count']} ({_severities(c['by_severity'])}), "
                   f"first due {c['first_due']}")
    return out + [""]


def render_text(forecast: dict) -> str:
    return "\n".join(_header(forecast) + _errors(forecast) + _weeks(forecast) + _clients(forecast))
