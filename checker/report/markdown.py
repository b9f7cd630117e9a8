"""Markdown rendering of the report model, for pasting into an internal audit report.

CommonMark with GitHub tables and task lists. Reads only the report dict. Every string from
the report is escaped with md(): a message from the CB's records must not open a link, an
HTML tag, emphasis, or - in a table - a new cell with a pipe. Line breaks inside a value are
folded into spaces, and no line starts with an escaped value (there is always a marker or a
label before it), so no value can open a list, heading or quote of its own.
"""
from __future__ import annotations

import re

from checker.report import views

_INLINE = re.compile(r"([\\`*_{}\[\]<>|~#&$!])")


def md(value) -> str:
    """Any value as inert inline Markdown text (safe in table cells too)."""
    text = " ".join(str(value).split())
    return _INLINE.sub(r"\\\1", text)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _table(head: list[str], rows: list[list], right: set[int] = frozenset()) -> list[str]:
    """Header cells are ours (not escaped); body cells are escaped here."""
    out = ["| " + " | ".join(head) + " |",
           "|" + "|".join("---:" if i in right else "---" for i in range(len(head))) + "|"]
    out += ["| " + " | ".join(md(c) if c != "" else " " for c in row) + " |" for row in rows]
    return out + [""]


def _header(report: dict) -> list[str]:
    inp = report["input"]
    standards = " + ".join(dict.fromkeys(r["standard"] for r in report["requirements"]))
    out = ["# Conformance gap report", "",
           f"Certification body records checked against {md(standards)}.", "",
           f"- **Input:** {md(inp['path'])}",
           f"- **As of:** {md(report['as_of'])}",
           f"- **Tool:** {md(report['tool']['name'])} {md(report['tool']['version'])} "
           f"(report format {md(report['report_format'])})",
           f"- **Records:** {inp['records']} in {_plural(inp['files_read'], 'file')}; "
           f"{_plural(inp['clients'], 'client')}; {_plural(inp['partitions'], 'partition')} evaluated", ""]
    if report["errors"]:
        what = views.errors_headline(report)
        out += [f"> **{_plural(len(report['errors']), 'error')} - fix these first.** {md(what)} "
                "See *Input errors* below.", ""]
    return out


def _summary(report: dict) -> list[str]:
    s = report["summary"]
    counts = views.display_status_counts(report)
    waived = views.waived_count(report)
    out = ["## Summary", "", "### Requirements by status", ""]
    out += _table(["Status", "Requirements"],
                  [[views.STATUS_LABEL[st], counts[st]] for st in views.DISPLAY_STATUSES
                   if st != "waived" or counts[st]] + [["Total", s["requirements"]]], right={1})
    out += ["### Findings by severity", ""]
    by_sev_waived = {k: sum(1 for f in report["findings"] if f["severity"] == k and views.is_waived(f))
                     for k in views.SEVERITIES}
    head, rows = ["Severity", "Findings"], [[k.capitalize(), s["severity"].get(k, 0)] for k in views.SEVERITIES]
    if waived:
        head.append("Of which waived")
        for row, k in zip(rows, views.SEVERITIES):
            row.append(by_sev_waived[k])
    rows.append(["Total", s["findings"]] + ([waived] if waived else []))
    out += _table(head, rows, right={1, 2})
    out += [f"- **Clients with findings:** {s['clients_with_findings']}", f"- **Errors:** {s['errors']}", ""]
    per_clause = views.clause_finding_counts(report)
    if per_clause:
        cols = list(views.SEVERITIES) + (["waived"] if waived else [])
        out += ["### Findings per clause", ""]
        out += _table(["Standard", "Clause"] + [c.capitalize() for c in cols] + ["Total"],
                      [[std, clause] + [c[k] for k in cols] + [sum(c.values())] for std, clause, c in per_clause],
                      right=set(range(2, len(cols) + 3)))
    return out


def _errors(report: dict) -> list[str]:
    if not report["errors"]:
        return []
    return [f"## Input errors ({len(report['errors'])})", ""] + _table(
        ["Kind", "File", "Field", "Problem", "Expected"],
        [[x["kind"], views.location(x), x["pointer"] or "/", x["message"], x["expected"]] for x in report["errors"]])


def _finding_lines(f: dict, requirement: dict | None, lead: str) -> list[str]:
    who = f"client {f['client']}" if f["client"] is not None else "CB-wide"
    flag = " (waived)" if views.is_waived(f) else ""
    out = [f"- **[{md(f['severity'])}]{flag}** {lead}{md(who)}, {md(f['record_type'])} {md(f['record_id'])}: "
           f"{md(f['message'])}",
           f"  - Location: {md(views.location(f))}, field {md(f['pointer'] or '/')}"]
    if f["variant"]:
        out.append(f"  - Variant: {md(f['variant'])}")
    if f["related"]:
        out.append("  - Related records: " + "; ".join(
            f"{md(r['record_type'])} {md(r['record_id'])} ({md(views.location(r))}"
            + (f" {md(r['pointer'])}" if r["pointer"] else "") + ")" for r in f["related"]))
    if not requirement or f["remediation"] != requirement["remediation"]:
        out.append(f"  - Fix: {md(f['remediation'])}")
    out.append(f"  - Fingerprint: {md(f['fingerprint'])}")
    return out


def _clause_cell(r: dict) -> str:
    return r["clause"] + (f" (also; own clause {r['cited_at']})" if r.get("cited_at") else "")


def _requirements(report: dict, structure: str | None = None) -> list[str]:
    by_rule = views.findings_by_rule(report)
    out = ["## Requirements by clause" if not structure else f"## Requirements in the structure of {md(structure)}", ""]
    if structure:
        out += [f"Each clause of {md(structure)} with the 17021-1 requirements it takes over, then its own additions.", ""]
    else:
        out += ["A requirement that also evidences other clauses is listed under each of them, with its findings.", ""]
    for standard, groups in views.clause_tree(report, structure):
        out += [f"### {md(standard)}", ""]
        for head, reqs in groups:
            out += [f"#### Clause {md(head)}", ""]
            out += _table(["Clause", "Id", "Requirement", "Severity", "Status", "Findings", "Judged on"],
                          [[_clause_cell(r), r["id"], r["title"], r["severity"],
                            views.STATUS_LABEL[views.display_status(r, by_rule.get(r["id"], []))],
                            r["finding_count"], views.basis_text(r) if r["status"] == "conforming" else ""]
                           for r in reqs], right={5})
            notes = [r for r in reqs if r["status"] in ("not_assessed", "error", "not_applicable", "nonconforming")
                     and r["reason"]]
            for r in notes:
                out.append(f"- **{md(r['id'])}** {md(views.STATUS_LABEL[r['status']].lower())}: {md(r['reason'])}")
            if notes:
                out.append("")
            for r in reqs:
                out += _requirement_findings(r, by_rule.get(r["id"], []))
    return out


def _requirement_findings(r: dict, findings: list[dict]) -> list[str]:
    if not findings:
        return []
    status = views.STATUS_LABEL[views.display_status(r, findings)]
    out = [f"##### {md(r['id'])} ({md(_clause_cell(r))}) {md(r['title'])} - {status}, "
           f"{_plural(len(findings), 'finding')}", "",
           f"*Requirement:* {md(r['requirement'])}", "", f"*How to fix:* {md(r['remediation'])}", ""]
    for f in findings:
        out += _finding_lines(f, r, "")
    return out + [""]


def _structure_table(report: dict, structure: str) -> list[str]:
    rows = views.structure_summary(report, structure)
    out = [f"## {md(structure)} clause by clause", "",
           f"The catalog in the structure {md(structure)} is assessed in: each of its clauses with the 17021-1 "
           "requirements it takes over and its own SM additions (cbcheck check --structure 20000-6 lists the "
           "requirements this way).", ""]
    statuses = [s for s in views.DISPLAY_STATUSES if any(r["status"][s] for r in rows)]
    return out + _table(["Clause", "Title", "Taken over", "SM additions"] + [views.STATUS_LABEL[s] for s in statuses]
                        + ["Findings"],
                        [[r["clause"], r["title"], r["taken_over"], r["additions"]] + [r["status"][s] for s in statuses]
                         + [r["findings"]] for r in rows], right=set(range(2, len(statuses) + 5)))


def _clients(report: dict) -> list[str]:
    out = ["## Findings by client", ""]
    groups = views.clients(report)
    if not groups:
        return out + ["No findings: no client has a gap the automated checks can see.", ""]
    reqs = {r["id"]: r for r in report["requirements"]}
    for client, findings in groups:
        sev = views.severity_counts(findings)
        waived = sum(1 for f in findings if views.is_waived(f))
        parts = [f"{n} {k}" for k, n in sev.items() if n] + ([f"{waived} waived"] if waived else [])
        name = md(client) if client is not None else "CB-wide (no client)"
        out += [f"### {name}", "", f"{_plural(len(findings), 'finding')}: {', '.join(parts)}.", ""]
        for f in findings:
            clauses = ", ".join([f["clause"]] + [c["clause"] for c in f.get("also_clauses") or []])
            out += _finding_lines(f, reqs.get(f["rule_id"]), f"{md(f['rule_id'])} ({md(clauses)}), ")
        out.append("")
    return out


def _manual(report: dict) -> list[str]:
    manual = views.manual_requirements(report)
    out = ["## Manual checklist", "",
           "Records cannot show these; an auditor has to look at the evidence named. They are never reported as "
           "passed.", ""]
    if not manual:
        return out + ["No manual requirements in this report.", ""]
    for r in manual:
        out += [f"- [ ] **{md(r['id'])}** ({md(views.standard_short(r['standard']))} {md(r['clause'])}) "
                f"{md(r['title'])} - severity {md(r['severity'])}",
                f"  - Evidence to look for: {md(r['reason'] or '')}",
                f"  - Requirement: {md(r['requirement'])}"]
    return out + [""]


def _not_applicable(report: dict) -> list[str]:
    if not report["not_applicable"]:
        return []
    return ["## Not applicable", ""] + _table(["Requirement", "Reason"],
                                              [[rid, reason] for rid, reason in report["not_applicable"].items()])


def _parameters(report: dict) -> list[str]:
    verify = sum(1 for p in report["parameters"] if p["verify"])
    out = ["## Parameters used", "",
           f"{_plural(len(report['parameters']), 'parameter')}, {verify} marked *verify*: check those values against "
           "your licensed copy of the standard or your CB's procedure.", ""]
    rows, tables = [], []
    for p in report["parameters"]:
        value = f"table of {len(p['value'])} rows, below" if views.is_table(p["value"]) else views.scalar_text(p["value"])
        default = "" if not p["overridden"] else (
            f"yes, default: table of {len(p['default'])} rows" if views.is_table(p["default"])
            else f"yes, default: {views.scalar_text(p['default'])}")
        rows.append([p["name"], value, p["unit"] or "", p["clause"] or "", "verify" if p["verify"] else "",
                     default, p["source"] or ""])
        if views.is_table(p["value"]):
            tables.append(p)
    out += _table(["Name", "Value", "Unit", "Clause", "Verify", "Overridden", "Source"], rows)
    for p in tables:
        cols = views.table_columns(p["value"])
        out += [f"### {md(p['name'])}", ""]
        out += _table([md(c) for c in cols], [[views.scalar_text(row.get(c, "")) for c in cols] for row in p["value"]],
                      right=set(range(len(cols))))
    return out


def _input(report: dict) -> list[str]:
    inp = report["input"]
    out = ["## Input", "", f"**Folder:** {md(inp['path'])}: {_plural(inp['files_read'], 'file')} read, "
           f"{_plural(inp['records'], 'record')}, {_plural(inp['clients'], 'client')}, "
           f"{_plural(inp['partitions'], 'partition')} evaluated, {_plural(inp['facts'], 'fact')}.", ""]
    out += _table(["Record type", "Records"], [[t, n] for t, n in inp["records_by_type"].items()], right={1})
    out += ["Files ignored (not record files): " + ("; ".join(md(x) for x in inp["files_ignored"]) or "none") + ".", ""]
    return out


def render(report: dict, structure: str | None = None) -> str:
    """The report as Markdown; `structure` (ISO/IEC 20000-6:2017) lists the requirements in that
    standard's structure instead of by 17021-1 clause."""
    lines = (_header(report) + _summary(report) + _errors(report) + _requirements(report, structure)
             + [line for std in views.structures(report) for line in _structure_table(report, std)] + _clients(report)
             + _manual(report) + _not_applicable(report) + _parameters(report) + _input(report))
    lines += ["---", "",
              "*cbcheck paraphrases ISO/IEC 17021-1 and ISO/IEC 20000-6 and never reproduces their text: check clause "
              "numbers and values marked verify against your licensed copies.*"]
    return "\n".join(lines) + "\n"
