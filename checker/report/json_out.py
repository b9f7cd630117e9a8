"""JSON rendering: the report model as it is, the contract other tools read."""
from __future__ import annotations

import json


def render(report: dict) -> str:
    # NaN and Infinity are not JSON: the readers refuse them in every input, located; a report
    # that still held one is a bug, not something to write.
    return json.dumps(report, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
