"""Groupings of the report model shared by the human-readable renderers (HTML, Markdown).

Everything here reads only the report dict and keeps the report's own order, so two renders
of the same dict are identical. A finding may carry an optional `waived: true` (set by a
later waiver step; absent from cbcheck-report/1 itself): a waived finding stays visible but
no longer makes its requirement show as an open gap.
"""
from __future__ import annotations

import re

from checker.clauses import clause_sort_key
from checker.engine.partition import CB_PARTITION

SEVERITIES = ("major", "minor", "observation")
STATUS_LABEL = {
    "nonconforming": "Nonconforming", "error": "Error", "not_assessed": "Not assessed",
    "conforming": "Conforming", "manual": "Manual", "not_applicable": "Not applicable",
    "waived": "Waived",
}
# Statuses in the order a reader should act on them; "waived" is display-only (see module doc).
DISPLAY_STATUSES = ("nonconforming", "error", "not_assessed", "waived", "manual", "conforming", "not_applicable")
HISTORY_KEYS = ("findings",) + SEVERITIES
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_STANDARD_SHORT = re.compile(r"^ISO/IEC\s+([0-9A-Za-z-]+)(?::\d{4})?$")


def not_evaluated_text(summary: dict) -> str:
    """One sentence on the partitions not judged (summary.not_evaluated), or "" when all were."""
    account = summary.get("not_evaluated")
    if not account:
        return ""
    parts = []
    for key, why in (("input_errors", "input errors in their records or the shared records they read"),
                     ("engine_failure", "the engine failed")):
        if account[key]:
            # The CB-wide partition is named in the sentence already; its id means nothing to a reader.
            names = ["the CB-wide records" if name == CB_PARTITION else name for name in account[key]]
            parts.append(f"{why}: {', '.join(names)}")
    who = f"{account['clients']} client(s)" + (" and the CB-wide partition" if account["cb_wide"] else "")
    return f"Not evaluated: {who} ({'; '.join(parts)}); their requirements show as error."


def errors_headline(report: dict) -> str:
    """What the errors meant for the evaluation, for the renderers' alert above the report."""
    if report["summary"].get("not_evaluated"):
        return not_evaluated_text(report["summary"]) + " Every other client was evaluated."
    if any(x["kind"] == "input" for x in report["errors"]):
        return ("The input has errors, so nothing was evaluated: every automated requirement is not assessed "
                "until they are fixed.")
    return "Evaluation failed for some partitions; requirements judged there show as error."


def is_waived(finding: dict) -> bool:
    return finding.get("waived") is True


def findings_by_rule(report: dict) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for f in report["findings"]:
        out.setdefault(f["rule_id"], []).append(f)
    return out


def display_status(requirement: dict, findings: list[dict]) -> str:
    """The requirement's status, except that a nonconforming one whose every finding is
    waived shows as "waived": the gap is known and accepted, not open."""
    if requirement["status"] == "nonconforming" and findings and all(is_waived(f) for f in findings):
        return "waived"
    return requirement["status"]


def display_status_counts(report: dict) -> dict[str, int]:
    by_rule = findings_by_rule(report)
    counts = dict.fromkeys(DISPLAY_STATUSES, 0)
    for r in report["requirements"]:
        counts[display_status(r, by_rule.get(r["id"], []))] += 1
    return counts


def waived_count(report: dict) -> int:
    return sum(1 for f in report["findings"] if is_waived(f))


def main_clause(clause: str) -> str:
    """"9.1.3.3" -> "9"; "SM 9.1.4" -> "SM 9"; the heading a clause is filed under."""
    prefix, _, number = clause.rpartition(" ")
    head = number.split(".")[0] or number
    return f"{prefix} {head}" if prefix else head


def standard_short(standard: str) -> str:
    m = _STANDARD_SHORT.match(standard)
    return m.group(1) if m else standard


def also_entries(requirement: dict) -> list[dict]:
    """The requirement as listed under each additional clause it evidences: a copy whose
    standard and clause are that clause's, with `cited_at` naming its own clause."""
    return [{**requirement, "standard": c["standard"], "clause": c["clause"],
             "cited_at": f"{requirement['standard']} {requirement['clause']}"}
            for c in requirement.get("also_clauses") or []]


def clause_entries(report: dict) -> list[dict]:
    """Every requirement under its own clause and, marked with `cited_at`, under each clause it
    also evidences, sorted by standard and clause (the model's own order for the former)."""
    entries = list(report["requirements"]) + [e for r in report["requirements"] for e in also_entries(r)]
    return sorted(entries, key=lambda r: (r["standard"], clause_sort_key(r["clause"]), r["id"], "cited_at" in r))


def structure_entries(report: dict, structure: str) -> list[tuple[dict, dict]]:
    """[(structure clause {standard, clause, title}, requirement)] for every requirement placed in
    `structure` (ISO/IEC 20000-6's table of contents), in its order; within a clause, the
    requirements taken over from 17021-1 first, then the structure's own additions."""
    pairs = [(p, r) for r in report["requirements"] for p in r.get("structure") or [] if p["standard"] == structure]
    return sorted(pairs, key=lambda pr: (clause_sort_key(pr[0]["clause"]), pr[1]["standard"] == structure,
                                         pr[1]["standard"], clause_sort_key(pr[1]["clause"]), pr[1]["id"]))


def structures(report: dict) -> list[str]:
    return sorted({p["standard"] for r in report["requirements"] for p in r.get("structure") or []})


def clause_tree(report: dict, structure: str | None = None) -> list[tuple[str, list[tuple[str, list[dict]]]]]:
    """[(standard, [(clause heading, [requirement, ...]), ...]), ...]: by main clause of each
    standard, every requirement also under the clauses it also evidences (see clause_entries);
    or, with `structure`, by the clauses of that standard's table of contents, each entry
    showing the clause it cites as "<standard short> <clause>"."""
    if structure:
        groups: list[tuple[str, list[dict]]] = []
        for place, r in structure_entries(report, structure):
            head = f"{place['clause']} {place['title']}"
            if not groups or groups[-1][0] != head:
                groups.append((head, []))
            groups[-1][1].append({**r, "clause": f"{standard_short(r['standard'])} {r['clause']}"})
        return [(structure, groups)] if groups else []
    tree: list[tuple[str, list[tuple[str, list[dict]]]]] = []
    for r in clause_entries(report):
        if not tree or tree[-1][0] != r["standard"]:
            tree.append((r["standard"], []))
        groups = tree[-1][1]
        head = main_clause(r["clause"])
        if not groups or groups[-1][0] != head:
            groups.append((head, []))
        groups[-1][1].append(r)
    return tree


def structure_summary(report: dict, structure: str) -> list[dict]:
    """One row per clause of `structure` holding requirements: {clause, title, taken_over,
    additions, status counts, findings}, for the compact clause-by-clause table."""
    rows: dict[str, dict] = {}
    for place, r in structure_entries(report, structure):
        row = rows.setdefault(place["clause"], {"clause": place["clause"], "title": place["title"], "taken_over": 0,
                                                "additions": 0, "status": dict.fromkeys(STATUS_LABEL, 0),
                                                "findings": 0})
        row["additions" if r["standard"] == structure else "taken_over"] += 1
        all_waived = r["status"] == "nonconforming" and r.get("waived_count") == r["finding_count"]
        row["status"]["waived" if all_waived else r["status"]] += 1
        row["findings"] += r["finding_count"]
    return list(rows.values())


def basis_text(requirement: dict) -> str:
    """What the requirement's status rests on, in words ("" for manual ones)."""
    basis = requirement.get("based_on")
    if not basis:
        return ""
    held = ", ".join(f"{n} {t}" for t, n in basis["record_types"].items())
    text = f"judged on {held} record(s)" if held else "judged on no record type"
    if basis["not_in_source"]:
        text += "; not in the source: " + ", ".join(basis["not_in_source"])
    return text


def clause_finding_counts(report: dict) -> list[tuple[str, str, dict[str, int]]]:
    """[(standard, clause, {major, minor, observation, waived}), ...] for every clause with
    findings (a requirement's own and those it also evidences), in clause order; waived
    findings are counted apart from severities."""
    by_rule = findings_by_rule(report)
    rows: dict[tuple[str, str], dict[str, int]] = {}
    for r in clause_entries(report):
        for f in by_rule.get(r["id"], []):
            counts = rows.setdefault((r["standard"], r["clause"]), dict.fromkeys(SEVERITIES + ("waived",), 0))
            counts["waived" if is_waived(f) else f["severity"]] += 1
    return [(std, clause, counts) for (std, clause), counts in rows.items()]


def clients(report: dict) -> list[tuple[str | None, list[dict]]]:
    """[(client id, findings), ...] sorted by client id; CB-wide findings (client null) last."""
    by_client: dict[str | None, list[dict]] = {}
    for f in report["findings"]:
        by_client.setdefault(f["client"], []).append(f)
    named = sorted(k for k in by_client if k is not None)
    return [(k, by_client[k]) for k in named] + ([(None, by_client[None])] if None in by_client else [])


def findings_first(report: dict) -> list[tuple[str, list[tuple[dict, list[dict]]]]]:
    """[(group, [(requirement, findings), ...]), ...]: open findings by severity (major,
    minor, observation), then the waived ones, each group in clause order and each finding
    exactly once. Empty groups are left out."""
    by_rule = findings_by_rule(report)
    groups: dict[str, list[tuple[dict, list[dict]]]] = {g: [] for g in SEVERITIES + ("waived",)}
    for r in report["requirements"]:
        mine: dict[str, list[dict]] = {}
        for f in by_rule.get(r["id"], []):
            mine.setdefault("waived" if is_waived(f) else f["severity"], []).append(f)
        for group, found in mine.items():
            groups[group].append((r, found))
    return [(g, rows) for g, rows in groups.items() if rows]


def severity_counts(findings: list[dict], include_waived: bool = False) -> dict[str, int]:
    counts = dict.fromkeys(SEVERITIES, 0)
    for f in findings:
        if include_waived or not is_waived(f):
            counts[f["severity"]] = counts.get(f["severity"], 0) + 1
    return counts


def location(item: dict) -> str:
    """file:line as editors and terminals understand it; line may be null."""
    return item["file"] + (f":{item['line']}" if item.get("line") else "")


def manual_requirements(report: dict) -> list[dict]:
    return [r for r in report["requirements"] if r["status"] == "manual"]


def is_table(value) -> bool:
    """A parameter value that is a list of rows (mappings), like the audit-time table."""
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def table_columns(rows: list[dict]) -> list[str]:
    cols: list[str] = []
    for row in rows:
        cols += [k for k in row if k not in cols]
    return cols


def scalar_text(value) -> str:
    """A parameter value as a reader would write it (YAML-like, not Python reprs)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(scalar_text(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {scalar_text(v)}" for k, v in value.items())
    return str(value)


def history_run(report: dict) -> dict:
    """This report as one entry of a history's "runs" list (see normalise_history)."""
    sev = severity_counts(report["findings"], include_waived=True)
    return {"as_of": report["as_of"], "findings": len(report["findings"]), **sev}


def normalise_history(history: dict, report: dict) -> list[dict]:
    """Validates a history and returns its runs sorted by as_of, with this report's own run
    added unless the history already has a run on the same as_of.

    Shape: {"runs": [{"as_of": "YYYY-MM-DD", "findings": int, "major": int, "minor": int,
    "observation": int}, ...]}. Only as_of is required; a count missing from a run leaves a
    gap in that line. Other keys are ignored. A malformed history raises ValueError: a chart
    drawn from half a history would mislead.
    """
    if not isinstance(history, dict) or not isinstance(history.get("runs"), list):
        raise ValueError('history must be a mapping {"runs": [...]}')
    runs: dict[str, dict] = {}
    for i, run in enumerate(history["runs"]):
        if not isinstance(run, dict) or not isinstance(run.get("as_of"), str) or not _DATE.match(run["as_of"]):
            raise ValueError(f"history run {i}: needs as_of as YYYY-MM-DD")
        if run["as_of"] in runs:
            raise ValueError(f"history run {i}: a second run on {run['as_of']}")
        clean = {"as_of": run["as_of"]}
        for key in HISTORY_KEYS:
            if key in run:
                value = run[key]
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    raise ValueError(f"history run {i} ({run['as_of']}): {key} must be a count, got {value!r}")
                clean[key] = value
        runs[run["as_of"]] = clean
    runs.setdefault(report["as_of"], history_run(report))
    return [runs[k] for k in sorted(runs)]
