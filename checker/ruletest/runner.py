"""Runs rule fixtures: every case through the whole pipeline (files, validation, partitions,
durable_rules in a worker) with only its rule loaded, and through the reference evaluator,
which must agree with the engine finding for finding. A rule's cases share one worker
(checker.engine.batch): a process start per rule, not per case."""
from __future__ import annotations

import datetime as dt
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from checker.catalog.evidence import NOTHING_TO_APPLY_TO
from checker.catalog.loader import Rule
from checker.catalog.parameters import Parameters
from checker.engine.batch import Request, batch_evaluator, evaluate_many
from checker.engine.driver import Evaluation
from checker.engine.reference import reference_findings
from checker.pipeline import LoadedInput, judged_rules, load_input, run_check, withheld_records
from checker.plain_text import wrap
from checker.ruletest.fixtures import case_as_of, case_records, case_rule, load_fixture


@dataclass
class CaseResult:
    rule_id: str
    name: str
    ok: bool
    problems: list[str] = field(default_factory=list)
    expected_findings: int = 0


def _expectation_problems(expect: list, findings: list[dict]) -> list[str]:
    """What differs between the findings a case expects and those the pipeline gave."""
    problems = []
    want = Counter(e if isinstance(e, str) else e["record"] for e in expect)
    got = Counter(f["record_id"] for f in findings)
    if want != got:
        problems.append(f"expected findings on {dict(sorted(want.items()))}, got {dict(sorted(got.items()))}: "
                        + " | ".join(f["message"] for f in findings))
    for e in expect:
        if isinstance(e, dict):
            mine = [f for f in findings if f["record_id"] == e["record"]]
            if "pointer" in e and not any(f["pointer"].endswith(e["pointer"]) for f in mine):
                problems.append(f"no finding on {e['record']} points at {e['pointer']}: "
                                f"{[f['pointer'] for f in mine]}")
            if "message_contains" in e and not any(e["message_contains"] in f["message"] for f in mine):
                problems.append(f"no finding on {e['record']} says {e['message_contains']!r}: "
                                f"{[f['message'] for f in mine]}")
    return problems


def _judged_problems(requirement: dict, judged: bool = True) -> list[str]:
    """A case the rule cannot judge tests nothing: "no finding" must mean "judged, no gap";
    a case marked `judged: false` must leave the rule nothing to apply to, and say so."""
    if not judged:
        if requirement["status"] == "not_assessed" and requirement["reason"].startswith(NOTHING_TO_APPLY_TO):
            return []
        return [f"the case is marked judged: false, but the rule is {requirement['status']} on it"
                + (f": {requirement['reason']}" if requirement["reason"] else "")]
    if requirement["status"] in ("conforming", "nonconforming"):
        return []
    return [f"the rule is {requirement['status']} on this case: {requirement['reason']}; give it the records it "
            "needs (another client's, if the case is about their absence)"]


@dataclass
class _Prepared:
    """A case read and loaded, ready for the engine: `request` is what the pipeline will ask
    the engine to evaluate (None when it will ask nothing: input errors tied to no record)."""
    case: dict
    rule: Rule
    params: Parameters
    as_of: dt.date
    folder: str
    loaded: LoadedInput
    request: Request | None


def _prepare(rule: Rule, params: Parameters, fixture: dict, case: dict, rules_dir: Path, folders: ExitStack
             ) -> _Prepared | CaseResult:
    """The case's records written to a folder of their own and read back as the pipeline reads
    a CB's export, or the failed result when its `params` are wrong."""
    as_of = case_as_of(fixture, case)
    rule, params, problems = case_rule(rule, params, fixture, case, rules_dir)
    if rule is None:
        return CaseResult(fixture["rule"], case["name"], False, problems)
    folder = folders.enter_context(tempfile.TemporaryDirectory(prefix="cbcheck-fixture-"))
    # Dates stay strings in the file, as a CB's export would have them.
    text = yaml.safe_dump(case_records(fixture, case), sort_keys=False, allow_unicode=True)
    (Path(folder) / "records.yaml").write_text(text, encoding="utf-8")
    loaded = load_input(folder)
    withheld = withheld_records(loaded)
    request = None if withheld is None else Request(loaded.index, judged_rules([rule], params, loaded),
                                                    params.values(), as_of, withheld)
    return _Prepared(case, rule, params, as_of, folder, loaded, request)


def _judge(prepared: _Prepared, evaluation: Evaluation | None) -> CaseResult:
    rule, params, case, loaded = prepared.rule, prepared.params, prepared.case, prepared.loaded
    result = CaseResult(rule.id, case["name"], True)
    report = run_check(prepared.folder, [rule], params, prepared.as_of, loaded=loaded,
                       evaluator=batch_evaluator(prepared.request, evaluation))
    if report["errors"]:
        result.problems += [f"input/engine error: {e['file']}:{e['line']} {e['pointer']} {e['message']}"
                            for e in report["errors"]]
    else:
        expect = case["expect"] or []
        result.expected_findings = len(expect)
        result.problems += _judged_problems(report["requirements"][0], case.get("judged", True))
        result.problems += _expectation_problems(expect, report["findings"])
        reference = reference_findings(loaded.index, judged_rules([rule], params, loaded), params.values(),
                                       prepared.as_of)
        if reference != report["findings"]:
            result.problems.append("the reference evaluator disagrees with the engine: reference "
                                   f"{[(f['record_id'], f['message']) for f in reference]}")
    result.ok = not result.problems
    return result


def run_cases(rule: Rule, params: Parameters, fixture: dict, cases: list[dict], rules_dir: Path) -> list[CaseResult]:
    """`cases` of the rule's fixture, in order: each through the whole pipeline (its own folder,
    reading, validation, partitions, durable_rules in a worker, the report) and the reference
    evaluator. The engine evaluates every case's partitions in one worker pool, each case with
    its own compiled rule (a case's `as_of` and `params` are compiled into it)."""
    with ExitStack() as folders:
        prepared = [_prepare(rule, params, fixture, case, rules_dir, folders) for case in cases]
        requests = [p.request for p in prepared if isinstance(p, _Prepared) and p.request is not None]
        evaluations = iter(evaluate_many(requests))
        return [p if isinstance(p, CaseResult) else _judge(p, p.request and next(evaluations)) for p in prepared]


def run_case(rule: Rule, params: Parameters, fixture: dict, case: dict, rules_dir: Path) -> CaseResult:
    [result] = run_cases(rule, params, fixture, [case], rules_dir)
    return result


def run_fixtures(rule: Rule, params: Parameters, rules_dir: Path) -> list[CaseResult]:
    """Every case of the rule's fixture file, in its order, then a failed "(coverage)" result
    for a missing violating or conforming case."""
    fixture = load_fixture(rule, rules_dir)
    results = run_cases(rule, params, fixture, fixture["cases"], rules_dir)
    if not any(r.expected_findings for r in results):
        results.append(CaseResult(rule.id, "(coverage)", False, ["no violating case (expect with findings)"]))
    if not any(not (c["expect"] or []) and c.get("judged", True) for c in fixture["cases"]):
        results.append(CaseResult(rule.id, "(coverage)", False, ["no conforming case (expect: [], judged)"]))
    return results


def run_catalog(rules: list[Rule], params: Parameters, rules_dir: Path) -> Iterator[CaseResult]:
    """Every automated rule's fixtures, case by case; a fixture file that cannot be read is one
    failed result naming it, and the other rules still run."""
    for rule in (r for r in rules if r.automated):
        try:
            yield from run_fixtures(rule, params, rules_dir)
        except (OSError, ValueError) as exc:
            yield CaseResult(rule.id, "(fixture file)", False, [str(exc)])


def describe_failure(result: CaseResult) -> str:
    return "\n".join([f"FAIL {result.rule_id} - {result.name}"] + [wrap(p, "     ") for p in result.problems])


def summary_line(results: list[CaseResult]) -> str:
    failed = sum(not r.ok for r in results)
    return f"{len(results) - failed} passed, {failed} failed"
