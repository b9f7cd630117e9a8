"""Values no report can hold, refused where they are read.

JSON's `\\udcff` escape (and PyYAML's pure-Python scanner for `"\\uDCFF"`) gives a lone
surrogate: half of a character, which cannot be written as UTF-8, so a record id or a message
holding one would break every report format. JSON's `NaN`/`Infinity`, an exponent too large
for a float (`1e999`) and YAML's `.nan`/`.inf` give numbers no comparison can judge and the
JSON report format cannot hold. An integer outside 64 bits is one no check can compare either:
durable_rules' C core reads every number into a 64-bit integer or a double, and such an integer
lost the whole partition (measured: 10**24 in a personnel record; the sentinel did not fire, so
every requirement of every client showed error with an engine message naming no field). Each is
an input problem at its field, never a value passed on.
"""
from __future__ import annotations

import math
import re

SURROGATE = re.compile("[\ud800-\udfff]")
# A JSON text can only hold a surrogate through an escape (the file itself was decoded as UTF-8).
SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
TEXT_EXPECTED = "valid Unicode text: a \\uD800-\\uDFFF escape needs its other half (export the file again)"
NUMBER_EXPECTED = "a finite number, or the value in quotes if it is text"
INT64 = range(-2 ** 63, 2 ** 63)       # what the engine core holds as an integer
INT64_EXPECTED = f"an integer from {INT64.start} to {INT64.stop - 1}, or the value in quotes if it is text"


def text_problem(text: str, what: str = "text") -> tuple[str, str] | None:
    """(message, expected) when `text` holds a lone surrogate, else None. The message names
    the escape in ASCII, never the surrogate itself."""
    found = SURROGATE.search(text)
    if found is None:
        return None
    return (f"{what} that is not valid Unicode (a lone surrogate \\u{ord(found.group()):04x}, "
            "half of a character)", TEXT_EXPECTED)


def number_problem(value) -> tuple[str, str] | None:
    """(message, expected) when `value` is a float that is not finite or an integer beyond 64
    bits, else None."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"a number that is not finite ({value!r}), which no check can compare", NUMBER_EXPECTED
    if type(value) is int and value not in INT64:
        return (f"an integer of {len(str(abs(value)))} digits, beyond the 64 bits a check can compare",
                INT64_EXPECTED)
    return None
