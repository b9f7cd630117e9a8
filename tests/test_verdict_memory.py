"""What a worker sends back to keep in the main process (records/stream.Located and
InternedData) comes back equal, with its strings shared across messages: the main process holds
every verdict until the report."""
from __future__ import annotations

import json
import pickle

from checker.records.stream import InternedData, Located


def _sent_twice(value):
    """`value` as two separate messages from a worker give it back (one pickle each)."""
    return pickle.loads(pickle.dumps(value)), pickle.loads(pickle.dumps(value))


def test_a_records_place_comes_back_equal_with_its_pointers_shared():
    place = Located("certificate", "clients/c1/certificates.yaml", "/1",
                    {"/1": 12, "/1/number": 13, "/1/sites": 14}, 12)
    first, second = _sent_twice(place)
    assert first == place and vars(first) == vars(place)
    assert first.line_of("/sites/0") == 14 and first.line_of("/expiry_date") == 12
    assert all(a is b for a, b in zip(first.lines, second.lines))
    assert first.file is second.file


def test_a_records_data_comes_back_equal_as_plain_json_data_with_its_strings_shared():
    data = InternedData({"id": "c1-cert1", "type": "certificate", "sites": ["HQ", {"name": "Annex", "staff": 3}],
                         "ratio": 0.5, "current": True, "replaces": None, "issue_date": "2024-05-01"})
    first, second = _sent_twice(data)
    assert first == data and type(first) is dict and json.dumps(first) == json.dumps(data)
    assert list(first) == list(data)        # the fields in their order
    assert all(a is b for a, b in zip(first, second))
    assert first["sites"][0] is second["sites"][0] and first["issue_date"] is second["issue_date"]
    assert list(first["sites"][1])[0] is list(second["sites"][1])[0]
    assert json.dumps(data) == json.dumps(dict(data))       # the cache writes it as the dict it is
