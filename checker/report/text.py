"""Plain-text rendering of the report model, for the quality manager who reads it first thing:
errors, then every finding once (by severity, then clause) with client, record, file:line and
the fix, then a one-screen summary. The full listing of every requirement (conforming,
manual, not assessed), the manual checklist and the parameters follow only with `full=True`
(`cbcheck check --all`); the other formats always carry them."""
from __future__ import annotations

import textwrap

from checker.plain_text import shown, wrap as _wrap
from checker.report import views

LABEL = {"nonconforming": "NONCONFORMING", "conforming": "conforming", "not_assessed": "NOT ASSESSED",
         "manual": "manual", "not_applicable": "n/a", "error": "ERROR"}
GROUP_HEADING = {"major": "MAJOR", "minor": "MINOR", "observation": "OBSERVATION",
                 "waived": "WAIVED (accepted until the waiver expires; no exit code counts them)"}
CLIENTS_SHOWN = 10


def _tags(finding: dict) -> list[str]:
    tags = []
    if finding.get("baseline_status") == "new":
        tags.append("new")
    if finding.get("waived"):
        w = finding["waiver"]
        tags.append(f"waived until {w['expires']} by {w['approver']}")
    elif finding.get("waiver_expired"):
        tags.append(f"waiver expired {finding['waiver_expired']['expires']}")
    return tags


def _ignored_files(inp: dict) -> list[str]:
    """Files that are not records were seen and not read; saying so keeps a misnamed record
    file (nonconformities.yml.bak) from disappearing from the report unnoticed."""
    ignored = inp["files_ignored"]
    if not ignored:
        return []
    return [f"Files ignored, not read (not record files): {len(ignored)}"] + [f"  {shown(x)}" for x in ignored]


def _header(report: dict) -> list[str]:
    inp = report["input"]
    out = [f"cbcheck {report['tool']['version']} - conformance gap report",
           f"As of {report['as_of']}; input {inp['path']}: {inp['records']} records in {inp['files_read']} files, "
           f"{inp['clients']} clients"] + _ignored_files(inp)
    if "baseline" in report:
        b = report["baseline"]
        out.append(f"Since the baseline of {b['as_of']}: {b['new']} new, {b['persisting']} persisting, "
                   f"{b['resolved']} resolved" + (f", {b['unverified']} not re-checked" if b.get("unverified") else ""))
    if "waivers" in report:
        w = report["waivers"]
        out.append(f"Waivers: {w['applied']} applied, {len(w['expired'])} expired, {len(w['unmatched'])} matching nothing")
        out += [f"  expired: {x['rule']} {x.get('record') or x.get('client') or ''} "
                f"(expired {x['expires']}, {x['file']}:{x['line']})" for x in w["expired"]]
        out += [f"  matches nothing: {x['rule']} {x.get('record') or x.get('client') or ''} ({x['file']}:{x['line']})"
                for x in w["unmatched"]]
    return out + [""]


def error_lines(errors: list[dict], heading: str) -> list[str]:
    """Located errors, one line each under `heading` (the report's and the forecast's)."""
    out = [f"ERRORS ({len(errors)}) - {heading}"]
    for e in errors:
        at = f" at {e['pointer']}" if e["pointer"] else ""
        exp = f" (expected: {e['expected']})" if e["expected"] else ""
        out.append(f"  {views.location(e)}{at}: {e['message']}{exp}")
    return out


def _errors(report: dict) -> list[str]:
    return error_lines(report["errors"], "fix these first:") + [""] if report["errors"] else []


def _findings(report: dict) -> list[str]:
    s = report["summary"]
    if not report["findings"]:
        # With errors, no finding is no pass: the errors stopped all or part of the evaluation.
        return (["FINDINGS: none found, but the errors above stopped the evaluation: this is not a clean result", ""]
                if report["errors"] else ["FINDINGS: none", ""])
    out = [f"FINDINGS: {s['findings']} ({_severities(s['severity'])}), by severity then clause", ""]
    for group, rows in views.findings_first(report):
        out.append(f"{GROUP_HEADING[group]} ({sum(len(found) for _, found in rows)})")
        for req, found in rows:
            also = "".join(f", also {c['standard']} {c['clause']}" for c in req["also_clauses"])
            out.append(f"{req['standard']} {req['clause']}  {req['id']}  {req['title']}" + (f" ({also[2:]})" if also else ""))
            for f in found:
                who = f"client {f['client']}" if f["client"] else "CB-wide"
                tags = "".join(f" [{t}]" for t in _tags(f))
                sev = f"[{f['severity']}] " if group == "waived" else ""
                out.append(f"  - {sev}{who}: {f['record_type']} {f['record_id']}  "
                           f"{views.location(f)} {f['pointer'] or '/'}{tags}")
                out.append(_wrap(f["message"], "    "))
            out.append(_wrap("Fix: " + req["remediation"], "  "))
        out.append("")
    return out


def _severities(counts: dict) -> str:
    return ", ".join(f"{n} {k}" for k, n in counts.items())


def _clients_line(report: dict) -> list[str]:
    rows = sorted(views.clients(report), key=lambda c: (-len(c[1]), c[0] is None, c[0] or ""))
    if not rows:
        return []
    parts = [f"{client or 'CB-wide'} {len(found)}"
             + (f" ({views.severity_counts(found)['major']} major)" if views.severity_counts(found)["major"] else "")
             for client, found in rows[:CLIENTS_SHOWN]]
    more = f"; and {len(rows) - CLIENTS_SHOWN} more" if len(rows) > CLIENTS_SHOWN else ""
    named = sum(1 for client, _ in rows if client is not None)
    return [textwrap.fill(f"Clients with findings ({named}): " + "; ".join(parts) + more, 100, subsequent_indent="  ")]


def _summary(report: dict, full: bool) -> list[str]:
    s = report["summary"]
    out = ["SUMMARY",
           "Requirements: " + ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in s["status"].items() if n),
           f"Findings: {s['findings']} ({_severities(s['severity'])})"
           + (f", {s['waived']} waived" if s.get("waived") else "")
           + (f"; errors: {s['errors']}" if s["errors"] else "")]
    if s.get("not_evaluated"):
        out.append(views.not_evaluated_text(s))
    out += _clients_line(report)
    not_assessed = [r for r in report["requirements"] if r["status"] == "not_assessed"]
    if not_assessed:
        out.append(f"Not assessed: {len(not_assessed)} requirement(s) whose evidence was not supplied "
                   "(an evidence gap, not a pass; --all says which).")
    if s["status"].get("manual"):
        out.append(f"Manual: {s['status']['manual']} requirement(s) an assessor checks against evidence records "
                   "cannot show.")
    verify = sum(1 for p in report["parameters"] if p["verify"])
    out.append(f"Parameters: {len(report['parameters'])} used, {verify} marked verify.")
    if not full:
        out.append("Every requirement with its status, the manual checklist and the parameters: add --all "
                   "(or use --format html, markdown or json).")
    return out + [""]


def _requirement_line(req: dict, width: int) -> list[str]:
    status = LABEL[req["status"]] + (f", {req['finding_count']} finding(s) above" if req["finding_count"] else "")
    if req["status"] == "conforming" and views.basis_text(req):
        status += "; " + views.basis_text(req)
    also = f" (also; its own clause is {req['cited_at']})" if req.get("cited_at") else ""
    out = [f"  {req['clause']:<{width}} {req['id']}  {req['title']}  [{status}]{also}"]
    if req["status"] in ("not_assessed", "not_applicable", "error", "nonconforming") and req["reason"]:
        out.append(_wrap(req["reason"], " " * 17))
    return out


def _structure_table(report: dict, structure: str) -> list[str]:
    out = [f"{structure} CLAUSE BY CLAUSE (requirements taken over from 17021-1 + its own SM additions):"]
    for row in views.structure_summary(report, structure):
        counts = ", ".join(f"{n} {views.STATUS_LABEL[s].lower()}" for s, n in row["status"].items() if n)
        out.append(f"  {row['clause']:<7} {row['title'][:46]:<46} {row['taken_over']:>2}+{row['additions']:<2} "
                   f"{counts}" + (f"; {row['findings']} finding(s)" if row["findings"] else ""))
    return out + [""]


def _listing(report: dict, structure: str | None) -> list[str]:
    """Every requirement by clause (also under each clause it also evidences), or by the
    clauses of `structure`'s table of contents; then the manual checklist and the parameters."""
    out = ["ALL REQUIREMENTS" + (f" in the structure of {structure}: the 17021-1 requirements each of its clauses "
                                 "takes over, then its own additions" if structure else "")]
    for standard, groups in views.clause_tree(report, structure):
        out.append(standard)
        for head, reqs in groups:
            if structure:
                out.append(f" {head}")
            for req in reqs:
                out += _requirement_line(req, 18 if structure else 10)
    manual = views.manual_requirements(report)
    if manual:
        out += ["", "Manual checks (records cannot show these; look for the evidence named):"]
        for r in manual:
            out.append(f"  {r['standard']} {r['clause']} {r['id']}  {r['title']}")
            out.append(_wrap("Evidence: " + (r["reason"] or ""), " " * 4))
    out += ["", "Parameters used (verify = check the value against your licensed copy):"]
    for p in report["parameters"]:
        value = p["value"]
        if isinstance(value, list):     # a table (rows of mappings), or a list of names
            value = f"table of {len(value)} rows" if any(isinstance(v, dict) for v in value) else ", ".join(map(str, value))
        flags = (" [verify]" if p["verify"] else "") + (f" [overridden; default {p['default']}]" if p["overridden"] else "")
        out.append(f"  {p['name']} = {value}{' ' + p['unit'] if p['unit'] else ''}{flags}")
    return out + [""]


def render(report: dict, full: bool = False, structure: str | None = None) -> str:
    """The report as text; `full` adds every requirement, the manual checklist and the parameters.
    `structure` (a standard the requirements are placed in: ISO/IEC 20000-6:2017) adds its
    clause-by-clause table and, with `full`, lists the requirements in its structure."""
    out = _header(report) + _errors(report) + _findings(report) + _summary(report, full)
    for standard in views.structures(report) if (full or structure) else []:
        out += _structure_table(report, standard)
    if full:
        out += _listing(report, structure)
    return "\n".join(out).rstrip("\n") + "\n"
