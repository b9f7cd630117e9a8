"""The fixture runner's own behaviour: a case's `params` reach the engine and the reference
evaluator for that case only, and a wrong one fails the case saying where and why."""
import copy

from checker.catalog.loader import default_rules_dir, load_catalog
from checker.catalog.parameters import load_parameters, with_overrides
from checker.ruletest.fixtures import load_fixture
from checker.ruletest.runner import run_case

RULES_DIR = default_rules_dir()
PARAMS, _ = load_parameters(RULES_DIR / "parameters.yaml")
(REP004,), _ = load_catalog(RULES_DIR, PARAMS, {"REP004"})
LATE_BY_DEFAULT = {"name": "report on day 31", "expect": ["rep1"],
                   "records": [{"type": "audit_report", "id": "rep1", "audit": "a-sv1", "issued_date": "2025-04-11"}]}


def run(case):
    fixture = copy.deepcopy(load_fixture(REP004, RULES_DIR))
    fixture["cases"].append(case)
    return run_case(REP004, PARAMS, fixture, case, RULES_DIR)


def test_case_params_change_the_verdict_for_that_case_only():
    assert run(LATE_BY_DEFAULT).ok
    relaxed = {**LATE_BY_DEFAULT, "params": {"audit_report_max_days": 45}}
    result = run(relaxed)
    assert not result.ok and "expected findings on {'rep1': 1}, got {}" in result.problems[0]
    assert run({**relaxed, "expect": []}).ok
    assert PARAMS.values()["audit_report_max_days"] == 30 and not PARAMS.items["audit_report_max_days"].overridden


def test_wrong_case_params_fail_the_case_with_their_location():
    result = run({**LATE_BY_DEFAULT, "params": {"audit_report_max_dayz": 45, "cycle_years": "three"}})
    assert not result.ok
    assert any("9.4.8.1-audit-report-issued-in-time.test.yaml at /cases/" in p and "unknown parameter "
               "'audit_report_max_dayz'" in p for p in result.problems)
    assert any("cycle_years must have the same kind of value" in p for p in result.problems)


def test_overrides_leave_the_catalog_parameters_as_they_were():
    changed, problems = with_overrides(PARAMS, {"cycle_years": 4}, "test")
    assert not problems and changed.values()["cycle_years"] == 4 and changed.items["cycle_years"].overridden
    assert PARAMS.values()["cycle_years"] == 3
