"""Builds a CB database from record files: the demo CB as a certification-management
system would hold it, and the database mapping that reads it back.

    python -m checker.importers.database_demo fixtures/demo-cb demo-cb.db [--mapping db-mapping.yaml]
    python -m checker.importers.database_demo fixtures/demo-cb postgresql://cb@127.0.0.1:5432/cms

One table per record type (columns named after the fields, '.' written '_'; booleans 0/1;
list fields as text separated by '; '), one child table per list-of-objects field (an
`item_id` key in list order and a `<type>_id` column naming the parent record). The rows are
the template export's (export.template_tables), so what the export cannot carry faithfully is
refused here too. `fixtures/demo-db/db-mapping.yaml` is this module's mapping; a test keeps it
current. The target database must be empty of these tables: it is created, never altered.
"""
from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

import yaml

from checker.importers.export import template_tables
from checker.importers.layout import template_sheets, type_layout
from checker.records.reader import read_records

ITEM_KEY = "item_id"
_SQL_TYPES = {"integer": "INTEGER", "number": "REAL", "boolean": "BOOLEAN"}


def column_name(field_path: str) -> str:
    return field_path.replace(".", "_")


def table_name(sheet_name: str) -> str:
    return sheet_name.replace(".", "_")


def parent_column(record_type: str) -> str:
    return f"{record_type}_id"


def _layout_tables():
    """(table name, SheetLayout) of every template sheet, in template order."""
    return [(table_name(s.name), s) for s in template_sheets()]


def _field_spec(sheet, header: str):
    layout = type_layout(sheet.record_type)
    fields = layout.items[sheet.items].fields if sheet.items else layout.fields
    return fields.get(header)


def _sql_type(spec) -> str:
    return "TEXT" if spec is None or spec.is_list else _SQL_TYPES.get(spec.kind, "TEXT")


def demo_mapping() -> dict:
    """The database mapping of the tables this module writes."""
    tables = {}
    for name, sheet in _layout_tables():
        entry: dict = {"type": sheet.record_type}
        if sheet.items:
            entry.update(items=sheet.items, parent_column=parent_column(sheet.record_type), key=ITEM_KEY)
        entry["columns"] = {column_name(c): c for c in sheet.columns}
        tables[name] = entry
    return {
        "cbcheck_database_mapping": 1,
        "description": "The demo CB's database (python -m checker.importers.database_demo): one table per record "
                       "type, columns named after the fields, one child table per list of objects.",
        "tables": tables,
    }


def _create_statements(tables: list, sheets: dict) -> list[str]:
    from sqlalchemy import BOOLEAN, INTEGER, REAL, TEXT, Column, MetaData, Table

    types = {"TEXT": TEXT, "INTEGER": INTEGER, "REAL": REAL, "BOOLEAN": BOOLEAN}
    metadata = MetaData()
    out = []
    for sheet_name, headers, _rows in tables:
        sheet = sheets[sheet_name]
        columns = []
        if sheet.items:
            columns.append(Column(ITEM_KEY, INTEGER, primary_key=True, autoincrement=False))
            columns.append(Column(parent_column(sheet.record_type), TEXT, nullable=False))
            headers = headers[1:]
        for h in headers:
            columns.append(Column(column_name(h), types[_sql_type(_field_spec(sheet, h))],
                                  primary_key=h == "id" and not sheet.items))
        out.append(Table(table_name(sheet_name), metadata, *columns))
    return out


def _value(value):
    return value.isoformat() if isinstance(value, dt.date) else value


def write_database(records: list[dict], url: str) -> list:
    """Create the demo tables in the (empty) database at `url` and fill them; [] or the
    problems that kept anything from being written."""
    from sqlalchemy import create_engine, insert

    tables, problems = template_tables(records)
    if problems:
        return problems
    sheets = {s.name: s for s in template_sheets()}
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            for table, (sheet_name, _headers, rows) in zip(_create_statements(tables, sheets), tables):
                table.create(conn)
                keys = [c.name for c in table.columns]
                if sheets[sheet_name].items:
                    rows = [[n] + row for n, row in enumerate(rows, start=1)]
                if rows:
                    conn.execute(insert(table), [dict(zip(keys, map(_value, row))) for row in rows])
    finally:
        engine.dispose()
    return []


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("records", help="folder of record files, e.g. fixtures/demo-cb")
    parser.add_argument("database", help="new SQLite file, or an empty database's URL")
    parser.add_argument("--mapping", help="also write the database mapping here")
    args = parser.parse_args(argv)
    read = read_records(args.records)
    if read.problems:
        for p in read.problems:
            print(p.render(), file=sys.stderr)
        return 2
    url = args.database if "://" in args.database else f"sqlite:///{args.database}"
    if url.startswith("sqlite:///") and Path(url[len("sqlite:///"):]).exists():
        print(f"{args.database} exists; the demo database is written to a new file", file=sys.stderr)
        return 2
    problems = write_database([r.data for r in read.records], url)
    for p in problems:
        print(p.render(), file=sys.stderr)
    if args.mapping and not problems:
        Path(args.mapping).write_text(mapping_text(), encoding="utf-8")
    return 2 if problems else 0


def mapping_text() -> str:
    return yaml.safe_dump(demo_mapping(), sort_keys=False, allow_unicode=True, width=100)


if __name__ == "__main__":
    sys.exit(main())
