"""What one CB's CertSearch upload needs said: its own status terms and extra columns, from the
command line or a mapping file; and a bad row withholds only its own certificate's client, never
the whole register."""
from __future__ import annotations

import datetime as dt
import json

from click.testing import CliRunner

from checker.importers.certsearch_options import CertsearchOptions, load_certsearch_mapping
from cli import main
from tests.certsearch_register import clean_register
from tests.helpers import workbook
from tests.test_import_certsearch import flat_sheets

AS_OF = dt.date(2026, 6, 1)


def _register(tmp_path, name="register.xlsx", status_of=None, extra_column=None):
    """A clean six-certificate register; status_of: {identity: status term}; extra_column: a
    header added to the Certifications sheet, with a value on every row."""
    sheets = clean_register(6, AS_OF)
    for row in sheets["Certifications"][1:]:
        if status_of and row[0] in status_of:
            row[3] = status_of[row[0]]
    if extra_column:
        sheets["Certifications"] = [sheets["Certifications"][0] + [extra_column]] + [
            row + ["J. Smith"] for row in sheets["Certifications"][1:]]
    return workbook(tmp_path / name, sheets)


def _invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def _check(path, *options):
    result = _invoke("check", path, "--as-of", AS_OF.isoformat(), "--format", "json", "--fail-on", "observation",
                     *options)
    return result.exit_code, json.loads(result.stdout)


def test_a_status_outside_the_list_withholds_only_its_own_client(tmp_path):
    code, report = _check(_register(tmp_path, status_of={"CERT-003": "Inactive"}))
    assert code == 2
    (error,) = report["errors"]
    assert (error["file"], error["line"], error["pointer"]) == ("register.xlsx[Certifications]", 4, "/status")
    assert "'Inactive'" in error["message"] and "status_map" in error["message"]
    assert "--status-map 'Inactive=STATUS'" in error["expected"]
    # Only that certificate's client is withheld; the five others were judged (and are clean).
    # So is the CB-wide partition: the same certificate number on two clients (CRT020) cannot be
    # ruled out while one certificate is unread.
    assert report["summary"]["not_evaluated"]["input_errors"] == ["ENT-003", "__cb__"]
    assert report["summary"]["not_evaluated"]["clients"] == 1 and report["findings"] == []
    assert report["input"]["records_by_type"] == {"certificate": 6, "client": 6}
    assert report["input"]["partitions"] == 5
    status = {r["id"]: r["status"] for r in report["requirements"]}
    assert (status["CRT005"], status["CRT020"]) == ("error", "error")


def test_the_status_map_from_the_command_line_says_what_the_term_means(tmp_path):
    path = _register(tmp_path, status_of={"CERT-003": "Inactive"})
    code, report = _check(path, "--status-map", "Inactive=withdrawn")
    assert (code, report["errors"], report["findings"]) == (0, [], [])
    result = _invoke("validate", path, "--status-map", "inactive=withdrawn")
    assert result.exit_code == 0, result.output


def test_forecast_and_explain_take_the_same_options(tmp_path):
    path = _register(tmp_path, status_of={"CERT-003": "Inactive"}, extra_column="Internal note")
    options = ["--status-map", "Inactive=withdrawn", "--ignore-column", "Internal note"]
    without = _invoke("forecast", path, "--days", 30, "--as-of", AS_OF.isoformat(), "--format", "json")
    assert without.exit_code == 2 and "'Inactive'" in without.output
    forecast = _invoke("forecast", path, "--days", 30, "--as-of", AS_OF.isoformat(), "--format", "json", *options)
    assert forecast.exit_code in (0, 1) and json.loads(forecast.stdout)["errors"] == [], forecast.output
    explained = _invoke("explain", path, "--rule", "CRT005", "--client", "ENT-003", "--as-of", AS_OF.isoformat(),
                        *options)
    assert explained.exit_code == 0, explained.output


def test_a_bad_status_map_option_says_what_to_write(tmp_path):
    path = _register(tmp_path)
    result = _invoke("validate", path, "--status-map", "Inactive")
    assert result.exit_code == 2 and "expected TERM=STATUS" in result.output
    result = _invoke("validate", path, "--status-map", "Inactive=dormant")
    assert result.exit_code == 2 and "maps 'Inactive' to 'dormant', which is not a certificate status" in result.output


def test_an_unknown_column_stops_the_register_until_it_is_ignored(tmp_path):
    path = _register(tmp_path, extra_column="Internal note")
    result = _invoke("validate", path)
    assert result.exit_code == 2
    assert "column K 'Internal note' is not a column of the CertSearch certifications sheet" in result.output
    assert "ignore_columns" in result.output
    code, report = _check(path)
    assert code == 2 and report["summary"]["findings"] == 0 and "not_evaluated" not in report["summary"]
    code, report = _check(path, "--ignore-column", "Internal note")
    assert (code, report["errors"], report["findings"]) == (0, [], [])


def test_a_mapping_file_beside_the_workbook_or_given(tmp_path):
    path = _register(tmp_path, status_of={"CERT-002": "Draft"}, extra_column="Internal note")
    mapping = tmp_path / "register.mapping.yaml"
    mapping.write_text("cbcheck_certsearch_mapping: 1\nstatus_map: {Draft: withdrawn}\nignore_columns: [Internal note]\n")
    code, report = _check(path)
    assert (code, report["errors"]) == (0, [])
    elsewhere = tmp_path / "cb-terms.yaml"
    mapping.rename(elsewhere)
    assert _check(path)[0] == 2
    assert _check(path, "--mapping", elsewhere)[0] == 0
    out = tmp_path / "out"
    result = _invoke("import", "certsearch", path, "--out", out, "--mapping", elsewhere)
    assert result.exit_code == 0, result.output
    assert "status: withdrawn" in (out / "clients" / "ENT-002" / "records.yaml").read_text()


def test_mapping_file_problems_are_located(tmp_path):
    bad = tmp_path / "m.yaml"
    bad.write_text("cbcheck_certsearch_mapping: 1\nstatus_map:\n  Inactive: dormant\nignore_colums: [x]\n")
    options, problems = load_certsearch_mapping(bad)
    assert options is None
    assert [(p.line, p.pointer) for p in problems] == [(1, "")]
    assert "ignore_colums" in problems[0].message
    bad.write_text("cbcheck_certsearch_mapping: 1\nstatus_map:\n  Inactive: dormant\n")
    _, problems = load_certsearch_mapping(bad)
    assert [(p.line, p.pointer) for p in problems] == [(3, "/status_map/Inactive")]
    tabular = tmp_path / "t.yaml"
    tabular.write_text("cbcheck_mapping: 1\nsheets: {}\n")
    _, problems = load_certsearch_mapping(tabular)
    assert "a spreadsheet mapping (cbcheck_mapping)" in problems[0].message


def test_the_command_line_wins_term_by_term():
    base = CertsearchOptions("2.1", {"Inactive": "expired", "Draft": "withdrawn"}, ("A",))
    merged = CertsearchOptions(None, {"inactive": "withdrawn"}, ("B", "A")).over(base)
    assert merged == CertsearchOptions("2.1", {"inactive": "withdrawn", "Draft": "withdrawn"}, ("A", "B"))


def test_the_options_are_refused_for_other_sources(tmp_path):
    (tmp_path / "records").mkdir()
    (tmp_path / "records" / "c.yaml").write_text("{type: client, id: c1}\n")
    result = _invoke("validate", tmp_path / "records", "--ignore-column", "x")
    assert result.exit_code == 2 and "for an IAF CertSearch upload workbook" in result.output


def test_an_entity_told_two_ways_withholds_that_entity_only(tmp_path):
    sheets = flat_sheets()
    sheets["Certifications"][2][7] = "Entity 1 Limited"          # E1's name differs on its second row
    sheets["Certifications"].append(["C3", "N-3", "Active", "Hosting", "20250105", "20280104", "E2", "Entity Two",
                                     "Leeds", "UK"])
    code, report = _check(workbook(tmp_path / "legacy.xlsx", sheets))
    assert code == 2 and [e["line"] for e in report["errors"]] == [2, 3, 3]     # the clash, and both its certificates
    assert report["summary"]["not_evaluated"]["input_errors"] == ["E1", "__cb__"]
    assert report["input"]["records_by_type"] == {"certificate": 3, "client": 2}
