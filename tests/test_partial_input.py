"""Input errors withhold only the partitions they concern: a client whose records (or the shared
records it reads) have errors is not evaluated and its requirements show error; every other
client is evaluated; the run exits 2. A problem tied to no record still stops everything."""
from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from jsonschema import Draft202012Validator

from checker.engine.partition import build_partitions
from checker.pipeline import load_input, load_rules, run_check
from cli import main

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "fixtures" / "demo-cb"
AS_OF = dt.date(2026, 11, 25)
REPORT_SCHEMA = json.loads((ROOT / "checker/report/report.schema.json").read_text())


@pytest.fixture(scope="module")
def catalog():
    loaded = load_rules(None, None)
    assert not loaded.problems
    return loaded.rules, loaded.params


@pytest.fixture(scope="module")
def clean_report(catalog):
    return run_check(DEMO, *catalog, AS_OF)


def _demo_copy(tmp_path: Path, edit_file: str, old: str, new: str) -> Path:
    folder = tmp_path / "demo"
    shutil.copytree(DEMO, folder)
    target = folder / edit_file
    text = target.read_text(encoding="utf-8")
    assert old in text
    target.write_text(text.replace(old, new, 1), encoding="utf-8")
    return folder


def _client_partitions_holding(folder: Path, record_id: str) -> set[str]:
    return {p.sid for p in build_partitions(load_input(folder).index) if record_id in p.record_ids and p.scope == "client"}


def test_one_broken_client_is_withheld_and_every_other_client_is_evaluated(tmp_path, catalog, clean_report):
    folder = _demo_copy(tmp_path, "clients/bluefin/audits.yaml", "start_date: 2020-08-10", "start_date: 2020-08-32")
    report = run_check(folder, *catalog, AS_OF)
    Draft202012Validator(REPORT_SCHEMA).validate(report)
    assert [(e["file"], e["line"], e["pointer"], e["message"]) for e in report["errors"]] == \
           [("clients/bluefin/audits.yaml", 6, "/0/start_date", "not a valid date: '2020-08-32'")]
    assert report["summary"]["not_evaluated"] == {"clients": 1, "cb_wide": False, "input_errors": ["bluefin"],
                                                  "engine_failure": []}
    assert report["findings"] == [f for f in clean_report["findings"] if f["client"] != "bluefin"]
    client_rules = [r for r in report["requirements"] if r["automation"] == "automated" and r["status"] == "error"]
    assert client_rules and all("bluefin (input errors)" in r["reason"] for r in client_rules)


def test_the_cli_exits_2_and_says_how_many_clients_were_not_evaluated(tmp_path):
    folder = _demo_copy(tmp_path, "clients/bluefin/audits.yaml", "start_date: 2020-08-10", "start_date: 2020-08-32")
    result = CliRunner().invoke(main, ["check", str(folder), "--as-of", AS_OF.isoformat(), "--fail-on", "none"],
                                catch_exceptions=False)
    assert result.exit_code == 2
    assert "Not evaluated: 1 client(s) (input errors in their records or the shared records they read: bluefin)" \
        in result.output
    validate = CliRunner().invoke(main, ["validate", str(folder)], catch_exceptions=False)
    assert validate.exit_code == 2 and "1 problem(s)" in validate.output and "2020-08-32" in validate.output


def test_a_broken_shared_record_withholds_every_client_that_reads_it(tmp_path, catalog, clean_report):
    folder = _demo_copy(tmp_path, "cb/personnel.yaml", "id: p-lee", "id: p-lee\n  colour: red")
    readers = _client_partitions_holding(folder, "p-lee")
    report = run_check(folder, *catalog, AS_OF)
    account = report["summary"]["not_evaluated"]
    assert readers and set(account["input_errors"]) == readers | {"__cb__"} and account["cb_wide"]
    others = [f for f in clean_report["findings"] if f["client"] not in readers and f["client"] is not None]
    assert others and report["findings"] == others


def test_a_problem_tied_to_no_record_still_stops_every_evaluation(tmp_path, catalog):
    folder = _demo_copy(tmp_path, "clients/bluefin/team-assignments.jsonl", '"person": "p-novak"', '"person": ')
    report = run_check(folder, *catalog, AS_OF)
    assert report["findings"] == [] and "not_evaluated" not in report["summary"]
    assert {r["status"] for r in report["requirements"]} <= {"not_assessed", "manual"}


def test_a_duplicate_id_withholds_both_clients_and_is_reported_as_before(tmp_path, catalog):
    folder = _demo_copy(tmp_path, "clients/kestrel/audits.yaml", "- type: audit",
                        "- {type: audit, id: bf-s1, client: kestrel, audit_type: special}\n- type: audit")
    report = run_check(folder, *catalog, AS_OF)
    (problem,) = report["errors"]
    assert problem["message"].startswith("duplicate id 'bf-s1'; first used in clients/bluefin/audits.yaml:")
    assert report["summary"]["not_evaluated"]["input_errors"] == ["bluefin", "kestrel"]
