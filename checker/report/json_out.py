"""JSON rendering: the report model as it is, the contract other tools read."""
from __future__ import annotations

import json


def render(report: dict) -> str:
    return json.dumps(report, indent=2, ensure_ascii=False) + "\n"
