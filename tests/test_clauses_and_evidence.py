"""A requirement under every clause an assessor looks for it in, the catalog in ISO/IEC 20000-6's
own structure, and no pass from missing evidence (issue 11)."""
import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from checker.catalog.coverage import coverage, load_clauses, structure_coverage
from checker.catalog.evidence import evidence_gaps
from checker.catalog.loader import load_catalog
from checker.catalog.parameters import load_parameters
from checker.pipeline import input_evidence, load_input, run_check
from checker.report import junit, markdown, text
from cli import main
from tests.helpers import records_folder, shipped_by_id

RULES = Path(__file__).resolve().parents[1] / "rules"
SM = "ISO/IEC 20000-6:2017"
BASE = "ISO/IEC 17021-1:2015"
# The clauses of ISO/IEC 20000-6:2017's table of contents, as published.
SM_TOC = ["5.1", "5.2", "5.3", "6", "7.1.1", "7.1.2", "7.1.3", "7.1.4", "7.2", "7.3", "7.4", "7.5", "8.1", "8.2",
          "8.3", "8.4", "8.5", "9.1.1", "9.1.2", "9.1.3", "9.1.4", "9.1.5", "9.1.6", "9.2.1", "9.2.2", "9.2.3", "9.3",
          "9.4.1", "9.4.2", "9.4.3", "9.4.4", "9.4.5", "9.4.6", "9.4.7", "9.4.8", "9.4.9", "9.4.10", "9.5", "9.6",
          "9.7", "9.8", "9.9", "9.10"]


@pytest.fixture(scope="module")
def catalog():
    return shipped_by_id()


write = records_folder


def one_rule_catalog(tmp_path: Path, rule_text: str) -> Path:
    """A rules folder with the shipped schema, parameters and skeleton and one rule of our own."""
    folder = tmp_path / "rules"
    folder.mkdir(parents=True)
    for name in ("rule.schema.json", "parameters.yaml", "clauses.yaml"):
        shutil.copy(RULES / name, folder / name)
    shutil.copytree(RULES / "parameters.d", folder / "parameters.d")
    (folder / "X1.yaml").write_text(rule_text, encoding="utf-8")
    return folder


MANUAL_RULE = """id: TST001
standard: ISO/IEC 17021-1:2015
clause: "9.1.4.3"
title: A manual rule of a test catalog
requirement: The requirement in words of our own, long enough for the schema.
rationale: Why it matters, in words of our own, long enough for the schema.
remediation: What to do about it, in words of our own, long enough for the schema.
severity: minor
automation: manual
evidence: What to look at.
"""


def load_one(tmp_path, rule_text):
    folder = one_rule_catalog(tmp_path, rule_text)
    params, problems = load_parameters(folder / "parameters.yaml")
    assert problems == []
    return load_catalog(folder, params)


# --- one requirement, several clauses -----------------------------------------------------------

def test_also_clauses_are_checked_against_the_skeleton(tmp_path):
    rules, problems = load_one(tmp_path, MANUAL_RULE + 'also_clauses:\n  - {standard: "ISO/IEC 20000-6:2017", '
                                                       'clause: "SM 9.1.4"}\n')
    assert problems == [] and rules[0].also_clauses == [{"standard": SM, "clause": "SM 9.1.4"}]
    assert rules[0].structure == [{"standard": SM, "clause": "9.1.4", "title": "audit time"}]

    rules, problems = load_one(tmp_path / "b", MANUAL_RULE + 'also_clauses:\n  - {standard: "ISO/IEC 17021-1:2015", '
                                                             'clause: "9.1.4.9"}\n'
                                                             '  - {standard: "ISO/IEC 17021-1:2015", clause: "9.1.4.3"}\n')
    assert rules == []
    assert [(p.file, p.line, p.pointer) for p in problems] == [("rules/X1.yaml", 12, "/also_clauses/0"),
                                                               ("rules/X1.yaml", 13, "/also_clauses/1")]
    assert "9.1.4.9 is not a clause of rules/clauses.yaml" in problems[0].message
    assert "is the rule's own clause" in problems[1].message


def test_needs_must_name_the_kinds_an_absent_clause_looks_for(tmp_path):
    rule = MANUAL_RULE.replace("automation: manual\nevidence: What to look at.\n", """automation: automated
needs: [decision]
check:
  match:
    - bind: d
      kind: decision
  absent:
    - kind: audit
message: Decision {d} has no audit.
""")
    rules, problems = load_one(tmp_path, rule)
    assert rules == [] and [p.pointer for p in problems] == ["/needs"]
    assert "looks for as absent: audit" in problems[0].message


def test_the_catalog_cites_the_requirements_the_issue_names_under_each_clause(catalog):
    rules, _ = catalog
    also = {rid: [(c["standard"], c["clause"]) for c in r.also_clauses] for rid, r in rules.items()}
    assert (BASE, "8.2.2") in also["CRT003"] and rules["CRT003"].clause.startswith("9.1.3")
    assert (BASE, "9.1.4.3") in also["TEAM002"] and rules["TEAM002"].standard == SM
    cov = coverage(list(rules.values()), load_clauses(RULES))
    rows = {(s["standard"], row["clause"]): row for s in cov["standards"] for row in s["by_clause"]}
    assert {"MAN203", "TEAM002", "TIME003"} <= set(rows[(BASE, "9.1.4.3")]["rules"])
    assert rows[(BASE, "9.1.4.3")]["automated"] >= 2 and "TEAM002" in rows[(BASE, "9.1.4.3")]["also"]
    assert not cov["unknown_clauses"] and not any(s["uncovered"] for s in cov["standards"])
    # Rule totals count a rule once, under its own clause.
    assert sum(s["rules"] for s in cov["standards"]) == cov["rules"] == len(rules)


def test_clause_numbers_follow_the_public_sources(catalog):
    rules, _ = catalog
    assert rules["TEAM007"].clause == "7.1.3"
    assert {rules[r].clause for r in ("TIME001", "TIME002", "TIME006", "TIME007", "TIME009")} == {"SM 9.1.4.2"}
    assert rules["CYC002"].clause == rules["CYC010"].clause == "9.1.3.3" != rules["MAN200"].clause
    assert rules["TEAM005"].clause == "9.2.3.3" and (rules["MAN340"].standard, rules["MAN340"].clause) == (SM, "9.10")
    for rid in ("CYC010", "MAN200", "MAN202", "TEAM005", "MAN117"):
        assert rules[rid].clause_confidence == "unsure", rid
    result = CliRunner().invoke(main, ["rules", "show", "TEAM005"])
    code, out = result.exit_code, result.output
    assert code == 0 and "9.2.3.3 (clause number: unsure; verify against your licensed copy)" in out


def test_a_finding_is_reported_under_each_clause(tmp_path, catalog):
    rules, params = catalog
    folder = write(tmp_path / "cb", [
        {"type": "client", "id": "c1", "name": "Acme"},
        {"type": "audit", "id": "a1", "client": "c1", "audit_type": "stage2", "start_date": "2024-03-04"},
        {"type": "team_assignment", "id": "t1", "audit": "a1", "person": "p1", "role": "technical_expert",
         "days": 2, "counted_as_audit_time": True},
        {"type": "personnel", "id": "p1", "name": "Expert"}])
    report = run_check(folder, [rules["TEAM002"]], params, dt.date(2025, 1, 1))
    finding = report["findings"][0]
    assert finding["also_clauses"] == [{"standard": BASE, "clause": "9.1.4.3"}]
    assert report["requirements"][0]["structure"] == [{"standard": SM, "clause": "9.1.4", "title": "audit time"}]
    out = text.render(report, full=True)   # the finding once, naming both clauses; the listing under both
    assert out.count("team_assignment t1") == 1
    assert "SM 9.1.4  TEAM002  Time of experts, observers, interpreters and trainees not counted as audit time " \
           "(also ISO/IEC 17021-1:2015 9.1.4.3)" in out
    assert "(also; its own clause is ISO/IEC 20000-6:2017 SM 9.1.4)" in out[out.index("ALL REQUIREMENTS"):]
    assert markdown.render(report).count("Fingerprint: " + finding["fingerprint"]) == 3   # 2 clauses + client
    classes = [line for line in junit.render(report).splitlines() if "<testcase " in line and "TEAM002" in line]
    assert len(classes) == 2 and any(f'"{BASE}.9.1.4.3"' in c for c in classes)


# --- 20000-6's own structure ----------------------------------------------------------------------

def test_coverage_shows_all_43_clauses_of_20000_6(catalog):
    rules, _ = catalog
    cov = structure_coverage(list(rules.values()), load_clauses(RULES), SM)
    assert [r["clause"] for r in cov["by_clause"]] == SM_TOC and cov["clauses"] == 43
    assert cov["uncovered"] == [] and cov["clauses_covered"] == 43
    rows = {r["clause"]: r for r in cov["by_clause"]}
    assert "MAN203" in rows["9.1.4"]["taken_over"] and {"TEAM002", "TIME002"} <= set(rows["9.1.4"]["additions"])
    assert "MAN331" in rows["9.10"]["taken_over"] and rows["9.10"]["additions"] == ["MAN340"]
    assert {"PERS015", "MAN116"} <= set(rows["7.1.2"]["taken_over"]) and "PERS017" in rows["7.1.2"]["additions"]
    result = CliRunner().invoke(main, ["coverage", "--structure", "20000-6", "--format", "json"])
    assert result.exit_code == 0 and json.loads(result.output) == cov
    result = CliRunner().invoke(main, ["coverage", "--structure", "20000-6"])
    assert "43 of 43 clauses with a rule" in result.output and " 9.10 " in result.output


def test_reports_can_be_laid_out_in_20000_6s_structure(tmp_path, catalog):
    folder = write(tmp_path / "cb", [{"type": "client", "id": "c1", "name": "Acme"}])
    out = tmp_path / "report.txt"
    result = CliRunner().invoke(main, ["check", str(folder), "--as-of", "2025-01-01", "--fail-on", "none", "--all",
                                       "--structure", "20000-6", "-o", str(out), "-q"])
    assert result.exit_code == 0, result.output
    body = out.read_text(encoding="utf-8")
    listing = body[body.index("ALL REQUIREMENTS"):]
    heads = [line.strip().split(" ")[0] for line in listing.splitlines() if line.startswith(" ") and not line.startswith("  ")]
    assert heads == SM_TOC
    table = body[body.index("ISO/IEC 20000-6:2017 CLAUSE BY CLAUSE"):body.index("ALL REQUIREMENTS")]
    assert [line.split()[0] for line in table.splitlines()[1:] if line.strip()] == SM_TOC
    md = tmp_path / "report.md"
    assert CliRunner().invoke(main, ["check", str(folder), "--as-of", "2025-01-01", "--fail-on", "none", "-q",
                                     "--format", "markdown", "--structure", "20000-6", "-o", str(md)]).exit_code == 0
    assert [h.removeprefix("#### Clause ").split(" ")[0] for h in md.read_text(encoding="utf-8").splitlines()
            if h.startswith("#### Clause ")] == SM_TOC


# --- no pass from missing evidence ----------------------------------------------------------------

REGISTER = [
    {"type": "client", "id": "c1", "name": "Acme"},
    {"type": "decision", "id": "d1", "client": "c1", "decision_type": "grant", "date": "2021-03-10"},
    {"type": "certificate", "id": "cert1", "client": "c1", "decision": "d1", "number": "SM-1",
     "effective_date": "2021-03-10", "expiry_date": "2024-03-09", "status": "active"},
]


def test_a_register_without_audits_proves_no_surveillance(tmp_path, catalog):
    rules, params = catalog
    report = run_check(write(tmp_path / "reg", REGISTER), [rules["CYC003"], rules["CRT015"]], params,
                       dt.date(2025, 6, 30))
    assert report["findings"] == []
    for req in report["requirements"]:
        assert req["status"] == "not_assessed" and "no records of type audit" in req["reason"], req
        assert req["based_on"]["record_types"]["audit"] == 0
    # With another client's audit the input holds audits: the missed years are findings.
    audited = REGISTER + [{"type": "client", "id": "c2", "name": "Beta"},
                          {"type": "audit", "id": "a2", "client": "c2", "audit_type": "stage1",
                           "start_date": "2024-05-06"}]
    report = run_check(write(tmp_path / "reg2", audited), [rules["CYC003"]], params, dt.date(2025, 6, 30))
    assert report["requirements"][0]["status"] == "nonconforming" and len(report["findings"]) == 2


def test_a_field_the_source_cannot_carry_is_not_a_pass(tmp_path, catalog):
    rules, params = catalog
    marked = [dict(r, **{"x-not-in-source": ["replaces"]}) if r["type"] == "certificate" else r for r in REGISTER]
    report = run_check(write(tmp_path / "reg", marked), [rules["CRT004"]], params, dt.date(2025, 6, 30))
    req = report["requirements"][0]
    assert req["status"] == "not_assessed" and "certificate.replaces" in req["reason"]
    assert req["based_on"]["not_in_source"] == ["certificate.replaces"]
    # One certificate that could carry the link is enough to judge the rule.
    mixed = marked + [{"type": "certificate", "id": "cert0", "client": "c1", "number": "SM-0",
                       "expiry_date": "2021-03-09"}]
    report = run_check(write(tmp_path / "mixed", mixed), [rules["CRT004"]], params, dt.date(2025, 6, 30))
    assert report["requirements"][0]["status"] == "conforming"
    assert report["requirements"][0]["based_on"] == {
        "record_types": {"certificate": 2}, "applies_to": ["certificate"],
        "fields": ["certificate.expiry_date", "certificate.id", "certificate.replaces"], "not_in_source": [],
        "alternatives": [{"alternative": 1, "label": None, "assessed": True, "missing": [],
                          "applies_to": "certificate having expiry_date", "applied_to": 2}]}


def test_a_rule_needs_something_to_apply_to(tmp_path):
    rule = MANUAL_RULE.replace("automation: manual\nevidence: What to look at.\n", """automation: automated
needs: [personnel]
check:
  match:
    - bind: c
      kind: personnel.consultancy
      where:
        - missing(end_date)
message: Open consultancy of {c.parent}.
""")
    rules, problems = load_one(tmp_path, rule)
    assert problems == []
    none = write(tmp_path / "none", [{"type": "personnel", "id": "p1", "name": "A"}])
    assert evidence_gaps(rules[0], input_evidence(load_input(none))) == [
        "no record has any personnel.consultancy entry to judge"]
    some = write(tmp_path / "some", [{"type": "personnel", "id": "p1", "name": "A",
                                      "consultancy": [{"client": "x", "organisation": "y",
                                                       "start_date": "2020-01-01", "end_date": "2020-06-30"}]}])
    assert evidence_gaps(rules[0], input_evidence(load_input(some))) == []
