"""Every rule's fixtures, through the whole pipeline and the reference evaluator (semgrep --test style)."""
import pytest

from checker.catalog.fixtures import load_fixture, run_case
from checker.catalog.loader import default_rules_dir
from checker.pipeline import load_rules

RULES_DIR = default_rules_dir()
CATALOG, PARAMS = load_rules(RULES_DIR, None)
AUTOMATED = [r for r in CATALOG if r.automated]
CASES = [(rule, case) for rule in AUTOMATED for case in load_fixture(rule, RULES_DIR)["cases"]]


@pytest.mark.parametrize("rule", AUTOMATED, ids=lambda r: r.id)
def test_rule_has_violating_and_conforming_cases(rule):
    cases = load_fixture(rule, RULES_DIR)["cases"]
    assert any(c["expect"] for c in cases), f"{rule.id} has no violating fixture"
    assert any(not c["expect"] for c in cases), f"{rule.id} has no conforming fixture"


@pytest.mark.parametrize("rule,case", CASES, ids=[f"{r.id}-{c['name']}" for r, c in CASES])
def test_fixture_case(rule, case):
    result = run_case(rule, PARAMS, load_fixture(rule, RULES_DIR), case)
    assert result.ok, "\n".join(result.problems)
