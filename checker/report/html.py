"""Self-contained HTML rendering of the report model, for a CB quality manager's internal
audit: one file that opens offline from disk and prints.

The page is built from Jinja2 templates (`templates/`, one per part of the page) with
autoescaping on: every string taken from the report is escaped unless the renderer marked it
safe itself, and only its own markup is (the stylesheet, the script and the SVG charts, which
escape their labels). Finding messages, client ids and file names come from the CB's records,
which nobody vouches for. The page loads nothing: styles and script are inline and pinned by
hash in its Content-Security-Policy.

Reads only the report dict (and an optional history of earlier runs, see
views.normalise_history). This module gathers what the templates show (groupings from views,
element ids, chart markup); the templates only lay it out.
"""
from __future__ import annotations

import re
from functools import lru_cache

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup, escape

from checker.report import views
from checker.report.html_assets import CSP, CSS, JS
from checker.report.svg_charts import bar_chart, line_chart
from checker.report.svg_timeline import timeline

SEVERITY_SERIES = [("major", "Major"), ("minor", "Minor"), ("observation", "Observation")]
HISTORY_SERIES = [("findings", "All findings")] + SEVERITY_SERIES
# The competence matrix's columns within a standard, in the order the work happens.
FUNCTION_LABEL = {"application_review": "Application review", "audit": "Auditor", "audit_team_leader": "Team leader",
                  "technical_expert": "Technical expert", "certification_decision": "Decision"}
REASON_LABEL = {"not_assessed": "Why not assessed", "not_applicable": "Why not applicable", "error": "What failed",
                "nonconforming": "Not assessed in full"}


class _Anchors:
    """Element ids from untrusted names: safe characters only, unique, stable for a report."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def make(self, prefix: str, raw: str) -> str:
        base = prefix + (re.sub(r"[^A-Za-z0-9_.-]+", "-", raw).strip("-") or "x")
        anchor, n = base, 1
        while anchor in self.used:
            n += 1
            anchor = f"{base}-{n}"
        self.used.add(anchor)
        return anchor


def _break_underscores(name) -> Markup:
    """Long snake_case names may break after an underscore, never inside a word."""
    return Markup("_<wbr>").join(escape(str(name)).split("_"))


@lru_cache(maxsize=1)
def _environment() -> Environment:
    env = Environment(loader=PackageLoader("checker.report", "templates"), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters.update(location=views.location, standard_short=views.standard_short, scalar=views.scalar_text,
                       basis=views.basis_text,
                       table_columns=views.table_columns, display_status=views.display_status,
                       break_underscores=_break_underscores)
    env.tests.update(table=views.is_table, waived=views.is_waived)
    env.globals.update(status_label=views.STATUS_LABEL, display_statuses=views.DISPLAY_STATUSES,
                       reason_label=REASON_LABEL, severity_series=SEVERITY_SERIES,
                       function_label=FUNCTION_LABEL)
    return env


def template(name: str):
    """A template of the report's environment (its filters, tests and macros), for other pages
    in the report's style (the forecast's calendar)."""
    return _environment().get_template(name)


def _clause_chart(report: dict, waived: int) -> dict | None:
    rows = views.clause_finding_counts(report)
    if not rows:
        return None
    series = SEVERITY_SERIES + ([("waived", "Waived")] if waived else [])
    labelled = [(f"{views.standard_short(std)} {clause}", counts) for std, clause, counts in rows]
    svg = bar_chart(labelled, series, title="Findings per clause",
                    desc="Number of findings per clause, stacked by severity.", label_id="chart-clauses")
    return {"svg": Markup(svg), "head": ["Clause"] + [n for _, n in series] + ["Total"],
            "rows": [[lbl] + [c.get(k, 0) for k, _ in series] + [sum(c.values())] for lbl, c in labelled]}


def _history_chart(runs: list[dict] | None) -> dict | None:
    if runs is None:
        return None
    svg = line_chart(runs, HISTORY_SERIES, title="Findings over time",
                     desc="Findings per run by as-of date, in total and by severity.", label_id="chart-history")
    return {"svg": Markup(svg), "runs": runs, "head": ["As of"] + [n for _, n in HISTORY_SERIES],
            "rows": [[r["as_of"]] + [r.get(k, "") for k, _ in HISTORY_SERIES] for r in runs]}


def _client_groups(report: dict, anchors: _Anchors) -> list[dict]:
    """Findings by client, each finding row with its element id (the timelines link to it)."""
    return [{"client": client, "anchor": anchors.make("client-", client if client is not None else "cb-wide"),
             "findings": found, "severity": views.severity_counts(found),
             "rows": [(f, anchors.make("finding-", f["fingerprint"])) for f in found],
             "waived": sum(1 for f in found if views.is_waived(f))}
            for client, found in views.clients(report)]


def _finding_rows(client_groups: list[dict]) -> dict[str, str]:
    """fingerprint -> element id of the finding's row under Findings by client."""
    finding_href: dict[str, str] = {}
    for group in client_groups:
        for f, anchor in group["rows"]:
            finding_href.setdefault(f["fingerprint"], anchor)
    return finding_href


def _timelines(report: dict, finding_href: dict[str, str], anchors: _Anchors, forecast: dict | None) -> list[dict]:
    """Each client's cycle drawn (model `timelines`, present when the run asked for them), with
    what falls due for the client when a forecast of the same run is given."""
    due_by_client: dict[str, list[dict]] = {}
    for item in (forecast or {}).get("due", []):
        due_by_client.setdefault(item["client"], []).append(item)
    drawn = []
    for cycle in report.get("timelines") or []:
        anchor = anchors.make("cycle-", cycle["client"])
        due = due_by_client.get(cycle["client"], [])
        svg = timeline(cycle, report["as_of"], finding_href, label_id=anchor + "-chart", due=due)
        if svg is not None:
            drawn.append({"client": cycle["client"], "anchor": anchor, "svg": Markup(svg),
                          "findings": len(cycle["findings"]), "undated": cycle["undated"], "due": len(due)})
    return drawn


def _competence_matrix(report: dict, finding_href: dict[str, str]) -> dict | None:
    """People against (standard, function) columns; a cell lists the technical areas and
    evaluation dates of that competence. None when the model has no `competence`."""
    people = report.get("competence")
    if not people:
        return None
    order = {f: i for i, f in enumerate(FUNCTION_LABEL)}
    columns = sorted({(c["standard"], c["function"]) for p in people for c in p["competences"]},
                     key=lambda col: (col[0], order.get(col[1], len(order)), col[1]))
    rows = [{"person": p["person"], "name": p["name"], "observed": p["observed"],
             "cells": [[c for c in p["competences"] if (c["standard"], c["function"]) == col] for col in columns],
             "gaps": [(g, finding_href.get(g["fingerprint"])) for g in p["gaps"]]}
            for p in people]
    return {"columns": columns, "rows": rows}


def _listing(report: dict, structure: str | None, req_anchor: dict[str, str], anchors: _Anchors) -> list:
    """views.clause_tree with each entry's element id: the listing under the requirement's own
    clause holds its anchor; a further listing (under a clause it also evidences, or a second
    place in `structure`) gets one of its own and is marked `again`."""
    listed: set[str] = set()
    tree = []
    for standard, groups in views.clause_tree(report, structure):
        out_groups = []
        for head, reqs in groups:
            entries = []
            for r in reqs:
                again = bool(r.get("cited_at")) or r["id"] in listed
                if not again:
                    listed.add(r["id"])
                entries.append((r, anchors.make("req-", r["id"]) if again else req_anchor[r["id"]], again))
            out_groups.append((head, entries))
        tree.append((standard, out_groups))
    return tree


def _structure_tables(report: dict) -> list[dict]:
    """The clause-by-clause table of each structure the requirements are placed in."""
    tables = []
    for standard in views.structures(report):
        rows = views.structure_summary(report, standard)
        tables.append({"standard": standard, "anchor": "structure-" + views.standard_short(standard), "rows": rows,
                       "statuses": [s for s in views.DISPLAY_STATUSES if any(r["status"][s] for r in rows)]})
    return tables


def _nav(report: dict) -> list[tuple[str, str]]:
    return ([("summary", "Summary")] + ([("errors", "Input errors")] if report["errors"] else [])
            + [("overview", "Charts"), ("requirements", "Requirements")]
            + [("structure-" + views.standard_short(s), views.standard_short(s) + " clauses")
               for s in views.structures(report)]
            + [("clients", "Clients")] + ([("cycles", "Cycles")] if report.get("timelines") else [])
            + ([("competence", "Competence")] if report.get("competence") else [])
            + [("manual", "Manual checklist")]
            + ([("not-applicable", "Not applicable")] if report["not_applicable"] else [])
            + [("parameters", "Parameters"), ("input", "Input")])


def _context(report: dict, runs: list[dict] | None, structure: str | None, forecast: dict | None) -> dict:
    anchors = _Anchors()
    req_anchor = {r["id"]: anchors.make("req-", r["id"]) for r in report["requirements"]}
    for standard in views.structures(report):
        anchors.make("structure-", views.standard_short(standard))
    client_groups = _client_groups(report, anchors)
    finding_href = _finding_rows(client_groups)
    inp, waived = report["input"], views.waived_count(report)
    return {
        "report": report, "csp": CSP, "css": Markup(CSS), "js": Markup(JS), "nav": _nav(report),
        "standards": list(dict.fromkeys(r["standard"] for r in report["requirements"])),
        "header_facts": [("Input", inp["path"]), ("As of", report["as_of"]),
                         ("Tool", f"{report['tool']['name']} {report['tool']['version']}"),
                         ("Records", f"{inp['records']} in {inp['files_read']} file" + ("" if inp["files_read"] == 1 else "s")),
                         ("Clients", inp["clients"]), ("Report format", report["report_format"])],
        "errors_headline": views.errors_headline(report), "waived": waived,
        "majors": [(r, f) for group, rows in views.findings_first(report) if group == "major"
                   for r, found in rows for f in found],
        # First screen: the clients with the most major findings first, then the most findings.
        "clients_first": sorted(client_groups, key=lambda c: (-c["severity"]["major"], -len(c["findings"]),
                                                              c["client"] is None, c["client"] or "")),
        "client_groups": client_groups, "clients_named": sum(1 for c in client_groups if c["client"] is not None),
        "status_counts": views.display_status_counts(report), "clause_chart": _clause_chart(report, waived),
        "history_chart": _history_chart(runs), "clause_tree": _listing(report, structure, req_anchor, anchors),
        "structure": structure, "structure_tables": _structure_tables(report),
        "findings_by_rule": views.findings_by_rule(report), "req_anchor": req_anchor,
        "manual": views.manual_requirements(report), "timelines": _timelines(report, finding_href, anchors, forecast),
        "competence": _competence_matrix(report, finding_href),
    }


def render(report: dict, history: dict | None = None, structure: str | None = None,
           forecast: dict | None = None) -> str:
    """The report as one offline HTML page. `history`, if given, is
    {"runs": [{"as_of": "YYYY-MM-DD", "findings": n, "major": n, "minor": n, "observation": n}, ...]}
    (see views.normalise_history; views.history_run(report) makes one run) and adds a
    findings-over-time chart; a malformed history raises ValueError. `structure`
    (ISO/IEC 20000-6:2017) lists the requirements in that standard's structure. `forecast`, if
    given, is a forecast of the same run (checker/forecast/forecast.schema.json): the first
    screen then lists what falls due in its window."""
    runs = views.normalise_history(history, report) if history is not None else None
    context = _context(report, runs, structure, forecast)
    context["forecast"] = forecast
    return _environment().get_template("report.html.j2").render(context)
