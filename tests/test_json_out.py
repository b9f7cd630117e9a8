"""The JSON report is written as json.dumps(indent=2, ensure_ascii=False) writes it, byte for
byte, though orjson writes it where it can (report/json_out.py)."""
from __future__ import annotations

import datetime as dt
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from checker.report import json_out


def _json_writes(data) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


FLOATS = st.one_of(st.floats(allow_nan=False, allow_infinity=False),
                   st.builds(lambda m, e: m * 10.0 ** e, st.integers(-999, 999), st.integers(-12, 20)))
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-2 ** 70, 2 ** 70), FLOATS,
                    st.text(st.characters(codec="utf-8")), st.sampled_from(["e-1", "Stage-1", "1e-5", "0.00001"]))
DATA = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                     st.dictionaries(st.text(max_size=5), inner, max_size=4),
                                                     st.tuples(inner, inner)), max_leaves=30)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.text(max_size=8), DATA, max_size=5))
def test_any_report_of_json_values_is_written_as_json_writes_it(report):
    assert json_out.render(report) == _json_writes(report)


@pytest.mark.parametrize("value", [1e-05, -6e-05, 7.658837054872267e-09, 1e-300, 5e-324, 1e16, 1.5e300, -0.0, 0.1,
                                   "\ud800", "\x00\x1f\x7f\u2028 é \"\\", 2 ** 64, -2 ** 63 - 1, (1, [2, ()]), {},
                                   [], {"a": {}}, {1: "int key"}, {None: 1, True: 2, 1.5: 3}])
def test_values_orjson_writes_otherwise_or_refuses_are_written_as_json_writes_them(value):
    report = {"summary": {"value": value}, "timelines": "html only"}
    assert json_out.render(report) == _json_writes({"summary": {"value": value}})


@pytest.mark.parametrize("value, error", [(math.nan, ValueError), (math.inf, ValueError),
                                          (dt.date(2025, 1, 1), TypeError), ({1, 2}, TypeError)])
def test_what_json_refuses_is_refused_as_before(value, error):
    with pytest.raises(error):
        json_out.render({"summary": {"value": value}})
