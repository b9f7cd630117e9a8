"""Spreadsheets in: the mapping, CSV and XLSX rows -> records, the template and the export
round trip, and every refusal located at sheet/file, row, column and value."""
from __future__ import annotations

import copy
import csv
import datetime as dt
from pathlib import Path

import openpyxl
import pytest
import yaml
from hypothesis import HealthCheck, given, settings

from checker.importers.dispatch import detect_source, load_source, run_import
from tests.helpers import shipped_rules, workbook
from checker.importers.export import export_csv, export_workbook, write_records
from checker.importers.layout import template_sheets
from checker.importers.make_template import CSV_FOLDER, MAPPING, WORKBOOK, build, mapping_text
from checker.importers.mapping import default_mapping, load_mapping
from checker.importers.tabular import load_tabular, read_tabular
from checker.pipeline import load_input
from checker.records.index import build_index
from checker.records.reader import read_records
from checker.records.validate import validate_record
from tests.generators import cb_record_sets

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = ROOT / "fixtures" / "templates"
DEMO = ROOT / "fixtures" / "demo-cb"

# Every kind of field the layout carries: nested objects, items sheets (also nested in an
# object), empty lists of both kinds, list of dates, numbers, booleans, extension text, and
# text an export must not turn into a formula, an error or a trimmed value.
RECORDS = [
    {"type": "cb", "id": "cb-1", "name": "Demo CB", "accreditation_number": "0042", "standards_offered": ["ISO/IEC 20000-1:2018"]},
    {"type": "personnel", "id": "p-lee", "name": "Ann Lee", "employment": "employee", "agreement_signed_date": "2019-01-15",
     "competences": [{"standard": "ISO/IEC 20000-1:2018", "function": "audit"},
                     {"function": "audit_team_leader", "evaluated_date": "2020-02-29"}],
     "consultancy": [], "it_experience_years": 12.5, "supervised_audits": 4, "qualifications": []},
    {"type": "personnel", "id": "p-kim", "name": "Bo Kim", "employment": "external",
     "onsite_observations": [{"date": "2024-05-01", "audit": "nw-s2", "observed_by": "p-lee"}]},
    {"type": "client", "id": "northwind", "name": "Northwind IT Services Ltd", "address": "5 Quay Road,\nHull",
     "persons": 40, "sites": [{"name": "HQ", "central": True}, {"name": "DC", "temporary": False}], "x-crm-ref": "  CRM-7",
     "x-erp.id/2": "E-9"},
    {"type": "application", "id": "nw-app", "client": "northwind", "received_date": "2023-11-01",
     "standards": ["ISO/IEC 20000-1:2018", "ISO/IEC 27001:2022"], "outsourced_processes": [], "other_parties": [],
     "consultancy_used": False, "scope": "=SUM(A1:A3) is not a formula", "notes": "#N/A is text here"},
    {"type": "application_review", "id": "nw-rev", "application": "nw-app", "outcome": "accept",
     "considered": {"scope": True, "audit_time": True},
     "audit_time": {"persons": 40, "initial_audit_days": 8.5, "adjustments": [{"factor": "complexity", "percent": -10}]}},
    {"type": "application_review", "id": "nw-rev2", "application": "nw-app", "audit_time": {"adjustments": []}},
    {"type": "audit_programme", "id": "nw-prog", "client": "northwind", "cycle": 1,
     "planned_audits": [{"audit_type": "stage1", "due_date": "2024-01-31"}, {"audit_type": "stage2", "audit": "nw-s2"}]},
    {"type": "audit", "id": "nw-s2", "client": "northwind", "audit_type": "stage2", "start_date": "2024-03-04",
     "end_date": "2024-03-06", "remote": False, "audit_days": 4, "status": "completed",
     "closing_meeting": {"date": "2024-03-06", "recommendation_presented": True}},
    {"type": "team_assignment", "id": "nw-s2-t1", "audit": "nw-s2", "person": "p-lee", "role": "leader", "days": 3},
    {"type": "decision", "id": "nw-grant", "client": "northwind", "decision_type": "grant", "date": "2024-04-02",
     "decided_by": ["p-kim"], "audit": "nw-s2"},
    {"type": "certificate", "id": "nw-cert", "client": "northwind", "number": "NW-001", "decision": "nw-grant",
     "issue_date": "2024-04-03", "expiry_date": "2027-04-02", "status": "active", "services": [], "revision": 0,
     "scope": "Übersetzung — managed services 日本"},
    {"type": "complaint", "id": "cmp-1", "received_date": "2024-06-01", "progress_reports": ["2024-06-15", "2024-07-01"],
     "about": "cb", "status": "open"},
]


def by_id(records):
    return {r["id"]: r for r in records}


def csv_folder(folder: Path, files: dict, delimiter=",", bom=False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in files.items():
        with open(folder / f"{name}.csv", "w", encoding="utf-8-sig" if bom else "utf-8", newline="") as f:
            csv.writer(f, delimiter=delimiter).writerows(rows)
    return folder


def texts(problems):
    return [p.render() for p in problems]


def test_the_built_records_are_valid_to_begin_with():
    assert [p for r in RECORDS for p in validate_record(_record(r))] == []


def _record(data):
    from checker.records.located import Document
    from checker.records.reader import Record
    return Record(data, "test", Document(data, {}, 1), "")


# --- round trip ----------------------------------------------------------------------------

def test_records_to_workbook_and_back_are_identical(tmp_path):
    assert export_workbook(RECORDS, tmp_path / "cb.xlsx") == []
    records, problems, summary = read_tabular(tmp_path / "cb.xlsx", default_mapping())
    assert texts(problems) == []
    assert by_id(records) == by_id(RECORDS)
    assert summary["totals"]["records_made"] == len(RECORDS)
    assert summary["sheets_ignored"] == ["README"]


def test_records_to_csv_and_back_are_identical(tmp_path):
    assert export_csv(RECORDS, tmp_path / "csv") == []
    records, problems, summary = read_tabular(tmp_path / "csv", default_mapping())
    assert texts(problems) == []
    assert by_id(records) == by_id(RECORDS)
    assert summary["format"] == "csv"


def test_the_export_keeps_text_as_text(tmp_path):
    export_workbook(RECORDS, tmp_path / "cb.xlsx")
    ws = openpyxl.load_workbook(tmp_path / "cb.xlsx")["application"]
    header = [c.value for c in ws[1]]
    row = {h: c for h, c in zip(header, ws[2])}
    assert row["scope"].data_type == "s" and row["scope"].value.startswith("=SUM")
    assert row["notes"].data_type == "s"


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(cb_record_sets(max_clients=2))
def test_generated_record_sets_survive_both_round_trips(tmp_path_factory, records):
    folder = tmp_path_factory.mktemp("rt")
    assert export_workbook(records, folder / "cb.xlsx") == []
    back, problems, _ = read_tabular(folder / "cb.xlsx", default_mapping())
    assert texts(problems) == [] and by_id(back) == by_id(records)
    assert export_csv(records, folder / "csv") == []
    back, problems, _ = read_tabular(folder / "csv", default_mapping())
    assert texts(problems) == [] and by_id(back) == by_id(records)


def test_demo_data_round_trip(tmp_path):
    if not DEMO.is_dir():
        pytest.skip("no fixtures/demo-cb in this tree")
    loaded = load_input(DEMO)
    if loaded.problems:
        pytest.skip("fixtures/demo-cb does not validate: " + loaded.problems[0].render())
    records = [r.data for r in loaded.read.records]
    assert export_workbook(records, tmp_path / "demo.xlsx") == []
    assert export_csv(records, tmp_path / "csv") == []
    for source in (tmp_path / "demo.xlsx", tmp_path / "csv"):
        back, problems, _ = read_tabular(source, default_mapping())
        assert texts(problems) == []
        assert by_id(back) == by_id(records)


@pytest.mark.parametrize("record, pointer", [
    ({"type": "cb", "id": "x", "standards_offered": ["ISO 9001; ISO 14001"]}, "/standards_offered/0"),
    ({"type": "cb", "id": "x", "standards_offered": ["(none)"]}, "/standards_offered/0"),
    ({"type": "cb", "id": "x", "name": "   "}, "/name"),
    ({"type": "cb", "id": "x", "name": ""}, "/name"),
    ({"type": "application_review", "id": "x", "application": "a", "considered": {}}, "/considered"),
    ({"type": "personnel", "id": "x", "competences": [{}]}, "/competences/0"),
    ({"type": "cb", "id": "x", "x-extra": {"a": 1}}, "/x-extra"),
    ({"type": "cb", "id": "x", "name": "bell\x07"}, "/name"),
])
def test_what_the_layout_cannot_carry_is_refused_and_nothing_written(tmp_path, record, pointer):
    problems = export_workbook([record], tmp_path / "out.xlsx")
    assert [p.pointer for p in problems] == [pointer]
    assert problems[0].file == "record 'x'"
    assert not (tmp_path / "out.xlsx").exists()


def test_csv_export_wants_an_empty_folder(tmp_path):
    (tmp_path / "old.csv").write_text("id\n")
    problems = export_csv(RECORDS, tmp_path)
    assert "not an empty folder" in problems[0].message


# --- the shipped template -------------------------------------------------------------------

def test_shipped_template_matches_the_schemas(tmp_path):
    build(tmp_path)
    assert (TEMPLATES / MAPPING).read_text(encoding="utf-8") == mapping_text()
    shipped = sorted(p.name for p in (TEMPLATES / CSV_FOLDER).iterdir())
    assert shipped == sorted(p.name for p in (tmp_path / CSV_FOLDER).iterdir())
    for name in shipped:
        assert (TEMPLATES / CSV_FOLDER / name).read_bytes() == (tmp_path / CSV_FOLDER / name).read_bytes(), name
    book = openpyxl.load_workbook(TEMPLATES / WORKBOOK)
    assert book.sheetnames == ["README"] + [s.name for s in template_sheets()]
    for sheet in template_sheets():
        header = [c.value for c in book[sheet.name][1]]
        assert header == ([sheet.parent_column] if sheet.items else []) + list(sheet.columns)


def test_shipped_mapping_loads_and_reads_the_empty_template():
    mapping, problems = load_mapping(TEMPLATES / MAPPING)
    assert problems == [] and mapping == default_mapping()
    for source in (TEMPLATES / WORKBOOK, TEMPLATES / CSV_FOLDER):
        records, problems, summary = read_tabular(source, mapping)
        assert (records, problems) == ([], [])
        assert summary["totals"]["rows_read"] == 0 and summary["sheets_missing"] == []


# --- mapping errors, located -----------------------------------------------------------------

BAD_MAPPING = """\
cbcheck_mapping: 1
sheets:
  Audits:
    type: audit
    date_formats: [DD/MM/YYYY, MM/DD/YYYY]
    columns:
      Ref: id
      Client: client
      Kind:
        field: audit_type
        values: {"Stage 2": stage2, "Stage 3": stage3}
      Start: start_date
      Start again: start_date
      Colour: colour
      Closing: closing_meeting
  People:
    type: persona
    columns: {Id: id}
  Visits:
    type: audit
    columns:
      Ref: id
  Skills:
    type: personnel
    items: competences
    columns:
      Function: function
  Reviews:
    type: application_review
    columns:
      Ref: id
      Application: application
      Adjust: audit_time.adjustments
    constants:
      outcome: maybe
ignore_sheets: [Audits]
surprise: true
"""


def test_mapping_problems_are_located(tmp_path):
    path = tmp_path / "bad.mapping.yaml"
    path.write_text(BAD_MAPPING)
    mapping, problems = load_mapping(path)
    assert mapping is None
    # shape first: the unknown top-level key stops the meaning checks
    assert [(p.file, p.line, p.pointer) for p in problems] == [("bad.mapping.yaml", 1, "")]
    assert "surprise" in problems[0].message

    path.write_text(BAD_MAPPING.replace("surprise: true\n", ""))
    mapping, problems = load_mapping(path)
    lines = BAD_MAPPING.splitlines()
    got = {}
    for p in problems:
        got[(p.line, p.pointer)] = got.get((p.line, p.pointer), "") + " | " + p.message
    def line_of(text, start=0):
        return next(i for i, l in enumerate(lines, start=1) if i > start and text in l)
    assert "both DD/MM/YYYY and MM/DD/YYYY" in got[(line_of("date_formats"), "/sheets/Audits/date_formats")]
    assert "'stage3'" in got[(line_of('"Stage 2"'), "/sheets/Audits/columns/Kind/values/Stage 3")]
    assert "already fed by column 'Start'" in got[(line_of("Start again"), "/sheets/Audits/columns/Start again")]
    assert "no field 'colour'" in got[(line_of("Colour"), "/sheets/Audits/columns/Colour")]
    assert "is an object" in got[(line_of("Closing"), "/sheets/Audits/columns/Closing")]
    assert "unknown record type 'persona'" in got[(line_of("persona"), "/sheets/People/type")]
    visits = got[(line_of("Ref: id", line_of("Visits")), "/sheets/Visits/columns")]
    assert "required field 'client'" in visits and "required field 'audit_type'" in visits
    assert "needs parent_column" in got[(line_of("Skills") + 1, "/sheets/Skills")]   # a mapping's line is its first key's
    assert "needs its own items sheet" in got[(line_of("Adjust"), "/sheets/Reviews/columns/Adjust")]
    assert "constant 'maybe'" in got[(line_of("outcome: maybe"), "/sheets/Reviews/constants/outcome")]
    assert "both mapped and ignored" in got[(line_of("ignore_sheets"), "/ignore_sheets/0")]
    assert len(problems) == 12


def test_duplicate_keys_in_a_mapping_are_reported(tmp_path):
    path = tmp_path / "dup.yaml"
    path.write_text("cbcheck_mapping: 1\nsheets:\n  A:\n    type: cb\n    columns: {Id: id}\n  A:\n    type: cb\n    columns: {Id: id}\n")
    mapping, problems = load_mapping(path)
    assert mapping is None and problems[0].line == 6 and "duplicate key 'A'" in problems[0].message


def test_a_mapping_given_as_data_is_checked_too(tmp_path):
    records, problems, _ = read_tabular(tmp_path, {"cbcheck_mapping": 1, "sheets": {"x": {"type": "audit"}}})
    assert records == [] and problems[0].pointer == "/sheets/x" and "'columns'" in problems[0].message


# --- a CB's own workbook through its own mapping ------------------------------------------------

CB_MAPPING = {
    "cbcheck_mapping": 1,
    "defaults": {"date_formats": ["YYYY-MM-DD", "DD/MM/YYYY"], "list_separator": ","},
    "sheets": {
        "Audits": {
            "type": "audit",
            "columns": {
                "Audit No": "id", "Client ID": "client",
                "Audit type": {"field": "audit_type", "values": {"Stage 2": "stage2", "Surveillance 1": "surveillance",
                                                                 "Surveillance 2": "surveillance", "Re-cert": "recertification"}},
                "First day": "start_date", "Last day": {"field": "end_date", "date_formats": ["excel_serial", "YYYY-MM-DD"]},
                "Remote?": "remote", "Days": "audit_days", "Sites": "sites",
                "Closing meeting held": "closing_meeting.date",
            },
            "ignore_columns": ["Internal remarks"],
            "constants": {"status": "completed"},
        },
        "Reviews": {"type": "application_review",
                    "columns": {"Ref": "id", "Application": "application", "Persons (Table 1)": "audit_time.persons"}},
        "Staff": {"type": "personnel", "columns": {"ID": "id", "Name": "name"}},
        "Staff skills": {"type": "personnel", "items": "competences", "parent_column": "Auditor",
                         "columns": {"Function": {"field": "function", "values": {"Lead auditor": "audit_team_leader"}},
                                     "Standard": "standard"}},
    },
    "ignore_sheets": ["Lists"],
}


def _cb_workbook(path):
    return workbook(path, {
        "Audits": [
            ["Audit No", "Client ID", "Audit type", "First day", "Last day", "Remote?", "Days", "Sites",
             "Closing meeting held", "Internal remarks"],
            ["A-1", "northwind", "Stage 2", "04/03/2024", 45357, "no", 4, "HQ, DC", dt.datetime(2024, 3, 6), "ok"],
            [None] * 10,
            ["A-2", "northwind", " surveillance 1 ", dt.date(2025, 2, 10), "2025-02-11", True, "2.5", None, None, None],
        ],
        "Reviews": [["Ref", "Application", "Persons (Table 1)"], ["R-1", "nw-app", 40.0]],
        "Staff": [["ID", "Name"], ["p-lee", "Ann Lee"], ["p-kim", "Bo Kim"]],
        "Staff skills": [["Auditor", "Function", "Standard"], ["p-lee", "Lead auditor", "ISO/IEC 20000-1:2018"],
                         ["p-lee", "audit", None], ["p-kim", None, None]],
        "Lists": [["Audit types"], ["Stage 2"]],
    })


def test_a_cb_workbook_through_its_mapping(tmp_path):
    records, problems, summary = read_tabular(_cb_workbook(tmp_path / "cb.xlsx"), CB_MAPPING)
    assert texts(problems) == []
    assert by_id(records) == by_id([
        {"type": "audit", "id": "A-1", "client": "northwind", "audit_type": "stage2", "start_date": "2024-03-04",
         "end_date": "2024-03-06", "remote": False, "audit_days": 4, "sites": ["HQ", "DC"],
         "closing_meeting": {"date": "2024-03-06"}, "status": "completed"},
        {"type": "audit", "id": "A-2", "client": "northwind", "audit_type": "surveillance", "start_date": "2025-02-10",
         "end_date": "2025-02-11", "remote": True, "audit_days": 2.5, "status": "completed"},
        {"type": "application_review", "id": "R-1", "application": "nw-app", "audit_time": {"persons": 40}},
        {"type": "personnel", "id": "p-lee", "name": "Ann Lee",
         "competences": [{"function": "audit_team_leader", "standard": "ISO/IEC 20000-1:2018"}, {"function": "audit"}]},
        {"type": "personnel", "id": "p-kim", "name": "Bo Kim", "competences": []},
    ])
    audits = next(s for s in summary["sheets"] if s["sheet"] == "Audits")
    assert audits == {"sheet": "Audits", "file": "cb.xlsx[Audits]", "record_type": "audit", "items": None,
                      "rows_read": 3, "empty_rows": 1, "rows_refused": 0, "records_made": 2}
    skills = next(s for s in summary["sheets"] if s["sheet"] == "Staff skills")
    assert (skills["items_made"], skills["empty_lists"], skills["rows_refused"]) == (2, 1, 0)
    assert summary["sheets_ignored"] == ["Lists"]
    assert summary["totals"] == {"rows_read": 9, "empty_rows": 1, "rows_refused": 0, "records_made": 5, "items_made": 2}


def test_located_records_for_the_pipeline(tmp_path):
    result = load_tabular(_cb_workbook(tmp_path / "cb.xlsx"), CB_MAPPING)
    assert result.problems == []
    a2 = next(r for r in result.records if r.id == "A-2")
    assert (a2.file, a2.line_of("/start_date"), a2.line_of("/status")) == ("cb.xlsx[Audits]", 4, 4)
    lee = next(r for r in result.records if r.id == "p-lee")
    assert lee.file == "cb.xlsx[Staff]" and lee.line_of("/competences/1/function") == 2   # its own row
    assert [p for r in result.records for p in validate_record(r)] == []
    _, ref_problems = build_index(result.records)
    assert "nw-app" in " ".join(p.message for p in ref_problems)    # the review's application is not in this input


# --- every refusal, located ---------------------------------------------------------------------

def _only(problems, file, row):
    found = [p for p in problems if p.file == file and p.line == row]
    assert found, texts(problems)
    return found


def test_every_refused_cell_names_sheet_row_column_and_value(tmp_path):
    book = _cb_workbook(tmp_path / "cb.xlsx")
    wb = openpyxl.load_workbook(book)
    ws = wb["Audits"]
    ws.append(["A-3", "northwind", "Stage 3", "31/02/2024", "x", "perhaps", "four", None, None, None])
    ws.append(["A 4", "northwind", "Stage 2", "2024-03-04 10:30", None, None, None, None, None, None])
    ws.append(["A-5", None, "Stage 2", None, None, None, None, None, None, None])
    wb.save(book)
    records, problems, summary = read_tabular(book, CB_MAPPING)
    assert {r["id"] for r in records} == {"A-1", "A-2", "R-1", "p-lee", "p-kim"}
    row5 = {p.pointer: p for p in _only(problems, "cb.xlsx[Audits]", 5)}
    assert row5["/audit_type"].message.startswith("column C 'Audit type', value 'Stage 3': not an allowed value")
    assert "under `values:`" in row5["/audit_type"].expected
    assert row5["/start_date"].message.startswith("column D 'First day', value '31/02/2024': no such date (read as DD/MM/YYYY)")
    assert row5["/end_date"].message.startswith("column E 'Last day', value 'x':")
    assert row5["/remote"].message.startswith("column F 'Remote?', value 'perhaps': not a yes/no value")
    assert row5["/audit_days"].message.startswith("column G 'Days', value 'four': not a number")
    assert len(row5) == 5      # no 'audit_type is missing' for the refused required cell
    row6 = {p.pointer: p for p in _only(problems, "cb.xlsx[Audits]", 6)}
    assert row6["/start_date"].message == "column D 'First day', value '2024-03-04 10:30': a date with a time of day"
    # the rest of a refused row is still checked against the schema: the id with a space
    assert row6["/id"].message.startswith("column A 'Audit No', value 'A 4': 'A 4' does not match")
    assert len(row6) == 2
    row7 = _only(problems, "cb.xlsx[Audits]", 7)
    assert [p.message for p in row7] == ["'client' is missing (column B 'Client ID' is empty)"]
    audits = next(s for s in summary["sheets"] if s["sheet"] == "Audits")
    assert (audits["rows_read"], audits["empty_rows"], audits["rows_refused"], audits["records_made"]) == (6, 1, 3, 2)


def test_schema_problems_of_a_converted_row_name_the_column(tmp_path):
    book = workbook(tmp_path / "cb.xlsx", {"Staff": [["ID", "Name"], ["p lee", "Ann"]]})
    mapping = {"cbcheck_mapping": 1, "sheets": {"Staff": CB_MAPPING["sheets"]["Staff"]}}
    records, problems, _ = read_tabular(book, mapping)
    assert records == []
    assert [(p.file, p.line, p.pointer) for p in problems] == [("cb.xlsx[Staff]", 2, "/id")]
    assert problems[0].message.startswith("column A 'ID', value 'p lee': ")


def test_ambiguous_dates_are_refused_unless_declared(tmp_path):
    book = workbook(tmp_path / "d.xlsx", {"Audits": [["Ref", "Client", "Type", "Start"],
                                                     ["a1", "c1", "stage1", "04/03/2024"]]})
    def mapping(formats=None):
        start = {"field": "start_date", **({"date_formats": formats} if formats else {})}
        return {"cbcheck_mapping": 1, "sheets": {"Audits": {"type": "audit", "columns": {
            "Ref": "id", "Client": "client", "Type": "audit_type", "Start": start}}}}
    records, problems, _ = read_tabular(book, mapping())
    assert records == [] and "ambiguous date" in problems[0].message and "04/03/2024" in problems[0].message
    assert "DD/MM/YYYY] or [MM/DD/YYYY]" in problems[0].expected
    assert read_tabular(book, mapping(["DD/MM/YYYY"]))[0][0]["start_date"] == "2024-03-04"
    assert read_tabular(book, mapping(["MM/DD/YYYY"]))[0][0]["start_date"] == "2024-04-03"
    _, problems, _ = read_tabular(book, mapping(["DD/MM/YYYY", "MM/DD/YYYY"]))
    assert problems[0].pointer == "/sheets/Audits/columns/Start/date_formats"


@pytest.mark.parametrize("cell, formats, expected", [
    ("2024-03-04", None, "2024-03-04"),
    ("2024-03-04T00:00:00", None, "2024-03-04"),
    ("4.3.2024", ["DD.MM.YYYY"], "2024-03-04"),
    ("20240304", ["YYYYMMDD"], "2024-03-04"),
    (20240304, ["YYYYMMDD"], "2024-03-04"),
    (45355, ["excel_serial"], "2024-03-04"),
    ("45355", ["excel_serial"], "2024-03-04"),
    (dt.datetime(2024, 3, 4), None, "2024-03-04"),
    ("4.3.2024", None, "DD.MM.YYYY, add it"),
    ("20240304", None, "YYYYMMDD, add it"),
    (45355, None, "excel_serial"),
    ("04/03/24", ["DD/MM/YYYY"], "two-digit year"),
    (45355.5, ["excel_serial"], "time of day"),
    (30, ["excel_serial"], "out of range"),
])
def test_date_conversions(tmp_path, cell, formats, expected):
    book = workbook(tmp_path / "d.xlsx", {"S": [["Ref", "Client", "Type", "Start"], ["a1", "c1", "stage1", cell]]})
    start = {"field": "start_date", **({"date_formats": formats} if formats else {})}
    mapping = {"cbcheck_mapping": 1, "sheets": {"S": {"type": "audit", "columns": {
        "Ref": "id", "Client": "client", "Type": "audit_type", "Start": start}}}}
    records, problems, _ = read_tabular(book, mapping)
    if records:
        assert records[0]["start_date"] == expected
    else:
        assert expected in problems[0].message and problems[0].line == 2 and "column D 'Start'" in problems[0].message


def test_unknown_and_headerless_columns_are_errors_unless_ignored(tmp_path):
    book = workbook(tmp_path / "cb.xlsx", {"Staff": [["ID", "Name", "Phone", None], ["p1", "Ann", "123", "stray"]]})
    mapping = {"cbcheck_mapping": 1, "sheets": {"Staff": CB_MAPPING["sheets"]["Staff"]}}
    records, problems, summary = read_tabular(book, mapping)
    assert records == []
    assert [(p.file, p.line) for p in problems] == [("cb.xlsx[Staff]", 1)] * 2
    assert "column C 'Phone' is not in the mapping" in problems[0].message
    assert "column D has values (first in row 2) but no header" in problems[1].message
    assert summary["sheets"][0]["rows_refused"] == 1
    mapping["sheets"]["Staff"] = {**mapping["sheets"]["Staff"], "ignore_columns": ["phone"]}
    book = workbook(tmp_path / "cb2.xlsx", {"Staff": [["ID", "Name", "Phone"], ["p1", "Ann", "123"]]})
    assert read_tabular(book, mapping)[:2] == ([{"type": "personnel", "id": "p1", "name": "Ann"}], [])


def test_unmapped_sheets_are_errors_unless_ignored_or_empty(tmp_path):
    book = workbook(tmp_path / "cb.xlsx", {"Staff": [["ID"], ["p1"]], "Extra": [["a"], ["b"]], "Blank": []})
    mapping = {"cbcheck_mapping": 1, "sheets": {"Staff": {"type": "personnel", "columns": {"ID": "id"}}}}
    records, problems, summary = read_tabular(book, mapping)
    assert [(p.file, p.message) for p in problems] == [
        ("cb.xlsx[Extra]", "sheet 'Extra' is not in the mapping; its rows would be lost")]
    assert summary["sheets_ignored"] == ["Blank"]


def test_cells_that_only_look_empty_are_refused(tmp_path):
    def setup(book):
        ws = book["Staff"]
        ws["B2"] = "=UPPER(A2)"        # a formula never calculated: no saved value
        ws["B3"] = "#N/A"              # an error value
        ws.merge_cells("A4:B4")
    book = workbook(tmp_path / "cb.xlsx", {"Staff": [["ID", "Name"], ["p1", None], ["p2", None], ["p3", None]]}, setup)
    mapping = {"cbcheck_mapping": 1, "sheets": {"Staff": CB_MAPPING["sheets"]["Staff"]}}
    records, problems, _ = read_tabular(book, mapping)
    assert records == []
    got = {(p.line, p.message.split(":")[0]) for p in problems}
    assert (2, "column B 'Name', value formula") in got
    assert (3, "column B 'Name', value #N/A") in got
    assert (4, "column A 'ID', value merged A4") in got and (4, "column B 'Name', value merged A4") in got
    assert "never saved" in next(p.message for p in problems if p.line == 2)


def test_a_formula_with_a_saved_value_is_read_as_that_value(tmp_path):
    import zipfile
    book = workbook(tmp_path / "f.xlsx", {"Staff": [["ID", "Name"], ["p1", "=UPPER(A2)"]]})
    with zipfile.ZipFile(book) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    sheet = "xl/worksheets/sheet1.xml"
    # what Excel writes after calculating: the formula and its value
    parts[sheet] = parts[sheet].replace(b'<c r="B2"><f>UPPER(A2)</f><v /></c>',
                                        b'<c r="B2" t="str"><f>UPPER(A2)</f><v>P1</v></c>')
    assert b"<v>P1</v>" in parts[sheet]
    with zipfile.ZipFile(book, "w") as z:
        for n, data in parts.items():
            z.writestr(n, data)
    mapping = {"cbcheck_mapping": 1, "sheets": {"Staff": CB_MAPPING["sheets"]["Staff"]}}
    assert read_tabular(book, mapping)[:2] == ([{"type": "personnel", "id": "p1", "name": "P1"}], [])


def test_items_sheet_ties_rows_to_records(tmp_path):
    sheets = {"Staff": [["ID", "Name"], ["p-lee", "Ann"]],
              "Staff skills": [["Auditor", "Function", "Standard"], ["p-lee", "audit", None], ["p-ghost", "audit", None],
                               [None, "audit", None], ["p-lee", None, None]]}
    mapping = {"cbcheck_mapping": 1, "sheets": {k: CB_MAPPING["sheets"][k] for k in ("Staff", "Staff skills")}}
    records, problems, summary = read_tabular(workbook(tmp_path / "cb.xlsx", sheets), mapping)
    assert records == []
    by_row = {p.line: p.message for p in problems if p.file == "cb.xlsx[Staff skills]"}
    assert by_row[3] == "column A 'Auditor', value 'p-ghost': 'p-ghost' is not the id of any personnel record read"
    assert "cannot be tied to its record" in by_row[4]
    assert "says it has no competences, but other rows give some" in by_row[5]
    skills = next(s for s in summary["sheets"] if s["sheet"] == "Staff skills")
    assert skills["rows_refused"] == 3


def test_duplicate_ids_are_refused_with_both_places(tmp_path):
    book = workbook(tmp_path / "cb.xlsx", {"Staff": [["ID", "Name"], ["p1", "Ann"], ["p1", "Bo"]]})
    mapping = {"cbcheck_mapping": 1, "sheets": {"Staff": CB_MAPPING["sheets"]["Staff"]}}
    records, problems, _ = read_tabular(book, mapping)
    assert records == [{"type": "personnel", "id": "p1", "name": "Ann"}]
    assert problems[0].line == 3 and "first used on cb.xlsx[Staff] row 2" in problems[0].message


# --- CSV specifics ----------------------------------------------------------------------------

CSV_MAPPING = {"cbcheck_mapping": 1, "csv": {"delimiter": ";"}, "defaults": {"decimal_separator": ",",
                                                                             "date_formats": ["DD.MM.YYYY"]},
               "sheets": {"audits": {"type": "audit", "columns": {"Nr": "id", "Kunde": "client", "Art": "audit_type",
                                                                   "Beginn": "start_date", "Tage": "audit_days",
                                                                   "Remote": "remote"},
                                     "true_words": ["ja"], "false_words": ["nein"]}}}


def test_semicolon_csv_with_bom_decimal_comma_and_own_words(tmp_path):
    folder = csv_folder(tmp_path / "csv", {"audits": [["Nr", "Kunde", "Art", "Beginn", "Tage", "Remote"],
                                                      ["a1", "c1", "stage1", "4.3.2024", "1,5", "Ja"],
                                                      ["", "", "", "", "", ""],
                                                      ["a2", "c1", "stage2", "1.4.2024", "3", "nein"]]},
                        delimiter=";", bom=True)
    (folder / "notes.txt").write_text("not data")
    records, problems, summary = read_tabular(folder, CSV_MAPPING)
    assert texts(problems) == []
    assert records == [
        {"type": "audit", "id": "a1", "client": "c1", "audit_type": "stage1", "start_date": "2024-03-04", "audit_days": 1.5, "remote": True},
        {"type": "audit", "id": "a2", "client": "c1", "audit_type": "stage2", "start_date": "2024-04-01", "audit_days": 3, "remote": False},
    ]
    assert summary["files_ignored"] == ["notes.txt"]
    assert summary["sheets"][0]["empty_rows"] == 1 and summary["sheets"][0]["file"] == "audits.csv"


def test_csv_problems_name_file_row_column_value(tmp_path):
    folder = csv_folder(tmp_path / "csv", {"audits": [["Nr", "Kunde", "Art", "Beginn", "Tage", "Remote"],
                                                      ["a1", "c1", "stage1", "4.3.2024", "1.5", "Ja"]]}, delimiter=";")
    _, problems, _ = read_tabular(folder, CSV_MAPPING)
    assert [(p.file, p.line, p.pointer) for p in problems] == [("audits.csv", 2, "/audit_days")]
    assert problems[0].message == "column E 'Tage', value '1.5': not a number"
    assert "decimal_separator: '.'" in problems[0].expected


def test_comma_mapping_on_a_semicolon_file_says_so(tmp_path):
    folder = csv_folder(tmp_path / "csv", {"audits": [["Nr", "Kunde"], ["a1", "c1"]]}, delimiter=";")
    mapping = copy.deepcopy(CSV_MAPPING)
    del mapping["csv"]
    _, problems, _ = read_tabular(folder, mapping)
    assert "set csv: {delimiter: ';'}" in problems[0].expected


def test_csv_that_is_not_utf8_is_refused_with_its_line(tmp_path):
    folder = tmp_path / "csv"
    folder.mkdir()
    (folder / "audits.csv").write_bytes("Nr;Kunde\na1;Müller\n".encode("latin-1"))
    _, problems, _ = read_tabular(folder, CSV_MAPPING)
    assert (problems[0].file, problems[0].line) == ("audits.csv", 2) and "not UTF-8" in problems[0].message


def test_a_mapping_may_name_csv_files_with_their_suffix(tmp_path):
    folder = csv_folder(tmp_path / "csv", {"staff": [["ID"], ["p1"]]})
    mapping = {"cbcheck_mapping": 1, "sheets": {"staff.csv": {"type": "personnel", "columns": {"ID": "id"}}}}
    assert read_tabular(folder, mapping)[:2] == ([{"type": "personnel", "id": "p1"}], [])


def test_a_folder_without_csv_files_is_a_problem_not_an_empty_input(tmp_path):
    (tmp_path / "csv").mkdir()
    (tmp_path / "csv" / "staff.txt").write_text("ID\np1\n")
    records, problems, summary = read_tabular(tmp_path / "csv", CSV_MAPPING)
    assert records == [] and "no .csv files in the folder" in problems[0].message
    assert summary["files_ignored"] == ["staff.txt"]


def test_quoted_csv_cells_keep_their_line_breaks_and_rows_count_as_shown(tmp_path):
    folder = csv_folder(tmp_path / "csv", {"client": [["id", "address"], ["c1", "1 Road\nTown"], ["c 2", "x"]]})
    mapping = {"cbcheck_mapping": 1, "sheets": {"client": {"type": "client", "columns": {"id": "id", "address": "address"}}}}
    records, problems, _ = read_tabular(folder, mapping)
    assert records == [{"type": "client", "id": "c1", "address": "1 Road\nTown"}]
    assert problems[0].line == 3     # the third row, though the fourth line of the file


# --- writing YAML for `cbcheck import`, and dispatch ----------------------------------------------

def test_write_records_one_folder_per_client(tmp_path):
    assert write_records(RECORDS, tmp_path / "out") == []
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.yaml")) == [
        "cb/records.yaml", "clients/northwind/records.yaml"]
    cb = yaml.safe_load((tmp_path / "out/cb/records.yaml").read_text())
    assert {r["id"] for r in cb} == {"cb-1", "p-lee", "p-kim", "cmp-1"}
    back = read_records(tmp_path / "out")
    assert back.problems == [] and by_id([r.data for r in back.records]) == by_id(RECORDS)
    assert load_input(tmp_path / "out").problems == []
    assert "not an empty folder" in write_records(RECORDS, tmp_path / "out")[0].message


def test_write_records_refuses_dangling_references(tmp_path):
    problems = write_records([{"type": "audit", "id": "a1", "client": "nobody", "audit_type": "stage1"}], tmp_path / "out")
    assert "nobody" in problems[0].message and not (tmp_path / "out").exists()


def test_run_import_end_to_end(tmp_path):
    export_workbook(RECORDS, tmp_path / "cb.xlsx")
    problems, summary = run_import("tabular", tmp_path / "cb.xlsx", tmp_path / "out")
    assert problems == [] and summary["mapping"] == "the template mapping"
    assert load_input(tmp_path / "out").problems == []
    (tmp_path / "m.yaml").write_text("cbcheck_mapping: 2\nsheets: {}\n")
    problems, _ = run_import("tabular", tmp_path / "cb.xlsx", tmp_path / "out2", tmp_path / "m.yaml")
    assert problems and problems[0].file == "m.yaml" and not (tmp_path / "out2").exists()


def test_detect_source_and_load_source(tmp_path):
    export_workbook(RECORDS, tmp_path / "cb.xlsx")
    export_csv(RECORDS, tmp_path / "csv")
    (tmp_path / "yaml").mkdir()
    (tmp_path / "yaml" / "r.yaml").write_text("- {type: cb, id: x}\n")
    assert detect_source(tmp_path / "cb.xlsx") == "tabular"
    assert detect_source(tmp_path / "csv") == "tabular"
    assert detect_source(tmp_path / "yaml") is None
    assert detect_source(tmp_path / "yaml" / "r.yaml") is None
    result = load_source(tmp_path / "csv")
    assert result.problems == [] and len(result.records) == len(RECORDS)
    # a mapping.yaml inside the CSV folder is the folder's mapping
    (tmp_path / "csv" / "mapping.yaml").write_text("cbcheck_mapping: 1\nsheets: {cb: {type: cb, columns: {id: id}}}\n")
    assert detect_source(tmp_path / "csv") == "tabular"
    assert load_source(tmp_path / "csv").problems      # now the other files are not in that mapping


def test_the_template_readme_example_mapping_is_valid():
    import re
    text = (TEMPLATES / "README.md").read_text(encoding="utf-8")
    example = yaml.safe_load(re.search(r"```yaml\n(.*?)```", text, re.S)[1])
    from checker.importers.mapping import compile_mapping
    assert compile_mapping(example)[1] == []


def test_a_check_on_a_workbook_points_findings_at_sheet_and_row(tmp_path, monkeypatch):
    """How reader.py is meant to dispatch: the pipeline, given a workbook, reads it through
    load_source; a finding then names the sheet and the row."""
    from checker.pipeline import run_check
    records = [{"type": "client", "id": "c1", "name": "C"},
               {"type": "certificate", "id": "cert-1", "client": "c1", "number": "N1", "status": "active",
                "expiry_date": "2025-01-31"}]
    export_workbook(records, tmp_path / "cb.xlsx")
    monkeypatch.setattr("checker.pipeline.read_records", lambda path: load_source(path))
    rules, params = shipped_rules({"CRT006"})
    report = run_check(tmp_path / "cb.xlsx", rules, params, dt.date(2025, 6, 30))
    assert report["errors"] == []
    assert [(f["rule_id"], f["file"], f["line"], f["pointer"]) for f in report["findings"]] == [
        ("CRT006", "cb.xlsx[certificate]", 2, "/status")]
