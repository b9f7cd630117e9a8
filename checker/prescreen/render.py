"""Text and JSON rendering of a prescreen result: what was received, then the completeness
view, then the normal gap report (checker.report.text renders that part).

The completeness view comes first because it says how far the gap report can be trusted:
a report on a submission with refused files or missing cycles passes what it never saw.
"""
from __future__ import annotations

import json
import textwrap

from checker import __version__
from checker.report import text as report_text


def render_json(result: dict) -> str:
    return json.dumps(result, indent=2, ensure_ascii=False) + "\n"


def _wrap(text: str, indent: str) -> str:
    return textwrap.fill(" ".join(text.split()), width=100, initial_indent=indent, subsequent_indent=indent + "  ")


def _size(n: int) -> str:
    return f"{n} bytes" if n < 1024 * 1024 else f"{n} bytes ({n / (1024 * 1024):.1f} MiB)"


def _problem_line(p: dict) -> str:
    where = p["file"] + (f":{p['line']}" if p["line"] else "")
    exp = f" (expected: {p['expected']})" if p["expected"] else ""
    return f"  {where}: {p['message']}{exp}"


def _submission(sub: dict) -> list[str]:
    out = [f"Submission {sub['source']} ({sub['kind']}): {sub['files']} files, {_size(sub['bytes'])} read"]
    if sub["refused"]:
        out.append(f"REFUSED ({len(sub['refused'])}) - not read, so any records in them are missing from "
                   "everything below:")
        out += [_problem_line(p) for p in sub["refused"]]
    if sub["ignored"]:
        out.append(f"Not read ({len(sub['ignored'])}):")
        out += [f"  {i['path']}: {i['reason']}" for i in sub["ignored"]]
    return out


def _gap_lines(gaps: list[dict], indent: str) -> list[str]:
    return [_wrap(f"- MISSING {g['record_type']}: {g['message']} ({g['file']}:{g['line']})", indent) for g in gaps]


def _client(cl: dict) -> list[str]:
    out = [f"  client {cl['id']}" + (f" ({cl['name']})" if cl["name"] else "")
           + f": {cl['records']} records, {len(cl['cycles'])} cycle(s), {cl['gaps']} gap(s)"]
    out += _gap_lines(cl["missing"], " " * 4)
    for cy in cl["cycles"]:
        span = f"{cy['start'] or '?'} to {cy['last_day'] or '?'}"
        audits = "; ".join(f"{k} {', '.join(v)}" for k, v in cy["audits"].items() if v) or "no audits"
        head = (f"cycle {cy['number']} ({cy['kind']}, {span}): decision {cy['decision'] or 'MISSING'}, "
                f"certificate(s) {', '.join(cy['certificates']) or 'MISSING'}; audits: {audits}")
        out.append(_wrap(head, " " * 4))
        out += _gap_lines(cy["missing"], " " * 6)
    for audit in cl["audits"]:
        if audit["missing"]:
            out.append(f"    {audit['audit_type']} audit {audit['id']} ({audit['start_date'] or 'no date'}"
                       + (f", cycle {audit['cycle']}" if audit["cycle"] else "") + "):")
            out += _gap_lines(audit["missing"], " " * 6)
    return out


def render_completeness(view: dict) -> str:
    s = view["summary"]
    out = ["COMPLETENESS (what the submission holds and what it should hold but does not)",
           f"As of {view['as_of']}: {s['records']} records; {s['clients']} clients, {s['cycles']} certification "
           f"cycle(s); {s['gaps']} missing record(s) in {s['clients_with_gaps']} client(s)"
           + (f"; {s['input_problems']} input problem(s), listed in the gap report" if s["input_problems"] else ""),
           "", "Record types supplied:"]
    for t in view["record_types"]:
        out.append(f"  {t['type']:<26} {t['count']:>7}" + ("  none supplied" if not t["count"] else ""))
    if view["unknown_types"]:
        out.append("  unknown types: " + ", ".join(f"{k} ({n})" for k, n in view["unknown_types"].items()))
    if view["untyped_records"]:
        out.append(f"  records without a type: {view['untyped_records']}")
    if s["gaps_by_code"]:
        out += ["", "Missing records by kind: " + ", ".join(f"{k} {n}" for k, n in s["gaps_by_code"].items())]
    with_gaps = [cl for cl in view["clients"] if cl["gaps"]]
    complete = [cl for cl in view["clients"] if not cl["gaps"]]
    if with_gaps:
        out += ["", f"Clients with missing records ({len(with_gaps)}):"]
        for cl in with_gaps:
            out += _client(cl)
    if complete:
        out += ["", f"Clients with nothing missing ({len(complete)}):",
                _wrap(", ".join(f"{cl['id']} ({len(cl['cycles'])} cycle(s))" for cl in complete), "  ")]
    if view["unattributed"]:
        out += ["", f"Records tied to no client ({len(view['unattributed'])}; their owner reference is missing "
                "or dangling, see the gap report's errors):"]
        out += [f"  {r['type']} {r['id']} ({r['file']}:{r['line']})" for r in view["unattributed"]]
    if view["not_assessed"]:
        out += ["", f"Requirements that cannot be assessed: record types they need are absent "
                f"({len(view['not_assessed'])}):"]
        for r in view["not_assessed"]:
            out.append(f"  {r['standard']} {r['clause']} {r['id']}  {r['title']}: no {', '.join(r['absent_types'])}")
    return "\n".join(out) + "\n"


def render_text(result: dict, full: bool = False) -> str:
    parts = [f"cbcheck {__version__} prescreen - submission completeness and conformance gap report",
             "\n".join(_submission(result["submission"])), ""]
    if result["completeness"] is None:
        parts.append("Nothing was read: the submission was refused as a whole (see above).")
        return "\n".join(parts) + "\n"
    parts += [render_completeness(result["completeness"]), "=" * 100, "", report_text.render(result["report"], full=full)]
    return "\n".join(parts)


RENDERERS = {"text": render_text, "json": render_json}


def render(result: dict, fmt: str = "text", full: bool = False) -> str:
    """The prescreen result as `fmt` ("text" or "json"); `full` is the text report's --all."""
    return render_text(result, full) if fmt == "text" else RENDERERS[fmt](result)
