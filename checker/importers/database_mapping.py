"""The database mapping: which table (or SELECT) gives which record type, which columns name
a row, and how columns become fields.

Checked like the spreadsheet mapping, and by the same code: its shape against
`database-mapping.schema.json`, then the meaning of each entry's columns, values and
constants against the record schemas (mapping.compile_sheets), every problem at its line of
the mapping file. What is the database's own (does the table exist, does it have the column)
is checked against the database before any row is read (database.py).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from checker.errors import Problem
from checker.importers.mapping import SheetSpec, compile_sheets, read_mapping_document, schema_problems
from checker.records.located import Document, escape_pointer_token

SECTION = "tables"


@dataclass(frozen=True)
class TableSpec:
    name: str                  # the entry's name: rows are named by it in problems and findings
    table: str | None          # None when the rows come from `query`
    db_schema: str | None
    query: str | None
    key: tuple                 # column names identifying a row (and ordering the rows)
    sheet: SheetSpec           # columns, conversions, items, parent column, constants

    def columns(self) -> list[str]:
        """Every column read, as the mapping writes it: key, parent, mapped (each once)."""
        wanted = list(self.key)
        if self.sheet.parent_column:
            wanted.append(self.sheet.parent_column)
        wanted += [c.header for c in self.sheet.columns.values()]
        return list(dict.fromkeys(wanted))

    def source(self) -> str:
        """How a sentence names where the rows come from."""
        if self.query is not None:
            return f"the query of entry {self.name!r}"
        return f"table {self.db_schema + '.' if self.db_schema else ''}{self.table}"


@lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    files = resources.files("checker.importers")
    own = json.loads((files / "database-mapping.schema.json").read_text(encoding="utf-8"))
    sheets = json.loads((files / "mapping.schema.json").read_text(encoding="utf-8"))
    registry = Registry().with_resource(sheets["$id"], Resource.from_contents(sheets))
    return Draft202012Validator(own, registry=registry)


def load_database_mapping(path: str | Path) -> tuple[list[TableSpec] | None, list[Problem]]:
    """Read and check a database mapping file: (its entries, []) or (None, every problem)."""
    doc, problems = read_mapping_document(path)
    if problems:
        return None, problems
    return compile_database_mapping(doc.data, Path(path).name, doc)


def compile_database_mapping(data, file: str = "mapping", doc: Document | None = None
                             ) -> tuple[list[TableSpec] | None, list[Problem]]:
    if not isinstance(data, dict):
        return None, [Problem(file, doc.first_line if doc else None, "", "a database mapping must be a YAML mapping",
                              "cbcheck_database_mapping: 1 and tables: {...}")]
    problems = schema_problems(_validator(), data, file, doc)
    if problems:
        return None, problems
    sheets, problems = compile_sheets(SECTION, data["tables"], data.get("defaults", {}), file, doc)
    specs = []
    for name, raw in data["tables"].items():
        pointer = f"/{SECTION}/{escape_pointer_token(name)}"
        line = doc.line_of(pointer) if doc else None
        if "table" in raw and "query" in raw:
            problems.append(Problem(file, line, pointer, "both `table` and `query`; the rows come from one of them",
                                    "table: NAME, or query: SELECT ..."))
        if "query" in raw and "schema" in raw:
            problems.append(Problem(file, line, pointer, "`schema` is for `table`; a query names its own tables",
                                    "schema.table inside the query"))
        key = _key(raw, sheets.get(name))
        if not key:
            problems.append(Problem(file, line, pointer, "no `key`: the column(s) that identify a row, so every "
                                    "problem and finding can name it" + (" and items keep their order"
                                                                         if "items" in raw else ""),
                                    "key: the table's primary key column(s)"))
        if name in sheets and key:
            specs.append(TableSpec(name, None if "query" in raw else raw.get("table", name), raw.get("schema"),
                                   raw.get("query"), key, sheets[name]))
    return (specs, []) if not problems else (None, problems)


def _key(raw: dict, sheet: SheetSpec | None) -> tuple:
    key = raw.get("key")
    if key is not None:
        return (key,) if isinstance(key, str) else tuple(key)
    if sheet is None or sheet.items:
        return ()
    return tuple(c.header for c in sheet.columns.values() if c.field.path == "id")
