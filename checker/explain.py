"""`cbcheck explain`: why a finding fired, or why a requirement passed for a client.

The real check runs first (the engine is the evaluator of record); only what it produced is
explained, by the explaining variant of the reference evaluator (engine/explain.py). A
fingerprint the run did not produce is a usage error, never an invented explanation; an
explanation that disagrees with the engine's finding is an internal error (ExplanationMismatch).
"""
from __future__ import annotations

import datetime as dt
import re

from checker import __version__
from checker.catalog.loader import Rule
from checker.catalog.parameters import Parameters
from checker.engine.explain import Explainer
from checker.engine.partition import CB_PARTITION
from checker.errors import Problem, ProblemsFound
from checker.importers.database_url import shown_source
from checker.pipeline import LoadedInput, judged_rules, load_input, run_check
from checker.report.explanation import EXPLANATION_FORMAT, with_explanations

JUDGED = ("nonconforming", "conforming")


def explain_fingerprint(path, rules: list[Rule], params: Parameters, as_of: dt.date, fingerprint: str,
                        jobs: int = 1, mapping=None, certsearch=None) -> dict:
    """The explanation document of the finding with `fingerprint` in this run."""
    loaded, report = _checked(path, rules, params, as_of, jobs, mapping, certsearch)
    found = [f for f in report["findings"] if f["fingerprint"] == fingerprint.lower()]
    if not found:
        raise ProblemsFound([Problem(
            "FINGERPRINT", None, "", f"this run (as of {as_of.isoformat()}) has no finding with fingerprint "
            f"{fingerprint!r}; it has {len(report['findings'])} finding(s)",
            "a fingerprint from the JSON report of the same input, rules, parameters and --as-of "
            "(cbcheck check PATH --as-of DATE --format json); explain only explains findings the check produced")])
    finding = found[0]
    rule = next(r for r in rules if r.id == finding["rule_id"])
    explainer = Explainer(loaded.index, rules, params.values(), as_of)
    return _document(path, rule, params, as_of, finding["client"], "nonconforming", None,
                     [explainer.explain_finding(finding)], None)


def explain_rule(path, rule: Rule, params: Parameters, as_of: dt.date, client: str | None,
                 jobs: int = 1, mapping=None, certsearch=None) -> dict:
    """Every finding of `rule` for `client` (None: the CB-wide records) explained, or, when it
    has none there, why it passed."""
    loaded, report = _checked(path, [rule], params, as_of, jobs, mapping, certsearch)
    _check_client(loaded, rule, client)
    requirement = next(r for r in report["requirements"] if r["id"] == rule.id)
    if requirement["status"] not in JUDGED:
        return _document(path, rule, params, as_of, client, requirement["status"], requirement["reason"], [], None)
    explainer = Explainer(loaded.index, [rule], params.values(), as_of)
    mine = [f for f in report["findings"] if f["rule_id"] == rule.id and f["client"] == client]
    if mine:
        return _document(path, rule, params, as_of, client, "nonconforming", None,
                         [explainer.explain_finding(f) for f in mine], None)
    judged = judged_rules([rule], params, loaded)[0]
    passed = explainer.explain_pass(judged, client if client is not None else CB_PARTITION)
    return _document(path, rule, params, as_of, client, "conforming", None, [], passed)


def explain_report(report: dict, loaded: LoadedInput, rules: list[Rule], params: Parameters,
                   as_of: dt.date) -> dict[str, dict]:
    """The explanation of every finding of a check's report, by fingerprint."""
    explainer = Explainer(loaded.index, rules, params.values(), as_of)
    return {f["fingerprint"]: explainer.explain_finding(f) for f in report["findings"]}


def reports_by_format(report: dict, loaded: LoadedInput, rules: list[Rule], params: Parameters, as_of: dt.date,
                      formats: set[str], explain_all: bool) -> dict[str, dict]:
    """The report each output format of a check renders. Explanations are computed only when an
    output shows them: the HTML report always (its "why" of each finding), the other formats
    with `explain_all` (check --explain) only, so a JSON report without it is byte for byte what
    it was, whatever other formats the run writes."""
    if not explain_all and "html" not in formats:
        return {fmt: report for fmt in formats}
    explained = with_explanations(report, explain_report(report, loaded, rules, params, as_of))
    return {fmt: explained if explain_all or fmt == "html" else report for fmt in formats}


def _checked(path, rules, params, as_of, jobs, mapping, certsearch) -> tuple[LoadedInput, dict]:
    """The real check of the input (`certsearch`: a CertSearch workbook's options); input or
    engine errors stop here (nothing to explain)."""
    loaded = load_input(path, mapping, certsearch)
    if loaded.problems:
        raise ProblemsFound(loaded.problems)
    report = run_check(path, rules, params, as_of, jobs, loaded=loaded)
    if report["errors"]:
        raise ProblemsFound([Problem(e["file"], e["line"], e["pointer"], e["message"], e["expected"], kind=e["kind"])
                             for e in report["errors"]])
    return loaded, report


def _check_client(loaded: LoadedInput, rule: Rule, client: str | None) -> None:
    if client is None:
        return
    record = loaded.index.by_id.get(client)
    if record is None or record.type != "client":
        raise ProblemsFound([Problem("--client", None, "", f"no client with id {client!r} in the input",
                                     "the id of a client record, or --cb-wide for the CB's own records")])
    if rule.scope == "cb":
        raise ProblemsFound([Problem("--client", None, "", f"{rule.id} judges the CB as a whole, not one client",
                                     "--cb-wide instead of --client")])


def _document(path, rule: Rule, params: Parameters, as_of: dt.date, client, status: str, reason,
              findings: list[dict], passed) -> dict:
    return {"explanation_format": EXPLANATION_FORMAT, "tool": {"name": "cbcheck", "version": __version__},
            "as_of": as_of.isoformat(), "input": shown_source(path), "rule": rule_section(rule, params),
            "client": client, "status": status, "reason": reason, "findings": findings, "passed": passed}


def rule_section(rule: Rule, params: Parameters) -> dict:
    """The rule in full: its catalog entry, its check as written, the parameters it uses."""
    checks = [{"alternative": alt + 1, "label": check.label or None,
               "match": [{"bind": b.name, "kind": b.kind, "where": [c.source for c in b.conditions]}
                         for b in check.bindings],
               "absent": [{"kind": a.kind, "where": [c.source for c in a.conditions]} for a in check.absent],
               "finding": {"record": check.subject, "field": check.subject_field}}
              for alt, check in enumerate(rule.checks)]
    used = sorted({name for check in checks for clause in check["match"] + check["absent"]
                   for cond in clause["where"] for name in re.findall(r"\$([A-Za-z_][A-Za-z0-9_]*)", cond)}
                  | set(re.findall(r"\{\$([A-Za-z_][A-Za-z0-9_]*)\}", rule.message + "".join(
                      c.message for c in rule.checks))) - {"as_of"})
    return {**rule.summary(), "check": checks,
            "parameters": [{"name": n, "value": params.items[n].value, "verify": params.items[n].verify}
                           for n in used if n in params.items]}
