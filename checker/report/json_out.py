"""JSON rendering: the report model as it is, the contract other tools read."""
from __future__ import annotations

import json


# Model parts drawn only by the HTML report: the JSON contract stays as documented without them.
HTML_ONLY = ("timelines", "competence")


def contract(report: dict) -> dict:
    """The report as the JSON contract documents it, without the HTML-only parts."""
    return {k: v for k, v in report.items() if k not in HTML_ONLY}


def render(report: dict) -> str:
    # NaN and Infinity are not JSON: the readers refuse them in every input, located; a report
    # that still held one is a bug, not something to write.
    return json.dumps(contract(report), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
