"""Self-contained HTML rendering of the report model, for a CB quality manager's internal
audit: one file that opens offline from disk and prints.

Reads only the report dict (and an optional history of earlier runs, see
views.normalise_history). Every string taken from the report is escaped: finding messages,
client ids and file names come from the CB's records, which nobody vouches for. The page
loads nothing: styles and script are inline and pinned by hash in its Content-Security-Policy.
"""
from __future__ import annotations

import re
from html import escape

from checker.report import views
from checker.report.html_assets import CSP, CSS, JS
from checker.report.svg_charts import bar_chart, line_chart

SEVERITY_SERIES = [("major", "Major"), ("minor", "Minor"), ("observation", "Observation")]
HISTORY_SERIES = [("findings", "All findings")] + SEVERITY_SERIES
REASON_LABEL = {"not_assessed": "Why not assessed", "not_applicable": "Why not applicable", "error": "What failed"}


def e(value) -> str:
    return escape(str(value), quote=True)


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


def _badge(status: str) -> str:
    return f'<span class="badge b-{status}">{e(views.STATUS_LABEL[status])}</span>'


def _sev(severity: str, quiet: bool = False) -> str:
    return f'<span class="sev sev-{e(severity)}{" quiet" if quiet else ""}">{e(severity)}</span>'


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _header(report: dict) -> str:
    inp = report["input"]
    standards = list(dict.fromkeys(r["standard"] for r in report["requirements"]))
    facts = [("Input", inp["path"]), ("As of", report["as_of"]),
             ("Tool", f"{report['tool']['name']} {report['tool']['version']}"),
             ("Records", f"{inp['records']} in {_plural(inp['files_read'], 'file')}"),
             ("Clients", inp["clients"]), ("Report format", report["report_format"])]
    return ('<header class="top"><div class="wrap"><h1>Conformance gap report</h1>'
            f'<p class="sub">Certification body records checked against {e(" + ".join(standards))}</p><dl>'
            + "".join(f"<div><dt>{e(k)}</dt><dd>{e(v)}</dd></div>" for k, v in facts)
            + "</dl></div></header>")


def _nav(report: dict) -> str:
    links = [("summary", "Summary")] + ([("errors", "Input errors")] if report["errors"] else []) + [
        ("overview", "Charts"), ("requirements", "Requirements"), ("clients", "Clients"), ("manual", "Manual checklist")] + (
        [("not-applicable", "Not applicable")] if report["not_applicable"] else []) + [
        ("parameters", "Parameters"), ("input", "Input")]
    return ('<nav class="toc" aria-label="Report sections"><ul>'
            + "".join(f'<li><a href="#{a}">{e(t)}</a></li>' for a, t in links) + "</ul></nav>")


def _card(n, label: str, cls: str) -> str:
    return f'<div class="card {cls}"><div class="n">{e(n)}</div><div class="l">{e(label)}</div></div>'


def _errors_alert(report: dict) -> str:
    if not report["errors"]:
        return ""
    kinds = {x["kind"] for x in report["errors"]}
    what = ("The input has errors, so nothing was evaluated: every automated requirement is "
            "not assessed until they are fixed." if "input" in kinds else
            "Evaluation failed for some partitions; requirements judged there show as error.")
    return (f'<div class="alert" role="alert"><strong>{_plural(len(report["errors"]), "error")} - fix these first'
            f'</strong>{e(what)} <a href="#errors">See the list</a>.</div>')


def _chart_data_table(caption: str, head: list[str], rows: list[list]) -> str:
    return (f'<details class="sub"><summary>{e(caption)}</summary><div class="tablewrap"><table>'
            "<thead><tr>" + "".join(f'<th scope="col"{" class=num" if i else ""}>{e(h)}</th>'
                                    for i, h in enumerate(head)) + "</tr></thead><tbody>"
            + "".join("<tr>" + "".join(f'<td{" class=num" if i else ""}>{e(c)}</td>' for i, c in enumerate(r))
                      + "</tr>" for r in rows)
            + "</tbody></table></div></details>")


def _summary(report: dict, req_anchor: dict[str, str], client_anchor: dict) -> str:
    """The first screen: the finding counts, every open major finding and the clients with
    findings, so what needs acting on is visible before any scrolling."""
    s = report["summary"]
    waived = views.waived_count(report)
    finding_cards = (_card(s["findings"], "Findings", "total")
                     + "".join(_card(s["severity"].get(k, 0), label, f"sev-{k}") for k, label in SEVERITY_SERIES)
                     + (_card(waived, "Waived findings", "st-waived") if waived else "")
                     + _card(s["clients_with_findings"], "Clients with findings", "total")
                     + _card(s["errors"], "Errors", "st-error" if s["errors"] else "total"))
    return ('<section class="block" id="summary" aria-labelledby="summary-h"><h2 id="summary-h">Summary</h2>'
            f'<div class="cards">{finding_cards}</div><div class="first-grid">'
            + _majors(report, req_anchor) + _clients_first(report, client_anchor) + "</div></section>")


def _majors(report: dict, req_anchor: dict[str, str]) -> str:
    majors = [(r, f) for group, rows in views.findings_first(report) if group == "major" for r, found in rows for f in found]
    out = ['<div class="majors"><h3 id="majors-h">Major findings '
           f'({len(majors)})</h3>']
    if not majors:
        out.append('<p class="note">No open major finding.</p></div>')
        return "".join(out)
    out.append('<ol class="majors-list" aria-labelledby="majors-h">')
    for r, f in majors:
        who = f"client {f['client']}" if f["client"] is not None else "CB-wide"
        out.append(f'<li class="major-row" data-fingerprint-major="{e(f["fingerprint"])}">'
                   f'<div class="f-head"><a href="#{req_anchor[r["id"]]}" class="rid">{e(r["id"])}</a>'
                   f'<span class="clause">{e(views.standard_short(r["standard"]))} {e(r["clause"])}</span>'
                   f'<strong>{e(who)}</strong><span>{e(f["record_type"])} <span class="mono">{e(f["record_id"])}</span>'
                   f'</span><code class="loc">{e(views.location(f))}</code></div>'
                   f'<p class="f-msg">{e(f["message"])}</p></li>')
    out.append("</ol></div>")
    return "".join(out)


def _clients_first(report: dict, client_anchor: dict) -> str:
    groups = sorted(views.clients(report), key=lambda g: (-views.severity_counts(g[1])["major"], -len(g[1]),
                                                        g[0] is None, g[0] or ""))
    out = ['<div class="clients-first"><h3 id="clients-first-h">Clients with findings '
           f'({sum(1 for c, _ in groups if c is not None)})</h3>']
    if not groups:
        out.append('<p class="note">No client has a finding.</p></div>')
        return "".join(out)
    out.append('<ul class="clients-list" aria-labelledby="clients-first-h">')
    for client, findings in groups:
        sev = views.severity_counts(findings)
        chips = "".join(f'<span class="chip sev-{k}">{n} {k}</span>' for k, n in sev.items() if n)
        name = client if client is not None else "CB-wide"
        out.append(f'<li><a href="#{client_anchor[client]}" class="rid">{e(name)}</a> {chips}</li>')
    out.append("</ul></div>")
    return "".join(out)


def _overview(report: dict, runs: list[dict] | None) -> str:
    """Requirement statuses and the charts, below the first screen."""
    s = report["summary"]
    status_counts = views.display_status_counts(report)
    waived = views.waived_count(report)
    status_cards = "".join(_card(status_counts[st], views.STATUS_LABEL[st], f"st-{st}")
                           for st in views.DISPLAY_STATUSES if st != "waived" or status_counts[st])
    out = ['<section class="block" id="overview" aria-labelledby="overview-h"><h2 id="overview-h">Overview</h2>',
           f'<h3>Requirements ({e(s["requirements"])})</h3><div class="cards">{status_cards}</div>',
           '<h3 id="chart-clauses-h">Findings per clause</h3>']
    rows = views.clause_finding_counts(report)
    if rows:
        series = SEVERITY_SERIES + ([("waived", "Waived")] if waived else [])
        labelled = [(f"{views.standard_short(std)} {clause}", counts) for std, clause, counts in rows]
        out.append(bar_chart(labelled, series, title="Findings per clause",
                             desc="Number of findings per clause, stacked by severity.", label_id="chart-clauses"))
        out.append(_chart_data_table("Findings per clause as a table", ["Clause"] + [n for _, n in series] + ["Total"],
                                     [[lbl] + [c.get(k, 0) for k, _ in series] + [sum(c.values())]
                                      for lbl, c in labelled]))
    else:
        out.append('<p class="note">No findings, so no chart.</p>')
    if runs is not None:
        out.append('<h3 id="chart-history-h">Findings over time</h3>')
        out.append(f'<p class="note">{_plural(len(runs), "run")} from {e(runs[0]["as_of"])} to '
                   f'{e(runs[-1]["as_of"])}, this report included.</p>')
        out.append(line_chart(runs, HISTORY_SERIES, title="Findings over time",
                              desc="Findings per run by as-of date, in total and by severity.",
                              label_id="chart-history"))
        out.append(_chart_data_table("Findings over time as a table", ["As of"] + [n for _, n in HISTORY_SERIES],
                                     [[r["as_of"]] + [r.get(k, "") for k, _ in HISTORY_SERIES] for r in runs]))
    out.append("</section>")
    return "".join(out)


def _errors(report: dict) -> str:
    if not report["errors"]:
        return ""
    rows = "".join(
        f'<tr><td>{e(x["kind"])}</td><td class="loc"><code>{e(views.location(x))}</code></td>'
        f'<td class="field"><code>{e(x["pointer"] or "/")}</code></td><td>{e(x["message"])}</td><td>{e(x["expected"])}</td></tr>'
        for x in report["errors"])
    return ('<section class="block" id="errors" aria-labelledby="errors-h">'
            f'<h2 id="errors-h">Input errors ({len(report["errors"])})</h2>'
            '<p class="note">Every problem found in the input, with where it is and what was expected.</p>'
            '<div class="tablewrap"><table><thead><tr><th scope="col">Kind</th><th scope="col">File</th>'
            '<th scope="col">Field</th><th scope="col">Problem</th><th scope="col">Expected</th></tr></thead>'
            f"<tbody>{rows}</tbody></table></div></section>")


def _related(finding: dict) -> str:
    if not finding["related"]:
        return ""
    items = "".join(
        f'<li>{e(r["record_type"])} <span class="mono">{e(r["record_id"])}</span> '
        f'at <code>{e(views.location(r))}</code>'
        + (f' <code>{e(r["pointer"])}</code>' if r["pointer"] else "") + "</li>"
        for r in finding["related"])
    return f'<dt>Related records</dt><dd><ul class="related">{items}</ul></dd>'


def _finding(f: dict, requirement: dict | None) -> str:
    waived = views.is_waived(f)
    who = f"Client {f['client']}" if f["client"] is not None else "CB-wide"
    fix = "" if requirement and f["remediation"] == requirement["remediation"] else (
        f'<dt>Fix</dt><dd>{e(f["remediation"])}</dd>')
    return (f'<li class="sev-{e(f["severity"])}{" waived" if waived else ""}" data-fingerprint="{e(f["fingerprint"])}">'
            f'<div class="f-head">{_sev(f["severity"])}{_badge("waived") if waived else ""}'
            f'<strong>{e(who)}</strong><span>{e(f["record_type"])} <span class="mono">{e(f["record_id"])}</span></span>'
            f'</div><p class="f-msg">{e(f["message"])}</p><dl class="f-meta">'
            f'<dt>Location</dt><dd><code>{e(views.location(f))}</code></dd>'
            f'<dt>Field</dt><dd><code>{e(f["pointer"] or "/")}</code>{"" if f["pointer"] else " (whole record)"}</dd>'
            + (f'<dt>Variant</dt><dd>{e(f["variant"])}</dd>' if f["variant"] else "")
            + _related(f) + fix
            + f'<dt>Fingerprint</dt><dd><code>{e(f["fingerprint"])}</code></dd></dl></li>')


def _requirement(r: dict, findings: list[dict], anchor: str) -> str:
    status = views.display_status(r, findings)
    waived = sum(1 for f in findings if views.is_waived(f))
    count = (f'<span class="nw">{_plural(len(findings), "finding")}</span>'
             + (f', <span class="nw">{waived} waived</span>' if waived else "")) if findings else ""
    facts = [("Requirement", r["requirement"])]
    if r["status"] == "manual":
        facts.append(("Evidence to look for", r["reason"] or ""))
    elif r["reason"]:
        facts.append((REASON_LABEL.get(r["status"], "Note"), r["reason"]))
    facts += [("How to fix", r["remediation"]), ("Checked", r["automation"] + f", severity {r['severity']}")]
    body = '<dl class="facts">' + "".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in facts) + "</dl>"
    if findings:
        body += (f'<h5 class="sr-only">Findings of {e(r["id"])}</h5><ol class="findings">'
                 + "".join(_finding(f, r) for f in findings) + "</ol>")
    return (f'<details class="req" id="{anchor}" data-status="{status}"><summary>{_badge(status)}'
            f'<span class="rid">{e(r["id"])}</span><span class="clause">{e(r["clause"])}</span>'
            f'<span class="title">{e(r["title"])}</span>{_sev(r["severity"], quiet=True)}'
            + (f'<span class="count">{count}</span>' if count else "")
            + f'</summary><div class="req-body">{body}</div></details>')


def _requirements(report: dict, req_anchor: dict[str, str]) -> str:
    by_rule = views.findings_by_rule(report)
    counts = views.display_status_counts(report)
    filters = "".join(
        f'<label><input type="checkbox" checked data-status-filter="{st}"> {e(views.STATUS_LABEL[st])} '
        f"({counts[st]})</label>" for st in views.DISPLAY_STATUSES if counts[st])
    out = ['<section class="block" id="requirements" aria-labelledby="requirements-h">'
           '<h2 id="requirements-h">Requirements by clause</h2>'
           '<p class="note">Every requirement of the catalog with its status. Open one to see what it asks, '
           "how to fix it and each finding with the record, file, line and field it points at.</p>"
           '<div class="toolbar" role="group" aria-label="Requirement view">'
           '<button type="button" data-toggle="details.req" data-open="true">Expand all</button>'
           '<button type="button" data-toggle="details.req" data-open="false">Collapse all</button>'
           f'<fieldset><legend>Show</legend>{filters}</fieldset>'
           '<output id="filter-count" aria-live="polite"></output></div>']
    for i, (standard, groups) in enumerate(views.clause_tree(report)):
        out.append(f'<h3 id="std-{i + 1}">{e(standard)}</h3>')
        for head, reqs in groups:
            out.append(f'<div data-group><h4>Clause {e(head)}</h4>')
            out += [_requirement(r, by_rule.get(r["id"], []), req_anchor[r["id"]]) for r in reqs]
            out.append("</div>")
    out.append("</section>")
    return "".join(out)


def _clients(report: dict, req_anchor: dict[str, str], client_anchor: dict) -> str:
    out = ['<section class="block" id="clients" aria-labelledby="clients-h"><h2 id="clients-h">Findings by client</h2>']
    groups = views.clients(report)
    if not groups:
        out.append('<p class="note">No findings: no client has a gap the automated checks can see.</p></section>')
        return "".join(out)
    named = sum(1 for c, _ in groups if c is not None)
    out.append(f'<p class="note">{_plural(named, "client")} with findings, by client id'
               + ("; findings on the CB's own records (CB-wide) come last" if named < len(groups) else "")
               + ". Each row links to its requirement.</p>"
               '<div class="toolbar" role="group" aria-label="Client view">'
               '<button type="button" data-toggle="details.client" data-open="true">Expand all</button>'
               '<button type="button" data-toggle="details.client" data-open="false">Collapse all</button>'
               '<label for="client-filter">Find client</label>'
               '<input type="search" id="client-filter" autocomplete="off" placeholder="client id"></div>')
    for client, findings in groups:
        name = client if client is not None else "CB-wide (no client)"
        anchor = client_anchor[client]
        sev = views.severity_counts(findings)
        waived = sum(1 for f in findings if views.is_waived(f))
        chips = "".join(f'<span class="chip">{n} {k}</span>' for k, n in sev.items() if n) + (
            f'<span class="chip">{waived} waived</span>' if waived else "")
        rows = "".join(
            f'<tr><td>{_sev(f["severity"])}{" " + _badge("waived") if views.is_waived(f) else ""}</td>'
            f'<td><a href="#{req_anchor.get(f["rule_id"], "")}">{e(f["rule_id"])}</a><br>'
            f'<span class="clause">{e(f["clause"])}</span></td>'
            f'<td>{e(f["record_type"])}<br><span class="mono">{e(f["record_id"])}</span></td>'
            f'<td class="loc"><code>{e(views.location(f))}</code><br><code>{e(f["pointer"] or "/")}</code></td>'
            f'<td>{e(f["message"])}</td></tr>' for f in findings)
        out.append(f'<details class="client" id="{anchor}" data-client="{e(name.lower())}"><summary><span class="rid">{e(name)}</span>'
                   f'<span class="count">{_plural(len(findings), "finding")}</span>{chips}</summary>'
                   '<div class="client-body"><div class="tablewrap"><table><thead><tr><th scope="col">Severity</th>'
                   '<th scope="col">Requirement</th><th scope="col">Record</th><th scope="col">Location</th>'
                   f'<th scope="col">Finding</th></tr></thead><tbody>{rows}</tbody></table></div></div></details>')
    out.append("</section>")
    return "".join(out)


def _manual(report: dict, req_anchor: dict[str, str]) -> str:
    manual = views.manual_requirements(report)
    out = ['<section class="block" id="manual" aria-labelledby="manual-h"><h2 id="manual-h">Manual checklist</h2>',
           '<p class="note">Records cannot show these; an auditor has to look at the evidence named. '
           "They are never reported as passed.</p>"]
    if not manual:
        out.append('<p class="note">No manual requirements in this report.</p></section>')
        return "".join(out)
    out.append('<ol class="checklist">')
    for r in manual:
        box = "chk-" + req_anchor[r["id"]]
        out.append(f'<li><input type="checkbox" id="{box}"><label for="{box}"><span class="rid">{e(r["id"])}</span> '
                   f'<span class="clause">{e(views.standard_short(r["standard"]))} {e(r["clause"])}</span> '
                   f'<strong>{e(r["title"])}</strong> {_sev(r["severity"], quiet=True)}</label>'
                   f'<p class="ev"><strong>Evidence to look for:</strong> {e(r["reason"] or "")}</p>'
                   f'<p class="ev"><strong>Requirement:</strong> {e(r["requirement"])}</p></li>')
    out.append("</ol></section>")
    return "".join(out)


def _not_applicable(report: dict, req_anchor: dict[str, str]) -> str:
    if not report["not_applicable"]:
        return ""
    rows = "".join(
        f'<tr><td><a href="#{req_anchor[rid]}">{e(rid)}</a></td><td>{e(reason)}</td></tr>' if rid in req_anchor
        else f"<tr><td>{e(rid)}</td><td>{e(reason)}</td></tr>"
        for rid, reason in report["not_applicable"].items())
    return ('<section class="block" id="not-applicable" aria-labelledby="na-h"><h2 id="na-h">Not applicable</h2>'
            '<p class="note">Requirements marked as not applicable to this CB in the parameters file, with the '
            'reason given.</p><table><thead><tr><th scope="col">Requirement</th><th scope="col">Reason</th></tr>'
            f"</thead><tbody>{rows}</tbody></table></section>")


def _value(value) -> str:
    if not views.is_table(value):
        return f"<code>{e(views.scalar_text(value))}</code>"
    cols = views.table_columns(value)
    return (f'<details class="sub"><summary>table of {len(value)} rows</summary><table><thead><tr>'
            + "".join(f'<th scope="col" class="num">{e(c)}</th>' for c in cols) + "</tr></thead><tbody>"
            + "".join("<tr>" + "".join(f'<td class="num">{e(views.scalar_text(row.get(c, "")))}</td>' for c in cols)
                      + "</tr>" for row in value)
            + "</tbody></table></details>")


def _parameters(report: dict) -> str:
    rows = []
    for p in report["parameters"]:
        flags = ('<span class="chip verify">verify</span> ' if p["verify"] else "") + (
            f'<span class="chip over">overridden</span> default {_value(p["default"])}' if p["overridden"] else "")
        unit = f' {e(p["unit"])}' if p["unit"] and not views.is_table(p["value"]) else ""
        # Long snake_case names may break after an underscore, never inside a word.
        name = e(p["name"]).replace("_", "_<wbr>")
        rows.append(f'<tr><td class="mono name">{name}</td><td>{_value(p["value"])}{unit}</td>'
                    f'<td>{e(p["clause"] or "")}</td><td>{flags}</td><td>{e(p["source"] or "")}'
                    + (f'<br><span class="note">{e(p["unit"])}</span>' if p["unit"] and views.is_table(p["value"]) else "")
                    + "</td></tr>")
    verify = sum(1 for p in report["parameters"] if p["verify"])
    return ('<section class="block" id="parameters" aria-labelledby="parameters-h">'
            '<h2 id="parameters-h">Parameters used</h2>'
            f'<p class="note">{_plural(len(report["parameters"]), "parameter")}, {verify} marked <strong>verify</strong>: check '
            "those values against your licensed copy of the standard or your CB's procedure.</p>"
            '<div class="tablewrap"><table><thead><tr><th scope="col">Name</th><th scope="col">Value</th>'
            '<th scope="col">Clause</th><th scope="col">Flags</th><th scope="col">Source</th>'
            f'</tr></thead><tbody>{"".join(rows)}</tbody></table></div></section>')


def _input(report: dict) -> str:
    inp = report["input"]
    types = "".join(f'<tr><td>{e(t)}</td><td class="num">{e(n)}</td></tr>' for t, n in inp["records_by_type"].items())
    ignored = ("<ul>" + "".join(f"<li><code>{e(x)}</code></li>" for x in inp["files_ignored"]) + "</ul>"
               if inp["files_ignored"] else '<p class="note">None.</p>')
    return ('<section class="block" id="input" aria-labelledby="input-h"><h2 id="input-h">Input</h2>'
            f'<p class="note">{e(inp["path"])}: {_plural(inp["files_read"], "file")} read, '
            f'{_plural(inp["records"], "record")}, {_plural(inp["clients"], "client")}, '
            f'{_plural(inp["partitions"], "partition")} evaluated, {_plural(inp["facts"], "fact")}.</p>'
            '<div class="summary-grid"><div><h3>Records by type</h3><table><thead><tr><th scope="col">Type</th>'
            f'<th scope="col" class="num">Records</th></tr></thead><tbody>{types}</tbody></table></div>'
            f"<div><h3>Files ignored (not record files)</h3>{ignored}</div></div></section>")


def render(report: dict, history: dict | None = None) -> str:
    """The report as one offline HTML page. `history`, if given, is
    {"runs": [{"as_of": "YYYY-MM-DD", "findings": n, "major": n, "minor": n, "observation": n}, ...]}
    (see views.normalise_history; views.history_run(report) makes one run) and adds a
    findings-over-time chart; a malformed history raises ValueError."""
    runs = views.normalise_history(history, report) if history is not None else None
    anchors = _Anchors()
    req_anchor = {r["id"]: anchors.make("req-", r["id"]) for r in report["requirements"]}
    client_anchor = {client: anchors.make("client-", client if client is not None else "cb-wide")
                     for client, _ in views.clients(report)}
    title = f"cbcheck report - {report['input']['path']} - as of {report['as_of']}"
    return "".join([
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{e(CSP)}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f'<meta name="generator" content="{e(report["tool"]["name"])} {e(report["tool"]["version"])}">',
        f"<title>{e(title)}</title><style>{CSS}</style></head><body>",
        _header(report), _nav(report), '<main class="wrap">', _errors_alert(report), _summary(report, req_anchor, client_anchor),
        _errors(report), _overview(report, runs), _requirements(report, req_anchor),
        _clients(report, req_anchor, client_anchor),
        _manual(report, req_anchor), _not_applicable(report, req_anchor), _parameters(report), _input(report),
        "</main>",
        '<footer class="wrap"><p>cbcheck paraphrases ISO/IEC 17021-1 and ISO/IEC 20000-6 and never reproduces their '
        "text: check clause numbers and values marked verify against your licensed copies. Rendered from "
        f'{e(report["report_format"])} by {e(report["tool"]["name"])} {e(report["tool"]["version"])}.</p></footer>',
        f"<script>{JS}</script></body></html>\n",
    ])
