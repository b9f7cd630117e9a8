"""Something to apply to (issue 11): a requirement is conforming only when the input held at least
one fact a judged alternative of it applies to: of its kind, of the sort it is about (an enum
field with the values every alternative asks for), with the dates its conditions need; a
derived kind counts by its facts. Both evaluators count them alike."""
import datetime as dt
from pathlib import Path

import pytest

from checker.catalog.applicability import applicability, applies_text
from checker.engine.evaluate import evaluate
from checker.engine.reference import reference_evaluation
from checker.pipeline import load_input, run_check
from tests.helpers import records_folder, shipped_by_id

AS_OF = dt.date(2025, 6, 30)
CLIENT = {"type": "client", "id": "c1", "name": "Acme Hosting Ltd"}
GRANT = {"type": "decision", "id": "d1", "client": "c1", "decision_type": "grant", "date": "2024-03-10"}
CERTIFICATE = {"type": "certificate", "id": "k1", "client": "c1", "decision": "d1", "number": "SM-1",
               "status": "active", "effective_date": "2024-03-10", "expiry_date": "2027-03-09"}


@pytest.fixture(scope="module")
def catalog():
    return shipped_by_id()


def _folder(path: Path, records: list[dict]) -> Path:
    return records_folder(path, [CLIENT, *records])


def _requirement(path: Path, rule, params) -> dict:
    return run_check(path, [rule], params, AS_OF)["requirements"][0]


def test_what_each_rule_applies_to(catalog):
    rules, _ = catalog

    def described(rule_id):
        return [applies_text(b) for b in applicability(rules[rule_id]).values()]
    # a kind with a field value, and a date present
    assert described("CRT006") == ["certificate with status == 'active', having expiry_date"]
    assert described("SUS003") == ["decision with decision_type == 'suspend', having time_limit_date and date"]
    # a value only one alternative asks for is what it finds wrong, not the sort of fact
    assert described("TRF001") == ["audit with audit_type == 'transfer'",
                                   "audit with audit_type == 'transfer', having transferred_certificate_expiry"]
    assert set(described("DEC011")) == {"decision with decision_type in ['grant', 'maintain', 'renew', 'restore', "
                                        "'expand']"}
    # a date inside an optional object
    assert described("AUD004") == ["audit having closing_meeting.date"]
    # fields that are not dates are what the check judges: they never narrow what it applies to
    assert described("TEAM011") == ["team_assignment with role in ['leader', 'auditor', 'auditor_in_training', "
                                    "'technical_expert']"]
    assert set(described("CRT008")) == {"certificate"}
    # a derived kind, and one whose facts are the problems themselves (no population to count);
    # derived dates are the check's own reasoning, not what it applies to
    assert described("CYC003") == ["certified_year"]
    assert described("CRT020") == ["the input as a whole (the facts it reads exist only where something is wrong)"]
    assert described("CRT021") == ["certificate with status in ['active', 'suspended'], having expiry_date"]


def test_no_record_of_the_sort_it_is_about_is_no_pass(tmp_path, catalog):
    rules, params = catalog
    req = _requirement(_folder(tmp_path / "grant", [GRANT, CERTIFICATE]), rules["CRT007"], params)
    assert req["status"] == "not_assessed"
    assert req["reason"] == ("nothing it applies to was in the input: no decision with decision_type == 'suspend', "
                             "having date")
    assert req["based_on"]["alternatives"][0]["applied_to"] == 0
    # A suspension naming its certificate, which was then shown suspended: judged, conforming.
    suspended = [GRANT, {"type": "decision", "id": "d2", "client": "c1", "decision_type": "suspend",
                         "date": "2025-01-10", "certificate": "k1"}, dict(CERTIFICATE, status="suspended")]
    req = _requirement(_folder(tmp_path / "suspended", suspended), rules["CRT007"], params)
    assert (req["status"], req["based_on"]["alternatives"][0]["applied_to"]) == ("conforming", 1)


def test_no_date_to_judge_is_no_pass(tmp_path, catalog):
    rules, params = catalog
    undated = {"type": "certificate", "id": "k1", "client": "c1", "number": "SM-1", "status": "active"}
    req = _requirement(_folder(tmp_path / "undated", [undated]), rules["CRT006"], params)
    assert req["status"] == "not_assessed" and "no certificate with status == 'active', having expiry_date" in req["reason"]
    dated = dict(undated, expiry_date="2027-03-09")
    assert _requirement(_folder(tmp_path / "dated", [dated]), rules["CRT006"], params)["status"] == "conforming"


def test_no_fact_of_a_derived_kind_is_no_pass(tmp_path, catalog):
    rules, params = catalog
    audit = {"type": "audit", "id": "a1", "client": "c1", "audit_type": "stage2", "start_date": "2025-02-03"}
    # Certified from March 2025: no full calendar year before 2025 to have had a surveillance in.
    young = {"type": "certificate", "id": "k1", "client": "c1", "number": "SM-1", "effective_date": "2025-03-10",
             "expiry_date": "2028-03-09"}
    req = _requirement(_folder(tmp_path / "young", [audit, young]), rules["CYC003"], params)
    assert (req["status"], req["reason"]) == ("not_assessed", "nothing it applies to was in the input: no certified_year")
    older = dict(young, effective_date="2023-03-10", expiry_date="2026-03-09")
    req = _requirement(_folder(tmp_path / "older", [audit, older]), rules["CYC003"], params)
    assert req["status"] == "nonconforming" and req["based_on"]["alternatives"][0]["applied_to"] == 1   # 2024


def test_both_evaluators_count_alike_and_a_cb_wide_record_once(tmp_path, catalog):
    rules, params = catalog
    people = [{"type": "personnel", "id": f"p{i}", "name": f"P{i}", "employment": "external"} for i in range(3)]
    records = [GRANT, CERTIFICATE, *people, {"type": "client", "id": "c2", "name": "Beta"},
               {"type": "decision", "id": "d3", "client": "c2", "decision_type": "suspend", "date": "2025-01-10"}]
    loaded = load_input(_folder(tmp_path / "cb", records))
    picked = [rules[r] for r in ("CRT007", "PERS002", "CRT003")]
    engine = evaluate(loaded.index, picked, params.values(), AS_OF)
    reference = reference_evaluation(loaded.index, picked, params.values(), AS_OF)
    assert engine.applied == reference.applied
    assert (engine.applied[("CRT007", 0)], engine.applied[("PERS002", 0)], engine.applied[("CRT003", 0)]) == (1, 3, 1)


def test_a_fixture_case_marked_not_judged_must_leave_the_rule_nothing_to_apply_to(catalog):
    """`judged: false` in a rule's fixtures (checker/ruletest/) is held to what it says."""
    from checker.catalog.loader import default_rules_dir
    from checker.ruletest.fixtures import load_fixture
    from checker.ruletest.runner import run_case

    rules, params = catalog
    fixture = load_fixture(rules["CRT006"], default_rules_dir())

    def run(case):
        return run_case(rules["CRT006"], params, {**fixture, "cases": [*fixture["cases"], case]}, case,
                        default_rules_dir())
    undated = {"type": "certificate", "id": "k9", "client": "c1", "number": "SM-9", "status": "active"}
    assert run({"name": "no expiry date", "judged": False, "expect": [], "records": [undated]}).ok
    # Unmarked, the same case is no conforming case; marked, a judged case fails.
    assert not run({"name": "no expiry date", "expect": [], "records": [undated]}).ok
    dated = dict(undated, expiry_date="2099-01-01")
    result = run({"name": "dated", "judged": False, "expect": [], "records": [dated]})
    assert not result.ok and "marked judged: false, but the rule is conforming" in result.problems[0]
