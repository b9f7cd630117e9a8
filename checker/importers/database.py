"""A CB's database -> records, through a database mapping.

Read-only and consistent: the connection cannot write (database_url.make_engine) and every
table is read inside one transaction, so the records are one snapshot of the database even
while the certification-management system keeps writing. Rows are streamed (server-side
cursors on PostgreSQL) and turned into records one by one by the same code as spreadsheet
rows (assemble.py, convert.py); the raw rows are never all held.

Every row is named by its entry and key, `audits[audit_id=nw-s2]`: that is the `file` of its
problems and findings (there is no line). Before any row is read, every entry's table and
columns are looked up; a missing one, an unreachable server or refused credentials is one
problem each and nothing is read. A database error in the middle of reading discards
everything read: a check on part of the records could pass what it never saw.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal

from checker.errors import Problem, sort_problems
from checker.importers.assemble import RowCount, assemble, build_row, totals
from checker.importers.database_mapping import TableSpec, load_database_mapping
from checker.importers.database_url import INSTALL_POSTGRES, DatabaseTarget, make_engine, parse_target
from checker.importers.mapping import normalize
from checker.importers.origins import Origin
from checker.importers.sources import Unusable
from checker.records.located import Document
from checker.records.reader import ReadResult, Record

FETCH_ROWS = 1000      # rows per round trip of a server-side cursor: memory stays flat, round trips few


@dataclass(frozen=True)
class RowOrigin(Origin):
    """A database row (file = entry[key]) or one of its columns; row is the position in the
    entry's result, used only to tell rows apart."""

    def column_name(self) -> str:
        return f"column {self.header!r}"

    def place(self) -> str:
        return self.file


@dataclass
class DatabaseResult:
    built: list
    problems: list
    summary: dict
    entries_read: list


class _Stop(Exception):
    """A problem after which nothing more can be read."""

    def __init__(self, problem: Problem):
        super().__init__(problem.message)
        self.problem = problem


def import_database(url: str, mapping_path) -> DatabaseResult:
    """Records from the database at `url` through the mapping file at `mapping_path`."""
    summary = {"source": url, "format": "database"}
    if mapping_path is None:
        problem = Problem("--mapping", None, "", "a database needs a mapping: which table gives which records",
                          "--mapping db-mapping.yaml (see README, Reading the CB's database)")
        return DatabaseResult([], [problem], summary, [])
    target, problems = parse_target(url)
    if target is not None:
        summary["source"] = target.shown()
    specs, mapping_problems = load_database_mapping(mapping_path)
    problems += mapping_problems
    summary["mapping"] = str(mapping_path)
    if problems:
        return DatabaseResult([], sort_problems(problems), summary, [])
    return read_database(target, specs, summary)


def load_database(url: str, mapping_path) -> ReadResult:
    """The same as the record reader's ReadResult, for `cbcheck check` and `validate`."""
    result = import_database(url, mapping_path)
    records = [Record(b.data, b.origin.file, Document(b.data, {}, None), "") for b in result.built]
    return ReadResult(records, result.problems, result.entries_read, [])


def read_database(target: DatabaseTarget, specs: list[TableSpec], summary: dict) -> DatabaseResult:
    from sqlalchemy.exc import SQLAlchemyError

    try:
        engine = make_engine(target)
    except ImportError as exc:
        problem = Problem(target.shown(), None, "", f"the database driver is not installed ({exc.name})",
                          INSTALL_POSTGRES if target.kind == "postgresql" else "a Python with sqlite3")
        return DatabaseResult([], [problem], summary, [])
    try:
        with engine.connect() as conn, conn.begin() as transaction:
            missing = []
            columns = _resolve_columns(conn, specs, missing)
            if missing:
                return DatabaseResult([], sort_problems(missing), summary, [])
            counts, problems, records, items = _read_entries(conn, specs, columns)
            transaction.rollback()       # nothing was written; said for the reader of this code
    except _Stop as stop:
        return DatabaseResult([], [stop.problem], summary, [])
    except SQLAlchemyError as exc:
        return DatabaseResult([], [_database_problem(target, exc)], summary, [])
    finally:
        engine.dispose()
    made = assemble(records, items, problems)
    summary = totals({**summary, "sheets": [_count_dict(c) for c in counts]})
    summary["tables"] = summary.pop("sheets")
    summary["totals"].pop("empty_rows")
    # A row has no line: its entry and key are in `file`; the row positions that told rows
    # apart while assembling mean nothing to the user.
    problems = sort_problems(dataclasses.replace(p, line=None) for p in problems)
    # Records are returned even with problems, so reference problems among them are listed in
    # the same run; with any problem nothing is evaluated (pipeline) or written (import).
    return DatabaseResult(made, problems, summary, [s.name for s in specs])


def _read_entries(conn, specs: list[TableSpec], columns: dict):
    """Every entry's rows, converted: (counts, problems, record rows, item rows)."""
    counts, problems, records, items = [], [], [], []
    for spec in specs:
        count = RowCount(spec.name, spec.source(), spec.sheet.record_type,
                         spec.sheet.items.path if spec.sheet.items else None)
        counts.append(count)
        rows = _read_rows(conn, spec, columns[spec.name], problems, count)
        (items if spec.sheet.items else records).extend((spec.sheet, count, r) for r in rows)
    return counts, problems, records, items


def _count_dict(count: RowCount) -> dict:
    out = count.as_dict()
    out["entry"], out["source"] = out.pop("sheet"), out.pop("file")
    return out


def _database_problem(target: DatabaseTarget, exc) -> Problem:
    """One line saying what the database or driver answered (never the password: the URL
    holds none, and the drivers do not repeat it)."""
    detail = " ".join(str(getattr(exc, "orig", None) or exc).split())
    hint = ("a reachable server, an existing database, and credentials in PGPASSWORD or ~/.pgpass"
            if target.kind == "postgresql" else "a readable SQLite database file")
    return Problem(target.shown(), None, "", f"database error: {detail}", hint)


def _resolve_columns(conn, specs: list[TableSpec], problems: list) -> dict:
    """entry name -> the database's spelling of each column the entry reads; a problem for
    each missing table or column (columns match ignoring case, as unquoted SQL names do)."""
    from sqlalchemy import inspect
    from sqlalchemy.exc import NoSuchTableError

    inspector = inspect(conn)
    out = {}
    for spec in specs:
        try:
            present = _query_columns(conn, spec) if spec.query is not None else \
                [c["name"] for c in inspector.get_columns(spec.table, schema=spec.db_schema)]
        except NoSuchTableError:
            problems.append(Problem(spec.name, None, "", f"no {spec.source()} in the database",
                                    "an existing table or view (check `table` and `schema` in the mapping)"))
            continue
        exact = set(present)
        folded = {}
        for name in present:
            folded.setdefault(normalize(name), []).append(name)
        resolved = {}
        for wanted in spec.columns():
            found = [wanted] if wanted in exact else folded.get(normalize(wanted), [])
            if len(found) != 1:
                what = "no" if not found else "more than one (differing in case)"
                problems.append(Problem(spec.name, None, "", f"{spec.source()} has {what} column {wanted!r}",
                                        "one of " + ", ".join(present)))
                continue
            resolved[wanted] = found[0]
        out[spec.name] = resolved
    return out


def _query_columns(conn, spec: TableSpec) -> list[str]:
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    try:
        with conn.begin_nested():       # a failing query must not end the transaction
            result = conn.execute(text(f"SELECT * FROM ({_query_text(spec)}) AS cbcheck_probe WHERE 1 = 0"))
            names = list(result.keys())
            result.close()
            return names
    except DBAPIError as exc:
        detail = " ".join(str(exc.orig).split())
        raise _Stop(Problem(spec.name, None, "/query", f"the query fails: {detail}",
                            "one SELECT statement that runs in psql or sqlite3 as written")) from None


def _query_text(spec: TableSpec) -> str:
    return spec.query.strip().rstrip(";").strip()


def _statement(spec: TableSpec, names: dict):
    from sqlalchemy import column, select, table, text

    cols = [column(names[c]) for c in spec.columns()]
    if spec.query is not None:
        source = text(_query_text(spec)).columns(*cols).subquery("cbcheck_source")
    else:
        source = table(spec.table, *cols, schema=spec.db_schema)
    key = [source.c[names[k]] for k in spec.key]
    stmt = select(*[source.c[names[c]] for c in spec.columns()]).order_by(*key)
    return stmt.execution_options(stream_results=True, yield_per=FETCH_ROWS)


def _read_rows(conn, spec: TableSpec, names: dict, problems: list, count: RowCount) -> list:
    wanted = spec.columns()
    key_at = [wanted.index(k) for k in spec.key]
    parent = spec.sheet.parent_column
    targets = [(i, "parent", None) if c == parent else (i, "column", spec.sheet.columns[normalize(c)])
               for i, c in enumerate(wanted) if c == parent or normalize(c) in spec.sheet.columns]
    out = []
    result = conn.execute(_statement(spec, names))
    for position, row in enumerate(result, start=1):
        count.rows_read += 1
        label = f"{spec.name}[" + ", ".join(f"{names[spec.key[n]]}={row[i]}" for n, i in enumerate(key_at)) + "]"
        cells = [(what, col, RowOrigin(label, position, names[wanted[i]], names[wanted[i]], _cell(row[i])))
                 for i, what, col in targets]
        out.append(build_row(spec.sheet, RowOrigin(label, position), cells, problems, count))
    return out


def _cell(value):
    """A column value as convert.py takes cell values: numbers, text, dates, booleans."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return Unusable("binary data, not text", "<binary>")
    if isinstance(value, (list, tuple, dict)):
        return Unusable("an array or JSON value; map a text column (list values separated by the list separator), "
                        "or turn it into one in a query", repr(value))
    if isinstance(value, dt.timedelta):
        return Unusable("a time interval", str(value))
    return value
