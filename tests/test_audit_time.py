"""`cbcheck audit-time`: the calculation by hand-worked examples, located input errors, and the
calculator's fragment judged by the real pipeline (every TIME rule conforming; edited beyond a
cap, the right TIME rule fires)."""
import copy
import datetime as dt
import json

import pytest
import yaml
from click.testing import CliRunner

from checker.audit_time.calculate import calculate, round_up, settings_from
from checker.audit_time.inputs import check_input
from checker.pipeline import run_check
from tests.helpers import shipped_rules
from cli import main

TIME_RULES = {f"TIME{i:03d}" for i in range(1, 12)}


@pytest.fixture(scope="module")
def catalog():
    return shipped_rules(TIME_RULES)


@pytest.fixture(scope="module")
def params(catalog):
    return catalog[1]


def calc(params, data):
    settings, problems = settings_from(params)
    problems += check_input(data, "input", None, settings.factors, settings.table)
    assert not problems, problems
    return calculate(data, params, settings)


def test_table1_factors_and_rounding_up(params):
    r = calc(params, {"persons": 120, "adjustments": [
        {"factor": "few_services", "justification": "Two services."},
        {"factor": "other_parties_operate_processes", "justification": "Carrier runs the network."},
        {"factor": "Shared service desk", "percent": -5, "justification": "Audited with the group."}]})
    assert r["table1_days"] == 12                       # band up to 125 persons
    assert r["change"]["net_percent"] == -5 and not r["change"]["capped"]
    assert r["single_site_days"] == 11.4
    assert (r["initial_audit_days"], r["stage1_days"], r["stage2_days"]) == (11.5, 3.5, 8)
    assert (r["surveillance_days"], r["recertification_days"]) == (4, 8)     # 11.5/3 = 3.83, 11.5*2/3 = 7.67
    assert [a["source"] for a in r["adjustments"]] == ["parameter audit_time_factors"] * 2 + ["the CB's own factor"]
    assert not [n for n in r["notes"] if n["kind"] != "verify"]


def test_round_up_never_rounds_down():
    assert round_up(5.95, 0.5) == 6 and round_up(6.0, 0.5) == 6 and round_up(11.55, 0.5) == 12


def test_net_reduction_capped_and_ea_reading_said(params):
    r = calc(params, {"persons": 10, "adjustments": [
        {"factor": f"factor {i}", "percent": -20, "justification": "x"} for i in range(3)]})
    assert r["change"]["listed_reductions_percent"] == 60 and r["change"]["capped"]
    assert r["initial_audit_days"] == 3.5                               # 5 days less 30 %
    kinds = {n["kind"]: n for n in r["notes"]}
    assert "FAQ 48.4" in kinds["listed_beyond_cap"]["text"] and kinds["listed_beyond_cap"]["rule"] == "TIME007"
    assert "capped" in kinds


def test_site_reduction_capped_at_half_and_total_kept_within_sms_cap(params):
    sites = [{"name": "HQ", "persons": 8, "central": True},
             {"name": "A", "persons": 8, "sampled": True, "reduction_percent": -40, "justification": "central purchasing"},
             {"name": "B", "persons": 8}]
    r = calc(params, {"persons": 200, "sites": sites, "adjustments": [
        {"factor": "few_services", "justification": "One service."},
        {"factor": "low_risk_services", "justification": "Internal customers."}]})
    m = r["multi_site"]
    site_a = next(s for s in m["sites"] if s["name"] == "A")
    assert site_a["combined_percent"] == -60 and site_a["applied_percent"] == -50 and site_a["days"] == 2.5
    assert m["sample_sizes"] == {"initial": 2, "surveillance": 1, "recertification": 2}
    assert m["sample_short_by"] == 1 and not m["sample_assumed"]
    # HQ 5 - 20 % = 4, A 2.5: 6.5 days, below Table 1 (200 persons: 14 days) less 30 % = 9.8
    assert m["sites_total_days"] == 6.5 and m["raised_to_floor"] and r["initial_audit_days"] == 10
    assert {"site_capped", "sample_short", "sms_floor"} <= {n["kind"] for n in r["notes"]}


def test_integration_capped_applied_after_and_never_added(params):
    r = calc(params, {"persons": 40, "adjustments": [{"factor": "few_services", "justification": "x"}],
                      "integrated": {"standards": [{"standard": "ISO 9001:2015", "initial_audit_days": 6}],
                                     "reduction_percent": -35, "justification": "Fully integrated system."}})
    i = r["integration"]
    assert r["initial_audit_days"] == 8                          # 8.5 less 10 % = 7.65, rounded up
    assert i["separate_total_days"] == 14 and i["applied_percent"] == -20 and i["capped"]
    # SMS part 8 less 20 % = 6.4 is below 8.5 less 30 % = 5.95? no: kept at 6.4; plus 9001 6 less 20 % = 4.8
    assert i["sms_share_days"] == 6.4 and i["initial_audit_days"] == 11.5
    assert {"not_added", "integration_capped"} <= {n["kind"] for n in r["notes"]}


def test_integration_keeps_sms_part_within_its_cap(params):
    r = calc(params, {"persons": 10, "adjustments": [{"factor": "Own", "percent": -30, "justification": "x"}],
                      "integrated": {"standards": [{"standard": "ISO 9001:2015", "initial_audit_days": 4}],
                                     "reduction_percent": -20, "justification": "Integrated."}})
    assert r["initial_audit_days"] == 3.5
    assert r["integration"]["sms_share_days"] == 3.5 and r["integration"]["sms_share_at_floor"]


# --- input errors: located, all listed, exit 2, no traceback -----------------------------------

def test_input_errors_are_located(tmp_path):
    bad = tmp_path / "in.yaml"
    bad.write_text("persons: 40\nadjustments:\n  - factor: few_services\n    percent: -20\n    justification: x\n"
                   "  - factor: Something new\n    justification: y\nsites:\n  - {name: A, persons: 3}\n"
                   "  - {name: B, persons: 4}\ncolour: blue\n", encoding="utf-8")
    res = CliRunner().invoke(main, ["audit-time", str(bad)])
    assert res.exit_code == 2 and "Traceback" not in res.output
    # the schema's problem first (all shape problems are listed before meaning is checked)
    assert f"{bad}:11" in res.output and "unknown key 'colour'" in res.output
    bad.write_text(bad.read_text().replace("colour: blue\n", ""), encoding="utf-8")
    res = CliRunner().invoke(main, ["audit-time", str(bad)])
    assert res.exit_code == 2
    assert f"{bad}:4 at /adjustments/0/percent" in res.output
    assert f"{bad}:6 at /adjustments/1/factor" in res.output and "has no percent" in res.output
    assert f"{bad}:9 at /sites" in res.output and "0 sites are marked central" in res.output
    bad.write_text("persons: 5\nsites:\n  - {name: A, persons: 3, central: true}\n  - {name: B, persons: 4}\n")
    res = CliRunner().invoke(main, ["audit-time", str(bad)])
    assert res.exit_code == 2 and "the sites' persons add up to 7, more than the 5 persons" in res.output


def test_head_count_above_the_table_is_a_located_problem(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text("persons: 20000\n", encoding="utf-8")
    res = CliRunner().invoke(main, ["audit-time", str(big)])
    assert res.exit_code == 2 and f"{big}:1 at /persons: 20000 persons is above the last band" in res.output


def test_bad_parameter_overrides_are_reported(tmp_path):
    params = tmp_path / "p.yaml"
    params.write_text("parameters:\n  surveillance_fraction_of_initial: one third\n"
                      "  audit_time_factors: [{name: x, percent: ten}]\n", encoding="utf-8")
    res = CliRunner().invoke(main, ["audit-time", "--persons", "10", "--params", str(params)])
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert "parameter surveillance_fraction_of_initial: 'one third' is not a fraction" in res.output
    assert "parameter audit_time_factors at /0: row" in res.output


def test_options_without_a_file_and_bad_factor_option():
    ok = CliRunner().invoke(main, ["audit-time", "--persons", "10", "--factor", "few_services=One service.",
                                   "--format", "json"])
    assert ok.exit_code == 0, ok.output
    doc = json.loads(ok.output)
    assert doc["format"] == "cbcheck-audit-time/1" and doc["initial_audit_days"] == 4.5
    bad = CliRunner().invoke(main, ["audit-time", "--persons", "10", "--factor", "few_services"])
    assert bad.exit_code == 2 and "NAME=JUSTIFICATION" in bad.output
    assert CliRunner().invoke(main, ["audit-time"]).exit_code == 2


def test_markdown_output_and_fragment_file(tmp_path):
    frag = tmp_path / "frag.yaml"
    res = CliRunner().invoke(main, ["audit-time", "--persons", "30", "--client", "Acme | Co", "--format", "markdown",
                                    "--fragment", str(frag)])
    assert res.exit_code == 0, res.output
    assert res.output.startswith("# Audit time for Acme \\| Co") and "## 5. Audit time (auditor days)" in res.output
    assert yaml.safe_load(frag.read_text())["audit_time"]["initial_audit_days"] == 8.5


# --- the fragment judged by the real pipeline ----------------------------------------------------

def _client_records(fragment: dict, result: dict) -> list[dict]:
    """A client whose application review carries the calculator's audit_time, with a stage 2
    audit whose reported days are its leader's days (so TIME003 is judged too)."""
    return [
        {"type": "client", "id": "c1", "name": "Acme Hosting Ltd"},
        {"type": "application", "id": "app-1", "client": "c1", "received_date": "2025-01-06",
         "persons": result["persons"]},
        {"type": "application_review", "id": "rev-1", "application": "app-1", "date": "2025-01-10",
         "outcome": "accept", **fragment},
        {"type": "personnel", "id": "p-lee", "name": "A. Lee"},
        {"type": "audit", "id": "a-s2", "client": "c1", "audit_type": "stage2", "start_date": "2025-03-03",
         "end_date": "2025-03-07", "audit_days": result["stage2_days"]},
        {"type": "team_assignment", "id": "a-s2-t1", "audit": "a-s2", "person": "p-lee", "role": "leader",
         "days": result["stage2_days"]},
    ]


def _run(tmp_path, catalog, records):
    folder = tmp_path / "cb"
    folder.mkdir(exist_ok=True)
    (folder / "records.yaml").write_text(yaml.safe_dump(records, sort_keys=False), encoding="utf-8")
    rules, params = catalog
    report = run_check(folder, rules, params, dt.date(2025, 6, 30))
    assert not report["errors"], report["errors"]
    return report


def _statuses(report):
    return {r["id"]: r["status"] for r in report["requirements"] if r["id"] in TIME_RULES}


CALCULATION = {"persons": 120, "persons_basis": "100 full-time and 40 half-time.", "adjustments": [
    {"factor": "few_services", "justification": "Two services."},
    {"factor": "mature_sms", "justification": "Three years of records."},
    {"factor": "complex_technology", "justification": "Four platforms."}]}


def test_fragment_makes_every_time_rule_conforming(tmp_path, catalog, params):
    result = calc(params, CALCULATION)
    report = _run(tmp_path, catalog, _client_records(result["application_review"], result))
    assert _statuses(report) == {rule: "conforming" for rule in TIME_RULES}
    assert report["findings"] == []


@pytest.mark.parametrize("own_reduction, raised", [(0, False), (-45, True)])
def test_multi_site_fragment_makes_every_time_rule_conforming(tmp_path, catalog, params, own_reduction, raised):
    sites = [{"name": "HQ", "persons": 8, "central": True}] + [
        {"name": name, "persons": 8, "reduction_percent": own_reduction, "justification": "central purchasing"}
        for name in ("A", "B")]
    result = calc(params, {"persons": 200, "sites": sites,
                           "adjustments": [{"factor": "few_services", "justification": "One service."}]})
    assert result["multi_site"]["raised_to_floor"] is raised
    assert result["application_review"]["audit_time"]["adjustments"][-1]["factor"].startswith("multi-site")
    assert max(s["reduction_percent"] for s in result["application_review"]["audit_time"]["sites"]) <= 50
    report = _run(tmp_path, catalog, _client_records(result["application_review"], result))
    assert _statuses(report) == {rule: "conforming" for rule in TIME_RULES}


def test_integrated_fragment_records_the_capped_integration_reduction(tmp_path, catalog, params):
    result = calc(params, {**CALCULATION, "integrated": {
        "standards": [{"standard": "ISO 9001:2015", "initial_audit_days": 6}], "reduction_percent": -25,
        "justification": "One management system, one internal audit programme."}})
    assert result["application_review"]["audit_time"]["integration_reduction_percent"] == 20
    report = _run(tmp_path, catalog, _client_records(result["application_review"], result))
    assert _statuses(report) == {rule: "conforming" for rule in TIME_RULES}


@pytest.mark.parametrize("edit, rule", [
    (lambda at: at.update(initial_audit_days=at["initial_audit_days"] * 0.6), "TIME002"),   # below the 30 % cap
    (lambda at: at["adjustments"].append({"factor": "Small team", "percent": -30}), "TIME007"),
    (lambda at: at.update(initial_audit_days=at["initial_audit_days"] - 1.5), "TIME009"),   # beyond the factors
    (lambda at: at.pop("justification"), "TIME001"),
    (lambda at: (at.pop("justification"), at.update(persons=at["persons"] - 40)), "TIME008"),   # fewer than applied
    (lambda at: at.pop("adjustments"), "TIME005"),
    (lambda at: at.update(sites=[{"site": "Leeds", "reduction_percent": 60}]), "TIME010"),   # past the site cap
    (lambda at: at.update(integration_reduction_percent=25), "TIME011"),
])
def test_fragment_edited_beyond_a_cap_fires_the_right_rule(tmp_path, catalog, params, edit, rule):
    result = calc(params, CALCULATION)
    fragment = copy.deepcopy(result["application_review"])
    edit(fragment["audit_time"])
    report = _run(tmp_path, catalog, _client_records(fragment, result))
    assert rule in {f["rule_id"] for f in report["findings"]}


def test_calculator_listing_beyond_the_cap_is_what_time007_reports(tmp_path, catalog, params):
    result = calc(params, {"persons": 120, "adjustments": [
        {"factor": f"factor {i}", "percent": -15, "justification": "x"} for i in range(3)]})
    assert any(n["rule"] == "TIME007" for n in result["notes"])
    report = _run(tmp_path, catalog, _client_records(result["application_review"], result))
    assert {f["rule_id"] for f in report["findings"]} == {"TIME007"}
