"""Plain-text rendering of the report model, grouped by standard and clause."""
from __future__ import annotations

import textwrap

LABEL = {"nonconforming": "NONCONFORMING", "conforming": "conforming", "not_assessed": "NOT ASSESSED",
         "manual": "manual", "not_applicable": "n/a", "error": "ERROR"}


def _wrap(text: str, indent: str) -> str:
    return textwrap.fill(" ".join(text.split()), width=100, initial_indent=indent, subsequent_indent=indent)


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


def render(report: dict) -> str:
    s, inp = report["summary"], report["input"]
    out = [f"cbcheck {report['tool']['version']} - conformance gap report",
           f"As of {report['as_of']}; input {inp['path']}: {inp['records']} records in {inp['files_read']} files, "
           f"{inp['clients']} clients",
           "Requirements: " + ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in s["status"].items() if n),
           f"Findings: {s['findings']} ({', '.join(f'{n} {k}' for k, n in s['severity'].items())})"
           + (f", {s['waived']} waived" if s.get("waived") else "")
           + (f"; errors: {s['errors']}" if s["errors"] else "")]
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
    out.append("")
    if report["errors"]:
        out.append(f"ERRORS ({len(report['errors'])}) - fix these first:")
        for e in report["errors"]:
            where = e["file"] + (f":{e['line']}" if e["line"] else "")
            at = f" at {e['pointer']}" if e["pointer"] else ""
            exp = f" (expected: {e['expected']})" if e["expected"] else ""
            out.append(f"  {where}{at}: {e['message']}{exp}")
        out.append("")
    by_rule: dict[str, list[dict]] = {}
    for f in report["findings"]:
        by_rule.setdefault(f["rule_id"], []).append(f)
    standard = None
    for req in report["requirements"]:
        if req["standard"] != standard:
            standard = req["standard"]
            out.append(standard)
        out.append(f"  {req['clause']:<10} {req['id']}  {req['title']}  [{LABEL[req['status']]}"
                   + (f", {req['finding_count']} finding(s)" if req["finding_count"] else "") + "]")
        if req["status"] in ("not_assessed", "not_applicable", "error") and req["reason"]:
            out.append(_wrap(req["reason"], " " * 17))
        for f in by_rule.get(req["id"], []):
            who = f"client {f['client']}" if f["client"] else "CB-wide"
            tags = "".join(f" [{t}]" for t in _tags(f))
            out.append(f"{' ' * 15}- [{f['severity']}] {who}: {f['record_type']} {f['record_id']} "
                       f"({f['file']}:{f['line']} {f['pointer'] or '/'}){tags}")
            out.append(_wrap(f["message"], " " * 19))
        if by_rule.get(req["id"]):
            out.append(_wrap("Fix: " + req["remediation"], " " * 17))
    manual = [r for r in report["requirements"] if r["status"] == "manual"]
    if manual:
        out += ["", "Manual checks (records cannot show these; look for the evidence named):"]
        for r in manual:
            out.append(f"  {r['standard']} {r['clause']} {r['id']}  {r['title']}")
            out.append(_wrap("Evidence: " + (r["reason"] or ""), " " * 4))
    out += ["", "Parameters used (verify = check the value against your licensed copy):"]
    for p in report["parameters"]:
        value = p["value"] if not isinstance(p["value"], list) else f"table of {len(p['value'])} rows"
        flags = (" [verify]" if p["verify"] else "") + (f" [overridden; default {p['default']}]" if p["overridden"] else "")
        out.append(f"  {p['name']} = {value}{' ' + p['unit'] if p['unit'] else ''}{flags}")
    return "\n".join(out) + "\n"
