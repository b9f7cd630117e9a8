"""The command line as a user meets it: exit codes, every problem listed without a traceback,
the JSON contract, byte-identical reports, parameters and not-applicable rules."""
import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from jsonschema import Draft202012Validator

from cli import main

REPORT_SCHEMA = json.loads((Path(__file__).resolve().parents[1] / "checker/report/report.schema.json").read_text())

CLEAN = [
    {"type": "client", "id": "c1", "name": "Clean Co"},
    {"type": "audit", "id": "a1", "client": "c1", "audit_type": "stage1", "start_date": "2024-01-10", "end_date": "2024-01-10"},
    {"type": "audit", "id": "a2", "client": "c1", "audit_type": "stage2", "start_date": "2024-02-10", "end_date": "2024-02-12"},
]
GAP = [
    {"type": "client", "id": "c2", "name": "Gap Co"},
    {"type": "audit", "id": "b2", "client": "c2", "audit_type": "stage2", "start_date": "2024-02-10", "end_date": "2024-02-12"},
]


def write(folder: Path, name: str, records) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(yaml.safe_dump(records, sort_keys=False), encoding="utf-8")
    return folder


def run(*args):
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return result.exit_code, result.output


def check_json(path, *extra):
    code, out = run("check", path, "--as-of", "2025-06-30", "--format", "json", "--rule", "CYC001", *extra)
    body = out[: out.rindex("}") + 1]
    return code, json.loads(body)


def test_exit_codes_follow_fail_on(tmp_path):
    clean = write(tmp_path / "clean", "r.yaml", CLEAN)
    gap = write(tmp_path / "gap", "r.yaml", GAP)
    assert check_json(clean)[0] == 0
    assert check_json(gap)[0] == 1                          # CYC001 is major, default --fail-on major
    assert check_json(gap, "--fail-on", "none")[0] == 0
    assert check_json(gap, "--fail-on", "minor")[0] == 1


def test_json_report_follows_its_schema_and_names_the_gap(tmp_path):
    code, report = check_json(write(tmp_path / "gap", "r.yaml", GAP + CLEAN))
    Draft202012Validator(REPORT_SCHEMA).validate(report)
    (finding,) = report["findings"]
    assert (finding["rule_id"], finding["client"], finding["record_id"], finding["file"], finding["pointer"]) == \
           ("CYC001", "c2", "b2", "r.yaml", "/1/start_date")
    assert finding["line"] == 8 and "2024-02-10" in finding["message"]
    assert report["requirements"] == [dict(report["requirements"][0], status="nonconforming", finding_count=1)]


def test_full_catalog_report_follows_its_schema(tmp_path):
    code, out = run("check", write(tmp_path / "g", "r.yaml", GAP + CLEAN), "--as-of", "2025-06-30", "--format", "json")
    report = json.loads(out[: out.rindex("}") + 1])
    Draft202012Validator(REPORT_SCHEMA).validate(report)
    statuses = {r["status"] for r in report["requirements"]}
    assert {"nonconforming", "not_assessed", "manual"} <= statuses


def test_reports_are_byte_identical_across_runs_and_job_counts(tmp_path):
    folder = write(tmp_path / "in", "r.yaml", GAP + CLEAN)
    outs = []
    for jobs in ("1", "1", "2"):
        for fmt in ("json", "text"):
            target = tmp_path / f"out-{jobs}-{fmt}-{len(outs)}"
            run("check", folder, "--as-of", "2025-06-30", "--format", fmt, "-o", target, "--jobs", jobs)
            outs.append((fmt, target.read_bytes()))
    for fmt in ("json", "text"):
        assert len({body for f, body in outs if f == fmt}) == 1


def test_missing_record_types_mean_not_assessed_not_conforming(tmp_path):
    code, report = check_json(write(tmp_path / "c", "r.yaml", [{"type": "client", "id": "c1", "name": "x"}]))
    (req,) = report["requirements"]
    assert req["status"] == "not_assessed" and "audit" in req["reason"] and code == 0


BAD_FILES = {
    "a.yaml": "- {type: client, id: c1, name: A}\n"
              "- {type: audit, id: a1, client: c1, audit_type: stage3, start_date: 2024-13-01}\n"
              "- {type: audit, id: a1, client: c1, audit_type: stage2}\n"
              "- {type: widget, id: w1}\n"
              "- {type: decision, id: d1, client: c1, decision_type: grant, decided_by: [nobody], colour: red}\n",
    "b.yaml": "type: client\nid: c2\nname: [unclosed\n",
    "c.json": '{"type": "client", "id": "c3",}\n',
    "d.jsonl": '{"type": "client", "id": "c4"}\nnot json\n{"type":"client","id":"c5","name":"x","name":"y"}\n',
    "e.yaml": "type: client\nid: c6\nname: A\nname: B\n",
    "f.yaml": "type: audit\nid: x1\naudit_type: stage1\n",
    "notes.txt": "evidence kept elsewhere\n",
}
EXPECTED_PROBLEMS = [
    ("a.yaml:2 at /1/audit_type", "'stage3' is not one of"),
    ("a.yaml:2 at /1/start_date", "not a valid date: '2024-13-01'"),
    ("a.yaml:3 at /2/id", "duplicate id 'a1'"),
    ("a.yaml:4 at /3/type", "unknown record type 'widget'"),
    ("a.yaml:5 at /4/colour", "unknown field 'colour'"),
    ("a.yaml:5 at /4/decided_by/0", "refers to 'nobody', which is not in the input"),
    ("b.yaml:4", "not valid YAML"),
    ("c.json:1", "not valid JSON"),
    ("d.jsonl:2", "not valid JSON"),
    ("d.jsonl:3", "duplicate key 'name'"),
    ("e.yaml:4", "duplicate key 'name' (first at line 3)"),
    ("f.yaml:1:", "'client' is missing"),
]


@pytest.fixture
def bad_input(tmp_path):
    for name, text in BAD_FILES.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def test_validate_lists_every_problem_without_traceback(bad_input):
    code, out = run("validate", bad_input)
    assert code == 2 and "Traceback" not in out
    for where, what in EXPECTED_PROBLEMS:
        assert any(line.strip().startswith(where) and what in line for line in out.splitlines()), (where, what, out)
    assert f"{len(EXPECTED_PROBLEMS)} problem(s)" in out


def test_check_on_bad_input_reports_errors_and_evaluates_nothing(bad_input):
    code, out = run("check", bad_input, "--as-of", "2025-06-30", "--format", "json")
    report = json.loads(out[: out.rindex("}") + 1])
    assert code == 2 and len(report["errors"]) == len(EXPECTED_PROBLEMS)
    assert report["findings"] == [] and report["input"]["files_ignored"] == ["notes.txt"]
    assert {r["status"] for r in report["requirements"]} <= {"not_assessed", "manual"}


def test_validate_accepts_good_input_and_mentions_ignored_files(tmp_path):
    folder = write(tmp_path / "ok", "r.yaml", CLEAN)
    (folder / "readme.pdf").write_bytes(b"%PDF")
    code, out = run("validate", folder)
    assert code == 0 and "3 record(s)" in out and "readme.pdf" in out


def test_missing_path_and_bad_date_are_usage_errors(tmp_path):
    assert run("check", tmp_path / "nope")[0] == 2
    code, out = run("check", tmp_path, "--as-of", "25/06/2025")
    assert code == 2 and "YYYY-MM-DD" in out or "%Y-%m-%d" in out


def test_params_override_and_not_applicable(tmp_path):
    gap = write(tmp_path / "gap", "r.yaml", GAP)
    params = tmp_path / "p.yaml"
    params.write_text("parameters:\n  cycle_years: 4\nnot_applicable:\n  CYC001: We certify transfers only.\n")
    code, report = check_json(gap, "--params", params)
    assert code == 0 and report["findings"] == []
    assert report["requirements"][0]["status"] == "not_applicable"
    (cycle,) = [p for p in report["parameters"] if p["name"] == "cycle_years"]
    assert cycle["value"] == 4 and cycle["default"] == 3 and cycle["overridden"]


def test_bad_params_file_lists_every_problem(tmp_path):
    params = tmp_path / "p.yaml"
    params.write_text("parameters:\n  cycle_years: three\n  no_such: 1\nnot_applicable:\n  CYC001: ''\nextra: 1\n")
    code, out = run("check", tmp_path, "--params", params)
    assert code == 2 and "Traceback" not in out
    for text in ("cycle_years must have the same kind of value", "unknown parameter 'no_such'",
                 "needs a reason", "unknown section 'extra'"):
        assert text in out


def test_rules_list_and_show():
    code, out = run("rules", "list", "--format", "json")
    rules = json.loads(out)
    assert code == 0 and len(rules) >= 25
    for r in rules:
        assert r["requirement"] and r["rationale"] and r["remediation"] and r["clause"]
    code, out = run("rules", "show", "cyc002")
    assert code == 0 and "ISO/IEC 17021-1:2015 9.1.3.3" in out and "Remediation" in out
    # the check as written, its notes and where its fixtures are: the path from YAML to finding
    assert "\nCheck (" in out and "      kind: decision" in out and "decision_type == 'grant'" in out
    assert "\nNotes:\n" in out and "Fixtures: rules/iso17021-1/9.1.3.3-first-surveillance.test.yaml" in out
    assert run("rules", "show", "NOPE999")[0] == 2


def test_rules_test_runs_fixtures_and_fails_on_a_wrong_expectation(tmp_path):
    import shutil
    from checker.catalog.loader import default_rules_dir
    rules = tmp_path / "rules"
    shutil.copytree(default_rules_dir(), rules)
    code, out = run("rules", "test", "CYC001", "--rules", rules)
    assert code == 0 and out.strip().endswith("passed, 0 failed")
    fixture = rules / "iso17021-1" / "9.3.1.1-stage1-before-stage2.test.yaml"
    fixture.write_text(fixture.read_text().replace("expect: []", "expect: [a-s2]", 1))
    code, out = run("rules", "test", "CYC001", "--rules", rules)
    assert code == 1 and "FAIL CYC001 - stage 1 finished the day stage 2 starts" in out


def test_nightly_workflow_baseline_waivers_history(tmp_path):
    folder = write(tmp_path / "export", "r.yaml", GAP + CLEAN)
    first, second = tmp_path / "mon.json", tmp_path / "tue.json"
    db = tmp_path / "h.sqlite"
    code, _ = run("check", folder, "--as-of", "2025-06-30", "--rule", "CYC001", "--format", "json", "-o", first,
                  "--history", db)
    assert code == 1
    # Tuesday: Clean Co loses its stage 1 (a new gap); Gap Co's gap persists and is waived.
    write(tmp_path / "export", "r.yaml", GAP + [r for r in CLEAN if r["id"] != "a1"])
    waivers = tmp_path / "w.yaml"
    waivers.write_text("- {rule: CYC001, client: c2, justification: Stage 1 records being recovered from the archive,"
                       " approver: Q. Manager, expires: 2025-07-31}\n"
                       "- {rule: CYC001, client: nobody, justification: stale, approver: Q. Manager, expires: 2025-07-31}\n")
    code, out = run("check", folder, "--as-of", "2025-07-01", "--rule", "CYC001", "--baseline", first,
                    "--fail-on-new", "--waivers", waivers, "--history", db)
    assert code == 1 and "[new]" in out and "waived until 2025-07-31 by Q. Manager" in out
    assert "1 new, 1 persisting, 0 resolved" in out and "matches nothing: CYC001 nobody" in out
    code, _ = run("check", folder, "--as-of", "2025-07-01", "--rule", "CYC001", "--format", "json", "-o", second,
                  "--waivers", waivers)
    report = json.loads(second.read_text())
    Draft202012Validator(REPORT_SCHEMA).validate(report)
    assert [(f["client"], f.get("waived", False)) for f in report["findings"]] == [("c1", False), ("c2", True)]
    # Wednesday: the new gap is fixed; only the waived one remains, so --fail-on-new passes.
    write(tmp_path / "export", "r.yaml", GAP + CLEAN)
    code, out = run("check", folder, "--as-of", "2025-07-02", "--rule", "CYC001", "--baseline", second,
                    "--fail-on-new", "--waivers", waivers)
    assert code == 0 and "0 new, 1 persisting, 1 resolved" in out
    code, out = run("history", "--db", db)
    assert code == 0 and "2025-06-30" in out and "2025-07-01" in out


def test_workflow_option_errors_are_listed(tmp_path):
    folder = write(tmp_path / "export", "r.yaml", GAP)
    assert run("check", folder, "--fail-on-new")[0] == 2
    code, out = run("check", folder, "--baseline", tmp_path / "missing.json")
    assert code == 2 and "run once without --baseline" in out
    bad = tmp_path / "w.yaml"
    bad.write_text("- {rule: NOPE001, approver: x, expires: 2025-13-01, colour: red}\n")
    code, out = run("check", folder, "--waivers", bad)
    assert code == 2 and "Traceback" not in out and "w.yaml:1" in out


def test_special_files_are_reported_not_read(tmp_path):
    import os
    folder = write(tmp_path / "in", "r.yaml", CLEAN)
    os.mkfifo(folder / "pipe.yaml")          # reading it would block forever
    code, out = run("validate", folder)
    assert code == 2 and "pipe.yaml: not a regular file" in out


def test_not_assessed_rules_are_not_run(tmp_path):
    # DEC004 needs certification agreements; with none supplied it is not assessed, and a
    # grant that would otherwise break it yields no finding and exit 0.
    folder = write(tmp_path / "in", "r.yaml", [
        {"type": "client", "id": "c1", "name": "x"},
        {"type": "decision", "id": "d1", "client": "c1", "decision_type": "grant", "date": "2024-01-01"}])
    code, out = run("check", folder, "--as-of", "2025-06-30", "--rule", "DEC004", "--format", "json")
    report = json.loads(out[: out.rindex("}") + 1])
    assert code == 0 and report["findings"] == [] and report["requirements"][0]["status"] == "not_assessed"


def test_one_run_writes_several_formats(tmp_path):
    folder = write(tmp_path / "in", "r.yaml", GAP + CLEAN)
    out = tmp_path / "r.json"
    code, _ = run("check", folder, "--as-of", "2025-06-30", "--rule", "CYC001", "--format", "json", "-o", out,
                  "--also", f"junit={tmp_path / 'r.xml'}", "--also", f"sarif={tmp_path / 'r.sarif'}")
    assert code == 1
    report = json.loads(out.read_text())
    assert "CYC001" in (tmp_path / "r.xml").read_text()
    sarif_results = json.loads((tmp_path / "r.sarif").read_text())["runs"][0]["results"]
    assert [r["partialFingerprints"]["cbcheck/v1"] for r in sarif_results] == [f["fingerprint"] for f in report["findings"]]
    assert run("check", folder, "--also", "pdf=x.pdf")[0] == 2
