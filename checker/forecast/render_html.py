"""The forecast as one self-contained offline HTML page in the report's style: summary cards,
a month-style calendar of the window (each day with what falls due on it), the agenda by week
(each item with its record, message and what to do by when) and the count per client.

Built with the report's Jinja2 templates (checker/report/templates/forecast.html.j2, its
macros and stylesheet) with autoescaping: client ids, messages and file names come from the
CB's records. The page runs no script and loads nothing; its Content-Security-Policy allows
exactly its own stylesheet.
"""
from __future__ import annotations

import datetime as dt
import re

from markupsafe import Markup

from checker.report.html import template
from checker.report.html_assets import CSS, csp_hash

CALENDAR_CSS = """
table.cal{border-collapse:collapse;width:100%;table-layout:fixed}
table.cal th{font-size:.78rem;text-transform:uppercase;letter-spacing:.05em;color:var(--muted);padding:4px}
table.cal td{vertical-align:top;border:1px solid var(--line);height:4.6rem;padding:3px 5px;background:#fff}
table.cal td.out{background:var(--soft);color:var(--waived)}
table.cal td.today{box-shadow:inset 0 0 0 2px var(--accent)}
table.cal .d{font-size:.78rem;font-weight:650;font-variant-numeric:tabular-nums}
table.cal ul{list-style:none;margin:2px 0 0;padding:0}
table.cal li a{display:block;font-size:.74rem;text-decoration:none;border-left:4px solid var(--line);padding:0 4px;
margin:1px 0;overflow:hidden;text-overflow:ellipsis;white-space:nowrap;background:var(--soft)}
table.cal li.sev-major a{border-left-color:var(--major)}table.cal li.sev-minor a{border-left-color:var(--minor)}
table.cal li.sev-observation a{border-left-color:var(--observation)}
ol.agenda{list-style:none;margin:0;padding:0}
ol.agenda>li{border:1px solid var(--line);border-left:5px solid var(--line);border-radius:6px;padding:6px 10px;margin:0 0 8px;background:#fff}
ol.agenda>li.sev-major{border-left-color:var(--major)}ol.agenda>li.sev-minor{border-left-color:var(--minor)}
ol.agenda>li.sev-observation{border-left-color:var(--observation)}
ol.agenda .f-head{display:flex;flex-wrap:wrap;gap:4px 10px;align-items:baseline}
ol.agenda .f-msg{margin:2px 0}
ol.agenda .act{margin:2px 0;font-weight:600}
ol.agenda .act span{font-weight:400}
@media print{table.cal td{height:auto}}
"""
STYLE = CSS + CALENDAR_CSS
CSP = ("default-src 'none'; style-src " + csp_hash(STYLE) + "; script-src 'none'; img-src data:; "
       "base-uri 'none'; form-action 'none'")
WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def _anchor(item: dict) -> str:
    """An element id for one due item: the fingerprint (hex) and a safe form of its client."""
    client = re.sub(r"[^A-Za-z0-9_.-]+", "-", item["client"] or "cb-wide")
    return f"due-{item['fingerprint']}-{client}"


def _calendar(forecast: dict, anchors: dict) -> list[list[dict]]:
    """Weeks (Monday first) from the week after --as-of to the week of the window's end, each
    day with the items due on it; days outside the window are marked out."""
    first, until = dt.date.fromisoformat(forecast["as_of"]) + dt.timedelta(days=1), dt.date.fromisoformat(forecast["until"])
    by_day: dict[str, list[dict]] = {}
    for item in forecast["due"]:
        by_day.setdefault(item["due_date"], []).append(item)
    day, weeks = first - dt.timedelta(days=first.weekday()), []
    while day <= until:
        week = []
        for _ in range(7):
            iso = day.isoformat()
            week.append({"date": iso, "label": day.strftime("%d %b") if day.day == 1 or not weeks and not week
                         else str(day.day), "out": not first <= day <= until,
                         "items": [(item, anchors[id(item)]) for item in by_day.get(iso, [])]})
            day += dt.timedelta(days=1)
        weeks.append(week)
    return weeks


def render_html(forecast: dict) -> str:
    anchors = {id(item): _anchor(item) for item in forecast["due"]}
    weeks = [{**week, "items": [(i, anchors[id(i)]) for i in forecast["due"] if i["week_start"] == week["week_start"]]}
             for week in forecast["weeks"]]
    context = {"f": forecast, "csp": CSP, "css": Markup(STYLE), "weekdays": WEEKDAYS,
               "calendar": _calendar(forecast, anchors), "weeks": weeks,
               "day_name": lambda iso: dt.date.fromisoformat(iso).strftime("%a %d %b %Y"),
               "header_facts": [("Input", forecast["input"]["path"]), ("From", forecast["as_of"]),
                                ("Until", forecast["until"]),
                                ("Tool", f"{forecast['tool']['name']} {forecast['tool']['version']}"),
                                ("Clients", forecast["input"]["clients"]),
                                ("Format", forecast["forecast_format"])]}
    return template("forecast.html.j2").render(context)
