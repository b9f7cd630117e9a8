"""A fast exact reading of one JSON text: orjson's parse, used only where it is certain to
give what the exact reader (located._parse_json: stdlib json, duplicate keys reported,
surrogate escapes and non-finite numbers judged, deep nesting and huge integers refused)
gives, with no problem; None wherever it is not certain, and the caller reads exactly.

orjson differs from the exact reader in four ways, each decided here:
- duplicate keys: orjson keeps the last silently. Outside strings the only `:` of a JSON text
  is the one after each key, and a string's raw `:` characters are at least those of its
  parsed value unless an escape (`\\u003a`) makes one. orjson writes the parsed data back
  with exactly one `:` per key plus those of its strings. So, in a text without such an
  escape, when the text has no more `:` than that, no key occurred twice (a dropped
  duplicate would leave its own `:` over).
- integers beyond 64 bits become floats in orjson. Such an integer has at least 19 digits,
  so a text with 19 digits in a row (in a number or a string) is not tried.
- NaN, Infinity, numbers out of a double's range and lone surrogate escapes: orjson refuses
  them (error), and a text holding a surrogate escape is not even tried.
- nesting: a text with more brackets than MAX_DEPTH is not tried.
Every other JSON text reads alike in both (RFC 8259 strings, control characters refused,
floats correctly rounded: tests/test_fast_json.py holds the cases).
"""
from __future__ import annotations

import re

import orjson

from checker.records.compose import MAX_DEPTH
from checker.records.values import SURROGATE_ESCAPE

_COLON_ESCAPE = re.compile(r"\\u003[aA]")
# Digits to "0", everything else to " ": a run of 19 zeros is 19 digits in a row (a regex scan
# of the text cost five times as much).
_DIGITS = bytes(48 if 48 <= b <= 57 else 32 for b in range(256))
_LONG_RUN = b"0" * 19
# Every byte but brackets and line breaks, for the brackets of each line of a text (one pass).
_NOT_NESTING = bytes(b for b in range(256) if b not in b"[{\n")


def _most_brackets(encoded: bytes, texts: list[str]) -> int:
    """The most `[` and `{` one of `texts` holds (`encoded`: them joined with line breaks)."""
    if encoded.count(b"\n") != len(texts) - 1:     # a text holds a line break of its own
        return max(text.count("[") + text.count("{") for text in texts)
    return max(map(len, encoded.translate(None, _NOT_NESTING).split(b"\n")))


def exact_json(text: str):
    """The data of `text` exactly as located._parse_json reads it without a problem, or None
    when that is not certain (then read it with _parse_json)."""
    found = exact_json_texts([text])
    return None if found is None else found[0]


def exact_json_texts(texts: list[str]) -> list | None:
    """exact_json of each of `texts`, when it is certain of every one of them, else None: the
    checks made once over all of them (a worker reads a client's lines together). Each holds
    for the whole exactly when it holds for every text: no match nor run of digits spans two
    texts joined with a line break, and no text's data writes more `:` than its text holds, so
    the totals are equal only where every text's are."""
    if not texts:
        return []
    whole = "\n".join(texts)
    if "\\u" in whole and (SURROGATE_ESCAPE.search(whole) or _COLON_ESCAPE.search(whole)):
        return None
    encoded = whole.encode("utf-8")
    if _LONG_RUN in encoded.translate(_DIGITS) or _most_brackets(encoded, texts) > MAX_DEPTH:
        return None
    try:
        datas = [orjson.loads(text) for text in texts]
    except orjson.JSONDecodeError:
        return None
    return datas if orjson.dumps(datas).count(b":") == whole.count(":") else None
