"""A short, derandomized fuzz pass over the readers (the long one: tests/fuzz/run_long.py);
the inputs and the promises are in tests/fuzz/harness.py."""
from hypothesis import HealthCheck, given, settings, strategies as st

from tests.fuzz.harness import TARGETS

SHORT = settings(max_examples=20, derandomize=True, deadline=None, database=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@SHORT
@given(st.data())
def test_record_files(data):
    TARGETS["record files"](data)


@SHORT
@given(st.data())
def test_csv_folders(data):
    TARGETS["csv folders"](data)


@settings(SHORT, max_examples=6)         # openpyxl writes and reads each one: slow
@given(st.data())
def test_workbooks(data):
    TARGETS["workbooks"](data)


@settings(SHORT, max_examples=10)
@given(st.data())
def test_zipped_submissions(data):
    TARGETS["zipped submissions"](data)
