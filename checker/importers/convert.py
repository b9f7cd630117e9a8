"""Turns one spreadsheet cell into the value of one record field, or refuses it.

Workbook cells arrive typed (text, number, boolean, date); CSV cells are always text. Each
field kind accepts what can be read without guessing: a date written 04/03/2024 is refused
unless the mapping declares which of day and month comes first, a number in a date column is
refused unless the mapping declares Excel serial day numbers, a boolean column takes only the
words it knows. A refusal says what was found and what to write, or what to declare in the
mapping, instead.
"""
from __future__ import annotations

import datetime as dt
import math
import re
from decimal import Decimal

from checker.importers.layout import FieldSpec
from checker.importers.mapping import Options, expected_for, normalize

EXCEL_EPOCH_1900 = dt.date(1899, 12, 30)
_EXCEL_SERIAL_MIN = 61      # serials below are before 1 March 1900, where Excel counts a 29 February that never was
_EXCEL_SERIAL_MAX = 2958465  # 9999-12-31

_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[T ]00:00(?::00(?:\.0+)?)?Z?)?")
_ISO_WITH_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}.*")
_SLASH = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
_DOT = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})")
_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})")
_SERIAL = re.compile(r"\d{1,7}")
_SHORT_YEAR = re.compile(r"\d{1,2}[/.-]\d{1,2}[/.-]\d{2}")
_NUMBER = {".": re.compile(r"[+-]?\d+(?:\.\d+)?"), ",": re.compile(r"[+-]?\d+(?:,\d+)?")}


class Refused(Exception):
    def __init__(self, message: str, expected: str):
        super().__init__(message)
        self.message, self.expected = message, expected


def is_empty(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def show(value) -> str:
    """A cell value as a person would recognise it in a message."""
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return repr(value)


def plain_number(value: float | int) -> str:
    """A number as text without exponent (1e-05 reads back as 0.00001, never as text 'e')."""
    if isinstance(value, int):
        return str(value)
    text = format(Decimal(repr(value)), "f")
    return text[:-2] if text.endswith(".0") else text


def convert_cell(raw, spec: FieldSpec, options: Options, values: dict | None = None,
                 epoch: dt.date = EXCEL_EPOCH_1900):
    """The field value of a non-empty cell; raises Refused."""
    values = values or {}
    if spec.is_list:
        return _list(raw, spec, options, values, epoch)
    if isinstance(raw, str) and normalize(raw) in values:
        return values[normalize(raw)]
    return _scalar(raw, spec, options, epoch)


def _list(raw, spec, options, values, epoch):
    if not isinstance(raw, str):
        return [_scalar(raw, spec, options, epoch)]   # a lone number or date cell is a one-value list
    if normalize(raw) == normalize(options.empty_list):
        return []
    out = []
    parts = [p.strip() for p in raw.split(options.list_separator)]
    for n, part in enumerate(parts, start=1):
        if not part:
            continue      # "a; b;" - a trailing separator carries no value
        if normalize(part) in values:
            out.append(values[normalize(part)])
            continue
        try:
            out.append(_scalar(part, spec, options, epoch))
        except Refused as exc:
            raise Refused(f"list value {n} ({part!r}, values separated by {options.list_separator!r}): {exc.message}",
                          exc.expected) from None
    return out


def _scalar(raw, spec: FieldSpec, options: Options, epoch):
    kind = spec.kind
    if kind == "date":
        return _date(raw, options, epoch)
    if kind == "boolean":
        return _boolean(raw, options)
    if kind in ("integer", "number"):
        return _number(raw, kind, options)
    if isinstance(raw, bool):
        raise Refused("a TRUE/FALSE cell where text is expected", expected_for(spec) + "; type the cell as text")
    if isinstance(raw, dt.time):
        raise Refused("a time-of-day cell", expected_for(spec))
    if kind == "enum":
        text = raw.strip() if isinstance(raw, str) else plain_number(raw) if isinstance(raw, (int, float)) else show(raw)
        for allowed in spec.enum:
            if normalize(allowed) == normalize(text):
                return allowed
        raise Refused("not an allowed value",
                      expected_for(spec) + "; or map your label to one of them under `values:` of this column in the mapping")
    if isinstance(raw, dt.datetime):
        return raw.date().isoformat() if raw.time() == dt.time(0) else raw.isoformat(sep=" ")
    if isinstance(raw, dt.date):
        return raw.isoformat()
    if isinstance(raw, (int, float)):
        return plain_number(raw)
    return raw.strip() if kind == "id" else raw    # text keeps its spaces: they are the user's


def _boolean(raw, options: Options) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, (int, float)) and raw in (0, 1):
        return bool(raw)
    if isinstance(raw, str):
        word = normalize(raw)
        if word in options.true_words:
            return True
        if word in options.false_words:
            return False
    words = sorted(options.true_words) + sorted(options.false_words)
    raise Refused("not a yes/no value",
                  "one of " + ", ".join(words) + "; other words can be added with true_words/false_words in the mapping")


def _number(raw, kind: str, options: Options):
    what = "a whole number" if kind == "integer" else "a number"
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raise Refused(f"not {what}", what)
    if isinstance(raw, str):
        text = raw.strip()
        if not _NUMBER[options.decimal_separator].fullmatch(text):
            other = "," if options.decimal_separator == "." else "."
            hint = f"; if the sheet writes decimals with {other!r}, set decimal_separator: {other!r} in the mapping" \
                if _NUMBER[other].fullmatch(text) else ""
            raise Refused(f"not {what}", f"{what} such as 8{options.decimal_separator}5 (no thousands separators){hint}")
        text = text.replace(",", ".")
        raw = int(text) if re.fullmatch(r"[+-]?\d+", text) else float(text)
    if isinstance(raw, float) and (math.isnan(raw) or math.isinf(raw)):
        raise Refused(f"not {what}", what)
    if kind == "integer":
        if isinstance(raw, float) and not raw.is_integer():
            raise Refused("not a whole number", "a whole number")
        return int(raw)
    return raw


def _date(raw, options: Options, epoch: dt.date) -> str:
    formats = options.date_formats
    if isinstance(raw, dt.datetime):
        if raw.time() != dt.time(0):
            raise Refused("a date with a time of day", "a date alone: format the cell as a date, without time")
        return raw.date().isoformat()
    if isinstance(raw, dt.date):
        return raw.isoformat()
    if isinstance(raw, bool) or isinstance(raw, dt.time):
        raise Refused("not a date", "a date")
    if isinstance(raw, (int, float)):
        return _date_number(raw, formats, epoch)
    text = raw.strip()
    m = _ISO.fullmatch(text)
    if m and "YYYY-MM-DD" in formats:
        return _ymd(int(m[1]), int(m[2]), int(m[3]), "YYYY-MM-DD")
    if _ISO_WITH_TIME.fullmatch(text):
        raise Refused("a date with a time of day", "a date alone, written YYYY-MM-DD")
    m = _SLASH.fullmatch(text)
    if m:
        if "DD/MM/YYYY" in formats:
            return _ymd(int(m[3]), int(m[2]), int(m[1]), "DD/MM/YYYY")
        if "MM/DD/YYYY" in formats:
            return _ymd(int(m[3]), int(m[1]), int(m[2]), "MM/DD/YYYY")
        raise Refused("ambiguous date: day and month order unknown (04/03/2024 is 4 March in DD/MM/YYYY, "
                      "3 April in MM/DD/YYYY); cbcheck never guesses",
                      "declare date_formats: [DD/MM/YYYY] or [MM/DD/YYYY] for this column, sheet or defaults in the mapping")
    m = _DOT.fullmatch(text)
    if m and "DD.MM.YYYY" in formats:
        return _ymd(int(m[3]), int(m[2]), int(m[1]), "DD.MM.YYYY")
    m = _COMPACT.fullmatch(text)
    if m and "YYYYMMDD" in formats:
        return _ymd(int(m[1]), int(m[2]), int(m[3]), "YYYYMMDD")
    if _SERIAL.fullmatch(text) and "excel_serial" in formats:
        return _serial(int(text), epoch)
    raise Refused(_date_hint(text, formats), "a date in one of the declared formats: " + ", ".join(formats))


def _date_hint(text: str, formats) -> str:
    if _SHORT_YEAR.fullmatch(text):
        return "a two-digit year; write the year in full"
    if _DOT.fullmatch(text):
        return "not a date in the declared formats; if the sheet writes DD.MM.YYYY, add it to date_formats in the mapping"
    if _COMPACT.fullmatch(text):
        return "not a date in the declared formats; if the sheet writes YYYYMMDD, add it to date_formats in the mapping"
    if _SERIAL.fullmatch(text):
        return ("a number where a date is expected; if these are Excel serial day numbers, add excel_serial to "
                "date_formats in the mapping")
    if _ISO.fullmatch(text):
        return "a YYYY-MM-DD date, but the mapping does not declare YYYY-MM-DD here; add it to date_formats"
    return "not a date"


def _date_number(raw, formats, epoch: dt.date) -> str:
    if isinstance(raw, float) and not raw.is_integer():
        if "excel_serial" in formats:
            raise Refused("an Excel serial date with a time of day", "a date alone")
        raise Refused("a number where a date is expected", "a date cell, or a date in one of: " + ", ".join(formats))
    n = int(raw)
    if "YYYYMMDD" in formats and 10000101 <= n <= 99991231:
        text = str(n)
        return _ymd(int(text[:4]), int(text[4:6]), int(text[6:]), "YYYYMMDD")
    if "excel_serial" in formats:
        return _serial(n, epoch)
    raise Refused("a number where a date is expected (format the cells as dates, or if these are Excel serial day "
                  "numbers add excel_serial to date_formats in the mapping)",
                  "a date cell, or a date in one of: " + ", ".join(formats))


def _serial(n: int, epoch: dt.date) -> str:
    low = _EXCEL_SERIAL_MIN if epoch == EXCEL_EPOCH_1900 else 0
    if not low <= n <= _EXCEL_SERIAL_MAX:
        raise Refused(f"Excel serial day number {n} is out of range", f"a serial between {low} and {_EXCEL_SERIAL_MAX}")
    return (epoch + dt.timedelta(days=n)).isoformat()


def _ymd(year: int, month: int, day: int, fmt: str) -> str:
    try:
        return dt.date(year, month, day).isoformat()
    except ValueError:
        raise Refused(f"no such date (read as {fmt})", f"a real date written {fmt}") from None
