"""`cbcheck prescreen`: an accreditation body's first look at a CB's submission.

open the untrusted submission safely (archive.py) -> read and validate the records ->
completeness view (completeness.py) -> the normal gap report -> remove the private copy,
always. render.py prints the result, completeness first.

Exit codes (prescreen_exit_code):
  2  the submission was refused as a whole, some of its files were refused, or the records
     have input or engine errors: what was checked is not what the CB sent, or not all of it
     could be evaluated;
  1  records the submission should hold are missing (completeness gaps), or the gap report
     has unwaived findings at or above `fail_on` (default major);
  0  otherwise. Requirements not assessed because a record type is absent do not count:
     a CB may truly have had no appeals or complaints; they are listed in the view.
"""
from __future__ import annotations

import datetime as dt

from checker.catalog.parameters import Parameters
from checker.errors import sort_problems
from checker.pipeline import input_evidence, input_summary, load_input, run_check
from checker.prescreen.archive import Limits, SubmissionInfo, open_submission
from checker.prescreen.completeness import completeness
from checker.report.model import build_report, exit_code

PRESCREEN_FORMAT = "cbcheck-prescreen/1"

__all__ = ["Limits", "open_submission", "completeness", "prescreen", "prescreen_exit_code", "PRESCREEN_FORMAT"]


def _unevaluated_report(source: str, loaded, refused, rules, params: Parameters, as_of: dt.date) -> dict:
    """The gap report when files were refused: nothing is evaluated, as with input errors,
    since a report on part of the submission could pass what it never saw; the refusals are
    listed among the errors with the records' own problems."""
    errors = [p.as_dict() for p in sort_problems(list(refused) + list(loaded.problems))]
    return build_report(rules=rules, findings=[], errors=errors, params=params, as_of=as_of.isoformat(),
                        input_summary=input_summary(source, loaded, 0, 0), evidence=input_evidence(loaded),
                        failed_scopes={}, input_ok=False)


def _result(info: SubmissionInfo, view: dict | None, report: dict | None) -> dict:
    return {"prescreen_format": PRESCREEN_FORMAT, "submission": info.as_dict(), "completeness": view, "report": report}


def prescreen_exit_code(result: dict, fail_on: str = "major") -> int:
    report = result["report"]
    if report is None or result["submission"]["refused"] or report["errors"]:
        return 2
    if result["completeness"]["summary"]["gaps"]:
        return 1
    return exit_code(report, fail_on)


def prescreen(path, rules, params: Parameters, as_of: dt.date, limits: Limits | None = None, *,
              fail_on: str = "major", jobs: int = 1, on_partition=None, tmp_root=None) -> tuple[dict, int]:
    """Pre-screen the submission at `path` (a folder or a .zip). Returns the result
    (documented by prescreen.schema.json) and the exit code. Paths in the result are the
    submission as given and paths inside it, never the temporary copy, so the same
    submission, rules, parameters and `as_of` give the same result."""
    source = str(path)
    opened = open_submission(path, limits, tmp_root=tmp_root)
    try:
        folder, refused, _cleanup = opened
        if folder is None:
            result = _result(opened.info, None, None)
        else:
            loaded = load_input(folder)
            view = completeness(loaded, rules, as_of, params=params)
            if refused:
                report = _unevaluated_report(source, loaded, refused, rules, params, as_of)
            else:
                report = run_check(folder, rules, params, as_of, jobs, on_partition, loaded=loaded)
                report["input"]["path"] = source
            result = _result(opened.info, view, report)
    finally:
        opened.cleanup()
    return result, prescreen_exit_code(result, fail_on)
