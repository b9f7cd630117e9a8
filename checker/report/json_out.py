"""JSON rendering: the report model as it is, the contract other tools read."""
from __future__ import annotations

import json
import re

import orjson

# Model parts drawn only by the HTML report: the JSON contract stays as documented without them.
HTML_ONLY = ("timelines", "competence")
# Numbers orjson writes otherwise than json does: a float below 1e-4 (json 1e-05 and 1e-09,
# orjson 0.00001 and 1e-9), found in orjson's text (inside strings too: then json writes it).
# Searched for by their literal part, "0.0000" and "e-" (a regex starting with a digit class
# took half as long as orjson's whole encoding).
_EXPONENT = re.compile(rb"e-\d")


def _orjson_own_floats(text: bytes) -> bool:
    return b"0.0000" in text or any(text[m.start() - 1:m.start()].isdigit() for m in _EXPONENT.finditer(text))


def contract(report: dict) -> dict:
    """The report as the JSON contract documents it, without the HTML-only parts."""
    return {k: v for k, v in report.items() if k not in HTML_ONLY}


def render(report: dict) -> str:
    # NaN and Infinity are not JSON: the readers refuse them in every input, located; a report
    # that still held one is a bug, not something to write.
    data = contract(report)
    return (_as_json_writes(data) or json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False)) + "\n"


def _as_json_writes(data) -> str | None:
    """`data` as json.dumps(indent=2, ensure_ascii=False) writes it, by orjson (a tenth of the
    time: 0.04 CPU-s for a 2 MB report of 10,000 clients, json's indenting encoder being pure
    Python), or None where orjson's text could differ: what it refuses (a key not text, an
    integer beyond 64 bits, a lone surrogate), what it writes that json would not or
    otherwise (NaN as null, a date, a tuple as a list: its text read back is then not
    `data`), and the floats it writes in its own way."""
    try:
        text = orjson.dumps(data, option=orjson.OPT_INDENT_2)
    except TypeError:       # orjson.JSONEncodeError
        return None
    if _orjson_own_floats(text) or orjson.loads(text) != data:
        return None
    return text.decode()
