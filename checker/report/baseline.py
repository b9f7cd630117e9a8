"""Baseline: compare this run's findings with a previous JSON report by fingerprint.

A nightly run wants to fail on what got worse, not on the gaps everyone already knows about.
Fingerprints (rule, matched records, field; never line numbers) identify a finding across
runs, so a finding is `new` when the previous report lacks its fingerprint and `persisting`
when it has it. A previous finding that is gone is `resolved` only when its rule was really
evaluated this time (requirement status conforming or nonconforming); when this run could not
judge it (input or engine errors, records not supplied, rule not applicable or not selected)
it is `unverified`, because absence of evidence is not a fix; so is a finding of a part of the
requirement (an alternative of its rule) that this run did not assess.

Errors: `load_report` returns (None, problems) for a file that is unreadable, not JSON or not a
cbcheck-report/1 report; `apply_baseline` raises `BaselineError` (a `ProblemsFound`, so the
CLI's usual handler lists the problems and exits 2) when handed such a report directly.
"""
from __future__ import annotations

import copy
import json
from collections import Counter
from functools import lru_cache
from pathlib import Path

from jsonschema import Draft202012Validator

from checker.errors import Problem, ProblemsFound, sort_problems
from checker.records.located import escape_pointer_token, load_json_document, unsound_values
from checker.report.model import REPORT_FORMAT, counts_for_exit

EVALUATED = ("conforming", "nonconforming")
HOW = "a JSON report written by `cbcheck check --format json --output FILE`"


class BaselineError(ProblemsFound):
    """The previous report cannot serve as a baseline; `.problems` says why and where."""


@lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    schema = json.loads((Path(__file__).with_name("report.schema.json")).read_text(encoding="utf-8"))
    return Draft202012Validator(schema)


def _pointer(path) -> str:
    return "".join("/" + escape_pointer_token(p) for p in path)


def validate_report(data, file: str, line_of=None) -> list[Problem]:
    """Problems that stop `data` from being a cbcheck-report/1 report. `line_of(pointer)`
    locates them when the caller knows the lines."""
    def at(pointer):
        return line_of(pointer) if line_of else None

    if not isinstance(data, dict):
        return [Problem(file, at(""), "", f"not a cbcheck report: the file holds a JSON {type(data).__name__}", HOW)]
    fmt = data.get("report_format")
    if fmt is None:
        return [Problem(file, at(""), "", "not a cbcheck report: there is no report_format key", HOW)]
    if fmt != REPORT_FORMAT:
        return [Problem(file, at("/report_format"), "/report_format", f"report_format is {fmt!r}; this cbcheck "
                        f"compares with {REPORT_FORMAT} reports only",
                        f"a {REPORT_FORMAT} report: re-run the previous check with this cbcheck "
                        f"(`cbcheck check --format json --output FILE`), or drop --baseline")]
    problems = []
    for err in _validator().iter_errors(data):
        # Keys are only ever added within a report_format, so a report from a newer cbcheck
        # may carry keys this schema does not know: not a reason to refuse it.
        if err.validator == "additionalProperties":
            continue
        pointer = _pointer(err.absolute_path)
        problems.append(Problem(file, at(pointer), pointer, f"malformed report: {err.message}",
                                f"{HOW}, unedited"))
    return sort_problems(problems)


def load_report(path) -> tuple[dict | None, list[Problem]]:
    """The report in `path`, or None and every problem that stops it being a baseline."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        return None, [Problem(file, None, "", f"cannot read the previous report: {exc.strerror or exc}", HOW)]
    except UnicodeDecodeError as exc:
        return None, [Problem(file, None, "", f"not UTF-8 text ({exc.reason} at byte {exc.start})", HOW)]
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, [Problem(file, exc.lineno, "", f"not valid JSON: {exc.msg} (column {exc.colno})", HOW)]
    problems = validate_report(data, file)
    if problems or unsound_values(data, file):
        # Line numbers cost a YAML composition of the whole file: only worth it to explain a failure.
        docs, unsound = load_json_document(text, file)
        line_of = docs[0].line_of if docs else None
        return None, sort_problems(validate_report(data, file, line_of) + unsound)
    return data, []


def _alternative_assessed(finding: dict, requirement: dict) -> bool:
    """Whether this run assessed the part of the requirement (the rule's alternative, named by
    the finding's variant) the finding came from: a requirement judged in part cannot resolve
    a finding of a part it did not judge."""
    parts = (requirement.get("based_on") or {}).get("alternatives") or []
    if all(part["assessed"] for part in parts):
        return True
    return any(part["assessed"] and part["label"] is not None and part["label"] == finding.get("variant")
               for part in parts)


def apply_baseline(report: dict, previous: dict, source: str = "--baseline") -> dict:
    """A new report whose findings carry baseline_status new/persisting, with the `baseline`
    counts and the previous findings that are gone (`resolved_findings`, `unverified_findings`).
    Raises BaselineError when `previous` is not a cbcheck-report/1 report (`source` names it
    in the problems)."""
    problems = validate_report(previous, source)
    if problems:
        raise BaselineError(problems)
    out = copy.deepcopy(report)
    # Counted, not a set: two findings may share a fingerprint, and one of two fixed is one resolved.
    left = Counter(f["fingerprint"] for f in previous["findings"])
    for finding in out["findings"]:
        if left[finding["fingerprint"]] > 0:
            left[finding["fingerprint"]] -= 1
            finding["baseline_status"] = "persisting"
        else:
            finding["baseline_status"] = "new"
    evaluated = {r["id"]: r for r in out["requirements"] if r["status"] in EVALUATED}
    resolved, unverified = [], []
    for old in reversed(previous["findings"]):   # of duplicates, the last ones are the gone ones
        if left[old["fingerprint"]] > 0:
            left[old["fingerprint"]] -= 1
            gone = copy.deepcopy(old)
            if old["rule_id"] in evaluated and _alternative_assessed(old, evaluated[old["rule_id"]]):
                gone["baseline_status"] = "resolved"
                resolved.append(gone)
            else:
                gone["baseline_status"] = "unverified"
                unverified.append(gone)
    resolved.reverse()
    unverified.reverse()
    statuses = Counter(f["baseline_status"] for f in out["findings"])
    out["baseline"] = {"as_of": previous["as_of"], "new": statuses["new"], "persisting": statuses["persisting"],
                       "resolved": len(resolved), "unverified": len(unverified),
                       "previous_errors": len(previous["errors"])}
    out["resolved_findings"] = resolved
    out["unverified_findings"] = unverified
    return out


def exit_code_new(report: dict, fail_on: str) -> int:
    """--fail-on-new: 2 on errors, 1 when a new, unwaived finding at or above `fail_on`
    exists, else 0. Persisting findings never fail the run; that is the point of a baseline."""
    if report["errors"]:
        return 2
    if "baseline" not in report:
        raise ValueError("exit_code_new needs a report that went through apply_baseline")
    return 1 if any(f["baseline_status"] == "new" and counts_for_exit(f, fail_on) for f in report["findings"]) else 0
