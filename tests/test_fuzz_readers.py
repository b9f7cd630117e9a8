"""A short, derandomized fuzz pass over the readers (the long one: tests/fuzz/run_long.py);
the promises are in tests/fuzz/harness.py."""
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings, strategies as st

from tests.fuzz.harness import (check_record_folder, check_submission, check_tabular, csv_bytes, mutated,
                                record_folders, sheets, xlsx_bytes, zip_bytes)

SHORT = settings(max_examples=20, derandomize=True, deadline=None, database=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@SHORT
@given(record_folders())
def test_record_files(files):
    check_record_folder(files)


@SHORT
@given(sheets(), st.data())
def test_csv_folders(book, data):
    with tempfile.TemporaryDirectory() as tmp:
        for name, rows in book.items():
            (Path(tmp) / f"{name}.csv").write_bytes(data.draw(mutated(csv_bytes(rows))))
        check_tabular(Path(tmp))


@settings(SHORT, max_examples=6)         # openpyxl writes and reads each one: slow
@given(sheets(), st.data())
def test_workbooks(book, data):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "book.xlsx"
        raw = xlsx_bytes(book)
        path.write_bytes(data.draw(mutated(raw)) if data.draw(st.booleans()) else raw)
        check_tabular(path)


@settings(SHORT, max_examples=10)
@given(record_folders(), st.data())
def test_zipped_submissions(files, data):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "submission.zip"
        raw = zip_bytes(files)
        path.write_bytes(data.draw(mutated(raw)) if data.draw(st.booleans()) else raw)
        check_submission(path)
