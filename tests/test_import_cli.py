"""Spreadsheets end to end through the CLI: the demo CB exported to a workbook and to CSV
files gives the same findings as the demo's own YAML, located at sheet and row."""
import datetime as dt
from pathlib import Path

from click.testing import CliRunner

from checker.importers.export import export_csv, export_workbook
from checker.pipeline import load_input, run_check
from tests.helpers import shipped_rules
from cli import main

DEMO = Path(__file__).resolve().parents[1] / "fixtures" / "demo-cb"
AS_OF = dt.date(2026, 11, 25)
RULES, PARAMS = shipped_rules()


def essence(report):
    """What must not change when the same records come from another format: everything but
    where the records sat (file, line, pointer prefix); the fingerprint carries the field."""
    return sorted((f["rule_id"], f["client"], f["record_id"], f["fingerprint"], f["message"])
                  for f in report["findings"])


def demo_records():
    return [r.data for r in load_input(DEMO).read.records]


def test_demo_as_workbook_and_as_csv_gives_the_same_findings(tmp_path):
    expected = essence(run_check(DEMO, RULES, PARAMS, AS_OF))
    book = tmp_path / "demo.xlsx"
    assert export_workbook(demo_records(), book) == []
    csv_folder = tmp_path / "csv"
    assert export_csv(demo_records(), csv_folder) == []
    for source in (book, csv_folder):
        report = run_check(source, RULES, PARAMS, AS_OF)
        assert report["errors"] == []
        assert essence(report) == expected
    located = run_check(book, RULES, PARAMS, AS_OF)["findings"][0]
    assert located["file"].startswith("demo.xlsx[") and located["line"] >= 2


def test_import_command_writes_records_that_check_like_the_original(tmp_path):
    book = tmp_path / "demo.xlsx"
    export_workbook(demo_records(), book)
    out = tmp_path / "imported"
    result = CliRunner().invoke(main, ["import", "tabular", str(book), "--out", str(out)], catch_exceptions=False)
    assert result.exit_code == 0 and "0 refused" in result.output
    assert essence(run_check(out, RULES, PARAMS, AS_OF)) == essence(run_check(DEMO, RULES, PARAMS, AS_OF))


def test_import_problems_name_sheet_row_column_and_value(tmp_path):
    folder = tmp_path / "csv"
    export_csv([{"type": "client", "id": "c1", "name": "x"},
                {"type": "audit", "id": "a1", "client": "c1", "audit_type": "stage1", "start_date": "2024-01-02"}],
               folder)
    audit_csv = folder / "audit.csv"
    audit_csv.write_text(audit_csv.read_text(encoding="utf-8").replace("2024-01-02", "31/02/2024"), encoding="utf-8")
    result = CliRunner().invoke(main, ["import", "tabular", str(folder), "--out", str(tmp_path / "o")],
                                catch_exceptions=False)
    assert result.exit_code == 2 and "audit.csv:2" in result.output and "31/02/2024" in result.output
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())
    code = CliRunner().invoke(main, ["check", str(folder), "--as-of", "2025-01-01", "--format", "json"]).exit_code
    assert code == 2
