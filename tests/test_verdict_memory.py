"""What a worker sends back to keep in the main process (records/stream.Located) comes back
equal, with its strings shared across messages: the main process holds every verdict's places
until the report."""
from __future__ import annotations

import pickle

from checker.records.stream import Located


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

