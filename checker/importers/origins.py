"""Records built from spreadsheet rows, with the cell every value came from.

A record from a sheet is validated by the same schema validation as a YAML record; its
problems are then put back where the user can find them: sheet (or file), row, column and
the cell's value, rather than a JSON Pointer into a document that does not exist. The same
record becomes a `Record` for the rest of the pipeline, whose line is the row.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from checker.errors import Problem
from checker.importers.convert import show
from checker.records.located import Document, escape_pointer_token, nearest
from checker.records.reader import Record
from checker.records.validate import validate_record

_MISSING = re.compile(r"^'(.+)' is missing$")


@dataclass(frozen=True)
class Origin:
    file: str                      # book.xlsx[sheet] or file.csv
    row: int
    column: str | None = None      # letter, None for the row as a whole
    header: str | None = None
    raw: object = None

    def column_name(self) -> str:
        return f"column {self.column} {self.header!r}"

    def where(self) -> str:
        return f"{self.column_name()}, value {show(self.raw)}: " if self.column else ""

    def place(self) -> str:
        """The row, as a sentence names it."""
        return f"{self.file} row {self.row}"

    def problem(self, pointer: str, message: str, expected: str = "") -> Problem:
        return Problem(self.file, self.row, pointer, self.where() + message, expected)


def _parts(path: str) -> list:
    # An extension field is one key whatever it holds ('x-crm.ref'); a schema path is dotted.
    return [path] if path.startswith("x-") else path.split(".")


def pointer_of(path: str) -> str:
    return "".join("/" + escape_pointer_token(p) for p in _parts(path))


def set_path(data: dict, path: str, value):
    parts = _parts(path)
    for part in parts[:-1]:
        data = data.setdefault(part, {})
    data[parts[-1]] = value


@dataclass
class Built:
    """A record being assembled from one row (and the rows of its items sheets)."""
    data: dict
    origin: Origin                                   # the record's own row
    origins: dict = field(default_factory=dict)      # JSON Pointer -> Origin of the cell behind it
    empty_columns: dict = field(default_factory=dict)  # JSON Pointer -> column_name() of a mapped cell left empty
    refused_pointers: set = field(default_factory=set)  # fields whose cell was refused

    def origin_of(self, pointer: str) -> Origin:
        return nearest(self.origins, pointer, self.origin)

    def document(self) -> Document:
        # Values from the record's own row carry its row number; items from another sheet
        # resolve to the record's row, the right sheet for a finding's `file`.
        lines = {p: o.row for p, o in self.origins.items() if o.file == self.origin.file}
        lines[""] = self.origin.row
        return Document(self.data, lines, self.origin.row)

    def to_record(self) -> Record:
        return Record(self.data, self.origin.file, self.document(), "")

    def validate(self, refused_pointers: frozenset = frozenset()) -> list[Problem]:
        """Schema problems, located at their cells. Pointers whose cell was refused already
        are left out: the refusal said it, and 'is missing' would be wrong."""
        out = []
        for p in validate_record(self.to_record()):
            origin = self.origin_of(p.pointer)
            message = p.message
            m = _MISSING.match(message)
            target = f"{p.pointer}/{escape_pointer_token(m[1])}" if m else p.pointer
            if any(target == r or target.startswith(r + "/") for r in refused_pointers):
                continue
            if m:
                gap = self.empty_columns.get(target)
                if gap:
                    message += f" ({gap} is empty)"
                out.append(Problem(origin.file, origin.row, p.pointer, message, p.expected))
            else:
                out.append(origin.problem(p.pointer, message, p.expected))
        return out
