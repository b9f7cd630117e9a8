"""Row 1 of a sheet -> what each column is: the header matching shared by the tabular
reader (through a mapping) and the CertSearch reader (through its fixed column table).

Both walk every column that has a header or a value, refuse a value under no usable header,
refuse a column that repeats another, and refuse a header they do not know: its values would
otherwise be lost. What a header means, and how each of those problems is worded, is the
format's own (a `HeaderRules`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from checker.errors import Problem
from checker.importers.convert import is_empty
from checker.importers.sources import RawSheet, Unusable, column_letter


@dataclass(frozen=True)
class Column:
    """What one header is. `same_as` is what two columns must not share (None: never a
    repeat); `target` what the column feeds (None with no `refusal`: an ignored column);
    `refusal` (message, expected) when the header is not one the format knows."""
    same_as: str | None
    target: Any = None
    refusal: tuple[str, str] | None = None


class HeaderRules(Protocol):
    def text(self, header) -> str: ...

    def blank(self, letter: str, header, first_filled: int | None) -> tuple[str, str] | None:
        """The problem with a column whose header is empty or unusable (None: no problem)."""

    def classify(self, letter: str, text: str) -> Column: ...

    def repeated(self, letter: str, text: str, first_letter: str) -> tuple[str, str]: ...


def first_filled_row(raw: RawSheet, idx: int) -> int | None:
    return next((n for n, cells in raw.rows if idx <= len(cells) and not is_empty(cells[idx - 1])), None)


def resolve_headers(raw: RawSheet, rules: HeaderRules, problems: list) -> tuple[dict, bool]:
    """(column index -> (target, header text), whether every column is accounted for)."""
    ok = True
    width = max([len(raw.headers)] + [len(cells) for _, cells in raw.rows])
    targets, seen = {}, {}
    for idx in range(1, width + 1):
        header = raw.headers[idx - 1] if idx <= len(raw.headers) else None
        letter = column_letter(idx)
        if isinstance(header, Unusable) or is_empty(header):
            refusal = rules.blank(letter, header, first_filled_row(raw, idx))
        else:
            text = rules.text(header)
            column = rules.classify(letter, text)
            if column.same_as is not None and column.same_as in seen:
                refusal = rules.repeated(letter, text, seen[column.same_as])
            else:
                if column.same_as is not None:
                    seen[column.same_as] = letter
                refusal = column.refusal
                if refusal is None and column.target is not None:
                    targets[idx] = (column.target, text)
        if refusal:
            problems.append(Problem(raw.label, 1, "", *refusal))
            ok = False
    return targets, ok
