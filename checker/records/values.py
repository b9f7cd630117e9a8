"""Values no report can hold, refused where they are read.

JSON's `\\udcff` escape (and PyYAML's pure-Python scanner for `"\\uDCFF"`) gives a lone
surrogate: half of a character, which cannot be written as UTF-8, so a record id or a message
holding one would break every report format. JSON's `NaN`/`Infinity`, an exponent too large
for a float (`1e999`) and YAML's `.nan`/`.inf` give numbers no comparison can judge and the
JSON report format cannot hold. Each is an input problem at its field, never a value passed on.
"""
from __future__ import annotations

import math
import re

SURROGATE = re.compile("[\ud800-\udfff]")
# A JSON text can only hold a surrogate through an escape (the file itself was decoded as UTF-8).
SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
TEXT_EXPECTED = "valid Unicode text: a \\uD800-\\uDFFF escape needs its other half (export the file again)"
NUMBER_EXPECTED = "a finite number, or the value in quotes if it is text"


def text_problem(text: str, what: str = "text") -> tuple[str, str] | None:
    """(message, expected) when `text` holds a lone surrogate, else None. The message names
    the escape in ASCII, never the surrogate itself."""
    found = SURROGATE.search(text)
    if found is None:
        return None
    return (f"{what} that is not valid Unicode (a lone surrogate \\u{ord(found.group()):04x}, "
            "half of a character)", TEXT_EXPECTED)


def number_problem(value) -> tuple[str, str] | None:
    """(message, expected) when `value` is a float that is not finite, else None."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"a number that is not finite ({value!r}), which no check can compare", NUMBER_EXPECTED
    return None
