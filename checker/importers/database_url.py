"""Database URLs: which ones cbcheck reads, how they are shown, and a read-only engine for each.

Two kinds are read: SQLite (`sqlite:///cms.db`, the embedded default, opened read-only by the
driver itself) and PostgreSQL (`postgresql://` or `postgresql+psycopg://`, through psycopg 3,
in a read-only REPEATABLE READ transaction). Other databases are refused rather than read
without a read-only guarantee.

A URL that carries a password is refused, not masked and used: a password on the command line
is seen by every user of the machine (`ps`) and kept in shell histories and job logs. The
password comes from where the driver looks for it: PGPASSWORD, ~/.pgpass (PGPASSFILE) or a
service file, as for psql. Every URL cbcheck prints goes through `shown()`.
"""
from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from checker.errors import Problem
from checker.plain_text import shown as shown_name

URL_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
SQLITE_DRIVERS = ("sqlite", "sqlite+pysqlite")
POSTGRES_DRIVERS = ("postgresql", "postgresql+psycopg")
_PASSWORD_PARAMS = ("password",)
_MASK_USERINFO = re.compile(r"//[^@/]*@")
INSTALL_POSTGRES = "pip install 'cbcheck[postgres]' (installs psycopg 3)"


def is_database_url(source) -> bool:
    """A SQLAlchemy URL (scheme://...) rather than a path. Checked on the text as typed:
    a Path would have folded the '//' away."""
    return isinstance(source, str) and bool(URL_RE.match(source))


@dataclass(frozen=True)
class DatabaseTarget:
    url: object        # sqlalchemy.engine.URL
    kind: str          # "sqlite" or "postgresql"

    def shown(self) -> str:
        return shown(self.url)


def shown_source(source) -> str:
    """A source as cbcheck prints it: a database URL with its password masked, a path with
    control characters and bytes that were not UTF-8 escaped (plain_text.shown), so no report,
    forecast or message that names its input can carry a forged line or invalid text."""
    if not is_database_url(source):
        return shown_name(str(source))
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return shown_name(shown(make_url(source)))
    except ArgumentError:
        return shown_name(_MASK_USERINFO.sub("//***@", source))


def shown(url) -> str:
    """The URL as cbcheck prints it: password (also one given as a query parameter) masked."""
    masked = url.render_as_string(hide_password=True)
    for name in _PASSWORD_PARAMS:
        if name in url.query:
            masked = url.update_query_dict({name: "***"}).render_as_string(hide_password=True)
    return masked.replace("=%2A%2A%2A", "=***")


def parse_target(text: str) -> tuple[DatabaseTarget | None, list[Problem]]:
    """The URL checked for what cbcheck supports; (target, []) or (None, [the reason])."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(text)
    except ArgumentError:
        return None, [_problem(_MASK_USERINFO.sub("//***@", text), "not a database URL",
                               "sqlite:///FILE or postgresql://USER@HOST:PORT/DATABASE")]
    where = shown(url)
    if url.password is not None or any(p in url.query for p in _PASSWORD_PARAMS):
        return None, [_problem(where, "the URL holds a password; cbcheck never takes one on the command line, where "
                               "other users and shell histories see it", "the URL without the password, and the "
                               "password in PGPASSWORD or ~/.pgpass (see README, Reading the CB's database)")]
    name = url.drivername
    if name in SQLITE_DRIVERS:
        return _sqlite_target(url, where)
    if name in POSTGRES_DRIVERS:
        return DatabaseTarget(url.set(drivername="postgresql+psycopg"), "postgresql"), []
    return None, [_problem(where, f"{name!r} databases are not read by cbcheck (a read-only, consistent read is "
                           "implemented for SQLite and PostgreSQL only)",
                           "sqlite:///FILE or postgresql://USER@HOST:PORT/DATABASE")]


def _sqlite_target(url, where: str) -> tuple[DatabaseTarget | None, list[Problem]]:
    if not url.database or url.database == ":memory:":
        return None, [_problem(where, "an in-memory SQLite database is empty", "sqlite:///PATH/TO/FILE.db")]
    if url.query:
        return None, [_problem(where, "SQLite URL options are not taken: cbcheck opens the file read-only itself",
                               "sqlite:///PATH/TO/FILE.db, without ?options")]
    if not Path(url.database).is_file():
        return None, [_problem(where, f"no such database file {url.database!r}",
                               "sqlite:///relative/path.db or sqlite:////absolute/path.db")]
    return DatabaseTarget(url, "sqlite"), []


def _problem(where: str, message: str, expected: str) -> Problem:
    return Problem(where, None, "", message, expected)


def make_engine(target: DatabaseTarget):
    """An engine whose connections cannot write. SQLite: the file opened with mode=ro by the
    driver, and an explicit BEGIN so every SELECT of the run reads one snapshot (pysqlite
    would otherwise run each SELECT in its own implicit transaction). PostgreSQL: each
    transaction READ ONLY, REPEATABLE READ (one snapshot for the whole run)."""
    from sqlalchemy import create_engine, event
    from sqlalchemy.pool import NullPool

    if target.kind == "sqlite":
        uri = "file:" + quote(str(Path(target.url.database).resolve())) + "?mode=ro"
        engine = create_engine("sqlite://", poolclass=NullPool,
                               creator=lambda: sqlite3.connect(uri, uri=True, isolation_level=None))
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN"))
        return engine
    engine = create_engine(target.url, poolclass=NullPool)
    return engine.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
