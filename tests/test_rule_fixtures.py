"""Every rule's fixtures, through the whole pipeline and the reference evaluator (semgrep --test
style). The catalog is loaded without raising, so one broken rule file fails one test, not the
collection of all the others."""
import functools

import pytest

from checker.catalog.loader import default_rules_dir, load_catalog
from checker.catalog.parameters import load_parameters
from checker.ruletest.fixtures import load_fixture
from checker.ruletest.runner import CaseResult, run_cases

RULES_DIR = default_rules_dir()
PARAMS, PARAM_PROBLEMS = load_parameters(RULES_DIR / "parameters.yaml")
CATALOG, CATALOG_PROBLEMS = load_catalog(RULES_DIR, PARAMS)
AUTOMATED = [r for r in CATALOG if r.automated]
FIXTURES = {rule.id: load_fixture(rule, RULES_DIR) for rule in AUTOMATED}     # each file read once
CASES = [(rule, number, case["name"]) for rule in AUTOMATED for number, case in enumerate(FIXTURES[rule.id]["cases"])]


@functools.cache
def results_of(rule_id: str) -> list[CaseResult]:
    """The rule's cases, all run at once (one engine worker for the rule's cases, as `rules
    test` runs them) the first time one of its cases is asked for."""
    [rule] = [r for r in AUTOMATED if r.id == rule_id]
    return run_cases(rule, PARAMS, FIXTURES[rule_id], FIXTURES[rule_id]["cases"], RULES_DIR)


def test_catalog_and_parameters_load_cleanly():
    assert not PARAM_PROBLEMS + CATALOG_PROBLEMS, "\n".join(p.render() for p in PARAM_PROBLEMS + CATALOG_PROBLEMS)


@pytest.mark.parametrize("rule", AUTOMATED, ids=lambda r: r.id)
def test_rule_has_violating_and_conforming_cases(rule):
    cases = FIXTURES[rule.id]["cases"]
    assert any(c["expect"] for c in cases), f"{rule.id} has no violating fixture"
    assert any(not c["expect"] for c in cases), f"{rule.id} has no conforming fixture"


@pytest.mark.parametrize("rule,number", [(r, n) for r, n, _name in CASES],
                         ids=[f"{r.id}-{name}" for r, _n, name in CASES])
def test_fixture_case(rule, number):
    result = results_of(rule.id)[number]
    assert result.name == FIXTURES[rule.id]["cases"][number]["name"]
    assert result.ok, "\n".join(result.problems)


def test_references_cite_only_what_a_user_can_obtain():
    """The standards, IAF mandatory documents and public FAQs: never the project's internal
    requirements notes, which a user of cbcheck does not have."""
    internal = [(r.id, ref) for r in CATALOG for ref in r.references if "brief" in ref.lower()]
    assert internal == []


INTERNAL_NOTES = ("requirements brief", "the brief", "clause inventory")


def test_notes_point_to_nothing_a_user_does_not_have():
    """`rules show` prints the notes: they may not lean on the project's internal notes either."""
    internal = [(r.id, phrase) for r in CATALOG for phrase in INTERNAL_NOTES
                if phrase in " ".join((r.notes or "").lower().split())]
    assert internal == []
