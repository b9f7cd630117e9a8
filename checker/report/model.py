"""The report model: the JSON contract every output format is rendered from.

Documented by checker/report/report.schema.json. Everything in it is sorted and free of
clocks and absolute paths, so the same inputs, rules, parameters and --as-of give the same
bytes.
"""
from __future__ import annotations

from collections import Counter

from checker import __version__
from checker.catalog.evidence import evidence_basis, evidence_gaps, nothing_to_apply_to, partial_assessment
from checker.catalog.loader import SEVERITY_ORDER, Rule
from checker.catalog.parameters import Parameters
from checker.clauses import clause_sort_key
from checker.records.evidence import Evidence

REPORT_FORMAT = "cbcheck-report/1"
STATUSES = ("nonconforming", "error", "not_assessed", "conforming", "manual", "not_applicable")
FAIL_ON = ("major", "minor", "observation", "none")


def requirement_status(rule: Rule, findings: list[dict], evidence: Evidence, params: Parameters,
                       input_ok: bool, failed_scopes: dict[str, list[str]], applied: dict | None = None
                       ) -> tuple[str, str]:
    """(status, reason). `applied` is the evaluation's (rule id, alternative) -> facts each
    alternative applied to; without it (nothing was evaluated, as in prescreen's completeness
    view) whether the rule applied to anything is not judged."""
    if rule.id in params.not_applicable:
        return "not_applicable", params.not_applicable[rule.id]
    if not rule.automated:
        return "manual", rule.evidence
    if not input_ok:
        return "not_assessed", "the input has errors; nothing was evaluated until they are fixed"
    gaps = evidence_gaps(rule, evidence)
    if gaps:
        return "not_assessed", "; ".join(gaps)
    if failed_scopes.get(rule.scope):
        return "error", "not judged for partition(s) " + ", ".join(failed_scopes[rule.scope]) + "; see the errors"
    # Some alternatives judged, others not: a finding of a judged one stands, but no finding
    # is no pass while a part of the requirement went unjudged.
    partial = partial_assessment(rule, evidence)
    if findings:
        return "nonconforming", partial
    if partial:
        return "not_assessed", partial
    # No finding where nothing the rule applies to was there (no suspension, no certificate
    # with an expiry date) is no pass either.
    nothing = nothing_to_apply_to(rule, evidence, applied) if applied is not None else ""
    return ("not_assessed", nothing) if nothing else ("conforming", "")


def build_report(*, rules: list[Rule], findings: list[dict], errors: list[dict], params: Parameters,
                 as_of: str, input_summary: dict, evidence: Evidence, failed_scopes: dict[str, list[str]],
                 input_ok: bool, not_evaluated: dict | None = None, cycles: list[dict] | None = None,
                 people: list[dict] | None = None, applied: dict | None = None) -> dict:
    """The report. `cycles` (checker/cycles.py's client_cycles) adds `timelines` and `people`
    (checker/competence.py) adds `competence`, which only the HTML report draws and the JSON
    output leaves out (json_out.HTML_ONLY). `applied` (Evaluation.applied) says what each
    alternative applied to."""
    by_rule: dict[str, list[dict]] = {}
    for f in findings:
        by_rule.setdefault(f["rule_id"], []).append(f)
    requirements = []
    for rule in sorted(rules, key=lambda r: (r.standard, clause_sort_key(r.clause), r.id)):
        mine = by_rule.get(rule.id, [])
        status, reason = requirement_status(rule, mine, evidence, params, input_ok, failed_scopes, applied)
        requirements.append({
            "id": rule.id, "standard": rule.standard, "clause": rule.clause, "also_clauses": rule.also_clauses,
            "structure": rule.structure, "title": rule.title,
            "severity": rule.severity, "automation": "automated" if rule.automated else "manual",
            "status": status, "finding_count": len(mine), "reason": reason or None,
            "based_on": evidence_basis(rule, evidence, applied) if rule.automated else None,
            "requirement": rule.requirement, "remediation": rule.remediation,
        })
    status_counts = Counter(r["status"] for r in requirements)
    severity_counts = Counter(f["severity"] for f in findings)
    report = {
        "report_format": REPORT_FORMAT,
        "tool": {"name": "cbcheck", "version": __version__},
        "as_of": as_of,
        "input": input_summary,
        "parameters": [
            {"name": p.name, "value": p.value, "unit": p.unit or None, "clause": p.clause or None,
             "source": p.source or None, "verify": p.verify, "overridden": p.overridden,
             "default": p.overridden_from if p.overridden else p.value}
            for p in sorted(params.items.values(), key=lambda p: p.name)],
        "not_applicable": dict(sorted(params.not_applicable.items())),
        "summary": {
            "requirements": len(requirements),
            "status": {s: status_counts.get(s, 0) for s in STATUSES},
            "findings": len(findings),
            "severity": {s: severity_counts.get(s, 0) for s in SEVERITY_ORDER},
            "clients_with_findings": len({f["client"] for f in findings if f["client"]}),
            "errors": len(errors),
            **({"not_evaluated": not_evaluated} if not_evaluated else {}),
        },
        "requirements": requirements,
        "findings": findings,
        "errors": errors,
    }
    if cycles is not None:
        report["timelines"] = timelines(cycles, findings)
    if people is not None:
        report["competence"] = competence(people, findings)
    return report


def _person_of(finding: dict) -> str | None:
    if finding["record_type"] == "personnel":
        return finding["record_id"]
    return next((r["record_id"] for r in finding.get("related") or [] if r.get("record_type") == "personnel"), None)


def competence(people: list[dict], findings: list[dict]) -> list[dict]:
    """Per person their competences and on-site observations, with the findings of the
    personnel rules (PERS*) on them (`gaps`: fingerprint, rule id, severity)."""
    gaps: dict[str, list[dict]] = {}
    for f in findings:
        person = _person_of(f) if f["rule_id"].startswith("PERS") else None
        if person is not None:
            gaps.setdefault(person, []).append({"fingerprint": f["fingerprint"], "rule_id": f["rule_id"],
                                                "severity": f["severity"]})
    return [{**p, "gaps": sorted(gaps.get(p["person"], []), key=lambda g: (g["rule_id"], g["fingerprint"]))}
            for p in people]


def timelines(cycles: list[dict], findings: list[dict]) -> list[dict]:
    """Per client its cycle events and its findings placed at the date of their record
    (`undated`: the findings whose record has no date to place them at)."""
    by_client: dict[str, list[dict]] = {}
    for f in findings:
        if f["client"]:
            by_client.setdefault(f["client"], []).append(f)
    out = []
    for cycle in cycles:
        placed, undated = [], 0
        for f in by_client.get(cycle["client"], []):
            date = cycle["record_dates"].get(f["record_id"])
            if date is None:
                undated += 1
            else:
                placed.append({"date": date, "fingerprint": f["fingerprint"], "severity": f["severity"],
                               "rule_id": f["rule_id"], "record_id": f["record_id"]})
        placed.sort(key=lambda m: (m["date"], m["fingerprint"]))
        out.append({"client": cycle["client"], "events": cycle["events"], "findings": placed, "undated": undated})
    return out


def counts_for_exit(finding: dict, fail_on: str) -> bool:
    """Whether a finding can fail the run: at or above `fail_on` and not waived. Waived
    findings stay in the report (an assessor must see them) but a signed-off, unexpired
    waiver is exactly the decision not to fail a nightly run over them."""
    if fail_on == "none" or finding.get("waived"):
        return False
    return SEVERITY_ORDER[finding["severity"]] <= SEVERITY_ORDER[fail_on]


def exit_code(report: dict, fail_on: str) -> int:
    """0 clean, 1 unwaived findings at or above `fail_on`, 2 errors (input or engine)."""
    if report["errors"]:
        return 2
    return 1 if any(counts_for_exit(f, fail_on) for f in report["findings"]) else 0
